"""Adversarial Variational Bayes (AVB): a VAE with an implicit encoder.

Model: p(z) = N(0, I), p_θ(x | z) Bernoulli (logits) on binarised data (or a
diagonal Gaussian with a fixed scale, used by the linear-Gaussian tests).
The encoder is implicit: a sampler without a density,

  z = g_φ(x, ε),  ε ~ N(0, I_noise_dim),

an MLP on the concatenation [x, ε]; with `model.noise_injection='layers'`
the same ε also enters every hidden layer additively through a learned
linear map, h_l <- h_l + W_l ε (the paper feeds noise at several layers of
its MNIST encoder; `'input'` feeds it once).

Because q_φ(z|x) has no density, the ELBO's KL term is estimated with a
discriminator T_ψ(x, z) trained by the logistic loss (the density-ratio
trick; Mescheder et al. 2017, eq. 3.3)

  max_ψ E_π(x) E_q(z|x) log σ(T_ψ(x, z)) + E_π(x) E_p(z) log(1 - σ(T_ψ(x, z))),

whose optimum is T*(x, z) = log q_φ(z|x) - log p(z) (Proposition 1), so

  ELBO(x) = E_q[log p_θ(x|z) - log q_φ(z|x) + log p(z)]
          = E_ε[log p_θ(x | g_φ(x, ε)) - T*(x, g_φ(x, ε))]    (eq. 3.4-3.5).

The encoder and decoder maximise the AVB objective (eq. 3.7)

  E_π(x) E_ε[-T_ψ(x, g_φ(x, ε)) + log p_θ(x | g_φ(x, ε))]

with ψ held fixed; the φ-gradient flows through z into T_ψ. This is the
exact ELBO gradient at T = T* because E_q[∇_φ log q_φ(z|x)] = 0
(Proposition 2, eq. 3.8-3.9). Its per-example value,
'elbo_avb' = log p(x|z) - T_ψ(x, z), is an *estimate* of the ELBO, not a
bound: it is off by the discriminator's error E_q[T* - T_ψ], of either sign.

Discriminator (`model.discriminator_architecture`):
  'inner_product'  T(x, z) = f_ψ(x)ᵀ h_ψ(z) + a_ψ(x) + b_ψ(z), with f, a
                   and h, b the outputs of two MLPs on x and on z (the
                   paper's form, §5 and appendix: the log-ratio of
                   Gaussian-like posteriors is a sum of products of functions
                   of x with functions of z such as z_i and z_i²);
  'concat'         an MLP on [x, z] with one output.

Adaptive contrast (`model.adaptive_contrast=True`, §4): with the Gaussian
r_α(z|x) = N(μ(x), diag σ²(x)) whose moments are estimated from
`model.contrast_samples` samples of g_φ(x, ·) per example (and z is one
more sample, independent of them),

  ELBO(x) = E_q[log p(x|z) + log p(z) - log r_α(z|x)] - KL(q(z|x) || r_α(z|x)),

and KL(q || r_α) = KL(q̃(z̃|x) || N(0, I)) for z̃ = (z - μ(x)) / σ(x), so T
is trained to separate (x, z̃) from (x, ε ~ N(0, I)) and the explicit terms
carry the bulk of the KL (eq. 4.2-4.4). The moments are held fixed in the
gradient (stop_gradient): for fixed q, E_q[log r_α] + KL(q || r_α) does not
depend on r_α, so at T = T* their gradient through r_α is zero anyway.
Caveat (measured on Fashion-MNIST, z32, S = 8): with S moment samples z̃ is
heavy-tailed (t-like, per-dimension variance ≈ (1 + 1/S)(S - 1)/(S - 3)),
so the explicit term is biased low (-3.5 nats against +3.1 with the moments
of 128 samples) and T, which saturates, does not make up the difference:
the KL estimate drops to about 1 nat. Use a large S, or read the
importance-sampled NLL, which does not depend on T.

Update schedule: one compiled `train_step` does `model.discriminator_steps`
T updates (`lax.scan`; each with fresh ε and prior z on the step's batch),
then one (φ, θ) update against the updated T. Algorithm 1 of the paper
updates all three simultaneously from one batch; updating T first keeps it
nearer T* for the encoder's current q.

Test NLL: q_φ has no density, so the importance-sampling estimate uses a
per-example proposal with a density, the equal-weight mixture

  r(z|x) = (1/M) Σ_m N(z; m(x), diag (c_m s(x))²),

m and s the mean and standard deviation of S = `model.eval_proposal_samples`
encoder samples (s floored at `model.eval_proposal_min_std`) and c_1..c_M =
`model.eval_proposal_scales` widening factors (a defensive mixture: the
implicit q is typically narrower than p(z|x), and a too-narrow proposal
gives a loose bound). The K samples are stratified: sample k comes from
component k mod M (K and the chunk size must be multiples of M), which
keeps (1/K) Σ_k w_k an unbiased estimate of p(x) with w_k = p(x, z_k) /
r(z_k|x) under the mixture density. For ANY such proposal, positive
wherever p(z|x) is,

  log p(x) >= E[log (1/K) Σ_k p(x|z_k) p(z_k) / r(z_k|x)],  z_k ~ r(·|x)

(Jensen; Burda et al. 2016, eq. 8 with q replaced by r), non-decreasing in K
in expectation, tending to log p(x); with r = p(z|x) every weight equals
p(x). 'nll' = -(K = `model.eval_num_samples`) bound; 'elbo_proposal' =
mean_k log w_k, the ELBO of the Gaussian r (a lower bound too).

Params: {'encoder_decoder': {'params': ...}, 'discriminator': {'params':
...}}; opt_state has the same two keys, built from
`config.optimizer.encoder_decoder` and `config.optimizer.discriminator` (its
schedule spans discriminator_steps · num_steps updates).

Units: nats per example; bits/dim = nats / (D ln 2) on binary data
(`distributions.bits_per_dim`, with the preprocessing's offset otherwise).

Functions (a notebook calls them on a checkpoint's params without `make`;
`net, disc = build_networks(config.model, shape)`; `params` is the whole
{'encoder_decoder', 'discriminator'} dict, x in model space [B, H, W, C]):
  encode, encode_with_noise         the implicit encoder z = g_φ(x, ε)
  log_likelihood, decode            p_θ(x | z)
  discriminator                     T_ψ(x, z)
  discriminator_loss                the logistic loss of T (eq. 3.3)
  adaptive_contrast, kl_inputs      z̃ and log r_α - log p (§4)
  elbo_estimate, log_ratio_estimate log p(x|z) - T (eq. 3.7), T ≈ log q - log p
  encoder_decoder_objective, discriminator_objective   the two players'
                                    scalar losses for `core.steps.gradient_update`
  train_step                        k T updates, then one (φ, θ) update
  gaussian_proposal, proposal, importance_log_weights, iwae_bound   test NLL
  evaluate, evaluate_final, sample, reconstruct, interpolate, images

References:
  Mescheder, Nowozin and Geiger 2017, "Adversarial Variational Bayes:
    Unifying Variational Autoencoders and Generative Adversarial Networks",
    ICML (arXiv:1701.04722): eq. 3.3-3.9, Proposition 1 and 2, Algorithm 1,
    adaptive contrast §4.
  Sugiyama, Suzuki and Kanamori 2012, "Density Ratio Estimation in Machine
    Learning" (the density-ratio trick).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders".
"""

import dataclasses
import functools
import math
from typing import Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax import gan_losses
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import base
from gdm_jax.nn import MLP

LIKELIHOODS = ("bernoulli", "gaussian")
NOISE_INJECTIONS = ("input", "layers")
DISCRIMINATOR_ARCHITECTURES = ("inner_product", "concat")
ACTIVATIONS = {"relu": nn.relu, "elu": nn.elu, "tanh": jnp.tanh,
               "softplus": nn.softplus}
INTERPOLATION_STEPS = 10
POSTERIOR_MEAN_SAMPLES = 16     # samples of q(z|x) behind a reconstruction


# ------------------------------------------------------------ networks ----


class ImplicitEncoder(nn.Module):
  """z = g_φ(x, ε): [N, D_x], [N, E] -> [N, latent_dim].

  Dense layers on [x, ε] with ReLUs between them; with noise_injection =
  'layers' every hidden pre-activation also gets W_l ε (no bias).
  """
  hidden: Sequence[int]
  latent_dim: int
  noise_injection: str = "input"

  @nn.compact
  def __call__(self, x, eps):
    """x [N, D_x] (flattened), ε [N, E] -> z [N, latent_dim]."""
    h = jnp.concatenate([x, eps], axis=-1)
    for i, f in enumerate(self.hidden):
      h = nn.Dense(f, name=f"dense_{i}")(h)
      if self.noise_injection == "layers":
        h = h + nn.Dense(f, use_bias=False, name=f"noise_{i}")(eps)
      h = nn.relu(h)
    return nn.Dense(self.latent_dim, name=f"dense_{len(self.hidden)}")(h)


class AVBNet(nn.Module):
  """The implicit encoder g_φ(x, ε) and the decoder p_θ(x|z).

  Attributes:
    image_shape: (H, W, C) of the data.
    latent_dim: size of z.
    noise_dim: size E of the encoder's noise ε ~ N(0, I_E).
    hidden: encoder MLP sizes (the decoder's, reversed).
    noise_injection: 'input' | 'layers' (module docstring).
    likelihood: p_θ(x|z), 'bernoulli' (the decoder gives logits) or
      'gaussian' (the decoder gives the mean; scale `fixed_scale`).
    fixed_scale: σ of the Gaussian likelihood.
  """
  image_shape: Sequence[int]
  latent_dim: int
  noise_dim: int
  hidden: Sequence[int]
  noise_injection: str = "input"
  likelihood: str = "bernoulli"
  fixed_scale: float = 1.0

  def setup(self):
    """The implicit encoder and the decoder MLP (hidden reversed + (H·W·C,))."""
    d = math.prod(self.image_shape)
    self.encoder = ImplicitEncoder(tuple(self.hidden), self.latent_dim,
                                   self.noise_injection)
    self.decoder = MLP(tuple(reversed(self.hidden)) + (d,))

  def encode(self, x, eps):
    """x [N, H, W, C], ε [N, E] -> z [N, latent_dim]."""
    return self.encoder(x.reshape(x.shape[0], -1), eps)

  def decode(self, z):
    """z [N, latent_dim] -> logits / mean [N, H, W, C]."""
    return self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))

  def __call__(self, x, eps):
    """decode(encode(x, ε)): the decoder's outputs [N, H, W, C] (for `init`)."""
    return self.decode(self.encode(x, eps))


class Discriminator(nn.Module):
  """T_ψ(x, z): x [N, ...], z [N, latent_dim] -> [N] (a logit, nats).

  'inner_product': T = f(x)ᵀh(z) + a(x) + b(z), f, a from an MLP on x and h,
  b from an MLP on z (hidden sizes `hidden`, `embedding_dim` + 1 outputs);
  'concat': an MLP on [x, z] with one output.
  """
  hidden: Sequence[int]
  architecture: str = "inner_product"
  embedding_dim: int = 64
  activation: str = "relu"

  @nn.compact
  def __call__(self, x, z):
    """T_ψ(x, z): x [N, ...], z [N, latent_dim] -> [N] logits."""
    x = x.reshape(x.shape[0], -1)
    act = ACTIVATIONS[self.activation]
    if self.architecture == "concat":
      return MLP(tuple(self.hidden) + (1,), act, name="mlp")(
          jnp.concatenate([x, z], axis=-1))[:, 0]
    e = self.embedding_dim
    fx = MLP(tuple(self.hidden) + (e + 1,), act, name="x_net")(x)
    hz = MLP(tuple(self.hidden) + (e + 1,), act, name="z_net")(z)
    return jnp.sum(fx[:, :e] * hz[:, :e], axis=-1) + fx[:, e] + hz[:, e]


def build_networks(model_config, shape: Sequence[int]
                   ) -> tuple[AVBNet, Discriminator]:
  """(encoder-decoder, discriminator) from a run's `config.model` block and
  the data's (H, W, C), e.g. to call this module's functions on a loaded
  checkpoint."""
  mc = model_config
  net = AVBNet(tuple(shape), mc.latent_dim, mc.noise_dim, tuple(mc.hidden),
               mc.noise_injection, mc.likelihood, mc.fixed_scale)
  disc = Discriminator(tuple(mc.discriminator_hidden),
                       mc.discriminator_architecture,
                       mc.discriminator_embedding_dim,
                       mc.discriminator_activation)
  return net, disc


# -------------------------------------------- input checks (trace time) ----


def _check_xz(net: AVBNet, fn: str, x, z) -> None:
  ae.check_x(net, fn, x)
  ae.check_z(net, fn, "z", z)
  checks.check_same_batch(fn, [("x", x), ("z", z)])


def _check_k(net: AVBNet, fn: str, x, k, chunk_size, proposal_params) -> None:
  ae.check_x(net, fn, x)
  checks.check_positive_int(fn, "k", k)
  if chunk_size is not None:
    checks.check_positive_int(fn, "chunk_size", chunk_size)
  if proposal_params is not None:
    if len(proposal_params) != 2:
      raise ValueError(f"{fn}: `proposal_params` must be (mean, "
                       f"log_scale); got {len(proposal_params)} entries.")
    for name, a in zip(("proposal_params[0]", "proposal_params[1]"),
                       proposal_params):
      ae.check_z(net, fn, name, a)
      checks.check_same_batch(fn, [("x", x), (name, a)])


# ------------------------------------------- encoder, decoder, critic ----


def encode_with_noise(net: AVBNet, params, x: jax.Array,
                      eps: jax.Array) -> jax.Array:
  """The implicit encoder z = g_φ(x, ε) on given noise.

  Args:
    net: the encoder-decoder module.
    params: {'encoder_decoder': ..., ...} (the whole params dict).
    x: float [B, H, W, C], model space.
    eps: float [..., B, E] (E = net.noise_dim), any leading sample axes.

  Returns:
    z, float [..., B, latent_dim].

  References:
    Mescheder et al. 2017, §3 (the implicit q_φ(z|x), Algorithm 1).
  """
  lead = eps.shape[:-1]
  n = math.prod(lead)
  xb = jnp.broadcast_to(x, lead[:-1] + x.shape).reshape((n,) + x.shape[1:])
  z = net.apply(params["encoder_decoder"], xb, eps.reshape(n, net.noise_dim),
                method=AVBNet.encode)
  return z.reshape(lead + (net.latent_dim,))


def encode(net: AVBNet, params, x: jax.Array, rng: jax.Array,
           k: Optional[int] = None) -> jax.Array:
  """z ~ q_φ(z|x), z = g_φ(x, ε) with ε ~ N(0, I_E) from `rng`.

  Args:
    x: float [B, H, W, C], model space.
    k: None (one sample per example) or a positive int.

  Returns:
    z, float [B, latent_dim], or [K, B, latent_dim] when k is given.

  Raises:
    ValueError: x does not fit the data set, or k is not a positive int.
  """
  ae.check_x(net, "avb.encode", x)
  if k is not None:
    checks.check_positive_int("avb.encode", "k", k)
  lead = (x.shape[0],) if k is None else (k, x.shape[0])
  eps = jax.random.normal(rng, lead + (net.noise_dim,))
  return encode_with_noise(net, params, x, eps)


def log_likelihood(net: AVBNet, params, z: jax.Array,
                   x: jax.Array) -> jax.Array:
  """log p_θ(x|z): Σ_pixels log Bernoulli(x; σ(logits)) or log N(x; mean,
  fixed_scale²).

  Args:
    z: float [N, latent_dim]; x: float [N, H, W, C], model space.

  Returns:
    float [N], nats.

  Raises:
    ValueError: shapes that do not fit `net`, or different batch sizes.
  """
  _check_xz(net, "avb.log_likelihood", x, z)
  loc = net.apply(params["encoder_decoder"], z, method=AVBNet.decode)
  if net.likelihood == "bernoulli":
    ll = distributions.bernoulli_log_prob(loc, x)
  else:
    ll = distributions.gaussian_log_prob(x, loc, math.log(net.fixed_scale))
  return distributions.sum_except_batch(ll)


def decode(net: AVBNet, pre: Preprocessing, params, z: jax.Array) -> jax.Array:
  """The mean of p_θ(x|z) shown in [0, 1]: σ(logits) (Bernoulli) or the
  Gaussian mean mapped by `pre.to_unit`. z [N, latent_dim] -> [N, H, W, C].

  Raises:
    ValueError: z is not [N, latent_dim].
  """
  ae.check_z(net, "avb.decode", "z", z)
  loc = net.apply(params["encoder_decoder"], z, method=AVBNet.decode)
  return (jax.nn.sigmoid(loc) if net.likelihood == "bernoulli"
          else pre.to_unit(loc))


def discriminator(net: AVBNet, disc: Discriminator, params, x: jax.Array,
                  z: jax.Array) -> jax.Array:
  """T_ψ(x, z), the raw network: x [N, H, W, C], z [N, latent_dim] -> [N].

  Raises:
    ValueError: shapes that do not fit `net`, or different batch sizes.
  """
  _check_xz(net, "avb.discriminator", x, z)
  return disc.apply(params["discriminator"], x, z)


# --------------------------------------------------------- pure losses ----


def discriminator_loss_per_example(t_posterior: jax.Array,
                                   t_prior: jax.Array) -> jax.Array:
  """The logistic density-ratio loss, one (q, p) pair per example.

    L_ψ = -log σ(T(x, z_q)) - log(1 - σ(T(x, z_p)))
        = softplus(-T(x, z_q)) + softplus(T(x, z_p)),
  z_q ~ q(z|x) (label 1), z_p ~ p(z) (label 0); its minimiser over all
  functions is T*(x, z) = log q(z|x) - log p(z) (Mescheder et al. 2017,
  eq. 3.3 and Proposition 1).

  Args:
    t_posterior: T on (x, z ~ q(z|x)), [B].
    t_prior: T on (x, z ~ p(z)), [B].

  Returns:
    [B] float, nats, >= 0.
  """
  return gan_losses.discriminator_loss_per_example(t_posterior, t_prior)


def discriminator_accuracy(t_posterior: jax.Array, t_prior: jax.Array
                           ) -> jax.Array:
  """Per-example mean of [T(x, z_q) > 0] and [T(x, z_p) < 0]: [B] in {0, .5, 1}."""
  return 0.5 * ((t_posterior > 0).astype(jnp.float32)
                + (t_prior < 0).astype(jnp.float32))


def gaussian_proposal(samples: jax.Array, scale: float = 1.0,
                      min_std: float = 1e-3) -> tuple[jax.Array, jax.Array]:
  """Moment-matched diagonal Gaussian from S samples per example.

    m = mean_s z_s,  s² = Σ_s (z_s - m)² / (S - 1),  r = N(m, diag (c·s)²)
  with s floored at `min_std` (an encoder that ignores ε has s = 0).

  Args:
    samples: [S, B, D], S >= 2.
    scale: widening factor c > 0.
    min_std: floor of s.

  Returns:
    (mean [B, D], log_scale [B, D]).

  Raises:
    ValueError: samples is not a floating [S, B, D] array with S >= 2.
  """
  checks.check_arg("avb.gaussian_proposal", "samples", samples,
                   "floating [S, B, D]")
  s = samples.shape[0]
  if s < 2:
    raise ValueError(f"avb.gaussian_proposal: gaussian_proposal needs >= 2 "
                     f"samples (S, the leading axis of `samples`); got {s}.")
  mean = jnp.mean(samples, axis=0)
  var = jnp.sum(jnp.square(samples - mean), axis=0) / (s - 1)
  std = jnp.maximum(jnp.sqrt(var), min_std)
  return mean, jnp.log(scale * std)


def adaptive_contrast(z: jax.Array, moment_samples: jax.Array, *,
                      min_std: float = 1e-3) -> tuple[jax.Array, jax.Array]:
  """Adaptive contrast's inputs to T and its explicit KL term.

  With r_α(z|x) = N(μ(x), diag σ²(x)), μ, σ the moments of
  `moment_samples` (`gaussian_proposal`, held fixed in the gradient:
  stop_gradient),

    z̃ = (z - μ) / σ,   explicit = log r_α(z|x) - log p(z),

  and KL(q || p) = E_q[explicit] + KL(q̃(z̃|x) || N(0, I)), the second term
  estimated by a T that separates (x, z̃) from (x, ε ~ N(0, I)).

  Args:
    z: float [B, D], samples of q(z|x) independent of `moment_samples`.
    moment_samples: float [S, B, D], S >= 2.
    min_std: floor of σ.

  Returns:
    (z̃ [B, D], explicit [B] nats).

  References:
    Mescheder et al. 2017, §4, eq. 4.2-4.4.
  """
  mean, log_scale = jax.lax.stop_gradient(
      gaussian_proposal(moment_samples, 1.0, min_std))
  z_t = (z - mean) * jnp.exp(-log_scale)
  explicit = jnp.sum(distributions.gaussian_log_prob(z, mean, log_scale)
                     - distributions.standard_normal_log_prob(z), -1)
  return z_t, explicit


def kl_inputs(net: AVBNet, params, x: jax.Array, rng: jax.Array, *,
              contrast_samples: int = 0, min_std: float = 1e-3
              ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The samples behind the KL term: (z, the z that T sees, explicit).

  Without adaptive contrast (`contrast_samples=0`): z = g_φ(x, ε), T sees z,
  explicit = 0. With it (S = contrast_samples >= 2): S + 1 encoder samples
  from one noise draw; z is the first, the moments come from the other S
  (z̃ of one of the moment samples would be bounded, |z̃| <= (S-1)/√S, which
  T could tell from N(0, I) without learning anything about q), and T
  sees z̃ (`adaptive_contrast`).

  Args:
    x: float [B, H, W, C], model space (not checked: internal).

  Returns:
    (z [B, D], z_T [B, D], explicit [B] nats); gradients flow through z
    and z_T into φ.

  References:
    Mescheder et al. 2017, eq. 3.7 and §4.
  """
  if not contrast_samples:
    z = encode_with_noise(net, params, x, jax.random.normal(
        rng, (x.shape[0], net.noise_dim)))
    return z, z, jnp.zeros(x.shape[:1])
  eps = jax.random.normal(rng, (contrast_samples + 1, x.shape[0],
                                net.noise_dim))
  zs = encode_with_noise(net, params, x, eps)                 # [S+1, B, D]
  z_t, explicit = adaptive_contrast(zs[0], zs[1:], min_std=min_std)
  return zs[0], z_t, explicit


def discriminator_loss(net: AVBNet, disc: Discriminator, d_params, params,
                       x: jax.Array, rng: jax.Array, *,
                       contrast_samples: int = 0, min_std: float = 1e-3
                       ) -> tuple[jax.Array, dict]:
  """T's logistic loss on one batch, per example.

    L_ψ(x) = softplus(-T_ψ(x, z_q)) + softplus(T_ψ(x, z_p)),
  z_q ~ q_φ(z|x) (or z̃ with adaptive contrast; no gradient into φ) from
  the first half of `rng`, z_p ~ N(0, I) from the second.

  Args:
    d_params: T's variables (the player differentiated), replacing
      params['discriminator'].
    params: {'encoder_decoder': ..., ...}; φ is held fixed.
    x: float [B, H, W, C], model space.
    contrast_samples, min_std: adaptive contrast (`kl_inputs`).

  Returns:
    (loss [B] nats, {'d_loss', 'd_accuracy', 't_posterior', 't_prior'} [B]).

  Raises:
    ValueError: x does not fit the data set.

  References:
    Mescheder et al. 2017, eq. 3.3, Algorithm 1 (the ψ step).
  """
  ae.check_x(net, "avb.discriminator_loss", x)
  q_rng, p_rng = jax.random.split(rng)
  _, z_q, _ = kl_inputs(net, params, x, q_rng,
                        contrast_samples=contrast_samples, min_std=min_std)
  z_q = jax.lax.stop_gradient(z_q)
  z_p = jax.random.normal(p_rng, z_q.shape)
  t_q, t_p = disc.apply(d_params, x, z_q), disc.apply(d_params, x, z_p)
  loss = discriminator_loss_per_example(t_q, t_p)
  return loss, {"d_loss": loss, "d_accuracy": discriminator_accuracy(t_q, t_p),
                "t_posterior": t_q, "t_prior": t_p}


def elbo_estimate(net: AVBNet, disc: Discriminator, params, x: jax.Array,
                  rng: jax.Array, *, contrast_samples: int = 0,
                  min_std: float = 1e-3) -> dict:
  """The AVB estimate of the ELBO, per example.

    elbo_avb = log p_θ(x|z) - T_ψ(x, z)  [- without contrast]
    elbo_avb = log p_θ(x|z) - T_ψ(x, z̃) - (log r_α(z|x) - log p(z))
  with z = g_φ(x, ε) (`kl_inputs`); an *estimate*, not a bound: it is off
  by T's error E_q[T* - T_ψ], of either sign.

  Args:
    params: {'encoder_decoder', 'discriminator'}.
    x: float [B, H, W, C], model space.

  Returns:
    {'elbo_avb', 'reconstruction' (-log p(x|z)), 'kl_estimate' (T +
    explicit)}: float [B] each, nats; elbo_avb = -reconstruction -
    kl_estimate. Differentiable in φ and θ (through z into T).

  Raises:
    ValueError: x does not fit the data set.

  References:
    Mescheder et al. 2017, eq. 3.4-3.7, Proposition 2 (eq. 3.8-3.9); §4.
  """
  ae.check_x(net, "avb.elbo_estimate", x)
  z, z_t, explicit = kl_inputs(net, params, x, rng,
                               contrast_samples=contrast_samples,
                               min_std=min_std)
  reconstruction = -log_likelihood(net, params, z, x)
  kl = disc.apply(params["discriminator"], x, z_t) + explicit
  return {"elbo_avb": -reconstruction - kl, "reconstruction": reconstruction,
          "kl_estimate": kl}


def log_ratio_estimate(net: AVBNet, disc: Discriminator, params, x: jax.Array,
                       z: jax.Array, rng: Optional[jax.Array] = None, *,
                       contrast_samples: int = 0, min_std: float = 1e-3
                       ) -> jax.Array:
  """The estimate of log q_φ(z|x) - log p(z) at given z: T_ψ(x, z) (its
  optimum, Proposition 1), or with adaptive contrast T_ψ(x, z̃) + log
  r_α(z|x) - log p(z), r_α from `contrast_samples` encoder samples drawn
  with `rng`.

  Args:
    x: float [N, H, W, C]; z: float [N, latent_dim].
    rng: needed with adaptive contrast.

  Returns:
    float [N], nats.

  Raises:
    ValueError: shapes that do not fit, or rng None with adaptive contrast.

  References:
    Mescheder et al. 2017, Proposition 1; §4.
  """
  _check_xz(net, "avb.log_ratio_estimate", x, z)
  if not contrast_samples:
    return discriminator(net, disc, params, x, z)
  if rng is None:
    raise ValueError("log_ratio_estimate needs an rng with adaptive "
                     "contrast (for the moments of q(z|x)).")
  z_t, explicit = adaptive_contrast(
      z, encode(net, params, x, rng, contrast_samples), min_std=min_std)
  return discriminator(net, disc, params, x, z_t) + explicit


def _means(metrics: dict) -> dict:
  return {k: jnp.mean(v) for k, v in metrics.items()}


def discriminator_objective(net: AVBNet, disc: Discriminator, d_params,
                            params, x: jax.Array, rng: jax.Array,
                            **contrast) -> tuple[jax.Array, dict]:
  """T's scalar loss for `core.steps.gradient_update`: the batch mean of
  `discriminator_loss` and the batch means of its metrics (same args)."""
  loss, metrics = discriminator_loss(net, disc, d_params, params, x, rng,
                                     **contrast)
  return jnp.mean(loss), _means(metrics)


def encoder_decoder_objective(net: AVBNet, disc: Discriminator, ed_params,
                              params, x: jax.Array, rng: jax.Array,
                              **contrast) -> tuple[jax.Array, dict]:
  """(φ, θ)'s scalar loss for `core.steps.gradient_update`:

    -(1/B) Σ_b [log p_θ(x_b | z_b) - T_ψ(x_b, z_b)],  z_b = g_φ(x_b, ε_b),
  with ψ = params['discriminator'] held fixed and the gradient flowing
  through z into T (the AVB objective, eq. 3.7; at T = T* its gradient is
  the ELBO's, Proposition 2).

  Args:
    ed_params: the encoder-decoder's variables (the player differentiated).
    params: {'discriminator': ψ, ...}.
    contrast: contrast_samples, min_std (`kl_inputs`).

  Returns:
    (loss [], batch means of `elbo_estimate`'s terms).

  References:
    Mescheder et al. 2017, eq. 3.7, Algorithm 1 (the θ and φ steps).
  """
  terms = elbo_estimate(net, disc, {**params, "encoder_decoder": ed_params}, x,
                        rng, **contrast)
  return -jnp.mean(terms["elbo_avb"]), _means(terms)


# ------------------------------------------------------------ training ----


def init(net: AVBNet, disc: Discriminator, tx_ed: optax.GradientTransformation,
         tx_d: optax.GradientTransformation, rng: jax.Array,
         batch: Optional[dict]) -> TrainState:
  """TrainState with params and opt_state {'encoder_decoder',
  'discriminator'}; `batch` (optional) is only checked."""
  if batch is not None:
    ae.check_batch(net, "avb.init", batch)
  ed_rng, d_rng, state_rng = jax.random.split(rng, 3)
  x = jnp.zeros((1,) + tuple(net.image_shape), jnp.float32)
  params = {"encoder_decoder": net.init(ed_rng, x,
                                        jnp.zeros((1, net.noise_dim))),
            "discriminator": disc.init(d_rng, x,
                                       jnp.zeros((1, net.latent_dim)))}
  return TrainState.create_players(
      state_rng, params, {"encoder_decoder": tx_ed, "discriminator": tx_d})


def train_step(net: AVBNet, disc: Discriminator, pre: Preprocessing,
               tx_ed: optax.GradientTransformation,
               tx_d: optax.GradientTransformation, state: TrainState,
               batch: dict, rng: jax.Array, *, discriminator_steps: int = 1,
               **contrast) -> tuple[TrainState, dict]:
  """One AVB step: `discriminator_steps` T updates (`lax.scan`, each with
  fresh ε and prior z on the step's batch), then one (φ, θ) update against
  the updated T, each a `core.steps.gradient_update`.

  Args:
    batch: {'image': [B, H, W, C] pixels}.
    contrast: contrast_samples, min_std (`kl_inputs`).

  Returns:
    (state, metrics): the T metrics' means over the T steps (and
    'd_loss_last', 'd_grad_norm'), 'loss', 'ed_grad_norm' and the (φ, θ)
    objective's terms.

  References:
    Mescheder et al. 2017, Algorithm 1 (which updates the three at once;
    updating T first keeps it nearer T* for the current q).
  """
  ae.check_batch(net, "avb.train_step", batch)
  pre_rng, d_rng, ed_rng = jax.random.split(rng, 3)
  x = pre.apply(pre_rng, batch["image"])
  params, opt = state.params, state.opt_state
  d_objective = functools.partial(discriminator_objective, net, disc,
                                  **contrast)

  def d_step(carry, key):
    u = steps.gradient_update(d_objective, tx_d, *carry, params, x, key)
    return (u.params, u.opt_state), {**u.aux, "d_grad_norm": u.grad_norm}

  (d_params, opt_d), d_metrics = jax.lax.scan(
      d_step, (params["discriminator"], opt["discriminator"]),
      jax.random.split(d_rng, discriminator_steps))
  params = {**params, "discriminator": d_params}
  u = steps.gradient_update(
      functools.partial(encoder_decoder_objective, net, disc, **contrast),
      tx_ed, params["encoder_decoder"], opt["encoder_decoder"], params, x,
      ed_rng)
  metrics = {**_means(d_metrics), "d_loss_last": d_metrics["d_loss"][-1],
             "loss": u.loss, "ed_grad_norm": u.grad_norm, **u.aux}
  return state.replace(
      step=state.step + 1,
      params={"encoder_decoder": u.params, "discriminator": d_params},
      opt_state={"encoder_decoder": u.opt_state, "discriminator": opt_d}
  ), metrics


# ------------------------------------------------- importance sampling ----


def proposal(net: AVBNet, params, x: jax.Array, rng: jax.Array,
             s: int = 128, *, min_std: float = 1e-3
             ) -> tuple[jax.Array, jax.Array]:
  """(m, log s) [B, D] of S = `s` encoder samples (`gaussian_proposal`);
  the test NLL's proposal is the mixture of N(m, diag (c_m s)²) over the
  widening factors (`mixture_log_weights`).

  Raises:
    ValueError: x does not fit, or s is not an int >= 2.
  """
  ae.check_x(net, "avb.proposal", x)
  checks.check_positive_int("avb.proposal", "s", s)
  return gaussian_proposal(encode(net, params, x, rng, s), 1.0, min_std)


def mixture_log_weights(net: AVBNet, params, x: jax.Array, rng: jax.Array,
                        k: int, mean: jax.Array, log_scale: jax.Array,
                        scales: Sequence[float] = (1.0,)) -> jax.Array:
  """log w_k = log p_θ(x|z_k) + log p(z_k) - log r(z_k|x), z_k ~ r, with

    r(z|x) = (1/M) Σ_m N(z; m(x), diag (c_m s(x))²),
  sample k drawn from component k mod M (stratified: (1/K) Σ_k w_k stays
  unbiased for p(x) with w under the mixture density).

  Args:
    x: float [B, H, W, C]; mean, log_scale: float [B, D] (m, log s).
    k: K, a multiple of M = len(scales).
    scales: the widening factors c_1..c_M > 0.

  Returns:
    float [K, B], nats.

  Raises:
    ValueError: K not a multiple of M.

  References:
    Burda et al. 2016, eq. 8 with q replaced by r; Mescheder et al. 2017
    evaluate AVB by importance sampling (§6).
  """
  num_components = len(tuple(scales))
  if k % num_components:
    raise ValueError(f"importance_log_weights: K (or chunk size) {k} is not "
                     f"a multiple of the {num_components} proposal scales.")
  c = jnp.asarray(tuple(scales), jnp.float32)                    # [M]
  comp_scale = jnp.tile(c, k // num_components)[:, None, None]   # [K, 1, 1]
  eps = jax.random.normal(rng, (k,) + mean.shape)
  z = mean + comp_scale * jnp.exp(log_scale) * eps               # [K, B, D]
  # log r(z) = logsumexp_m Σ_d log N(z; m, c_m s) - log M        [K, B]
  log_comp = jnp.sum(distributions.gaussian_log_prob(
      z[:, None], mean, log_scale + jnp.log(c)[:, None, None]), -1)
  log_r = jax.nn.logsumexp(log_comp, axis=1) - math.log(num_components)
  log_pz = jnp.sum(distributions.standard_normal_log_prob(z), -1)
  b = x.shape[0]
  xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
  log_px_z = log_likelihood(net, params, z.reshape(k * b, -1),
                            xk).reshape(k, b)
  return log_px_z + log_pz - log_r


def importance_log_weights(net: AVBNet, params, x: jax.Array, rng: jax.Array,
                           k: int, chunk_size: Optional[int] = None,
                           proposal_params: Optional[tuple] = None, *,
                           scales: Sequence[float] = (1.0,),
                           proposal_samples: int = 128,
                           min_std: float = 1e-3) -> jax.Array:
  """log w_k = log p(x|z_k) + log p(z_k) - log r(z_k|x), z_k ~ r: [K, B].

  r is the mixture over `scales` of N(m, diag (c s)²) (`mixture_log_weights`)
  with (m, log s) = `proposal_params` [B, D] if given, else the
  moment-matched `proposal` of `proposal_samples` encoder samples (from a
  key split off `rng`). With `chunk_size`, `chunk_size` samples at a time
  (`estimators.chunked_log_weights`: a sequential `lax.map`, memory
  O(chunk_size · B)).

  Raises:
    ValueError: x, k, chunk_size or proposal_params do not fit; K not a
      multiple of chunk_size or of len(scales).
  """
  fn = "avb.importance_log_weights"
  _check_k(net, fn, x, k, chunk_size, proposal_params)
  r_rng, w_rng = jax.random.split(rng)
  if proposal_params is None:
    proposal_params = proposal(net, params, x, r_rng, proposal_samples,
                               min_std=min_std)
  weights = functools.partial(mixture_log_weights, net, params, x,
                              mean=proposal_params[0],
                              log_scale=proposal_params[1], scales=scales)
  return estimators.chunked_log_weights(weights, w_rng, k, chunk_size, fn=fn)


def iwae_bound(net: AVBNet, params, x: jax.Array, rng: jax.Array, k: int,
               chunk_size: Optional[int] = None,
               proposal_params: Optional[tuple] = None,
               **proposal_options) -> jax.Array:
  """log (1/K) Σ_k w_k [B] nats (`importance_log_weights`, same args): a
  lower bound on log p(x) in expectation, non-decreasing in K.

  References:
    Burda et al. 2016, eq. 8 (q replaced by the proposal r).
  """
  _check_k(net, "avb.iwae_bound", x, k, chunk_size, proposal_params)
  return estimators.iwae_bound(importance_log_weights(
      net, params, x, rng, k, chunk_size, proposal_params,
      **proposal_options))


# ---------------------------------------------------------- evaluation ----


def evaluate(net: AVBNet, disc: Discriminator, pre: Preprocessing, params,
             batch: dict, rng: jax.Array, **contrast) -> dict:
  """Validation metrics [B]: `elbo_estimate`'s terms, T's 'd_loss' and
  'd_accuracy', and 'elbo_avb_bits_per_dim'."""
  ae.check_batch(net, "avb.evaluate", batch)
  pre_rng, e_rng, d_rng = jax.random.split(rng, 3)
  x = pre.apply(pre_rng, batch["image"])
  terms = elbo_estimate(net, disc, params, x, e_rng, **contrast)
  _, d = discriminator_loss(net, disc, params["discriminator"], params, x,
                            d_rng, **contrast)
  return {**terms, "d_loss": d["d_loss"], "d_accuracy": d["d_accuracy"],
          "elbo_avb_bits_per_dim": distributions.bits_per_dim(
              -terms["elbo_avb"], math.prod(net.image_shape),
              pre.nats_offset_per_dim)}


def evaluate_final(net: AVBNet, disc: Discriminator, pre: Preprocessing,
                   params, batch: dict, rng: jax.Array, *, num_samples: int,
                   chunk_size: Optional[int], contrast: dict,
                   proposal_options: dict) -> dict:
  """Test metrics [B]: `elbo_estimate`'s terms, the importance-sampled 'nll'
  (-`iwae_bound` with K = num_samples), its 'bits_per_dim', and
  'elbo_proposal' = mean_k log w_k (the proposal's ELBO).

  Args:
    contrast: {contrast_samples, min_std} (`kl_inputs`).
    proposal_options: {scales, proposal_samples, min_std}
      (`importance_log_weights`).
  """
  ae.check_batch(net, "avb.evaluate_final", batch)
  pre_rng, e_rng, w_rng = jax.random.split(rng, 3)
  x = pre.apply(pre_rng, batch["image"])
  terms = elbo_estimate(net, disc, params, x, e_rng, **contrast)
  log_w = importance_log_weights(net, params, x, w_rng, num_samples,
                                 chunk_size, **proposal_options)
  nll = -estimators.iwae_bound(log_w)
  return {**terms, "elbo_proposal": jnp.mean(log_w, axis=0), "nll": nll,
          "bits_per_dim": distributions.bits_per_dim(
              nll, math.prod(net.image_shape), pre.nats_offset_per_dim)}


def sample(net: AVBNet, pre: Preprocessing, params, rng: jax.Array,
           n: int) -> jax.Array:
  """n draws z ~ N(0, I) shown as the mean of p(x|z): [n, H, W, C] in [0, 1]."""
  checks.check_positive_int("avb.sample", "n", n)
  return decode(net, pre, params, jax.random.normal(rng, (n, net.latent_dim)))


def reconstruct(net: AVBNet, pre: Preprocessing, params, x: jax.Array,
                rng: jax.Array) -> jax.Array:
  """Decodes the mean of 16 samples of q(z|x): [B, H, W, C] in [0, 1]."""
  ae.check_x(net, "avb.reconstruct", x)
  z = jnp.mean(encode(net, params, x, rng, POSTERIOR_MEAN_SAMPLES), axis=0)
  return decode(net, pre, params, z)


def interpolate(net: AVBNet, pre: Preprocessing, params, x_a: jax.Array,
                x_b: jax.Array, rng: jax.Array,
                steps: int = INTERPOLATION_STEPS) -> jax.Array:
  """Decodes `steps` points between the posterior means (16 samples of
  q(z|x)) of x_a and x_b [H, W, C]: [steps, H, W, C] in [0, 1]."""
  for name, xi in (("x_a", x_a), ("x_b", x_b)):
    checks.check_array("avb.interpolate", name, xi, shape=net.image_shape,
                       layout="(one example of the data set)")
  checks.check_positive_int("avb.interpolate", "steps", steps)
  z = jnp.mean(encode(net, params, jnp.stack([x_a, x_b]), rng,
                      POSTERIOR_MEAN_SAMPLES), axis=0)
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  return decode(net, pre, params, (1 - t) * z[0] + t * z[1])


def images(net: AVBNet, pre: Preprocessing, params, batch: dict,
           rng: jax.Array) -> dict:
  """{'samples': [64, ...], 'reconstructions' (data above their
  reconstructions), 'interpolations'}, [N, H, W, C] in [0, 1]."""
  ae.check_batch(net, "avb.images", batch)
  pre_rng, s_rng, r_rng = jax.random.split(rng, 3)
  x = pre.apply(pre_rng, batch["image"][:32])
  n = x.shape[0] // 2 * 2
  return {"samples": sample(net, pre, params, s_rng, 64),
          "reconstructions": jnp.concatenate(
              [pre.to_unit(x[:n]), reconstruct(net, pre, params, x[:n],
                                               r_rng)]),
          "interpolations": jnp.concatenate(
              [interpolate(net, pre, params, x[2 * i], x[2 * i + 1], r_rng)
               for i in range(min(4, n // 2))])}


def protocol(model_config, pre: Preprocessing) -> dict:
  """How the final metrics were computed (final_metrics.json)."""
  mc = model_config
  return {"model": "avb", "likelihood": mc.likelihood,
          "latent_dim": mc.latent_dim, "noise_dim": mc.noise_dim,
          "noise_injection": mc.noise_injection,
          "discriminator": mc.discriminator_architecture,
          "discriminator_steps": mc.discriminator_steps,
          "adaptive_contrast": bool(mc.adaptive_contrast),
          "preprocessing": pre.description,
          "elbo_avb": "estimate E[log p(x|z) - T(x, z)], not a bound",
          "nll_estimator": "importance sampling (IWAE bound) with a "
                           "moment-matched diagonal Gaussian proposal",
          "nll_num_samples": mc.eval_num_samples,
          "proposal_samples": mc.eval_proposal_samples,
          "proposal_scales": list(mc.eval_proposal_scales),
          "bits_per_dim": "nll / (D ln 2)" + (
              "" if pre.binary else f" + {pre.nats_offset_per_dim:.4f}/ln 2")}


# --------------------------------------------------------------- model ----


@dataclasses.dataclass(frozen=True, kw_only=True)
class AVB(base.Model):
  """The model interface (models/base.py) plus AVB's own functions, bound to
  the networks and config (`params` = state.params; x in model space
  [B, H, W, C]):
    encode(params, x, rng, k=None), decode(params, z),
    log_likelihood(params, z, x), discriminator(params, x, z),
    log_ratio_estimate(params, x, z, rng=None), elbo_estimate(params, x, rng),
    discriminator_loss(d_params, params, x, rng), proposal(params, x, rng,
    s=S), importance_log_weights(params, x, rng, k, chunk_size=None,
    proposal_params=None), iwae_bound(same), reconstruct(params, x, rng),
    interpolate(params, x_a, x_b, rng, steps) (the module functions of the
    same names).
  """
  preprocessing: Preprocessing
  net: AVBNet
  discriminator_net: Discriminator
  encode: Callable
  decode: Callable
  log_likelihood: Callable
  discriminator: Callable
  log_ratio_estimate: Callable
  elbo_estimate: Callable
  discriminator_loss: Callable
  proposal: Callable
  importance_log_weights: Callable
  iwae_bound: Callable
  reconstruct: Callable
  interpolate: Callable
  encoder_decoder_optimizer: optax.GradientTransformation
  discriminator_optimizer: optax.GradientTransformation


def _choice(field: str, allowed) -> tuple[Callable, str]:
  return (lambda mc: getattr(mc, field) in allowed,
          f"model.{field} must be one of {allowed}; got '{{mc.{field}}}'.")


# (condition on config.model, message formatted with mc = config.model):
# checked in order, the first that fails raises.
_RULES = (
    _choice("likelihood", LIKELIHOODS),
    _choice("noise_injection", NOISE_INJECTIONS),
    _choice("discriminator_architecture", DISCRIMINATOR_ARCHITECTURES),
    _choice("discriminator_activation", tuple(sorted(ACTIVATIONS))),
    (lambda mc: mc.latent_dim >= 1,
     "model.latent_dim must be >= 1; got {mc.latent_dim}."),
    (lambda mc: mc.noise_dim >= 1,
     "model.noise_dim must be >= 1; got {mc.noise_dim}."),
    (lambda mc: all(h >= 1 for h in mc.hidden),
     "model.hidden sizes must be >= 1; got {mc.hidden}."),
    (lambda mc: isinstance(mc.discriminator_steps, int)
     and mc.discriminator_steps >= 1,
     "model.discriminator_steps must be an integer >= 1; got "
     "{mc.discriminator_steps}."),
    (lambda mc: mc.contrast_samples >= 2,
     "model.contrast_samples must be >= 2 (a standard deviation needs two "
     "samples); got {mc.contrast_samples}."),
    (lambda mc: mc.eval_proposal_samples >= 2,
     "model.eval_proposal_samples must be >= 2; got "
     "{mc.eval_proposal_samples}."),
    (lambda mc: len(mc.eval_proposal_scales) >= 1
     and all(c > 0 for c in mc.eval_proposal_scales),
     "model.eval_proposal_scales must be >= 1 factors > 0; got "
     "{mc.eval_proposal_scales}."),
    (lambda mc: mc.eval_num_samples % len(mc.eval_proposal_scales) == 0
     and mc.eval_chunk_size % len(mc.eval_proposal_scales) == 0,
     "model.eval_num_samples ({mc.eval_num_samples}) and "
     "model.eval_chunk_size ({mc.eval_chunk_size}) must be multiples of the "
     "number of model.eval_proposal_scales ({n_scales}): the samples are "
     "stratified over the mixture's components."),
    (lambda mc: mc.eval_proposal_min_std > 0,
     "model.eval_proposal_min_std must be > 0; got "
     "{mc.eval_proposal_min_std}."),
    (lambda mc: mc.eval_num_samples >= 1,
     "model.eval_num_samples must be >= 1; got {mc.eval_num_samples}."),
    (lambda mc: mc.eval_num_samples % mc.eval_chunk_size == 0,
     "model.eval_num_samples ({mc.eval_num_samples}) must be a multiple of "
     "model.eval_chunk_size ({mc.eval_chunk_size})."),
    (lambda mc: mc.fixed_scale > 0,
     "model.fixed_scale must be > 0; got {mc.fixed_scale}."),
)


def validate_config(config) -> None:
  """Raises ValueError naming the field for an invalid model setting, or a
  likelihood that does not fit the data's preprocessing."""
  mc = config.model
  for ok, message in _RULES:
    if not ok(mc):
      raise ValueError(message.format(
          mc=mc, n_scales=len(tuple(mc.eval_proposal_scales))))
  binary = config.data.binarization in ("dynamic", "static")
  if mc.likelihood == "bernoulli" and not binary:
    raise ValueError("model.likelihood='bernoulli' needs binarised data "
                     "(data.binarization='dynamic' or 'static').")
  if mc.likelihood == "gaussian" and binary:
    raise ValueError("model.likelihood='gaussian' needs continuous data: set "
                     "data.binarization='none'.")


def make(config, dataset_info: dict) -> AVB:
  """Builds the AVB family from `config` (module docstring): validates it,
  builds the networks, optimisers and preprocessing, and binds the module's
  functions.

  Config (`config.model`): hidden (encoder and, reversed, decoder MLP
  sizes), latent_dim, noise_dim, noise_injection ('input' | 'layers'),
  likelihood ('bernoulli' | 'gaussian'), fixed_scale (Gaussian σ),
  discriminator_architecture ('inner_product' | 'concat'),
  discriminator_hidden, discriminator_embedding_dim,
  discriminator_activation, discriminator_steps, adaptive_contrast,
  contrast_samples, eval_num_samples (K), eval_chunk_size,
  eval_proposal_samples (S), eval_proposal_scales (c_1..c_M),
  eval_proposal_min_std. Optimisers: config.optimizer.encoder_decoder and
  config.optimizer.discriminator.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  validate_config(config)
  mc = config.model
  pre = make_preprocessing(config.data.binarization, config.data.dequantization,
                           config.data.value_range)
  net, disc = build_networks(mc, dataset_info["shape"])
  num_steps = config.train.num_steps
  tx_ed = make_optimizer(config.optimizer.encoder_decoder, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator,
                        num_steps * mc.discriminator_steps)
  contrast = dict(contrast_samples=mc.contrast_samples if mc.adaptive_contrast
                  else 0, min_std=mc.eval_proposal_min_std)
  proposal_options = dict(scales=tuple(mc.eval_proposal_scales),
                          proposal_samples=mc.eval_proposal_samples,
                          min_std=mc.eval_proposal_min_std)
  bind, nd, ndp = functools.partial, (net, disc), (net, disc, pre)
  return AVB(
      init=bind(init, net, disc, tx_ed, tx_d),
      train_step=bind(train_step, *ndp, tx_ed, tx_d,
                      discriminator_steps=mc.discriminator_steps, **contrast),
      evaluate=bind(evaluate, *ndp, **contrast),
      evaluate_final=bind(evaluate_final, *ndp,
                          num_samples=mc.eval_num_samples,
                          chunk_size=mc.eval_chunk_size, contrast=contrast,
                          proposal_options=proposal_options),
      sample=bind(sample, net, pre), images=bind(images, net, pre),
      protocol=bind(protocol, mc, pre),
      preprocessing=pre, net=net, discriminator_net=disc,
      encode=bind(encode, net), decode=bind(decode, net, pre),
      log_likelihood=bind(log_likelihood, net),
      discriminator=bind(discriminator, *nd),
      log_ratio_estimate=bind(log_ratio_estimate, *nd, **contrast),
      elbo_estimate=bind(elbo_estimate, *nd, **contrast),
      discriminator_loss=bind(discriminator_loss, *nd, **contrast),
      proposal=lambda params, x, rng, s=mc.eval_proposal_samples: proposal(
          net, params, x, rng, s, min_std=mc.eval_proposal_min_std),
      importance_log_weights=bind(importance_log_weights, net,
                                  **proposal_options),
      iwae_bound=bind(iwae_bound, net, **proposal_options),
      reconstruct=bind(reconstruct, net, pre),
      interpolate=bind(interpolate, net, pre),
      encoder_decoder_optimizer=tx_ed, discriminator_optimizer=tx_d)

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

Units: nats per example; bits/dim = nats / (D ln 2) on binary data.

References:
  Mescheder, Nowozin and Geiger 2017, "Adversarial Variational Bayes:
    Unifying Variational Autoencoders and Generative Adversarial Networks",
    ICML (arXiv:1701.04722): eq. 3.3-3.9, Proposition 1 and 2, Algorithm 1,
    adaptive contrast §4.
  Sugiyama, Suzuki and Kanamori 2012, "Density Ratio Estimation in Machine
    Learning" (the density-ratio trick).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders".
"""

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax import gan_losses
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn import MLP
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState

LIKELIHOODS = ("bernoulli", "gaussian")
NOISE_INJECTIONS = ("input", "layers")
DISCRIMINATOR_ARCHITECTURES = ("inner_product", "concat")
ACTIVATIONS = {"relu": nn.relu, "elu": nn.elu, "tanh": jnp.tanh,
               "softplus": nn.softplus}
INTERPOLATION_STEPS = 10


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
    h = jnp.concatenate([x, eps], axis=-1)
    for i, f in enumerate(self.hidden):
      h = nn.Dense(f, name=f"dense_{i}")(h)
      if self.noise_injection == "layers":
        h = h + nn.Dense(f, use_bias=False, name=f"noise_{i}")(eps)
      h = nn.relu(h)
    return nn.Dense(self.latent_dim, name=f"dense_{len(self.hidden)}")(h)


class AVBNet(nn.Module):
  """The implicit encoder g_φ and the decoder p_θ(x|z) (logits or mean)."""
  image_shape: Sequence[int]
  latent_dim: int
  hidden: Sequence[int]
  noise_injection: str = "input"

  def setup(self):
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
    x = x.reshape(x.shape[0], -1)
    act = ACTIVATIONS[self.activation]
    if self.architecture == "concat":
      return MLP(tuple(self.hidden) + (1,), act, name="mlp")(
          jnp.concatenate([x, z], axis=-1))[:, 0]
    e = self.embedding_dim
    fx = MLP(tuple(self.hidden) + (e + 1,), act, name="x_net")(x)
    hz = MLP(tuple(self.hidden) + (e + 1,), act, name="z_net")(z)
    return jnp.sum(fx[:, :e] * hz[:, :e], axis=-1) + fx[:, e] + hz[:, e]


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
  """
  checks.check_array("avb.gaussian_proposal", "samples", samples, rank=3,
                     layout="[S, B, D]")
  s = samples.shape[0]
  if s < 2:
    raise ValueError(f"avb.gaussian_proposal: gaussian_proposal needs >= 2 "
                     f"samples (S, the leading axis of `samples`); got {s}.")
  mean = jnp.mean(samples, axis=0)
  var = jnp.sum(jnp.square(samples - mean), axis=0) / (s - 1)
  std = jnp.maximum(jnp.sqrt(var), min_std)
  return mean, jnp.log(scale * std)


# --------------------------------------------------------------- model ----


class AVB(NamedTuple):
  """The model interface (models/base.py) plus AVB's own pure functions.

  `params` = state.params; x in model space (preprocessed) [B, H, W, C]:
    encode(params, x, rng, k=None) -> z ~ q(z|x): [B, D] (or [K, B, D])
    decode(params, z) -> mean of p(x|z) in [0, 1]: [N, H, W, C]
    log_likelihood(params, z, x) -> log p(x|z) [N]
    discriminator(params, x, z) -> T_ψ(x, z) [N] (the raw network)
    log_ratio_estimate(params, x, z, rng=None) -> estimate of
        log q(z|x) - log p(z) [N]: T_ψ(x, z) without adaptive contrast; with
        it, T_ψ(x, z̃) + log r_α(z|x) - log p(z) (r_α from `rng`'s samples)
    elbo_estimate(params, x, rng) -> {'elbo_avb', 'reconstruction',
        'kl_estimate'} [B] (an estimate, not a bound)
    discriminator_loss(d_params, ed_params, x, rng) -> (loss [B], metrics [B])
        with d_params = params['discriminator']
    proposal(params, x, rng, s=None) -> (m, log s) [B, D]: moments of S
        encoder samples; the test NLL's proposal r(z|x) is their mixture
        over `model.eval_proposal_scales`
    importance_log_weights(params, x, rng, k, chunk_size=None,
        proposal_params=None) -> log p(x|z_k) + log p(z_k) - log r(z_k|x)
        [K, B]
    iwae_bound(params, x, rng, k, chunk_size=None, proposal_params=None)
        -> [B], nats
    reconstruct(params, x, rng), interpolate(params, x_a, x_b, rng, steps)
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
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


def validate_config(config) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  mc = config.model

  def check(cond, msg):
    if not cond:
      raise ValueError(msg)

  check(mc.likelihood in LIKELIHOODS,
        f"model.likelihood must be one of {LIKELIHOODS}; got '{mc.likelihood}'.")
  check(mc.noise_injection in NOISE_INJECTIONS, "model.noise_injection must be "
        f"one of {NOISE_INJECTIONS}; got '{mc.noise_injection}'.")
  check(mc.discriminator_architecture in DISCRIMINATOR_ARCHITECTURES,
        "model.discriminator_architecture must be one of "
        f"{DISCRIMINATOR_ARCHITECTURES}; got '{mc.discriminator_architecture}'.")
  check(mc.discriminator_activation in ACTIVATIONS,
        f"model.discriminator_activation must be one of {sorted(ACTIVATIONS)}; "
        f"got '{mc.discriminator_activation}'.")
  check(mc.latent_dim >= 1, f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  check(mc.noise_dim >= 1, f"model.noise_dim must be >= 1; got {mc.noise_dim}.")
  check(all(h >= 1 for h in mc.hidden),
        f"model.hidden sizes must be >= 1; got {mc.hidden}.")
  check(isinstance(mc.discriminator_steps, int) and mc.discriminator_steps >= 1,
        "model.discriminator_steps must be an integer >= 1; got "
        f"{mc.discriminator_steps}.")
  check(mc.contrast_samples >= 2, "model.contrast_samples must be >= 2 (a "
        f"standard deviation needs two samples); got {mc.contrast_samples}.")
  check(mc.eval_proposal_samples >= 2, "model.eval_proposal_samples must be "
        f">= 2; got {mc.eval_proposal_samples}.")
  scales = tuple(mc.eval_proposal_scales)
  check(len(scales) >= 1 and all(c > 0 for c in scales),
        f"model.eval_proposal_scales must be >= 1 factors > 0; got {scales}.")
  check(mc.eval_num_samples % len(scales) == 0 and mc.eval_chunk_size %
        len(scales) == 0, f"model.eval_num_samples ({mc.eval_num_samples}) and "
        f"model.eval_chunk_size ({mc.eval_chunk_size}) must be multiples of "
        f"the number of model.eval_proposal_scales ({len(scales)}): the "
        "samples are stratified over the mixture's components.")
  check(mc.eval_proposal_min_std > 0, "model.eval_proposal_min_std must be "
        f"> 0; got {mc.eval_proposal_min_std}.")
  check(mc.eval_num_samples >= 1,
        f"model.eval_num_samples must be >= 1; got {mc.eval_num_samples}.")
  check(mc.eval_num_samples % mc.eval_chunk_size == 0,
        f"model.eval_num_samples ({mc.eval_num_samples}) must be a multiple "
        f"of model.eval_chunk_size ({mc.eval_chunk_size}).")
  check(mc.fixed_scale > 0, f"model.fixed_scale must be > 0; got {mc.fixed_scale}.")


def make(config, dataset_info: dict) -> AVB:
  """Builds the AVB family's functions from `config` (module docstring).

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
  if mc.likelihood == "bernoulli" and not pre.binary:
    raise ValueError("model.likelihood='bernoulli' needs binarised data "
                     "(data.binarization='dynamic' or 'static').")
  if mc.likelihood == "gaussian" and pre.binary:
    raise ValueError("model.likelihood='gaussian' needs continuous data: set "
                     "data.binarization='none'.")
  shape = tuple(dataset_info["shape"])
  num_dims = math.prod(shape)
  latent_dim, noise_dim = mc.latent_dim, mc.noise_dim
  k_d = mc.discriminator_steps
  contrast = bool(mc.adaptive_contrast)
  scales = jnp.asarray(tuple(mc.eval_proposal_scales), jnp.float32)  # [M]
  num_components = len(tuple(mc.eval_proposal_scales))
  net = AVBNet(shape, latent_dim, tuple(mc.hidden), mc.noise_injection)
  disc = Discriminator(tuple(mc.discriminator_hidden),
                       mc.discriminator_architecture,
                       mc.discriminator_embedding_dim,
                       mc.discriminator_activation)
  num_steps = config.train.num_steps
  tx_ed = make_optimizer(config.optimizer.encoder_decoder, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator, num_steps * k_d)

  # ------------------------------------------- input checks (trace time) ----

  # Input checks at trace time (the batch fits the data set the model was
  # built for; codes are [B, latent_dim]).
  check_batch, check_x, check_z = checks.autoencoder_checks("avb", shape,
                                                            latent_dim)

  def check_xz(fn, x, z):
    check_x(fn, x)
    check_z(fn, "z", z)
    checks.check_same_batch(f"avb.{fn}", [("x", x), ("z", z)])

  def check_k(fn, x, k, chunk_size, proposal_params):
    check_x(fn, x)
    checks.check_positive_int(f"avb.{fn}", "k", k)
    if chunk_size is not None:
      checks.check_positive_int(f"avb.{fn}", "chunk_size", chunk_size)
    if proposal_params is not None:
      if len(proposal_params) != 2:
        raise ValueError(f"avb.{fn}: `proposal_params` must be (mean, "
                         f"log_scale); got {len(proposal_params)} entries.")
      for name, a in zip(("proposal_params[0]", "proposal_params[1]"),
                         proposal_params):
        check_z(fn, name, a)
        checks.check_same_batch(f"avb.{fn}", [("x", x), (name, a)])

  # ------------------------------------------------------ networks ----

  def encode_with_noise(ed_params, x, eps):
    """z = g_φ(x, ε): x [B, ...], ε [..., B, E] -> [..., B, D]."""
    lead = eps.shape[:-1]
    n = math.prod(lead)
    xb = jnp.broadcast_to(x, lead[:-1] + x.shape).reshape((n,) + x.shape[1:])
    z = net.apply(ed_params, xb, eps.reshape(n, noise_dim), method=AVBNet.encode)
    return z.reshape(lead + (latent_dim,))

  def encode(params, x, rng, k=None):
    """z ~ q_φ(z|x): [B, D], or [K, B, D] when k is given."""
    check_x("encode", x)
    if k is not None:
      checks.check_positive_int("avb.encode", "k", k)
    lead = (x.shape[0],) if k is None else (k, x.shape[0])
    eps = jax.random.normal(rng, lead + (noise_dim,))
    return encode_with_noise(params["encoder_decoder"], x, eps)

  def _log_likelihood(ed_params, z, x):
    loc = net.apply(ed_params, z, method=AVBNet.decode)
    if mc.likelihood == "bernoulli":
      ll = distributions.bernoulli_log_prob(loc, x)
    else:
      ll = distributions.gaussian_log_prob(x, loc, math.log(mc.fixed_scale))
    return distributions.sum_except_batch(ll)

  def log_likelihood(params, z, x):
    """log p_θ(x | z): z [N, D], x [N, H, W, C] -> [N], nats."""
    check_xz("log_likelihood", x, z)
    return _log_likelihood(params["encoder_decoder"], z, x)

  def _t(d_params, x, z):
    return disc.apply(d_params, x, z)

  def discriminator(params, x, z):
    """T_ψ(x, z) [N]."""
    check_xz("discriminator", x, z)
    return _t(params["discriminator"], x, z)

  def contrast_terms(ed_params, x, rng):
    """Samples for the KL term, [B, D] each: z ~ q(z|x), the z that T sees
    (z itself, or z̃ = (z - μ)/σ with adaptive contrast), and the explicit
    part log r_α(z|x) - log p(z) of the KL ([B]; 0 without contrast)."""
    if not contrast:
      z = encode_with_noise(ed_params, x,
                            jax.random.normal(rng, (x.shape[0], noise_dim)))
      return z, z, jnp.zeros(x.shape[:1])
    # S samples for the moments and one more, independent of them, for z:
    # z̃ of one of the moment samples would be bounded (|z̃| <= (S-1)/√S),
    # which T could tell from N(0, I) without learning anything about q.
    eps = jax.random.normal(rng, (mc.contrast_samples + 1, x.shape[0],
                                  noise_dim))
    zs = encode_with_noise(ed_params, x, eps)                   # [S+1, B, D]
    mean, log_scale = jax.lax.stop_gradient(
        gaussian_proposal(zs[1:], 1.0, mc.eval_proposal_min_std))
    z = zs[0]
    z_t = (z - mean) * jnp.exp(-log_scale)
    explicit = jnp.sum(distributions.gaussian_log_prob(z, mean, log_scale)
                       - distributions.standard_normal_log_prob(z), -1)
    return z, z_t, explicit

  # --------------------------------------------------------- losses ----

  def _discriminator_loss(d_params, ed_params, x, rng):
    q_rng, p_rng = jax.random.split(rng)
    _, z_q, _ = contrast_terms(ed_params, x, q_rng)
    z_q = jax.lax.stop_gradient(z_q)
    z_p = jax.random.normal(p_rng, z_q.shape)
    t_q, t_p = _t(d_params, x, z_q), _t(d_params, x, z_p)
    loss = discriminator_loss_per_example(t_q, t_p)
    return loss, {"d_loss": loss, "d_accuracy":
                  discriminator_accuracy(t_q, t_p), "t_posterior": t_q,
                  "t_prior": t_p}

  def _elbo_terms(ed_params, d_params, x, rng):
    """Per-example [B]: reconstruction = -log p(x|z), kl_estimate = T (+
    the explicit contrast term), elbo_avb = -reconstruction - kl_estimate."""
    z, z_t, explicit = contrast_terms(ed_params, x, rng)
    reconstruction = -_log_likelihood(ed_params, z, x)
    kl = _t(d_params, x, z_t) + explicit
    return {"elbo_avb": -reconstruction - kl, "reconstruction": reconstruction,
            "kl_estimate": kl}

  def elbo_estimate(params, x, rng):
    check_x("elbo_estimate", x)
    return _elbo_terms(params["encoder_decoder"], params["discriminator"], x,
                       rng)

  def log_ratio_estimate(params, x, z, rng=None):
    check_xz("log_ratio_estimate", x, z)
    t_in, explicit = z, 0.0
    if contrast:
      if rng is None:
        raise ValueError("log_ratio_estimate needs an rng with adaptive "
                         "contrast (for the moments of q(z|x)).")
      zs = encode(params, x, rng, mc.contrast_samples)
      mean, log_scale = gaussian_proposal(zs, 1.0, mc.eval_proposal_min_std)
      t_in = (z - mean) * jnp.exp(-log_scale)
      explicit = jnp.sum(distributions.gaussian_log_prob(z, mean, log_scale)
                         - distributions.standard_normal_log_prob(z), -1)
    return discriminator(params, x, t_in) + explicit

  def ed_loss_fn(ed_params, d_params, x, rng):
    terms = _elbo_terms(ed_params, d_params, x, rng)
    return -jnp.mean(terms["elbo_avb"]), {k: jnp.mean(v) for k, v in terms.items()}

  # ----------------------------------------------------- train step ----

  def discriminator_update(carry, rng):
    d_params, opt_d, ed_params, x = carry
    (loss, metrics), grads = jax.value_and_grad(
        lambda p: (lambda l, m: (jnp.mean(l), m))(
            *_discriminator_loss(p, ed_params, x, rng)), has_aux=True)(d_params)
    updates, opt_d = tx_d.update(grads, opt_d, d_params)
    d_params = optax.apply_updates(d_params, updates)
    metrics = {k: jnp.mean(v) for k, v in metrics.items()}
    metrics["d_grad_norm"] = optax.global_norm(grads)
    return (d_params, opt_d, ed_params, x), metrics

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    pre_rng, d_rng, ed_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    params, opt = state.params, state.opt_state
    ed_params = params["encoder_decoder"]
    (d_params, opt_d, _, _), d_metrics = jax.lax.scan(
        discriminator_update,
        (params["discriminator"], opt["discriminator"], ed_params, x),
        jax.random.split(d_rng, k_d))
    (loss, aux), grads = jax.value_and_grad(ed_loss_fn, has_aux=True)(
        ed_params, d_params, x, ed_rng)
    updates, opt_ed = tx_ed.update(grads, opt["encoder_decoder"], ed_params)
    ed_params = optax.apply_updates(ed_params, updates)
    metrics = {k: jnp.mean(v) for k, v in d_metrics.items()}
    metrics["d_loss_last"] = d_metrics["d_loss"][-1]
    metrics.update(loss=loss, ed_grad_norm=optax.global_norm(grads), **aux)
    new_state = state.replace(
        step=state.step + 1,
        params={"encoder_decoder": ed_params, "discriminator": d_params},
        opt_state={"encoder_decoder": opt_ed, "discriminator": opt_d})
    return new_state, metrics

  def init(rng, batch):
    if batch is not None:
      check_batch("init", batch)
    del batch
    ed_rng, d_rng, state_rng = jax.random.split(rng, 3)
    x = jnp.zeros((1,) + shape, jnp.float32)
    ed_params = net.init(ed_rng, x, jnp.zeros((1, noise_dim)))
    d_params = disc.init(d_rng, x, jnp.zeros((1, latent_dim)))
    params = {"encoder_decoder": ed_params, "discriminator": d_params}
    opt_state = {"encoder_decoder": tx_ed.init(ed_params),
                 "discriminator": tx_d.init(d_params)}
    return TrainState.create(state_rng, params, opt_state)

  # ----------------------------------------------------- evaluation ----

  def proposal(params, x, rng, s=None):
    """(m, log s) of S encoder samples, [B, D] each; the proposal is the
    mixture of N(m, diag (c_m s)²) over `model.eval_proposal_scales`."""
    check_x("proposal", x)
    if s is not None:
      checks.check_positive_int("avb.proposal", "s", s)
    zs = encode(params, x, rng, s or mc.eval_proposal_samples)
    return gaussian_proposal(zs, 1.0, mc.eval_proposal_min_std)

  def _log_weights(params, x, rng, k, mean, log_scale):
    if k % num_components:
      raise ValueError(f"importance_log_weights: K (or chunk size) {k} is not "
                       f"a multiple of the {num_components} proposal scales.")
    comp_scale = jnp.tile(scales, k // num_components)[:, None, None]  # [K,1,1]
    eps = jax.random.normal(rng, (k,) + mean.shape)
    z = mean + comp_scale * jnp.exp(log_scale) * eps              # [K, B, D]
    # log r(z) = logsumexp_m Σ_d log N(z; m, c_m s) - log M      [K, B]
    log_comp = jnp.sum(distributions.gaussian_log_prob(
        z[:, None], mean, log_scale + jnp.log(scales)[:, None, None]), -1)
    log_r = jax.nn.logsumexp(log_comp, axis=1) - math.log(num_components)
    log_pz = jnp.sum(distributions.standard_normal_log_prob(z), -1)
    b = x.shape[0]
    xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
    log_px_z = log_likelihood(params, z.reshape(k * b, -1), xk).reshape(k, b)
    return log_px_z + log_pz - log_r                               # [K, B]

  def importance_log_weights(params, x, rng, k, chunk_size=None,
                             proposal_params=None):
    """log w_k = log p(x|z_k) + log p(z_k) - log r(z_k|x), z_k ~ r: [K, B].

    r is the mixture over `model.eval_proposal_scales` of N(m, diag
    (c s)²), with (m, log s) = `proposal_params` [B, D] if given, else the
    moment-matched `proposal` (from a key split off `rng`). With
    `chunk_size`, `chunk_size` samples at a time (sequential `lax.map`).
    """
    check_k("importance_log_weights", x, k, chunk_size, proposal_params)
    if chunk_size is not None and chunk_size < k and k % chunk_size:
      raise ValueError(f"importance_log_weights: K={k} is not a multiple of "
                       f"chunk_size={chunk_size}.")
    r_rng, w_rng = jax.random.split(rng)
    if proposal_params is None:
      proposal_params = proposal(params, x, r_rng)
    mean, log_scale = proposal_params
    if chunk_size is None or chunk_size >= k:
      return _log_weights(params, x, w_rng, k, mean, log_scale)
    chunks = jax.lax.map(
        lambda r: _log_weights(params, x, r, chunk_size, mean, log_scale),
        jax.random.split(w_rng, k // chunk_size))
    return chunks.reshape(k, x.shape[0])

  def iwae_bound(params, x, rng, k, chunk_size=None, proposal_params=None):
    """log (1/K) Σ_k w_k [B]: a lower bound on log p(x) in expectation."""
    check_k("iwae_bound", x, k, chunk_size, proposal_params)
    return estimators.iwae_bound(importance_log_weights(
        params, x, rng, k, chunk_size, proposal_params))

  def _bits(nats):
    return (nats / num_dims + pre.nats_offset_per_dim) / math.log(2)

  def discriminator_loss(d_params, ed_params, x, rng):
    check_x("discriminator_loss", x)
    return _discriminator_loss(d_params, ed_params, x, rng)

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    pre_rng, e_rng, d_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo_estimate(params, x, e_rng)
    _, d = _discriminator_loss(params["discriminator"],
                               params["encoder_decoder"], x, d_rng)
    return {**terms, "d_loss": d["d_loss"], "d_accuracy": d["d_accuracy"],
            "elbo_avb_bits_per_dim": _bits(-terms["elbo_avb"])}

  def evaluate_final(params, batch, rng):
    check_batch("evaluate_final", batch)
    pre_rng, e_rng, w_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo_estimate(params, x, e_rng)
    log_w = importance_log_weights(params, x, w_rng, mc.eval_num_samples,
                                   mc.eval_chunk_size)
    nll = -estimators.iwae_bound(log_w)
    return {"elbo_avb": terms["elbo_avb"], "kl_estimate": terms["kl_estimate"],
            "reconstruction": terms["reconstruction"],
            "elbo_proposal": jnp.mean(log_w, axis=0),
            "nll": nll, "bits_per_dim": _bits(nll)}

  # ------------------------------------------------------- pictures ----

  def decode(params, z):
    check_z("decode", "z", z)
    loc = net.apply(params["encoder_decoder"], z, method=AVBNet.decode)
    return jax.nn.sigmoid(loc) if mc.likelihood == "bernoulli" else pre.to_unit(loc)

  def sample(params, rng, n):
    checks.check_positive_int("avb.sample", "n", n)
    return decode(params, jax.random.normal(rng, (n, latent_dim)))

  def _posterior_mean(params, x, rng):
    return jnp.mean(encode(params, x, rng, 16), axis=0)

  def reconstruct(params, x, rng):
    """Decodes the mean of 16 samples of q(z|x): [B, H, W, C] in [0, 1]."""
    check_x("reconstruct", x)
    return decode(params, _posterior_mean(params, x, rng))

  def interpolate(params, x_a, x_b, rng, steps=INTERPOLATION_STEPS):
    """Decodes `steps` points between the posterior means of x_a and x_b."""
    for name, xi in (("x_a", x_a), ("x_b", x_b)):
      checks.check_array("avb.interpolate", name, xi, shape=shape,
                         layout="(one example of the data set)")
    checks.check_positive_int("avb.interpolate", "steps", steps)
    z = _posterior_mean(params, jnp.stack([x_a, x_b]), rng)
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    return decode(params, (1 - t) * z[0] + t * z[1])

  def images(params, batch, rng):
    """{'samples': [64, ...], 'reconstructions', 'interpolations'} in [0, 1]."""
    check_batch("images", batch)
    pre_rng, s_rng, r_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"][:32])
    n = x.shape[0] // 2 * 2
    return {"samples": sample(params, s_rng, 64),
            "reconstructions": jnp.concatenate(
                [pre.to_unit(x[:n]), reconstruct(params, x[:n], r_rng)]),
            "interpolations": jnp.concatenate(
                [interpolate(params, x[2 * i], x[2 * i + 1], r_rng)
                 for i in range(min(4, n // 2))])}

  def protocol():
    return {"model": "avb", "likelihood": mc.likelihood,
            "latent_dim": latent_dim, "noise_dim": noise_dim,
            "noise_injection": mc.noise_injection,
            "discriminator": mc.discriminator_architecture,
            "discriminator_steps": k_d,
            "adaptive_contrast": contrast,
            "preprocessing": pre.description,
            "elbo_avb": "estimate E[log p(x|z) - T(x, z)], not a bound",
            "nll_estimator": "importance sampling (IWAE bound) with a "
                             "moment-matched diagonal Gaussian proposal",
            "nll_num_samples": mc.eval_num_samples,
            "proposal_samples": mc.eval_proposal_samples,
            "proposal_scales": list(mc.eval_proposal_scales),
            "bits_per_dim": "nll / (D ln 2)" + (
                "" if pre.binary else f" + {pre.nats_offset_per_dim:.4f}/ln 2")}

  return AVB(init, train_step, evaluate, evaluate_final, sample, protocol,
             images, pre, net, disc, encode, decode, log_likelihood,
             discriminator, log_ratio_estimate, elbo_estimate,
             discriminator_loss, proposal, importance_log_weights, iwae_bound,
             reconstruct, interpolate, tx_ed, tx_d)

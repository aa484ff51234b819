"""Variational autoencoders: VAE, beta-VAE and IWAE, as pure functions.

Model: p(z) = N(0, I), p(x | z) Bernoulli (logits) or diagonal Gaussian
(fixed or learned per-pixel scale), q(z | x) = N(μ(x), diag σ²(x)).

Objectives (per example, nats; all shape [B]):
  ELBO      L(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))
            (Kingma and Welling 2014, eq. 3; KL in closed form, appendix B);
  beta-VAE  E_q[log p(x|z)] - β KL (Higgins et al. 2017, eq. 4), with an
            optional linear KL warm-up (Sønderby et al. 2016): step t (from 0)
            uses β min(1, (t + 1) / kl_warmup_steps);
  IWAE      L_K(x) = E[log (1/K) Σ_k p(x, z_k) / q(z_k|x)]
            (Burda et al. 2016, eq. 8), trained with K samples;
  test NLL  -L_K with K = 1000 (Burda et al. 2016, section 5.1), computed in
            chunks of K so memory stays bounded.

Flow posteriors and flow priors (optional; the defaults 'none' give the
plain VAE above, its parameters and its closed-form KL unchanged):
  posterior  z_0 ~ q_0(z|x) = N(μ(x), diag σ²(x)) (reparameterised),
             z_K = f_K ∘ ... ∘ f_1(z_0),
             log q_K(z_K|x) = log q_0(z_0|x) - Σ_k log|det ∂f_k/∂z_{k-1}|
             (Rezende and Mohamed 2015, eq. 13-15), with planar steps or
             inverse autoregressive (IAF) steps (Kingma et al. 2016, eq.
             10-14) whose parameters depend on x through a context h(x)
             that the encoder outputs next to μ and log σ. The planar
             steps are the library's one planar flow
             (`flows.planar_forward`; its m(·) is the paper's shifted so
             that u = 0 is the identity, see gdm_jax/flows/planar.py), the
             IAF steps' network its one MADE (`flows.MADE` with h(x) as a
             context input);
  prior      p(z) = N(g(z); 0, I) |det ∂g/∂z|, g = f^{-1} a learnable flow
             evaluated in its one-pass direction (RealNVP affine couplings,
             or a MADE-based masked autoregressive flow as in VLAE, Chen et
             al. 2017); samples are z = f(ε), ε ~ N(0, I) (one pass for
             couplings, D sequential MADE passes for the autoregressive
             prior).
  With either flow the ELBO is
    L(x) = E_q[log p(x|z_K) + log p(z_K) - log q_K(z_K|x)]
  with a single-sample Monte Carlo KL, KL ≈ log q_K(z_K|x) - log p(z_K) (no
  closed form exists), and the IWAE bound and the test NLL use the same
  flow-transformed samples: log w_k = log p(x, z_K^(k)) - log q_K(z_K^(k)|x).

Bits/dim. For binary data, bits/dim = NLL / (D ln 2). For a continuous
(Gaussian) decoder on uniformly dequantised data x = (pixel + u) / 256 in
[0, 1)^D, the density of the 8-bit data y = 256 x has the Jacobian factor
256^-D, so
    bits/dim = (NLL / D + log 256) / ln 2,
with NLL the IWAE (K = 1000) estimate of -log p(x) in nats and D = H W C;
`Preprocessing.nats_offset_per_dim` holds the log 256 (log 128 for [-1, 1]
data). By Theis et al. (2016) this is an upper bound on the discrete
model's bits/dim, up to the Monte Carlo error of the IWAE estimate.

Layout. Every bound, estimator and helper below is a module-level function
of the network `net: VAENet` (the static architecture, from
`build_networks(config.model, shape)`), its `params`, arrays and keyword
hyperparameters (`compute_dtype`: the networks' dtype, float32 or
bfloat16; log-densities stay float32), e.g.

  net = build_networks(config.model, (28, 28, 1))
  terms = elbo(net, params, x, rng)                      # {'elbo': [B], ...}
  nll = -iwae_bound(net, params, x, rng, 1000, 100)      # [B] nats

so a notebook can evaluate a loaded checkpoint's params without `make`;
`make` only binds them to a config (the `VAE` members are these functions
with net and hyperparameters bound).

Config (`config.model`): architecture ('mlp' | 'conv'), hidden (MLP sizes),
conv_channels, conv_hidden, latent_dim, likelihood ('bernoulli' |
'gaussian'), learn_scale, fixed_scale, beta, kl_warmup_steps, objective
('elbo' | 'iwae'), num_samples (K when training the IWAE bound),
eval_num_samples (K of the test NLL), eval_chunk_size; and for flows:
posterior_flow ('none' | 'planar' | 'iaf'), posterior_flow_steps,
posterior_flow_amortized (planar: per-example u, w, b from h(x), as in the
paper, or one global set), posterior_context_dim (size of h(x)),
posterior_flow_hidden (IAF's MADE hidden sizes), iaf_gate_bias,
prior_flow ('none' | 'realnvp' | 'maf'), prior_flow_steps,
prior_flow_hidden (width of the couplings' MLPs / MADE layers). Missing flow
fields take these defaults: 'none', 4, True, 64, (320, 320), 2.0, 'none', 4,
256.

References:
  Kingma and Welling 2014, "Auto-Encoding Variational Bayes".
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders".
  Rezende and Mohamed 2015, "Variational Inference with Normalizing Flows",
    sec. 4.1 (planar flow), eq. 13-15 (flow posterior's log-density),
    appendix A.1 (invertibility, û).
  Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling 2016, "Improved
    Variational Inference with Inverse Autoregressive Flow", eq. 10-14 and
    algorithm 1.
  Chen, Kingma, Salimans, Duan, Dhariwal, Schulman, Sutskever and Abbeel
    2017, "Variational Lossy Autoencoder", sec. 2.2 and 3 (autoregressive
    flow prior).
  Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models", sec. 3.1 (dequantisation).
"""

import dataclasses
import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax import flows
from gdm_jax.core import precision
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.nn import ConvDecoder
from gdm_jax.nn import ConvEncoder
from gdm_jax.nn import MLP

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
OBJECTIVES = ("elbo", "iwae")
POSTERIOR_FLOWS = ("none", "planar", "iaf")
PRIOR_FLOWS = ("none", "realnvp", "maf")

# Flow fields and the values a config without them gets (the plain VAE).
FLOW_DEFAULTS = {
    "posterior_flow": "none",
    "posterior_flow_steps": 4,
    "posterior_flow_amortized": True,
    "posterior_context_dim": 64,
    "posterior_flow_hidden": (320, 320),
    "iaf_gate_bias": 2.0,
    "prior_flow": "none",
    "prior_flow_steps": 4,
    "prior_flow_hidden": 256,
}

F32 = jnp.float32


def _flow_field(mc, name):
  return mc.get(name, FLOW_DEFAULTS[name]) if hasattr(mc, "get") else getattr(
      mc, name, FLOW_DEFAULTS[name])


# ------------------------------------------------------ networks


class PlanarPosterior(nn.Module):
  """K planar steps z_k = z_{k-1} + û_k tanh(w_kᵀz_{k-1} + b_k)
  (`flows.planar_forward`, the one planar flow of this library).

  Amortised (the paper's choice): u_k, w_k, b_k are linear functions of the
  encoder's context h(x) [N, C], so each example has its own flow; global:
  one set of u_k, w_k, b_k shared by all examples. u and b start at 0, so the
  flow starts as the identity (`flows.planar_u_hat`'s m has m(0) = 0); w
  starts random with ‖w‖ ~ 1.

  __call__(z [N, D], context [N, C]) -> (z_K [N, D], Σ_k log|det J_k| [N]).

  References:
    Rezende and Mohamed 2015, sec. 4.1 and eq. 13.
  """
  steps: int
  amortized: bool = True

  @nn.compact
  def __call__(self, z, context):
    """z [B, D] and the encoder's context [B, C] -> (z_K, Σ_k log|det| [B])
    through `steps` planar flows (amortised: u, w, b from the context)."""
    n, d = z.shape
    k = self.steps
    if self.amortized:
      zeros = nn.initializers.zeros
      u = nn.Dense(k * d, kernel_init=zeros, name="u")(context)
      w = nn.Dense(k * d, kernel_init=nn.initializers.variance_scaling(
          1.0 / d, "fan_in", "truncated_normal"), name="w")(context)
      b = nn.Dense(k, kernel_init=zeros, name="b")(context)
      u, w = u.reshape(n, k, d), w.reshape(n, k, d)
    else:
      u = self.param("u", nn.initializers.zeros, (k, d))[None]
      w = self.param("w", nn.initializers.normal(1.0 / math.sqrt(d)),
                     (k, d))[None]
      b = self.param("b", nn.initializers.zeros, (k,))[None]
    log_det = jnp.zeros((n,), z.dtype)
    for i in range(k):
      z, ld = flows.planar_forward(z, u[:, i], w[:, i], b[:, i])
      log_det = log_det + ld
    return z, log_det


class IAFPosterior(nn.Module):
  """K IAF steps with the numerically stable gated update (Kingma et al.
  2016, eq. 14 and algorithm 1):

    (m_k, s_k) = MADE_k(z_{k-1}, h) (+ gate_bias on s_k),  σ_k = sigmoid(s_k),
    z_k = σ_k ⊙ z_{k-1} + (1 - σ_k) ⊙ m_k,
    log|det ∂z_k/∂z_{k-1}| = Σ_d log σ_{k,d}

  (the Jacobian is triangular in MADE_k's order with diagonal σ_k). MADE_k
  is `flows.MADE` with the context h(x) as an extra unmasked input to its
  first hidden layer (Kingma et al. 2016, sec. 4), ELU units and a
  zero-initialised output layer. The order alternates between steps (1..D,
  D..1, ...), which reverses z between consecutive steps. At init m = 0 and
  σ = sigmoid(gate_bias) (0.88 for 2): each step is the contraction z -> σ z.

  __call__(z [N, D], context [N, C]) -> (z_K [N, D], Σ_k log|det J_k| [N]).

  References:
    Kingma et al. 2016, "Improved Variational Inference with Inverse
      Autoregressive Flow", eq. 10-14, sec. 4, algorithm 1.
  """
  steps: int
  hidden: Sequence[int] = (320, 320)
  gate_bias: float = 2.0

  @nn.compact
  def __call__(self, z, context):
    """z [B, D] and the encoder's context [B, C] -> (z_K, Σ_k log|det| [B])
    through `steps` gated IAF steps (Kingma et al. 2016, eq. 14)."""
    log_det = jnp.zeros(z.shape[:1], z.dtype)
    for k in range(self.steps):
      out = flows.MADE(tuple(self.hidden), num_outputs=2, reverse=k % 2 == 1,
                       activation=nn.elu, name=f"made_{k}")(z, context)
      m, s = out[:, 0], out[:, 1] + self.gate_bias
      sigma = jax.nn.sigmoid(s)
      z = sigma * z + (1.0 - sigma) * m
      log_det = log_det + jnp.sum(jax.nn.log_sigmoid(s), -1)
    return z, log_det


def make_prior_flow(kind: str, steps: int, hidden: int) -> flows.Chain:
  """The prior's bijector g = f^{-1}: latent z -> base ε, one pass each.

    'realnvp': `steps` affine couplings (half masks, alternating parity) with
               two-layer MLP conditioners of width `hidden`;
    'maf':     `steps` MADE affine autoregressive maps ε_d = z_d s_d(z_<d) +
               t_d(z_<d) (flows.IAF's parallel direction), orders alternating;
               their inverse, used for sampling, needs D sequential passes
               (the masked autoregressive flow of Papamakarios et al. 2017,
               and VLAE's autoregressive flow prior, Chen et al. 2017).
  Both start as the identity (zero-initialised last layers, tanh scales).

  Raises:
    ValueError: an unknown kind.
  """
  if kind == "realnvp":
    return flows.Chain(tuple(
        flows.AffineCoupling(mask_type="half", parity=k % 2 == 1, hidden=hidden)
        for k in range(steps)))
  if kind == "maf":
    return flows.Chain(tuple(
        flows.IAF(hidden=(hidden, hidden), reverse=k % 2 == 1)
        for k in range(steps)))
  raise ValueError(f"model.prior_flow must be one of {PRIOR_FLOWS}; got '{kind}'.")


class VAENet(nn.Module):
  """Encoder q(z|x), decoder p(x|z) and the optional posterior/prior flows.

  `encode`: float [B, H, W, C] -> (mean, log_scale), each [B, latent_dim].
  `encode_with_context`: -> (mean, log_scale, context [B, context_dim]); the
  encoder's last layer outputs 2 latent_dim + context_dim numbers (the
  context h(x) of Kingma et al. 2016; context_dim = 0 without a flow
  posterior, so the plain VAE's parameters are unchanged).
  `transform_posterior`: (z_0 [N, D], context [N, C]) -> (z_K [N, D],
  Σ_k log|det J_k| [N]); the identity with log-det 0 without a flow.
  `prior_to_base` / `prior_from_base`: z <-> ε of the prior flow, each
  (out [N, D], log|det| of that direction [N]); identities without one.
  `decode`: float [B, latent_dim] -> (loc [B, H, W, C], log_scale) where loc
  is Bernoulli logits or the Gaussian mean, and log_scale the Gaussian's
  per-pixel log standard deviation [H, W, C] (None for Bernoulli).
  """
  image_shape: Sequence[int]
  latent_dim: int
  architecture: str = "mlp"
  hidden: Sequence[int] = (512,)
  conv_channels: Sequence[int] = (32, 64)
  conv_hidden: int = 256
  likelihood: str = "bernoulli"
  learn_scale: bool = True
  fixed_scale: float = 0.1
  posterior_flow: str = "none"
  posterior_flow_steps: int = 4
  posterior_flow_amortized: bool = True
  context_dim: int = 0
  posterior_flow_hidden: Sequence[int] = (320, 320)
  iaf_gate_bias: float = 2.0
  prior_flow: str = "none"
  prior_flow_steps: int = 4
  prior_flow_hidden: int = 256

  def setup(self):
    """The encoder and decoder (MLP or conv), the flows and the decoder's
    learned log-scale where configured."""
    h, w, c = self.image_shape
    enc_out = 2 * self.latent_dim + self.context_dim
    if self.architecture == "mlp":
      self.encoder = MLP(tuple(self.hidden) + (enc_out,))
      self.decoder = MLP(tuple(reversed(self.hidden)) + (h * w * c,))
    else:
      self.encoder = ConvEncoder(self.conv_channels, self.conv_hidden, enc_out)
      self.decoder = ConvDecoder(self.image_shape,
                                 tuple(reversed(self.conv_channels)),
                                 self.conv_hidden, c)
    if self.likelihood == "gaussian" and self.learn_scale:
      self.decoder_log_scale = self.param(
          "decoder_log_scale", nn.initializers.zeros, tuple(self.image_shape))
    if self.posterior_flow == "planar":
      self.posterior = PlanarPosterior(self.posterior_flow_steps,
                                       self.posterior_flow_amortized)
    elif self.posterior_flow == "iaf":
      self.posterior = IAFPosterior(self.posterior_flow_steps,
                                    tuple(self.posterior_flow_hidden),
                                    self.iaf_gate_bias)
    if self.prior_flow != "none":
      self.prior = make_prior_flow(self.prior_flow, self.prior_flow_steps,
                                   self.prior_flow_hidden)

  def encode_with_context(self, x):
    """x [B, H, W, C] -> (mean [B, D], log_scale [B, D], context [B, C])."""
    if self.architecture == "mlp":
      x = x.reshape(x.shape[0], -1)
    out = self.encoder(x)
    d = self.latent_dim
    return out[:, :d], out[:, d:2 * d], out[:, 2 * d:]

  def encode(self, x):
    """x [B, H, W, C] -> (mean, log_scale) of q(z_0 | x), [B, D] each."""
    mean, log_scale, _ = self.encode_with_context(x)
    return mean, log_scale

  def transform_posterior(self, z, context):
    """(z_K, Σ log|det| [B]) of the posterior flow (z, zeros without one)."""
    if self.posterior_flow == "none":
      return z, jnp.zeros(z.shape[:1], z.dtype)
    return self.posterior(z, context)

  def prior_to_base(self, z):
    """z -> (ε, log|det ∂ε/∂z| [B]) of the prior flow (z, zeros without one)."""
    if self.prior_flow == "none":
      return z, jnp.zeros(z.shape[:1], z.dtype)
    return self.prior.forward(z)

  def prior_from_base(self, eps):
    """ε -> (z, log|det ∂z/∂ε| [B]) of the prior flow (ε, zeros without one)."""
    if self.prior_flow == "none":
      return eps, jnp.zeros(eps.shape[:1], eps.dtype)
    return self.prior.inverse(eps)

  def decode(self, z):
    """z [B, D] -> (loc [B, H, W, C], log_scale or None): Bernoulli logits and
    None, or the Gaussian mean and log-scale."""
    loc = self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))
    if self.likelihood == "bernoulli":
      return loc, None
    if self.learn_scale:
      return loc, self.decoder_log_scale
    return loc, jnp.full(self.image_shape, math.log(self.fixed_scale))

  def __call__(self, x, z):
    """Every submodule once (for `init`): (encode(x), decode(z_K))."""
    mean, log_scale, context = self.encode_with_context(x)
    z_k, _ = self.transform_posterior(z, context)
    self.prior_to_base(z_k)
    return (mean, log_scale), self.decode(z_k)


def build_networks(model_config, shape: Sequence[int]) -> VAENet:
  """The VAE's network from a run's `config.model` block and the data's
  per-example shape (H, W, C), e.g. to evaluate a checkpoint's params.

  The encoder outputs a context h(x) of `posterior_context_dim` numbers only
  for an IAF or an amortised planar posterior (else 0, the plain VAE's
  parameters). Missing flow fields take `FLOW_DEFAULTS`.
  """
  mc = model_config
  flow = {k: _flow_field(mc, k) for k in FLOW_DEFAULTS}
  uses_context = flow["posterior_flow"] == "iaf" or (
      flow["posterior_flow"] == "planar" and flow["posterior_flow_amortized"])
  return VAENet(
      tuple(shape), mc.latent_dim, mc.architecture, tuple(mc.hidden),
      tuple(mc.conv_channels), mc.conv_hidden, mc.likelihood, mc.learn_scale,
      mc.fixed_scale, flow["posterior_flow"], flow["posterior_flow_steps"],
      flow["posterior_flow_amortized"],
      flow["posterior_context_dim"] if uses_context else 0,
      tuple(flow["posterior_flow_hidden"]), flow["iaf_gate_bias"],
      flow["prior_flow"], flow["prior_flow_steps"], flow["prior_flow_hidden"])


# ------------------------------------------------------ network calls
# The encoder and decoder run in `compute_dtype` on cast parameters; flows,
# priors and every log-density stay in float32 (gdm_jax/core/precision.py).


def _check_x(fn: str, net: VAENet, x) -> None:
  checks.check_example_batch(f"vae.{fn}", "x", x, net.image_shape, "floating")


def encode(net: VAENet, params, x: jax.Array, *, compute_dtype=F32):
  """q_0(z|x)'s parameters: x [B, H, W, C] -> (mean, log_scale) [B, D] each."""
  return precision.apply_in(compute_dtype, net.apply, params, x,
                            method=VAENet.encode)


def encode_posterior(net: VAENet, params, x: jax.Array, *, compute_dtype=F32):
  """x [B, H, W, C] -> (mean [B, D], log_scale [B, D], context h(x) [B, C])
  (C = 0 without an amortised flow posterior)."""
  return precision.apply_in(compute_dtype, net.apply, params, x,
                            method=VAENet.encode_with_context)


def decode(net: VAENet, params, z: jax.Array, *, compute_dtype=F32):
  """z [N, D] -> (loc [N, H, W, C], log_scale [H, W, C] or None): Bernoulli
  logits, or the Gaussian mean and per-pixel log standard deviation."""
  return precision.apply_in(compute_dtype, net.apply, params, z,
                            method=VAENet.decode)


def transform_posterior(net: VAENet, params, z0: jax.Array,
                        context: jax.Array):
  """The posterior flow: (z_0 [N, D], h [N, C]) -> (z_K [N, D],
  Σ_k log|det ∂z_k/∂z_{k-1}| [N]); the identity without one."""
  return net.apply(params, z0, context, method=VAENet.transform_posterior)


def prior_to_base(net: VAENet, params, z: jax.Array):
  """ε = g(z) and log|det ∂g/∂z|: [N, D], [N] (identity without a prior flow)."""
  return net.apply(params, z, method=VAENet.prior_to_base)


def prior_from_base(net: VAENet, params, eps: jax.Array):
  """z = g^{-1}(ε) and log|det ∂g^{-1}/∂ε|: [N, D], [N] (D sequential MADE
  passes for the 'maf' prior)."""
  return net.apply(params, eps, method=VAENet.prior_from_base)


# ------------------------------------------------------ densities


def decoder_log_likelihood(likelihood: str, loc: jax.Array,
                           log_scale: jax.Array | None,
                           x: jax.Array) -> jax.Array:
  """log p(x | z) summed over pixels, nats: [N, H, W, C] -> [N].

    'bernoulli': Σ_i x_i log σ(loc_i) + (1 - x_i) log σ(-loc_i), x binary;
    'gaussian':  Σ_i log N(x_i; loc_i, exp(log_scale_i)²).

  Raises:
    ValueError: an unknown likelihood, or arrays that do not fit
      (`distributions.bernoulli_log_prob` / `gaussian_log_prob`).

  References:
    Kingma and Welling 2014, appendix C.1 (Bernoulli) and C.2 (Gaussian).
  """
  if likelihood == "bernoulli":
    ll = distributions.bernoulli_log_prob(loc, x)
  elif likelihood == "gaussian":
    ll = distributions.gaussian_log_prob(x, loc, log_scale)
  else:
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}; got "
                     f"'{likelihood}'.")
  return distributions.sum_except_batch(ll)


def log_likelihood(net: VAENet, params, z: jax.Array, x: jax.Array, *,
                   compute_dtype=F32) -> jax.Array:
  """log p(x | z): z [N, D], x [N, H, W, C] -> [N], nats."""
  loc, log_scale = decode(net, params, z, compute_dtype=compute_dtype)
  return decoder_log_likelihood(net.likelihood, loc, log_scale, x)


def prior_log_prob(net: VAENet, params, z: jax.Array) -> jax.Array:
  """log p(z) = log N(g(z); 0, I) + log|det ∂g/∂z|: z [N, D] -> [N], nats
  (the standard normal without a prior flow)."""
  eps, log_det = prior_to_base(net, params, z)
  return jnp.sum(distributions.standard_normal_log_prob(eps), -1) + log_det


def sample_prior(net: VAENet, params, rng: jax.Array, n: int) -> jax.Array:
  """z = g^{-1}(ε), ε ~ N(0, I): [n, D]."""
  eps = jax.random.normal(rng, (n, net.latent_dim))
  return prior_from_base(net, params, eps)[0]


def posterior_log_density(net: VAENet, params, mean: jax.Array,
                          log_scale: jax.Array, context: jax.Array,
                          z0: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The flow posterior's sample and log-density at it:

    z_K = f_K ∘ ... ∘ f_1(z_0),
    log q_K(z_K|x) = log N(z_0; μ, diag σ²) - Σ_k log|det ∂f_k/∂z_{k-1}|

  (Rezende and Mohamed 2015, eq. 13-15); z_K = z_0 without a flow.

  Args:
    mean, log_scale: [B, D]; context: [B, C] (the encoder's outputs).
    z0: [..., B, D], any leading sample axes.

  Returns:
    (z_K [..., B, D], log q_K(z_K|x) [..., B]), nats.
  """
  log_q0 = jnp.sum(distributions.gaussian_log_prob(z0, mean, log_scale), -1)
  if net.posterior_flow == "none":
    return z0, log_q0
  lead = z0.shape[:-1]
  n = math.prod(lead)
  ctx = jnp.broadcast_to(context, lead + context.shape[-1:])
  z, log_det = transform_posterior(net, params, z0.reshape(n, z0.shape[-1]),
                                   ctx.reshape(n, context.shape[-1]))
  return z.reshape(z0.shape), log_q0 - log_det.reshape(lead)


def sample_posterior(net: VAENet, params, x: jax.Array, rng: jax.Array,
                     k: int | None = None, *, compute_dtype=F32) -> dict:
  """z_0 = μ + σ ε and z_K = f_K ∘ ... ∘ f_1(z_0), with log q_K(z_K|x):
  {'z0', 'z': [B, D] (or [K, B, D] when k is given), 'log_q': [B] or
  [K, B], nats}."""
  mean, log_scale, context = encode_posterior(net, params, x,
                                              compute_dtype=compute_dtype)
  z0 = estimators.reparameterize(rng, mean, log_scale, k)
  z, log_q = posterior_log_density(net, params, mean, log_scale, context, z0)
  return {"z0": z0, "z": z, "log_q": log_q}


# ------------------------------------------------------ bounds


def elbo(net: VAENet, params, x: jax.Array, rng: jax.Array, beta=1.0, *,
         compute_dtype=F32) -> dict:
  """The ELBO's terms per example, nats [B] each:

    'elbo'           = -'reconstruction' - 'kl',
    'reconstruction' = -log p(x | z),  z ~ q(z | x) (one reparameterised
                       sample, Kingma and Welling 2014, eq. 10),
    'kl'             = KL(q(z|x) || p(z)) in closed form for the plain VAE
                       (their appendix B); with a flow posterior or prior
                       the one-sample estimate log q_K(z_K|x) - log p(z_K)
                       at the same z_K (no closed form exists),
    'beta_elbo'      = -'reconstruction' - β 'kl' (Higgins et al. 2017,
                       eq. 4).

  Args:
    x: float [B, H, W, C] in model space (preprocessed).
    rng: the key of the posterior sample.
    beta: β, a float or a traced scalar (KL warm-up, `kl_weight`).

  Raises:
    ValueError: x not a floating [B, *net.image_shape] array.

  References:
    Kingma and Welling 2014, eq. 3 and 10, appendix B; Higgins et al. 2017,
      eq. 4; Rezende and Mohamed 2015, eq. 15.
  """
  _check_x("elbo", net, x)
  if net.posterior_flow == "none" and net.prior_flow == "none":
    mean, log_scale = encode(net, params, x, compute_dtype=compute_dtype)
    z = estimators.reparameterize(rng, mean, log_scale)
    reconstruction = -log_likelihood(net, params, z, x,
                                     compute_dtype=compute_dtype)
    kl = distributions.kl_divergence_diagonal_gaussian(mean, log_scale)
  else:
    post = sample_posterior(net, params, x, rng, compute_dtype=compute_dtype)
    reconstruction = -log_likelihood(net, params, post["z"], x,
                                     compute_dtype=compute_dtype)
    kl = post["log_q"] - prior_log_prob(net, params, post["z"])
  return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
          "kl": kl, "beta_elbo": -reconstruction - beta * kl}


def _log_weights(net, params, x, encoding, rng, k, *, compute_dtype):
  """log p(x, z_k) - log q(z_k|x) for k fresh samples: [k, B]."""
  mean, log_scale, context = encoding
  z0 = estimators.reparameterize(rng, mean, log_scale, k)       # [K, B, D]
  z, log_qz = posterior_log_density(net, params, mean, log_scale, context, z0)
  flat_z, xk = repeat_for_samples(z, x)
  log_px_z = log_likelihood(net, params, flat_z, xk,
                            compute_dtype=compute_dtype).reshape(k, -1)
  if net.prior_flow == "none":
    log_pz = jnp.sum(distributions.standard_normal_log_prob(z), -1)
  else:
    log_pz = prior_log_prob(net, params, flat_z).reshape(k, -1)
  return log_px_z + log_pz - log_qz                               # [K, B]


def repeat_for_samples(z: jax.Array, x: jax.Array):
  """Flattens K samples per example for one decoder pass: z [K, B, ...] ->
  [K B, ...] and x [B, ...] -> its K copies [K B, ...] (sample-major)."""
  k, b = z.shape[:2]
  xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
  return z.reshape((k * b,) + z.shape[2:]), xk


def check_num_samples(fn: str, k, chunk_size) -> None:
  """K (and the chunk size, if given) are positive Python ints.

  Raises:
    ValueError: naming `fn` and the argument.
  """
  checks.check_positive_int(fn, "k", k)
  if chunk_size is not None:
    checks.check_positive_int(fn, "chunk_size", chunk_size)


def importance_log_weights(net: VAENet, params, x: jax.Array, rng: jax.Array,
                           k: int, chunk_size: int | None = None, *,
                           compute_dtype=F32) -> jax.Array:
  """log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x), z_k ~ q(z|x):
  [K, B], nats.

  With a flow posterior z_k is the flow's output z_K and q its density
  q_K; with a flow prior p(z_k) is the flow prior's density. With
  `chunk_size` the samples are drawn and decoded `chunk_size` at a time (a
  sequential `lax.map`, `estimators.chunked_log_weights`), so memory is
  O(chunk_size · B) for any K.

  Raises:
    ValueError: x not a floating [B, *net.image_shape] array, k or
      chunk_size not a positive int, K not a multiple of chunk_size.

  References:
    Burda, Grosse and Salakhutdinov 2016, eq. 8.
  """
  _check_x("importance_log_weights", net, x)
  check_num_samples("vae.importance_log_weights", k, chunk_size)
  encoding = encode_posterior(net, params, x, compute_dtype=compute_dtype)
  log_weights = functools.partial(_log_weights, net, params, x, encoding,
                                  compute_dtype=compute_dtype)
  return estimators.chunked_log_weights(log_weights, rng, k, chunk_size,
                                        fn="vae.importance_log_weights")


def iwae_bound(net: VAENet, params, x: jax.Array, rng: jax.Array, k: int,
               chunk_size: int | None = None, *, compute_dtype=F32
               ) -> jax.Array:
  """L_K(x) = log (1/K) Σ_k w_k <= log p(x), nats [B] (Burda et al. 2016,
  eq. 8); -L_K with K = 1000 is the test NLL (their sec. 5.1).

  Raises:
    ValueError: as `importance_log_weights`.
  """
  return estimators.iwae_bound(importance_log_weights(
      net, params, x, rng, k, chunk_size, compute_dtype=compute_dtype))


def kl_weight(step, *, beta: float = 1.0, warmup_steps: int = 0) -> jax.Array:
  """β(t) = β min(1, (t + 1) / T) with T = warmup_steps, or β if T = 0: the
  linear KL warm-up of Sønderby et al. 2016 (sec. 2.3), step t from 0.

  Args:
    step: int scalar (may be traced).

  Returns:
    float32 scalar.
  """
  if not warmup_steps:
    return jnp.asarray(beta, F32)
  frac = jnp.minimum(1.0, (step + 1) / warmup_steps)
  return beta * frac.astype(F32)


def loss(net: VAENet, params, x: jax.Array, rng: jax.Array, step, *,
         objective: str = "elbo", beta: float = 1.0, kl_warmup_steps: int = 0,
         num_samples: int = 1, compute_dtype=F32) -> tuple[jax.Array, dict]:
  """The training loss (params, x, rng, step) -> (loss, aux) of
  `core.steps.gradient_step`:

    'elbo': loss = -mean_B['beta_elbo'] with β = kl_weight(step), aux the
            batch means of 'elbo', 'reconstruction', 'kl', and 'beta';
    'iwae': loss = -mean_B L_K(x), K = num_samples, aux {'iwae_bound',
            'beta'}.
  """
  b = kl_weight(step, beta=beta, warmup_steps=kl_warmup_steps)
  if objective == "iwae":
    bound = jnp.mean(iwae_bound(net, params, x, rng, num_samples,
                                compute_dtype=compute_dtype))
    return -bound, {"iwae_bound": bound, "beta": b}
  terms = elbo(net, params, x, rng, b, compute_dtype=compute_dtype)
  aux = {k: jnp.mean(terms[k]) for k in ("elbo", "reconstruction", "kl")}
  return -jnp.mean(terms["beta_elbo"]), {**aux, "beta": b}


# ------------------------------------------------------ evaluation


def preprocess(net: VAENet, pre: Preprocessing, rng: jax.Array, batch: dict,
               *, fn: str = "preprocess", family: str = "vae") -> jax.Array:
  """Checks a host batch (batch['image'] uint8 [B, *image_shape]; other
  keys, e.g. the evaluator's 'mask', are ignored) and preprocesses it with
  `rng`: float32 [B, H, W, C] in model space.

  Raises:
    ValueError: no 'image' key, or an image batch that does not fit.
  """
  checks.check_batch(f"{family}.{fn}", batch, "image", net.image_shape,
                     "numeric")
  return pre.apply(rng, batch["image"])


def elbo_metrics(terms: dict, num_dims: int,
                 nats_offset_per_dim: float = 0.0) -> dict:
  """{'elbo', 'reconstruction', 'kl': [B] nats, 'elbo_bits_per_dim': [B]}
  from an ELBO's terms (`distributions.bits_per_dim` of -ELBO)."""
  return {"elbo": terms["elbo"], "reconstruction": terms["reconstruction"],
          "kl": terms["kl"], "elbo_bits_per_dim": distributions.bits_per_dim(
              -terms["elbo"], num_dims, nats_offset_per_dim)}


def final_metrics(terms: dict, nll: jax.Array, num_dims: int,
                  nats_offset_per_dim: float = 0.0) -> dict:
  """{'elbo', 'kl', 'elbo_bits_per_dim', 'nll', 'bits_per_dim'}, [B] each,
  from an ELBO's terms and an NLL estimate (nats)."""
  bpd = functools.partial(distributions.bits_per_dim, num_dims=num_dims,
                          nats_offset_per_dim=nats_offset_per_dim)
  return {"elbo": terms["elbo"], "kl": terms["kl"],
          "elbo_bits_per_dim": bpd(-terms["elbo"]), "nll": nll,
          "bits_per_dim": bpd(nll)}


def evaluate(net: VAENet, pre: Preprocessing, params, batch: dict,
             rng: jax.Array, *, compute_dtype=F32) -> dict:
  """Per-example validation metrics of a host batch: the one-sample ELBO's
  terms (nats) and its bits/dim, [B] each (`elbo_metrics`)."""
  pre_rng, z_rng = jax.random.split(rng)
  x = preprocess(net, pre, pre_rng, batch, fn="evaluate")
  terms = elbo(net, params, x, z_rng, compute_dtype=compute_dtype)
  return elbo_metrics(terms, math.prod(net.image_shape),
                      pre.nats_offset_per_dim)


def evaluate_final(net: VAENet, pre: Preprocessing, params, batch: dict,
                   rng: jax.Array, *, num_samples: int = 1000,
                   chunk_size: int | None = 100, compute_dtype=F32) -> dict:
  """Per-example test metrics: the ELBO, the test NLL -L_K (K =
  num_samples, Burda et al. 2016, sec. 5.1) and their bits/dim (the module
  docstring's Jacobian offset for dequantised data), [B] each."""
  pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
  x = preprocess(net, pre, pre_rng, batch, fn="evaluate_final")
  terms = elbo(net, params, x, z_rng, compute_dtype=compute_dtype)
  nll = -iwae_bound(net, params, x, w_rng, num_samples, chunk_size,
                    compute_dtype=compute_dtype)
  return final_metrics(terms, nll, math.prod(net.image_shape),
                       pre.nats_offset_per_dim)


# ------------------------------------------------------ pictures


def decode_mean(net: VAENet, params, z: jax.Array, *,
                to_unit: Callable = lambda v: v, compute_dtype=F32
                ) -> jax.Array:
  """The decoder's mean in [0, 1]: σ(logits) (Bernoulli) or to_unit(mean)
  (Gaussian; `Preprocessing.to_unit`): z [N, D] -> [N, H, W, C]."""
  loc, _ = decode(net, params, z, compute_dtype=compute_dtype)
  return jax.nn.sigmoid(loc) if net.likelihood == "bernoulli" else to_unit(loc)


def sample(net: VAENet, params, rng: jax.Array, n: int, *,
           to_unit: Callable = lambda v: v, compute_dtype=F32) -> jax.Array:
  """Decoded means of z ~ p(z): [n, H, W, C] in [0, 1].

  Raises:
    ValueError: n not a positive int.
  """
  checks.check_positive_int("vae.sample", "n", n)
  if net.prior_flow == "none":
    z = jax.random.normal(rng, (n, net.latent_dim))
  else:
    z = sample_prior(net, params, rng, n)
  return decode_mean(net, params, z, to_unit=to_unit,
                     compute_dtype=compute_dtype)


def posterior_point(net: VAENet, params, x: jax.Array, *,
                    compute_dtype=F32) -> jax.Array:
  """z_K of the posterior mean z_0 = μ(x) (μ itself without a flow): [B, D]."""
  mean, _, context = encode_posterior(net, params, x,
                                      compute_dtype=compute_dtype)
  if net.posterior_flow == "none":
    return mean
  return transform_posterior(net, params, mean, context)[0]


def reconstruct(net: VAENet, params, x: jax.Array, *,
                to_unit: Callable = lambda v: v, compute_dtype=F32
                ) -> jax.Array:
  """Decoded mean of the posterior point: [B, H, W, C] in [0, 1]."""
  return decode_mean(net, params, posterior_point(
      net, params, x, compute_dtype=compute_dtype), to_unit=to_unit,
                     compute_dtype=compute_dtype)


def interpolate(net: VAENet, params, x_a: jax.Array, x_b: jax.Array,
                steps: int = 10, *, to_unit: Callable = lambda v: v,
                compute_dtype=F32) -> jax.Array:
  """Decodes the posterior points of x_a and x_b [H, W, C] and `steps`
  points on the line between them: [steps, H, W, C]. With a flow posterior
  the end points are the flow's images f(μ) of the means; with a flow prior
  the line runs in the prior's base space, ε = g(z), and maps back."""
  z = posterior_point(net, params, jnp.stack([x_a, x_b]),
                      compute_dtype=compute_dtype)
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  if net.prior_flow == "none":
    line = (1 - t) * z[0] + t * z[1]
  else:
    eps = prior_to_base(net, params, z)[0]
    line = prior_from_base(net, params, (1 - t) * eps[0] + t * eps[1])[0]
  return decode_mean(net, params, line, to_unit=to_unit,
                     compute_dtype=compute_dtype)


def manifold(net: VAENet, params, grid: int = 20, *,
             to_unit: Callable = lambda v: v, compute_dtype=F32) -> jax.Array:
  """Decodes a grid x grid lattice of standard-normal quantiles
  ppf((i + 0.5) / grid), i = 0..grid-1 (z1 left to right, z2 bottom to top;
  the practical's manifold plot): [grid², H, W, C]. With a flow prior the
  lattice is mapped through z = g^{-1}(ε).

  Raises:
    ValueError: latent_dim != 2.
  """
  if net.latent_dim != 2:
    raise ValueError(f"the manifold plot needs latent_dim == 2; got {net.latent_dim}.")
  q = jax.scipy.special.ndtri((jnp.arange(grid) + 0.5) / grid)
  zz = jnp.stack(jnp.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
  if net.prior_flow != "none":
    zz = prior_from_base(net, params, zz)[0]
  return decode_mean(net, params, zz, to_unit=to_unit,
                     compute_dtype=compute_dtype)


def images(net: VAENet, pre: Preprocessing, params, batch: dict,
           rng: jax.Array, *, compute_dtype=F32) -> dict:
  """Pictures for one evaluation, [N, H, W, C] in [0, 1]: 64 samples, the
  first 32 (an even number of) examples then their reconstructions, four
  10-step interpolations, and the manifold for a 2-D latent."""
  pre_rng, s_rng = jax.random.split(rng)
  x = pre.apply(pre_rng, batch["image"][:32])
  x = x[:x.shape[0] // 2 * 2]
  kw = {"to_unit": pre.to_unit, "compute_dtype": compute_dtype}
  out = {"samples": sample(net, params, s_rng, 64, **kw),
         "reconstructions": jnp.concatenate(
             [pre.to_unit(x), reconstruct(net, params, x, **kw)]),
         "interpolations": jnp.concatenate(
             [interpolate(net, params, x[2 * i], x[2 * i + 1], **kw)
              for i in range(4)])}
  if net.latent_dim == 2:
    out["manifold"] = manifold(net, params, **kw)
  return out


def protocol(net: VAENet, pre: Preprocessing, *, objective: str,
             eval_num_samples: int) -> dict:
  """How the final metrics were computed (for final_metrics.json)."""
  def flow(kind, steps_):
    return kind + ("" if kind == "none" else f" x{steps_}")
  closed_form = net.posterior_flow == "none" and net.prior_flow == "none"
  return {"model": "vae", "architecture": net.architecture,
          "likelihood": net.likelihood, "objective": objective,
          "latent_dim": net.latent_dim, "preprocessing": pre.description,
          "posterior_flow": flow(net.posterior_flow, net.posterior_flow_steps),
          "prior_flow": flow(net.prior_flow, net.prior_flow_steps),
          "kl": ("closed form" if closed_form
                 else "Monte Carlo, 1 sample: log q_K(z_K|x) - log p(z_K)"),
          "nll_estimator": "importance sampling (IWAE bound)",
          "nll_num_samples": eval_num_samples,
          "bits_per_dim": "nll / (D ln 2)" + (
              "" if pre.binary else f" + {pre.nats_offset_per_dim:.4f}/ln 2 "
              "(Jacobian to the 8-bit grid)")}


def init(net: nn.Module, tx: optax.GradientTransformation, rng: jax.Array,
         batch: Any = None, *, latent_shape: Sequence[int] | None = None
         ) -> TrainState:
  """Parameters from `net.init(rng, zeros x [1, H, W, C], zeros z)` and the
  optimiser state: TrainState(step 0, rng). `latent_shape` is z's
  per-example shape (default (latent_dim,)); `batch` is not used."""
  params_rng, state_rng = jax.random.split(rng)
  z_shape = tuple(latent_shape or (net.latent_dim,))
  params = net.init(params_rng, jnp.zeros((1,) + tuple(net.image_shape), F32),
                    jnp.zeros((1,) + z_shape, F32))
  return TrainState.create(state_rng, params, tx.init(params))


# ------------------------------------------------------ config and make


def validate_config(mc, binary_data: bool | None = None) -> None:
  """Raises ValueError naming the field for any invalid model setting (and,
  given `binary_data`, a likelihood that does not fit the data)."""
  post, prior = _flow_field(mc, "posterior_flow"), _flow_field(mc, "prior_flow")
  post_steps, prior_steps = (_flow_field(mc, "posterior_flow_steps"),
                             _flow_field(mc, "prior_flow_steps"))
  ctx, hid = (_flow_field(mc, "posterior_context_dim"),
              tuple(_flow_field(mc, "posterior_flow_hidden")))
  prior_hid = _flow_field(mc, "prior_flow_hidden")
  needs_ctx = post == "iaf" or (post == "planar" and _flow_field(
      mc, "posterior_flow_amortized"))
  rules = (
      (mc.architecture in ARCHITECTURES, f"model.architecture must be one of "
       f"{ARCHITECTURES}; got '{mc.architecture}'."),
      (mc.likelihood in LIKELIHOODS, f"model.likelihood must be one of "
       f"{LIKELIHOODS}; got '{mc.likelihood}'."),
      (mc.objective in OBJECTIVES, f"model.objective must be one of "
       f"{OBJECTIVES}; got '{mc.objective}'."),
      *at_least(mc, latent_dim=1, beta=0, kl_warmup_steps=0, num_samples=1),
      *sample_count_rules(mc),
      (mc.fixed_scale > 0, f"model.fixed_scale must be > 0; got {mc.fixed_scale}."),
      (not (mc.objective == "iwae" and (mc.beta != 1.0 or mc.kl_warmup_steps)),
       "model.objective='iwae' has no separate KL term: set model.beta=1 and "
       f"model.kl_warmup_steps=0 (got {mc.beta}, {mc.kl_warmup_steps})."),
      (post in POSTERIOR_FLOWS, f"model.posterior_flow must be one of "
       f"{POSTERIOR_FLOWS}; got '{post}'."),
      (prior in PRIOR_FLOWS,
       f"model.prior_flow must be one of {PRIOR_FLOWS}; got '{prior}'."),
      (post == "none" or post_steps >= 1,
       f"model.posterior_flow_steps must be >= 1; got {post_steps}."),
      (not needs_ctx or ctx >= 1, "model.posterior_context_dim must be >= 1 "
       f"for an amortised flow posterior; got {ctx}."),
      (post != "iaf" or (len(hid) >= 1 and all(h >= 1 for h in hid)),
       f"model.posterior_flow_hidden needs >= 1 layer of sizes >= 1; got {hid}."),
      (prior == "none" or prior_steps >= 1,
       f"model.prior_flow_steps must be >= 1; got {prior_steps}."),
      (prior == "none" or prior_hid >= 1,
       f"model.prior_flow_hidden must be >= 1; got {prior_hid}."),
      (not (prior == "realnvp" and mc.latent_dim < 2),
       "model.prior_flow='realnvp' couples halves of z: it needs "
       f"model.latent_dim >= 2; got {mc.latent_dim}."),
      (binary_data is None or mc.likelihood != "bernoulli" or binary_data,
       "model.likelihood='bernoulli' needs binarised data "
       "(data.binarization='dynamic' or 'static')."),
      (binary_data is None or mc.likelihood != "gaussian" or not binary_data,
       "model.likelihood='gaussian' needs continuous data: set "
       "data.binarization='none' (and data.dequantization='uniform')."),
  )
  raise_first_failure(rules)


def at_least(mc, **bounds) -> list[tuple[bool, str]]:
  """Validation rules 'model.<field> must be >= <bound>; got <value>.'"""
  return [(getattr(mc, k) >= b, f"model.{k} must be >= {b}; got "
           f"{getattr(mc, k)}.") for k, b in bounds.items()]


def sample_count_rules(mc) -> list[tuple[bool, str]]:
  """The rules every latent-variable family shares: positive hidden sizes,
  eval_num_samples >= 1, and a multiple of eval_chunk_size."""
  return [
      (all(h >= 1 for h in mc.hidden),
       f"model.hidden sizes must be >= 1; got {mc.hidden}."),
      *at_least(mc, eval_num_samples=1),
      (mc.eval_chunk_size >= 1 and mc.eval_num_samples % mc.eval_chunk_size == 0,
       f"model.eval_num_samples ({mc.eval_num_samples}) must be a multiple "
       f"of model.eval_chunk_size ({mc.eval_chunk_size})."),
  ]


def raise_first_failure(rules) -> None:
  """Raises ValueError(message) for the first (ok, message) with ok False."""
  message = next((m for ok, m in rules if not ok), None)
  if message is not None:
    raise ValueError(message)


def setup(config, dataset_info: dict, validate: Callable,
          build: Callable) -> tuple[Preprocessing, nn.Module,
                                    optax.GradientTransformation]:
  """The pieces a VAE-like family's `make` wires: the preprocessing of
  `config.data`, `validate(config.model, binary_data)` (raises ValueError
  naming the field), the network `build(config.model, shape)` and the
  optax chain of `config.optimizer`."""
  pre = make_preprocessing(config.data.binarization, config.data.dequantization,
                           config.data.value_range)
  validate(config.model, pre.binary)
  net = build(config.model, dataset_info["shape"])
  return pre, net, make_optimizer(config.optimizer, config.train.num_steps)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VAE(base.Model):
  """The model interface (models/base.py) plus the VAE's own functions: the
  module-level functions of the same names with `net` and the config's
  hyperparameters bound (params from `state.params`, x in model space, i.e.
  preprocessed, float [B, H, W, C]):

    elbo(params, x, rng, beta=1.) -> {'elbo', 'reconstruction', 'kl',
        'beta_elbo'}: [B]
    importance_log_weights(params, x, rng, K, chunk_size=None) -> [K, B]
    iwae_bound(params, x, rng, K, chunk_size=None) -> [B]
    encode(params, x) -> (mean, log_scale): [B, latent_dim] each
    decode_mean(params, z) -> [N, H, W, C] in [0, 1]
    reconstruct(params, x) -> [B, H, W, C] in [0, 1]
    interpolate(params, x_a, x_b, steps) -> [steps, H, W, C]
    manifold(params, grid) -> [grid*grid, H, W, C] (latent_dim == 2 only)
    encode_posterior, transform_posterior, sample_posterior(params, x, rng,
        k=None), prior_log_prob, prior_to_base, prior_from_base,
        sample_prior(params, rng, n)
  """
  preprocessing: Preprocessing
  net: VAENet
  elbo: Callable
  importance_log_weights: Callable
  iwae_bound: Callable
  encode: Callable
  decode_mean: Callable
  reconstruct: Callable
  interpolate: Callable
  manifold: Callable
  encode_posterior: Callable
  transform_posterior: Callable
  sample_posterior: Callable
  prior_log_prob: Callable
  prior_to_base: Callable
  prior_from_base: Callable
  sample_prior: Callable
  supports_bfloat16: bool = True


def make(config, dataset_info: dict) -> VAE:
  """Builds the VAE family's functions from `config` (module docstring).

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps, .train.compute_dtype).
    dataset_info: {'shape': (H, W, C), ...} from the data set.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  pre, net, tx = setup(config, dataset_info, validate_config, build_networks)
  dtype = {"compute_dtype": precision.compute_dtype(config)}
  pics = {"to_unit": pre.to_unit, **dtype}
  bind = functools.partial
  loss_fn = bind(loss, net, objective=mc.objective, beta=mc.beta,
                 kl_warmup_steps=mc.kl_warmup_steps,
                 num_samples=mc.num_samples, **dtype)
  return VAE(
      init=bind(init, net, tx),
      train_step=steps.gradient_step(
          loss_fn, tx, bind(preprocess, net, pre, fn="train_step")),
      evaluate=bind(evaluate, net, pre, **dtype),
      evaluate_final=bind(evaluate_final, net, pre,
                          num_samples=mc.eval_num_samples,
                          chunk_size=mc.eval_chunk_size, **dtype),
      sample=bind(sample, net, **pics),
      images=bind(images, net, pre, **dtype),
      protocol=bind(protocol, net, pre, objective=mc.objective,
                    eval_num_samples=mc.eval_num_samples),
      preprocessing=pre, net=net,
      elbo=bind(elbo, net, **dtype),
      importance_log_weights=bind(importance_log_weights, net, **dtype),
      iwae_bound=bind(iwae_bound, net, **dtype),
      encode=bind(encode, net, **dtype),
      decode_mean=bind(decode_mean, net, **pics),
      reconstruct=bind(reconstruct, net, **pics),
      interpolate=bind(interpolate, net, **pics),
      manifold=bind(manifold, net, **pics),
      encode_posterior=bind(encode_posterior, net, **dtype),
      transform_posterior=bind(transform_posterior, net),
      sample_posterior=bind(sample_posterior, net, **dtype),
      prior_log_prob=bind(prior_log_prob, net),
      prior_to_base=bind(prior_to_base, net),
      prior_from_base=bind(prior_from_base, net),
      sample_prior=bind(sample_prior, net))

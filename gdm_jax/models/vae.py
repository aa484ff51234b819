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
             that the encoder outputs next to μ and log σ;
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

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax import flows
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn import ConvDecoder
from gdm_jax.nn import ConvEncoder
from gdm_jax.nn import MLP
from gdm_jax.core import precision
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import apply_gradients
from gdm_jax.core.state import TrainState

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

# log(e - 1) = softplus^{-1}(1): shifts the planar flow's m so that m(0) = 0.
_LOG_E_MINUS_1 = math.log(math.e - 1.0)
# Smallest 1 + wᵀû of a planar step (see planar_u_hat).
_PLANAR_FLOOR = 1e-6


def _flow_field(mc, name):
  return mc.get(name, FLOW_DEFAULTS[name]) if hasattr(mc, "get") else getattr(
      mc, name, FLOW_DEFAULTS[name])


# ------------------------------------------------------ posterior flows


def planar_u_hat(u: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Rezende and Mohamed's û, which makes the planar map invertible.

    û = u + (m(wᵀu) - wᵀu) w / ‖w‖²,  m(a) = -1 + softplus(a + log(e - 1)),

  so wᵀû = m(wᵀu) > -1 for every u, w (appendix A.1). The paper's m is
  -1 + softplus(a); the shift by log(e - 1) = softplus^{-1}(1) makes m(0) = 0,
  so u = 0 gives û = 0 and the planar map is the identity (the paper's m
  gives û = -0.31 w / ‖w‖² at u = 0). Both m are increasing bijections of R
  onto (-1, inf).

  Args:
    u, w: float [..., D].

  Returns:
    (û [..., D], 1 + wᵀû = max(softplus(wᵀu + log(e - 1)), 1e-6) [...]).
    The second is exact (and floored at 1e-6, so wᵀû >= -1 + 1e-6 in float32
    too), while wᵀû recomputed from û in float32 can fall below -1 by
    rounding when wᵀu << 0 (e.g. -1.000006), so log-dets use it.
  """
  wu = jnp.sum(w * u, -1, keepdims=True)
  # 1 + m(wᵀu) > 0; the floor keeps it > 0 in float32, where softplus
  # underflows to 0 for wᵀu < -104.
  sp = jnp.maximum(jax.nn.softplus(wu + _LOG_E_MINUS_1), _PLANAR_FLOOR)
  u_hat = u + (sp - 1.0 - wu) * w / (jnp.sum(w * w, -1, keepdims=True) + 1e-12)
  return u_hat, sp[..., 0]


def planar_forward(z: jax.Array, u: jax.Array, w: jax.Array,
                   b: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One planar step f(z) = z + û h(wᵀz + b), h = tanh, per example.

    log|det ∂f/∂z| = log|1 + ûᵀψ(z)|,  ψ(z) = h'(wᵀz + b) w
                   = log(1 + (wᵀû)(1 - tanh²))
                   = log(tanh² + (1 + wᵀû)(1 - tanh²))
  (Rezende and Mohamed 2015, eq. 10-12); the last form, with 1 + wᵀû =
  softplus(·) > 0 from `planar_u_hat`, is positive without cancellation.

  Args:
    z: float [N, D]; u, w: [N, D] (or broadcastable); b: [N] (or []).

  Returns:
    (f(z) [N, D], log_det [N]).
  """
  u_hat, one_plus_wu_hat = planar_u_hat(u, w)
  t = jnp.tanh(jnp.sum(w * z, -1) + b)                        # [N]
  t2 = t * t
  log_det = jnp.log(jnp.maximum(t2 + one_plus_wu_hat * (1.0 - t2), 1e-30))
  return z + t[..., None] * u_hat, log_det


class PlanarPosterior(nn.Module):
  """K planar steps z_k = z_{k-1} + û_k tanh(w_kᵀz_{k-1} + b_k).

  Amortised (the paper's choice): u_k, w_k, b_k are linear functions of the
  encoder's context h(x) [N, C], so each example has its own flow; global:
  one set of u_k, w_k, b_k shared by all examples. u and b start at 0, so the
  flow starts as the identity (see `planar_u_hat`); w starts random with
  ‖w‖ ~ 1.

  __call__(z [N, D], context [N, C]) -> (z_K [N, D], Σ_k log|det J_k| [N]).

  References:
    Rezende and Mohamed 2015, sec. 4.1 and eq. 13.
  """
  steps: int
  amortized: bool = True

  @nn.compact
  def __call__(self, z, context):
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
      z, ld = planar_forward(z, u[:, i], w[:, i], b[:, i])
      log_det = log_det + ld
    return z, log_det


class ContextMADE(nn.Module):
  """MADE with a context input: (z [N, D], h [N, C]) -> (m, s), [N, D] each.

  Output d depends on z_{d'} only for degrees m(d') < m(d) (masks from
  `flows.made_masks`) and on all of h, which enters the first hidden layer
  through an unmasked dense map (Kingma et al. 2016, sec. 4: the
  autoregressive NN takes h as an extra input). The output layer is
  zero-initialised, so at init m = 0 and s = gate_bias.

  Attributes:
    hidden: hidden sizes (>= D - 1 each for full connectivity).
    reverse: degree order D..1 instead of 1..D.
    gate_bias: constant added to s (the "forget gate bias", sec. 4).

  References:
    Germain et al. 2015, "MADE", sec. 4; Kingma et al. 2016, sec. 4.
  """
  hidden: Sequence[int]
  reverse: bool = False
  gate_bias: float = 2.0

  @nn.compact
  def __call__(self, z, context):
    d = z.shape[-1]
    masks = flows.made_masks(d, self.hidden, self.reverse)
    x = flows.MaskedDense(self.hidden[0], masks[0], name="masked_0")(z)
    x = nn.elu(x + nn.Dense(self.hidden[0], use_bias=False,
                            name="context")(context))
    for i, (f, m) in enumerate(zip(self.hidden[1:], masks[1:-1]), start=1):
      x = nn.elu(flows.MaskedDense(f, m, name=f"masked_{i}")(x))
    out = flows.MaskedDense(2 * d, np.tile(masks[-1], (1, 2)),
                            kernel_init=nn.initializers.zeros,
                            name="masked_out")(x)
    return out[:, :d], out[:, d:] + self.gate_bias


class IAFPosterior(nn.Module):
  """K IAF steps with the numerically stable gated update (Kingma et al.
  2016, eq. 14 and algorithm 1):

    (m_k, s_k) = MADE_k(z_{k-1}, h),  σ_k = sigmoid(s_k),
    z_k = σ_k ⊙ z_{k-1} + (1 - σ_k) ⊙ m_k,
    log|det ∂z_k/∂z_{k-1}| = Σ_d log σ_{k,d}

  (the Jacobian is triangular in MADE_k's order with diagonal σ_k). The
  order alternates between steps (1..D, D..1, ...), which reverses z between
  consecutive steps. At init m = 0 and σ = sigmoid(gate_bias) (0.88 for 2):
  each step is the contraction z -> σ z.

  __call__(z [N, D], context [N, C]) -> (z_K [N, D], Σ_k log|det J_k| [N]).

  References:
    Kingma et al. 2016, "Improved Variational Inference with Inverse
      Autoregressive Flow", eq. 10-14, algorithm 1.
  """
  steps: int
  hidden: Sequence[int] = (320, 320)
  gate_bias: float = 2.0

  @nn.compact
  def __call__(self, z, context):
    log_det = jnp.zeros(z.shape[:1], z.dtype)
    for k in range(self.steps):
      m, s = ContextMADE(tuple(self.hidden), reverse=k % 2 == 1,
                         gate_bias=self.gate_bias, name=f"made_{k}")(z, context)
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
    if self.architecture == "mlp":
      x = x.reshape(x.shape[0], -1)
    out = self.encoder(x)
    d = self.latent_dim
    return out[:, :d], out[:, d:2 * d], out[:, 2 * d:]

  def encode(self, x):
    mean, log_scale, _ = self.encode_with_context(x)
    return mean, log_scale

  def transform_posterior(self, z, context):
    if self.posterior_flow == "none":
      return z, jnp.zeros(z.shape[:1], z.dtype)
    return self.posterior(z, context)

  def prior_to_base(self, z):
    if self.prior_flow == "none":
      return z, jnp.zeros(z.shape[:1], z.dtype)
    return self.prior.forward(z)

  def prior_from_base(self, eps):
    if self.prior_flow == "none":
      return eps, jnp.zeros(eps.shape[:1], eps.dtype)
    return self.prior.inverse(eps)

  def decode(self, z):
    loc = self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))
    if self.likelihood == "bernoulli":
      return loc, None
    if self.learn_scale:
      return loc, self.decoder_log_scale
    return loc, jnp.full(self.image_shape, math.log(self.fixed_scale))

  def __call__(self, x, z):
    mean, log_scale, context = self.encode_with_context(x)
    z_k, _ = self.transform_posterior(z, context)
    self.prior_to_base(z_k)
    return (mean, log_scale), self.decode(z_k)


class VAE(NamedTuple):
  """The model interface (see models/base.py) plus the VAE's own functions.

  Extra pure functions (params from `state.params`, x in model space, i.e.
  already preprocessed, float [B, H, W, C]):
    elbo(params, x, rng, beta=1.) -> {'elbo', 'reconstruction', 'kl'}: [B]
    importance_log_weights(params, x, rng, K) -> [K, B]
    iwae_bound(params, x, rng, K) -> [B]
    encode(params, x) -> (mean, log_scale): [B, latent_dim] each
    decode_mean(params, z) -> [N, H, W, C] in [0, 1]
    reconstruct(params, x) -> [B, H, W, C] in [0, 1]
    interpolate(params, x_a, x_b, steps) -> [steps, H, W, C]
    manifold(params, grid) -> [grid*grid, H, W, C] (latent_dim == 2 only)
  and the latent-space functions (identities/Gaussians without flows):
    encode_posterior(params, x) -> (mean, log_scale, context): [B, D] x 2,
        [B, C]
    transform_posterior(params, z_0, context) -> (z_K, Σ_k log|det J_k|):
        [N, D], [N]
    sample_posterior(params, x, rng, k=None) -> {'z0', 'z', 'log_q'}:
        z_0 ~ q_0, z = z_K and log q_K(z_K|x); [B, D], [B, D], [B], or with
        a leading K axis when k is given
    prior_log_prob(params, z) -> log p(z) [N]
    prior_to_base(params, z) -> (ε = g(z), log|det ∂g/∂z|): [N, D], [N]
    prior_from_base(params, ε) -> (z = g^{-1}(ε), log|det ∂g^{-1}/∂ε|)
    sample_prior(params, rng, n) -> z ~ p(z), [n, D]
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
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


def validate_config(mc) -> None:
  """Raises ValueError with the field name for any invalid model setting."""
  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  check(mc.architecture in ARCHITECTURES,
        f"model.architecture must be one of {ARCHITECTURES}; got '{mc.architecture}'.")
  check(mc.likelihood in LIKELIHOODS,
        f"model.likelihood must be one of {LIKELIHOODS}; got '{mc.likelihood}'.")
  check(mc.objective in OBJECTIVES,
        f"model.objective must be one of {OBJECTIVES}; got '{mc.objective}'.")
  check(mc.latent_dim >= 1, f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  check(all(h >= 1 for h in mc.hidden), f"model.hidden sizes must be >= 1; got {mc.hidden}.")
  check(mc.beta >= 0, f"model.beta must be >= 0; got {mc.beta}.")
  check(mc.kl_warmup_steps >= 0,
        f"model.kl_warmup_steps must be >= 0; got {mc.kl_warmup_steps}.")
  check(mc.num_samples >= 1, f"model.num_samples must be >= 1; got {mc.num_samples}.")
  check(mc.eval_num_samples >= 1,
        f"model.eval_num_samples must be >= 1; got {mc.eval_num_samples}.")
  check(mc.eval_num_samples % mc.eval_chunk_size == 0,
        f"model.eval_num_samples ({mc.eval_num_samples}) must be a multiple "
        f"of model.eval_chunk_size ({mc.eval_chunk_size}).")
  check(mc.fixed_scale > 0, f"model.fixed_scale must be > 0; got {mc.fixed_scale}.")
  check(not (mc.objective == "iwae" and (mc.beta != 1.0 or mc.kl_warmup_steps)),
        "model.objective='iwae' has no separate KL term: set model.beta=1 and "
        f"model.kl_warmup_steps=0 (got {mc.beta}, {mc.kl_warmup_steps}).")
  post, prior = _flow_field(mc, "posterior_flow"), _flow_field(mc, "prior_flow")
  check(post in POSTERIOR_FLOWS,
        f"model.posterior_flow must be one of {POSTERIOR_FLOWS}; got '{post}'.")
  check(prior in PRIOR_FLOWS,
        f"model.prior_flow must be one of {PRIOR_FLOWS}; got '{prior}'.")
  if post != "none":
    steps = _flow_field(mc, "posterior_flow_steps")
    check(steps >= 1, f"model.posterior_flow_steps must be >= 1; got {steps}.")
    if post == "iaf" or _flow_field(mc, "posterior_flow_amortized"):
      ctx = _flow_field(mc, "posterior_context_dim")
      check(ctx >= 1, f"model.posterior_context_dim must be >= 1 for an "
            f"amortised flow posterior; got {ctx}.")
  if post == "iaf":
    hid = tuple(_flow_field(mc, "posterior_flow_hidden"))
    check(len(hid) >= 1 and all(h >= 1 for h in hid),
          f"model.posterior_flow_hidden needs >= 1 layer of sizes >= 1; got {hid}.")
  if prior != "none":
    steps = _flow_field(mc, "prior_flow_steps")
    check(steps >= 1, f"model.prior_flow_steps must be >= 1; got {steps}.")
    hid = _flow_field(mc, "prior_flow_hidden")
    check(hid >= 1, f"model.prior_flow_hidden must be >= 1; got {hid}.")
  check(not (prior == "realnvp" and mc.latent_dim < 2),
        "model.prior_flow='realnvp' couples halves of z: it needs "
        f"model.latent_dim >= 2; got {mc.latent_dim}.")


def make(config, dataset_info: dict) -> VAE:
  """Builds the VAE family's functions from `config` (see module docstring).

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...} from the data set.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  validate_config(mc)
  pre = make_preprocessing(config.data.binarization, config.data.dequantization,
                           config.data.value_range)
  if mc.likelihood == "bernoulli" and not pre.binary:
    raise ValueError("model.likelihood='bernoulli' needs binarised data "
                     "(data.binarization='dynamic' or 'static').")
  if mc.likelihood == "gaussian" and pre.binary:
    raise ValueError("model.likelihood='gaussian' needs continuous data: set "
                     "data.binarization='none' (and data.dequantization="
                     "'uniform').")
  shape = tuple(dataset_info["shape"])
  num_dims = math.prod(shape)
  flow = {k: _flow_field(mc, k) for k in FLOW_DEFAULTS}
  posterior_flow, prior_flow = flow["posterior_flow"], flow["prior_flow"]
  uses_context = posterior_flow == "iaf" or (
      posterior_flow == "planar" and flow["posterior_flow_amortized"])
  # Without flows the KL has a closed form (the plain VAE's path).
  closed_form_kl = posterior_flow == "none" and prior_flow == "none"
  net = VAENet(shape, mc.latent_dim, mc.architecture, tuple(mc.hidden),
               tuple(mc.conv_channels), mc.conv_hidden, mc.likelihood,
               mc.learn_scale, mc.fixed_scale, posterior_flow,
               flow["posterior_flow_steps"], flow["posterior_flow_amortized"],
               flow["posterior_context_dim"] if uses_context else 0,
               tuple(flow["posterior_flow_hidden"]), flow["iaf_gate_bias"],
               prior_flow, flow["prior_flow_steps"], flow["prior_flow_hidden"])
  tx = make_optimizer(config.optimizer, config.train.num_steps)

  # Mixed precision (train.compute_dtype): the encoder and decoder networks
  # run in the compute dtype on cast parameters; flows, priors and every
  # log-density stay in float32 (gdm_jax/core/precision.py).
  dtype = precision.compute_dtype(config)

  def encode(params, x):
    return precision.apply_in(dtype, net.apply, params, x, method=VAENet.encode)

  def encode_posterior(params, x):
    return precision.apply_in(dtype, net.apply, params, x,
                              method=VAENet.encode_with_context)

  def transform_posterior(params, z0, context):
    return net.apply(params, z0, context, method=VAENet.transform_posterior)

  def prior_to_base(params, z):
    return net.apply(params, z, method=VAENet.prior_to_base)

  def prior_from_base(params, eps):
    return net.apply(params, eps, method=VAENet.prior_from_base)

  def prior_log_prob(params, z):
    """log p(z) = log N(g(z); 0, I) + log|det ∂g/∂z|: z [N, D] -> [N]."""
    eps, log_det = prior_to_base(params, z)
    return jnp.sum(distributions.standard_normal_log_prob(eps), -1) + log_det

  def sample_prior(params, rng, n):
    """z = g^{-1}(ε), ε ~ N(0, I): [n, D]."""
    eps = jax.random.normal(rng, (n, mc.latent_dim))
    return prior_from_base(params, eps)[0]

  def _posterior_given_encoding(params, mean, log_scale, context, z0):
    """z_K and log q_K(z_K|x) = log q_0(z_0|x) - Σ_k log|det J_k| for
    z0 [..., B, D] (any leading axes): ([..., B, D], [..., B])."""
    log_q0 = jnp.sum(distributions.gaussian_log_prob(z0, mean, log_scale), -1)
    if posterior_flow == "none":
      return z0, log_q0
    lead = z0.shape[:-1]
    n = math.prod(lead)
    ctx = jnp.broadcast_to(context, lead + context.shape[-1:])
    z, log_det = transform_posterior(params, z0.reshape(n, mc.latent_dim),
                                     ctx.reshape(n, context.shape[-1]))
    return z.reshape(z0.shape), log_q0 - log_det.reshape(lead)

  def sample_posterior(params, x, rng, k=None):
    """z_0 = μ + σ ε and z_K = f_K ∘ ... ∘ f_1(z_0), with log q_K(z_K|x)."""
    mean, log_scale, context = encode_posterior(params, x)
    z0 = estimators.reparameterize(rng, mean, log_scale, k)
    z, log_q = _posterior_given_encoding(params, mean, log_scale, context, z0)
    return {"z0": z0, "z": z, "log_q": log_q}

  def log_likelihood(params, z, x):
    """log p(x | z): z [N, D], x [N, H, W, C] -> [N]."""
    loc, log_scale = precision.apply_in(dtype, net.apply, params, z,
                                        method=VAENet.decode)
    if mc.likelihood == "bernoulli":
      ll = distributions.bernoulli_log_prob(loc, x)
    else:
      ll = distributions.gaussian_log_prob(x, loc, log_scale)
    return distributions.sum_except_batch(ll)

  def check_x(fn, x):
    checks.check_example_batch(f"vae.{fn}", "x", x, shape, "floating")

  def elbo(params, x, rng, beta=1.0):
    """ELBO terms per example [B], nats: 'elbo' = -'reconstruction' - 'kl'.

    Plain VAE: KL(q || p) in closed form. With a flow posterior or prior,
    one sample z_K ~ q_K(z|x) gives kl = log q_K(z_K|x) - log p(z_K), an
    unbiased estimate of KL(q_K || p), from the same z_K as the
    reconstruction term.
    """
    check_x("elbo", x)
    if closed_form_kl:
      mean, log_scale = encode(params, x)
      z = estimators.reparameterize(rng, mean, log_scale)
      reconstruction = -log_likelihood(params, z, x)
      kl = distributions.kl_divergence_diagonal_gaussian(mean, log_scale)
    else:
      post = sample_posterior(params, x, rng)
      reconstruction = -log_likelihood(params, post["z"], x)
      kl = post["log_q"] - prior_log_prob(params, post["z"])
    return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
            "kl": kl, "beta_elbo": -reconstruction - beta * kl}

  def _log_weights_given_posterior(params, x, rng, encoding, k):
    mean, log_scale, context = encoding
    z0 = estimators.reparameterize(rng, mean, log_scale, k)       # [K, B, D]
    z, log_qz = _posterior_given_encoding(params, mean, log_scale, context, z0)
    b = x.shape[0]
    xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
    log_px_z = log_likelihood(params, z.reshape(k * b, -1), xk).reshape(k, b)
    if prior_flow == "none":
      log_pz = jnp.sum(distributions.standard_normal_log_prob(z), -1)
    else:
      log_pz = prior_log_prob(params, z.reshape(k * b, -1)).reshape(k, b)
    return log_px_z + log_pz - log_qz                               # [K, B]

  def importance_log_weights(params, x, rng, k, chunk_size=None):
    """log w_k = log p(x, z_k) - log q(z_k | x) for K samples: [K, B].

    With a flow posterior, z_k is the flow's output z_K and q its density
    q_K; with a flow prior, p(z_k) is the flow prior's density.

    With `chunk_size`, samples are drawn and decoded `chunk_size` at a time
    (a sequential `lax.map`), so memory is O(chunk_size * B) for any K.
    """
    check_x("importance_log_weights", x)
    checks.check_positive_int("vae.importance_log_weights", "k", k)
    if chunk_size is not None and chunk_size < k and k % chunk_size:
      raise ValueError(f"importance_log_weights: K={k} is not a multiple of "
                       f"chunk_size={chunk_size}.")
    encoding = encode_posterior(params, x)
    if chunk_size is None or chunk_size >= k:
      return _log_weights_given_posterior(params, x, rng, encoding, k)
    keys = jax.random.split(rng, k // chunk_size)
    chunks = jax.lax.map(lambda r: _log_weights_given_posterior(
        params, x, r, encoding, chunk_size), keys)
    return chunks.reshape(k, x.shape[0])

  def iwae_bound(params, x, rng, k, chunk_size=None):
    return estimators.iwae_bound(
        importance_log_weights(params, x, rng, k, chunk_size))

  def loss_fn(params, x, rng, beta):
    if mc.objective == "iwae":
      bound = iwae_bound(params, x, rng, mc.num_samples)
      return -jnp.mean(bound), {"iwae_bound": jnp.mean(bound)}
    terms = elbo(params, x, rng, beta)
    aux = {k: jnp.mean(terms[k]) for k in ("elbo", "reconstruction", "kl")}
    return -jnp.mean(terms["beta_elbo"]), aux

  def init(rng, batch):
    params_rng, state_rng = jax.random.split(rng)
    x = jnp.zeros((1,) + shape, jnp.float32)
    params = net.init(params_rng, x, jnp.zeros((1, mc.latent_dim)))
    return TrainState.create(state_rng, params, tx.init(params))

  def beta_at(step):
    if not mc.kl_warmup_steps:
      return jnp.asarray(mc.beta, jnp.float32)
    frac = jnp.minimum(1.0, (step + 1) / mc.kl_warmup_steps)
    return mc.beta * frac.astype(jnp.float32)

  def check_batch(fn, batch):
    """The batch fits the data set the model was built for (trace time)."""
    checks.check_batch(f"vae.{fn}", batch, "image", shape, "numeric")

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    beta = beta_at(state.step)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, x, z_rng, beta)
    state = apply_gradients(state, grads, tx)
    return state, {"loss": loss, "beta": beta,
                   "grad_norm": optax.global_norm(grads), **aux}

  def _bits(nats_per_example):
    """Per-example NLL in nats -> bits/dim on the (8-bit or binary) data:
    (nats / D + nats_offset_per_dim) / ln 2, the offset being log 256 for
    dequantised [0, 1] data and 0 for binary data (module docstring)."""
    return (nats_per_example / num_dims + pre.nats_offset_per_dim) / math.log(2)

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo(params, x, z_rng)
    return {"elbo": terms["elbo"], "reconstruction": terms["reconstruction"],
            "kl": terms["kl"], "elbo_bits_per_dim": _bits(-terms["elbo"])}

  def evaluate_final(params, batch, rng):
    check_batch("evaluate_final", batch)
    pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo(params, x, z_rng)
    nll = -iwae_bound(params, x, w_rng, mc.eval_num_samples, mc.eval_chunk_size)
    return {"elbo": terms["elbo"], "kl": terms["kl"],
            "elbo_bits_per_dim": _bits(-terms["elbo"]),
            "nll": nll, "bits_per_dim": _bits(nll)}

  def decode_mean(params, z):
    loc, _ = precision.apply_in(dtype, net.apply, params, z,
                                method=VAENet.decode)
    return jax.nn.sigmoid(loc) if mc.likelihood == "bernoulli" else pre.to_unit(loc)

  def sample(params, rng, n):
    checks.check_positive_int("vae.sample", "n", n)
    if prior_flow == "none":
      return decode_mean(params, jax.random.normal(rng, (n, mc.latent_dim)))
    return decode_mean(params, sample_prior(params, rng, n))

  def _posterior_point(params, x):
    """z_K of the posterior mean z_0 = μ(x) (μ itself without a flow)."""
    mean, _, context = encode_posterior(params, x)
    return mean if posterior_flow == "none" else transform_posterior(
        params, mean, context)[0]

  def reconstruct(params, x):
    return decode_mean(params, _posterior_point(params, x))

  def interpolate(params, x_a, x_b, steps=10):
    """Decodes the posterior means of x_a and x_b [H, W, C] and `steps` points
    on the line between them: [steps, H, W, C]. With a flow posterior the
    end points are the flow's images f(μ) of the means; with a flow prior
    the line runs in the prior's base space, ε = g(z), and maps back."""
    z = _posterior_point(params, jnp.stack([x_a, x_b]))
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    if prior_flow == "none":
      return decode_mean(params, (1 - t) * z[0] + t * z[1])
    eps = prior_to_base(params, z)[0]
    line = prior_from_base(params, (1 - t) * eps[0] + t * eps[1])[0]
    return decode_mean(params, line)

  def manifold(params, grid=20):
    """Decodes a grid x grid lattice of standard-normal quantiles
    ppf((i + 0.5) / grid), i = 0..grid-1 (the practical's manifold plot);
    with a flow prior, their images z = g^{-1}(ε) under the prior's flow."""
    if mc.latent_dim != 2:
      raise ValueError(f"the manifold plot needs latent_dim == 2; got {mc.latent_dim}.")
    q = jax.scipy.special.ndtri((jnp.arange(grid) + 0.5) / grid)
    zz = jnp.stack(jnp.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
    if prior_flow != "none":
      zz = prior_from_base(params, zz)[0]
    return decode_mean(params, zz)

  def images(params, batch, rng):
    """Pictures for one evaluation: {name: [N, H, W, C] in [0, 1], ...}."""
    pre_rng, s_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"][:32])
    n = x.shape[0]
    out = {"samples": sample(params, s_rng, 64),
           "reconstructions": jnp.concatenate(
               [pre.to_unit(x[:n // 2 * 2]), reconstruct(params, x[:n // 2 * 2])]),
           "interpolations": jnp.concatenate(
               [interpolate(params, x[2 * i], x[2 * i + 1]) for i in range(4)])}
    if mc.latent_dim == 2:
      out["manifold"] = manifold(params)
    return out

  def protocol():
    return {"model": "vae", "architecture": mc.architecture,
            "likelihood": mc.likelihood, "objective": mc.objective,
            "latent_dim": mc.latent_dim, "preprocessing": pre.description,
            "posterior_flow": posterior_flow + (
                "" if posterior_flow == "none"
                else f" x{flow['posterior_flow_steps']}"),
            "prior_flow": prior_flow + (
                "" if prior_flow == "none" else f" x{flow['prior_flow_steps']}"),
            "kl": ("closed form" if closed_form_kl
                   else "Monte Carlo, 1 sample: log q_K(z_K|x) - log p(z_K)"),
            "nll_estimator": "importance sampling (IWAE bound)",
            "nll_num_samples": mc.eval_num_samples,
            "bits_per_dim": "nll / (D ln 2)" + (
                "" if pre.binary else f" + {pre.nats_offset_per_dim:.4f}/ln 2 "
                "(Jacobian to the 8-bit grid)")}

  return VAE(init, train_step, evaluate, evaluate_final, sample, protocol,
             images, pre, net, elbo, importance_log_weights, iwae_bound,
             encode, decode_mean, reconstruct, interpolate, manifold,
             encode_posterior, transform_posterior, sample_posterior,
             prior_log_prob, prior_to_base, prior_from_base, sample_prior)

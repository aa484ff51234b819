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

Config (`config.model`): architecture ('mlp' | 'conv'), hidden (MLP sizes),
conv_channels, conv_hidden, latent_dim, likelihood ('bernoulli' |
'gaussian'), learn_scale, fixed_scale, beta, kl_warmup_steps, objective
('elbo' | 'iwae'), num_samples (K when training the IWAE bound),
eval_num_samples (K of the test NLL), eval_chunk_size.
"""

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn import ConvDecoder
from gdm_jax.nn import ConvEncoder
from gdm_jax.nn import MLP
from gdm_jax.train.optimizers import make_optimizer
from gdm_jax.train.state import apply_gradients
from gdm_jax.train.state import TrainState

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
OBJECTIVES = ("elbo", "iwae")


class VAENet(nn.Module):
  """Encoder q(z|x) and decoder p(x|z) networks.

  `encode`: float [B, H, W, C] -> (mean, log_scale), each [B, latent_dim].
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

  def setup(self):
    h, w, c = self.image_shape
    if self.architecture == "mlp":
      self.encoder = MLP(tuple(self.hidden) + (2 * self.latent_dim,))
      self.decoder = MLP(tuple(reversed(self.hidden)) + (h * w * c,))
    else:
      self.encoder = ConvEncoder(self.conv_channels, self.conv_hidden,
                                 2 * self.latent_dim)
      self.decoder = ConvDecoder(self.image_shape,
                                 tuple(reversed(self.conv_channels)),
                                 self.conv_hidden, c)
    if self.likelihood == "gaussian" and self.learn_scale:
      self.decoder_log_scale = self.param(
          "decoder_log_scale", nn.initializers.zeros, tuple(self.image_shape))

  def encode(self, x):
    if self.architecture == "mlp":
      x = x.reshape(x.shape[0], -1)
    out = self.encoder(x)
    mean, log_scale = jnp.split(out, 2, axis=-1)
    return mean, log_scale

  def decode(self, z):
    loc = self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))
    if self.likelihood == "bernoulli":
      return loc, None
    if self.learn_scale:
      return loc, self.decoder_log_scale
    return loc, jnp.full(self.image_shape, math.log(self.fixed_scale))

  def __call__(self, x, z):
    return self.encode(x), self.decode(z)


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
  net = VAENet(shape, mc.latent_dim, mc.architecture, tuple(mc.hidden),
               tuple(mc.conv_channels), mc.conv_hidden, mc.likelihood,
               mc.learn_scale, mc.fixed_scale)
  tx = make_optimizer(config.optimizer, config.train.num_steps)

  def encode(params, x):
    return net.apply(params, x, method=VAENet.encode)

  def log_likelihood(params, z, x):
    """log p(x | z): z [N, D], x [N, H, W, C] -> [N]."""
    loc, log_scale = net.apply(params, z, method=VAENet.decode)
    if mc.likelihood == "bernoulli":
      ll = distributions.bernoulli_log_prob(loc, x)
    else:
      ll = distributions.gaussian_log_prob(x, loc, log_scale)
    return distributions.sum_except_batch(ll)

  def elbo(params, x, rng, beta=1.0):
    mean, log_scale = encode(params, x)
    z = estimators.reparameterize(rng, mean, log_scale)
    reconstruction = -log_likelihood(params, z, x)
    kl = distributions.kl_divergence_diagonal_gaussian(mean, log_scale)
    return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
            "kl": kl, "beta_elbo": -reconstruction - beta * kl}

  def _log_weights_given_posterior(params, x, rng, mean, log_scale, k):
    z = estimators.reparameterize(rng, mean, log_scale, k)        # [K, B, D]
    b = x.shape[0]
    xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
    log_px_z = log_likelihood(params, z.reshape(k * b, -1), xk).reshape(k, b)
    log_pz = jnp.sum(distributions.standard_normal_log_prob(z), -1)
    log_qz = jnp.sum(distributions.gaussian_log_prob(z, mean, log_scale), -1)
    return log_px_z + log_pz - log_qz                               # [K, B]

  def importance_log_weights(params, x, rng, k, chunk_size=None):
    """log w_k = log p(x, z_k) - log q(z_k | x) for K samples: [K, B].

    With `chunk_size`, samples are drawn and decoded `chunk_size` at a time
    (a sequential `lax.map`), so memory is O(chunk_size * B) for any K.
    """
    if chunk_size is not None and chunk_size < k and k % chunk_size:
      raise ValueError(f"importance_log_weights: K={k} is not a multiple of "
                       f"chunk_size={chunk_size}.")
    mean, log_scale = encode(params, x)
    if chunk_size is None or chunk_size >= k:
      return _log_weights_given_posterior(params, x, rng, mean, log_scale, k)
    keys = jax.random.split(rng, k // chunk_size)
    chunks = jax.lax.map(lambda r: _log_weights_given_posterior(
        params, x, r, mean, log_scale, chunk_size), keys)
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

  def train_step(state, batch, rng):
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    beta = beta_at(state.step)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, x, z_rng, beta)
    state = apply_gradients(state, grads, tx)
    return state, {"loss": loss, "beta": beta,
                   "grad_norm": optax.global_norm(grads), **aux}

  def _bits(nats_per_example):
    """Per-example NLL in nats -> bits/dim on the (8-bit or binary) data."""
    return (nats_per_example / num_dims + pre.nats_offset_per_dim) / math.log(2)

  def evaluate(params, batch, rng):
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo(params, x, z_rng)
    return {"elbo": terms["elbo"], "reconstruction": terms["reconstruction"],
            "kl": terms["kl"], "elbo_bits_per_dim": _bits(-terms["elbo"])}

  def evaluate_final(params, batch, rng):
    pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    terms = elbo(params, x, z_rng)
    nll = -iwae_bound(params, x, w_rng, mc.eval_num_samples, mc.eval_chunk_size)
    return {"elbo": terms["elbo"], "kl": terms["kl"],
            "elbo_bits_per_dim": _bits(-terms["elbo"]),
            "nll": nll, "bits_per_dim": _bits(nll)}

  def decode_mean(params, z):
    loc, _ = net.apply(params, z, method=VAENet.decode)
    return jax.nn.sigmoid(loc) if mc.likelihood == "bernoulli" else pre.to_unit(loc)

  def sample(params, rng, n):
    return decode_mean(params, jax.random.normal(rng, (n, mc.latent_dim)))

  def reconstruct(params, x):
    return decode_mean(params, encode(params, x)[0])

  def interpolate(params, x_a, x_b, steps=10):
    """Decodes the posterior means of x_a and x_b [H, W, C] and `steps` points
    on the line between them: [steps, H, W, C]."""
    mean, _ = encode(params, jnp.stack([x_a, x_b]))
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    return decode_mean(params, (1 - t) * mean[0] + t * mean[1])

  def manifold(params, grid=20):
    """Decodes a grid x grid lattice of standard-normal quantiles
    ppf((i + 0.5) / grid), i = 0..grid-1 (the practical's manifold plot)."""
    if mc.latent_dim != 2:
      raise ValueError(f"the manifold plot needs latent_dim == 2; got {mc.latent_dim}.")
    q = jax.scipy.special.ndtri((jnp.arange(grid) + 0.5) / grid)
    zz = jnp.stack(jnp.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
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
            "nll_estimator": "importance sampling (IWAE bound)",
            "nll_num_samples": mc.eval_num_samples,
            "bits_per_dim": "nll / (D ln 2)" + (
                "" if pre.binary else f" + {pre.nats_offset_per_dim:.4f}/ln 2 "
                "(Jacobian to the 8-bit grid)")}

  return VAE(init, train_step, evaluate, evaluate_final, sample, protocol,
             images, pre, net, elbo, importance_log_weights, iwae_bound,
             encode, decode_mean, reconstruct, interpolate, manifold)

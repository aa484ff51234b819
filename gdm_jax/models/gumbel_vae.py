"""A VAE with categorical latent variables, trained with the Gumbel-softmax.

Model (Jang, Gu and Poole 2017, sec. 4.2): N categorical latents with K
classes each, z = (z_1, ..., z_N), z_n one-hot in {0, 1}^K;
  prior      p(z) = Π_n Uniform(z_n) = K^{-N};
  posterior  q(z | x) = Π_n Categorical(z_n | softmax(l_n(x))), l(x) the
             encoder's logits [B, N, K] (an MLP 784-512-256-N·K);
  decoder    p(x | z) = Bernoulli(x | sigmoid(g(z))), g an MLP N·K-256-512-784
             on the flattened one-hot (or relaxed) z, for binarised images.

Training objective (per example, nats, shape [B]): the decoder is fed a
Gumbel-softmax sample y ~ Concrete(softmax(l), τ) (Jang et al. 2017, eq. 2;
`estimators.gumbel_softmax`), and the KL is that of the *discrete* posterior
to the prior, in closed form (the paper's choice, sec. 4.2):

  L_τ(x) = log p(x | y) - KL(q(z|x) || p(z)),
  KL(q || p) = Σ_n Σ_k q_nk (log q_nk + log K)            (`kl_to_uniform`).

L_τ is a surrogate, not a bound: it mixes the relaxed decoder input with
the discrete KL (a bound on the relaxed model would need the Concrete
densities of Maddison et al. 2017, sec. 5). With model.straight_through
the decoder sees the one-hot onehot(argmax_k y_k), an exact sample of q,
and the gradient passes through y (Jang et al. 2017, sec. 2.2): the
forward value is then the discrete ELBO's single-sample estimate.

Temperature annealing (Jang et al. 2017, sec. 4.2):
  τ(t) = max(τ_min, τ_0 exp(-r · ⌊t / T⌋ T)),
t the step counter (from 0), T = model.anneal_every (the paper updates τ
every 1000 steps with r = 1e-5, τ_0 = 1, τ_min = 0.5). τ is computed from
the traced step inside the jitted train step, so it never recompiles.

Evaluation is on the discrete model (hard one-hot z ~ q, log q exact):
  ELBO      L(x) = log p(x | z) - KL(q || p),  z ~ q(z | x)   (1 sample,
            analytic KL);
  test NLL  -L_K,  L_K = log (1/K) Σ_k p(x | z_k) p(z_k) / q(z_k | x),
            z_k ~ q(z | x) i.i.d., K = model.eval_num_samples (1000), in
            chunks of model.eval_chunk_size (the VAE's protocol; Burda et
            al. 2016, eq. 8).
Both are in nats; bits/dim = nats / (784 ln 2) on the binary data.

Layout: as in models/vae.py, every bound and helper is a module-level
function of the network `net: GumbelVAENet` (`build_networks(config.model,
shape)`), its params, arrays and keyword hyperparameters; `make` only binds
them. The pieces both VAE families need (the Bernoulli decoder
log-likelihood, chunked importance weights, the batch check and
preprocessing, the metric dictionaries with `distributions.bits_per_dim`,
`init`) come from models/vae.py.

Config (`config.model`): name 'gumbel_vae', hidden (encoder MLP sizes; the
decoder uses them reversed), num_latents (N), num_classes (K),
straight_through, temperature_init (τ_0), temperature_min, anneal_rate (r),
anneal_every (T), eval_num_samples, eval_chunk_size.

References:
  Jang, Gu and Poole 2017, "Categorical Reparameterization with
    Gumbel-Softmax" (ICLR), eq. 1-2, sec. 2.2 (straight-through), sec. 4.2
    (the VAE experiment and its annealing schedule).
  Maddison, Mnih and Teh 2017, "The Concrete Distribution: A Continuous
    Relaxation of Discrete Random Variables" (ICLR).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8.
"""

import dataclasses
import functools
import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax import estimators
from gdm_jax.core import steps
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.models import vae
from gdm_jax.nn import MLP


def kl_to_uniform(logits: jax.Array) -> jax.Array:
  """KL(Π_n Cat(softmax(l_n)) || Π_n Uniform{1..K}), in nats.

    KL = Σ_n Σ_k q_nk (log q_nk + log K),  q_n = softmax(l_n),

  between 0 (q uniform) and N log K (q one-hot).

  Args:
    logits: float [..., N, K].

  Returns:
    float [...], >= 0.

  Raises:
    ValueError: logits not floating of rank >= 2.

  References:
    Jang, Gu and Poole 2017, sec. 4.2 (the analytic KL of the discrete
      posterior to the uniform prior).
  """
  checks.check_arg("gumbel_vae.kl_to_uniform", "logits", logits,
                   "floating [..., N, K]")
  log_q = jax.nn.log_softmax(logits, axis=-1)
  k = logits.shape[-1]
  return jnp.sum(jnp.exp(log_q) * (log_q + math.log(k)), axis=(-2, -1))


def categorical_log_prob_one_hot(logits: jax.Array, z: jax.Array) -> jax.Array:
  """log q(z) = Σ_n Σ_k z_nk log softmax(l_n)_k for one-hot z.

  Args:
    logits: float [..., N, K]; z: one-hot float [..., N, K] (broadcastable).

  Returns:
    float [...], in nats.

  Raises:
    ValueError: non-floating or rank < 2 arrays, or shapes that do not
      broadcast.
  """
  fn = "gumbel_vae.categorical_log_prob_one_hot"
  checks.check_arg(fn, "logits", logits, "floating [..., N, K]")
  checks.check_arg(fn, "z", z, "floating [..., N, K]")
  checks.check_broadcastable(fn, [("logits", logits), ("z", z)])
  return jnp.sum(z * jax.nn.log_softmax(logits, axis=-1), axis=(-2, -1))


def sample_one_hot(rng: jax.Array, logits: jax.Array,
                   shape: Sequence[int] | None = None) -> jax.Array:
  """z_n ~ Cat(softmax(l_n)) as one-hot float vectors.

  Args:
    logits: float [..., N, K].
    shape: optional leading sample shape, e.g. (S,) -> [S, ..., N, K].

  Returns:
    float [*shape, ..., N, K] one-hot, in logits' dtype.
  """
  full = None if shape is None else tuple(shape) + logits.shape[:-1]
  idx = jax.random.categorical(rng, logits, axis=-1, shape=full)
  return jax.nn.one_hot(idx, logits.shape[-1], dtype=logits.dtype)


def temperature_schedule(step, init: float, minimum: float, rate: float,
                         every: int) -> jax.Array:
  """τ(t) = max(τ_min, τ_0 exp(-r ⌊t / T⌋ T)) (Jang et al. 2017, sec. 4.2).

  Args:
    step: int scalar (may be traced: no recompilation as τ changes), t >= 0.
    init, minimum, rate, every: τ_0, τ_min, r, T.

  Returns:
    float32 scalar.
  """
  t = (jnp.asarray(step) // every) * every
  return jnp.maximum(minimum, init * jnp.exp(-rate * t.astype(jnp.float32)))


class GumbelVAENet(nn.Module):
  """Encoder x -> logits [B, N, K] and decoder z [B, N, K] -> Bernoulli
  logits [B, H, W, C], MLPs as in Jang et al. 2017 (784-512-256-N·K and
  back)."""
  image_shape: Sequence[int]
  num_latents: int
  num_classes: int
  hidden: Sequence[int] = (512, 256)

  def setup(self):
    """The encoder MLP (to N·K logits) and the decoder MLP (to H·W·C logits)."""
    h, w, c = self.image_shape
    self.encoder = MLP(tuple(self.hidden) + (self.num_latents * self.num_classes,))
    self.decoder = MLP(tuple(reversed(self.hidden)) + (h * w * c,))

  def encode(self, x):                        # [B, H, W, C] -> [B, N, K]
    """x [B, H, W, C] -> logits [B, N, K]."""
    out = self.encoder(x.reshape(x.shape[0], -1))
    return out.reshape(x.shape[0], self.num_latents, self.num_classes)

  def decode(self, z):                        # [B, N, K] -> [B, H, W, C]
    """z [B, N, K] (one-hot or relaxed) -> Bernoulli logits [B, H, W, C]."""
    out = self.decoder(z.reshape(z.shape[0], -1))
    return out.reshape((z.shape[0],) + tuple(self.image_shape))

  def __call__(self, x, z):
    """(encode(x), decode(z)) (for `init`)."""
    return self.encode(x), self.decode(z)


def build_networks(model_config, shape: Sequence[int]) -> GumbelVAENet:
  """The network from a run's `config.model` block and the data's (H, W, C)."""
  return GumbelVAENet(tuple(shape), model_config.num_latents,
                      model_config.num_classes, tuple(model_config.hidden))


# ------------------------------------------------------ checks


def _check_x(fn: str, net: GumbelVAENet, x) -> None:
  checks.check_example_batch(f"gumbel_vae.{fn}", "x", x, net.image_shape,
                             "floating")


def _check_z(fn: str, net: GumbelVAENet, z) -> None:
  n, k = net.num_latents, net.num_classes
  checks.check_array(f"gumbel_vae.{fn}", "z", z, shape=(None, n, k),
                     layout=f"[B, {n}, {k}] (one-hot codes)")


# ------------------------------------------------------ network calls


def encode(net: GumbelVAENet, params, x: jax.Array) -> jax.Array:
  """q(z|x)'s logits: x [B, H, W, C] -> [B, N, K].

  Raises:
    ValueError: x not a floating [B, *image_shape] array.
  """
  _check_x("encode", net, x)
  return net.apply(params, x, method=GumbelVAENet.encode)


def log_likelihood(net: GumbelVAENet, params, z: jax.Array,
                   x: jax.Array) -> jax.Array:
  """log p(x | z), Bernoulli: z [B, N, K] (one-hot or relaxed), x [B, H, W,
  C] -> [B], nats (`vae.decoder_log_likelihood`).

  Raises:
    ValueError: z not [B, N, K], x not [B, *image_shape], or different B.
  """
  _check_z("log_likelihood", net, z)
  _check_x("log_likelihood", net, x)
  checks.check_same_batch("gumbel_vae.log_likelihood", [("z", z), ("x", x)])
  logits = net.apply(params, z, method=GumbelVAENet.decode)
  return vae.decoder_log_likelihood("bernoulli", logits, None, x)


def decode_mean(net: GumbelVAENet, params, z: jax.Array) -> jax.Array:
  """σ(decoder logits): z [n, N, K] -> [n, H, W, C] in [0, 1]."""
  _check_z("decode_mean", net, z)
  return jax.nn.sigmoid(net.apply(params, z, method=GumbelVAENet.decode))


# ------------------------------------------------------ bounds


def _terms(net, params, x, logits, z) -> dict:
  reconstruction = -log_likelihood(net, params, z, x)
  kl = kl_to_uniform(logits)
  return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
          "kl": kl}


def elbo(net: GumbelVAENet, params, x: jax.Array, rng: jax.Array,
         temperature, hard: bool = False) -> dict:
  """The training surrogate L_τ(x) = log p(x | y) - KL(q(z|x) || p(z)), y a
  Gumbel-softmax sample at temperature τ (the straight-through one-hot if
  `hard`): {'elbo', 'reconstruction', 'kl'}, [B] nats each (module
  docstring; Jang et al. 2017, eq. 2 and sec. 4.2).

  Raises:
    ValueError: x not a floating [B, *image_shape] array.
  """
  _check_x("elbo", net, x)
  logits = encode(net, params, x)
  y = estimators.gumbel_softmax(rng, logits, temperature, hard=hard)
  return _terms(net, params, x, logits, y)


def discrete_elbo(net: GumbelVAENet, params, x: jax.Array,
                  rng: jax.Array) -> dict:
  """log p(x|z) - KL(q||p), z ~ q(z|x) one-hot: an unbiased one-sample
  estimate of the discrete model's ELBO, {'elbo', 'reconstruction', 'kl'}
  [B] nats each.

  Raises:
    ValueError: x not a floating [B, *image_shape] array.
  """
  _check_x("discrete_elbo", net, x)
  logits = encode(net, params, x)
  return _terms(net, params, x, logits, sample_one_hot(rng, logits))


def _log_weights(net, params, x, logits, rng, k):
  z = sample_one_hot(rng, logits, (k,))                         # [K, B, N, C]
  flat_z, xk = vae.repeat_for_samples(z, x)
  log_px_z = log_likelihood(net, params, flat_z, xk).reshape(k, -1)
  log_prior = -net.num_latents * math.log(net.num_classes)      # log p(z)
  return log_px_z + log_prior - categorical_log_prob_one_hot(logits, z)


def importance_log_weights(net: GumbelVAENet, params, x: jax.Array,
                           rng: jax.Array, k: int,
                           chunk_size: int | None = None) -> jax.Array:
  """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q(z|x)
  one-hot: [K, B], nats; drawn `chunk_size` at a time (a sequential
  lax.map, `estimators.chunked_log_weights`) when given.

  Raises:
    ValueError: x not [B, *image_shape], k or chunk_size not a positive
      int, or K not a multiple of chunk_size.

  References:
    Burda, Grosse and Salakhutdinov 2016, eq. 8.
  """
  fn = "gumbel_vae.importance_log_weights"
  _check_x("importance_log_weights", net, x)
  vae.check_num_samples(fn, k, chunk_size)
  logits = encode(net, params, x)
  return estimators.chunked_log_weights(
      functools.partial(_log_weights, net, params, x, logits), rng, k,
      chunk_size, fn=fn)


def iwae_bound(net: GumbelVAENet, params, x: jax.Array, rng: jax.Array,
               k: int, chunk_size: int | None = None) -> jax.Array:
  """L_K(x) = log (1/K) Σ_k w_k <= log p(x), nats [B] (Burda et al. 2016,
  eq. 8), with hard categorical samples of q.

  Raises:
    ValueError: as `importance_log_weights`.
  """
  _check_x("iwae_bound", net, x)
  vae.check_num_samples("gumbel_vae.iwae_bound", k, chunk_size)
  return estimators.iwae_bound(
      importance_log_weights(net, params, x, rng, k, chunk_size))


def loss(net: GumbelVAENet, params, x: jax.Array, rng: jax.Array, step, *,
         straight_through: bool = False, temperature_init: float = 1.0,
         temperature_min: float = 0.5, anneal_rate: float = 1e-5,
         anneal_every: int = 1000) -> tuple[jax.Array, dict]:
  """The training loss (params, x, rng, step) -> (-mean_B L_τ, aux) of
  `core.steps.gradient_step`, τ = temperature_schedule(step, ...); aux the
  batch means of 'elbo', 'reconstruction', 'kl', and 'temperature'."""
  tau = temperature_schedule(step, temperature_init, temperature_min,
                             anneal_rate, anneal_every)
  terms = elbo(net, params, x, rng, tau, straight_through)
  aux = {k: jnp.mean(v) for k, v in terms.items()}
  return -aux["elbo"], {**aux, "temperature": tau}


# ------------------------------------------------------ evaluation


def evaluate(net: GumbelVAENet, pre: Preprocessing, params, batch: dict,
             rng: jax.Array) -> dict:
  """The discrete ELBO's terms and its bits/dim, [B] each (`vae.elbo_metrics`)."""
  pre_rng, z_rng = jax.random.split(rng)
  x = vae.preprocess(net, pre, pre_rng, batch, fn="evaluate",
                     family="gumbel_vae")
  return vae.elbo_metrics(discrete_elbo(net, params, x, z_rng),
                          math.prod(net.image_shape))


def evaluate_final(net: GumbelVAENet, pre: Preprocessing, params,
                   batch: dict, rng: jax.Array, *, num_samples: int = 1000,
                   chunk_size: int | None = 100) -> dict:
  """The discrete ELBO, the test NLL -L_K (K = num_samples) and their
  bits/dim, [B] each (`vae.final_metrics`)."""
  pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
  x = vae.preprocess(net, pre, pre_rng, batch, fn="evaluate_final",
                     family="gumbel_vae")
  terms = discrete_elbo(net, params, x, z_rng)
  nll = -iwae_bound(net, params, x, w_rng, num_samples, chunk_size)
  return vae.final_metrics(terms, nll, math.prod(net.image_shape))


def sample(net: GumbelVAENet, params, rng: jax.Array, n: int) -> jax.Array:
  """Decoded means of z ~ p(z) (uniform one-hot): [n, H, W, C] in [0, 1].

  Raises:
    ValueError: n not a positive int.
  """
  checks.check_positive_int("gumbel_vae.sample", "n", n)
  return decode_mean(net, params, sample_one_hot(
      rng, jnp.zeros((n, net.num_latents, net.num_classes), jnp.float32)))


def reconstruct(net: GumbelVAENet, params, x: jax.Array) -> jax.Array:
  """Decoded mean of the posterior mode onehot(argmax_k l_nk(x)):
  [B, H, W, C] in [0, 1]."""
  _check_x("reconstruct", net, x)
  logits = encode(net, params, x)
  return decode_mean(net, params,
                     jax.nn.one_hot(jnp.argmax(logits, -1), net.num_classes))


def images(net: GumbelVAENet, pre: Preprocessing, params, batch: dict,
           rng: jax.Array) -> dict:
  """{'samples': [64, H, W, C], 'reconstructions': data then
  reconstructions [2 m, H, W, C]}, in [0, 1]."""
  checks.check_batch("gumbel_vae.images", batch, "image", net.image_shape,
                     "numeric")
  pre_rng, s_rng = jax.random.split(rng)
  x = pre.apply(pre_rng, batch["image"][:32])
  return {"samples": sample(net, params, s_rng, 64),
          "reconstructions": jnp.concatenate([x, reconstruct(net, params, x)])}


def protocol(net: GumbelVAENet, pre: Preprocessing, *, straight_through: bool,
             temperature_init: float, temperature_min: float,
             anneal_rate: float, anneal_every: int,
             eval_num_samples: int) -> dict:
  """How the final metrics were computed (for final_metrics.json)."""
  return {"model": "gumbel_vae", "num_latents": net.num_latents,
          "num_classes": net.num_classes, "hidden": list(net.hidden),
          "training": ("straight-through Gumbel-softmax" if straight_through
                       else "relaxed Gumbel-softmax") + ", analytic KL",
          "temperature": (f"max({temperature_min}, {temperature_init} "
                          f"exp(-{anneal_rate} floor(t/{anneal_every})"
                          f"*{anneal_every}))"),
          "preprocessing": pre.description,
          "elbo": "discrete model, 1 categorical sample, analytic KL",
          "nll_estimator": "importance sampling with q(z|x) (IWAE bound), "
                           "hard categorical samples",
          "nll_num_samples": eval_num_samples,
          "bits_per_dim": "nll / (D ln 2)"}


# ------------------------------------------------------ config and make


def validate_config(mc, binary_data: bool | None = None) -> None:
  """Raises ValueError with the field name for any invalid model setting
  (and, given `binary_data`, non-binarised data: the decoder is Bernoulli)."""
  rules = (
      *vae.at_least(mc, num_latents=1, num_classes=2),
      *vae.sample_count_rules(mc),
      (mc.temperature_init > 0,
       f"model.temperature_init must be > 0; got {mc.temperature_init}."),
      (0 < mc.temperature_min <= mc.temperature_init,
       "model.temperature_min must be in (0, temperature_init]; got "
       f"{mc.temperature_min}."),
      *vae.at_least(mc, anneal_rate=0, anneal_every=1),
      (binary_data is None or binary_data,
       "the gumbel_vae decoder is Bernoulli: it needs binarised data "
       "(data.binarization='dynamic' or 'static')."),
  )
  vae.raise_first_failure(rules)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GumbelVAE(base.Model):
  """The model interface (models/base.py) plus the family's functions (the
  module-level functions with `net` and the config bound):

    elbo(params, x, rng, temperature, hard=False) -> {'elbo', 'reconstruction',
        'kl'} [B] each: the training surrogate L_τ (hard: straight-through);
    discrete_elbo(params, x, rng) -> {'elbo', 'reconstruction', 'kl'};
    importance_log_weights(params, x, rng, K, chunk_size=None) -> [K, B];
    iwae_bound(params, x, rng, K, chunk_size=None) -> [B];
    encode(params, x) -> logits [B, N, K];
    log_likelihood(params, z, x) -> log p(x | z) [B];
    decode_mean(params, z [n, N, K]) -> [n, H, W, C] in [0, 1];
    reconstruct(params, x) -> decoded mode of q (argmax one-hot);
    temperature_at(step) -> τ(step).
  """
  preprocessing: Preprocessing
  net: GumbelVAENet
  elbo: Callable
  discrete_elbo: Callable
  importance_log_weights: Callable
  iwae_bound: Callable
  encode: Callable
  log_likelihood: Callable
  decode_mean: Callable
  reconstruct: Callable
  temperature_at: Callable


def make(config, dataset_info: dict) -> GumbelVAE:
  """Builds the Gumbel-softmax VAE's functions from `config`.

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...}.

  Raises:
    ValueError: an invalid model setting, or non-binarised data (the
      decoder is Bernoulli).
  """
  mc = config.model
  pre, net, tx = vae.setup(config, dataset_info, validate_config,
                           build_networks)
  bind = functools.partial
  schedule = {"temperature_init": mc.temperature_init,
              "temperature_min": mc.temperature_min,
              "anneal_rate": mc.anneal_rate, "anneal_every": mc.anneal_every}
  return GumbelVAE(
      init=bind(vae.init, net, tx, latent_shape=(mc.num_latents,
                                                  mc.num_classes)),
      train_step=steps.gradient_step(
          bind(loss, net, straight_through=mc.straight_through, **schedule),
          tx, bind(vae.preprocess, net, pre, fn="train_step",
                   family="gumbel_vae")),
      evaluate=bind(evaluate, net, pre),
      evaluate_final=bind(evaluate_final, net, pre,
                          num_samples=mc.eval_num_samples,
                          chunk_size=mc.eval_chunk_size),
      sample=bind(sample, net), images=bind(images, net, pre),
      protocol=bind(protocol, net, pre, straight_through=mc.straight_through,
                    eval_num_samples=mc.eval_num_samples, **schedule),
      preprocessing=pre, net=net, elbo=bind(elbo, net),
      discrete_elbo=bind(discrete_elbo, net),
      importance_log_weights=bind(importance_log_weights, net),
      iwae_bound=bind(iwae_bound, net), encode=bind(encode, net),
      log_likelihood=bind(log_likelihood, net),
      decode_mean=bind(decode_mean, net), reconstruct=bind(reconstruct, net),
      temperature_at=bind(temperature_schedule, init=mc.temperature_init,
                          minimum=mc.temperature_min, rate=mc.anneal_rate,
                          every=mc.anneal_every))

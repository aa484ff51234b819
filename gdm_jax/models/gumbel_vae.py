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

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn import MLP
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import apply_gradients
from gdm_jax.core.state import TrainState


def kl_to_uniform(logits: jax.Array) -> jax.Array:
  """KL(Π_n Cat(softmax(l_n)) || Π_n Uniform{1..K}), in nats.

    KL = Σ_n Σ_k q_nk (log q_nk + log K),  q_n = softmax(l_n),

  between 0 (q uniform) and N log K (q one-hot).

  Args:
    logits: float [..., N, K].

  Returns:
    float [...], >= 0.
  """
  checks.check_array("gumbel_vae.kl_to_uniform", "logits", logits,
                     min_rank=2, layout="[..., N, K]")
  log_q = jax.nn.log_softmax(logits, axis=-1)
  k = logits.shape[-1]
  return jnp.sum(jnp.exp(log_q) * (log_q + math.log(k)), axis=(-2, -1))


def categorical_log_prob_one_hot(logits: jax.Array, z: jax.Array) -> jax.Array:
  """log q(z) = Σ_n Σ_k z_nk log softmax(l_n)_k for one-hot z.

  Args:
    logits: float [..., N, K]; z: one-hot float [..., N, K] (broadcastable).

  Returns:
    float [...], in nats.
  """
  fn = "gumbel_vae.categorical_log_prob_one_hot"
  checks.check_array(fn, "logits", logits, min_rank=2, layout="[..., N, K]")
  checks.check_array(fn, "z", z, min_rank=2, layout="[..., N, K]")
  checks.check_broadcastable(fn, [("logits", logits), ("z", z)])
  return jnp.sum(z * jax.nn.log_softmax(logits, axis=-1), axis=(-2, -1))


def sample_one_hot(rng: jax.Array, logits: jax.Array,
                   shape: Sequence[int] | None = None) -> jax.Array:
  """z_n ~ Cat(softmax(l_n)) as one-hot float vectors.

  Args:
    logits: float [..., N, K].
    shape: optional leading sample shape, e.g. (S,) -> [S, ..., N, K].

  Returns:
    float [*shape, ..., N, K] one-hot.
  """
  full = None if shape is None else tuple(shape) + logits.shape[:-1]
  idx = jax.random.categorical(rng, logits, axis=-1, shape=full)
  return jax.nn.one_hot(idx, logits.shape[-1], dtype=logits.dtype)


def temperature_schedule(step, init: float, minimum: float, rate: float,
                         every: int) -> jax.Array:
  """τ(t) = max(τ_min, τ_0 exp(-r ⌊t / T⌋ T)) (Jang et al. 2017, sec. 4.2).

  Args:
    step: int scalar (may be traced), t >= 0.
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
    h, w, c = self.image_shape
    self.encoder = MLP(tuple(self.hidden) + (self.num_latents * self.num_classes,))
    self.decoder = MLP(tuple(reversed(self.hidden)) + (h * w * c,))

  def encode(self, x):                        # [B, H, W, C] -> [B, N, K]
    out = self.encoder(x.reshape(x.shape[0], -1))
    return out.reshape(x.shape[0], self.num_latents, self.num_classes)

  def decode(self, z):                        # [B, N, K] -> [B, H, W, C]
    out = self.decoder(z.reshape(z.shape[0], -1))
    return out.reshape((z.shape[0],) + tuple(self.image_shape))

  def __call__(self, x, z):
    return self.encode(x), self.decode(z)


class GumbelVAE(NamedTuple):
  """The model interface (models/base.py) plus the family's functions:

    elbo(params, x, rng, temperature, hard=False) -> {'elbo', 'reconstruction',
        'kl'} [B] each: the training surrogate L_τ (hard: straight-through);
    discrete_elbo(params, x, rng) -> {'elbo', 'reconstruction', 'kl'}: the
        ELBO of the discrete model with one hard sample z ~ q;
    importance_log_weights(params, x, rng, K, chunk_size=None) -> [K, B];
    iwae_bound(params, x, rng, K, chunk_size=None) -> [B];
    encode(params, x) -> logits [B, N, K];
    log_likelihood(params, z, x) -> log p(x | z) [B];
    decode_mean(params, z [n, N, K]) -> [n, H, W, C] in [0, 1];
    reconstruct(params, x) -> decoded mode of q (argmax one-hot);
    temperature_at(step) -> τ(step).
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
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


def validate_config(mc) -> None:
  """Raises ValueError with the field name for any invalid model setting."""
  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  check(mc.num_latents >= 1, f"model.num_latents must be >= 1; got {mc.num_latents}.")
  check(mc.num_classes >= 2, f"model.num_classes must be >= 2; got {mc.num_classes}.")
  check(all(h >= 1 for h in mc.hidden), f"model.hidden sizes must be >= 1; got {mc.hidden}.")
  check(mc.temperature_init > 0,
        f"model.temperature_init must be > 0; got {mc.temperature_init}.")
  check(0 < mc.temperature_min <= mc.temperature_init,
        "model.temperature_min must be in (0, temperature_init]; got "
        f"{mc.temperature_min}.")
  check(mc.anneal_rate >= 0, f"model.anneal_rate must be >= 0; got {mc.anneal_rate}.")
  check(mc.anneal_every >= 1, f"model.anneal_every must be >= 1; got {mc.anneal_every}.")
  check(mc.eval_num_samples >= 1,
        f"model.eval_num_samples must be >= 1; got {mc.eval_num_samples}.")
  check(mc.eval_chunk_size >= 1 and mc.eval_num_samples % mc.eval_chunk_size == 0,
        f"model.eval_num_samples ({mc.eval_num_samples}) must be a multiple "
        f"of model.eval_chunk_size ({mc.eval_chunk_size}).")


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
  validate_config(mc)
  pre = make_preprocessing(config.data.binarization, config.data.dequantization,
                           config.data.value_range)
  if not pre.binary:
    raise ValueError("the gumbel_vae decoder is Bernoulli: it needs binarised "
                     "data (data.binarization='dynamic' or 'static').")
  shape = tuple(dataset_info["shape"])
  num_dims = math.prod(shape)
  n_lat, n_cls = mc.num_latents, mc.num_classes
  net = GumbelVAENet(shape, n_lat, n_cls, tuple(mc.hidden))
  tx = make_optimizer(config.optimizer, config.train.num_steps)
  log_prior = -n_lat * math.log(n_cls)          # log p(z) for every z

  def check_batch(fn, batch):
    """The batch fits the data set the model was built for (trace time)."""
    checks.check_batch(f"gumbel_vae.{fn}", batch, "image", shape, "numeric")

  def check_x(fn, x):
    checks.check_example_batch(f"gumbel_vae.{fn}", "x", x, shape, "floating")

  def check_z(fn, z):
    checks.check_array(f"gumbel_vae.{fn}", "z", z,
                       shape=(None, n_lat, n_cls),
                       layout=f"[B, {n_lat}, {n_cls}] (one-hot codes)")

  def check_k(fn, x, k, chunk_size):
    check_x(fn, x)
    checks.check_positive_int(f"gumbel_vae.{fn}", "k", k)
    if chunk_size is not None:
      checks.check_positive_int(f"gumbel_vae.{fn}", "chunk_size", chunk_size)

  def encode(params, x):
    check_x("encode", x)
    return net.apply(params, x, method=GumbelVAENet.encode)

  def log_likelihood(params, z, x):
    """log p(x | z): z [B, N, K], x [B, H, W, C] -> [B]."""
    check_z("log_likelihood", z)
    check_x("log_likelihood", x)
    checks.check_same_batch("gumbel_vae.log_likelihood",
                            [("z", z), ("x", x)])
    logits = net.apply(params, z, method=GumbelVAENet.decode)
    return distributions.sum_except_batch(
        distributions.bernoulli_log_prob(logits, x))

  def temperature_at(step):
    return temperature_schedule(step, mc.temperature_init, mc.temperature_min,
                                mc.anneal_rate, mc.anneal_every)

  def elbo(params, x, rng, temperature, hard=False):
    """The training surrogate L_τ = log p(x|y) - KL(q||p), y Gumbel-softmax
    (straight-through one-hot if `hard`): {'elbo', 'reconstruction', 'kl'}."""
    check_x("elbo", x)
    logits = encode(params, x)
    y = estimators.gumbel_softmax(rng, logits, temperature, hard=hard)
    reconstruction = -log_likelihood(params, y, x)
    kl = kl_to_uniform(logits)
    return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
            "kl": kl}

  def discrete_elbo(params, x, rng):
    """log p(x|z) - KL(q||p), z ~ q(z|x) one-hot: an unbiased estimate of
    the discrete model's ELBO."""
    check_x("discrete_elbo", x)
    logits = encode(params, x)
    z = sample_one_hot(rng, logits)
    reconstruction = -log_likelihood(params, z, x)
    kl = kl_to_uniform(logits)
    return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
            "kl": kl}

  def _log_weights(params, x, logits, rng, k):
    z = sample_one_hot(rng, logits, (k,))                       # [K, B, N, C]
    b = x.shape[0]
    xk = jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
    log_px_z = log_likelihood(params, z.reshape((k * b,) + z.shape[2:]),
                              xk).reshape(k, b)
    return log_px_z + log_prior - categorical_log_prob_one_hot(logits, z)

  def importance_log_weights(params, x, rng, k, chunk_size=None):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), z_k ~ q: [K, B];
    drawn `chunk_size` at a time (sequential lax.map) when given."""
    check_k("importance_log_weights", x, k, chunk_size)
    if chunk_size is not None and chunk_size < k and k % chunk_size:
      raise ValueError(f"importance_log_weights: K={k} is not a multiple of "
                       f"chunk_size={chunk_size}.")
    logits = encode(params, x)
    if chunk_size is None or chunk_size >= k:
      return _log_weights(params, x, logits, rng, k)
    keys = jax.random.split(rng, k // chunk_size)
    chunks = jax.lax.map(lambda r: _log_weights(params, x, logits, r, chunk_size),
                         keys)
    return chunks.reshape(k, x.shape[0])

  def iwae_bound(params, x, rng, k, chunk_size=None):
    check_k("iwae_bound", x, k, chunk_size)
    return estimators.iwae_bound(
        importance_log_weights(params, x, rng, k, chunk_size))

  def init(rng, batch):
    if batch is not None:
      check_batch("init", batch)
    params_rng, state_rng = jax.random.split(rng)
    params = net.init(params_rng, jnp.zeros((1,) + shape, jnp.float32),
                      jnp.zeros((1, n_lat, n_cls), jnp.float32))
    return TrainState.create(state_rng, params, tx.init(params))

  def loss_fn(params, x, rng, temperature):
    terms = elbo(params, x, rng, temperature, mc.straight_through)
    aux = {k: jnp.mean(v) for k, v in terms.items()}
    return -aux["elbo"], aux

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    tau = temperature_at(state.step)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, x, z_rng, tau)
    state = apply_gradients(state, grads, tx)
    return state, {"loss": loss, "temperature": tau,
                   "grad_norm": optax.global_norm(grads), **aux}

  def _bits(nats):
    return nats / (num_dims * math.log(2))

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    pre_rng, z_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    terms = discrete_elbo(params, x, z_rng)
    return {**terms, "elbo_bits_per_dim": _bits(-terms["elbo"])}

  def evaluate_final(params, batch, rng):
    check_batch("evaluate_final", batch)
    pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"])
    terms = discrete_elbo(params, x, z_rng)
    nll = -iwae_bound(params, x, w_rng, mc.eval_num_samples, mc.eval_chunk_size)
    return {"elbo": terms["elbo"], "kl": terms["kl"],
            "elbo_bits_per_dim": _bits(-terms["elbo"]),
            "nll": nll, "bits_per_dim": _bits(nll)}

  def decode_mean(params, z):
    check_z("decode_mean", z)
    return jax.nn.sigmoid(net.apply(params, z, method=GumbelVAENet.decode))

  def sample(params, rng, n):
    """Decoded means of z ~ p(z) (uniform one-hot): [n, H, W, C] in [0, 1]."""
    checks.check_positive_int("gumbel_vae.sample", "n", n)
    return decode_mean(params, sample_one_hot(
        rng, jnp.zeros((n, n_lat, n_cls), jnp.float32)))

  def reconstruct(params, x):
    """Decoded mean of the posterior mode onehot(argmax_k l_nk(x))."""
    check_x("reconstruct", x)
    logits = encode(params, x)
    return decode_mean(params, jax.nn.one_hot(jnp.argmax(logits, -1), n_cls))

  def images(params, batch, rng):
    """{'samples': [64, H, W, C], 'reconstructions': data then
    reconstructions [2 m, H, W, C]}, in [0, 1]."""
    check_batch("images", batch)
    pre_rng, s_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"][:32])
    return {"samples": sample(params, s_rng, 64),
            "reconstructions": jnp.concatenate([x, reconstruct(params, x)])}

  def protocol():
    return {"model": "gumbel_vae", "num_latents": n_lat, "num_classes": n_cls,
            "hidden": list(mc.hidden),
            "training": ("straight-through Gumbel-softmax" if mc.straight_through
                         else "relaxed Gumbel-softmax") + ", analytic KL",
            "temperature": (f"max({mc.temperature_min}, {mc.temperature_init} "
                            f"exp(-{mc.anneal_rate} floor(t/{mc.anneal_every})"
                            f"*{mc.anneal_every}))"),
            "preprocessing": pre.description,
            "elbo": "discrete model, 1 categorical sample, analytic KL",
            "nll_estimator": "importance sampling with q(z|x) (IWAE bound), "
                             "hard categorical samples",
            "nll_num_samples": mc.eval_num_samples,
            "bits_per_dim": "nll / (D ln 2)"}

  return GumbelVAE(init, train_step, evaluate, evaluate_final, sample, protocol,
                   images, pre, net, elbo, discrete_elbo,
                   importance_log_weights, iwae_bound, encode, log_likelihood,
                   decode_mean, reconstruct, temperature_at)

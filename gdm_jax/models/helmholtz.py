"""The Helmholtz machine: a sigmoid belief network trained by wake-sleep.

Generative model p_θ (a sigmoid belief network, SBN) with L binary
stochastic layers z_1 .. z_L of sizes n_1 .. n_L above the binary data
x = z_0 of D = H W C pixels, sampled top-down:
  p_θ(z_L)           = Π_j Bernoulli(z_{L,j}; σ(b_j))      (learned logits b)
  p_θ(z_{l-1} | z_l) = Π_j Bernoulli(z_{l-1,j}; σ(g_l(z_l)_j)),  l = L .. 1,
so log p_θ(x, z) = log p_θ(z_L) + Σ_l log p_θ(z_{l-1} | z_l).
Recognition model q_φ, bottom-up and factorised per layer:
  q_φ(z_l | z_{l-1}) = Π_j Bernoulli(z_{l,j}; σ(r_l(z_{l-1})_j)),  l = 1 .. L,
  log q_φ(z | x) = Σ_l log q_φ(z_l | z_{l-1}).
g_l and r_l are affine maps (the classic Helmholtz machine,
`model.hidden = ()`) or MLPs with the hidden sizes `model.hidden` (ReLU).

Training (`model.training`), one compiled step that updates both players:
  'wake_sleep'  (Hinton, Dayan, Frey and Neal 1995)
      wake:  z ~ q_φ(z | x) on the data batch (discrete samples, held fixed:
             stop_gradient), θ ← θ + η ∇_θ (1/B) Σ_b log p_θ(x_b, z_b),
             a stochastic gradient of E_data E_q[log p_θ(x, z)];
      sleep: dream (x, z) ~ p_θ (ancestral, from the θ after the wake update),
             φ ← φ + η ∇_φ (1/N) Σ_n log q_φ(z_n | x_n), a stochastic gradient
             of -E_{p_θ(x)} KL(p_θ(z | x) || q_φ(z | x)) (the entropy of
             p_θ(z | x) does not depend on φ).
      Neither phase follows the gradient of one objective: the wake phase
      ascends the ELBO in θ, the sleep phase descends the *reverse* KL in φ.
  'reweighted'  (reweighted wake-sleep, Bornschein and Bengio 2015, Alg. 1)
      K samples z_k ~ q_φ(z | x), log w_k = log p_θ(x, z_k) - log q_φ(z_k | x),
      normalised weights ω_k = softmax_k(log w_k) (held fixed):
      θ ascends Σ_k ω_k log p_θ(x, z_k)  (the gradient of the K-sample
        importance estimate of log p_θ(x), eq. 5);
      φ ascends, by `model.q_update`: 'wake' Σ_k ω_k log q_φ(z_k | x) (the
        wake-phase q update, eq. 6), 'sleep' the sleep phase above, or
        'wake_sleep' the average of the two (the paper's experiments use both
        q updates).
  'reinforce'   the ELBO-trained SBN on the same binary latents, for comparison
      (the like-for-like of a VAE, in the spirit of NVIL, Mnih and Gregor
      2014): K >= 2 samples z_k ~ q_φ(z | x), f_k = log p_θ(x, z_k) -
      log q_φ(z_k | x);
      θ ascends (1/K) Σ_k log p_θ(x, z_k) (∇_θ of the ELBO, unbiased);
      φ ascends the score-function surrogate (1/K) Σ_k (f_k - b_k) log
        q_φ(z_k | x) with the leave-one-out baseline b_k = mean_{j≠k} f_j
        (`estimators.score_function_surrogate`, `leave_one_out_baseline`;
        Williams 1992, Kool et al. 2019), an unbiased estimate of ∇_φ ELBO
        (the pathwise term -∇_φ log q_φ has mean 0 and is dropped).

Evaluation, on the same bounds as the VAE family (models/vae.py):
  ELBO   L(x) = E_q[log p_θ(x, z) - log q_φ(z | x)], one Monte Carlo sample
         per example (no closed-form KL for binary latents), split as
         'reconstruction' = -log p_θ(x | z_1) and 'kl' = log q_φ(z | x) -
         log p_θ(z) (a one-sample estimate of KL(q || p_θ(z))). Wake-sleep
         optimises no single bound; the ELBO is the bound it is judged on.
  NLL    -L_K with L_K = log (1/K) Σ_k w_k (Burda et al. 2016, eq. 8), q as
         the proposal, K = `model.eval_num_samples` (1000) in chunks of
         `model.eval_chunk_size`.
  Both are in nats per example, shape [B]; bits/dim = nats / (D ln 2).

Config (`config.model`): latent_sizes (n_1 .. n_L, bottom to top), hidden
(MLP sizes of every g_l and r_l; () = affine), training ('wake_sleep' |
'reweighted' | 'reinforce'), num_samples (K of reweighted wake-sleep and
of reinforce), q_update ('wake' |
'sleep' | 'wake_sleep'), sleep_batch_size (dreams per step; 0 = the train
batch size), eval_num_samples, eval_chunk_size. Optimisers:
`config.optimizer.generative` and `config.optimizer.recognition` (optax
chains from train.optimizers.make_optimizer). Data: binarised images
(`data.binarization` 'dynamic' or 'static').

State: `state.params = {'generative': vars_θ, 'recognition': vars_φ}` (flax
variables), `state.opt_state` the same two keys.

References:
  Hinton, Dayan, Frey and Neal 1995, "The wake-sleep algorithm for
    unsupervised neural networks", Science 268.
  Dayan, Hinton, Neal and Zemel 1995, "The Helmholtz machine", Neural
    Computation 7.
  Neal 1992, "Connectionist learning of belief networks" (the SBN).
  Bornschein and Bengio 2015, "Reweighted wake-sleep", ICLR (Alg. 1, eq.
    5-6; the IS estimate of log p(x) with q as proposal for evaluation).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8 and section 5.1 (K = 1000 test NLL).
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
from gdm_jax.core.state import TrainState

TRAININGS = ("wake_sleep", "reweighted", "reinforce")
Q_UPDATES = ("wake", "sleep", "wake_sleep")

# A list of binary latent layers [z_1, ..., z_L], each float32 [..., n_l].
Latents = list[jax.Array]


class GenerativeNet(nn.Module):
  """p_θ: top prior logits b [n_L] and the top-down conditionals g_l.

  Attributes:
    latent_sizes: (n_1, ..., n_L), bottom to top.
    data_dim: D, the number of pixels.
    hidden: hidden sizes of each g_l (() = affine).
  """
  latent_sizes: Sequence[int]
  data_dim: int
  hidden: Sequence[int] = ()

  def setup(self):
    sizes = (self.data_dim,) + tuple(self.latent_sizes)
    self.prior_logits = self.param("prior_logits", nn.initializers.zeros,
                                   (sizes[-1],))
    # g_l: z_l -> logits of z_{l-1}; decoders[l - 1] is g_l.
    self.decoders = [MLP(tuple(self.hidden) + (sizes[l - 1],),
                         name=f"decoder_{l}")
                     for l in range(1, len(sizes))]

  def conditional_logits(self, l: int, z_l: jax.Array) -> jax.Array:
    """Logits of p_θ(z_{l-1} | z_l): [..., n_l] -> [..., n_{l-1}] (l >= 1)."""
    return self.decoders[l - 1](z_l)

  def top_logits(self) -> jax.Array:
    return self.prior_logits                                      # [n_L]

  def __call__(self, zs):
    return [self.conditional_logits(l, z) for l, z in enumerate(zs, 1)]


class RecognitionNet(nn.Module):
  """q_φ: the bottom-up conditionals r_l (logits of z_l given z_{l-1}).

  Attributes:
    latent_sizes: (n_1, ..., n_L), bottom to top.
    hidden: hidden sizes of each r_l (() = affine).
  """
  latent_sizes: Sequence[int]
  hidden: Sequence[int] = ()

  def setup(self):
    self.encoders = [MLP(tuple(self.hidden) + (n,), name=f"encoder_{l}")
                     for l, n in enumerate(self.latent_sizes, 1)]

  def conditional_logits(self, l: int, below: jax.Array) -> jax.Array:
    """Logits of q_φ(z_l | z_{l-1}): [..., n_{l-1}] -> [..., n_l] (l >= 1)."""
    return self.encoders[l - 1](below)

  def __call__(self, x, zs):
    below = [x] + list(zs[:-1])
    return [self.conditional_logits(l, b) for l, b in enumerate(below, 1)]


class Helmholtz(NamedTuple):
  """The model interface (models/base.py) plus the family's own functions.

  Pure functions (`params` = state.params = {'generative', 'recognition'};
  x binary, flattened float32 [..., D]; zs a list of L arrays [..., n_l];
  every log-probability in nats, one value per leading index):
    log_joint(params, x, zs) -> log p_θ(x, z): [...]
    log_prior(params, zs) -> log p_θ(z) = log p_θ(z_L) + Σ_{l>=2} log
        p_θ(z_{l-1} | z_l): [...]
    log_likelihood(params, x, z_1) -> log p_θ(x | z_1): [...]
    log_posterior(params, x, zs) -> log q_φ(z | x): [...]
    sample_posterior(params, x, rng, k=None) -> (zs, log q): K samples on a
        new leading axis when k is given
    dream(params, rng, n) -> (x [n, D], zs): ancestral samples of p_θ(x, z)
    importance_log_weights(params, x, rng, k, chunk_size=None) -> [K, B]
    iwae_bound(params, x, rng, k, chunk_size=None) -> [B]
    elbo(params, x, rng) -> {'elbo', 'reconstruction', 'kl'}: [B] each
    wake_loss(params, x, rng) -> (scalar, aux): -(1/B) Σ log p_θ(x, z), z ~ q
        held fixed; its θ-gradient is the wake phase
    sleep_loss(params, rng, n) -> (scalar, aux): -(1/n) Σ log q_φ(z | x) on n
        dreams; its φ-gradient is the sleep phase
    gradients(params, x, rng) -> ({'generative', 'recognition'} grads,
        metrics): the descent directions the train step applies (wake-sleep
        or reweighted, module docstring)
    reconstruct(params, x, rng) -> E[x | z_1] at one z ~ q_φ(z | x): [B, D]
    decode_mean(params, z_1) -> σ(g_1(z_1)): [N, D]
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  log_joint: Callable
  log_prior: Callable
  log_likelihood: Callable
  log_posterior: Callable
  sample_posterior: Callable
  dream: Callable
  importance_log_weights: Callable
  iwae_bound: Callable
  elbo: Callable
  wake_loss: Callable
  sleep_loss: Callable
  gradients: Callable
  reconstruct: Callable
  decode_mean: Callable
  preprocessing: Preprocessing
  generative_net: nn.Module
  recognition_net: nn.Module
  generative_optimizer: optax.GradientTransformation
  recognition_optimizer: optax.GradientTransformation


def validate_config(config) -> None:
  """Raises ValueError naming the field for an invalid setting."""
  mc = config.model

  def check(cond, msg):
    if not cond:
      raise ValueError(msg)

  sizes = tuple(mc.latent_sizes)
  check(len(sizes) >= 1 and all(int(n) >= 1 for n in sizes),
        f"model.latent_sizes needs >= 1 layer of sizes >= 1; got {sizes}.")
  check(all(int(h) >= 1 for h in tuple(mc.hidden)),
        f"model.hidden sizes must be >= 1; got {tuple(mc.hidden)}.")
  check(mc.training in TRAININGS,
        f"model.training must be one of {TRAININGS}; got '{mc.training}'.")
  if mc.training == "reweighted":
    check(mc.num_samples >= 1,
          f"model.num_samples must be >= 1; got {mc.num_samples}.")
    check(mc.q_update in Q_UPDATES,
          f"model.q_update must be one of {Q_UPDATES}; got '{mc.q_update}'.")
  if mc.training == "reinforce":
    check(mc.num_samples >= 2, "model.num_samples must be >= 2 for "
          "training='reinforce' (leave-one-out baseline); got "
          f"{mc.num_samples}.")
  check(mc.sleep_batch_size >= 0,
        f"model.sleep_batch_size must be >= 0; got {mc.sleep_batch_size}.")
  check(mc.eval_num_samples >= 1,
        f"model.eval_num_samples must be >= 1; got {mc.eval_num_samples}.")
  check(config.data.binarization in ("dynamic", "static"),
        "the Helmholtz machine models binary data: data.binarization must be "
        f"'dynamic' or 'static'; got '{config.data.binarization}'.")


def _bernoulli_sum(logits: jax.Array, z: jax.Array) -> jax.Array:
  """Σ_j log Bernoulli(z_j; σ(logits_j)): [..., n] -> [...]."""
  return jnp.sum(distributions.bernoulli_log_prob(logits, z), axis=-1)


def _sample_bernoulli(rng: jax.Array, logits: jax.Array) -> jax.Array:
  """z ~ Bernoulli(σ(logits)) as float32 {0, 1}, no gradient."""
  z = jax.random.bernoulli(rng, jax.nn.sigmoid(logits)).astype(jnp.float32)
  return jax.lax.stop_gradient(z)


def make(config, dataset_info: dict) -> Helmholtz:
  """Builds the Helmholtz machine's functions from `config` (module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.generative,
      .optimizer.recognition, .train.num_steps, .train.batch_size).
    dataset_info: {'shape': (H, W, C), ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  validate_config(config)
  mc = config.model
  sizes = tuple(int(n) for n in mc.latent_sizes)
  num_layers = len(sizes)
  hidden = tuple(int(h) for h in mc.hidden)
  shape = tuple(dataset_info["shape"])
  data_dim = math.prod(shape)
  training = mc.training
  q_update = mc.get("q_update", "wake_sleep")
  num_is = int(mc.get("num_samples", 1))
  pre = make_preprocessing(config.data.binarization, "none", "0_1")
  gen = GenerativeNet(sizes, data_dim, hidden)
  rec = RecognitionNet(sizes, hidden)
  num_steps = config.train.num_steps
  tx_gen = make_optimizer(config.optimizer.generative, num_steps)
  tx_rec = make_optimizer(config.optimizer.recognition, num_steps)
  sleep_n = int(mc.sleep_batch_size) or int(config.train.batch_size)

  # ------------------------------------------- input checks (trace time) ----

  def check_batch(fn, batch):
    """The batch fits the data set the model was built for."""
    checks.check_batch(f"helmholtz.{fn}", batch, "image", shape, "numeric")

  def check_x(fn, x):
    """x is a batch of flattened binary images [B, D] (float)."""
    checks.check_array(f"helmholtz.{fn}", "x", x, shape=(None, data_dim),
                       layout=f"[B, {data_dim}] (flattened images)")

  def check_last(fn, name, a, size):
    checks.check_array(f"helmholtz.{fn}", name, a, min_rank=1,
                       layout=f"[..., {size}]")
    if checks.shape_of(a)[-1] != size:
      raise ValueError(f"helmholtz.{fn}: `{name}` must be a floating array "
                       f"[..., {size}]; got {checks.dtype_of(a).name} with "
                       f"shape {checks.shape_of(a)}.")

  def check_zs(fn, zs):
    if not isinstance(zs, (list, tuple)) or len(zs) != num_layers:
      got = (f"{type(zs).__name__} of length {len(zs)}"
             if isinstance(zs, (list, tuple)) else type(zs).__name__)
      raise ValueError(f"helmholtz.{fn}: `zs` must be a list of "
                       f"{num_layers} arrays [..., n_l], n_l = {sizes}; got "
                       f"{got}.")
    for l, (z, n) in enumerate(zip(zs, sizes)):
      check_last(fn, f"zs[{l}]", z, n)

  def check_k(fn, x, k, chunk_size):
    check_x(fn, x)
    checks.check_positive_int(f"helmholtz.{fn}", "k", k)
    if chunk_size is not None:
      checks.check_positive_int(f"helmholtz.{fn}", "chunk_size", chunk_size)

  # ------------------------------------------------------- densities -----

  def _gen(params, l, z):
    return gen.apply(params["generative"], l, z,
                     method=GenerativeNet.conditional_logits)

  def _rec(params, l, below):
    return rec.apply(params["recognition"], l, below,
                     method=RecognitionNet.conditional_logits)

  def _top(params):
    return gen.apply(params["generative"], method=GenerativeNet.top_logits)

  def log_likelihood(params, x, z1):
    """log p_θ(x | z_1): x [..., D], z_1 [..., n_1] -> [...]."""
    check_last("log_likelihood", "x", x, data_dim)
    check_last("log_likelihood", "z1", z1, sizes[0])
    return _bernoulli_sum(_gen(params, 1, z1), x)

  def log_prior(params, zs):
    """log p_θ(z) = log p_θ(z_L) + Σ_{l=2..L} log p_θ(z_{l-1} | z_l)."""
    check_zs("log_prior", zs)
    out = _bernoulli_sum(_top(params), zs[-1])
    for l in range(2, num_layers + 1):
      out = out + _bernoulli_sum(_gen(params, l, zs[l - 1]), zs[l - 2])
    return out

  def log_joint(params, x, zs):
    """log p_θ(x, z) = log p_θ(x | z_1) + log p_θ(z): [...]."""
    check_last("log_joint", "x", x, data_dim)
    check_zs("log_joint", zs)
    return log_likelihood(params, x, zs[0]) + log_prior(params, zs)

  def log_posterior(params, x, zs):
    """log q_φ(z | x) = Σ_l log q_φ(z_l | z_{l-1}), z_0 = x: [...]."""
    check_last("log_posterior", "x", x, data_dim)
    check_zs("log_posterior", zs)
    below = [x] + list(zs[:-1])
    return sum(_bernoulli_sum(_rec(params, l, b), z)
               for l, (b, z) in enumerate(zip(below, zs), 1))

  def sample_posterior(params, x, rng, k=None):
    """z ~ q_φ(z | x) bottom-up, and log q_φ(z | x).

    Args:
      x: float32 [B, D] binary.
      k: None, or K samples per example on a new leading axis.

    Returns:
      (zs: L arrays [B, n_l] (or [K, B, n_l]), log q [B] (or [K, B])).
    """
    check_x("sample_posterior", x)
    if k is not None:
      checks.check_positive_int("helmholtz.sample_posterior", "k", k)
    below = x if k is None else jnp.broadcast_to(x, (k,) + x.shape)
    zs, log_q = [], 0.0
    for l in range(1, num_layers + 1):
      logits = _rec(params, l, below)
      z = _sample_bernoulli(jax.random.fold_in(rng, l), logits)
      log_q = log_q + _bernoulli_sum(logits, z)
      zs.append(z)
      below = z
    return zs, log_q

  def dream(params, rng, n):
    """Ancestral samples (x, z) ~ p_θ(x, z), top-down: (x [n, D], zs)."""
    checks.check_positive_int("helmholtz.dream", "n", n)
    top = _top(params)
    z = _sample_bernoulli(jax.random.fold_in(rng, num_layers),
                          jnp.broadcast_to(top, (n,) + top.shape))
    zs = [z]
    for l in range(num_layers, 0, -1):
      z = _sample_bernoulli(jax.random.fold_in(rng, l - 1), _gen(params, l, z))
      zs.insert(0, z)
    return zs[0], zs[1:]

  # ------------------------------------------------------------ bounds ----

  def _log_weights(params, x, rng, k):
    zs, log_q = sample_posterior(params, x, rng, k)                # [K, B]
    return log_joint(params, x, zs) - log_q

  def importance_log_weights(params, x, rng, k, chunk_size=None):
    """log w_k = log p_θ(x, z_k) - log q_φ(z_k | x), z_k ~ q: [K, B].

    With `chunk_size` (< K, dividing K) the samples are drawn `chunk_size`
    at a time in a sequential `lax.map`, so memory is O(chunk_size · B).

    Raises:
      ValueError: K not a multiple of chunk_size.
    """
    check_k("importance_log_weights", x, k, chunk_size)
    if chunk_size is None or chunk_size >= k:
      return _log_weights(params, x, rng, k)
    if k % chunk_size:
      raise ValueError(f"importance_log_weights: K={k} is not a multiple of "
                       f"chunk_size={chunk_size}.")
    keys = jax.random.split(rng, k // chunk_size)
    chunks = jax.lax.map(lambda r: _log_weights(params, x, r, chunk_size), keys)
    return chunks.reshape(k, x.shape[0])

  def iwae_bound(params, x, rng, k, chunk_size=None):
    """L_K(x) = log (1/K) Σ_k w_k <= log p_θ(x), nats [B] (Burda et al. eq. 8)."""
    check_k("iwae_bound", x, k, chunk_size)
    return estimators.iwae_bound(
        importance_log_weights(params, x, rng, k, chunk_size))

  def elbo(params, x, rng):
    """One-sample ELBO terms [B]: elbo = -reconstruction - kl (docstring)."""
    check_x("elbo", x)
    zs, log_q = sample_posterior(params, x, rng)
    reconstruction = -log_likelihood(params, x, zs[0])
    kl = log_q - log_prior(params, zs)
    return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
            "kl": kl}

  # ----------------------------------------------------------- training ----

  def wake_loss(params, x, rng):
    """-(1/B) Σ_b log p_θ(x_b, z_b), z_b ~ q_φ(z | x_b) held fixed.

    Differentiate w.r.t. params['generative'] for the wake phase. aux: the
    one-sample ELBO of the same z ('elbo', a scalar mean).
    """
    check_x("wake_loss", x)
    zs, log_q = sample_posterior(params, x, rng)
    zs = [jax.lax.stop_gradient(z) for z in zs]
    lp = log_joint(params, x, zs)
    return -jnp.mean(lp), {"elbo": jnp.mean(lp - jax.lax.stop_gradient(log_q))}

  def sleep_loss(params, rng, n):
    """-(1/n) Σ log q_φ(z_n | x_n) on n dreams (x_n, z_n) ~ p_θ, held fixed.

    Differentiate w.r.t. params['recognition'] for the sleep phase; its
    expectation is E_{p_θ(x)}[KL(p_θ(z|x) || q_φ(z|x)) + H(p_θ(z|x))].
    """
    checks.check_positive_int("helmholtz.sleep_loss", "n", n)
    x, zs = dream(jax.lax.stop_gradient(params), rng, n)
    return -jnp.mean(log_posterior(params, x, zs)), {}

  def reweighted_losses(params, x, rng):
    """Reweighted wake-sleep surrogates (Bornschein and Bengio 2015, Alg. 1):
    (θ loss, φ wake-phase loss, metrics), with ω = softmax_k(log w) fixed."""
    zs, _ = sample_posterior(params, x, rng, num_is)          # [K, B, n_l]
    lp = log_joint(params, x, zs)                             # [K, B]
    lq = log_posterior(params, x, zs)
    log_w = jax.lax.stop_gradient(lp - lq)
    omega = jax.nn.softmax(log_w, axis=0)
    gen_loss = -jnp.mean(jnp.sum(omega * lp, axis=0))
    rec_loss = -jnp.mean(jnp.sum(omega * lq, axis=0))
    ess = 1.0 / jnp.sum(omega * omega, axis=0)                # [B]
    return gen_loss, rec_loss, {
        "iwae_bound": jnp.mean(estimators.iwae_bound(log_w)),
        "elbo": jnp.mean(log_w), "effective_sample_size": jnp.mean(ess)}

  def reinforce_losses(params, x, rng):
    """ELBO surrogates (θ loss, φ loss, metrics) with K samples: the θ loss
    -mean log p_θ(x, z_k), the φ loss -mean (f_k - b_k) log q_φ(z_k | x)."""
    zs, _ = sample_posterior(params, x, rng, num_is)          # [K, B, n_l]
    lp = log_joint(params, x, zs)                             # [K, B]
    lq = log_posterior(params, x, zs)
    f = jax.lax.stop_gradient(lp - lq)
    surrogate = estimators.score_function_surrogate(
        lq, f, estimators.leave_one_out_baseline(f, axis=0))
    return -jnp.mean(lp), -jnp.mean(surrogate), {
        "elbo": jnp.mean(f), "iwae_bound": jnp.mean(estimators.iwae_bound(f))}

  def _only(params, part, fn):
    """∇ of fn w.r.t. params[part] (the other player's params held fixed)."""
    def f(p):
      return fn({**params, part: p})
    return jax.value_and_grad(f, has_aux=True)(params[part])

  def gradients(params, x, rng):
    """The gradients the train step descends, from `params` (both phases at
    the same point; the train step instead dreams after the θ update)."""
    check_x("gradients", x)
    wake_rng, sleep_rng = jax.random.split(rng)
    g_gen, metrics = _wake_grads(params, x, wake_rng)
    g_rec, rec_metrics = _rec_grads(params, x, wake_rng, sleep_rng)
    return {"generative": g_gen, "recognition": g_rec}, {**metrics,
                                                         **rec_metrics}

  def _wake_grads(params, x, rng):
    if training == "wake_sleep":
      (loss, aux), g = _only(params, "generative",
                             lambda p: wake_loss(p, x, rng))
      return g, {"wake_loss": loss, **aux}
    losses = reweighted_losses if training == "reweighted" else reinforce_losses
    (loss, aux), g = _only(params, "generative",
                           lambda p: _pick(losses(p, x, rng), 0))
    return g, {"wake_loss": loss, **aux}

  def _pick(losses, i):
    return losses[i], losses[2]

  def _reweighted_wake_grads(params, x, rng):
    """Reweighted wake-sleep's θ and φ wake-phase gradients from one K-sample
    pass: both from the same samples and normalised weights ω (Bornschein
    and Bengio 2015, Algorithm 1). The θ loss depends on θ only and the φ
    loss on φ only (z is discrete, ω is held fixed), so one gradient of
    their sum gives both."""
    def total(p):
      gen_loss, rec_loss, aux = reweighted_losses(p, x, rng)
      return gen_loss + rec_loss, (gen_loss, rec_loss, aux)
    (_, (gen_loss, rec_loss, aux)), g = jax.value_and_grad(
        total, has_aux=True)(params)
    return (g["generative"], {"wake_loss": gen_loss, **aux},
            (rec_loss, g["recognition"]))

  def _rec_grads(params, x, wake_rng, sleep_rng, q_wake=None):
    """φ's gradient; `q_wake` = (loss, gradient) of reweighted wake-sleep's
    φ wake phase when already computed (by `_reweighted_wake_grads`)."""
    metrics = {}
    grads = []
    if training == "reinforce":
      (loss, _), g = _only(params, "recognition", lambda p: _pick(
          reinforce_losses(p, x, wake_rng), 1))
      return g, {"q_surrogate_loss": loss}
    if training == "wake_sleep" or q_update in ("sleep", "wake_sleep"):
      (loss, _), g = _only(params, "recognition",
                           lambda p: sleep_loss(p, sleep_rng, sleep_n))
      metrics["sleep_loss"] = loss
      grads.append(g)
    if training == "reweighted" and q_update in ("wake", "wake_sleep"):
      if q_wake is None:
        (loss, _), g = _only(params, "recognition",
                             lambda p: _pick(reweighted_losses(p, x, wake_rng),
                                             1))
      else:
        loss, g = q_wake
      metrics["q_wake_loss"] = loss
      grads.append(g)
    g = jax.tree.map(lambda *a: sum(a) / len(a), *grads)
    return g, metrics

  def _update(params, opt_state, part, grads, tx):
    updates, new_opt = tx.update(grads, opt_state[part], params[part])
    return optax.apply_updates(params[part], updates), new_opt

  def train_step(state, batch, rng):
    """Wake phase (θ update), then sleep / q phase (φ update) from the new θ.

    Reweighted wake-sleep takes φ's wake-phase gradient from the same K
    samples and weights as θ's (at the old θ, one pass: Algorithm 1); its
    sleep phase, if any, dreams from the new θ."""
    check_batch("train_step", batch)
    pre_rng, wake_rng, sleep_rng = jax.random.split(rng, 3)
    x = pre.apply(pre_rng, batch["image"]).reshape(-1, data_dim)
    params, opt = state.params, state.opt_state
    q_wake = None
    if training == "reweighted":
      # One K-sample pass for θ's and φ's wake phases (Algorithm 1).
      g_gen, metrics, q_wake = _reweighted_wake_grads(params, x, wake_rng)
    else:
      g_gen, metrics = _wake_grads(params, x, wake_rng)
    new_gen, opt_gen = _update(params, opt, "generative", g_gen, tx_gen)
    params = {**params, "generative": new_gen}
    g_rec, rec_metrics = _rec_grads(params, x, wake_rng, sleep_rng, q_wake)
    new_rec, opt_rec = _update(params, opt, "recognition", g_rec, tx_rec)
    metrics.update(rec_metrics)
    metrics["loss"] = -metrics["elbo"]
    metrics["generative_grad_norm"] = optax.global_norm(g_gen)
    metrics["recognition_grad_norm"] = optax.global_norm(g_rec)
    return state.replace(
        step=state.step + 1,
        params={"generative": new_gen, "recognition": new_rec},
        opt_state={"generative": opt_gen, "recognition": opt_rec}), metrics

  def init(rng, batch):
    if batch is not None:
      check_batch("init", batch)
    del batch
    g_rng, r_rng, state_rng = jax.random.split(rng, 3)
    zs = [jnp.zeros((1, n), jnp.float32) for n in sizes]
    params = {
        "generative": dict(gen.init(g_rng, zs)),
        "recognition": dict(rec.init(r_rng, jnp.zeros((1, data_dim)), zs))}
    opt_state = {"generative": tx_gen.init(params["generative"]),
                 "recognition": tx_rec.init(params["recognition"])}
    return TrainState.create(state_rng, params, opt_state)

  # --------------------------------------------------------- evaluation ---

  def _bits(nats):
    return nats / (data_dim * math.log(2))

  def _inputs(batch, rng):
    return pre.apply(rng, batch["image"]).reshape(-1, data_dim)

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    pre_rng, z_rng = jax.random.split(rng)
    terms = elbo(params, _inputs(batch, pre_rng), z_rng)
    return {**terms, "elbo_bits_per_dim": _bits(-terms["elbo"])}

  def evaluate_final(params, batch, rng):
    check_batch("evaluate_final", batch)
    pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
    x = _inputs(batch, pre_rng)
    terms = elbo(params, x, z_rng)
    nll = -iwae_bound(params, x, w_rng, mc.eval_num_samples,
                      mc.eval_chunk_size)
    return {"elbo": terms["elbo"], "kl": terms["kl"],
            "elbo_bits_per_dim": _bits(-terms["elbo"]), "nll": nll,
            "bits_per_dim": _bits(nll)}

  def decode_mean(params, z1):
    """σ(g_1(z_1)) = E[x | z_1]: [N, n_1] -> [N, D] in [0, 1]."""
    checks.check_array("helmholtz.decode_mean", "z1", z1,
                       shape=(None, sizes[0]), layout=f"[N, {sizes[0]}]")
    return jax.nn.sigmoid(_gen(params, 1, z1))

  def sample(params, rng, n):
    """Ancestral z_L .. z_1 ~ p_θ, shown as E[x | z_1]: [n, H, W, C]."""
    checks.check_positive_int("helmholtz.sample", "n", n)
    _, zs = dream(params, rng, n)
    return decode_mean(params, zs[0]).reshape((n,) + shape)

  def reconstruct(params, x, rng):
    """E[x | z_1] at one z ~ q_φ(z | x): [B, D] -> [B, D]."""
    check_x("reconstruct", x)
    zs, _ = sample_posterior(params, x, rng)
    return decode_mean(params, zs[0])

  def images(params, batch, rng):
    """{'samples': 64 means E[x|z_1], 'dreams': 64 binary x ~ p_θ,
    'reconstructions': 16 data above their reconstructions}, [N, H, W, C]."""
    check_batch("images", batch)
    pre_rng, s_rng, d_rng, r_rng = jax.random.split(rng, 4)
    x = _inputs({"image": batch["image"][:16]}, pre_rng)
    n = x.shape[0]
    return {"samples": sample(params, s_rng, 64),
            "dreams": dream(params, d_rng, 64)[0].reshape((64,) + shape),
            "reconstructions": jnp.concatenate(
                [x, reconstruct(params, x, r_rng)]).reshape((2 * n,) + shape)}

  def protocol():
    out = {"model": "helmholtz", "training": training,
           "latent_sizes": list(sizes), "hidden": list(hidden),
           "preprocessing": pre.description,
           "elbo": "Monte Carlo, 1 sample z ~ q(z|x): log p(x,z) - log q(z|x)",
           "nll_estimator": "importance sampling (IWAE bound), proposal q(z|x)",
           "nll_num_samples": mc.eval_num_samples,
           "bits_per_dim": "nll / (D ln 2)"}
    if training == "reweighted":
      out.update(num_samples=num_is, q_update=q_update)
    if training == "reinforce":
      out.update(num_samples=num_is, q_gradient="score function, "
                 "leave-one-out baseline")
    return out

  return Helmholtz(init, train_step, evaluate, evaluate_final, sample,
                   protocol, images, log_joint, log_prior, log_likelihood,
                   log_posterior, sample_posterior, dream,
                   importance_log_weights, iwae_bound, elbo, wake_loss,
                   sleep_loss, gradients, reconstruct, decode_mean, pre, gen,
                   rec, tx_gen, tx_rec)

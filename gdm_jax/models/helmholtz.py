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
        q updates). The samples and weights of both wake phases come from
        one K-sample pass at (θ_t, φ_t) (`reweighted_pass`, Algorithm 1);
        the sleep phase dreams from the updated θ.
  'reinforce'   the ELBO-trained SBN on the same binary latents, for comparison
      (the like-for-like of a VAE, in the spirit of NVIL, Mnih and Gregor
      2014): K >= 2 samples z_k ~ q_φ(z | x), f_k = log p_θ(x, z_k) -
      log q_φ(z_k | x);
      θ ascends (1/K) Σ_k log p_θ(x, z_k) (∇_θ of the ELBO, unbiased);
      φ ascends the score-function surrogate (1/K) Σ_k (f_k - b_k) log
        q_φ(z_k | x) with the leave-one-out baseline b_k = mean_{j≠k} f_j
        (`estimators.score_function_surrogate`, `leave_one_out_baseline`;
        Williams 1992, Kool et al. 2019), an unbiased estimate of ∇_φ ELBO
        (the pathwise term -∇_φ log q_φ has mean 0 and is dropped). φ's
        step follows θ's: f_k is evaluated at the updated θ, on the same
        samples (same key).

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
chains from core.optimizers.make_optimizer). Data: binarised images
(`data.binarization` 'dynamic' or 'static').

State: `state.params = {'generative': vars_θ, 'recognition': vars_φ}` (flax
variables), `state.opt_state` the same two keys.

Functions (a notebook calls them on a checkpoint's params without `make`:
`gen, rec = build_networks(config.model, shape)`; `params` is the whole
{'generative', 'recognition'} dict; x binary, flattened float32 [..., D];
zs a list of L arrays [..., n_l]; log-probabilities in nats):
  log_likelihood, log_prior, log_joint, dream     p_θ (the SBN)
  log_posterior, sample_posterior                 q_φ
  elbo, importance_log_weights, iwae_bound        the bounds
  wake_loss, sleep_loss                           the two phases
  reweighted_pass, reweighted_losses              reweighted wake-sleep
  reinforce_losses                                the ELBO by REINFORCE
  generative_loss, recognition_loss, gradients    θ's and φ's objectives
  train_step, init, evaluate, evaluate_final, sample, reconstruct, images

References:
  Hinton, Dayan, Frey and Neal 1995, "The wake-sleep algorithm for
    unsupervised neural networks", Science 268.
  Dayan, Hinton, Neal and Zemel 1995, "The Helmholtz machine", Neural
    Computation 7.
  Neal 1992, "Connectionist learning of belief networks" (the SBN).
  Bornschein and Bengio 2015, "Reweighted wake-sleep", ICLR (Alg. 1, eq.
    5-6; the IS estimate of log p(x) with q as proposal for evaluation).
  Mnih and Gregor 2014, "Neural variational inference and learning in
    belief networks" (NVIL: score-function training of SBNs with baselines).
  Williams 1992 (REINFORCE); Kool, van Hoof and Welling 2019, "Buy 4
    REINFORCE samples, get a baseline for free!" (leave-one-out baseline).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8 and section 5.1 (K = 1000 test NLL).
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
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.nn import MLP

TRAININGS = ("wake_sleep", "reweighted", "reinforce")
Q_UPDATES = ("wake", "sleep", "wake_sleep")

# A list of binary latent layers [z_1, ..., z_L], each float32 [..., n_l].
Latents = list[jax.Array]


# ------------------------------------------------------------ networks ----


class GenerativeNet(nn.Module):
  """p_θ: top prior logits b [n_L] and the top-down conditionals g_l.

  Attributes:
    latent_sizes: (n_1, ..., n_L), bottom to top.
    image_shape: (H, W, C) of the data; D = H W C pixels.
    hidden: hidden sizes of each g_l (() = affine).
  """
  latent_sizes: Sequence[int]
  image_shape: Sequence[int]
  hidden: Sequence[int] = ()

  @property
  def data_dim(self) -> int:
    """D = H·W·C, the flattened image size."""
    return math.prod(self.image_shape)

  def setup(self):
    """The top prior's logits [n_L] and one decoder MLP g_l per layer."""
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
    """Logits b of the top prior p_θ(z_L): [n_L]."""
    return self.prior_logits

  def __call__(self, zs):
    """[g_l(z_l) for l = 1..L]: every conditional's logits (for `init`)."""
    return [self.conditional_logits(l, z) for l, z in enumerate(zs, 1)]


class RecognitionNet(nn.Module):
  """q_φ: the bottom-up conditionals r_l (logits of z_l given z_{l-1}).

  Attributes:
    latent_sizes: (n_1, ..., n_L), bottom to top.
    data_dim: D, the number of pixels of x = z_0.
    hidden: hidden sizes of each r_l (() = affine).
  """
  latent_sizes: Sequence[int]
  data_dim: int
  hidden: Sequence[int] = ()

  def setup(self):
    """One encoder MLP r_l per layer."""
    self.encoders = [MLP(tuple(self.hidden) + (n,), name=f"encoder_{l}")
                     for l, n in enumerate(self.latent_sizes, 1)]

  def conditional_logits(self, l: int, below: jax.Array) -> jax.Array:
    """Logits of q_φ(z_l | z_{l-1}): [..., n_{l-1}] -> [..., n_l] (l >= 1)."""
    return self.encoders[l - 1](below)

  def __call__(self, x, zs):
    """[r_l(z_{l-1}) for l = 1..L], z_0 = x: every conditional's logits
    (for `init`)."""
    below = [x] + list(zs[:-1])
    return [self.conditional_logits(l, b) for l, b in enumerate(below, 1)]


def build_networks(model_config, shape: Sequence[int]
                   ) -> tuple[GenerativeNet, RecognitionNet]:
  """(p_θ, q_φ) from a run's `config.model` block and the data's (H, W, C),
  e.g. to call this module's functions on a loaded checkpoint."""
  sizes = tuple(int(n) for n in model_config.latent_sizes)
  hidden = tuple(int(h) for h in model_config.hidden)
  shape = tuple(shape)
  return (GenerativeNet(sizes, shape, hidden),
          RecognitionNet(sizes, math.prod(shape), hidden))


# -------------------------------------------- input checks (trace time) ----


def _check_batch(gen: GenerativeNet, fn: str, batch) -> None:
  """The batch fits the data set the model was built for."""
  checks.check_batch(f"helmholtz.{fn}", batch, "image", tuple(gen.image_shape),
                     "numeric")


def _check_x(data_dim: int, fn: str, x) -> None:
  """x is a batch of flattened binary images [B, D] (float)."""
  checks.check_array(f"helmholtz.{fn}", "x", x, shape=(None, data_dim),
                     layout=f"[B, {data_dim}] (flattened images)")


def _check_last(fn: str, name: str, a, size: int) -> None:
  checks.check_array(f"helmholtz.{fn}", name, a, min_rank=1,
                     layout=f"[..., {size}]")
  if checks.shape_of(a)[-1] != size:
    raise ValueError(f"helmholtz.{fn}: `{name}` must be a floating array "
                     f"[..., {size}]; got {checks.dtype_of(a).name} with "
                     f"shape {checks.shape_of(a)}.")


def _check_zs(sizes: Sequence[int], fn: str, zs) -> None:
  sizes = tuple(sizes)
  if not isinstance(zs, (list, tuple)) or len(zs) != len(sizes):
    got = (f"{type(zs).__name__} of length {len(zs)}"
           if isinstance(zs, (list, tuple)) else type(zs).__name__)
    raise ValueError(f"helmholtz.{fn}: `zs` must be a list of {len(sizes)} "
                     f"arrays [..., n_l], n_l = {sizes}; got {got}.")
  for l, (z, n) in enumerate(zip(zs, sizes)):
    _check_last(fn, f"zs[{l}]", z, n)


def _check_x_zs(fn: str, x, zs, data_dim: int, sizes: Sequence[int]) -> None:
  _check_last(fn, "x", x, data_dim)
  _check_zs(sizes, fn, zs)


def _check_k(data_dim: int, fn: str, x, k, chunk_size) -> None:
  _check_x(data_dim, fn, x)
  checks.check_positive_int(f"helmholtz.{fn}", "k", k)
  if chunk_size is not None:
    checks.check_positive_int(f"helmholtz.{fn}", "chunk_size", chunk_size)


# ----------------------------------------------------------- densities ----


def _bernoulli_sum(logits: jax.Array, z: jax.Array) -> jax.Array:
  """Σ_j log Bernoulli(z_j; σ(logits_j)): [..., n] -> [...]."""
  return jnp.sum(distributions.bernoulli_log_prob(logits, z), axis=-1)


def _sample_bernoulli(rng: jax.Array, logits: jax.Array) -> jax.Array:
  """z ~ Bernoulli(σ(logits)) as float32 {0, 1}, no gradient."""
  z = jax.random.bernoulli(rng, jax.nn.sigmoid(logits)).astype(jnp.float32)
  return jax.lax.stop_gradient(z)


def _gen(gen: GenerativeNet, params, l: int, z: jax.Array) -> jax.Array:
  return gen.apply(params["generative"], l, z,
                   method=GenerativeNet.conditional_logits)


def _rec(rec: RecognitionNet, params, l: int, below: jax.Array) -> jax.Array:
  return rec.apply(params["recognition"], l, below,
                   method=RecognitionNet.conditional_logits)


def log_likelihood(gen: GenerativeNet, params, x: jax.Array,
                   z1: jax.Array) -> jax.Array:
  """log p_θ(x | z_1) = Σ_j log Bernoulli(x_j; σ(g_1(z_1)_j)).

  Args:
    params: {'generative': ..., ...}.
    x: float [..., D] binary; z1: float [..., n_1] binary.

  Returns:
    float [...], nats.

  Raises:
    ValueError: x or z1 do not end in D or n_1, or are not floating.
  """
  _check_last("log_likelihood", "x", x, gen.data_dim)
  _check_last("log_likelihood", "z1", z1, gen.latent_sizes[0])
  return _bernoulli_sum(_gen(gen, params, 1, z1), x)


def log_prior(gen: GenerativeNet, params, zs: Latents) -> jax.Array:
  """log p_θ(z) = log p_θ(z_L) + Σ_{l=2..L} log p_θ(z_{l-1} | z_l): [...].

  Raises:
    ValueError: zs is not L floating arrays [..., n_l].

  References:
    Neal 1992 (the sigmoid belief network).
  """
  _check_zs(gen.latent_sizes, "log_prior", zs)
  top = gen.apply(params["generative"], method=GenerativeNet.top_logits)
  out = _bernoulli_sum(top, zs[-1])
  for l in range(2, len(zs) + 1):
    out = out + _bernoulli_sum(_gen(gen, params, l, zs[l - 1]), zs[l - 2])
  return out


def log_joint(gen: GenerativeNet, params, x: jax.Array,
              zs: Latents) -> jax.Array:
  """log p_θ(x, z) = log p_θ(x | z_1) + log p_θ(z): x [..., D] -> [...] nats.

  Raises:
    ValueError: x or zs do not fit the model.
  """
  _check_x_zs("log_joint", x, zs, gen.data_dim, gen.latent_sizes)
  return log_likelihood(gen, params, x, zs[0]) + log_prior(gen, params, zs)


def log_posterior(rec: RecognitionNet, params, x: jax.Array,
                  zs: Latents) -> jax.Array:
  """log q_φ(z | x) = Σ_l log q_φ(z_l | z_{l-1}), z_0 = x: [...] nats.

  Raises:
    ValueError: x or zs do not fit the model.
  """
  _check_x_zs("log_posterior", x, zs, rec.data_dim, rec.latent_sizes)
  below = [x] + list(zs[:-1])
  return sum(_bernoulli_sum(_rec(rec, params, l, b), z)
             for l, (b, z) in enumerate(zip(below, zs), 1))


def sample_posterior(rec: RecognitionNet, params, x: jax.Array,
                     rng: jax.Array, k: Optional[int] = None
                     ) -> tuple[Latents, jax.Array]:
  """z ~ q_φ(z | x) bottom-up (layer l from fold_in(rng, l)), and log q_φ(z | x).

  Args:
    x: float32 [B, D] binary.
    k: None, or K samples per example on a new leading axis.

  Returns:
    (zs: L arrays [B, n_l] (or [K, B, n_l]), no gradient; log q [B] (or
    [K, B]), nats).

  Raises:
    ValueError: x is not [B, D], or k is not a positive int.
  """
  _check_x(rec.data_dim, "sample_posterior", x)
  if k is not None:
    checks.check_positive_int("helmholtz.sample_posterior", "k", k)
  below = x if k is None else jnp.broadcast_to(x, (k,) + x.shape)
  zs, log_q = [], 0.0
  for l in range(1, len(rec.latent_sizes) + 1):
    logits = _rec(rec, params, l, below)
    z = _sample_bernoulli(jax.random.fold_in(rng, l), logits)
    log_q = log_q + _bernoulli_sum(logits, z)
    zs.append(z)
    below = z
  return zs, log_q


def dream(gen: GenerativeNet, params, rng: jax.Array,
          n: int) -> tuple[jax.Array, Latents]:
  """Ancestral samples (x, z) ~ p_θ(x, z), top-down (layer l from
  fold_in(rng, l)): (x [n, D], zs, L arrays [n, n_l]), binary, no gradient.

  Raises:
    ValueError: n is not a positive int.

  References:
    Hinton et al. 1995 (the sleep phase's "fantasies").
  """
  checks.check_positive_int("helmholtz.dream", "n", n)
  num_layers = len(gen.latent_sizes)
  top = gen.apply(params["generative"], method=GenerativeNet.top_logits)
  z = _sample_bernoulli(jax.random.fold_in(rng, num_layers),
                        jnp.broadcast_to(top, (n,) + top.shape))
  zs = [z]
  for l in range(num_layers, 0, -1):
    z = _sample_bernoulli(jax.random.fold_in(rng, l - 1),
                          _gen(gen, params, l, z))
    zs.insert(0, z)
  return zs[0], zs[1:]


# -------------------------------------------------------------- bounds ----


def _log_weights(gen, rec, params, x, rng, k):
  zs, log_q = sample_posterior(rec, params, x, rng, k)          # [K, B]
  return log_joint(gen, params, x, zs) - log_q


def importance_log_weights(gen: GenerativeNet, rec: RecognitionNet, params,
                           x: jax.Array, rng: jax.Array, k: int,
                           chunk_size: Optional[int] = None) -> jax.Array:
  """log w_k = log p_θ(x, z_k) - log q_φ(z_k | x), z_k ~ q: [K, B] nats.

  With `chunk_size` (< K, dividing K) the samples are drawn `chunk_size`
  at a time in a sequential `lax.map` (`estimators.chunked_log_weights`),
  so memory is O(chunk_size · B).

  Raises:
    ValueError: x is not [B, D]; k or chunk_size not positive ints; K not
      a multiple of chunk_size.
  """
  _check_k(gen.data_dim, "importance_log_weights", x, k, chunk_size)
  return estimators.chunked_log_weights(
      functools.partial(_log_weights, gen, rec, params, x), rng, k,
      chunk_size, fn="helmholtz.importance_log_weights")


def iwae_bound(gen: GenerativeNet, rec: RecognitionNet, params, x: jax.Array,
               rng: jax.Array, k: int,
               chunk_size: Optional[int] = None) -> jax.Array:
  """L_K(x) = log (1/K) Σ_k w_k <= log p_θ(x) in expectation: [B] nats
  (`importance_log_weights`, same args).

  References:
    Burda et al. 2016, eq. 8; Bornschein and Bengio 2015 (q as proposal).
  """
  _check_k(gen.data_dim, "iwae_bound", x, k, chunk_size)
  return estimators.iwae_bound(
      importance_log_weights(gen, rec, params, x, rng, k, chunk_size))


def elbo(gen: GenerativeNet, rec: RecognitionNet, params, x: jax.Array,
         rng: jax.Array) -> dict:
  """One-sample ELBO, z ~ q_φ(z | x):

    elbo = log p_θ(x, z) - log q_φ(z | x) = -reconstruction - kl,
    reconstruction = -log p_θ(x | z_1),  kl = log q_φ(z | x) - log p_θ(z).

  Args:
    x: float32 [B, D] binary.

  Returns:
    {'elbo', 'reconstruction', 'kl'}: float [B] each, nats.

  Raises:
    ValueError: x is not [B, D].
  """
  _check_x(gen.data_dim, "elbo", x)
  zs, log_q = sample_posterior(rec, params, x, rng)
  reconstruction = -log_likelihood(gen, params, x, zs[0])
  kl = log_q - log_prior(gen, params, zs)
  return {"elbo": -reconstruction - kl, "reconstruction": reconstruction,
          "kl": kl}


# ------------------------------------------------------ the two phases ----


def wake_loss(gen: GenerativeNet, rec: RecognitionNet, params, x: jax.Array,
              rng: jax.Array) -> tuple[jax.Array, dict]:
  """The wake phase's loss: -(1/B) Σ_b log p_θ(x_b, z_b), z_b ~ q_φ(z | x_b)
  held fixed; its θ-gradient is a stochastic gradient of -E_data E_q[log
  p_θ(x, z)] (the ELBO's θ-gradient).

  Args:
    x: float32 [B, D] binary.

  Returns:
    (loss [], {'elbo': the batch mean of the same z's one-sample ELBO}).

  References:
    Hinton et al. 1995 (wake phase).
  """
  _check_x(gen.data_dim, "wake_loss", x)
  zs, log_q = sample_posterior(rec, params, x, rng)
  zs = [jax.lax.stop_gradient(z) for z in zs]
  lp = log_joint(gen, params, x, zs)
  return -jnp.mean(lp), {"elbo": jnp.mean(lp - jax.lax.stop_gradient(log_q))}


def sleep_loss(gen: GenerativeNet, rec: RecognitionNet, params,
               rng: jax.Array, n: int) -> tuple[jax.Array, dict]:
  """The sleep phase's loss: -(1/n) Σ log q_φ(z_i | x_i) on n dreams (x_i,
  z_i) ~ p_θ (`dream`, no gradient into θ). Its φ-gradient is a stochastic
  gradient of E_{p_θ(x)} KL(p_θ(z|x) || q_φ(z|x)) (its expectation is that
  KL plus the entropy of p_θ(z|x), which does not depend on φ).

  Returns:
    (loss [], {}).

  Raises:
    ValueError: n is not a positive int.

  References:
    Hinton et al. 1995 (sleep phase).
  """
  checks.check_positive_int("helmholtz.sleep_loss", "n", n)
  x, zs = dream(gen, jax.lax.stop_gradient(params), rng, n)
  return -jnp.mean(log_posterior(rec, params, x, zs)), {}


def reweighted_pass(gen: GenerativeNet, rec: RecognitionNet, params,
                    x: jax.Array, rng: jax.Array,
                    k: int) -> tuple[Latents, jax.Array]:
  """Reweighted wake-sleep's K-sample pass at (θ_t, φ_t): z_k ~ q_φ(z | x)
  and log w_k = log p_θ(x, z_k) - log q_φ(z_k | x), both held fixed
  (stop_gradient). Both players' wake phases use this one pass.

  Args:
    x: float32 [B, D] binary.

  Returns:
    (zs: L arrays [K, B, n_l], log_w [K, B] nats).

  References:
    Bornschein and Bengio 2015, Algorithm 1.
  """
  zs, log_q = sample_posterior(rec, params, x, rng, k)       # [K, B, n_l]
  log_w = log_joint(gen, params, x, zs) - log_q              # [K, B]
  return zs, jax.lax.stop_gradient(log_w)


def reweighted_losses(gen: GenerativeNet, rec: RecognitionNet, params,
                      x: jax.Array, zs: Latents, log_w: jax.Array
                      ) -> tuple[jax.Array, jax.Array, dict]:
  """Reweighted wake-sleep's wake-phase losses with ω = softmax_k(log w)
  fixed (from `reweighted_pass`):

    θ: -(1/B) Σ_b Σ_k ω_kb log p_θ(x_b, z_kb)   (eq. 5: the gradient of the
        K-sample importance estimate of log p_θ(x));
    φ: -(1/B) Σ_b Σ_k ω_kb log q_φ(z_kb | x_b)  (eq. 6: the wake-phase q
        update, a self-normalised estimate of ∇_φ KL(p_θ(z|x) || q_φ(z|x))).

  The θ loss depends on θ only and the φ loss on φ only (z discrete, ω
  fixed).

  Args:
    x: float32 [B, D]; zs: L arrays [K, B, n_l]; log_w: [K, B].

  Returns:
    (θ loss [], φ loss [], {'iwae_bound', 'elbo', 'effective_sample_size'}
    batch means: log (1/K) Σ w, mean_k log w and 1 / Σ_k ω²).

  References:
    Bornschein and Bengio 2015, eq. 5-6 and Algorithm 1.
  """
  omega = jax.nn.softmax(log_w, axis=0)
  gen_loss = -jnp.mean(jnp.sum(omega * log_joint(gen, params, x, zs), axis=0))
  rec_loss = -jnp.mean(jnp.sum(omega * log_posterior(rec, params, x, zs),
                               axis=0))
  ess = 1.0 / jnp.sum(omega * omega, axis=0)                  # [B]
  return gen_loss, rec_loss, {
      "iwae_bound": jnp.mean(estimators.iwae_bound(log_w)),
      "elbo": jnp.mean(log_w), "effective_sample_size": jnp.mean(ess)}


def reinforce_losses(gen: GenerativeNet, rec: RecognitionNet, params,
                     x: jax.Array, rng: jax.Array,
                     k: int) -> tuple[jax.Array, jax.Array, dict]:
  """ELBO surrogates with K >= 2 samples z_k ~ q_φ(z | x), f_k = log p_θ(x,
  z_k) - log q_φ(z_k | x) (held fixed):

    θ: -(1/(K B)) Σ log p_θ(x, z_k)                  (∇_θ ELBO, unbiased);
    φ: -(1/(K B)) Σ (f_k - b_k) log q_φ(z_k | x),    b_k = mean_{j≠k} f_j,
  the score-function (REINFORCE) estimate of ∇_φ ELBO with a leave-one-out
  baseline (`estimators.score_function_surrogate`, `leave_one_out_baseline`).

  Returns:
    (θ loss [], φ loss [], {'elbo', 'iwae_bound'} batch means).

  References:
    Williams 1992; Mnih and Gregor 2014 (NVIL); Kool et al. 2019.
  """
  zs, _ = sample_posterior(rec, params, x, rng, k)          # [K, B, n_l]
  lp = log_joint(gen, params, x, zs)                        # [K, B]
  lq = log_posterior(rec, params, x, zs)
  f = jax.lax.stop_gradient(lp - lq)
  surrogate = estimators.score_function_surrogate(
      lq, f, estimators.leave_one_out_baseline(f, axis=0))
  return -jnp.mean(lp), -jnp.mean(surrogate), {
      "elbo": jnp.mean(f), "iwae_bound": jnp.mean(estimators.iwae_bound(f))}


# ------------------------------------------------ the players' objectives ----


def generative_loss(gen: GenerativeNet, rec: RecognitionNet, params,
                    x: jax.Array, rng: jax.Array,
                    wake: Optional[tuple] = None, *, training: str,
                    num_samples: int = 1) -> tuple[jax.Array, dict]:
  """θ's loss (differentiate w.r.t. params['generative']), by `training`:
  'wake_sleep' `wake_loss`; 'reweighted' the θ loss of `reweighted_losses`
  on `wake` = `reweighted_pass(...)` at (θ_t, φ_t); 'reinforce' the θ loss
  of `reinforce_losses` (K = num_samples, key `rng`).

  Returns:
    (loss [], metrics: 'elbo' and the mode's other batch means).
  """
  if training == "wake_sleep":
    return wake_loss(gen, rec, params, x, rng)
  if training == "reweighted":
    loss, _, metrics = reweighted_losses(gen, rec, params, x, *wake)
  else:
    loss, _, metrics = reinforce_losses(gen, rec, params, x, rng, num_samples)
  return loss, metrics


def recognition_loss(gen: GenerativeNet, rec: RecognitionNet, params,
                     x: jax.Array, wake_rng: jax.Array, sleep_rng: jax.Array,
                     wake: Optional[tuple] = None, *, training: str,
                     num_samples: int = 1, q_update: str = "wake_sleep",
                     sleep_batch_size: int = 1) -> tuple[jax.Array, dict]:
  """φ's loss (differentiate w.r.t. params['recognition']), by `training`:

    'wake_sleep'  `sleep_loss` on `sleep_batch_size` dreams;
    'reweighted'  by `q_update`: 'sleep' `sleep_loss`, 'wake' the φ loss of
                  `reweighted_losses` on `wake` (the pass at (θ_t, φ_t)),
                  'wake_sleep' their average;
    'reinforce'   the score-function φ loss of `reinforce_losses` (K =
                  num_samples, key `wake_rng`, as θ's).

  Returns:
    (loss [], {'sleep_loss' and/or 'q_wake_loss', or 'q_surrogate_loss'}).
  """
  if training == "reinforce":
    _, loss, _ = reinforce_losses(gen, rec, params, x, wake_rng, num_samples)
    return loss, {"q_surrogate_loss": loss}
  terms = {}
  if training == "wake_sleep" or q_update in ("sleep", "wake_sleep"):
    terms["sleep_loss"], _ = sleep_loss(gen, rec, params, sleep_rng,
                                        sleep_batch_size)
  if training == "reweighted" and q_update in ("wake", "wake_sleep"):
    _, terms["q_wake_loss"], _ = reweighted_losses(gen, rec, params, x, *wake)
  return sum(terms.values()) / len(terms), terms


def _player(loss_fn: Callable, part: str, params) -> Callable:
  """loss_fn(params) as a function of params[part] alone (the other player
  held at its value in `params`), for jax.grad and gradient_update."""
  return lambda player: loss_fn({**params, part: player})


def gradients(gen: GenerativeNet, rec: RecognitionNet, params, x: jax.Array,
              rng: jax.Array, **options) -> tuple[dict, dict]:
  """Both players' gradients at the same `params` (the train step instead
  takes φ's after θ's update): ∇_θ `generative_loss` and ∇_φ
  `recognition_loss`, wake_rng, sleep_rng = split(rng).

  Args:
    x: float32 [B, D] binary.
    options: training, num_samples, q_update, sleep_batch_size.

  Returns:
    ({'generative': g_θ, 'recognition': g_φ}, metrics incl. 'wake_loss').

  Raises:
    ValueError: x is not [B, D].
  """
  _check_x(gen.data_dim, "gradients", x)
  wake_rng, sleep_rng = jax.random.split(rng)
  wake = _wake_pass(gen, rec, params, x, wake_rng, options)
  gen_options = {k: options[k] for k in ("training", "num_samples")}
  (loss, metrics), g_gen = jax.value_and_grad(_player(
      lambda p: generative_loss(gen, rec, p, x, wake_rng, wake, **gen_options),
      "generative", params), has_aux=True)(params["generative"])
  (_, rec_metrics), g_rec = jax.value_and_grad(_player(
      lambda p: recognition_loss(gen, rec, p, x, wake_rng, sleep_rng, wake,
                                 **options),
      "recognition", params), has_aux=True)(params["recognition"])
  return ({"generative": g_gen, "recognition": g_rec},
          {"wake_loss": loss, **metrics, **rec_metrics})


def _wake_pass(gen, rec, params, x, rng, options) -> Optional[tuple]:
  """`reweighted_pass` for training='reweighted', else None."""
  if options["training"] != "reweighted":
    return None
  return reweighted_pass(gen, rec, params, x, rng, options["num_samples"])


# ------------------------------------------------------------ training ----


def _inputs(gen: GenerativeNet, pre: Preprocessing, batch: dict,
            rng: jax.Array) -> jax.Array:
  """The preprocessed (binarised) batch, flattened: [B, D]."""
  return pre.apply(rng, batch["image"]).reshape(-1, gen.data_dim)


def init(gen: GenerativeNet, rec: RecognitionNet,
         tx_gen: optax.GradientTransformation,
         tx_rec: optax.GradientTransformation, rng: jax.Array,
         batch: Optional[dict]) -> TrainState:
  """TrainState with params and opt_state {'generative', 'recognition'};
  `batch` (optional) is only checked."""
  if batch is not None:
    _check_batch(gen, "init", batch)
  g_rng, r_rng, state_rng = jax.random.split(rng, 3)
  zs = [jnp.zeros((1, n), jnp.float32) for n in gen.latent_sizes]
  params = {"generative": dict(gen.init(g_rng, zs)),
            "recognition": dict(rec.init(r_rng, jnp.zeros((1, gen.data_dim)),
                                         zs))}
  return TrainState.create_players(
      state_rng, params, {"generative": tx_gen, "recognition": tx_rec})


def train_step(gen: GenerativeNet, rec: RecognitionNet, pre: Preprocessing,
               tx_gen: optax.GradientTransformation,
               tx_rec: optax.GradientTransformation, state: TrainState,
               batch: dict, rng: jax.Array, **options
               ) -> tuple[TrainState, dict]:
  """One step of both players, each a `core.steps.gradient_update`: θ on
  `generative_loss` at (θ_t, φ_t), then φ on `recognition_loss` at
  (θ_{t+1}, φ_t) (the sleep phase dreams from the updated θ); reweighted
  wake-sleep's wake phases share one `reweighted_pass` at (θ_t, φ_t).

  Args:
    batch: {'image': [B, H, W, C] pixels}.
    options: training, num_samples, q_update, sleep_batch_size.

  Returns:
    (state, metrics: 'loss' = -'elbo', 'wake_loss', the phases' terms and
    'generative_grad_norm', 'recognition_grad_norm').

  References:
    Hinton et al. 1995; Bornschein and Bengio 2015, Algorithm 1.
  """
  _check_batch(gen, "train_step", batch)
  pre_rng, wake_rng, sleep_rng = jax.random.split(rng, 3)
  x = _inputs(gen, pre, batch, pre_rng)
  params, opt = state.params, state.opt_state
  wake = _wake_pass(gen, rec, params, x, wake_rng, options)
  gen_options = {k: options[k] for k in ("training", "num_samples")}
  g = steps.gradient_update(_player(
      lambda p: generative_loss(gen, rec, p, x, wake_rng, wake, **gen_options),
      "generative", params), tx_gen, params["generative"], opt["generative"])
  params = {**params, "generative": g.params}
  r = steps.gradient_update(_player(
      lambda p: recognition_loss(gen, rec, p, x, wake_rng, sleep_rng, wake,
                                 **options),
      "recognition", params), tx_rec, params["recognition"],
      opt["recognition"])
  metrics = {"wake_loss": g.loss, **g.aux, **r.aux, "loss": -g.aux["elbo"],
             "generative_grad_norm": g.grad_norm,
             "recognition_grad_norm": r.grad_norm}
  return state.replace(
      step=state.step + 1,
      params={"generative": g.params, "recognition": r.params},
      opt_state={"generative": g.opt_state, "recognition": r.opt_state}
  ), metrics


# ---------------------------------------------------------- evaluation ----


def evaluate(gen: GenerativeNet, rec: RecognitionNet, pre: Preprocessing,
             params, batch: dict, rng: jax.Array) -> dict:
  """Validation metrics [B]: `elbo`'s terms and 'elbo_bits_per_dim'."""
  _check_batch(gen, "evaluate", batch)
  pre_rng, z_rng = jax.random.split(rng)
  terms = elbo(gen, rec, params, _inputs(gen, pre, batch, pre_rng), z_rng)
  return {**terms, "elbo_bits_per_dim": distributions.bits_per_dim(
      -terms["elbo"], gen.data_dim)}


def evaluate_final(gen: GenerativeNet, rec: RecognitionNet,
                   pre: Preprocessing, params, batch: dict, rng: jax.Array, *,
                   num_samples: int, chunk_size: Optional[int]) -> dict:
  """Test metrics [B]: 'elbo', 'kl', 'elbo_bits_per_dim', the K =
  num_samples importance-sampled 'nll' (-`iwae_bound`) and its
  'bits_per_dim'."""
  _check_batch(gen, "evaluate_final", batch)
  pre_rng, z_rng, w_rng = jax.random.split(rng, 3)
  x = _inputs(gen, pre, batch, pre_rng)
  terms = elbo(gen, rec, params, x, z_rng)
  nll = -iwae_bound(gen, rec, params, x, w_rng, num_samples, chunk_size)
  bits = functools.partial(distributions.bits_per_dim, num_dims=gen.data_dim)
  return {"elbo": terms["elbo"], "kl": terms["kl"],
          "elbo_bits_per_dim": bits(-terms["elbo"]), "nll": nll,
          "bits_per_dim": bits(nll)}


def decode_mean(gen: GenerativeNet, params, z1: jax.Array) -> jax.Array:
  """σ(g_1(z_1)) = E[x | z_1]: [N, n_1] -> [N, D] in [0, 1].

  Raises:
    ValueError: z1 is not [N, n_1].
  """
  n1 = gen.latent_sizes[0]
  checks.check_array("helmholtz.decode_mean", "z1", z1, shape=(None, n1),
                     layout=f"[N, {n1}]")
  return jax.nn.sigmoid(_gen(gen, params, 1, z1))


def sample(gen: GenerativeNet, params, rng: jax.Array, n: int) -> jax.Array:
  """Ancestral z_L .. z_1 ~ p_θ, shown as E[x | z_1]: [n, H, W, C]."""
  checks.check_positive_int("helmholtz.sample", "n", n)
  _, zs = dream(gen, params, rng, n)
  return decode_mean(gen, params, zs[0]).reshape((n,) + tuple(gen.image_shape))


def reconstruct(gen: GenerativeNet, rec: RecognitionNet, params, x: jax.Array,
                rng: jax.Array) -> jax.Array:
  """E[x | z_1] at one z ~ q_φ(z | x): [B, D] -> [B, D]."""
  _check_x(gen.data_dim, "reconstruct", x)
  zs, _ = sample_posterior(rec, params, x, rng)
  return decode_mean(gen, params, zs[0])


def images(gen: GenerativeNet, rec: RecognitionNet, pre: Preprocessing, params,
           batch: dict, rng: jax.Array) -> dict:
  """{'samples': 64 means E[x|z_1], 'dreams': 64 binary x ~ p_θ,
  'reconstructions': 16 data above their reconstructions}, [N, H, W, C]."""
  _check_batch(gen, "images", batch)
  pre_rng, s_rng, d_rng, r_rng = jax.random.split(rng, 4)
  x = _inputs(gen, pre, {"image": batch["image"][:16]}, pre_rng)
  n, shape = x.shape[0], tuple(gen.image_shape)
  return {"samples": sample(gen, params, s_rng, 64),
          "dreams": dream(gen, params, d_rng, 64)[0].reshape((64,) + shape),
          "reconstructions": jnp.concatenate(
              [x, reconstruct(gen, rec, params, x, r_rng)]).reshape(
                  (2 * n,) + shape)}


def protocol(model_config, pre: Preprocessing) -> dict:
  """How the final metrics were computed (final_metrics.json)."""
  mc = model_config
  out = {"model": "helmholtz", "training": mc.training,
         "latent_sizes": [int(n) for n in mc.latent_sizes],
         "hidden": [int(h) for h in mc.hidden],
         "preprocessing": pre.description,
         "elbo": "Monte Carlo, 1 sample z ~ q(z|x): log p(x,z) - log q(z|x)",
         "nll_estimator": "importance sampling (IWAE bound), proposal q(z|x)",
         "nll_num_samples": mc.eval_num_samples,
         "bits_per_dim": "nll / (D ln 2)"}
  if mc.training == "reweighted":
    out.update(num_samples=int(mc.num_samples), q_update=mc.q_update)
  if mc.training == "reinforce":
    out.update(num_samples=int(mc.num_samples), q_gradient="score function, "
               "leave-one-out baseline")
  return out


# --------------------------------------------------------------- model ----


@dataclasses.dataclass(frozen=True, kw_only=True)
class Helmholtz(base.Model):
  """The model interface (models/base.py) plus the family's own functions,
  bound to the networks and config (`params` = state.params): log_joint,
  log_prior, log_likelihood, log_posterior, sample_posterior, dream,
  importance_log_weights, iwae_bound, elbo, wake_loss, sleep_loss,
  gradients, reconstruct, decode_mean, each the module function of that
  name without its network arguments (and `gradients` without its
  options), e.g. `model.iwae_bound(params, x, rng, k, chunk_size=None)`.
  """
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
  generative_net: GenerativeNet
  recognition_net: RecognitionNet
  generative_optimizer: optax.GradientTransformation
  recognition_optimizer: optax.GradientTransformation


# (condition on config.model, message formatted with mc = config.model):
# checked in order, the first that fails raises.
_RULES = (
    (lambda mc: len(mc.latent_sizes) >= 1
     and all(int(n) >= 1 for n in mc.latent_sizes),
     "model.latent_sizes needs >= 1 layer of sizes >= 1; got "
     "{mc.latent_sizes}."),
    (lambda mc: all(int(h) >= 1 for h in mc.hidden),
     "model.hidden sizes must be >= 1; got {mc.hidden}."),
    (lambda mc: mc.training in TRAININGS,
     f"model.training must be one of {TRAININGS}; got '{{mc.training}}'."),
    (lambda mc: mc.training != "reweighted" or mc.num_samples >= 1,
     "model.num_samples must be >= 1; got {mc.num_samples}."),
    (lambda mc: mc.training != "reweighted" or mc.q_update in Q_UPDATES,
     f"model.q_update must be one of {Q_UPDATES}; got '{{mc.q_update}}'."),
    (lambda mc: mc.training != "reinforce" or mc.num_samples >= 2,
     "model.num_samples must be >= 2 for training='reinforce' (leave-one-out "
     "baseline); got {mc.num_samples}."),
    (lambda mc: mc.sleep_batch_size >= 0,
     "model.sleep_batch_size must be >= 0; got {mc.sleep_batch_size}."),
    (lambda mc: mc.eval_num_samples >= 1,
     "model.eval_num_samples must be >= 1; got {mc.eval_num_samples}."),
)


def validate_config(config) -> None:
  """Raises ValueError naming the field for an invalid setting."""
  mc = config.model
  for ok, message in _RULES:
    if not ok(mc):
      raise ValueError(message.format(mc=mc))
  if config.data.binarization not in ("dynamic", "static"):
    raise ValueError(
        "the Helmholtz machine models binary data: data.binarization must be "
        f"'dynamic' or 'static'; got '{config.data.binarization}'.")


def make(config, dataset_info: dict) -> Helmholtz:
  """Builds the Helmholtz machine from `config` (module docstring):
  validates it, builds the networks, optimisers and preprocessing, and
  binds the module's functions.

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.generative,
      .optimizer.recognition, .train.num_steps, .train.batch_size).
    dataset_info: {'shape': (H, W, C), ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  validate_config(config)
  mc = config.model
  pre = make_preprocessing(config.data.binarization, "none", "0_1")
  gen, rec = build_networks(mc, dataset_info["shape"])
  num_steps = config.train.num_steps
  tx_gen = make_optimizer(config.optimizer.generative, num_steps)
  tx_rec = make_optimizer(config.optimizer.recognition, num_steps)
  options = dict(training=mc.training,
                 num_samples=int(mc.get("num_samples", 1)),
                 q_update=mc.get("q_update", "wake_sleep"),
                 sleep_batch_size=(int(mc.sleep_batch_size)
                                   or int(config.train.batch_size)))
  bind, gr = functools.partial, (gen, rec)
  return Helmholtz(
      init=bind(init, *gr, tx_gen, tx_rec),
      train_step=bind(train_step, *gr, pre, tx_gen, tx_rec, **options),
      evaluate=bind(evaluate, *gr, pre),
      evaluate_final=bind(evaluate_final, *gr, pre,
                          num_samples=mc.eval_num_samples,
                          chunk_size=mc.eval_chunk_size),
      sample=bind(sample, gen), images=bind(images, *gr, pre),
      protocol=bind(protocol, mc, pre),
      log_joint=bind(log_joint, gen), log_prior=bind(log_prior, gen),
      log_likelihood=bind(log_likelihood, gen),
      log_posterior=bind(log_posterior, rec),
      sample_posterior=bind(sample_posterior, rec), dream=bind(dream, gen),
      importance_log_weights=bind(importance_log_weights, *gr),
      iwae_bound=bind(iwae_bound, *gr), elbo=bind(elbo, *gr),
      wake_loss=bind(wake_loss, *gr), sleep_loss=bind(sleep_loss, *gr),
      gradients=bind(gradients, *gr, **options),
      reconstruct=bind(reconstruct, *gr), decode_mean=bind(decode_mean, gen),
      preprocessing=pre, generative_net=gen, recognition_net=rec,
      generative_optimizer=tx_gen, recognition_optimizer=tx_rec)

"""Shared pieces of the divergence and transport studies.

Used by experiments/mode_seeking_study.py, disjoint_supports_study.py and
kantorovich_rubinstein_study.py:

  * `gauss_legendre`: composite Gauss-Legendre nodes and weights, so that
    ∫_a^b g(x) dx ≈ Σ_i w_i g(x_i) is accurate to float32 for smooth g
    whose features are wider than a panel;
  * `Mixture1D` with `mixture_log_prob` / `mixture_cdf` / `mixture_sample`:
    1-D Gaussian mixtures as arrays (a Gaussian is a one-component mixture),
    so that one compiled function serves every pair of a study under `vmap`;
  * `fit_critic`: a whole critic training run (WGAN critic with weight
    clipping or gradient penalty, or a logistic discriminator) as one pure,
    jittable, vmappable function of a key and two samplers;
  * Lipschitz constants of a trained critic: the empirical max ||∇_x f|| on
    a grid and the product-of-spectral-norms upper bound;
  * `write_json` for numpy/JAX values.

A critic config (ml_collections.ConfigDict) has the fields
  objective      'wasserstein_clip' | 'wasserstein_gp' | 'logistic'
  hidden         hidden widths of the MLP, e.g. (64, 64); the output is 1-D
  activation     'relu' | 'leaky_relu' | 'tanh' | 'elu' (gdm_jax.nn.gan_nets)
  optimizer      a `gdm_jax.core.optimizers.make_optimizer` node
  num_steps      critic updates
  batch_size     samples of each distribution per update
  clip           box half-width c of `wasserstein_clip`
  gp_weight      λ of `wasserstein_gp` (10 in Gulrajani et al. 2017)
  gp_one_sided   penalise only gradient norms above 1 (Petzka et al. 2018)

References:
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (eq. 3,
    Algorithm 1: weight clipping).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (eq. 3, Algorithm 1: gradient penalty).
  Petzka, Fischer and Lukovnikov 2018, "On the regularization of Wasserstein
    GANs", ICLR (the one-sided penalty).
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS (Prop. 1,
    Theorem 1: the optimal discriminator and JSD).
"""

import json
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gdm_jax import gan_losses
from gdm_jax import nn as gnn
from gdm_jax.data import toy
from gdm_jax.nn import gan_nets
from gdm_jax.core import optimizers
from gdm_jax.core import transforms

Sampler = Callable[[jax.Array, int], jax.Array]   # (key, n) -> [n, D]
OBJECTIVES = ("wasserstein_clip", "wasserstein_gp", "logistic")


# ----------------------------------------------------------- quadrature ----


def gauss_legendre(low: float, high: float, num_panels: int,
                   order: int = 8) -> tuple[np.ndarray, np.ndarray]:
  """Composite Gauss-Legendre rule on [low, high].

  ∫_low^high g(x) dx ≈ Σ_i w_i g(x_i), `num_panels` equal panels with an
  `order`-point rule each (exact for polynomials of degree 2 order - 1 on
  every panel).

  Returns:
    (nodes, weights), float64 [num_panels * order] each; Σ w = high - low.

  Raises:
    ValueError: high <= low, num_panels < 1 or order < 1.
  """
  if not high > low or num_panels < 1 or order < 1:
    raise ValueError(f"gauss_legendre needs low < high, num_panels >= 1, "
                     f"order >= 1; got {low}, {high}, {num_panels}, {order}.")
  x, w = np.polynomial.legendre.leggauss(order)
  edges = np.linspace(low, high, num_panels + 1)
  half = 0.5 * np.diff(edges)[:, None]
  mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
  return (mid + half * x[None]).ravel(), (half * w[None]).ravel()


# -------------------------------------------------------- 1-D mixtures -----


class Mixture1D(NamedTuple):
  """A 1-D Gaussian mixture Σ_k w_k N(m_k, s_k²) as arrays.

  Attributes:
    locs, scales, weights: float32 [K] (weights >= 0, summing to 1; a
      weight may be 0, which pads a mixture to a common K).
  """
  locs: jax.Array
  scales: jax.Array
  weights: jax.Array


def mixture(locs: Sequence[float], scales: Sequence[float],
            weights: Sequence[float] | None = None,
            num_components: int | None = None) -> Mixture1D:
  """A `Mixture1D`, padded with zero-weight components to `num_components`.

  Raises:
    ValueError: lengths differ, a scale <= 0, negative weights or weights
      not summing to 1, or more components than `num_components`.
  """
  locs, scales = np.asarray(locs, np.float64), np.asarray(scales, np.float64)
  weights = (np.full(len(locs), 1.0 / len(locs)) if weights is None
             else np.asarray(weights, np.float64))
  if not len(locs) == len(scales) == len(weights):
    raise ValueError(f"mixture: locs, scales, weights differ in length: "
                     f"{locs}, {scales}, {weights}.")
  if (np.any(scales <= 0) or np.any(weights < 0)
      or abs(weights.sum() - 1) > 1e-6):
    raise ValueError("mixture: scales must be > 0 and weights >= 0 summing "
                     f"to 1; got {scales}, {weights}.")
  k = num_components or len(locs)
  if k < len(locs):
    raise ValueError(f"mixture: {len(locs)} components > {k}.")
  pad = k - len(locs)
  return Mixture1D(
      jnp.asarray(np.pad(locs, (0, pad)), jnp.float32),
      jnp.asarray(np.pad(scales, (0, pad), constant_values=1.0), jnp.float32),
      jnp.asarray(np.pad(weights, (0, pad)), jnp.float32))


def mixture_log_prob(x: jax.Array, m: Mixture1D) -> jax.Array:
  """log Σ_k w_k N(x; m_k, s_k²), x [N] -> [N], nats (via gdm_jax.data.toy)."""
  return toy.gaussian_mixture_log_prob(x[:, None], m.locs[:, None], m.scales,
                                       m.weights)


def mixture_cdf(x: jax.Array, m: Mixture1D) -> jax.Array:
  """F(x) = Σ_k w_k Φ((x - m_k) / s_k), x [N] -> [N]."""
  z = (x[:, None] - m.locs[None]) / m.scales[None]
  return jnp.sum(m.weights[None] * jax.scipy.stats.norm.cdf(z), axis=-1)


def mixture_sample(rng: jax.Array, n: int, m: Mixture1D) -> jax.Array:
  """n samples [n, 1] (float32) of the mixture."""
  k_comp, k_noise = jax.random.split(rng)
  comp = jax.random.categorical(k_comp, jnp.log(m.weights), shape=(n,))
  eps = jax.random.normal(k_noise, (n,), jnp.float32)
  return (m.locs[comp] + m.scales[comp] * eps)[:, None]


def mixture_stats(m: Mixture1D) -> tuple[float, float]:
  """Mean and standard deviation of the mixture (closed form).

  E x = Σ w_k m_k;  Var x = Σ w_k (s_k² + m_k²) - (E x)².
  """
  mu, s, w = (np.asarray(a, np.float64) for a in m)
  mean = float(np.sum(w * mu))
  return mean, float(math.sqrt(np.sum(w * (s * s + mu * mu)) - mean * mean))


def wasserstein1_1d_exact(p: Mixture1D, q: Mixture1D, low: float = -30.0,
                          high: float = 30.0, num_panels: int = 3000) -> float:
  """W1(P, Q) = ∫ |F_P(x) - F_Q(x)| dx for 1-D mixtures, in float64.

  The integrand is continuous with kinks where F_P = F_Q; a composite
  Gauss-Legendre rule on many small panels integrates it to ~1e-7 (the
  kinks cost O(h²) each). Evaluated with scipy's normal CDF in float64.
  """
  from scipy import stats  # pylint: disable=g-import-not-at-top
  x, w = gauss_legendre(low, high, num_panels, 8)

  def cdf(m):
    mw, ml, ms = (np.asarray(a, np.float64) for a in (m.weights, m.locs,
                                                       m.scales))
    return np.sum(mw[None] * stats.norm.cdf((x[:, None] - ml[None])
                                            / ms[None]), axis=-1)
  return float(np.sum(w * np.abs(cdf(p) - cdf(q))))


# --------------------------------------------------------------- critic ----


def critic_config(objective: str, hidden=(64, 64), activation: str = "relu",
                  learning_rate: float = 1e-3, optimizer: str = "adam",
                  num_steps: int = 2000, batch_size: int = 256,
                  clip: float = 0.01, gp_weight: float = 10.0,
                  gp_one_sided: bool = False) -> ml_collections.ConfigDict:
  """A critic config (fields in the module docstring)."""
  c = ml_collections.ConfigDict()
  c.objective = objective
  c.hidden = tuple(hidden)
  c.activation = activation
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = optimizer
  c.optimizer.learning_rate = learning_rate
  c.optimizer.schedule = "constant"
  if optimizer == "adam":        # Gulrajani et al. 2017: β = (0.5, 0.9)
    c.optimizer.b1, c.optimizer.b2 = 0.5, 0.9
  c.num_steps = num_steps
  c.batch_size = batch_size
  c.clip = clip
  c.gp_weight = gp_weight
  c.gp_one_sided = gp_one_sided
  return c


class Critic(NamedTuple):
  """A critic network and its training rule.

  Attributes:
    apply: (params, x [B, D]) -> [B]: f(x) (Wasserstein) or the logit of
      D(x) (logistic).
    init: (key, dim) -> params.
    optimizer: the optax chain (ends in `clip_params` for clipping).
    loss: (params, real [B, D], fake [B, D], key) -> scalar.
  """
  apply: Callable
  init: Callable
  optimizer: optax.GradientTransformation
  loss: Callable


def make_critic(config) -> Critic:
  """The critic of `config`.

  Losses (to be minimised):
    wasserstein_clip: E_p f - E_π f, weights clipped to [-c, c] after every
      update (Arjovsky et al. 2017, Algorithm 1);
    wasserstein_gp: E_p f - E_π f + λ E (||∇f(x̂)|| - 1)², x̂ on segments
      between real and fake points (Gulrajani et al. 2017, eq. 3), or with
      max(0, ||∇f(x̂)|| - 1)² when `gp_one_sided` (Petzka et al. 2018);
    logistic: E_π[-log D] + E_p[-log(1 - D)], D = σ(logit) (Goodfellow et
      al. 2014, eq. 1); at the optimum it equals log 4 - 2 JSD(π, p).

  Raises:
    ValueError: unknown objective, or clip / gp_weight <= 0 where used.
  """
  if config.objective not in OBJECTIVES:
    raise ValueError(f"critic objective must be one of {OBJECTIVES}; got "
                     f"'{config.objective}'.")
  net = gnn.MLP(features=tuple(config.hidden) + (1,),
                activation=gan_nets.activation_fn(config.activation))
  apply = lambda params, x: net.apply(params, x)[:, 0]
  init = lambda rng, dim: net.init(rng, jnp.zeros((1, dim), jnp.float32))
  opt = optimizers.make_optimizer(config.optimizer, config.num_steps)
  if config.objective == "wasserstein_clip":
    if not config.clip > 0:
      raise ValueError(f"clip must be > 0; got {config.clip}.")
    opt = optax.chain(opt, transforms.clip_params(config.clip))

    def loss(params, real, fake, rng):
      del rng
      return gan_losses.wasserstein_critic_loss(apply(params, real),
                                                apply(params, fake))
  elif config.objective == "wasserstein_gp":
    if not config.gp_weight > 0:
      raise ValueError(f"gp_weight must be > 0; got {config.gp_weight}.")

    def loss(params, real, fake, rng):
      f = lambda x: apply(params, x)
      per_example = (gan_losses.wasserstein_critic_loss_per_example(
          f(real), f(fake)) + config.gp_weight * gan_losses.gradient_penalty(
              f, real, fake, rng, one_sided=config.gp_one_sided))   # [B]
      return jnp.mean(per_example)
  else:
    def loss(params, real, fake, rng):
      del rng
      return gan_losses.discriminator_loss(apply(params, real),
                                           apply(params, fake))
  return Critic(apply, init, opt, loss)


def fit_critic(config, sample_real: Sampler, sample_fake: Sampler,
               rng: jax.Array, dim: int) -> tuple[dict, jax.Array]:
  """Trains a critic from scratch on fresh samples at every step.

  Step t draws `batch_size` points of each distribution from
  fold_in(rng, t) and takes one optimizer step on the critic's loss (see
  `make_critic`); all `num_steps` steps are one `lax.scan`, so the function
  is pure and can be jitted and vmapped over keys or over parameters the
  samplers close over.

  Args:
    config: critic config (module docstring).
    sample_real: (key, n) -> [n, dim], samples of π ("real").
    sample_fake: (key, n) -> [n, dim], samples of p ("fake").
    rng: PRNG key.
    dim: D.

  Returns:
    (params, losses [num_steps] float32).
  """
  critic = make_critic(config)
  init_rng, train_rng = jax.random.split(rng)
  params = critic.init(init_rng, dim)
  opt_state = critic.optimizer.init(params)
  n = config.batch_size

  def step(carry, t):
    params, opt_state = carry
    k_real, k_fake, k_loss = jax.random.split(jax.random.fold_in(train_rng, t),
                                              3)
    value, grads = jax.value_and_grad(critic.loss)(
        params, sample_real(k_real, n), sample_fake(k_fake, n), k_loss)
    updates, opt_state = critic.optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), value

  (params, _), losses = jax.lax.scan(step, (params, opt_state),
                                     jnp.arange(config.num_steps))
  return params, losses


def gp_critic_value(w1, gp_weight: float):
  """E_π f - E_p f of the gradient-penalty critic's optimum, W1 + W1²/(2λ).

  Where the optimal 1-Lipschitz critic f* has |∇f*| = 1 at every point the
  penalty samples (true in 1-D, f*' = ±1, and for the parallel segments),
  the critics s·f* have loss -s W1 + λ (s - 1)² (two-sided penalty; the
  same for s > 1 with the one-sided one), minimised at s = 1 + W1/(2λ):
  the soft penalty lets the critic overshoot W1 by W1²/(2λ) (0.05 at
  W1 = 1, 0.45 at W1 = 3 for λ = 10).

  Args:
    w1: W1 (array or float), >= 0.
    gp_weight: λ > 0.

  Returns:
    float64 array of w1's shape.
  """
  w1 = np.abs(np.asarray(w1, np.float64))
  return w1 + w1 ** 2 / (2.0 * gp_weight)


def input_gradients(apply: Callable, params, x: jax.Array) -> jax.Array:
  """∇_x f(x) per example, [B, D] -> [B, D] (f must treat examples
  independently)."""
  return jax.grad(lambda inputs: jnp.sum(apply(params, inputs)))(x)


def empirical_lipschitz(apply: Callable, params, grid: jax.Array) -> jax.Array:
  """max_i ||∇_x f(x_i)||_2 over grid points [N, D]: a lower bound on the
  critic's Lipschitz constant, equal to it for a piecewise-linear (ReLU)
  critic when every linear piece holds a grid point."""
  g = input_gradients(apply, params, grid)
  return jnp.max(jnp.sqrt(jnp.sum(g * g, axis=-1)))


def spectral_lipschitz_bound(params) -> jax.Array:
  """Π_l ||W_l||_2 over the Dense kernels: an upper bound on the Lipschitz
  constant of an MLP with 1-Lipschitz activations (ReLU, leaky ReLU, tanh)."""
  kernels = [leaf for path, leaf in
             jax.tree_util.tree_leaves_with_path(params)
             if getattr(path[-1], "key", None) == "kernel"]
  out = jnp.asarray(1.0)
  for k in kernels:
    out = out * jnp.linalg.norm(k, ord=2)
  return out


# ------------------------------------------------------------------ io -----


def to_jsonable(value):
  """Nested dicts/lists of numpy/JAX arrays and scalars -> JSON types
  (non-finite floats become the strings 'inf', '-inf', 'nan')."""
  if isinstance(value, dict):
    return {str(k): to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if isinstance(value, (jax.Array, np.ndarray)):
    return to_jsonable(np.asarray(value).tolist())
  if isinstance(value, (np.floating, float)):
    v = float(value)
    return v if math.isfinite(v) else str(v)
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.bool_,)):
    return bool(value)
  return value


def write_json(obj, path: str) -> None:
  with open(path, "w") as f:
    json.dump(to_jsonable(obj), f, indent=1)


def pyplot():
  """matplotlib.pyplot with the Agg backend."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt

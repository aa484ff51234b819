"""Toy 1-D and 2-D distributions as data, with exact densities where they exist.

A `ToyDistribution` bundles a sampler drawn from an explicit JAX key, the
log-density (nats) where it has a closed form (or an exact-to-quadrature one),
and the mode locations used by the mode-coverage metrics
(`gdm_jax/eval/toy_metrics.py`). `load_toy_dataset` turns one into an
`ArrayDataset` with splits {'train', 'validation', 'test'}, each
{'x': float32 [N, D]}, drawn once from keys derived from a seed.

Sets (`TOY_DATASETS`):
  ring8       8 Gaussians on a circle of radius 2, std 0.02 (2-D)
  grid25      25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (2-D)
  two_moons   sklearn-style moons with Gaussian noise, std 0.1 (2-D)
  swiss_roll  2-D swiss roll with Gaussian noise (no density)
  gaussian1d  N(0, 1)
  mixture1d   0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)
  cubic1d     x = z^(1/3), z ~ U[-1, 1]: p(x) = 3x^2 / 2 on [-1, 1]

1-D Gaussian mixtures as arrays (`Mixture1D`, built by `gaussian_mixture1d`),
for code that needs a mixture's closed forms under `jit`/`vmap` (one compiled
function for many mixtures padded to a common K): `mixture1d_log_prob`,
`mixture1d_cdf`, `mixture1d_sample`, `mixture1d_moments` and the exact
`mixture1d_wasserstein1` between two of them.

This module imports neither TensorFlow nor TFDS, so toy runs start quickly.
"""

import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import quadrature
from gdm_jax.data.pipeline import ArrayDataset

LOG_2PI = math.log(2.0 * math.pi)


class ToyDistribution(NamedTuple):
  """A toy distribution as data.

  Attributes:
    name: its name in `TOY_DATASETS`.
    dim: D, the dimension of a sample.
    sample: (rng key, n) -> float32 [n, D]; pure, jittable with static n.
    log_prob: x [N, D] -> [N], log p(x) in nats; None where the density has
      no closed form.
    modes: float32 [M, D] mode centres used by the mode-coverage metrics, or
      None where the distribution has no isolated modes.
    mode_std: the per-coordinate std of each mode (for the "high-quality
      sample" radius), or None.
    description: one line, with the parameters.
  """
  name: str
  dim: int
  sample: Callable[[jax.Array, int], jax.Array]
  log_prob: Callable[[jax.Array], jax.Array] | None
  modes: np.ndarray | None
  mode_std: float | None
  description: str


def gaussian_mixture_log_prob(x: jax.Array, means: jax.Array, stds: jax.Array,
                              weights: jax.Array) -> jax.Array:
  """Log-density of an isotropic Gaussian mixture.

  log p(x) = logsumexp_k [log w_k + sum_d log N(x_d; mu_kd, s_k^2)],
  log N(x; mu, s^2) = -((x - mu)/s)^2 / 2 - log s - log(2 pi) / 2.

  Args:
    x: [N, D] points.
    means: [K, D] component means.
    stds: [K] per-component standard deviations (isotropic).
    weights: [K] mixture weights, positive, summing to 1.

  Returns:
    [N] log p(x) in nats.
  """
  x = jnp.asarray(x, jnp.float32)
  means = jnp.asarray(means, jnp.float32)
  stds = jnp.asarray(stds, jnp.float32)
  d = x.shape[-1]
  sq = jnp.sum(jnp.square(x[:, None, :] - means[None]), axis=-1)   # [N, K]
  log_comp = (-0.5 * sq / jnp.square(stds) - d * jnp.log(stds)
              - 0.5 * d * LOG_2PI)
  return jax.nn.logsumexp(log_comp + jnp.log(jnp.asarray(weights)), axis=-1)


def _mixture(name: str, means, stds, weights, description: str,
             modes=True) -> ToyDistribution:
  """An isotropic Gaussian mixture (means [K, D], stds [K], weights [K])."""
  means = np.asarray(means, np.float32)
  stds64 = np.broadcast_to(np.asarray(stds, np.float64), means.shape[:1])
  stds = stds64.astype(np.float32)
  weights = np.asarray(weights, np.float64)
  if np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-6:
    raise ValueError(f"mixture weights must be positive and sum to 1; got "
                     f"{weights.tolist()}.")
  if np.any(stds <= 0):
    raise ValueError(f"component stds must be positive; got {stds.tolist()}.")
  log_w = np.log(weights).astype(np.float32)
  d = means.shape[1]

  def sample(rng, n):
    k_comp, k_noise = jax.random.split(rng)
    comp = jax.random.categorical(k_comp, jnp.asarray(log_w), shape=(n,))
    eps = jax.random.normal(k_noise, (n, d), jnp.float32)
    return jnp.asarray(means)[comp] + jnp.asarray(stds)[comp, None] * eps

  def log_prob(x):
    return gaussian_mixture_log_prob(x, means, stds, weights.astype(np.float32))

  same_std = bool(np.all(stds == stds[0]))
  return ToyDistribution(
      name=name, dim=d, sample=sample, log_prob=log_prob,
      modes=means if modes else None,
      mode_std=float(stds64[0]) if (modes and same_std) else None,
      description=description)


def ring8(radius: float = 2.0, std: float = 0.02,
          num_modes: int = 8) -> ToyDistribution:
  """Equal-weight Gaussians on a circle: the unrolled-GAN / VEEGAN "2D ring".

  p(x) = (1/M) sum_k N(x; r (cos 2 pi k/M, sin 2 pi k/M), s^2 I), with
  r = 2, s = 0.02, M = 8 by default.

  References:
    Metz et al. 2017, "Unrolled Generative Adversarial Networks" (the
    mixture-of-Gaussians experiment); Srivastava et al. 2017, "VEEGAN"
    (synthetic experiments, Table 1). Radius 2 and std 0.02 are the usual
    setting of these experiments as reproduced in the literature.
  """
  angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
  means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
  return _mixture("ring8", means, std, np.full(num_modes, 1.0 / num_modes),
                  f"{num_modes} Gaussians on a circle of radius {radius}, "
                  f"std {std}, equal weights")


def grid25(spacing: float = 2.0, std: float = 0.05,
           side: int = 5) -> ToyDistribution:
  """Equal-weight Gaussians on a square grid: the VEEGAN "2D Grid".

  p(x) = (1/25) sum_{i,j} N(x; (a_i, a_j), s^2 I), a = {-4,-2,0,2,4},
  s = 0.05 by default.

  References:
    Srivastava et al. 2017, "VEEGAN" (synthetic experiments, Table 1: the
    2D grid of 25 modes, variance 0.0025, i.e. s = 0.05).
  """
  a = spacing * (np.arange(side) - (side - 1) / 2.0)
  gx, gy = np.meshgrid(a, a, indexing="ij")
  means = np.stack([gx.ravel(), gy.ravel()], axis=-1)
  m = side * side
  return _mixture("grid25", means, std, np.full(m, 1.0 / m),
                  f"{m} Gaussians on the grid {a.tolist()}^2, std {std}, "
                  f"equal weights")


def two_moons(noise: float = 0.1, quadrature_nodes: int = 512
              ) -> ToyDistribution:
  """sklearn-style two moons with isotropic Gaussian noise.

  With probability 1/2 each, the clean point is on the upper moon
  c1(t) = (cos t, sin t) or the lower moon c2(t) = (1 - cos t, 1/2 - sin t),
  t ~ U[0, pi]; then x = c(t) + noise * eps, eps ~ N(0, I). The density

    p(x) = 1/2 sum_{j=1,2} (1/pi) int_0^pi N(x; c_j(t), noise^2 I) dt

  has no closed form; `log_prob` evaluates the t-integral with
  `quadrature_nodes`-point Gauss-Legendre quadrature (a smooth integrand of
  width ~noise in t, so 512 nodes are exact to float32 precision for
  noise >= 0.05; tests/data/test_toy.py checks it against a fine midpoint
  rule in float64).

  References:
    scikit-learn `sklearn.datasets.make_moons` (which uses an even grid in t
    where this samples t uniformly).
  """
  if noise <= 0:
    raise ValueError(f"noise must be positive; got {noise}.")
  t_nodes, w_q = quadrature.gauss_legendre(0.0, np.pi, 1, quadrature_nodes)
  log_wq = np.log(w_q)
  # Clean points on both moons at the quadrature nodes: [2 * Q, 2].
  upper = np.stack([np.cos(t_nodes), np.sin(t_nodes)], axis=-1)
  lower = np.stack([1.0 - np.cos(t_nodes), 0.5 - np.sin(t_nodes)], axis=-1)
  centres = np.concatenate([upper, lower]).astype(np.float32)
  # log of the weight 1/2 * (1/pi) * w_q of each node.
  log_w = (np.concatenate([log_wq, log_wq]) - np.log(2.0 * np.pi)
           ).astype(np.float32)

  def sample(rng, n):
    k_moon, k_t, k_noise = jax.random.split(rng, 3)
    lower_moon = jax.random.bernoulli(k_moon, 0.5, (n,))
    t = jax.random.uniform(k_t, (n,), jnp.float32, 0.0, jnp.pi)
    c_up = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=-1)
    c_low = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=-1)
    clean = jnp.where(lower_moon[:, None], c_low, c_up)
    return clean + noise * jax.random.normal(k_noise, (n, 2), jnp.float32)

  def log_prob(x):
    x = jnp.asarray(x, jnp.float32)
    sq = jnp.sum(jnp.square(x[:, None, :] - centres[None]), axis=-1)  # [N, 2Q]
    log_n = -0.5 * sq / noise**2 - 2.0 * math.log(noise) - LOG_2PI
    return jax.nn.logsumexp(log_n + log_w, axis=-1)

  return ToyDistribution(
      name="two_moons", dim=2, sample=sample, log_prob=log_prob, modes=None,
      mode_std=None,
      description=f"two moons, Gaussian noise std {noise} (density by "
                  f"{quadrature_nodes}-node Gauss-Legendre quadrature)")


def swiss_roll(noise: float = 0.2, scale: float = 0.2) -> ToyDistribution:
  """A 2-D swiss roll with isotropic Gaussian noise; no density.

  t = (3 pi / 2)(1 + 2u), u ~ U[0, 1];  x = scale * (t cos t, t sin t) +
  noise * eps, eps ~ N(0, I). The defaults (scale 1/5, noise 0.2) are the
  usual flow benchmark: sklearn's `make_swiss_roll(noise=1.0)[:, [0, 2]] / 5`.

  References:
    scikit-learn `sklearn.datasets.make_swiss_roll`; Grathwohl et al. 2019,
    "FFJORD" (2-D toy densities).
  """
  def sample(rng, n):
    k_t, k_noise = jax.random.split(rng)
    t = 1.5 * jnp.pi * (1.0 + 2.0 * jax.random.uniform(k_t, (n,), jnp.float32))
    clean = scale * jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=-1)
    return clean + noise * jax.random.normal(k_noise, (n, 2), jnp.float32)

  return ToyDistribution(
      name="swiss_roll", dim=2, sample=sample, log_prob=None, modes=None,
      mode_std=None,
      description=f"2-D swiss roll, scale {scale}, Gaussian noise std {noise}")


def gaussian1d(loc: float = 0.0, scale: float = 1.0) -> ToyDistribution:
  """N(loc, scale^2) in 1-D: log p(x) = -((x - loc)/scale)^2/2 - log scale - log(2 pi)/2."""
  if scale <= 0:
    raise ValueError(f"scale must be positive; got {scale}.")
  dist = _mixture("gaussian1d", [[loc]], scale, [1.0],
                  f"N({loc}, {scale}^2)")
  return dist


def mixture1d(locs: tuple[float, float] = (-2.0, 2.0), scale: float = 0.5,
              weights: tuple[float, float] = (0.5, 0.5)) -> ToyDistribution:
  """Two Gaussians in 1-D (the mode-covering vs mode-seeking example).

  p(x) = w_1 N(x; m_1, s^2) + w_2 N(x; m_2, s^2), by default
  0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2).
  """
  if len(locs) != len(weights):
    raise ValueError(f"need one weight per location; got locs={locs}, "
                     f"weights={weights}.")
  return _mixture("mixture1d", np.asarray(locs, np.float32)[:, None], scale,
                  weights, f"{list(weights)} mixture of N(m, {scale}^2) at "
                  f"m = {list(locs)}")


def cubic1d(low: float = -1.0, high: float = 1.0) -> ToyDistribution:
  """The change-of-variables example z = f(x) = x^3 with z uniform.

  z ~ U[a, b] and x = f^{-1}(z) = z^(1/3) (the real cube root), so by the
  change of variables

    p_x(x) = p_z(f(x)) |df/dx| = 3 x^2 / (b - a)   for x in [a^(1/3), b^(1/3)],

  and 0 elsewhere (log p = -inf). With the default a = -1, b = 1 this is
  p(x) = 3x^2/2 on [-1, 1]: two modes at the ends and zero density at x = 0.

  References:
    UvA Deep Learning practical 3 report (seeds/001), Sec. 3.1, Eqs. 8-10;
    Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows",
    Eq. 1.
  """
  if not high > low:
    raise ValueError(f"need high > low; got low={low}, high={high}.")
  x_lo, x_hi = float(np.cbrt(low)), float(np.cbrt(high))
  log_width = math.log(high - low)

  def sample(rng, n):
    z = jax.random.uniform(rng, (n, 1), jnp.float32, low, high)
    return jnp.cbrt(z)

  def log_prob(x):
    x = jnp.asarray(x, jnp.float32)[:, 0]
    inside = (x >= x_lo) & (x <= x_hi)
    lp = math.log(3.0) + 2.0 * jnp.log(jnp.abs(x)) - log_width
    return jnp.where(inside, lp, -jnp.inf)

  return ToyDistribution(
      name="cubic1d", dim=1, sample=sample, log_prob=log_prob, modes=None,
      mode_std=None,
      description=f"x = z^(1/3), z ~ U[{low}, {high}]: p(x) = 3x^2/"
                  f"{high - low:g} on [{x_lo:.4g}, {x_hi:.4g}]")


_BUILDERS: dict[str, Callable[..., ToyDistribution]] = {
    "ring8": ring8,
    "grid25": grid25,
    "two_moons": two_moons,
    "swiss_roll": swiss_roll,
    "gaussian1d": gaussian1d,
    "mixture1d": mixture1d,
    "cubic1d": cubic1d,
}
TOY_DATASETS: tuple[str, ...] = tuple(_BUILDERS)


def is_toy(name: str) -> bool:
  """Whether `name` is one of the toy data sets."""
  return name in _BUILDERS


def get_toy(name: str, **overrides) -> ToyDistribution:
  """The toy distribution `name`, with its default parameters overridden.

  Args:
    name: one of `TOY_DATASETS`.
    **overrides: keyword parameters of the set's builder (e.g.
      `get_toy('ring8', std=0.05)`, `get_toy('cubic1d', low=0, high=1)`).

  Raises:
    ValueError: unknown name, or an override the set does not take.
  """
  if name not in _BUILDERS:
    raise ValueError(f"unknown toy data set '{name}'; the toy sets are "
                     f"{list(TOY_DATASETS)}.")
  builder = _BUILDERS[name]
  params = inspect.signature(builder).parameters
  unknown = sorted(set(overrides) - set(params))
  if unknown:
    raise ValueError(f"toy data set '{name}' takes no parameter(s) {unknown}; "
                     f"it takes {list(params)}.")
  return builder(**overrides)


# Each split's key is fold_in(PRNGKey(seed), index), so a split does not
# change when another split's size does.
_SPLIT_INDEX = {"train": 0, "validation": 1, "test": 2}


def load_toy_dataset(name: str, num_train: int = 100_000,
                     num_validation: int = 10_000, num_test: int = 10_000,
                     seed: int = 0,
                     params: dict[str, Any] | None = None) -> ArrayDataset:
  """Draws the splits of a toy data set once, from keys derived from `seed`.

  Split s (train 0, validation 1, test 2) is `dist.sample(fold_in(
  PRNGKey(seed), s), n_s)`, so each split depends only on the seed and its
  own size.

  Args:
    name: one of `TOY_DATASETS`.
    num_train, num_validation, num_test: split sizes (>= 1 each).
    seed: the data seed.
    params: overrides of the set's parameters (see `get_toy`).

  Returns:
    ArrayDataset with splits {'train', 'validation', 'test'}, each
    {'x': float32 [N, D]}, and info {'name', 'kind': 'toy', 'shape': (D,),
    'modes': float32 [M, D] or None, 'mode_std': float or None,
    'has_log_prob': bool, 'description': str, 'params': dict}.
    `get_toy(info['name'], **info['params'])` rebuilds the distribution
    (e.g. for its `log_prob`).

  Raises:
    ValueError: unknown name or parameter, or a split size < 1.
  """
  params = dict(params or {})
  dist = get_toy(name, **params)
  sizes = {"train": num_train, "validation": num_validation, "test": num_test}
  for split, n in sizes.items():
    if int(n) < 1:
      raise ValueError(f"toy split '{split}' needs at least one example; got "
                       f"{n}.")
  base = jax.random.PRNGKey(seed)
  splits = {}
  for split, n in sizes.items():
    key = jax.random.fold_in(base, _SPLIT_INDEX[split])
    x = np.asarray(dist.sample(key, int(n)), dtype=np.float32)
    splits[split] = {"x": x}
  info = {
      "name": name,
      "kind": "toy",
      "shape": (dist.dim,),
      "modes": None if dist.modes is None else np.asarray(dist.modes,
                                                          np.float32),
      "mode_std": dist.mode_std,
      "has_log_prob": dist.log_prob is not None,
      "description": dist.description,
      "params": params,
  }
  return ArrayDataset(splits, info)


# ------------------------------------------------ 1-D Gaussian mixtures ----


class Mixture1D(NamedTuple):
  """A 1-D Gaussian mixture Σ_k w_k N(m_k, s_k²) as arrays (a pytree).

  A Gaussian is a one-component mixture; a zero weight pads a mixture to a
  common K, so that mixtures stack along a leading axis and one compiled
  function serves them all under `vmap`.

  Attributes:
    locs, scales, weights: float32 [K] (scales > 0; weights >= 0, summing
      to 1).
  """
  locs: jax.Array
  scales: jax.Array
  weights: jax.Array


def gaussian_mixture1d(locs, scales, weights=None,
                       num_components: int | None = None) -> Mixture1D:
  """A `Mixture1D`, padded with zero-weight components to `num_components`.

  Args:
    locs, scales: [K] component means and standard deviations.
    weights: [K] mixture weights (default equal weights 1/K).
    num_components: K' >= K, the padded size (default K).

  Returns:
    Mixture1D of float32 [K'] arrays (padding: loc 0, scale 1, weight 0).

  Raises:
    ValueError: lengths differ, a scale <= 0, negative weights or weights
      not summing to 1, or more components than `num_components`.
  """
  locs, scales = np.asarray(locs, np.float64), np.asarray(scales, np.float64)
  weights = (np.full(len(locs), 1.0 / len(locs)) if weights is None
             else np.asarray(weights, np.float64))
  if not len(locs) == len(scales) == len(weights):
    raise ValueError(f"gaussian_mixture1d: locs, scales, weights differ in "
                     f"length: {locs}, {scales}, {weights}.")
  if (np.any(scales <= 0) or np.any(weights < 0)
      or abs(weights.sum() - 1) > 1e-6):
    raise ValueError("gaussian_mixture1d: scales must be > 0 and weights >= 0 "
                     f"summing to 1; got {scales}, {weights}.")
  k = num_components or len(locs)
  if k < len(locs):
    raise ValueError(f"gaussian_mixture1d: {len(locs)} components > "
                     f"num_components = {k}.")
  pad = k - len(locs)
  return Mixture1D(
      jnp.asarray(np.pad(locs, (0, pad)), jnp.float32),
      jnp.asarray(np.pad(scales, (0, pad), constant_values=1.0), jnp.float32),
      jnp.asarray(np.pad(weights, (0, pad)), jnp.float32))


def mixture1d_log_prob(x: jax.Array, m: Mixture1D) -> jax.Array:
  """log p(x) = log Σ_k w_k N(x; m_k, s_k²), x [N] -> [N], nats.

  (`gaussian_mixture_log_prob` with D = 1; zero-weight components drop out.)
  """
  return gaussian_mixture_log_prob(x[:, None], m.locs[:, None], m.scales,
                                   m.weights)


def mixture1d_cdf(x: jax.Array, m: Mixture1D) -> jax.Array:
  """F(x) = Σ_k w_k Φ((x - m_k) / s_k), x [N] -> [N], in x's precision."""
  z = (x[:, None] - m.locs[None]) / m.scales[None]
  return jnp.sum(m.weights[None] * jax.scipy.stats.norm.cdf(z), axis=-1)


def mixture1d_sample(rng: jax.Array, n: int, m: Mixture1D) -> jax.Array:
  """n samples, float32 [n, 1]: a component k ~ Cat(w), then m_k + s_k ε.

  Pure and jittable with static n.
  """
  k_comp, k_noise = jax.random.split(rng)
  comp = jax.random.categorical(k_comp, jnp.log(m.weights), shape=(n,))
  eps = jax.random.normal(k_noise, (n,), jnp.float32)
  return (m.locs[comp] + m.scales[comp] * eps)[:, None]


def mixture1d_moments(m: Mixture1D) -> tuple[float, float]:
  """Mean and standard deviation in closed form, float64 (host-side).

  E x = Σ_k w_k m_k;  Var x = Σ_k w_k (s_k² + m_k²) - (E x)².
  """
  mu, s, w = (np.asarray(a, np.float64) for a in m)
  mean = float(np.sum(w * mu))
  return mean, float(math.sqrt(np.sum(w * (s * s + mu * mu)) - mean * mean))


def mixture1d_wasserstein1(p: Mixture1D, q: Mixture1D, *, low: float = -30.0,
                           high: float = 30.0,
                           num_panels: int = 3000) -> float:
  """W1(P, Q) = ∫ |F_P(x) - F_Q(x)| dx between 1-D mixtures, float64.

  The 1-D identity of Vallender 1973. The integrand is continuous with
  kinks where F_P = F_Q; an 8-point composite Gauss-Legendre rule on
  `num_panels` panels of [low, high] integrates it to ~1e-7 (a kink costs
  O(h²)); the CDFs are evaluated in float64 (`jax.enable_x64`). Host-side:
  returns a Python float, not jittable.

  Args:
    p, q: the mixtures (float32 parameters, taken exactly into float64).
    low, high: the integration range; mass outside it is neglected.
    num_panels: panels of the rule.

  Returns:
    W1 in units of x.

  References:
    Vallender 1973, "Calculation of the Wasserstein distance between
      probability distributions on the line", Theory Probab. Appl. 18.
  """
  x, w = quadrature.gauss_legendre(low, high, num_panels, 8)
  with jax.enable_x64(True):
    as64 = lambda m: Mixture1D(*(jnp.asarray(np.asarray(a, np.float64))
                                 for a in m))
    xs = jnp.asarray(x)
    gap = jnp.abs(mixture1d_cdf(xs, as64(p)) - mixture1d_cdf(xs, as64(q)))
    return float(jnp.sum(jnp.asarray(w) * gap))

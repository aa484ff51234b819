"""Tests of gdm_jax/data/toy.py: samplers against closed-form moments and
densities, densities that integrate to one, the toy ArrayDataset, and the
1-D Gaussian mixtures as arrays (density, CDF, moments, exact W1)."""

import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy import stats

from gdm_jax import data
from gdm_jax import quadrature
from gdm_jax.data import toy
from gdm_jax.eval import toy_metrics


def draw(dist, n, seed=0):
  return np.asarray(dist.sample(jax.random.PRNGKey(seed), n), np.float64)


def mixture_moments(means, stds, weights):
  """Mean [D] and covariance [D, D] of an isotropic Gaussian mixture."""
  means, stds, weights = (np.asarray(a, np.float64) for a in (means, stds, weights))
  mean = weights @ means
  second = sum(w * (s**2 * np.eye(means.shape[1]) + np.outer(m, m))
               for m, s, w in zip(means, stds, weights))
  return mean, second - np.outer(mean, mean)


def trapezoid_2d(log_prob, lo, hi, h):
  """Integral of exp(log_prob) over the box [lo, hi] on a grid of spacing h."""
  xs = np.arange(lo[0], hi[0] + h / 2, h)
  ys = np.arange(lo[1], hi[1] + h / 2, h)
  gx, gy = np.meshgrid(xs, ys, indexing="ij")
  pts = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
  p = np.exp(np.asarray(jax.jit(log_prob)(pts), np.float64)).reshape(gx.shape)
  return np.trapezoid(np.trapezoid(p, ys, axis=1), xs)


@pytest.mark.parametrize("name", ["ring8", "grid25", "mixture1d", "gaussian1d"])
def test_mixture_sample_moments_match_closed_form(name):
  dist = toy.get_toy(name)
  # Every set here is an equal-std mixture; read its parameters back.
  builders = {
      "ring8": lambda: (dist.modes, 0.02, np.full(8, 1 / 8)),
      "grid25": lambda: (dist.modes, 0.05, np.full(25, 1 / 25)),
      "mixture1d": lambda: ([[-2.0], [2.0]], 0.5, [0.5, 0.5]),
      "gaussian1d": lambda: ([[0.0]], 1.0, [1.0]),
  }
  means, std, weights = builders[name]()
  mean, cov = mixture_moments(means, np.full(len(weights), std), weights)
  n = 200_000
  x = draw(dist, n)
  assert x.shape == (n, dist.dim)
  # Standard errors of the sample mean and covariance (4th moments from x).
  se_mean = np.sqrt(np.diag(cov) / n)
  np.testing.assert_array_less(np.abs(x.mean(0) - mean), 5 * se_mean + 1e-12)
  xc = x - x.mean(0)
  prods = xc[:, :, None] * xc[:, None, :]
  se_cov = prods.std(0) / np.sqrt(n)
  np.testing.assert_array_less(np.abs(np.cov(x.T, bias=True).reshape(cov.shape)
                                      - cov), 5 * se_cov + 1e-12)


def test_mixture_log_prob_matches_scipy():
  rng = np.random.default_rng(0)
  for name in ["ring8", "grid25", "mixture1d"]:
    dist = toy.get_toy(name)
    std = dist.mode_std
    k = len(dist.modes)
    pts = dist.modes[rng.integers(k, size=50)] + 3 * std * rng.normal(
        size=(50, dist.dim))
    ref = np.log(np.mean([stats.multivariate_normal(m, std**2).pdf(pts)
                          .reshape(-1) for m in dist.modes], axis=0))
    np.testing.assert_allclose(dist.log_prob(pts.astype(np.float32)), ref,
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,lo,hi,h", [
    ("ring8", (-2.2, -2.2), (2.2, 2.2), 0.005),      # h = std / 4
    ("grid25", (-4.4, -4.4), (4.4, 4.4), 0.0125),    # h = std / 4
    ("two_moons", (-1.7, -1.2), (2.7, 1.7), 0.02),   # 5 stds of margin
])
def test_2d_log_prob_integrates_to_one(name, lo, hi, h):
  total = trapezoid_2d(toy.get_toy(name).log_prob, lo, hi, h)
  assert abs(total - 1.0) < 1e-3, total


@pytest.mark.parametrize("name,lo,hi", [
    ("gaussian1d", -9.0, 9.0), ("mixture1d", -6.0, 6.0), ("cubic1d", -1.0, 1.0)])
def test_1d_log_prob_integrates_to_one(name, lo, hi):
  xs = np.linspace(lo, hi, 20001)
  p = np.exp(np.asarray(toy.get_toy(name).log_prob(xs[:, None]), np.float64))
  assert abs(np.trapezoid(p, xs) - 1.0) < 1e-4


def test_two_moons_quadrature_is_converged_and_moments_are_right():
  dist = toy.get_toy("two_moons")
  x = draw(dist, 200)
  # Reference: the t-integral by a 20,000-point midpoint rule in float64.
  t = (np.arange(20_000) + 0.5) * np.pi / 20_000
  centres = np.concatenate([np.stack([np.cos(t), np.sin(t)], -1),
                            np.stack([1 - np.cos(t), 0.5 - np.sin(t)], -1)])
  sq = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
  ref = np.log(np.exp(-sq / (2 * 0.1**2)).mean(1) / (2 * np.pi * 0.1**2))
  np.testing.assert_allclose(dist.log_prob(x), ref, atol=1e-3)
  # E[c1] = (0, 2/pi), E[c2] = (1, 1/2 - 2/pi): the mixture mean is (1/2, 1/4).
  x = draw(dist, 200_000, seed=1)
  np.testing.assert_allclose(x.mean(0), [0.5, 0.25], atol=5 * x.std(0).max()
                             / np.sqrt(len(x)))


def binned_density(log_prob, edges, sub=8):
  """Average of exp(log_prob) over each bin of `edges` (midpoint rule)."""
  w = np.diff(edges)
  offs = (np.arange(sub) + 0.5) / sub
  pts = (edges[:-1, None] + w[:, None] * offs[None]).ravel()
  p = np.exp(np.asarray(log_prob(pts[:, None].astype(np.float32)), np.float64))
  return p.reshape(-1, sub).mean(1)


@pytest.mark.parametrize("name,lo,hi", [
    ("mixture1d", -4.0, 4.0), ("gaussian1d", -3.0, 3.0), ("cubic1d", -1.0, 1.0)])
def test_1d_log_prob_matches_histogram_of_samples(name, lo, hi):
  dist = toy.get_toy(name)
  n = 400_000
  x = draw(dist, n, seed=2)[:, 0]
  edges = np.linspace(lo, hi, 41)
  counts, _ = np.histogram(x, edges)
  width = np.diff(edges)
  hist = counts / (n * width)
  p = binned_density(dist.log_prob, edges)
  # Binomial standard error of each bin's density estimate.
  se = np.sqrt(p * width * (1 - p * width) / n) / width
  np.testing.assert_array_less(np.abs(hist - p), 5 * se + 1e-3)


def test_two_moons_log_prob_matches_2d_histogram_of_samples():
  dist = toy.get_toy("two_moons")
  n = 400_000
  x = draw(dist, n, seed=4)
  ex, ey = np.linspace(-1.5, 2.5, 21), np.linspace(-1.0, 1.5, 11)
  counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], [ex, ey])
  area = np.diff(ex)[0] * np.diff(ey)[0]
  hist = counts / (n * area)
  # Bin averages of the density by a 6 x 6 midpoint rule in each bin.
  sub = (np.arange(6) + 0.5) / 6
  px = (ex[:-1, None] + np.diff(ex)[0] * sub).ravel()
  py = (ey[:-1, None] + np.diff(ey)[0] * sub).ravel()
  gx, gy = np.meshgrid(px, py, indexing="ij")
  dens = np.exp(np.asarray(dist.log_prob(
      np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)), np.float64))
  p = dens.reshape(20, 6, 10, 6).mean((1, 3))
  se = np.sqrt(p * area * (1 - p * area) / n) / area
  np.testing.assert_array_less(np.abs(hist - p), 5 * se + 2e-3)
  assert hist.max() > 0.3                      # the test has signal


def test_cubic1d_is_the_change_of_variables_of_a_uniform():
  """x = z^(1/3), z ~ U[a, b]: P(X <= x) = (x^3 - a) / (b - a)."""
  for low, high in [(-1.0, 1.0), (0.0, 8.0)]:
    dist = toy.get_toy("cubic1d", low=low, high=high)
    x = draw(dist, 20_000, seed=3)[:, 0]
    assert x.min() >= np.cbrt(low) - 1e-6 and x.max() <= np.cbrt(high) + 1e-6
    cdf = lambda t, a=low, b=high: np.clip((np.asarray(t)**3 - a) / (b - a), 0, 1)
    assert stats.kstest(x, cdf).pvalue > 1e-3
    # The density formula 3 x^2 / (b - a) inside the support, 0 outside.
    t = np.array([[np.cbrt(low) + 0.3], [np.cbrt(high) - 0.1]], np.float32)
    np.testing.assert_allclose(np.exp(dist.log_prob(t)),
                               3 * t[:, 0].astype(np.float64)**2 / (high - low),
                               rtol=1e-5)
    out = np.array([[np.cbrt(low) - 0.01], [np.cbrt(high) + 0.01]], np.float32)
    assert np.all(np.isneginf(dist.log_prob(out)))


def test_swiss_roll_lies_on_its_spiral():
  dist = toy.get_toy("swiss_roll", noise=1e-4)
  assert dist.log_prob is None and dist.modes is None
  x = draw(dist, 1000) / 0.2
  r = np.linalg.norm(x, axis=1)                    # r = t in [1.5 pi, 4.5 pi]
  assert r.min() > 1.5 * np.pi - 1e-2 and r.max() < 4.5 * np.pi + 1e-2
  np.testing.assert_allclose(np.cos(r), x[:, 0] / r, atol=1e-2)


def test_get_toy_errors_name_the_choices():
  with pytest.raises(ValueError, match="ring8.*grid25"):
    toy.get_toy("ring9")
  with pytest.raises(ValueError, match="radius"):
    toy.get_toy("ring8", sigma=0.1)
  assert toy.get_toy("ring8", radius=3.0).modes[0, 0] == pytest.approx(3.0)


def test_load_toy_dataset_is_deterministic_and_batches():
  ds = toy.load_toy_dataset("grid25", num_train=1000, num_validation=50,
                            num_test=70, seed=5)
  assert {k: v["x"].shape for k, v in ds.splits.items()} == {
      "train": (1000, 2), "validation": (50, 2), "test": (70, 2)}
  assert all(v["x"].dtype == np.float32 for v in ds.splits.values())
  assert ds.info["kind"] == "toy" and ds.info["shape"] == (2,)
  assert ds.info["modes"].shape == (25, 2) and ds.info["mode_std"] == 0.05
  assert ds.info["has_log_prob"]
  again = toy.load_toy_dataset("grid25", num_train=1000, num_validation=50,
                               num_test=70, seed=5)
  for split in ds.splits:
    np.testing.assert_array_equal(ds.splits[split]["x"], again.splits[split]["x"])
  # Another seed gives other data; splits are distinct draws; a split does
  # not depend on the other splits' sizes.
  other = toy.load_toy_dataset("grid25", 1000, 50, 70, seed=6)
  assert not np.array_equal(other.splits["test"]["x"], ds.splits["test"]["x"])
  assert not np.array_equal(ds.splits["train"]["x"][:50], ds.splits["validation"]["x"])
  bigger = toy.load_toy_dataset("grid25", 2000, 50, 70, seed=5)
  np.testing.assert_array_equal(bigger.splits["test"]["x"], ds.splits["test"]["x"])
  # Batching: static shapes, pure function of (seed, step), covers an epoch.
  b = ds.train_batch(3, 100, seed=0)
  assert set(b) == {"x"} and b["x"].shape == (100, 2)
  np.testing.assert_array_equal(b["x"], again.train_batch(3, 100, seed=0)["x"])
  epoch = np.concatenate([ds.train_batch(s, 100, seed=0)["x"] for s in range(10)])
  np.testing.assert_array_equal(np.sort(epoch, axis=0),
                                np.sort(ds.splits["train"]["x"], axis=0))
  batches = list(ds.eval_batches("test", 32))
  assert sum(m.sum() for _, m in batches) == 70


def test_load_dispatches_toy_names_from_config():
  cfg = ml_collections.ConfigDict({
      "name": "cubic1d", "split_seed": 2, "toy_num_train": 300,
      "toy_num_validation": 20, "toy_num_test": 30,
      "toy_params": {"low": 0.0, "high": 8.0}})
  ds = data.load(cfg)
  assert ds.info["name"] == "cubic1d" and ds.info["shape"] == (1,)
  assert ds.info["modes"] is None and ds.info["params"] != {}
  x = ds.splits["train"]["x"]
  assert x.shape == (300, 1) and 0.0 <= x.min() and x.max() <= 2.0
  rebuilt = toy.get_toy(ds.info["name"], **ds.info["params"])
  assert np.all(np.isfinite(rebuilt.log_prob(x)))


def test_toy_import_does_not_import_tensorflow():
  code = ("import sys, gdm_jax.data, gdm_jax.data.toy; "
          "print('tensorflow' in sys.modules, 'tensorflow_datasets' in sys.modules)")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, check=True, timeout=120)
  assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------ 1-D Gaussian mixtures ----


def test_mixture1d_density_cdf_moments_samples_and_exact_w1():
  m = toy.gaussian_mixture1d([-2.0, 2.0], [0.5, 0.5], [0.3, 0.7],
                             num_components=3)
  assert all(a.shape == (3,) and a.dtype == np.float32 for a in m)
  x = np.linspace(-4.0, 4.0, 9).astype(np.float32)
  expected = (0.3 * stats.norm.cdf(x, -2, 0.5) + 0.7 * stats.norm.cdf(x, 2, 0.5))
  np.testing.assert_allclose(toy.mixture1d_cdf(x, m), expected, atol=2e-6)
  np.testing.assert_allclose(np.exp(toy.mixture1d_log_prob(x, m)),
                             0.3 * stats.norm.pdf(x, -2, 0.5)
                             + 0.7 * stats.norm.pdf(x, 2, 0.5),
                             rtol=1e-4, atol=1e-7)
  mean, std = toy.mixture1d_moments(m)
  assert mean == pytest.approx(0.3 * -2 + 0.7 * 2)
  assert std == pytest.approx(np.sqrt(0.25 + 4 - mean ** 2))
  s = np.asarray(toy.mixture1d_sample(jax.random.PRNGKey(0), 50_000, m))
  assert s.shape == (50_000, 1)
  assert s.mean() == pytest.approx(mean, abs=0.03)
  assert s.std() == pytest.approx(std, abs=0.03)
  # W1 of a shift is the shift; of a scale change |s - 1| E|Z|.
  n01 = toy.gaussian_mixture1d([0.0], [1.0])
  assert toy.mixture1d_wasserstein1(n01, toy.gaussian_mixture1d(
      [1.5], [1.0])) == pytest.approx(1.5, abs=1e-6)
  assert toy.mixture1d_wasserstein1(n01, toy.gaussian_mixture1d(
      [0.0], [3.0])) == pytest.approx(2 * np.sqrt(2 / np.pi), abs=1e-6)
  # ... and the exact OT between large samples is close to it.
  t = np.asarray(toy.mixture1d_sample(jax.random.PRNGKey(1), 20_000, n01))
  assert toy_metrics.wasserstein1(s, t) == pytest.approx(
      toy.mixture1d_wasserstein1(m, n01), rel=0.03)


def test_mixture1d_cdf_is_the_integral_of_the_density():
  """F(x) = ∫_{-∞}^x p, by a fine Gauss-Legendre rule on [-12, x]."""
  m = toy.gaussian_mixture1d([-1.0, 0.5, 3.0], [0.3, 1.2, 0.7],
                             [0.2, 0.5, 0.3])
  for upper in (-1.3, 0.0, 0.9, 4.2):
    nodes, w = quadrature.gauss_legendre(-12.0, upper, 200, 8)
    integral = np.sum(w * np.exp(np.asarray(toy.mixture1d_log_prob(
        jnp.asarray(nodes, jnp.float32), m), np.float64)))
    np.testing.assert_allclose(
        toy.mixture1d_cdf(jnp.asarray([upper], jnp.float32), m)[0], integral,
        atol=2e-6)
  # The float64 CDF (x64) that the exact W1 integrates.
  with jax.enable_x64(True):
    m64 = toy.Mixture1D(*(jnp.asarray(np.asarray(a, np.float64)) for a in m))
    f = toy.mixture1d_cdf(jnp.asarray([-12.0, 0.9, 30.0]), m64)
    assert f.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(f)[[0, 2]], [0.0, 1.0], atol=1e-15)


def test_mixture1d_jit_and_vmap_over_padded_mixtures():
  ms = [toy.gaussian_mixture1d([0.0], [1.0], num_components=2),
        toy.gaussian_mixture1d([-2.0, 2.0], [0.5, 0.5], num_components=2)]
  stacked = jax.tree.map(lambda *a: jnp.stack(a), *ms)
  x = jnp.linspace(-3.0, 3.0, 7)
  lp = jax.jit(jax.vmap(toy.mixture1d_log_prob, (None, 0)))(x, stacked)
  chex.assert_shape(lp, (2, 7))
  for i, m in enumerate(ms):
    chex.assert_trees_all_close(lp[i], toy.mixture1d_log_prob(x, m),
                                atol=1e-6)
  # A padded (zero-weight) component changes nothing.
  chex.assert_trees_all_close(
      lp[0], toy.mixture1d_log_prob(x, toy.gaussian_mixture1d([0.0], [1.0])),
      atol=1e-6)
  # The toy set mixture1d has the same density.
  chex.assert_trees_all_close(lp[1], toy.get_toy("mixture1d").log_prob(
      x[:, None]), atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(locs=[0.0, 1.0], scales=[1.0]), "differ in length"),
    (dict(locs=[0.0], scales=[0.0]), "scales must be > 0"),
    (dict(locs=[0.0, 1.0], scales=[1.0, 1.0], weights=[0.7, 0.7]),
     "summing to 1"),
    (dict(locs=[0.0, 1.0], scales=[1.0, 1.0], num_components=1),
     "num_components"),
])
def test_gaussian_mixture1d_rejects_bad_parameters(kwargs, match):
  with pytest.raises(ValueError, match=match):
    toy.gaussian_mixture1d(**kwargs)

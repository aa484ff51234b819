"""Tests of gdm_jax/quadrature.py: the rules against exact integrals, and the
integrals of densities (KL, JSD, the GAN value) against scipy, Monte Carlo
and their closed forms."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy import stats

from gdm_jax import critics
from gdm_jax import quadrature

LOG2 = math.log(2.0)


# ---------------------------------------------------------------- rules ----


@pytest.mark.parametrize("order", [1, 2, 4, 8])
@pytest.mark.parametrize("num_panels", [1, 5])
def test_gauss_legendre_is_exact_for_polynomials_of_degree_2n_minus_1(
    order, num_panels):
  low, high = -1.0, 3.0
  x, w = quadrature.gauss_legendre(low, high, num_panels, order)
  assert x.shape == w.shape == (num_panels * order,)
  assert x.dtype == w.dtype == np.float64
  assert np.all(np.diff(x) > 0) and np.all(w > 0)
  rng = np.random.default_rng(order)
  for degree in range(2 * order):
    c = rng.normal(size=degree + 1)                  # a random polynomial
    exact = np.polyval(np.polyint(c), high) - np.polyval(np.polyint(c), low)
    np.testing.assert_allclose(np.sum(w * np.polyval(c, x)), exact,
                               rtol=1e-12, atol=1e-12)
  # Degree 2n is not integrated exactly on one panel (the rule's limit).
  if num_panels == 1:
    exact = (high ** (2 * order + 1) - low ** (2 * order + 1)) / (2 * order + 1)
    assert abs(np.sum(w * x ** (2 * order)) - exact) > 1e-8


def test_gauss_legendre_is_accurate_for_smooth_integrands():
  x, w = quadrature.gauss_legendre(-10.0, 10.0, 50, 8)
  np.testing.assert_allclose(np.sum(w * np.exp(-x * x)), math.sqrt(math.pi),
                             rtol=1e-12)
  np.testing.assert_allclose(np.sum(w), 20.0, rtol=1e-14)


@pytest.mark.parametrize("args", [(1.0, 1.0, 4), (2.0, 1.0, 4),
                                  (0.0, 1.0, 0), (0.0, 1.0, 2, 0)])
def test_gauss_legendre_rejects_bad_arguments(args):
  with pytest.raises(ValueError, match="gauss_legendre"):
    quadrature.gauss_legendre(*args)


def test_trapezoid_weights_integrate_a_density_a_moment_and_lines():
  x = np.linspace(-15.0, 15.0, 6001)
  w = quadrature.trapezoid_weights(x)
  p = stats.norm.pdf(x, 1.5, 0.7)
  np.testing.assert_allclose(np.sum(w * p), 1.0, atol=1e-6)
  np.testing.assert_allclose(np.sum(w * p * x), 1.5, atol=1e-5)
  # Exact for a piecewise-linear integrand on an uneven grid.
  g = np.sort(np.random.default_rng(0).uniform(0.0, 2.0, 50))
  np.testing.assert_allclose(np.sum(quadrature.trapezoid_weights(g)
                                    * (3 * g - 1)),
                             1.5 * (g[-1] ** 2 - g[0] ** 2) - (g[-1] - g[0]),
                             rtol=1e-12)
  for bad in ([0.0], [0.0, 1.0, 1.0], [[0.0, 1.0]]):
    with pytest.raises(ValueError, match="trapezoid_weights"):
      quadrature.trapezoid_weights(bad)


# ----------------------------------------------------- divergences ----


def _grid(lo=-15.0, hi=15.0, n=6001):
  x = np.linspace(lo, hi, n)
  return x, quadrature.trapezoid_weights(x)


def _log_normal(x, mu, sigma):
  return stats.norm.logpdf(x, mu, sigma)


def test_jensen_shannon_limits_and_monte_carlo():
  x, w = _grid()
  lp = _log_normal(x, 0.0, 1.0)
  with jax.enable_x64(True):
    jsd_fn = lambda a, b: float(quadrature.jensen_shannon(a, b, w))
    assert abs(jsd_fn(lp, lp)) < 1e-9
    # Disjoint in effect (20 standard deviations apart): JSD = log 2.
    far = _log_normal(x, 10.0, 0.5)
    np.testing.assert_allclose(jsd_fn(lp, far), LOG2, atol=1e-6)
    # Against a Monte Carlo estimate, and symmetric.
    lq = _log_normal(x, 1.3, 0.6)
    jsd = jsd_fn(lp, lq)
    assert abs(jsd - jsd_fn(lq, lp)) < 1e-9
  rng = np.random.default_rng(0)
  xp, xq = rng.normal(0.0, 1.0, 400_000), 1.3 + 0.6 * rng.normal(size=400_000)
  lpq = lambda t: (_log_normal(t, 0.0, 1.0), _log_normal(t, 1.3, 0.6))
  a, b = lpq(xp)
  c, d = lpq(xq)
  mc = 0.5 * np.mean(LOG2 + a - np.logaddexp(a, b)) + 0.5 * np.mean(
      LOG2 + d - np.logaddexp(c, d))
  assert 0.05 < jsd < LOG2
  np.testing.assert_allclose(jsd, mc, atol=3e-3)


def test_gan_value_at_optimal_discriminator_is_2jsd_minus_log4():
  """Goodfellow et al. 2014, Theorem 1; any other D gives less."""
  x, w = _grid()
  lp = np.logaddexp(_log_normal(x, -2.0, 0.5), _log_normal(x, 2.0, 0.5)) - LOG2
  lq = _log_normal(x, 0.7, 1.0)
  with jax.enable_x64(True):
    value = lambda logits: float(quadrature.gan_value(lp, lq, logits, w))
    star = np.asarray(critics.optimal_discriminator_logit(lp, lq))
    v_star = value(star)
    np.testing.assert_allclose(
        v_star, 2.0 * float(quadrature.jensen_shannon(lp, lq, w))
        - math.log(4.0), atol=1e-6)
    rng = np.random.default_rng(1)
    for perturbation in (0.3 * np.sin(x), 0.5 * np.ones_like(x),
                         rng.normal(0, 1, x.shape)):
      assert value(star + perturbation) < v_star
    # A D that cannot tell the two apart (D = 1/2): V = -log 4.
    np.testing.assert_allclose(value(np.zeros_like(x)), -math.log(4.0),
                               atol=1e-6)


def test_kl_divergence_matches_scipy_and_the_gaussian_closed_form():
  x, w = quadrature.gauss_legendre(-20.0, 20.0, 400, 8)
  lp, lq = _log_normal(x, 0.3, 0.8), _log_normal(x, -1.0, 1.7)
  with jax.enable_x64(True):
    kl = float(quadrature.kl_divergence(lp, lq, w))
  # KL(N(m1, s1²) || N(m2, s2²)) = log(s2/s1) + (s1² + (m1-m2)²)/(2 s2²) - ½.
  closed = math.log(1.7 / 0.8) + (0.64 + 1.3 ** 2) / (2 * 1.7 ** 2) - 0.5
  np.testing.assert_allclose(kl, closed, rtol=1e-10)
  ref = integrate.quad(lambda t: stats.norm.pdf(t, 0.3, 0.8) * (
      stats.norm.logpdf(t, 0.3, 0.8) - stats.norm.logpdf(t, -1.0, 1.7)),
                       -20, 20)[0]
  np.testing.assert_allclose(kl, ref, rtol=1e-8)


def test_zero_density_nodes_count_as_zero_with_finite_gradients():
  """0 log 0 = 0: a density that is 0 on part of the grid (log p = -inf)."""
  x, w = quadrature.gauss_legendre(-1.0, 2.0, 30, 8)
  x, w = jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32)
  log_u = jnp.where((x >= 0) & (x <= 1), 0.0, -jnp.inf)       # U[0, 1]
  log_n = lambda mu: -0.5 * (x - mu) ** 2 - 0.5 * math.log(2 * math.pi)
  kl = lambda mu: quadrature.kl_divergence(log_u, log_n(mu), w)
  # KL(U[0,1] || N(μ, 1)) = ½ log 2π + ½ E_U (x - μ)² = ½ log 2π + (1/3 - μ
  # + μ²)/2; its derivative in μ is μ - ½.
  mu = 0.2
  np.testing.assert_allclose(kl(mu), 0.5 * math.log(2 * math.pi)
                             + 0.5 * (1 / 3 - mu + mu * mu), rtol=2e-3)
  g = jax.grad(kl)(mu)
  assert np.isfinite(g)
  np.testing.assert_allclose(g, mu - 0.5, rtol=2e-2)
  # Disjoint supports: JSD = log 2 exactly where both are 0 elsewhere.
  log_v = jnp.where(x > 1.5, 0.0, -jnp.inf) + math.log(2.0)    # U[1.5, 2]
  assert float(quadrature.jensen_shannon(log_u, log_v, w)) == pytest.approx(
      LOG2, rel=1e-5)
  assert np.all(np.isfinite(jax.grad(lambda s: quadrature.jensen_shannon(
      log_u, log_v + s, w))(0.0)))


class DivergenceVariantsTest(chex.TestCase):
  """The same numbers with and without jit, and broadcasting [M, N] -> [M]."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_divergences_jit_and_batch(self):
    x, w = quadrature.gauss_legendre(-12.0, 12.0, 96, 8)
    x, w = jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32)
    lp = jax.scipy.stats.norm.logpdf(x, 0.0, 1.0)
    mus = jnp.asarray([-1.0, 0.0, 2.5])
    lq = jax.scipy.stats.norm.logpdf(x[None], mus[:, None], 1.0)   # [3, N]
    fns = self.variant(lambda a, b: (quadrature.kl_divergence(a, b, w),
                                     quadrature.jensen_shannon(a, b, w)))
    kl, jsd = fns(lp, lq)
    chex.assert_shape([kl, jsd], (3,))
    # KL between unit-variance Gaussians is (Δμ)²/2.
    chex.assert_trees_all_close(kl, mus ** 2 / 2, atol=1e-5)
    for i in range(3):
      one = fns(lp, lq[i])
      chex.assert_trees_all_close(one[1], jsd[i], atol=1e-6)
    assert jsd[1] == pytest.approx(0.0, abs=1e-6)
    # E_q[x] = μ and E_q[x²] = μ² + 1 under N(μ, 1).
    mean = self.variant(lambda l, v: quadrature.expectation(l, v, w))
    chex.assert_trees_all_close(mean(lq, x), mus, atol=1e-5)
    chex.assert_trees_all_close(mean(lq, x * x), mus ** 2 + 1, atol=1e-4)

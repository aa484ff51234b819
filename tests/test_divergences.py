"""Maths checks of gdm_jax.divergences: f-divergences, bound, MMD (plain and
row-weighted), energy distance; and its input checks.

The f-divergence checks run in float64 (jax.enable_x64 context) so that grid
identities can be held to tight tolerances.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import spatial
from scipy import stats

from gdm_jax import divergences as dv
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i

NAMES = sorted(dv.FDIVERGENCES)
# The WAE's multipliers s of its IMQ scale 2 d σ² (gdm_jax.models.wae).
SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
U_GRID = np.geomspace(1e-3, 1e3, 801)


@pytest.fixture(autouse=True)
def _x64():
  with jax.enable_x64(True):
    yield


def _u_grid(name):
  # TV's f is not differentiable at u = 1; keep away from it there.
  return U_GRID[np.abs(U_GRID - 1.0) > 1e-6] if name == "total_variation" \
      else U_GRID


def _t_grid(div):
  """Points of dom f*: the image of a wide logit grid, plus finite ends."""
  t = np.asarray(div.output_activation(jnp.linspace(-12.0, 12.0, 241)))
  dom = div.conjugate_domain
  extra = [x for x, closed in ((dom.low, dom.low_closed),
                               (dom.high, dom.high_closed))
           if closed and math.isfinite(x)]
  return np.concatenate([t, extra])


def direct_divergence(name, p, q):
  """D_f(P || Q) from its definition in the divergence column (not f)."""
  jsd = spatial.distance.jensenshannon(p, q) ** 2  # natural log by default
  return {
      "forward_kl": stats.entropy(p, q),
      "reverse_kl": stats.entropy(q, p),
      "jensen_shannon": 2.0 * jsd,
      "gan": 2.0 * jsd - math.log(4.0),
      "pearson_chi2": stats.chisquare(p, q).statistic,
      "neyman_chi2": stats.chisquare(q, p).statistic,
      "squared_hellinger": spatial.distance.euclidean(np.sqrt(p),
                                                      np.sqrt(q)) ** 2,
      "total_variation": 0.5 * spatial.distance.cityblock(p, q),
  }[name]


def test_registry():
  assert set(NAMES) == {"forward_kl", "reverse_kl", "jensen_shannon", "gan",
                        "pearson_chi2", "neyman_chi2", "squared_hellinger",
                        "total_variation"}
  for name in NAMES:
    assert dv.get_f_divergence(name).name == name
  with pytest.raises(ValueError, match="known"):
    dv.get_f_divergence("kl")


@pytest.mark.parametrize("name", NAMES)
def test_f_at_one(name):
  div = dv.FDIVERGENCES[name]
  # Nowozin's GAN generator u log u - (u+1) log(u+1) has f(1) = -log 4:
  # D_GAN = 2 JSD - log 4, its minimum at P = Q.
  expected = -math.log(4.0) if name == "gan" else 0.0
  np.testing.assert_allclose(div.f(jnp.float64(1.0)), expected, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_f_convex(name):
  """Slopes of chords between neighbouring grid points never decrease."""
  u = np.geomspace(1e-3, 1e3, 4001)
  f = np.asarray(dv.FDIVERGENCES[name].f(jnp.asarray(u)))
  slopes = np.diff(f) / np.diff(u)
  assert np.all(np.diff(slopes) >= -1e-9 * (1.0 + np.abs(slopes[1:])))


@pytest.mark.parametrize("name", NAMES)
def test_optimal_critic_is_f_prime(name):
  div = dv.FDIVERGENCES[name]
  u = jnp.asarray(_u_grid(name))
  critic, grad = jax.jit(lambda u: (div.optimal_critic(u),
                                    jax.vmap(jax.grad(div.f))(u)))(u)
  np.testing.assert_allclose(critic, grad, rtol=1e-10, atol=1e-10)
  one = jnp.float64(1.0)
  if name == "total_variation":
    # Subdifferential at 1 is [f'(1-), f'(1+)] = [-1/2, 1/2].
    h = 1e-6
    left = (div.f(one) - div.f(one - h)) / h
    right = (div.f(one + h) - div.f(one)) / h
    assert left - 1e-9 <= div.f_prime_at_one <= right + 1e-9
  else:
    np.testing.assert_allclose(div.f_prime_at_one, jax.grad(div.f)(one),
                               atol=1e-12)
    np.testing.assert_allclose(div.optimal_critic(one), div.f_prime_at_one,
                               atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_at_gradient(name):
  """f*(f'(u)) = u f'(u) - f(u): the sup in f* is attained at u."""
  div = dv.FDIVERGENCES[name]
  u = jnp.asarray(_u_grid(name))
  t = div.optimal_critic(u)
  np.testing.assert_allclose(div.conjugate(t), u * t - div.f(u), rtol=1e-9,
                             atol=1e-9)


@functools.partial(jax.jit, static_argnums=0)
def _fenchel_young_terms(div, u, t, u_fine, t_in):
  gap = div.f(u[:, None]) + div.conjugate(t[None, :]) - u[:, None] * t[None, :]
  worst = jnp.min(gap / (1.0 + jnp.abs(u[:, None] * t[None, :])))
  sup = jnp.max(u_fine[:, None] * t_in[None, :] - div.f(u_fine)[:, None],
                axis=0)
  return worst, sup, div.conjugate(t_in)


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young(name):
  """f(u) + f*(t) >= u t on a grid of u > 0 and t in dom f*."""
  div = dv.FDIVERGENCES[name]
  # The sup over a fine grid approaches f*(t) from below where it is attained
  # inside the grid (t in f'((1e-3, 1e3))).
  t_in = div.optimal_critic(jnp.geomspace(2e-3, 5e2, 30))
  worst, sup, conj = _fenchel_young_terms(
      div, jnp.asarray(U_GRID), jnp.asarray(_t_grid(div)),
      jnp.geomspace(1e-3, 1e3, 20001), t_in)
  assert float(worst) >= -1e-9
  np.testing.assert_allclose(sup, conj, rtol=1e-4, atol=1e-4)


@functools.partial(jax.jit, static_argnums=0)
def _activation_checks(div, v, v_mid):
  t = div.output_activation(v)
  return (jnp.all(div.conjugate_domain.contains(t)),
          jnp.all(jnp.isfinite(div.conjugate(t))),
          jnp.min(jnp.diff(t)),
          div.inverse_activation(div.output_activation(v_mid)),
          div.conjugate_of_activation(v_mid),
          div.conjugate(div.output_activation(v_mid)))


@pytest.mark.parametrize("name", NAMES)
def test_output_activation_maps_into_domain(name):
  div = dv.FDIVERGENCES[name]
  v_mid = jnp.linspace(-5.0, 5.0, 101)
  inside, finite, min_step, v_back, stable, composed = _activation_checks(
      div, jnp.linspace(-30.0, 30.0, 6001), v_mid)
  assert bool(inside) and bool(finite)
  # Monotone (up to rounding), so g_f^{-1} exists, and inverse_activation is it.
  assert float(min_step) >= -1e-15
  np.testing.assert_allclose(v_back, v_mid, rtol=1e-8, atol=1e-8)
  # The stable closed form of f* o g_f agrees with the composition.
  np.testing.assert_allclose(stable, composed, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["gan", "jensen_shannon", "reverse_kl",
                                  "squared_hellinger", "neyman_chi2",
                                  "total_variation"])
def test_conjugate_outside_domain_is_inf_with_finite_gradient(name):
  div = dv.FDIVERGENCES[name]
  dom = div.conjugate_domain
  outside = jnp.float64(dom.high + 0.5)
  assert div.conjugate(outside) == jnp.inf
  assert bool(jnp.isfinite(jax.grad(div.conjugate)(outside)))


def test_conjugate_of_activation_finite_in_float32():
  """Where f* o g_f composed overflows in float32, the closed form does not."""
  with jax.enable_x64(False):
    v = jnp.array([-100.0, -20.0, 0.0, 20.0, 100.0], jnp.float32)
    for name in ("gan", "jensen_shannon", "reverse_kl", "total_variation",
                 "neyman_chi2"):
      div = dv.FDIVERGENCES[name]
      assert bool(jnp.all(jnp.isfinite(div.conjugate_of_activation(v)))), name
    for div in (dv.GAN, dv.JENSEN_SHANNON):  # why the field exists
      naive = div.conjugate(div.output_activation(v))
      assert not bool(jnp.all(jnp.isfinite(naive)))
    np.testing.assert_allclose(dv.GAN.conjugate_of_activation(v),
                               np.logaddexp(0.0, np.asarray(v)), rtol=1e-6,
                               atol=1e-30)


def _dirichlet_pairs(k=6, n=5, seed=0):
  rng = np.random.default_rng(seed)
  return [(rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k)))
          for _ in range(n)]


@pytest.mark.parametrize("name", NAMES)
def test_discrete_divergence_matches_scipy(name):
  div = dv.FDIVERGENCES[name]
  for p, q in _dirichlet_pairs():
    np.testing.assert_allclose(dv.discrete_f_divergence(div, p, q),
                               direct_divergence(name, p, q), rtol=1e-10)
  p = np.array([0.2, 0.3, 0.5])
  np.testing.assert_allclose(dv.discrete_f_divergence(div, p, p),
                             div.f(1.0), atol=1e-12)


def _optimal_logits(div, p, q):
  return div.inverse_activation(div.optimal_critic(p / q))


def _exact_bound(div, p, q, logits):
  """Σ_k p_k g_f(V_k) - Σ_k q_k f*(g_f(V_k)), over the last axis."""
  real, fake = dv.variational_terms(div, logits, logits)
  return jnp.sum(p * real, axis=-1) - jnp.sum(q * fake, axis=-1)


@functools.partial(jax.jit, static_argnums=0)
def _bounds_at_and_near_optimum(div, p, q, deltas):
  """p, q [n, K]; deltas [n, R, K] -> F(V*) [n], F(V* + delta) [n, R]."""
  v_star = _optimal_logits(div, p, q)  # +-inf for TV
  finite = jnp.where(jnp.isfinite(v_star), v_star, jnp.sign(v_star) * 5.0)
  return (_exact_bound(div, p, q, v_star),
          _exact_bound(div, p[:, None], q[:, None], finite[:, None] + deltas))


@pytest.mark.parametrize("name", NAMES)
def test_bound_is_tight_at_optimal_critic(name):
  """Exact expectations (sums over a finite support): F(T*) = D_f > F(T)."""
  div = dv.FDIVERGENCES[name]
  pairs = _dirichlet_pairs()
  p, q = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
  targets = np.array([direct_divergence(name, a, b) for a, b in pairs])
  deltas = 0.5 * jax.random.normal(jax.random.PRNGKey(0), (len(pairs), 200,
                                                           p.shape[1]),
                                   jnp.float64)
  at, near = _bounds_at_and_near_optimum(div, jnp.asarray(p), jnp.asarray(q),
                                         deltas)
  np.testing.assert_allclose(at, targets, rtol=1e-9, atol=1e-12)
  assert bool(jnp.all(near < targets[:, None] - 1e-9))


@pytest.mark.parametrize("name", NAMES)
def test_variational_lower_bound_with_samples(name):
  """The sample-mean bound on a support with rational masses is exact."""
  div = dv.FDIVERGENCES[name]
  counts_p, counts_q = np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])
  p, q = counts_p / 10.0, counts_q / 10.0
  v_star = _optimal_logits(div, jnp.asarray(p), jnp.asarray(q))
  real = jnp.repeat(v_star, counts_p)  # 10 samples of P
  fake = jnp.repeat(v_star, counts_q)  # 10 samples of Q
  target = direct_divergence(name, p, q)
  np.testing.assert_allclose(dv.variational_lower_bound(div, real, fake),
                             target, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(
      jnp.mean(dv.variational_lower_bound_per_example(div, real, fake)),
      target, rtol=1e-9, atol=1e-12)
  # A bad critic (the constant f'(1), blind to P vs Q) gives D_f(P||P) < D_f.
  const = jnp.full((10,), div.inverse_activation(div.f_prime_at_one))
  assert float(dv.variational_lower_bound(div, const, const)) < target
  with pytest.raises(ValueError, match="one shape"):
    dv.variational_lower_bound_per_example(div, real, fake[:5])


def test_gan_bound_is_goodfellow_objective():
  """GAN row: bound = E_P log D + E_Q log(1 - D), D = sigmoid(V)."""
  key1, key2 = jax.random.split(jax.random.PRNGKey(1))
  real = 3.0 * jax.random.normal(key1, (64,), jnp.float64)
  fake = 3.0 * jax.random.normal(key2, (48,), jnp.float64)
  expected = (jnp.mean(jnp.log(jax.nn.sigmoid(real)))
              + jnp.mean(jnp.log(1.0 - jax.nn.sigmoid(fake))))
  np.testing.assert_allclose(dv.variational_lower_bound(dv.GAN, real, fake),
                             expected, rtol=1e-10)


# ------------------------------------------------------------- MMD ---------


def _mmd_loops(x, y, k):
  """Gretton et al. 2012 eq. 3 written with explicit loops."""
  n, m = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
  xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
  return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (n * m)


def test_mmd_and_energy_match_loop_definitions():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(4, 2, 3)), rng.normal(size=(5, 2, 3)) + 0.3
  d = 6
  def rbf(a, b):
    r = np.sum((a - b) ** 2)
    return np.exp(-r / 2.0) + np.exp(-r / (2.0 * 9.0))
  def imq(a, b):
    r = np.sum((a - b) ** 2)
    return sum(2.0 * d * 0.5 * s / (2.0 * d * 0.5 * s + r) for s in SCALES)
  np.testing.assert_allclose(
      dv.mmd_unbiased(jnp.asarray(x), jnp.asarray(y),
                      dv.rbf_kernel([1.0, 3.0])),
      _mmd_loops(x, y, rbf), rtol=1e-9)
  np.testing.assert_allclose(
      dv.mmd_unbiased(jnp.asarray(x), jnp.asarray(y),
                      dv.imq_kernel([2.0 * d * 0.5 * s for s in SCALES])),
      _mmd_loops(x, y, imq), rtol=1e-9)
  dist = lambda a, b: np.sqrt(np.sum((a - b) ** 2))
  energy = -_mmd_loops(x, y, dist)  # 2 E|X-Y| - E|X-X'| - E|Y-Y'|
  np.testing.assert_allclose(dv.energy_distance(jnp.asarray(x), jnp.asarray(y)),
                             energy, rtol=1e-9)


def _repeat(fn, key, reps):
  vals = jax.jit(jax.vmap(fn))(jax.random.split(key, reps))
  vals = np.asarray(vals)
  return vals.mean(), vals.std(ddof=1) / math.sqrt(reps)


# imq: C_s = 2 d σ² s with d = 3, σ² = 1.
@pytest.mark.parametrize("kernel", [dv.rbf_kernel(1.0),
                                    dv.imq_kernel([6.0 * s for s in SCALES])],
                         ids=["rbf", "imq"])
def test_mmd_unbiased_zero_mean_under_null(kernel):
  def one(key):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (32, 3), jnp.float64)
    y = jax.random.normal(ky, (32, 3), jnp.float64)
    return dv.mmd_unbiased(x, y, kernel)
  mean, se = _repeat(one, jax.random.PRNGKey(3), 300)
  assert se > 0
  assert abs(mean) < 4.0 * se, (mean, se)


def _gauss_rbf_mean(mu1, s1, mu2, s2, h):
  v = h * h + s1 * s1 + s2 * s2
  return h / math.sqrt(v) * math.exp(-(mu1 - mu2) ** 2 / (2.0 * v))


def test_mmd_matches_gaussian_closed_form():
  mu1, s1, mu2, s2 = 0.0, 1.0, 1.0, 1.5
  hs = (0.5, 2.0)
  closed = sum(_gauss_rbf_mean(mu1, s1, mu1, s1, h)
               + _gauss_rbf_mean(mu2, s2, mu2, s2, h)
               - 2.0 * _gauss_rbf_mean(mu1, s1, mu2, s2, h) for h in hs)
  kernel = dv.rbf_kernel(hs)
  def one(key):
    kx, ky = jax.random.split(key)
    x = mu1 + s1 * jax.random.normal(kx, (40, 1), jnp.float64)
    y = mu2 + s2 * jax.random.normal(ky, (40, 1), jnp.float64)
    return dv.mmd_unbiased(x, y, kernel)
  mean, se = _repeat(one, jax.random.PRNGKey(4), 400)
  assert abs(mean - closed) < 4.0 * se, (mean, closed, se)
  assert closed > 10.0 * se  # the test can tell MMD from 0


def test_energy_distance_matches_gaussian_closed_form():
  mu1, s1, mu2, s2 = 0.0, 1.0, 0.7, 0.5
  def mean_abs(delta, tau):  # E|Z|, Z ~ N(delta, tau^2)
    return (tau * math.sqrt(2.0 / math.pi)
            * math.exp(-delta ** 2 / (2 * tau ** 2))
            + delta * (1.0 - 2.0 * stats.norm.cdf(-delta / tau)))
  closed = (2.0 * mean_abs(mu1 - mu2, math.hypot(s1, s2))
            - mean_abs(0.0, math.sqrt(2.0) * s1)
            - mean_abs(0.0, math.sqrt(2.0) * s2))
  def one(key):
    kx, ky = jax.random.split(key)
    x = mu1 + s1 * jax.random.normal(kx, (40, 1), jnp.float64)
    y = mu2 + s2 * jax.random.normal(ky, (40, 1), jnp.float64)
    return dv.energy_distance(x, y)
  mean, se = _repeat(one, jax.random.PRNGKey(5), 400)
  assert abs(mean - closed) < 4.0 * se, (mean, closed, se)


def test_energy_distance_gradient_finite_with_coincident_points():
  x = jnp.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
  y = jnp.array([[0.0, 1.0], [1.0, 1.0]])
  g = jax.grad(dv.energy_distance)(x, y)
  assert bool(jnp.all(jnp.isfinite(g)))


def test_sample_checks():
  x = jnp.zeros((1, 2))
  with pytest.raises(ValueError, match="at least 2"):
    dv.mmd_unbiased(x, jnp.zeros((3, 2)), dv.rbf_kernel(1.0))
  with pytest.raises(ValueError, match="one event shape"):
    dv.energy_distance(jnp.zeros((3, 2)), jnp.zeros((3, 4)))
  with pytest.raises(ValueError):
    dv.rbf_kernel(0.0)
  with pytest.raises(ValueError, match="imq_kernel: scales must be > 0"):
    dv.imq_kernel(-1.0)
  with pytest.raises(ValueError, match="imq_kernel"):
    dv.imq_kernel([])


# ------------------------------------------------------ weighted MMD -------

IMQ_8 = dv.imq_kernel([16.0 * s for s in SCALES])   # C_s = 2 d s, d = 8


def _padded(real, total):
  """The evaluator's last batch: `real` rows, then copies of the last one up
  to `total` rows, and its mask."""
  n = real.shape[0]
  pad = jnp.broadcast_to(real[-1:], (total - n,) + real.shape[1:])
  mask = jnp.concatenate([jnp.ones(n), jnp.zeros(total - n)])
  return jnp.concatenate([real, pad]), mask


def test_padded_batch_gives_the_real_rows_statistic():
  """16 real codes + 240 copies of the last one (a batch of 256), and as
  many prior samples: with the mask as weights the MMD² is that of the 16
  real rows alone; without it the copies make it read ≈ 2.5 (issue 14)."""
  kx, ky = jax.random.split(jax.random.PRNGKey(0))
  x_real = jax.random.normal(kx, (16, 8), jnp.float64)
  y = jax.random.normal(ky, (256, 8), jnp.float64)
  x, mask = _padded(x_real, 256)
  want = dv.mmd_unbiased(x_real, y[:16], IMQ_8)
  got = dv.mmd_unbiased(x, y, IMQ_8, x_weights=mask, y_weights=mask)
  np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
  assert abs(float(want)) < 0.5
  assert float(dv.mmd_unbiased(x, y, IMQ_8)) > 2.0        # today's reading
  for kernel in (dv.rbf_kernel([0.5, 2.0]), IMQ_8):
    np.testing.assert_allclose(
        dv.mmd_unbiased(x, y, kernel, x_weights=mask, y_weights=mask),
        dv.mmd_unbiased(x_real, y[:16], kernel), rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(
      dv.energy_distance(x, y, x_weights=mask, y_weights=mask),
      dv.energy_distance(x_real, y[:16]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", ["mmd", "energy"])
def test_zero_one_weights_equal_the_selected_rows(fn):
  """Arbitrary 0/1 weights (not only a padding suffix), unequal N and M."""
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(9, 2, 3)), rng.normal(size=(7, 2, 3)) + 0.4
  wx = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0], np.float64)
  wy = np.array([0, 1, 1, 0, 1, 1, 1], np.float64)
  call = ((lambda a, b, **kw: dv.mmd_unbiased(a, b, dv.rbf_kernel([1.0, 3.0]),
                                              **kw))
          if fn == "mmd" else dv.energy_distance)
  want = call(jnp.asarray(x[wx > 0]), jnp.asarray(y[wy > 0]))
  np.testing.assert_allclose(
      call(jnp.asarray(x), jnp.asarray(y), x_weights=jnp.asarray(wx),
           y_weights=jnp.asarray(wy)), want, rtol=1e-10)
  # One side weighted only; ones = no weights.
  np.testing.assert_allclose(
      call(jnp.asarray(x), jnp.asarray(y), x_weights=jnp.asarray(wx)),
      call(jnp.asarray(x[wx > 0]), jnp.asarray(y)), rtol=1e-10)
  np.testing.assert_allclose(
      call(jnp.asarray(x), jnp.asarray(y), x_weights=jnp.ones(9),
           y_weights=jnp.ones(7)),
      call(jnp.asarray(x), jnp.asarray(y)), rtol=1e-10)


def test_weighted_mmd_is_unbiased():
  """Fixed non-uniform weights (some zero): mean ≈ 0 under the null, and
  the mean matches the Gaussian closed form of MMD² under a shift."""
  w = jax.random.uniform(jax.random.PRNGKey(7), (40,), jnp.float64, 0.2, 2.0)
  w = w.at[:5].set(0.0)
  v = jax.random.uniform(jax.random.PRNGKey(8), (40,), jnp.float64, 0.2, 2.0)
  hs = (0.5, 2.0)
  kernel = dv.rbf_kernel(hs)

  def one(key, mu2, s2):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (40, 1), jnp.float64)
    y = mu2 + s2 * jax.random.normal(ky, (40, 1), jnp.float64)
    return dv.mmd_unbiased(x, y, kernel, x_weights=w, y_weights=v)
  mean, se = _repeat(lambda k: one(k, 0.0, 1.0), jax.random.PRNGKey(5), 400)
  assert se > 0 and abs(mean) < 4.0 * se, (mean, se)
  closed = sum(_gauss_rbf_mean(0.0, 1.0, 0.0, 1.0, h)
               + _gauss_rbf_mean(1.0, 1.5, 1.0, 1.5, h)
               - 2.0 * _gauss_rbf_mean(0.0, 1.0, 1.0, 1.5, h) for h in hs)
  mean, se = _repeat(lambda k: one(k, 1.0, 1.5), jax.random.PRNGKey(6), 400)
  assert abs(mean - closed) < 4.0 * se, (mean, closed, se)
  assert closed > 10.0 * se


def test_fewer_than_two_weighted_rows_give_zero_with_finite_gradients():
  x = jnp.asarray(np.random.default_rng(2).normal(size=(6, 2)))
  y = x[::-1] + 1.0
  one = jnp.zeros(6).at[2].set(1.0)
  for w in (one, jnp.zeros(6)):
    val, grad = jax.value_and_grad(
        lambda a: dv.mmd_unbiased(a, y, IMQ_8, x_weights=w))(x)
    assert float(val) == 0.0
    assert bool(jnp.all(jnp.isfinite(grad)))
    assert float(dv.energy_distance(x, y, y_weights=w)) == 0.0


class WeightedMMDJit(chex.TestCase):
  """The masked estimator agrees with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_jit_agrees(self):
    with jax.enable_x64(True):
      x = jax.random.normal(jax.random.PRNGKey(0), (12, 4), jnp.float64)
      y = jax.random.normal(jax.random.PRNGKey(1), (12, 4), jnp.float64)
      mask = (jnp.arange(12) < 7).astype(jnp.float64)
      fn = self.variant(lambda a, b, m: dv.mmd_unbiased(
          a, b, dv.imq_kernel([8.0 * s for s in SCALES]), x_weights=m,
          y_weights=m))
      chex.assert_trees_all_close(
          fn(x, y, mask),
          dv.mmd_unbiased(x[:7], y[:7], dv.imq_kernel([8.0 * s for s in SCALES])),
          rtol=1e-10)
      chex.assert_shape(fn(x, y, mask), ())


# ------------------------------------------------------ input checks -------

# (id, call, substrings the message must contain)
VALIDATION_CASES = [
    ("mmd_int_samples",
     lambda: dv.mmd_unbiased(i(4, 2), f(4, 2), dv.rbf_kernel(1.0)),
     ["divergences.mmd_unbiased", "`x`", "floating", "int32", "(4, 2)"]),
    ("mmd_event_shapes",
     lambda: dv.mmd_unbiased(f(4, 2), f(4, 3), dv.rbf_kernel(1.0)),
     ["mmd_unbiased", "one event shape", "(2,)", "(3,)"]),
    ("mmd_weights_shape",
     lambda: dv.mmd_unbiased(f(4, 2), f(3, 2), dv.rbf_kernel(1.0),
                             y_weights=f(4)),
     ["divergences.mmd_unbiased", "`y_weights`", "[M] (row weights)", "(4,)"]),
    ("energy_weights_dtype",
     lambda: dv.energy_distance(f(4, 2), f(3, 2), x_weights=jnp.ones(4, bool)),
     ["divergences.energy_distance", "`x_weights`", "numeric", "bool"]),
    ("energy_scalar",
     lambda: dv.energy_distance(f(), f(4)),
     ["divergences.energy_distance", "`x`", "rank >= 1", "shape ()"]),
    ("squared_distances_event",
     lambda: dv.squared_distances(f(3, 2), f(4, 5)),
     ["divergences.squared_distances", "`x` (3, 2)", "`y` (4, 5)"]),
    ("variational_bound_int_logits",
     lambda: dv.variational_lower_bound(dv.GAN, i(4), f(4)),
     ["divergences.variational_lower_bound", "`real_logits`", "int32"]),
    ("variational_bound_not_a_divergence",
     lambda: dv.variational_lower_bound("gan", f(4), f(4)),
     ["divergences.variational_lower_bound", "`div`", "FDivergence", "str"]),
    ("variational_per_example_shapes",
     lambda: dv.variational_lower_bound_per_example(dv.GAN, f(4), f(3)),
     ["variational_lower_bound_per_example", "(4,)", "(3,)"]),
    ("discrete_f_divergence_int",
     lambda: dv.discrete_f_divergence(dv.FORWARD_KL, i(3), f(3)),
     ["divergences.discrete_f_divergence", "`p`", "int32"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=name)
                          for name, c, e in VALIDATION_CASES])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

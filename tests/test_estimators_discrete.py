"""Mathematical tests of the discrete-latent estimators in gdm_jax.estimators:
Gumbel noise, the Gumbel-softmax (relaxed, straight-through, log space), the
Concrete density, and the score-function (REINFORCE) surrogate with
baselines; and their input checks.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gdm_jax import estimators as E
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i

KEY = jax.random.key(0)

LOGITS = np.array([1.0, -0.5, 0.3, 2.0, -2.0], np.float32)        # [K]


def _se(a, axis=0):
  return a.std(axis) / math.sqrt(a.shape[axis])


def test_sample_gumbel_distribution():
  g = np.asarray(E.sample_gumbel(jax.random.key(0), (200_000,)), np.float64)
  assert g.shape == (200_000,) and np.all(np.isfinite(g))
  assert abs(g.mean() - np.euler_gamma) < 4.5 * _se(g)
  assert abs(g.var() - math.pi**2 / 6) < 0.03
  assert stats.kstest(g[:20000], "gumbel_r").pvalue > 1e-3


def test_gumbel_softmax_on_simplex_and_tends_to_one_hot():
  logits = jnp.broadcast_to(jnp.asarray(LOGITS), (5000, 5))
  key = jax.random.key(1)
  max_mean = []
  for tau in (5.0, 1.0, 0.3, 0.05, 0.01):
    y = np.asarray(E.gumbel_softmax(key, logits, tau), np.float64)
    assert y.shape == (5000, 5) and np.all(y >= 0)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)
    max_mean.append(y.max(-1).mean())
  assert np.all(np.diff(max_mean) > 0), max_mean       # sharper as τ falls
  assert max_mean[-1] > 0.99, max_mean
  # The same noise at any τ has the same argmax (the Gumbel-max sample).
  a = np.argmax(E.gumbel_softmax(key, logits, 5.0), -1)
  b = np.argmax(E.gumbel_softmax(key, logits, 0.01), -1)
  np.testing.assert_array_equal(a, b)
  # τ -> ∞ tends to the uniform vector.
  y = np.asarray(E.gumbel_softmax(key, logits, 1e4))
  np.testing.assert_allclose(y, 0.2, atol=2e-3)


def test_gumbel_max_frequencies_match_softmax():
  n = 40_000
  logits = jnp.broadcast_to(jnp.asarray(LOGITS), (n, 5))
  y = E.gumbel_softmax(jax.random.key(2), logits, 0.5)
  counts = np.bincount(np.asarray(jnp.argmax(y, -1)), minlength=5)
  p = np.exp(LOGITS.astype(np.float64))
  p /= p.sum()
  chi2 = stats.chisquare(counts, n * p)
  assert chi2.pvalue > 1e-3, (counts / n, p)
  # A wrong distribution (e.g. softmax(l / 2)) is rejected by the same test.
  q = np.sqrt(p) / np.sqrt(p).sum()
  assert stats.chisquare(counts, n * q).pvalue < 1e-6


def test_straight_through_forward_one_hot_backward_relaxed():
  key = jax.random.key(3)
  logits = jax.random.normal(jax.random.key(4), (64, 3, 5))
  w = jax.random.normal(jax.random.key(5), (64, 3, 5))
  hard = E.gumbel_softmax(key, logits, 0.7, hard=True)
  soft = E.gumbel_softmax(key, logits, 0.7)
  # Forward: exactly one-hot at the relaxed sample's argmax.
  expected = jax.nn.one_hot(jnp.argmax(soft, -1), 5)
  np.testing.assert_array_equal(hard, expected)
  assert set(np.unique(np.asarray(hard))) == {0.0, 1.0}
  # Backward: the relaxed sample's gradient, for a linear and a non-linear f.
  for fn in (lambda y: jnp.sum(w * y), lambda y: jnp.sum(jnp.sin(w * y) ** 2)):
    g_hard = jax.grad(lambda l: fn(jax.lax.stop_gradient(hard) * 0 + E.gumbel_softmax(
        key, l, 0.7, hard=True)))(logits)
    # Straight-through: ∂f/∂y is taken at the one-hot point, times ∂y_soft/∂l.
    _, vjp = jax.vjp(lambda l: E.gumbel_softmax(key, l, 0.7), logits)
    (g_expected,) = vjp(jax.grad(fn)(expected))
    np.testing.assert_allclose(g_hard, g_expected, rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(g_hard)).max() > 1e-3
  # With a traced temperature (an annealing schedule) nothing recompiles.
  fn = jax.jit(lambda t: E.gumbel_softmax(key, logits, t, hard=True))
  fn(1.0), fn(0.5)
  assert fn._cache_size() == 1


def _simplex_integral(log_density, k, half_width=40.0, n=4001):
  """∫ p(y) dy over the simplex, in the coordinates y = softmax(u_1..u_{K-1},
  0), whose Jacobian |∂y_{<K}/∂u| is Π_k y_k: a smooth integrand on R^{K-1}
  (the density itself is singular at the faces for τ < 1)."""
  u = np.linspace(-half_width, half_width, n)
  grids = list(np.meshgrid(*([u] * (k - 1)), indexing="ij"))
  logits_u = np.stack(grids + [np.zeros_like(grids[0])], -1)
  log_y = logits_u - np.log(np.exp(logits_u).sum(-1, keepdims=True))
  log_p = np.asarray(log_density(jnp.asarray(np.exp(log_y), jnp.float32)),
                     np.float64)
  integrand = np.exp(log_p + log_y.sum(-1))
  for _ in range(k - 1):
    integrand = np.trapezoid(integrand, u, axis=0)
  return float(integrand)


def test_concrete_density_binary_case():
  """K = 2: ∫ p(y1) dy1 = 1 and P(y1 < 0.3) matches samples, at τ < 1 and > 1."""
  logits = jnp.asarray([0.8, -0.4])
  for tau in (0.6, 2.0):
    density = lambda y, t=tau: E.relaxed_categorical_log_prob(logits, y, t)  # noqa: E731
    total = _simplex_integral(density, 2)
    assert abs(total - 1.0) < 2e-3, (tau, total)
    # P(y1 < 0.3) = P(u < logit(0.3)) in the same coordinates.
    u = np.linspace(-40.0, math.log(0.3 / 0.7), 4001)
    y1 = 1 / (1 + np.exp(-u))
    y = jnp.asarray(np.stack([y1, 1 - y1], -1), jnp.float32)
    p_low = float(np.trapezoid(np.exp(np.asarray(density(y), np.float64))
                               * y1 * (1 - y1), u))
    y = E.gumbel_softmax(jax.random.key(6), jnp.broadcast_to(logits, (40_000, 2)),
                         tau)
    frac = np.mean(np.asarray(y[:, 0]) < 0.3)
    assert abs(frac - p_low) < 4.5 * math.sqrt(p_low * (1 - p_low) / 40_000) + 1e-3


def test_concrete_density_integrates_to_one_for_three_classes():
  logits = jnp.asarray([0.5, -1.0, 0.2])
  for tau in (0.5, 1.5):
    total = _simplex_integral(
        lambda y, t=tau: E.relaxed_categorical_log_prob(logits, y, t), 3,
        half_width=30.0, n=601)
    assert abs(total - 1.0) < 2e-3, (tau, total)
  # A wrong normaliser (τ^{K-2} instead of τ^{K-1}) would be off by 1/τ.


def test_exp_concrete_density_relation():
  logits = jax.random.normal(jax.random.key(7), (10, 4))
  y = E.gumbel_softmax(jax.random.key(8), logits, 0.8)
  log_p = E.relaxed_categorical_log_prob(logits, y, 0.8)
  log_p_exp = E.relaxed_categorical_log_prob(logits, jnp.log(y), 0.8,
                                             log_space=True)
  np.testing.assert_allclose(log_p, log_p_exp - jnp.sum(jnp.log(y), -1),
                             rtol=1e-5, atol=1e-4)
  # Shifting the logits leaves the distribution unchanged.
  np.testing.assert_allclose(
      E.relaxed_categorical_log_prob(logits + 3.0, y, 0.8), log_p, rtol=1e-5,
      atol=1e-4)


def _concrete_log_prob_f64(logits, log_y, tau):
  """The Concrete log-density of y = exp(log_y), float64 numpy."""
  l, x = np.asarray(logits, np.float64), np.asarray(log_y, np.float64)
  k = l.shape[-1]
  scores = l - tau * x
  m = scores.max(-1, keepdims=True)
  lse = (m + np.log(np.exp(scores - m).sum(-1, keepdims=True)))[..., 0]
  return (math.lgamma(k) + (k - 1) * math.log(tau) + scores.sum(-1) - k * lse
          - x.sum(-1))


@pytest.mark.parametrize("tau, underflowed", [(0.01, 1.0), (0.05, 0.55)])
def test_concrete_density_of_a_log_space_sample_survives_float32_underflow(
    tau, underflowed):
  """At small τ float32 relaxed samples have entries that underflow to 0
  (all of them at τ = 0.01, about half at 0.05), where log y = -inf and the
  density from y is NaN. From the log-space sample x = log y (same key,
  same noise) it is finite and equals the float64 formula; where nothing
  underflowed both paths agree (issue 14, item 4)."""
  logits = jnp.broadcast_to(jnp.asarray(LOGITS), (256, 5))
  key = jax.random.key(12)
  y = E.gumbel_softmax(key, logits, tau)
  x = E.log_gumbel_softmax(key, logits, tau)
  assert y.dtype == x.dtype == jnp.float32
  zero_rows = np.any(np.asarray(y) == 0.0, -1)
  assert abs(zero_rows.mean() - underflowed) < 0.05, zero_rows.mean()
  assert np.all(np.isfinite(np.asarray(x)))
  np.testing.assert_allclose(jnp.exp(x), y, atol=1e-6)   # the same sample
  np.testing.assert_allclose(jax.nn.logsumexp(x, -1), 0.0, atol=1e-5)
  log_p = E.relaxed_categorical_log_prob(logits, x, tau, log_sample=True)
  assert np.all(np.isfinite(np.asarray(log_p)))
  np.testing.assert_allclose(log_p, _concrete_log_prob_f64(logits, x, tau),
                             rtol=1e-5)
  from_y = np.asarray(E.relaxed_categorical_log_prob(logits, y, tau))
  assert not np.any(np.isfinite(from_y[zero_rows]))      # log 0: the unsafe path
  np.testing.assert_allclose(from_y[~zero_rows], np.asarray(log_p)[~zero_rows],
                             rtol=1e-4)
  # The ExpConcrete density of x is the same call with log_space=True.
  np.testing.assert_allclose(
      E.relaxed_categorical_log_prob(logits, x, tau, log_space=True),
      log_p + jnp.sum(x, -1), rtol=1e-5)


def test_log_space_sample_has_the_concrete_law():
  """exp(log_gumbel_softmax) is a Gumbel-softmax sample: P(y_1 < 0.3)
  matches the density's integral (K = 2, τ = 0.6)."""
  logits = jnp.asarray([0.8, -0.4])
  tau = 0.6
  x = E.log_gumbel_softmax(jax.random.key(13),
                           jnp.broadcast_to(logits, (40_000, 2)), tau)
  u = np.linspace(-40.0, math.log(0.3 / 0.7), 4001)
  y1 = 1 / (1 + np.exp(-u))
  y = jnp.asarray(np.stack([y1, 1 - y1], -1), jnp.float32)
  density = np.exp(np.asarray(E.relaxed_categorical_log_prob(logits, y, tau),
                              np.float64))
  p_low = float(np.trapezoid(density * y1 * (1 - y1), u))
  frac = np.mean(np.asarray(x[:, 0]) < math.log(0.3))
  assert abs(frac - p_low) < 4.5 * math.sqrt(p_low * (1 - p_low) / 40_000) + 1e-3


class ConcreteVariantsTest(chex.TestCase):
  """The relaxed sampler and the Concrete density agree with and without
  jit (a traced τ included)."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_relaxed_sample_and_density(self):
    logits = jax.random.normal(jax.random.key(14), (6, 4))

    def fn(tau):
      x = E.log_gumbel_softmax(KEY, logits, tau)
      return (E.gumbel_softmax(KEY, logits, tau), x,
              E.relaxed_categorical_log_prob(logits, x, tau, log_sample=True))

    y, x, log_p = self.variant(fn)(jnp.float32(0.7))
    chex.assert_shape([y, x], (6, 4))
    chex.assert_shape(log_p, (6,))
    chex.assert_trees_all_close(jnp.sum(y, -1), jnp.ones(6), atol=1e-5)
    chex.assert_trees_all_close(jnp.exp(x), y, atol=1e-6)
    chex.assert_trees_all_close(
        log_p, jnp.asarray(_concrete_log_prob_f64(logits, x, 0.7), jnp.float32),
        rtol=1e-5)


# ------------------------------------------------------- score function

MU, SIGMA = 0.7, 1.3


@jax.jit
def _gaussian_gradients_jit(eps, baseline):
  theta = jnp.asarray([MU, SIGMA])

  def reparam(t, e):
    return (t[0] + t[1] * e) ** 2

  def score(t, e):
    z = jax.lax.stop_gradient(t[0] + t[1] * e)
    log_q = -0.5 * ((z - t[0]) / t[1]) ** 2 - jnp.log(t[1])
    return E.score_function_surrogate(log_q, z ** 2, baseline)

  return (jax.vmap(jax.grad(reparam), (None, 0))(theta, eps),
          jax.vmap(jax.grad(score), (None, 0))(theta, eps))


def _gaussian_gradients(n, baseline):
  """Per-sample gradient estimates of ∇_{μ,σ} E_{N(μ,σ²)}[z²]: [n, 2] each."""
  eps = jax.random.normal(jax.random.key(9), (n,))
  g_rep, g_sf = _gaussian_gradients_jit(eps, jnp.float32(baseline))
  return np.asarray(g_rep, np.float64), np.asarray(g_sf, np.float64)


def test_score_function_and_reparameterisation_agree_with_closed_form():
  """∇_μ E[z²] = 2μ, ∇_σ E[z²] = 2σ: both estimators within a few s.e."""
  exact = np.array([2 * MU, 2 * SIGMA])
  g_rep, g_sf = _gaussian_gradients(100_000, 0.0)
  for g in (g_rep, g_sf):
    assert np.all(np.abs(g.mean(0) - exact) < 4.5 * _se(g)), (g.mean(0), exact)
  # The pathwise estimator has the smaller variance here (by far).
  assert np.all(g_rep.var(0) < 0.5 * g_sf.var(0))


def test_baseline_keeps_the_mean_and_reduces_the_variance():
  exact = np.array([2 * MU, 2 * SIGMA])
  _, g0 = _gaussian_gradients(100_000, 0.0)
  _, gb = _gaussian_gradients(100_000, MU**2 + SIGMA**2)    # b = E[f]
  assert np.all(np.abs(gb.mean(0) - exact) < 4.5 * _se(gb))
  assert np.all(gb.var(0) < 0.85 * g0.var(0)), (gb.var(0), g0.var(0))
  # A baseline that is far off increases it.
  _, gbad = _gaussian_gradients(100_000, -10.0)
  assert np.all(np.abs(gbad.mean(0) - exact) < 4.5 * _se(gbad))
  assert np.all(gbad.var(0) > g0.var(0))


def test_score_function_on_categorical_matches_exact_gradient():
  """∇_l Σ_k softmax(l)_k f(k), exact vs REINFORCE with and without the
  leave-one-out baseline (S = 4 samples per estimate)."""
  logits = jnp.asarray([0.3, -0.8, 1.2, 0.0])
  f = jnp.asarray([2.0, -1.0, 0.5, 4.0])
  exact = np.asarray(jax.grad(lambda l: jnp.sum(jax.nn.softmax(l) * f))(logits))
  n, s = 50_000, 4

  def estimate(rng, loo):
    k = jax.random.categorical(rng, logits, shape=(s,))          # [S]

    def surrogate(l):
      log_q = jax.nn.log_softmax(l)[k]
      fk = f[k]
      b = E.leave_one_out_baseline(fk) if loo else 0.0
      return jnp.mean(E.score_function_surrogate(log_q, fk, b))
    return jax.grad(surrogate)(logits)

  keys = jax.random.split(jax.random.key(10), n)
  out = {}
  for loo in (False, True):
    g = np.asarray(jax.jit(jax.vmap(lambda r: estimate(r, loo)))(keys), np.float64)
    assert np.all(np.abs(g.mean(0) - exact) < 4.5 * _se(g) + 1e-6), (loo, g.mean(0), exact)
    out[loo] = g
  assert np.sum(out[True].var(0)) < 0.8 * np.sum(out[False].var(0))


def test_surrogate_value_and_stop_gradient():
  """The surrogate is (f - b) log q, and f, b get no gradient."""
  lq = jnp.asarray([-1.0, -2.0])
  val = E.score_function_surrogate(lq, jnp.asarray([3.0, 1.0]), 0.5)
  np.testing.assert_allclose(val, [-2.5, -1.0])
  g = jax.grad(lambda f: jnp.sum(E.score_function_surrogate(lq, f, f.mean())))(
      jnp.asarray([3.0, 1.0]))
  np.testing.assert_array_equal(g, 0.0)


def test_leave_one_out_baseline():
  f = jnp.asarray([[1.0, 10.0], [2.0, 20.0], [6.0, 30.0]])       # [S=3, 2]
  b = E.leave_one_out_baseline(f)
  np.testing.assert_allclose(b, [[4.0, 25.0], [3.5, 20.0], [1.5, 15.0]])
  np.testing.assert_allclose(E.leave_one_out_baseline(f.T, axis=1), b.T)
  with pytest.raises(ValueError, match=">= 2 samples"):
    E.leave_one_out_baseline(jnp.ones((1, 3)))


# ------------------------------------------------------------ input checks

# (id, call, substrings the message must contain)
CASES = [
    ("sample_gumbel_shape", lambda: E.sample_gumbel(KEY, (2, -1)),
     ["estimators.sample_gumbel", "`shape`", "(2, -1)"]),
    ("sample_gumbel_dtype",
     lambda: E.sample_gumbel(KEY, (2, 3), jnp.int32),
     ["estimators.sample_gumbel", "`dtype`", "floating", "int32"]),
    ("gumbel_softmax_int_logits",
     lambda: E.gumbel_softmax(KEY, i(2, 3), 1.0),
     ["estimators.gumbel_softmax", "`logits`", "[..., K]", "int32",
      "(2, 3)"]),
    ("gumbel_softmax_temperature_vector",
     lambda: E.gumbel_softmax(KEY, f(2, 3), f(3)),
     ["estimators.gumbel_softmax", "`temperature`", "rank 0", "(3,)"]),
    ("log_gumbel_softmax_int_logits",
     lambda: E.log_gumbel_softmax(KEY, i(2, 3), 1.0),
     ["estimators.log_gumbel_softmax", "`logits`", "int32", "(2, 3)"]),
    ("relaxed_log_prob_shapes",
     lambda: E.relaxed_categorical_log_prob(f(2, 3), f(2, 4), 0.5),
     ["estimators.relaxed_categorical_log_prob", "broadcast", "(2, 3)",
      "(2, 4)"]),
    ("relaxed_log_prob_int_sample",
     lambda: E.relaxed_categorical_log_prob(f(2, 3), i(2, 3), 0.5),
     ["estimators.relaxed_categorical_log_prob", "`sample`", "int32"]),
    ("score_function_shapes",
     lambda: E.score_function_surrogate(f(4), f(3)),
     ["estimators.score_function_surrogate", "`log_prob` (4,)",
      "`f_value` (3,)"]),
    ("score_function_bool_f",
     lambda: E.score_function_surrogate(f(4), jnp.zeros(4, bool)),
     ["estimators.score_function_surrogate", "`f_value`", "numeric",
      "bool"]),
    ("leave_one_out_one_sample",
     lambda: E.leave_one_out_baseline(f(1, 3)),
     ["estimators.leave_one_out_baseline", "2 samples", "(1, 3)"]),
    ("leave_one_out_axis",
     lambda: E.leave_one_out_baseline(f(2, 3), axis=3),
     ["estimators.leave_one_out_baseline", "`axis`", "(2, 3)", "3"]),
    ("leave_one_out_int", lambda: E.leave_one_out_baseline(i(2, 3)),
     ["estimators.leave_one_out_baseline", "`f_values`", "int32"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_invalid_input_raises_naming_function_argument_and_input(case):
  assert_raises_naming(*case[1:])


def test_discrete_estimators_keep_their_values_on_valid_inputs():
  """Closed forms: the checks do not touch values or accepted inputs."""
  fv = jnp.asarray([[1.0, 4.0], [3.0, 0.0], [5.0, 2.0]])           # [S=3, 2]
  np.testing.assert_allclose(E.leave_one_out_baseline(fv),
                             [[4.0, 1.0], [3.0, 3.0], [2.0, 2.0]])
  # A Python-int temperature (weakly typed) and Python-float baseline pass.
  y = E.gumbel_softmax(KEY, f(2, 3), 1)
  np.testing.assert_allclose(jnp.sum(y, -1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(E.score_function_surrogate(f(3), 2.0 * f(3), 0.5),
                             1.5 * np.ones(3))


def test_traced_temperature_passes_the_checks_and_compiles_once():
  """A traced (annealed) τ is a rank-0 floating tracer: accepted, and a new
  value does not retrace."""
  traces = []

  def relaxed(tau):
    traces.append(1)
    return E.gumbel_softmax(KEY, jnp.zeros((2, 3)), tau)

  jitted = jax.jit(relaxed)
  for tau in (1.0, 0.5, 0.1):
    y = jitted(jnp.float32(tau))
  assert len(traces) == 1 and jitted._cache_size() == 1
  np.testing.assert_allclose(jnp.sum(y, -1), 1.0, rtol=1e-5)

"""Mathematical tests of gdm_jax.distributions (log-densities and KLs, nats),
jit/no-jit agreement of its key functions, and its input validation."""

import math

from absl.testing import parameterized
import chex
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np
import pytest
from scipy import stats

from gdm_jax import distributions as D
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test

# A non-trivial posterior q = N(mu, diag sigma^2) and a non-standard prior
# p = N(mu_p, diag sigma_p^2), used by several tests.
MU = np.array([0.3, -1.2, 2.0, 0.0])
SIGMA = np.array([0.5, 1.7, 0.9, 3.0])
PRIOR_MU = np.array([0.5, 0.0, -1.0, 0.2])
PRIOR_SIGMA = np.array([2.0, 0.7, 1.3, 1.0])


def _kl(mean, scale, prior_mean=0.0, prior_scale=1.0):
  return D.kl_divergence_diagonal_gaussian(
      jnp.asarray(mean, jnp.float32), jnp.log(jnp.asarray(scale, jnp.float32)),
      jnp.asarray(prior_mean, jnp.float32),
      jnp.log(jnp.asarray(prior_scale, jnp.float32)))


# ---------------------------------------------------------------- Gaussian KL


@pytest.mark.parametrize("mean,scale,prior_mean,prior_scale,expected", [
    # KL(N(0.1, 1) || N(0, 1)) = 0.1^2 / 2.
    (0.1, 1.0, 0.0, 1.0, 0.005),
    # KL(N(0, 10^2) || N(0, 1)) = (sigma^2 - 1 - ln sigma^2) / 2.
    (0.0, 10.0, 0.0, 1.0, (100.0 - 1.0 - math.log(100.0)) / 2),
    # KL(N(0, 0.1^2) || N(0, 1)): the same formula, sigma < 1.
    (0.0, 0.1, 0.0, 1.0, (0.01 - 1.0 - math.log(0.01)) / 2),
    # KL(N(1, 2^2) || N(0.5, 0.5^2)) = ln(0.5/2) + (4 + 0.25) / (2 * 0.25) - 1/2
    #                                = 8 - ln 4.
    (1.0, 2.0, 0.5, 0.5, 8.0 - math.log(4.0)),
    # KL(N(3, 1) || N(1, 2^2)) = ln 2 + (1 + 4) / 8 - 1/2 = ln 2 + 1/8.
    (3.0, 1.0, 1.0, 2.0, math.log(2.0) + 0.125),
])
def test_kl_closed_values(mean, scale, prior_mean, prior_scale, expected):
  kl = _kl([mean], [scale], prior_mean, prior_scale)
  chex.assert_shape(kl, ())
  np.testing.assert_allclose(float(kl), expected, rtol=1e-5, atol=1e-7)


def test_kl_sums_over_last_axis_and_broadcasts_prior():
  # Per-dimension KLs of independent dimensions add up.
  per_dim = [float(_kl([m], [s], pm, ps))
             for m, s, pm, ps in zip(MU, SIGMA, PRIOR_MU, PRIOR_SIGMA)]
  batch = np.stack([MU, MU[::-1]])                         # [2, 4]
  scales = np.stack([SIGMA, SIGMA[::-1]])
  kl = _kl(batch, scales, PRIOR_MU, PRIOR_SIGMA)           # prior [4] -> [2, 4]
  chex.assert_shape(kl, (2,))
  np.testing.assert_allclose(float(kl[0]), sum(per_dim), rtol=1e-5)
  assert not np.isclose(float(kl[0]), float(kl[1]))


def test_kl_matches_monte_carlo_with_nonstandard_prior():
  """KL(q || p) = E_q[log q(z) - log p(z)], estimated with 400k draws."""
  n = 400_000
  rng = np.random.default_rng(0)
  z = MU + SIGMA * rng.standard_normal((n, MU.size))
  log_ratio = (stats.norm.logpdf(z, MU, SIGMA).sum(-1)
               - stats.norm.logpdf(z, PRIOR_MU, PRIOR_SIGMA).sum(-1))
  mc, se = log_ratio.mean(), log_ratio.std() / math.sqrt(n)
  kl = float(_kl(MU, SIGMA, PRIOR_MU, PRIOR_SIGMA))
  assert se < 0.01 * kl          # the check below is a sharp one
  assert abs(kl - mc) < 4 * se, (kl, mc, se)


def test_kl_standard_prior_is_default():
  kl_default = D.kl_divergence_diagonal_gaussian(
      jnp.asarray(MU, jnp.float32), jnp.log(jnp.asarray(SIGMA, jnp.float32)))
  np.testing.assert_allclose(kl_default, _kl(MU, SIGMA, 0.0, 1.0), rtol=1e-6)
  # Kingma and Welling (2014), appendix B: -1/2 sum(1 + ln s^2 - m^2 - s^2).
  expected = -0.5 * np.sum(1 + np.log(SIGMA**2) - MU**2 - SIGMA**2)
  np.testing.assert_allclose(kl_default, expected, rtol=1e-5)


def test_kl_nonnegative_and_zero_iff_equal():
  rng = np.random.default_rng(1)
  mean = rng.normal(size=(1000, 3)) * 2
  scale = np.exp(rng.normal(size=(1000, 3)))
  prior_mean = rng.normal(size=(1000, 3)) * 2
  prior_scale = np.exp(rng.normal(size=(1000, 3)))
  kl = np.asarray(_kl(mean, scale, prior_mean, prior_scale))
  assert np.all(kl > 0)
  # Equal distributions: exactly zero (up to float32 rounding).
  np.testing.assert_allclose(_kl(mean, scale, mean, scale), 0.0, atol=1e-5)
  # Any single differing parameter makes it strictly positive.
  assert float(_kl([0.0], [1.0], [0.1], [1.0])) > 1e-3
  assert float(_kl([0.0], [1.1], [0.0], [1.0])) > 1e-3
  assert float(_kl([0.0], [1.0], [0.0], [0.9])) > 1e-3
  # And KL is not symmetric.
  assert not np.isclose(float(_kl([0.0], [3.0])), float(_kl([0.0], [1.0], 0.0, 3.0)))


def test_kl_gradients_match_analytic():
  """dKL/dmu = (mu - mu_p) / s_p^2, dKL/dlog s = s^2 / s_p^2 - 1."""
  f = lambda m, ls: D.kl_divergence_diagonal_gaussian(
      m, ls, jnp.asarray(PRIOR_MU, jnp.float32),
      jnp.log(jnp.asarray(PRIOR_SIGMA, jnp.float32)))
  g_mean, g_log_scale = jax.grad(f, argnums=(0, 1))(
      jnp.asarray(MU, jnp.float32), jnp.log(jnp.asarray(SIGMA, jnp.float32)))
  np.testing.assert_allclose(g_mean, (MU - PRIOR_MU) / PRIOR_SIGMA**2, rtol=1e-5)
  np.testing.assert_allclose(g_log_scale, SIGMA**2 / PRIOR_SIGMA**2 - 1,
                             rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ Bernoulli


def _log_sigmoid_formula(logits, x):
  """x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)), float64."""
  p = 1.0 / (1.0 + np.exp(-logits))
  return x * np.log(p) + (1 - x) * np.log1p(-p)


def test_bernoulli_matches_log_sigmoid_at_moderate_logits():
  logits = np.linspace(-8, 8, 33)[:, None]
  x = np.array([0.0, 1.0, 0.3])[None, :]                  # broadcast [33, 3]
  lp = D.bernoulli_log_prob(jnp.asarray(logits, jnp.float32),
                            jnp.asarray(x, jnp.float32))
  chex.assert_shape(lp, (33, 3))
  np.testing.assert_allclose(lp, _log_sigmoid_formula(logits, x),
                             rtol=1e-5, atol=1e-6)


def test_bernoulli_normalised():
  logits = jnp.linspace(-20, 20, 41)
  lp1 = D.bernoulli_log_prob(logits, jnp.ones_like(logits))
  lp0 = D.bernoulli_log_prob(logits, jnp.zeros_like(logits))
  np.testing.assert_allclose(jnp.logaddexp(lp0, lp1), 0.0, atol=1e-6)
  assert jnp.all(lp1 <= 0) and jnp.all(lp0 <= 0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_bernoulli_extreme_logits_finite_and_exact(dtype):
  logits = jnp.asarray([100.0, 100.0, -100.0, -100.0], dtype)
  x = jnp.asarray([1.0, 0.0, 1.0, 0.0], dtype)
  lp = D.bernoulli_log_prob(logits, x)
  assert jnp.all(jnp.isfinite(lp))
  # log sigmoid(100) = -log1p(e^-100) ~ -4e-44 ~ 0; log(1 - sigmoid(100)) ~ -100.
  np.testing.assert_allclose(np.asarray(lp, np.float64), [0.0, -100.0, -100.0, 0.0],
                             atol=1e-6 if dtype == jnp.float32 else 0.5)
  # The gradient wrt the logits is x - sigmoid(l): finite, exactly 0 or +-1.
  grad = jax.grad(lambda l: jnp.sum(D.bernoulli_log_prob(l, x)))(logits)
  assert jnp.all(jnp.isfinite(grad))
  np.testing.assert_allclose(np.asarray(grad, np.float64), [0.0, -1.0, 1.0, 0.0],
                             atol=1e-6)


# ------------------------------------------------------------------- Gaussian


def test_gaussian_log_prob_matches_scipy():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(5, 7)) * 3
  mean = rng.normal(size=(7,))
  log_scale = rng.normal(size=(5, 1))                      # broadcasts
  lp = D.gaussian_log_prob(jnp.asarray(x, jnp.float32),
                           jnp.asarray(mean, jnp.float32),
                           jnp.asarray(log_scale, jnp.float32))
  chex.assert_shape(lp, (5, 7))
  np.testing.assert_allclose(lp, stats.norm.logpdf(x, mean, np.exp(log_scale)),
                             rtol=1e-5, atol=1e-5)


def test_standard_normal_log_prob_matches_scipy_and_gaussian():
  x = jnp.linspace(-6, 6, 25)
  np.testing.assert_allclose(D.standard_normal_log_prob(x),
                             stats.norm.logpdf(np.asarray(x)), rtol=1e-6)
  np.testing.assert_allclose(D.standard_normal_log_prob(x),
                             D.gaussian_log_prob(x, 0.0, 0.0), rtol=1e-6)


def test_gaussian_density_integrates_to_one():
  # Trapezoid rule over +-12 sigma of N(1.5, 0.3^2).
  x = np.linspace(1.5 - 3.6, 1.5 + 3.6, 20001)
  p = np.exp(np.asarray(D.gaussian_log_prob(jnp.asarray(x, jnp.float32), 1.5,
                                            math.log(0.3)), np.float64))
  np.testing.assert_allclose(np.trapezoid(p, x), 1.0, rtol=1e-5)


def test_sum_except_batch():
  x = jnp.arange(2 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 4)
  np.testing.assert_array_equal(D.sum_except_batch(x), [66.0, 210.0])
  np.testing.assert_array_equal(D.sum_except_batch(x, 2), x.sum(-1))


# -------------------------------------------------------------- check_grads


def test_check_grads_kl_and_log_probs_float64():
  rng = np.random.default_rng(3)
  with jax.enable_x64(True):
    m, ls, pm, pls = (jnp.asarray(rng.normal(size=(2, 3)), jnp.float64)
                      for _ in range(4))
    x = jnp.asarray(rng.normal(size=(2, 3)), jnp.float64)
    xb = jnp.asarray(rng.uniform(size=(2, 3)) > 0.5, jnp.float64)
    check_grads(D.kl_divergence_diagonal_gaussian, (m, ls, pm, pls), order=2,
                modes=("fwd", "rev"))
    check_grads(D.gaussian_log_prob, (x, m, ls), order=2, modes=("fwd", "rev"))
    check_grads(D.standard_normal_log_prob, (x,), order=2, modes=("fwd", "rev"))
    check_grads(lambda l: D.bernoulli_log_prob(l, xb), (3 * x,), order=1,
                modes=("fwd", "rev"))


def test_bits_per_dim_is_nats_per_dim_plus_offset_over_ln2():
  nll = jnp.asarray([784.0 * math.log(2.0), 0.0])          # 1 bit/dim, 0
  np.testing.assert_allclose(D.bits_per_dim(nll, 784), [1.0, 0.0], rtol=1e-6)
  np.testing.assert_allclose(D.bits_per_dim(nll, 784, math.log(256.0)),
                             [9.0, 8.0], rtol=1e-6)


# ------------------------------------------------------ jit / no-jit (chex)

_RNG = np.random.default_rng(11)


def _normal(*shape, scale=1.0):
  return jnp.asarray(_RNG.normal(size=shape) * scale, jnp.float32)


_GRID = jnp.asarray(_RNG.integers(0, 256, size=(3, 2)) / 127.5 - 1.0,
                    jnp.float32)                           # [3, C=2] pixels

# (name, function, arguments, result shape): the key pure functions, with
# broadcasting arguments, each called eagerly, under jit and on host
# (numpy) inputs.
KEY_FUNCTIONS = [
    ("gaussian_log_prob", D.gaussian_log_prob,
     (_normal(3, 4), _normal(4), _normal(3, 1, scale=0.5)), (3, 4)),
    ("bernoulli_log_prob", D.bernoulli_log_prob,
     (_normal(3, 4, scale=4.0), jnp.asarray(_RNG.integers(0, 2, (4,)),
                                            jnp.float32)), (3, 4)),
    ("kl_divergence_diagonal_gaussian", D.kl_divergence_diagonal_gaussian,
     (_normal(3, 4), _normal(3, 4, scale=0.5), _normal(4), _normal(4)),
     (3,)),
    ("categorical_log_prob", D.categorical_log_prob,
     (_normal(3, 5, 256, scale=3.0),
      jnp.asarray(_RNG.integers(0, 256, (3, 5)), jnp.int32)), (3, 5)),
    ("discretized_logistic_log_prob", D.discretized_logistic_log_prob,
     (_GRID, _normal(3, 2, scale=0.5), _normal(3, 2) - 3.0), (3, 2)),
    ("discretized_logistic_mixture_log_prob",
     D.discretized_logistic_mixture_log_prob,
     (_GRID, _normal(3, 4), _normal(3, 2, 4, scale=0.5),
      _normal(3, 2, 4) - 3.0, _normal(3, 1, 4, scale=0.3)), (3,)),
    ("bits_per_dim", lambda nll: D.bits_per_dim(nll, 784, math.log(256.0)),
     (jnp.abs(_normal(3)) * 1000.0,), (3,)),
]


class JitAgreementTest(chex.TestCase):
  """Each key function gives the same values, shape and dtype whether traced
  by jit, run eagerly, or fed numpy arrays (its input checks, which look at
  static shapes only, accept tracers and host arrays alike)."""

  @chex.variants(with_jit=True, without_jit=True, without_device=True)
  @parameterized.named_parameters(*KEY_FUNCTIONS)
  def test_same_values_shape_and_dtype(self, fn, args, shape):
    expected = fn(*args)
    got = self.variant(fn)(*args)
    chex.assert_shape(got, shape)
    chex.assert_type(got, jnp.float32)
    chex.assert_trees_all_close(got, expected, rtol=1e-5, atol=1e-5)
    chex.assert_tree_all_finite(got)


def test_checks_cost_one_trace_and_fail_while_tracing():
  """A jitted loss over validated functions traces once for many values;
  invalid shapes fail while tracing, naming the function."""

  @jax.jit
  @chex.assert_max_traces(n=1)
  def loss(x, mean, log_scale):
    return (jnp.sum(D.gaussian_log_prob(x, mean, log_scale))
            + jnp.sum(D.kl_divergence_diagonal_gaussian(mean, log_scale)))

  values = {float(loss(_normal(4, 2), _normal(2), _normal(2)))
            for _ in range(3)}
  assert len(values) == 3                         # the values did change
  with pytest.raises(ValueError, match="distributions.gaussian_log_prob"):
    jax.jit(D.gaussian_log_prob)(f(4, 2), f(3, 2), f(2))


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("bernoulli_int_logits", lambda: D.bernoulli_log_prob(i(4), f(4)),
     ["distributions.bernoulli_log_prob", "`logits`", "floating", "int32",
      "(4,)"]),
    ("bernoulli_no_broadcast", lambda: D.bernoulli_log_prob(f(4, 3), f(4, 2)),
     ["distributions.bernoulli_log_prob", "broadcast", "(4, 3)", "(4, 2)"]),
    ("gaussian_int_log_scale",
     lambda: D.gaussian_log_prob(f(3), f(3), i(3)),
     ["distributions.gaussian_log_prob", "`log_scale`", "int32"]),
    ("gaussian_no_broadcast",
     lambda: D.gaussian_log_prob(f(2, 3), f(2, 4), f(3)),
     ["distributions.gaussian_log_prob", "`mean` (2, 4)"]),
    ("standard_normal_bool",
     lambda: D.standard_normal_log_prob(jnp.zeros(3, bool)),
     ["distributions.standard_normal_log_prob", "`x`", "numeric", "bool"]),
    ("kl_scalar_mean",
     lambda: D.kl_divergence_diagonal_gaussian(f(), f()),
     ["distributions.kl_divergence_diagonal_gaussian", "`mean`", "rank >= 1",
      "[..., D]", "shape ()"]),
    ("kl_no_broadcast",
     lambda: D.kl_divergence_diagonal_gaussian(f(2, 3), f(2, 4)),
     ["distributions.kl_divergence_diagonal_gaussian", "`log_scale` (2, 4)"]),
    ("kl_int_prior",
     lambda: D.kl_divergence_diagonal_gaussian(f(2, 3), f(2, 3), i(3)),
     ["distributions.kl_divergence_diagonal_gaussian", "`prior_mean`",
      "floating", "int32"]),
    ("categorical_float_x",
     lambda: D.categorical_log_prob(f(2, 5), f(2)),
     ["distributions.categorical_log_prob", "`x`", "integer", "float32"]),
    ("categorical_x_rank",
     lambda: D.categorical_log_prob(f(2, 5), i(2, 5)),
     ["distributions.categorical_log_prob", "`x`", "rank 1", "(2, 5)"]),
    ("categorical_scalar_logits",
     lambda: D.categorical_log_prob(f(), i()),
     ["distributions.categorical_log_prob", "`logits`", "rank >= 1",
      "[..., K]", "shape ()"]),
    ("logistic_num_bins",
     lambda: D.discretized_logistic_log_prob(f(3), f(3), f(3), num_bins=1),
     ["distributions.discretized_logistic_log_prob", "`num_bins`", ">= 2",
      "got 1"]),
    ("logistic_float_num_bins",
     lambda: D.discretized_logistic_log_prob(f(3), f(3), f(3), num_bins=2.0),
     ["distributions.discretized_logistic_log_prob", "`num_bins`", "float"]),
    ("logistic_no_broadcast",
     lambda: D.discretized_logistic_log_prob(f(3), f(4), f(3)),
     ["distributions.discretized_logistic_log_prob", "`mean` (4,)"]),
    ("mixture_means_components",
     lambda: D.discretized_logistic_mixture_log_prob(
         f(2, 3), f(2, 4), f(2, 3, 5), f(2, 3, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "`means`",
      "[..., 3, 4]", "(2, 3, 5)"]),
    ("mixture_int_x",
     lambda: D.discretized_logistic_mixture_log_prob(
         i(2, 1), f(2, 4), f(2, 1, 4), f(2, 1, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "`x`",
      "int32"]),
    ("mixture_coeffs_pairs",
     lambda: D.discretized_logistic_mixture_log_prob(
         f(2, 3), f(2, 4), f(2, 3, 4), f(2, 3, 4), f(2, 2, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "`coeffs`",
      "[..., 3, 4]", "(2, 2, 4)"]),
    ("mixture_leading_shapes",
     lambda: D.discretized_logistic_mixture_log_prob(
         f(2, 1), f(3, 4), f(2, 1, 4), f(2, 1, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "broadcast",
      "`logit_weights[..., 0]` (3,)"]),
    ("sum_except_batch_rank",
     lambda: D.sum_except_batch(f(), batch_ndims=1),
     ["distributions.sum_except_batch", "`x`", "rank >= 1", "shape ()"]),
    ("sum_except_batch_ndims",
     lambda: D.sum_except_batch(f(2), batch_ndims=-1),
     ["distributions.sum_except_batch", "`batch_ndims`", ">= 0", "-1"]),
    ("bits_per_dim_num_dims", lambda: D.bits_per_dim(f(4), 0),
     ["distributions.bits_per_dim", "`num_dims`", "positive", "0"]),
    ("bits_per_dim_int_nll", lambda: D.bits_per_dim(i(4), 3),
     ["distributions.bits_per_dim", "`nll`", "floating", "int32"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

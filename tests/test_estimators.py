"""Mathematical tests of gdm_jax.estimators (reparameterisation, IWAE bound,
chunked importance weights), and their input checks."""

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

MEAN = np.array([[0.0, 2.5, -1.0], [10.0, -3.0, 0.5]], np.float32)      # [B, D]
SCALE = np.array([[1.0, 0.2, 3.0], [0.01, 1.5, 0.7]], np.float32)


def test_reparameterize_shapes():
  key = jax.random.key(0)
  z = E.reparameterize(key, jnp.asarray(MEAN), jnp.log(jnp.asarray(SCALE)))
  assert z.shape == MEAN.shape and z.dtype == jnp.float32
  zk = E.reparameterize(key, jnp.asarray(MEAN), jnp.log(jnp.asarray(SCALE)), 7)
  assert zk.shape == (7,) + MEAN.shape
  # Different samples along K; same key -> same draw.
  assert not np.allclose(zk[0], zk[1])
  np.testing.assert_array_equal(
      zk, E.reparameterize(key, jnp.asarray(MEAN), jnp.log(jnp.asarray(SCALE)), 7))


def test_reparameterize_moments_and_normality():
  n = 50_000
  z = np.asarray(E.reparameterize(jax.random.key(1), jnp.asarray(MEAN),
                                  jnp.log(jnp.asarray(SCALE)), n), np.float64)
  # Sample mean: standard error sigma / sqrt(n).
  assert np.all(np.abs(z.mean(0) - MEAN) < 4.5 * SCALE / math.sqrt(n))
  # Sample std: standard error ~ sigma / sqrt(2 n) for a Gaussian.
  assert np.all(np.abs(z.std(0) - SCALE) < 4.5 * SCALE / math.sqrt(2 * n))
  # Standardised draws are N(0, 1) (KS test) and uncorrelated across dims.
  eps = (z - MEAN) / SCALE
  for b in range(MEAN.shape[0]):
    for d in range(MEAN.shape[1]):
      assert stats.kstest(eps[:, b, d], "norm").pvalue > 1e-4
  corr = np.corrcoef(eps.reshape(n, -1).T)
  off_diagonal = corr[~np.eye(corr.shape[0], dtype=bool)]
  assert np.all(np.abs(off_diagonal) < 4.5 / math.sqrt(n))


def test_reparameterize_pathwise_gradient():
  """d/dmu E[z^2] = 2 mu and d/dlog s E[z^2] = 2 s^2, estimated pathwise."""
  n = 100_000
  mean, log_scale = jnp.asarray([0.7, -1.5]), jnp.log(jnp.asarray([0.5, 2.0]))
  key = jax.random.key(2)

  def second_moment(m, ls):  # E[z^2] = m^2 + s^2
    return jnp.mean(E.reparameterize(key, m[None], ls[None], n) ** 2, axis=(0, 1))

  g_mean = jax.grad(lambda m: jnp.sum(second_moment(m, log_scale)))(mean)
  g_scale = jax.grad(lambda ls: jnp.sum(second_moment(mean, ls)))(log_scale)
  s = np.exp(np.asarray(log_scale))
  # Var of the per-sample gradients: 2 z -> 4 s^2; 2 (z - m) z -> ~ 8 s^4 + 4 m^2 s^2.
  np.testing.assert_allclose(g_mean, 2 * np.asarray(mean),
                             atol=float(4.5 * np.max(2 * s / math.sqrt(n))))
  se = np.sqrt(8 * s**4 + 4 * np.asarray(mean)**2 * s**2) / math.sqrt(n)
  assert np.all(np.abs(np.asarray(g_scale) - 2 * s**2) < 4.5 * se)


def test_log_mean_exp_matches_numpy_and_is_stable():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(6, 4)) * 3
  np.testing.assert_allclose(E.log_mean_exp(jnp.asarray(x, jnp.float32)),
                             np.log(np.mean(np.exp(x), 0)), rtol=1e-5)
  np.testing.assert_allclose(E.log_mean_exp(jnp.asarray(x.T, jnp.float32), 1),
                             np.log(np.mean(np.exp(x), 0)), rtol=1e-5)
  # Log-weights of an image model are in the -1000s: exp underflows, the bound must not.
  big = jnp.asarray([[-3000.0], [-3001.0], [-2999.0]])
  expected = -3000.0 + math.log((1 + math.exp(-1) + math.exp(1)) / 3)
  np.testing.assert_allclose(E.log_mean_exp(big), [expected], rtol=1e-6)


def test_iwae_bound_is_log_mean_exp():
  rng = np.random.default_rng(1)
  log_w = rng.normal(size=(50, 8)) * 2 - 100            # [K, B]
  bound = E.iwae_bound(jnp.asarray(log_w, jnp.float32))
  assert bound.shape == (8,)
  expected = np.log(np.mean(np.exp(log_w + 100), 0)) - 100
  np.testing.assert_allclose(bound, expected, rtol=1e-6)
  # Jensen: mean(log w) <= L_K <= max(log w), strictly for non-constant weights.
  assert np.all(bound > log_w.mean(0)) and np.all(bound < log_w.max(0))
  # Equivariant to a shift of all log-weights (a normalising constant).
  np.testing.assert_allclose(E.iwae_bound(jnp.asarray(log_w + 7.0, jnp.float32)),
                             expected + 7.0, rtol=1e-6)


def test_iwae_bound_with_one_sample_is_the_log_weight():
  log_w = jnp.asarray([[-123.4, 0.0, 5.5, -1e4]])       # [1, B]
  np.testing.assert_array_equal(E.iwae_bound(log_w), log_w[0])


def test_iwae_bound_of_constant_weights_is_that_constant():
  log_w = jnp.full((1000, 3), -42.0)
  np.testing.assert_allclose(E.iwae_bound(log_w), [-42.0] * 3, rtol=1e-6)


class IwaeBoundVariantsTest(chex.TestCase):
  """The bound and the reparameterised sample agree with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_iwae_bound_closed_form(self):
    log_w = jnp.asarray([[0.0, math.log(3.0), -1e4],
                         [math.log(2.0), 0.0, -1e4 + math.log(3.0)]])  # [K=2, B=3]
    bound = self.variant(E.iwae_bound)(log_w)
    chex.assert_shape(bound, (3,))
    chex.assert_type(bound, jnp.float32)
    chex.assert_trees_all_close(bound, jnp.log(jnp.asarray([1.5, 2.0, 2.0]))
                                + jnp.asarray([0.0, 0.0, -1e4]), rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_reparameterize_is_mean_plus_scale_times_normal(self):
    mean, log_scale = jnp.asarray(MEAN), jnp.log(jnp.asarray(SCALE))
    z = self.variant(E.reparameterize, static_argnums=3)(KEY, mean, log_scale, 4)
    chex.assert_shape(z, (4,) + MEAN.shape)
    eps = jax.random.normal(KEY, (4,) + MEAN.shape)
    chex.assert_trees_all_close(z, mean + jnp.exp(log_scale) * eps, rtol=1e-6)


# ------------------------------------------------ chunked importance weights


def _gaussian_log_weights(rng, k):
  """k log-weights of 3 examples, distinct per draw: [k, 3]."""
  return jax.random.normal(rng, (k, 3)) - 5.0


def test_chunked_log_weights_draws_each_chunk_from_its_own_key():
  k, chunk = 12, 4
  whole = E.chunked_log_weights(_gaussian_log_weights, KEY, k)
  np.testing.assert_array_equal(whole, _gaussian_log_weights(KEY, k))
  np.testing.assert_array_equal(
      E.chunked_log_weights(_gaussian_log_weights, KEY, k, k + 1), whole)
  chunked = jax.jit(E.chunked_log_weights, static_argnums=(0, 2, 3))(
      _gaussian_log_weights, KEY, k, chunk)
  chex.assert_shape(chunked, (k, 3))
  keys = jax.random.split(KEY, k // chunk)
  expected = jnp.concatenate([_gaussian_log_weights(r, chunk) for r in keys])
  np.testing.assert_allclose(chunked, expected, rtol=1e-6)
  assert len(np.unique(np.asarray(chunked))) == chunked.size   # no reuse


@pytest.mark.parametrize("k, chunk, expected", [
    (10, 4, ["K=10", "multiple", "chunk_size=4"]),
    (0, None, ["estimators.chunked_log_weights", "`num_samples`", "0"]),
    (8, 0, ["estimators.chunked_log_weights", "`chunk_size`", "0"]),
    (8, 2.0, ["estimators.chunked_log_weights", "`chunk_size`", "float"]),
])
def test_chunked_log_weights_rejects_bad_sizes(k, chunk, expected):
  assert_raises_naming(
      lambda: E.chunked_log_weights(_gaussian_log_weights, KEY, k, chunk),
      expected)


# ------------------------------------------------------------ input checks

# (id, call, substrings the message must contain)
CASES = [
    ("reparameterize_int_mean",
     lambda: E.reparameterize(KEY, i(2, 3), f(2, 3)),
     ["estimators.reparameterize", "`mean`", "floating", "int32", "(2, 3)"]),
    ("reparameterize_log_scale_shape",
     lambda: E.reparameterize(KEY, f(2, 3), f(2, 4)),
     ["estimators.reparameterize", "`log_scale`", "(2, 3)", "(2, 4)"]),
    ("reparameterize_num_samples",
     lambda: E.reparameterize(KEY, f(2, 3), f(2, 3), 0),
     ["estimators.reparameterize", "`num_samples`", "positive", "0"]),
    ("log_mean_exp_axis", lambda: E.log_mean_exp(f(3, 4), axis=2),
     ["estimators.log_mean_exp", "`axis`", "(3, 4)", "2"]),
    ("log_mean_exp_bool", lambda: E.log_mean_exp(jnp.zeros(3, bool)),
     ["estimators.log_mean_exp", "`x`", "numeric", "bool"]),
    ("iwae_bound_int", lambda: E.iwae_bound(i(4, 2)),
     ["estimators.iwae_bound", "`log_weights`", "[K, B]", "int32",
      "(4, 2)"]),
    ("iwae_bound_scalar", lambda: E.iwae_bound(f()),
     ["estimators.iwae_bound", "`log_weights`", "rank >= 1", "shape ()"]),
    ("iwae_bound_no_samples", lambda: E.iwae_bound(f(0, 3)),
     ["estimators.iwae_bound", "`log_weights`", ">= 1 entries", "(0, 3)"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_invalid_input_raises_naming_function_argument_and_input(case):
  assert_raises_naming(*case[1:])


def test_estimators_keep_their_values_on_valid_inputs():
  """Closed forms: the checks do not touch values or accepted inputs."""
  x = jnp.asarray([[0.0, math.log(3.0)], [math.log(2.0), 0.0]])   # [K=2, B=2]
  np.testing.assert_allclose(E.log_mean_exp(x), np.log([1.5, 2.0]),
                             rtol=1e-6)
  np.testing.assert_allclose(E.iwae_bound(x), np.log([1.5, 2.0]), rtol=1e-6)
  z = E.reparameterize(KEY, f(2, 3), jnp.full((3,), -jnp.inf), 4)  # σ = 0
  np.testing.assert_array_equal(z, np.ones((4, 2, 3)))

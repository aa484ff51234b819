"""The 256-way categorical and PixelCNN++'s discretised logistic mixture.

Both are distributions over the 8-bit values, so their probabilities sum to
1 over the 256 values (256^2 for two colours), whatever the parameters,
extreme scales and means at or beyond the edges included. Interior bins equal
the difference of logistic CDFs (computed here in float64), the edge bins the
tails, and the underflow fallback is the mid-bin density times the bin width.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import distributions as d

VALUES = np.arange(256)
GRID = jnp.asarray(VALUES / 127.5 - 1.0, jnp.float32)      # [256] in [-1, 1]


def _sigmoid64(t):
  return 0.5 * (1.0 + np.tanh(0.5 * t))


def _reference_prob(v, mean, log_scale):
  """P(v) in float64: the CDF difference over [x - 1/255, x + 1/255], the
  edge bins extended to -inf and +inf."""
  x = v / 127.5 - 1.0
  s = math.exp(log_scale)
  upper = 1.0 if v == 255 else _sigmoid64((x + 1 / 255 - mean) / s)
  lower = 0.0 if v == 0 else _sigmoid64((x - 1 / 255 - mean) / s)
  return upper - lower


# (mean, log_scale): typical, extreme scales, means at and beyond the edges.
PARAMS = [(0.0, 0.0), (0.3, -3.0), (-0.97, -5.0), (0.999, -7.0), (1.0, -10.0),
          (-1.0, -7.0), (1.5, -2.0), (-3.0, 1.0), (0.2, 4.0), (0.5, -4.0),
          (0.0039, -9.0), (-0.62, -6.5)]


@pytest.mark.parametrize("mean, log_scale", PARAMS)
def test_discretized_logistic_sums_to_one(mean, log_scale):
  lp = d.discretized_logistic_log_prob(GRID, mean, log_scale)
  assert lp.shape == (256,) and np.isfinite(lp).all()
  np.testing.assert_allclose(float(jnp.sum(jnp.exp(lp))), 1.0, atol=2e-5)


@pytest.mark.parametrize("mean, log_scale", PARAMS)
def test_discretized_logistic_matches_cdf_differences(mean, log_scale):
  lp = np.asarray(d.discretized_logistic_log_prob(GRID, mean, log_scale))
  ref = np.array([_reference_prob(v, mean, log_scale) for v in VALUES])
  big = ref > 1e-4          # bins that carry mass: relative accuracy
  np.testing.assert_allclose(np.exp(lp[big]), ref[big], rtol=2e-4)
  # Bins below 1e-5 take the mid-bin density (the paper's approximation,
  # which can be off by a factor in a steep tail): absolute accuracy.
  np.testing.assert_allclose(np.exp(lp), ref, atol=1e-5)


def test_edge_bins_take_the_tails():
  # A mean far below the grid puts almost all mass on 0; far above, on 255.
  lp_low = d.discretized_logistic_log_prob(GRID, -5.0, -1.0)
  lp_high = d.discretized_logistic_log_prob(GRID, 5.0, -1.0)
  np.testing.assert_allclose(float(jnp.exp(lp_low[0])), _reference_prob(0, -5.0, -1.0),
                             rtol=1e-6)
  np.testing.assert_allclose(float(jnp.exp(lp_high[255])),
                             _reference_prob(255, 5.0, -1.0), rtol=1e-6)
  assert float(jnp.exp(lp_low[0])) > 0.99 and float(jnp.exp(lp_high[255])) > 0.99


def test_underflowing_bins_use_the_mid_bin_density():
  # s = e^-9 ~ 1.2e-4: bins 3 away from the mean have CDF differences far
  # below 1e-5 (and sigmoid(mid) underflows in the upper tail of float32).
  mean, log_scale = 0.0039, -9.0
  x = GRID[jnp.array([100, 200])]
  lp = d.discretized_logistic_log_prob(x, mean, log_scale)
  t = (np.asarray(x, np.float64) - mean) / math.exp(log_scale)
  log_pdf = t - log_scale - 2 * np.logaddexp(0.0, t)
  np.testing.assert_allclose(np.asarray(lp), log_pdf + math.log(2 / 255), rtol=1e-5)
  # Gradients stay finite where the fallback is taken and at the edges.
  g = jax.grad(lambda m, s: jnp.sum(d.discretized_logistic_log_prob(GRID, m, s)),
               argnums=(0, 1))(jnp.float32(mean), jnp.float32(log_scale))
  assert all(np.isfinite(np.asarray(v)) for v in g)


def test_mixture_sums_to_one_for_random_parameters():
  rng = np.random.default_rng(0)
  k = 5
  logit_w = jnp.asarray(rng.normal(size=(4, k)) * 3, jnp.float32)
  means = jnp.asarray(rng.uniform(-1.3, 1.3, size=(4, 1, k)), jnp.float32)
  log_s = jnp.asarray(rng.uniform(-8.0, 2.0, size=(4, 1, k)), jnp.float32)
  x = GRID[:, None, None]                                   # [256, 1, 1]
  lp = d.discretized_logistic_mixture_log_prob(x, logit_w, means, log_s)
  assert lp.shape == (256, 4)
  np.testing.assert_allclose(np.asarray(jnp.sum(jnp.exp(lp), 0)), 1.0, atol=3e-5)


def test_mixture_is_the_weighted_sum_of_its_components():
  logit_w = jnp.array([0.3, -1.2, 2.0])
  means = jnp.array([[-0.5, 0.1, 0.9]])
  log_s = jnp.array([[-2.0, -4.0, -1.0]])
  lp = d.discretized_logistic_mixture_log_prob(GRID[:, None], logit_w, means, log_s)
  w = np.exp(np.asarray(jax.nn.log_softmax(logit_w)))
  ref = sum(w[k] * np.array([_reference_prob(v, float(means[0, k]), float(log_s[0, k]))
                             for v in VALUES]) for k in range(3))
  np.testing.assert_allclose(np.exp(np.asarray(lp)), ref, rtol=2e-4, atol=1e-7)


def test_two_colour_mixture_with_coefficients_sums_to_one():
  # P(x_R, x_G) = Σ_k π_k P(x_R | μ_Rk) P(x_G | μ_Gk + α_k x_R): the G mean
  # moves with the R value, and the 65536 joint probabilities sum to 1.
  k = 3
  logit_w = jnp.array([0.5, -0.5, 1.0])
  means = jnp.array([[0.2, -0.7, 0.95], [-0.1, 0.4, -0.99]])   # [C=2, K]
  log_s = jnp.array([[-3.0, -1.0, -6.0], [-2.0, -5.0, 0.5]])
  coeffs = jnp.array([[0.9, -0.5, 0.2]])                       # [1, K]
  r, g = jnp.meshgrid(GRID, GRID, indexing="ij")
  x = jnp.stack([r, g], -1).reshape(-1, 2)                      # [65536, 2]
  lp = d.discretized_logistic_mixture_log_prob(x, logit_w, means, log_s, coeffs)
  np.testing.assert_allclose(float(jnp.sum(jnp.exp(lp))), 1.0, atol=1e-4)
  # The coefficient matters: without it the probabilities differ.
  lp0 = d.discretized_logistic_mixture_log_prob(x, logit_w, means, log_s,
                                                jnp.zeros_like(coeffs))
  assert float(jnp.max(jnp.abs(lp - lp0))) > 0.1
  with pytest.raises(ValueError, match="coeffs"):
    d.discretized_logistic_mixture_log_prob(x, logit_w, means, log_s,
                                            jnp.zeros((3, k)))


def test_categorical_sums_to_one_and_is_log_softmax():
  logits = jax.random.normal(jax.random.PRNGKey(0), (3, 256)) * 5
  lp = d.categorical_log_prob(logits[:, None, :], jnp.asarray(VALUES)[None, :])
  assert lp.shape == (3, 256)
  np.testing.assert_allclose(np.asarray(jnp.sum(jnp.exp(lp), -1)), 1.0, atol=1e-5)
  np.testing.assert_allclose(np.asarray(lp), np.asarray(jax.nn.log_softmax(logits)),
                             atol=1e-6)
  # A uniform categorical assigns log(1/256) = -8 ln 2 to every value.
  lp_u = d.categorical_log_prob(jnp.zeros((256,)), jnp.uint8(17))
  assert float(lp_u) == pytest.approx(-8 * math.log(2), abs=1e-6)

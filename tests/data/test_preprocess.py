"""Tests of gdm_jax/data/preprocess.py: binarisation, dequantisation, scaling,
and its input validation."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gdm_jax.data import preprocess as P
from tests.helpers import invalid_input_test
from tests.helpers import u8

# Every 8-bit value once, as a [1, 16, 16, 1] uint8 image.
ALL_PIXELS = jnp.arange(256, dtype=jnp.uint8).reshape(1, 16, 16, 1)


def test_dynamic_binarisation_is_bernoulli_of_pixel_intensity():
  n = 4000
  keys = jax.random.split(jax.random.key(0), n)
  draws = jax.jit(jax.vmap(lambda k: P.binarize_dynamic(k, ALL_PIXELS)))(keys)
  chex.assert_shape(draws, (n,) + ALL_PIXELS.shape)
  chex.assert_type(draws, jnp.float32)
  assert set(np.unique(np.asarray(draws)).tolist()) == {0.0, 1.0}
  p = np.arange(256) / 255.0
  freq = np.asarray(draws, np.float64).mean(0).reshape(-1)
  # Mean = pixel / 255 within 4.5 binomial standard errors (exact at 0 and 255).
  se = np.sqrt(p * (1 - p) / n)
  assert np.all(np.abs(freq - p) <= 4.5 * se + 1e-12), np.max(np.abs(freq - p) / (se + 1e-12))
  assert freq[0] == 0.0 and freq[255] == 1.0
  # Pixels are drawn independently: neighbouring values are uncorrelated.
  flat = np.asarray(draws, np.float64).reshape(n, -1)[:, 100:140]
  corr = np.corrcoef(flat.T)[~np.eye(40, dtype=bool)]
  assert np.all(np.abs(corr) < 4.5 / math.sqrt(n))


def test_dynamic_binarisation_keys():
  image = jnp.full((4, 8, 8, 1), 128, jnp.uint8)
  a = P.binarize_dynamic(jax.random.key(1), image)
  b = P.binarize_dynamic(jax.random.key(2), image)
  np.testing.assert_array_equal(a, P.binarize_dynamic(jax.random.key(1), image))
  assert np.mean(np.asarray(a) != np.asarray(b)) > 0.3  # ~ 1/2 differ


def test_static_binarisation_thresholds_at_half():
  x = P.binarize_static(ALL_PIXELS)
  chex.assert_type(x, jnp.float32)
  expected = (np.arange(256) / 255.0 > 0.5).astype(np.float32)
  np.testing.assert_array_equal(np.asarray(x).reshape(-1), expected)
  assert expected[127] == 0.0 and expected[128] == 1.0  # 127.5 is the threshold
  pre = P.make_preprocessing("static")
  np.testing.assert_array_equal(pre.apply(jax.random.key(0), ALL_PIXELS), x)
  np.testing.assert_array_equal(pre.apply(jax.random.key(1), ALL_PIXELS), x)


def _dequantised(n, seed=0):
  images = jnp.broadcast_to(ALL_PIXELS, (n,) + ALL_PIXELS.shape[1:])
  return images, P.dequantize_uniform(jax.random.key(seed), images)


def test_dequantisation_is_uniform_within_each_bin():
  images, x = _dequantised(400)
  chex.assert_type(x, jnp.float32)
  chex.assert_shape(x, images.shape)
  frac = np.asarray(x, np.float64) * 256 - np.asarray(images, np.float64)
  # x = (pixel + u) / 256, u ~ U[0, 1) (checked with a one-ulp allowance; the
  # strict half-open bounds are checked in the test below).
  assert frac.min() >= 0.0 and frac.max() <= 1.0
  assert stats.kstest(frac.reshape(-1), "uniform").pvalue > 1e-3
  # Also uniform within the bin of each single pixel value, e.g. 0, 77 and 255.
  for v in (0, 77, 255):
    assert stats.kstest(frac[..., v // 16, v % 16, 0].reshape(-1), "uniform").pvalue > 1e-4
  # A fresh draw per key.
  _, y = _dequantised(400, seed=1)
  assert np.mean(np.asarray(x) == np.asarray(y)) < 1e-3


def test_dequantisation_stays_in_the_pixels_bin():
  # About 2 million draws: the rounding event has probability ~2**-17 each.
  images, x = _dequantised(8000)
  x = np.asarray(x)
  assert x.min() >= 0.0 and x.max() < 1.0
  np.testing.assert_array_equal(np.floor(x.astype(np.float64) * 256),
                                np.asarray(images, np.float64))


@pytest.mark.parametrize("dequantization", ["none", "uniform"])
def test_value_range_bounds(dequantization):
  key = jax.random.key(3)
  images = jnp.broadcast_to(ALL_PIXELS, (50,) + ALL_PIXELS.shape[1:])
  unit = P.make_preprocessing("none", dequantization, "0_1").apply(key, images)
  sym = P.make_preprocessing("none", dequantization, "-1_1").apply(key, images)
  chex.assert_type([unit, sym], jnp.float32)
  assert float(unit.min()) >= 0.0 and float(unit.max()) <= 1.0
  assert float(sym.min()) >= -1.0 and float(sym.max()) <= 1.0
  # The two ranges are the same affine map of the same draw: sym = 2 unit - 1.
  np.testing.assert_allclose(sym, 2 * unit - 1, atol=1e-6)
  if dequantization == "none":
    np.testing.assert_allclose(unit[0].reshape(-1), np.arange(256) / 255.0, rtol=1e-6)
    assert float(unit.min()) == 0.0 and float(unit.max()) == 1.0
    assert float(sym.min()) == -1.0 and float(sym.max()) == 1.0
  else:
    # Pixel v lies in [v/256, (v+1)/256], i.e. [-1 + v/128, -1 + (v+1)/128].
    v = np.arange(256, dtype=np.float64).reshape(1, 16, 16, 1)
    assert np.all(np.asarray(unit) >= v / 256) and np.all(np.asarray(unit) <= (v + 1) / 256)
    assert np.all(np.asarray(sym) >= -1 + v / 128 - 1e-6)
    assert np.all(np.asarray(sym) <= -1 + (v + 1) / 128 + 1e-6)


@pytest.mark.parametrize("value_range", ["0_1", "-1_1"])
def test_to_unit_inverts_the_scaling(value_range):
  pre = P.make_preprocessing("none", "none", value_range)
  x = pre.apply(jax.random.key(0), ALL_PIXELS)
  np.testing.assert_allclose(pre.to_unit(x).reshape(-1), np.arange(256) / 255.0,
                             atol=1e-6)
  assert float(pre.to_unit(jnp.asarray(5.0))) == 1.0   # clipped for display
  assert float(pre.to_unit(jnp.asarray(-5.0))) == 0.0


def test_nats_offset_per_dim():
  np.testing.assert_allclose(
      P.make_preprocessing("none", "uniform", "0_1").nats_offset_per_dim,
      math.log(256), rtol=1e-12)
  np.testing.assert_allclose(
      P.make_preprocessing("none", "uniform", "-1_1").nats_offset_per_dim,
      math.log(128), rtol=1e-12)
  assert P.make_preprocessing("dynamic").nats_offset_per_dim == 0.0
  assert P.make_preprocessing("static").nats_offset_per_dim == 0.0
  assert P.make_preprocessing("dynamic").binary
  assert not P.make_preprocessing("none", "uniform").binary


@pytest.mark.parametrize("value_range,log_density", [
    ("0_1", 0.0),                      # U[0, 1)^D has density 1
    ("-1_1", -math.log(2.0)),          # U[-1, 1)^D has density 2^-D
])
def test_offset_turns_a_uniform_density_into_uniform_8bit_likelihood(
    value_range, log_density):
  """The uniform density on model space must give the uniform distribution on
  the 256 pixel values: NLL = log 256 nats per dim in either range."""
  pre = P.make_preprocessing("none", "uniform", value_range)
  nll_per_dim = -log_density + pre.nats_offset_per_dim
  np.testing.assert_allclose(nll_per_dim, math.log(256), rtol=1e-12)


@pytest.mark.parametrize("args,match", [
    (("stochastic", "none", "0_1"), "data.binarization"),
    (("none", "gaussian", "0_1"), "data.dequantization"),
    (("none", "none", "0_255"), "data.value_range"),
    (("dynamic", "uniform", "0_1"), "dequantization"),
    (("static", "none", "-1_1"), "value_range"),
])
def test_invalid_modes_raise(args, match):
  with pytest.raises(ValueError, match=match):
    P.make_preprocessing(*args)


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("binarize_bool",
     lambda: P.binarize_static(jnp.zeros((2, 4, 4, 1), bool)),
     ["preprocess.binarize_static", "`image`", "numeric", "bool"]),
    ("binarize_dynamic_rank1",
     lambda: P.binarize_dynamic(jax.random.key(0), u8(16)),
     ["preprocess.binarize_dynamic", "`image`", "rank >= 2", "(16,)"]),
    ("dequantize_rank1",
     lambda: P.dequantize_uniform(jax.random.key(0), u8(16)),
     ["preprocess.dequantize_uniform", "`image`", "rank >= 2",
      "pixel values 0..255", "(16,)"]),
    ("preprocessing_apply_rank",
     lambda: P.make_preprocessing("none", "uniform").apply(
         jax.random.key(0), u8(5)),
     ["Preprocessing.apply", "`image`", "(5,)"]),
    ("preprocessing_apply_complex",
     lambda: P.make_preprocessing("static").apply(
         jax.random.key(0), jnp.zeros((2, 3), jnp.complex64)),
     ["Preprocessing.apply", "`image`", "numeric", "complex64"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

"""ActNorm's data-dependent init and the LU-parametrised 1x1 convolution."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.helpers import f
from tests.helpers import invalid_input_test
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb

# Per-channel means and scales far from (0, 1), so the init has work to do.
SHIFT = jnp.array([3.0, -2.0, 0.5])
SCALE = jnp.array([0.1, 5.0, 2.0])


def _data(shape):
  return SHIFT + SCALE * normal(seed=0, shape=shape)


@pytest.mark.parametrize("shape", [(8, 4, 4, 3), (16, 3)])
def test_actnorm_data_dependent_init_standardises(shape):
  x = _data(shape)
  flow = flows.ActNorm()
  variables = flow.init(key(1), x)
  y, ld = flow.apply(variables, x)
  axes = tuple(range(len(shape) - 1))
  np.testing.assert_allclose(jnp.mean(y, axes), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.var(y, axes), 1.0, atol=1e-4)
  # log_det = (H*W) * sum(log|s|) = -(H*W) * sum(log std).
  spatial = int(np.prod(shape[1:-1]))
  np.testing.assert_allclose(ld, -spatial * jnp.sum(jnp.log(jnp.std(x, axes))),
                             atol=1e-3)


def test_actnorm_keeps_its_init_on_other_batches():
  x = _data((8, 4, 4, 3))
  flow = flows.ActNorm()
  variables = flow.init(key(1), x)
  other = 2.0 * x + 1.0
  y, _ = flow.apply(variables, other)
  p = variables["params"]
  np.testing.assert_allclose(
      y, other * jnp.exp(p["log_scale"]) + p["bias"], rtol=1e-6)
  assert float(jnp.abs(jnp.std(y, (0, 1, 2)) - 2.0).max()) < 1e-3


def test_actnorm_inverse_init_standardises_inverse_outputs():
  y = _data((16, 3))
  flow = flows.ActNorm()
  variables = flow.init(key(1), y, method="inverse")
  x, _ = flow.apply(variables, y, method="inverse")
  np.testing.assert_allclose(jnp.mean(x, 0), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.var(x, 0), 1.0, atol=1e-4)


def _conv(c=3, seed=0, noise=0.3):
  x = normal(seed=seed, shape=(2, 4, 4, c))
  flow = flows.InvertibleConv1x1()
  variables = flow.init(key(seed + 1), x)
  if noise:
    variables = perturb(variables, seed=seed, scale=noise)
  return flow, variables, x


def test_conv1x1_log_det_is_hw_slogdet_w():
  flow, variables, x = _conv()
  # W read off as the Jacobian of the map on one pixel, independently of the
  # parametrisation; and from the module's own `weight`.
  pixel = lambda v: flow.apply(variables, v.reshape(1, 1, 1, 3))[0].reshape(3)
  w = jax.jacfwd(pixel)(jnp.ones(3))
  np.testing.assert_allclose(flow.apply(variables, 3, method="weight"), w,
                             atol=1e-6)
  # The map is the same W at every pixel.
  y, ld = flow.apply(variables, x)
  np.testing.assert_allclose(y, jnp.einsum("bhwi,oi->bhwo", x, w), atol=1e-5)
  sign, logdet = jnp.linalg.slogdet(w)
  assert sign != 0 and abs(float(logdet)) > 0.1  # non-trivial W
  np.testing.assert_allclose(ld, 4 * 4 * logdet, rtol=1e-5)


def test_conv1x1_starts_as_a_rotation():
  flow, variables, x = _conv(c=5, seed=3, noise=0.0)
  w = flow.apply(variables, 5, method="weight")
  np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-5)
  _, ld = flow.apply(variables, x)
  np.testing.assert_allclose(ld, 0.0, atol=1e-5)
  perm = variables["constants"]["permutation"]
  assert set(np.unique(np.asarray(perm))) <= {0.0, 1.0}
  np.testing.assert_array_equal(perm.sum(0), 1.0)
  np.testing.assert_array_equal(perm.sum(1), 1.0)


def test_conv1x1_trains_params_only():
  flow, variables, x = _conv()
  consts = variables["constants"]

  def loss(params):
    y, ld = flow.apply({"params": params, "constants": consts}, x)
    return jnp.sum(y ** 2) - jnp.sum(ld)

  grads = jax.grad(loss)(variables["params"])
  assert set(grads) == {"lower", "upper", "log_s"}
  # Only the strictly triangular parts of lower/upper are used.
  np.testing.assert_array_equal(jnp.triu(grads["lower"]), 0.0)
  np.testing.assert_array_equal(jnp.tril(grads["upper"]), 0.0)
  with pytest.raises(flax.errors.ScopeCollectionNotFound):
    flow.apply({"params": variables["params"]}, x)


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)
# Variables of layers built for 3 (ActNorm) and 4 (1x1 conv) channels, as
# `init` makes them (written out: initialising costs seconds of dispatch).
ACTNORM_3 = {"params": {"log_scale": np.zeros(3, np.float32),
                        "bias": np.zeros(3, np.float32)}}
CONV1X1_4 = {"params": {"lower": np.eye(4, dtype=np.float32),
                        "upper": np.zeros((4, 4), np.float32),
                        "log_s": np.zeros(4, np.float32)},
             "constants": {"permutation": np.eye(4, dtype=np.float32),
                           "sign_s": np.ones(4, np.float32)}}

INVALID_INPUTS = [
    ("actnorm_channels",
     lambda: flows.ActNorm().apply(ACTNORM_3, f(8, 1)),
     ["ActNorm.forward", "`x`", "3 channels", "(8, 1)"]),
    ("actnorm_rank1", lambda: flows.ActNorm().init(key(), f(8)),
     ["ActNorm.forward", "`x`", "rank >= 2", "(8,)"]),
    ("conv1x1_channels_inverse",
     lambda: flows.InvertibleConv1x1().apply(CONV1X1_4, f(2, 3, 3, 2),
                                             method="inverse"),
     ["InvertibleConv1x1.inverse", "`y`", "4 channels", "(2, 3, 3, 2)"]),
    ("random_rotation_n", lambda: flows.random_rotation(key(), 0),
     ["flows.random_rotation", "`n`", "positive", "0"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

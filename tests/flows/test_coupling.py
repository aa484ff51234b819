"""Coupling layers: masks, identity at init, which entries move, scales."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb

IMAGE = normal(seed=0, shape=(3, 4, 4, 2))
VECTOR = normal(seed=1, shape=(3, 5))


def test_checkerboard_mask_pattern():
  expected = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
  np.testing.assert_array_equal(flows.checkerboard_mask(3, 3)[..., 0],
                                expected)
  np.testing.assert_array_equal(flows.checkerboard_mask(3, 3, parity=True),
                                1.0 - flows.checkerboard_mask(3, 3))


def test_channel_and_vector_masks():
  np.testing.assert_array_equal(flows.channel_mask(4), [1, 1, 0, 0])
  np.testing.assert_array_equal(flows.channel_mask(4, True), [0, 0, 1, 1])
  np.testing.assert_array_equal(flows.half_mask(5), [1, 1, 0, 0, 0])
  np.testing.assert_array_equal(flows.alternating_mask(5), [1, 0, 1, 0, 1])
  np.testing.assert_array_equal(flows.alternating_mask(5, True),
                                [0, 1, 0, 1, 0])


@pytest.mark.parametrize("shape, mask_type", [
    ((2, 4, 4, 2), "half"),            # vector mask on an image
    ((2, 5), "checkerboard"),          # image mask on a vector
    ((2, 4, 4, 1), "channel"),         # one channel: nothing to condition on
    ((2, 1), "half"),
    ((2, 4, 4), "checkerboard"),       # neither [B, H, W, C] nor [B, D]
    ((2, 4, 4, 2), "stripes"),
])
def test_bad_masks_raise(shape, mask_type):
  with pytest.raises(ValueError):
    flows.coupling_mask(shape, mask_type)


def test_coupling_init_raises_on_mismatched_mask():
  with pytest.raises(ValueError, match="does not apply"):
    flows.AffineCoupling("checkerboard").init(key(0), VECTOR)


COUPLINGS = [
    (flows.AdditiveCoupling, "checkerboard", IMAGE),
    (flows.AdditiveCoupling, "channel", IMAGE),
    (flows.AdditiveCoupling, "alternating", VECTOR),
    (flows.AffineCoupling, "checkerboard", IMAGE),
    (flows.AffineCoupling, "channel", IMAGE),
    (flows.AffineCoupling, "half", VECTOR),
]


@pytest.mark.parametrize("cls, mask_type, x", COUPLINGS)
def test_coupling_is_identity_at_init(cls, mask_type, x):
  flow = cls(mask_type, parity=True, hidden=8)
  variables = flow.init(key(2), x)
  y, ld = flow.apply(variables, x)
  np.testing.assert_array_equal(y, x)
  np.testing.assert_array_equal(ld, np.zeros(x.shape[0]))
  x_back, ild = flow.apply(variables, x, method="inverse")
  np.testing.assert_array_equal(x_back, x)
  np.testing.assert_array_equal(ild, np.zeros(x.shape[0]))


@pytest.mark.parametrize("cls, mask_type, x", COUPLINGS)
def test_only_unmasked_entries_change(cls, mask_type, x):
  flow = cls(mask_type, hidden=8)
  variables = perturb(flow.init(key(3), x), seed=5)
  y, _ = flow.apply(variables, x)
  b = flows.coupling_mask(x.shape, mask_type)
  b = np.broadcast_to(b, x.shape).astype(bool)
  np.testing.assert_array_equal(np.asarray(y)[b], np.asarray(x)[b])
  assert np.all(np.abs(np.asarray(y)[~b] - np.asarray(x)[~b]) > 0)


def test_affine_coupling_jacobian_is_triangular():
  """Transformed outputs depend on transformed inputs only through x·s: the
  Jacobian block (transformed, transformed) is diagonal."""
  x = IMAGE[:1]
  flow = flows.AffineCoupling("checkerboard", hidden=8)
  variables = perturb(flow.init(key(4), x), seed=6)
  f = lambda v: flow.apply(variables, v.reshape(x.shape))[0].reshape(-1)
  jac = np.asarray(jax.jit(jax.jacfwd(f))(x.reshape(-1)))
  free = ~np.broadcast_to(flows.coupling_mask(x.shape, "checkerboard"),
                          x.shape).reshape(-1).astype(bool)
  block = jac[np.ix_(free, free)]
  np.testing.assert_array_equal(block - np.diag(np.diag(block)), 0.0)
  # The conditioning block is the identity, and conditioning outputs do not
  # depend on transformed inputs.
  np.testing.assert_array_equal(jac[np.ix_(~free, ~free)],
                                np.eye((~free).sum()))
  np.testing.assert_array_equal(jac[np.ix_(~free, free)], 0.0)


def test_sigmoid_scale_starts_at_glow_value():
  """With Glow's s = sigmoid(raw + 2) the zero-initialised net gives
  s = sigmoid(2) on every transformed entry (documented: not the identity)."""
  flow = flows.AffineCoupling("channel", hidden=8, scale_fn="sigmoid")
  variables = flow.init(key(5), IMAGE)
  y, ld = flow.apply(variables, IMAGE)
  s = jax.nn.sigmoid(2.0)
  np.testing.assert_allclose(y[..., 1:], IMAGE[..., 1:] * s, rtol=1e-6)
  np.testing.assert_allclose(ld, 4 * 4 * 1 * np.log(s), rtol=1e-6)


def test_bounded_log_scale():
  raw = jnp.array([-1e4, -3.0, 0.0, 3.0, 1e4])
  log_s = np.asarray(flows.bounded_log_scale(raw, "tanh", bound=2.0))
  assert np.all(np.abs(log_s) <= 2.0) and log_s[2] == 0.0
  np.testing.assert_allclose(log_s[[0, 4]], [-2.0, 2.0])
  np.testing.assert_allclose(
      jax.grad(lambda r: flows.bounded_log_scale(r, "tanh", 2.0))(0.0), 1.0)
  np.testing.assert_allclose(flows.bounded_log_scale(raw, "sigmoid"),
                             jax.nn.log_sigmoid(raw + 2.0))
  with pytest.raises(ValueError):
    flows.bounded_log_scale(raw, "exp")
  with pytest.raises(ValueError):
    flows.bounded_log_scale(raw, "tanh", bound=0.0)


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)

INVALID_INPUTS = [
    ("coupling_rank3",
     lambda: flows.AffineCoupling("half").init(key(), f(2, 4, 4)),
     ["AffineCoupling.forward", "`x`", "[B, H, W, C] or [B, D]",
      "(2, 4, 4)"]),
    ("coupling_inverse_int",
     lambda: flows.AdditiveCoupling("half").init(key(), i(2, 4),
                                                 method="inverse"),
     ["AdditiveCoupling.inverse", "`y`", "floating", "int32"]),
    ("bounded_log_scale_int", lambda: flows.bounded_log_scale(i(3)),
     ["flows.bounded_log_scale", "`raw`", "int32"]),
    ("conv_conditioner_rank",
     lambda: flows.ConvConditioner(4).init(key(), f(2, 3), 2),
     ["ConvConditioner.__call__", "`x`", "rank 4", "(2, 3)"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

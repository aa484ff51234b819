"""Masked convolutions and PixelCNN stacks respect the autoregressive order.

For every layer and network, the Jacobian d out(i, j, k) / d x(i', j', c) on a
small image must vanish unless pixel (i', j') precedes (i, j) in raster
order, or is (i, j) itself and colour c precedes (mask A) or equals (mask B)
the colour group k mod C of the output. The allowed entries must be nonzero
where the kernel reaches (tested per layer), and for the gated network over
the whole past (no blind spot), which the plain PixelCNN fails.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.nn.masked import causal_mask
from gdm_jax.nn.masked import colour_mask
from gdm_jax.nn.masked import gate
from gdm_jax.nn.masked import GatedPixelCNN
from gdm_jax.nn.masked import HorizontalConv
from gdm_jax.nn.masked import MaskedConv2D
from gdm_jax.nn.masked import PixelCNN
from gdm_jax.nn.masked import VerticalConv
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test

KEY = jax.random.key(0)

H = W = 5


def _jacobian(module, num_inputs, seeds=(1, 2)):
  """|d out / d x| of `module` on [1, H, W, num_inputs] inputs, summed over
  a few random inputs (so an inactive ReLU cannot hide a connection):
  [H, W, P, H, W, C_in]."""
  x0 = jax.random.normal(jax.random.PRNGKey(0), (1, H, W, num_inputs))
  params = module.init(jax.random.PRNGKey(0), x0)
  jacobian = jax.jit(jax.jacfwd(lambda x: module.apply(params, x)[0]))
  total = 0.0
  for s in seeds:
    x = jax.random.normal(jax.random.PRNGKey(s), (1, H, W, num_inputs))
    jac = jacobian(x)[:, :, :, 0]
    total = total + np.abs(np.asarray(jac))
  return total


def _autoregressive_allowed(num_out, num_in, num_colours, strict):
  """[H, W, P, H, W, C] bool: may out(i, j, k) depend on x(i', j', c)?"""
  allowed = np.zeros((H, W, num_out, H, W, num_in), bool)
  for i in range(H):
    for j in range(W):
      for k in range(num_out):
        g = k % num_colours
        for i2 in range(H):
          for j2 in range(W):
            if (i2, j2) < (i, j):
              allowed[i, j, k, i2, j2] = True
            elif (i2, j2) == (i, j):
              for c in range(num_in):
                gc = c % num_colours
                allowed[i, j, k, i2, j2, c] = gc < g if strict else gc <= g
  return allowed


def _in_window(i, j, i2, j2, rows, cols):
  return rows[0] <= i2 - i <= rows[1] and cols[0] <= j2 - j <= cols[1]


def _expected_layer(num_out, num_in, num_colours, mask_type, rows, cols):
  """Taps of a layer whose kernel reaches offsets rows x cols (inclusive),
  restricted to the autoregressive order with mask A or B."""
  allowed = _autoregressive_allowed(num_out, num_in, num_colours,
                                    strict=mask_type == "A")
  reach = np.zeros_like(allowed)
  for i in range(H):
    for j in range(W):
      for i2 in range(H):
        for j2 in range(W):
          reach[i, j, :, i2, j2] = _in_window(i, j, i2, j2, rows, cols)
  return allowed & reach


def test_colour_mask_orders_r_g_b():
  a = colour_mask(3, 6, 3, "A")
  b = colour_mask(3, 6, 3, "B")
  # R (0) feeds G and B outputs; B (2) feeds nothing under A, only B under B.
  np.testing.assert_array_equal(a[:, :3], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
  np.testing.assert_array_equal(b[:, :3], [[1, 1, 1], [0, 1, 1], [0, 0, 1]])
  np.testing.assert_array_equal(a[:, 3:], a[:, :3])   # group = k mod C
  with pytest.raises(ValueError, match="mask_type"):
    colour_mask(3, 3, 3, "C")


def test_causal_mask_layout():
  m = causal_mask((3, 3), 1, 1, "A")[..., 0, 0]
  np.testing.assert_array_equal(m, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
  m = causal_mask((3, 3), 1, 1, "B")[..., 0, 0]
  np.testing.assert_array_equal(m, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
  with pytest.raises(ValueError, match="odd"):
    causal_mask((2, 3), 1, 1, "A")


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("num_colours", [1, 3])
def test_masked_conv_jacobian(mask_type, num_colours):
  c_in, c_out = 3, 6
  layer = MaskedConv2D(c_out, (3, 3), mask_type, num_colours)
  jac = _jacobian(layer, c_in)
  expected = _expected_layer(c_out, c_in, num_colours, mask_type, (-1, 1), (-1, 1))
  np.testing.assert_array_equal(jac > 0, expected)
  centre = jac[2, 2, :, 2, 2, :]          # [out, in]
  if num_colours == 1:
    # Mask A excludes the current pixel, mask B includes it.
    assert (centre > 0).all() == (mask_type == "B")
    assert (centre == 0).all() == (mask_type == "A")


@pytest.mark.parametrize("include", [True, False])
def test_vertical_conv_sees_rows_above_only(include):
  layer = VerticalConv(4, 3, include_current_row=include)
  jac = _jacobian(layer, 2)
  rows = (-1, 0) if include else (-1, -1)
  reach = np.zeros_like(jac, bool)
  for i in range(H):
    for j in range(W):
      for i2 in range(H):
        for j2 in range(W):
          reach[i, j, :, i2, j2] = _in_window(i, j, i2, j2, rows, (-1, 1))
  np.testing.assert_array_equal(jac > 0, reach)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_horizontal_conv_sees_left_of_row(mask_type):
  layer = HorizontalConv(6, 5, mask_type, num_colours=3)
  jac = _jacobian(layer, 3)
  expected = _expected_layer(6, 3, 3, mask_type, (0, 0), (-2, 0))
  np.testing.assert_array_equal(jac > 0, expected)


@pytest.mark.parametrize("num_colours", [1, 3])
def test_gated_network_is_autoregressive_without_blind_spot(num_colours):
  # 5 layers of 3x3 reach 5 rows up and +-5 columns: the whole 5x5 past.
  # (12 features: with 2 per colour group the head's ReLU can be inactive at
  # a pixel for both inputs and hide a connection.)
  net = GatedPixelCNN(features=12, num_layers=5, out_features=2 * num_colours,
                      num_colours=num_colours, first_kernel_size=3,
                      head_features=48)
  jac = _jacobian(net, num_colours)
  allowed = _autoregressive_allowed(2 * num_colours, num_colours, num_colours,
                                    strict=True)
  assert not jac[~allowed].any(), "an output depends on a later value"
  assert (jac[allowed] > 0).all(), "blind spot: an earlier value is unseen"


def test_plain_pixelcnn_is_autoregressive_but_has_the_blind_spot():
  net = PixelCNN(features=6, num_layers=5, out_features=2, num_colours=1,
                 first_kernel_size=3, head_features=48)
  jac = _jacobian(net, 1)
  allowed = _autoregressive_allowed(2, 1, 1, strict=True)
  assert not jac[~allowed].any(), "an output depends on a later value"
  # Output (2, 1) cannot see (1, 3): up one row and two columns right is
  # reachable only through (2, 2), which mask A/B hide (2016b, figure 1).
  assert (jac[2, 1, :, 1, 3] == 0).all()
  assert (jac[2, 1, :, 1, 2] > 0).all()
  # (The gated stacks of the same depth see it: the test above checks every
  # allowed entry.)


def test_gated_split_stacks_equal_the_whole_network_row_by_row():
  net = GatedPixelCNN(features=6, num_layers=3, out_features=4,
                      first_kernel_size=5)
  x = jax.random.normal(jax.random.PRNGKey(3), (2, H, W, 1))
  params = net.init(jax.random.PRNGKey(0), x)
  full = net.apply(params, x)
  links = net.apply(params, x, method=GatedPixelCNN.vertical_stack)
  assert links.shape == (3, 2, H, W, 12)
  for i in range(H):
    row = net.apply(params, x[:, i:i + 1], links[:, :, i:i + 1],
                    method=GatedPixelCNN.horizontal_stack)
    np.testing.assert_allclose(row[:, 0], full[:, i], rtol=1e-5, atol=1e-5)


def test_features_must_divide_into_colour_groups():
  net = GatedPixelCNN(features=4, num_layers=1, out_features=3, num_colours=3)
  with pytest.raises(ValueError, match="multiple of num_colours"):
    net.init(jax.random.PRNGKey(0), jnp.zeros((1, H, W, 3)))


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)
INVALID_INPUTS = [
    ("masked_conv_int",
     lambda: MaskedConv2D(4).init(KEY, i(1, 4, 4, 1)),
     ["MaskedConv2D.__call__", "`x`", "int32"]),
    ("pixelcnn_net_rank", lambda: PixelCNN(4, 1, 8).init(KEY, f(4, 4, 1)),
     ["PixelCNN.__call__", "`x`", "rank 4", "(4, 4, 1)"]),
    ("gate_odd", lambda: gate(f(2, 3)),
     ["nn.gate", "even", "(2, 3)"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

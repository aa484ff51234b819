"""gdm_jax/nn/conv.py: the im2col route computes lax.conv_general_dilated's
function, its gradients and the gradient of a gradient norm (WGAN-GP); input
validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gdm_jax.nn.conv import im2col_conv
from gdm_jax.nn.conv import NHWC
from gdm_jax.nn.conv import strided_conv_general_dilated
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test


def _xla(x, w, strides, padding):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _ours(x, w, strides, padding):
  return strided_conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


@pytest.mark.parametrize("shape,kernel,strides,padding", [
    ((2, 28, 28, 1), (4, 4, 1, 8), (2, 2), "SAME"),
    ((2, 14, 14, 8), (4, 4, 8, 16), (2, 2), "SAME"),
    ((3, 7, 9, 3), (3, 3, 3, 5), (2, 3), "VALID"),
    ((2, 8, 8, 4), (3, 3, 4, 4), (1, 1), "SAME"),      # stride 1: XLA's path
])
def test_same_function_gradients_and_gradient_penalty(shape, kernel, strides, padding):
  kx, kw, kv = jax.random.split(jax.random.PRNGKey(0), 3)
  x = jax.random.normal(kx, shape)
  w = jax.random.normal(kw, kernel) / np.sqrt(np.prod(kernel[:3]))
  np.testing.assert_allclose(_ours(x, w, strides, padding),
                             _xla(x, w, strides, padding), rtol=1e-5, atol=1e-5)
  v = jax.random.normal(kv, _xla(x, w, strides, padding).shape)

  def penalty(conv, w):
    # The critic f(x) = <v, conv(x, w)>; WGAN-GP's penalty differentiates
    # ||grad_x f|| with respect to w (a second derivative through the conv).
    grad_x = jax.grad(lambda x: jnp.sum(v * jnp.tanh(conv(x, w, strides, padding))))(x)
    return jnp.sum(grad_x ** 2)

  for argnum in (0, 1):
    g_ours = jax.grad(lambda x, w: jnp.sum(v * _ours(x, w, strides, padding)), argnum)(x, w)
    g_xla = jax.grad(lambda x, w: jnp.sum(v * _xla(x, w, strides, padding)), argnum)(x, w)
    np.testing.assert_allclose(g_ours, g_xla, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(jax.grad(lambda w: penalty(_ours, w))(w),
                             jax.grad(lambda w: penalty(_xla, w))(w), rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("im2col_channels",
     lambda: im2col_conv(f(1, 4, 4, 3), f(3, 3, 2, 5), (2, 2), "SAME"),
     ["nn.im2col_conv", "`x` (1, 4, 4, 3)", "3 channels", "expects 2"]),
    ("im2col_int_x",
     lambda: im2col_conv(i(1, 4, 4, 3), f(3, 3, 3, 5), (2, 2), "SAME"),
     ["nn.im2col_conv", "`x`", "floating", "int32"]),
    ("im2col_kernel_rank",
     lambda: im2col_conv(f(1, 4, 4, 3), f(3, 3, 5), (2, 2), "SAME"),
     ["nn.im2col_conv", "`w`", "rank 4", "[kh, kw, C, O]", "(3, 3, 5)"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

"""gdm_jax/nn/layers.py: the pixel shuffle's index map, the shapes of the MLP
and conv stacks, and input validation."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import nn as gnn
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test

KEY = jax.random.key(0)


def test_depth_to_space_is_tf_order_pixel_shuffle():
  """y[b, h*s + i, w*s + j, c] = x[b, h, w, (i*s + j)*C + c]."""
  s, c = 2, 3
  x = jnp.arange(2 * 3 * 4 * s * s * c).reshape(2, 3, 4, s * s * c)
  y = np.asarray(gnn.depth_to_space(x, s))
  chex.assert_shape(y, (2, 3 * s, 4 * s, c))
  for b, h, w, di, dj, ch in np.ndindex(2, 3, 4, s, s, c):
    assert y[b, h * s + di, w * s + dj, ch] == x[b, h, w, (di * s + dj) * c + ch]


def test_layer_output_shapes():
  x = f(2, 8, 8, 1)
  up = gnn.SubPixelUpsample(5)
  chex.assert_shape(up.apply(up.init(KEY, x), x), (2, 16, 16, 5))
  enc = gnn.ConvEncoder(channels=(4, 8), hidden=16, output_dim=6)
  chex.assert_shape(enc.apply(enc.init(KEY, x), x), (2, 6))
  dec = gnn.ConvDecoder(output_shape=(8, 8, 1), channels=(8, 4), hidden=16,
                        output_channels=2)
  z = f(2, 6)
  chex.assert_shape(dec.apply(dec.init(KEY, z), z), (2, 8, 8, 2))
  mlp = gnn.MLP((7, 3))
  chex.assert_shape(mlp.apply(mlp.init(KEY, f(4, 5, 2)), f(4, 5, 2)), (4, 5, 3))


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("mlp_int", lambda: gnn.MLP((3,)).init(KEY, i(2, 4)),
     ["MLP.__call__", "`x`", "int32"]),
    ("mlp_scalar", lambda: gnn.MLP((3,)).init(KEY, f()),
     ["MLP.__call__", "`x`", "rank >= 1", "[..., D_in]"]),
    ("sub_pixel_rank", lambda: gnn.SubPixelUpsample(3).init(KEY, f(2, 4, 4)),
     ["SubPixelUpsample.__call__", "`x`", "rank 4", "(2, 4, 4)"]),
    ("conv_encoder_rank", lambda: gnn.ConvEncoder().init(KEY, f(2, 28, 28)),
     ["ConvEncoder.__call__", "`x`", "rank 4", "(2, 28, 28)"]),
    ("conv_decoder_rank", lambda: gnn.ConvDecoder().init(KEY, f(2, 4, 4)),
     ["ConvDecoder.__call__", "`z`", "rank 2", "(2, 4, 4)"]),
    ("conv_decoder_stages",
     lambda: gnn.ConvDecoder(output_shape=(6, 6, 1)).init(KEY, f(2, 4)),
     ["ConvDecoder", "6x6", "2**2"]),
    ("depth_to_space_rank", lambda: gnn.depth_to_space(f(2, 4, 8), 2),
     ["nn.depth_to_space", "`x`", "rank 4", "(2, 4, 8)"]),
    ("depth_to_space_channels", lambda: gnn.depth_to_space(f(1, 2, 2, 6), 2),
     ["nn.depth_to_space", "`x` (1, 2, 2, 6)", "6 channels", "4"]),
    ("depth_to_space_block", lambda: gnn.depth_to_space(f(1, 2, 2, 4), 0),
     ["nn.depth_to_space", "`block_size`", "positive", "0"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

"""MLPs, DCGAN-style conv stacks and sub-pixel upsampling.

Upsampling is done by a convolution to s*s*C channels followed by a
depth-to-space shuffle (Shi et al. 2016, "Real-Time Single Image and Video
Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network").
It computes the same family of maps as a stride-s transposed convolution, but
XLA's CPU kernel gradient of strided transposed convolutions is
pathologically slow (measured 262 ms against 13 ms for this layer on a 2-core
machine), so the sub-pixel layer is used everywhere a generator upsamples.
"""

from typing import Callable, Sequence

import flax.linen as nn
import jax

from gdm_jax import checks

Activation = Callable[[jax.Array], jax.Array]


def depth_to_space(x: jax.Array, block_size: int) -> jax.Array:
  """[B, H, W, s*s*C] -> [B, H*s, W*s, C] (pixel shuffle, TF channel order).

  y[b, h*s + i, w*s + j, c] = x[b, h, w, (i*s + j)*C + c], as
  `tf.nn.depth_to_space` (Shi et al. 2016, the periodic shuffling PS).

  Args:
    x: [B, H, W, s*s*C], any dtype.
    block_size: s, a positive int.

  Returns:
    [B, H*s, W*s, C], x's dtype.

  Raises:
    ValueError: x not of rank 4, block_size not a positive int, or channels
      not divisible by block_size².

  References:
    Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution
    Using an Efficient Sub-Pixel Convolutional Neural Network" (CVPR),
    eq. 4.
  """
  fn = "nn.depth_to_space"
  checks.check_arg(fn, "x", x, "any [B, H, W, s*s*C]")
  checks.check_positive_int(fn, "block_size", block_size)
  b, h, w, c = x.shape
  s = block_size
  if c % (s * s):
    raise ValueError(f"{fn}: `x` {x.shape} has {c} channels, not divisible "
                     f"by block_size² = {s * s}.")
  x = x.reshape(b, h, w, s, s, c // (s * s))
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h * s, w * s, c // (s * s))


class MLP(nn.Module):
  """Dense layers with an activation between them (none after the last).

  Attributes:
    features: output sizes of the layers, e.g. (512, 512, 64).
    activation: nonlinearity after every layer but the last.
  """
  features: Sequence[int]
  activation: Activation = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Float [..., D_in] -> [..., features[-1]].

    Raises:
      ValueError: x not a floating array of rank >= 1.
    """
    checks.check_arg("MLP.__call__", "x", x, "floating [..., D_in]")
    for i, f in enumerate(self.features):
      x = nn.Dense(f, name=f"dense_{i}")(x)
      if i < len(self.features) - 1:
        x = self.activation(x)
    return x


class SubPixelUpsample(nn.Module):
  """Upsample by `factor`: conv to factor²·C channels, then depth-to-space.

  [B, H, W, C_in] -> [B, H*factor, W*factor, features].
  """
  features: int
  factor: int = 2
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Float [B, H, W, C_in] -> [B, H*factor, W*factor, features].

    Raises:
      ValueError: x not a floating array of rank 4.
    """
    checks.check_arg("SubPixelUpsample.__call__", "x", x,
                     "floating [B, H, W, C_in]")
    k = self.kernel_size
    x = nn.Conv(self.features * self.factor ** 2, (k, k), padding="SAME")(x)
    return depth_to_space(x, self.factor)


class ConvEncoder(nn.Module):
  """DCGAN-style encoder: stride-2 4x4 convs, then a dense layer.

  [B, H, W, C] -> [B, output_dim]; H and W must be divisible by
  2**len(channels).
  """
  channels: Sequence[int] = (32, 64)
  hidden: int = 256
  output_dim: int = 64
  activation: Activation = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Float [B, H, W, C] -> [B, output_dim].

    Raises:
      ValueError: x not a floating array of rank 4.
    """
    checks.check_arg("ConvEncoder.__call__", "x", x, "floating [B, H, W, C]")
    for c in self.channels:
      x = self.activation(nn.Conv(c, (4, 4), strides=(2, 2), padding="SAME")(x))
    x = x.reshape(x.shape[0], -1)
    x = self.activation(nn.Dense(self.hidden)(x))
    return nn.Dense(self.output_dim)(x)


class ConvDecoder(nn.Module):
  """DCGAN-style decoder with sub-pixel upsampling (mirror of ConvEncoder).

  [B, D] -> dense -> [B, H/2^n, W/2^n, channels[0]] -> n x (upsample x2,
  activation) -> 3x3 conv to `output_channels`: [B, H, W, output_channels].
  """
  output_shape: Sequence[int] = (28, 28, 1)
  channels: Sequence[int] = (64, 32)
  hidden: int = 256
  output_channels: int = 1
  activation: Activation = nn.relu

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    """Float [B, D] -> [B, H, W, output_channels] (H, W = output_shape[:2]).

    Raises:
      ValueError: z not a floating array of rank 2, or H or W not divisible
        by 2**len(channels).
    """
    checks.check_arg("ConvDecoder.__call__", "z", z, "floating [B, D]")
    h, w, _ = self.output_shape
    n = len(self.channels)
    if h % 2 ** n or w % 2 ** n:
      raise ValueError(f"ConvDecoder: image size {h}x{w} is not divisible by "
                       f"2**{n}; use fewer upsampling stages.")
    h0, w0 = h // 2 ** n, w // 2 ** n
    x = self.activation(nn.Dense(self.hidden)(z))
    x = self.activation(nn.Dense(h0 * w0 * self.channels[0])(x))
    x = x.reshape(z.shape[0], h0, w0, self.channels[0])
    for c in self.channels:
      x = self.activation(SubPixelUpsample(c)(x))
    return nn.Conv(self.output_channels, (3, 3), padding="SAME")(x)

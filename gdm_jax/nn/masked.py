"""Masked convolutions and gated PixelCNN stacks (autoregressive over pixels).

A PixelCNN models an image as a product of conditionals in raster order
(rows top to bottom, pixels left to right, colours R -> G -> B within a pixel):
  p(x) = prod_i p(x_i | x_<i)           (van den Oord et al. 2016a, eq. 1-2).
The networks here keep that order: the output at pixel (i, j) for colour g
depends only on the input at pixels above, at pixels to the left in row i,
and on colours < g of pixel (i, j) itself.

Colour groups. With C colours, feature k of every layer belongs to colour
group k mod C (input channel c is colour c; an output with P parameters per
colour reshapes as [..., P, C]). At the centre tap of a kernel, input feature
k_in may feed output feature k_out iff
  mask A (first layer):  group(k_in) <  group(k_out),
  mask B (later layers): group(k_in) <= group(k_out)
(van den Oord et al. 2016a, section 3.4 and figure 4). With C = 1 mask A
excludes the current pixel and mask B includes the features computed at it.

Two networks:
  PixelCNN       a 7x7 mask-A convolution, residual 3x3 mask-B layers and a
                 1x1 head: the original (2016a, section 3.5). Its receptive
                 field has a blind spot: pixels up and to the right of the
                 current one that no stack of 3x3 masked kernels reaches.
  GatedPixelCNN  vertical and horizontal stacks with gated activations
                 tanh(W_f * x) . sigmoid(W_g * x) and residual connections on
                 the horizontal stack (van den Oord et al. 2016b, "Conditional
                 Image Generation with PixelCNN Decoders", section 2.2 and
                 figure 2). The vertical stack sees every pixel of the rows
                 above, the horizontal stack the pixels to the left, so the
                 receptive field has no blind spot.

The stacks use cropped kernels with one-sided padding instead of masked
square kernels (no multiplications by zero): a vertical k x k layer is a
(k//2 + 1) x k convolution padded k//2 rows on top (rows i - k//2 .. i), the
first one (k//2) x k with its output shifted one row down (rows
i - k//2 .. i - 1); a horizontal layer is a 1 x (k//2 + 1) convolution
padded k//2 columns on the left, masked (A or B) at the current pixel.

References:
  van den Oord, Kalchbrenner, Kavukcuoglu 2016a, "Pixel Recurrent Neural
  Networks" (ICML), sections 3.4-3.5.
  van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu 2016b,
  "Conditional Image Generation with PixelCNN Decoders" (NeurIPS), section 2.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks

MASK_TYPES = ("A", "B")


def _check_mask_type(mask_type: str) -> None:
  if mask_type not in MASK_TYPES:
    raise ValueError(f"mask_type must be one of {MASK_TYPES}; got '{mask_type}'.")


def colour_mask(in_features: int, out_features: int, num_colours: int,
                mask_type: str) -> np.ndarray:
  """The centre-tap connectivity between colour groups: float32 [in, out].

  mask[k_in, k_out] = 1 iff g(k_in) < g(k_out) (type A) or
  g(k_in) <= g(k_out) (type B), with g(k) = k mod num_colours.

  Raises:
    ValueError: an unknown mask type or num_colours < 1.
  """
  _check_mask_type(mask_type)
  if num_colours < 1:
    raise ValueError(f"num_colours must be >= 1; got {num_colours}.")
  g_in = np.arange(in_features)[:, None] % num_colours
  g_out = np.arange(out_features)[None, :] % num_colours
  allowed = g_in < g_out if mask_type == "A" else g_in <= g_out
  return allowed.astype(np.float32)


def causal_mask(kernel_size: Sequence[int], in_features: int, out_features: int,
                mask_type: str, num_colours: int = 1) -> np.ndarray:
  """The PixelCNN mask of a kh x kw kernel centred at (kh//2, kw//2).

  Taps in rows above the centre, and left of the centre in its row, are 1;
  the centre tap is `colour_mask`; taps right of or below it are 0.

  Returns:
    float32 [kh, kw, in_features, out_features] (flax's kernel layout).

  Raises:
    ValueError: even kernel sizes, an unknown mask type.
  """
  kh, kw = kernel_size
  if kh % 2 == 0 or kw % 2 == 0:
    raise ValueError(f"masked kernels need odd sizes; got {kernel_size}.")
  mask = np.zeros((kh, kw, in_features, out_features), np.float32)
  mask[:kh // 2] = 1.0
  mask[kh // 2, :kw // 2] = 1.0
  mask[kh // 2, kw // 2] = colour_mask(in_features, out_features, num_colours,
                                       mask_type)
  return mask


class MaskedConv2D(nn.Module):
  """A 'SAME' convolution whose kernel is multiplied by `causal_mask`.

  [B, H, W, C_in] -> [B, H, W, features]; output (i, j) of colour group g
  sees inputs at rows < i, at (i, j' < j), and colour groups < g (A) or
  <= g (B) at (i, j).
  """
  features: int
  kernel_size: Sequence[int] = (3, 3)
  mask_type: str = "B"
  num_colours: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H, W, features], the kernel masked causally."""
    _check_image("MaskedConv2D.__call__", x)
    # The mask in the input's dtype: a float32 mask would promote a bfloat16
    # kernel (mixed precision) back to float32.
    mask = causal_mask(self.kernel_size, x.shape[-1], self.features,
                       self.mask_type, self.num_colours)
    return nn.Conv(self.features, tuple(self.kernel_size), padding="SAME",
                   mask=jnp.asarray(mask, x.dtype), name="conv")(x)


def _check_stack_conv(module: nn.Module, x: jax.Array) -> None:
  """A vertical / horizontal stack convolution's kernel (odd, >= 3) and
  input (floating [B, H, W, C])."""
  name, k = type(module).__name__, module.kernel_size
  if k < 3 or k % 2 == 0:
    raise ValueError(f"{name} needs an odd kernel_size >= 3; got {k}.")
  _check_image(f"{name}.__call__", x)


class VerticalConv(nn.Module):
  """The vertical stack's convolution: all pixels of rows above.

  [B, H, W, C_in] -> [B, H, W, features]. Output (i, j) sees input rows
  i - k//2 .. i (rows i - k//2 .. i - 1 when `include_current_row` is
  False, the stack's first layer) and columns j - k//2 .. j + k//2.
  """
  features: int
  kernel_size: int = 3
  include_current_row: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C] -> [B, H, W, features] from the rows above (and the
    current row where `include_current_row`)."""
    _check_stack_conv(self, x)
    k = self.kernel_size
    rows = k // 2 + (1 if self.include_current_row else 0)
    y = nn.Conv(self.features, (rows, k),
                padding=((k // 2, 0), (k // 2, k // 2)), name="conv")(x)
    return y if self.include_current_row else y[:, :-1]


class HorizontalConv(nn.Module):
  """The horizontal stack's convolution: pixels to the left in the same row.

  [B, H, W, C_in] -> [B, H, W, features]. Output (i, j) sees input
  (i, j - k//2 .. j - 1) and, at (i, j), the colour groups allowed by
  `colour_mask(mask_type)`. Works on any number of rows (e.g. one row
  while sampling).
  """
  features: int
  kernel_size: int = 3
  mask_type: str = "B"
  num_colours: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C] -> [B, H, W, features] from the pixels to the left in the
    row (and the current pixel's earlier colours, mask 'B')."""
    _check_stack_conv(self, x)
    k = self.kernel_size
    width = k // 2 + 1
    mask = np.ones((1, width, x.shape[-1], self.features), np.float32)
    mask[0, -1] = colour_mask(x.shape[-1], self.features, self.num_colours,
                              self.mask_type)
    return nn.Conv(self.features, (1, width), padding=((0, 0), (k // 2, 0)),
                   mask=jnp.asarray(mask, x.dtype), name="conv")(x)


def gate(x: jax.Array) -> jax.Array:
  """tanh(a) * sigmoid(b) for x = [a, b] split on the last axis:
  [..., 2F] -> [..., F] (van den Oord et al. 2016b, eq. 2). Feature k of a
  and of b share colour group k mod C when F is a multiple of C.

  Raises:
    ValueError: x not floating, rank 0, or an odd last axis.
  """
  checks.check_arg("nn.gate", "x", x, "floating [..., 2F]")
  if x.shape[-1] % 2:
    raise ValueError(f"nn.gate: `x` must have an even last axis [..., 2F]; "
                     f"got shape {x.shape}.")
  a, b = jnp.split(x, 2, axis=-1)
  return jnp.tanh(a) * jax.nn.sigmoid(b)


def _check_image(fn: str, x: jax.Array, name: str = "x") -> None:
  checks.check_arg(fn, name, x, "floating [B, H, W, C]")


def _check_features(features: int, num_colours: int) -> None:
  if features % num_colours:
    raise ValueError(f"features ({features}) must be a multiple of "
                     f"num_colours ({num_colours}) so colour groups line up.")


class _PixelCNNBase(nn.Module):
  """The hyperparameters both PixelCNN networks share.

  Attributes:
    features: F, the channels of the residual stream (a multiple of
      num_colours).
    num_layers: masked layers after the input (plain) / gated layers.
    out_features: P, the outputs per pixel (output k belongs to colour
      k mod num_colours).
    num_colours: C of the colour masks (1: no colour ordering).
    kernel_size: the kernels of the later layers (odd, >= 3).
    first_kernel_size: the first layer's kernel (odd, >= 3).
    head_features: the head's hidden 1x1 width (0 = features).
  """
  features: int = 64
  num_layers: int = 5
  out_features: int = 256
  num_colours: int = 1
  kernel_size: int = 3
  first_kernel_size: int = 7
  head_features: int = 0    # 0 = features


class PixelCNN(_PixelCNNBase):
  """The original PixelCNN (van den Oord et al. 2016a, section 3.5).

  x [B, H, W, C] -> [B, H, W, out_features]: a first_kernel_size^2 mask-A
  convolution to `features`, `num_layers` residual layers
  h <- h + MaskedConv_B(relu(h)) with kernel_size^2 kernels, then
  relu -> 1x1 mask B (head_features) -> relu -> 1x1 mask B (out_features).
  Output feature k belongs to colour k mod num_colours. Has the blind spot.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Images [B, H, W, C] (scaled) -> [B, H, W, out_features]; feature k
    belongs to colour k mod num_colours."""
    _check_image("PixelCNN.__call__", x)
    _check_features(self.features, self.num_colours)
    c, k, k0 = self.num_colours, self.kernel_size, self.first_kernel_size
    h = MaskedConv2D(self.features, (k0, k0), "A", c, name="input_conv")(x)
    for l in range(self.num_layers):
      h = h + MaskedConv2D(self.features, (k, k), "B", c, name=f"layer_{l}")(
          nn.relu(h))
    hf = self.head_features or self.features
    h = MaskedConv2D(hf, (1, 1), "B", c, name="head_0")(nn.relu(h))
    return MaskedConv2D(self.out_features, (1, 1), "B", c, name="head_1")(
        nn.relu(h))


class GatedPixelCNN(_PixelCNNBase):
  """Gated PixelCNN with vertical and horizontal stacks (2016b, figure 2).

  Layer l (0-based; kernel first_kernel_size for l = 0, else kernel_size):
    v_pre = VerticalConv(2F)(v)          rows < i (l = 0) or <= i of v
    link  = Conv1x1(2F)(v_pre)           vertical -> horizontal
    h_pre = HorizontalConv(2F, A if l = 0 else B)(h) + link
    v     = gate(v_pre)
    out   = MaskedConv1x1_B(F)(gate(h_pre))
    h     = out (l = 0) or h + out (residual)
  with v = h = x at the input; then the head relu -> 1x1 B -> relu -> 1x1 B.
  Since v at row i depends only on rows < i of x, the link needs no mask
  and the horizontal output at (i, j) sees every earlier pixel within reach
  (no blind spot).

  `vertical_stack` and `horizontal_stack` split the network so a sampler
  can compute the vertical stack once per row and run only the horizontal
  stack (on that row) per pixel.
  """

  def setup(self):
    """The vertical and horizontal stacks' convolutions and their links."""
    _check_features(self.features, self.num_colours)
    f, c = self.features, self.num_colours
    sizes = [self.first_kernel_size] + [self.kernel_size] * (self.num_layers - 1)
    self.v_convs = [VerticalConv(2 * f, k, include_current_row=l > 0)
                    for l, k in enumerate(sizes)]
    self.links = [nn.Conv(2 * f, (1, 1)) for _ in sizes]
    self.h_convs = [HorizontalConv(2 * f, k, "A" if l == 0 else "B", c)
                    for l, k in enumerate(sizes)]
    self.h_outs = [MaskedConv2D(f, (1, 1), "B", c) for _ in sizes]
    self.head_0 = MaskedConv2D(self.head_features or f, (1, 1), "B", c)
    self.head_1 = MaskedConv2D(self.out_features, (1, 1), "B", c)

  def vertical_stack(self, x: jax.Array) -> jax.Array:
    """x [B, H, W, C] -> the links into the horizontal stack [L, B, H, W, 2F];
    row i of every link depends only on rows < i of x."""
    _check_image("GatedPixelCNN.vertical_stack", x)
    return jnp.stack(self._links(x))

  def _links(self, x: jax.Array) -> list[jax.Array]:
    v, links = x, []
    for v_conv, link in zip(self.v_convs, self.links):
      v_pre = v_conv(v)
      links.append(link(v_pre))
      v = gate(v_pre)
    return links

  def horizontal_stack(self, x: jax.Array, links: jax.Array) -> jax.Array:
    """x [B, R, W, C] and links [L, B, R, W, 2F] of the same R rows
    -> outputs [B, R, W, out_features]."""
    fn = "GatedPixelCNN.horizontal_stack"
    _check_image(fn, x)
    checks.check_arg(fn, "links", links, "floating [L, B, R, W, 2F]")
    if (links.shape[0] != self.num_layers or links.shape[1:4] != x.shape[:3]
        or links.shape[4] != 2 * self.features):
      raise ValueError(f"{fn}: `links` must be [L, B, R, W, 2F] = "
                       f"[{self.num_layers}, {', '.join(map(str, x.shape[:3]))}"
                       f", {2 * self.features}] for x {x.shape}; got shape "
                       f"{links.shape}.")
    return self._horizontal(x, list(links))

  def _horizontal(self, x: jax.Array, links: Sequence[jax.Array]) -> jax.Array:
    h = x
    for l, (h_conv, h_out) in enumerate(zip(self.h_convs, self.h_outs)):
      out = h_out(gate(h_conv(h) + links[l]))
      h = out if l == 0 else h + out
    return self.head_1(nn.relu(self.head_0(nn.relu(h))))

  def __call__(self, x: jax.Array) -> jax.Array:
    """x [B, H, W, C] -> [B, H, W, out_features]."""
    _check_image("GatedPixelCNN.__call__", x)
    # The same as horizontal_stack(x, vertical_stack(x)) without stacking
    # the links into one [L, ...] array (a copy, and another in backward).
    return self._horizontal(x, self._links(x))

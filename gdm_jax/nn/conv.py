"""Strided convolutions as one GEMM on explicit patches (im2col).

XLA:CPU computes the kernel gradient of a strided convolution (and, in a
gradient penalty, its double backward) on a slow generic path: in the DCGAN
and WGAN-GP critics' 4x4 stride-2 convolutions it took 70-94% of the train
step (benchmarks/README.md). Written as patches @ kernel, the same map needs
one GEMM forward and two backward, which XLA runs at matmul speed: the DCGAN
step ran 4.3x and the WGAN-GP step 7.6-9.9x faster on the 2-core CPU.

`strided_conv_general_dilated` is a drop-in for `lax.conv_general_dilated`
(pass it to `flax.linen.Conv(conv_general_dilated=...)`): it computes
exactly the same function, with the same parameters, by the GEMM route for
plain NHWC/HWIO strided convolutions (no dilation, no groups) and by XLA's
convolution otherwise (stride 1 is fast there).

References:
  Chellapilla, Puri and Simard 2006, "High Performance Convolutional Neural
    Networks for Document Processing" (unrolling convolutions into GEMMs).
"""

import jax
import jax.numpy as jnp
from jax import lax

from gdm_jax import checks

NHWC = ("NHWC", "HWIO", "NHWC")


def im2col_conv(x: jax.Array, w: jax.Array, strides, padding) -> jax.Array:
  """`lax.conv_general_dilated(x, w, strides, padding, NHWC/HWIO)` as
  patches [B·H'·W', kh·kw·C] @ w.reshape(kh·kw·C, O).

  Args:
    x: float [B, H, W, C] input.
    w: float [kh, kw, C, O] kernel.
    strides: (sh, sw), positive ints.
    padding: 'SAME', 'VALID' or explicit ((top, bottom), (left, right)).

  Returns:
    [B, H', W', O], the dtype of x @ w; H' = (H + top + bottom - kh) // sh
    + 1, W' likewise.

  Raises:
    ValueError: x or w not floating of rank 4, or x's C not w's C.
  """
  fn = "nn.im2col_conv"
  checks.check_arg(fn, "x", x, "floating [B, H, W, C]")
  checks.check_arg(fn, "w", w, "floating [kh, kw, C, O]")
  if x.shape[-1] != w.shape[2]:
    raise ValueError(f"{fn}: `x` {x.shape} has {x.shape[-1]} channels but "
                     f"`w` {w.shape} expects {w.shape[2]}.")
  kh, kw, c, o = w.shape
  b, h, wd, _ = x.shape
  sh, sw = strides
  if isinstance(padding, str):
    pads = lax.padtype_to_pads((h, wd), (kh, kw), strides, padding)
  else:
    pads = [tuple(p) for p in padding]
  (pt, pb), (pl, pr) = pads
  xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
  h_out = (h + pt + pb - kh) // sh + 1
  w_out = (wd + pl + pr - kw) // sw + 1
  cols = [xp[:, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw]
          for p in range(kh) for q in range(kw)]
  patches = jnp.concatenate(cols, axis=-1)            # [B, H', W', kh·kw·C]
  y = patches.reshape(-1, kh * kw * c) @ w.reshape(kh * kw * c, o)
  return y.reshape(b, h_out, w_out, o)


def _plain_nhwc(dimension_numbers, lhs_dilation, rhs_dilation,
                feature_group_count, batch_group_count) -> bool:
  if dimension_numbers is None:
    return False
  dn = dimension_numbers
  if isinstance(dn, lax.ConvDimensionNumbers):
    plain = dn == lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), NHWC)
  else:
    plain = tuple(dn) == NHWC
  no_dilation = (all(d == 1 for d in (lhs_dilation or (1, 1)))
                 and all(d == 1 for d in (rhs_dilation or (1, 1))))
  return plain and no_dilation and feature_group_count == 1 and batch_group_count == 1


def strided_conv_general_dilated(lhs, rhs, window_strides, padding,
                                 lhs_dilation=None, rhs_dilation=None,
                                 dimension_numbers=None, feature_group_count=1,
                                 batch_group_count=1, precision=None,
                                 preferred_element_type=None):
  """`lax.conv_general_dilated` with strided 2-D NHWC convolutions by im2col.

  Same signature, result, shapes, dtypes and errors as
  `lax.conv_general_dilated` (up to float rounding, first and second
  derivatives included); only the strided plain NHWC/HWIO case takes the
  im2col route (`im2col_conv`, whose ValueError for a channel mismatch
  names `nn.im2col_conv`).
  """
  if (lhs.ndim == 4 and max(window_strides) > 1
      and _plain_nhwc(dimension_numbers, lhs_dilation, rhs_dilation,
                      feature_group_count, batch_group_count)):
    return im2col_conv(lhs, rhs, tuple(window_strides), padding)
  return lax.conv_general_dilated(
      lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
      rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
      feature_group_count=feature_group_count,
      batch_group_count=batch_group_count, precision=precision,
      preferred_element_type=preferred_element_type)

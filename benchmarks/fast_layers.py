"""Candidate faster formulations of XLA:CPU's slow convolutions (same maps).

Each function computes exactly `lax.conv_general_dilated` for the NHWC/HWIO
layouts flax uses, by another route, so a model could pass it to flax's
`nn.Conv(..., conv_general_dilated=...)` without changing its parameters:

  space_to_depth_conv   a stride-s convolution with kernel k (k divisible by
      s) as a stride-1 convolution with kernel k/s on the space-to-depth
      rearrangement of the padded input (s·s·C channels):
        y[b, i, j, o] = Σ_{p,q<k} x_pad[b, s i + p, s j + q, c] w[p, q, c, o]
                      = Σ_{p',q'<k/s} Σ_{u,v<s} X[b, i + p', j + q', (u, v, c)]
                                                W[p', q', (u, v, c), o]
      with X = space_to_depth(x_pad, s) and W[p', q', (u, v, c), o] =
      w[s p' + u, s q' + v, c, o]. Its weight gradient is a stride-1
      convolution, not a strided one.
  shifted_matmul_conv   Σ over the k·k taps of (shifted input) @ w[p, q].
  gemm_wgrad_conv       XLA's convolution forward and input gradient, the
      kernel gradient as one GEMM on explicit patches (custom_vjp).
  im2col_conv           patches [B·H'·W', k·k·C] (k·k shifted slices of the
      padded input, concatenated on channels) @ w.reshape(k·k·C, O): one
      GEMM forward, two GEMMs backward (weight gradient patchesᵀ g, input
      gradient g wᵀ summed back over the shifts).
  conv_general_dilated  a drop-in for lax.conv_general_dilated that uses the
      formulations above where `plan` says so and XLA's convolution
      otherwise.

`patched_flax_conv(fn)` swaps the convolution every flax `nn.Conv` calls
(while tracing), so a model's whole train step can be timed with a
formulation without touching the model's code: benchmarks/profile_step.py.

References:
  Chellapilla, Puri and Simard 2006, "High Performance Convolutional Neural
    Networks for Document Processing" (unrolling convolutions into GEMMs).
  Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using
    an Efficient Sub-Pixel Convolutional Neural Network" (space-to-depth /
    depth-to-space rearrangements of strided convolutions).
"""

import contextlib
import functools
from typing import Callable

import jax
from jax import lax
import jax.numpy as jnp

from gdm_jax.nn.conv import NHWC  # pylint: disable=unused-import
from gdm_jax.nn.conv import _plain_nhwc  # pylint: disable=protected-access
from gdm_jax.nn.conv import im2col_conv  # pylint: disable=unused-import


def _explicit_padding(padding, in_hw, k_hw, strides):
  if isinstance(padding, str):
    return lax.padtype_to_pads(in_hw, k_hw, strides, padding)
  return [tuple(p) for p in padding]


# The plain-layout check and the im2col route live in the library (the
# strided GAN convolutions use them); the other formulations stay here.
_is_plain_nhwc = _plain_nhwc


def space_to_depth(x: jax.Array, s: int) -> jax.Array:
  """[B, H, W, C] -> [B, H/s, W/s, s·s·C], channel (u·s + v)·C + c."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // s, w // s, s * s * c)


def space_to_depth_conv(x: jax.Array, w: jax.Array, strides, padding
                        ) -> jax.Array:
  """lax.conv_general_dilated(x, w, strides, padding, NHWC/HWIO) for equal
  strides s dividing the kernel size: x [B, H, W, C], w [k, k, C, O] ->
  [B, H', W', O].

  Raises:
    ValueError: unequal strides, or a kernel size not divisible by s.
  """
  s = strides[0]
  kh, kw, c, o = w.shape
  if strides[1] != s or kh % s or kw % s:
    raise ValueError(f"space_to_depth_conv: strides {strides} and kernel "
                     f"{(kh, kw)} do not fit")
  b, h, wd, _ = x.shape
  (pt, pb), (pl, pr) = _explicit_padding(padding, (h, wd), (kh, kw), strides)
  h_out = (h + pt + pb - kh) // s + 1
  w_out = (wd + pl + pr - kw) // s + 1
  # Pad to exactly s * (out + k/s - 1) rows/cols (crops rows the strided
  # convolution never reads).
  hp, wp = s * (h_out + kh // s - 1), s * (w_out + kw // s - 1)
  xp = jnp.pad(x, ((0, 0), (pt, max(hp - h - pt, 0)),
                   (pl, max(wp - wd - pl, 0)), (0, 0)))[:, :hp, :wp]
  xs = space_to_depth(xp, s)
  ws = w.reshape(kh // s, s, kw // s, s, c, o).transpose(0, 2, 1, 3, 4, 5)
  ws = ws.reshape(kh // s, kw // s, s * s * c, o)
  return lax.conv_general_dilated(xs, ws, (1, 1), "VALID",
                                  dimension_numbers=NHWC)


def shifted_matmul_conv(x: jax.Array, w: jax.Array, strides, padding
                        ) -> jax.Array:
  """lax.conv_general_dilated(x, w, strides, padding, NHWC/HWIO) as a sum of
  kh·kw matmuls of shifted (strided) slices of the padded input:
  y = Σ_{p,q} x_pad[:, p::s, q::s] @ w[p, q] (no patch matrix in memory)."""
  kh, kw, c, o = w.shape
  b, h, wd, _ = x.shape
  sh, sw = strides
  (pt, pb), (pl, pr) = _explicit_padding(padding, (h, wd), (kh, kw), strides)
  xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
  h_out = (h + pt + pb - kh) // sh + 1
  w_out = (wd + pl + pr - kw) // sw + 1
  y = None
  for p in range(kh):
    for q in range(kw):
      xs = xp[:, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw]
      t = jnp.einsum("bhwc,co->bhwo", xs, w[p, q])
      y = t if y is None else y + t
  return y


def _patches(xp: jax.Array, kh: int, kw: int, sh: int, sw: int,
             h_out: int, w_out: int) -> jax.Array:
  """[B, Hp, Wp, C] padded input -> [B·H'·W', kh·kw·C] patch rows."""
  cols = [xp[:, p:p + sh * (h_out - 1) + 1:sh, q:q + sw * (w_out - 1) + 1:sw]
          for p in range(kh) for q in range(kw)]
  patches = jnp.concatenate(cols, axis=-1)
  return patches.reshape(-1, patches.shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _gemm_wgrad_conv(x, w, strides, pads):
  return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=NHWC)


def _gemm_wgrad_fwd(x, w, strides, pads):
  return _gemm_wgrad_conv(x, w, strides, pads), (x, w)


def _gemm_wgrad_bwd(strides, pads, res, g):
  x, w = res
  kh, kw, c, o = w.shape
  conv_x = lambda a: lax.conv_general_dilated(a, w, strides, pads,
                                              dimension_numbers=NHWC)
  dx = jax.vjp(conv_x, x)[1](g)[0]                   # XLA's input gradient
  xp = jnp.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))
  _, h_out, w_out, _ = g.shape
  patches = _patches(xp, kh, kw, strides[0], strides[1], h_out, w_out)
  dw = patches.T @ g.reshape(-1, o)                  # one GEMM
  return dx, dw.reshape(kh, kw, c, o)


_gemm_wgrad_conv.defvjp(_gemm_wgrad_fwd, _gemm_wgrad_bwd)


def gemm_wgrad_conv(x: jax.Array, w: jax.Array, strides, padding
                    ) -> jax.Array:
  """XLA's convolution forward and input gradient, and the kernel gradient
  as one GEMM, dw = patches(x)ᵀ g ([kh·kw·C, B·H'·W'] @ [B·H'·W', O]),
  instead of XLA:CPU's kernel-gradient convolution (a convolution with the
  output's spatial size as its window and the batch as its contraction,
  which runs on the slow Eigen path). Differentiable twice (the backward
  rule is plain jax), as a gradient penalty needs."""
  kh, kw = w.shape[:2]
  pads = tuple(tuple(p) for p in _explicit_padding(
      padding, x.shape[1:3], (kh, kw), strides))
  return _gemm_wgrad_conv(x, w, tuple(strides), pads)


FORMULATIONS = {"s2d": space_to_depth_conv, "im2col": im2col_conv,
                "shift": shifted_matmul_conv, "gemm_wgrad": gemm_wgrad_conv}


def make_conv_general_dilated(plan: Callable) -> Callable:
  """A drop-in for lax.conv_general_dilated that asks `plan(x_shape,
  w_shape, strides)` for 'xla' or a key of FORMULATIONS on plain NHWC/HWIO
  convolutions (no dilation, no groups) and uses XLA's otherwise."""

  def conv_general_dilated(lhs, rhs, window_strides, padding,
                           lhs_dilation=None, rhs_dilation=None,
                           dimension_numbers=None, feature_group_count=1,
                           batch_group_count=1, precision=None,
                           preferred_element_type=None):
    if (lhs.ndim == 4 and _is_plain_nhwc(dimension_numbers, lhs_dilation,
                                         rhs_dilation, feature_group_count,
                                         batch_group_count)):
      how = plan(tuple(lhs.shape), tuple(rhs.shape), tuple(window_strides))
      if how in FORMULATIONS:
        return FORMULATIONS[how](lhs, rhs, tuple(window_strides), padding)
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count, precision=precision,
        preferred_element_type=preferred_element_type)

  return conv_general_dilated


def strided_to_s2d(x_shape, w_shape, strides):
  """Plan: space-to-depth for strided convs whose kernel the stride
  divides, XLA's convolution otherwise."""
  s = strides[0]
  ok = s > 1 and strides[1] == s and w_shape[0] % s == 0 and w_shape[1] % s == 0
  return "s2d" if ok else "xla"


def small_to_im2col(max_channels: int = 16):
  """Plan: im2col where C_in or C_out <= `max_channels` (XLA's kernels are
  least efficient on thin convolutions), space-to-depth for strided ones."""
  def plan(x_shape, w_shape, strides):
    if strided_to_s2d(x_shape, w_shape, strides) == "s2d":
      return "s2d"
    return "im2col" if min(w_shape[2], w_shape[3]) <= max_channels else "xla"
  return plan


def all_im2col(x_shape, w_shape, strides):
  del x_shape, w_shape, strides
  return "im2col"


def table_plan(choices: dict) -> Callable:
  """Plan from measurements: {(x_shape, w_shape, strides): formulation}."""
  def plan(x_shape, w_shape, strides):
    return choices.get((tuple(x_shape), tuple(w_shape), tuple(strides)),
                       "xla")
  return plan


def all_gemm_wgrad(x_shape, w_shape, strides):
  del x_shape, w_shape, strides
  return "gemm_wgrad"


def strided_only(formulation: str) -> Callable:
  """Plan: `formulation` for strided convolutions, XLA's for the others."""
  def plan(x_shape, w_shape, strides):
    del x_shape, w_shape
    return formulation if max(strides) > 1 else "xla"
  return plan


PLANS = {"s2d": strided_to_s2d, "thin_im2col": small_to_im2col(16),
         "im2col": all_im2col, "gemm_wgrad": all_gemm_wgrad,
         "strided_gemm_wgrad": strided_only("gemm_wgrad"),
         "strided_im2col": strided_only("im2col")}


class _LaxWithConv:
  """jax.lax with conv_general_dilated replaced (for flax.linen.linear)."""

  def __init__(self, conv):
    self._conv = conv

  def __getattr__(self, name):
    if name == "conv_general_dilated":
      return self._conv
    return getattr(lax, name)


@contextlib.contextmanager
def patched_flax_conv(conv: Callable):
  """Within the block, every flax.linen Conv (that has no
  conv_general_dilated of its own) calls `conv` instead of
  lax.conv_general_dilated. Trace (jit/lower) inside the block."""
  import flax.linen.linear as linear
  saved = linear.lax
  linear.lax = _LaxWithConv(conv)
  try:
    yield
  finally:
    linear.lax = saved

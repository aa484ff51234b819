"""Squeeze (space-to-depth), channel factor-out and the multiscale architecture.

Squeeze trades space for channels: [B, H, W, C] -> [B, H/2, W/2, 4C], each
2x2 block of pixels becoming 4·C channels (a permutation: log_det = 0). The
channel order matches `gdm_jax.nn.depth_to_space`, which is its inverse.

The multiscale architecture (RealNVP sec. 3.6, Glow sec. 3 / fig. 2) runs
level k's bijector, then factors out half of the channels: those go straight
to the base distribution as the latent z_k and only the rest continues to
level k + 1. The map x -> (z_0, ..., z_{L-1}) is a bijection and its log-det
is the sum of the levels' log-dets (factor-out itself is a coordinate split,
log_det = 0).

Odd spatial sizes (28 -> 14 -> 7 for 28x28 images). Chosen approach: squeeze
only while even. `squeeze_schedule(28, 28, 3)` = (True, True, False) says
which Glow levels begin with a `Squeeze`; used on [B, 28, 28, 1] it gives
  level 0: 28x28x1 -> squeeze 14x14x4 -> steps -> factor out 14x14x2 (z_0)
  level 1: 14x14x2 -> squeeze 7x7x8   -> steps -> factor out 7x7x4   (z_1)
  level 2: 7x7x4   -> (7 is odd, no squeeze) -> steps -> 7x7x4       (z_2)
for 392 + 196 + 196 = 784 latent dimensions. Checkerboard masks work at any
size (also odd), channel masks need >= 2 channels. `squeeze` raises on odd
sizes. The decision is static (made when the model is built), not taken
from the input's shape at call time: the inverse of a shape-dependent
"squeeze if even" would be ambiguous (a 3x3x4 output could come from a
squeezed 6x6x1 or an unsqueezed 3x3x4 input). Padding to an even size was
rejected: the padded coordinates are constants, so the flow would no longer
be a bijection of R^784 and its density would live on a degenerate
submanifold of the padded space (bits/dim ill-defined).

References:
  Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP",
    sec. 3.6 (squeeze, factoring out).
  Kingma and Dhariwal 2018, "Glow", sec. 3 and fig. 2 (multiscale levels).
"""

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import check_flow_input
from gdm_jax.flows.base import zero_log_det


def squeeze(x: jax.Array, factor: int = 2) -> jax.Array:
  """Space-to-depth: [B, H, W, C] -> [B, H/f, W/f, f*f*C].

    y[b, i, j, (p, q, c)] = x[b, f*i + p, f*j + q, c],  channel index
    (p*f + q)*C + c (TF's space_to_depth order).

  Raises:
    ValueError: if x is not 4-D or H, W are not divisible by `factor`.
  """
  if x.ndim != 4:
    raise ValueError(f"squeeze: expects [B, H, W, C], got shape {x.shape}.")
  b, h, w, c = x.shape
  f = factor
  if h % f or w % f:
    raise ValueError(f"squeeze: spatial size {h}x{w} is not divisible by {f}; "
                     "see squeeze_schedule.")
  x = x.reshape(b, h // f, f, w // f, f, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // f, w // f, f * f * c)


def unsqueeze(y: jax.Array, factor: int = 2) -> jax.Array:
  """Depth-to-space, inverse of `squeeze`: [B, H, W, f²C] -> [B, fH, fW, C].

  Raises:
    ValueError: if y is not 4-D or its channels are not divisible by f*f.
  """
  if y.ndim != 4:
    raise ValueError(f"unsqueeze: expects [B, H, W, C], got shape {y.shape}.")
  b, h, w, c = y.shape
  f = factor
  if c % (f * f):
    raise ValueError(f"unsqueeze: channels {c} not divisible by {f * f}.")
  y = y.reshape(b, h, w, f, f, c // (f * f)).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(b, h * f, w * f, c // (f * f))


class Squeeze(Bijector):
  """`squeeze` as a bijector: [B, H, W, C] -> [B, H/f, W/f, f²C], log_det = 0.

  Attributes:
    factor: block size f.

  Raises:
    ValueError: (at call) non-4-D input; H or W not divisible by f; in
      inverse, channels not divisible by f².

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 3.6.
  """
  factor: int = 2

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`squeeze`: [B, H, W, C] -> ([B, H/f, W/f, f²C], zeros [B])."""
    return squeeze(x, self.factor), zero_log_det(x)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`unsqueeze`: [B, H, W, f²C] -> ([B, fH, fW, C], zeros [B])."""
    return unsqueeze(y, self.factor), zero_log_det(y)


def squeeze_schedule(height: int, width: int, num_levels: int,
                     factor: int = 2) -> tuple[bool, ...]:
  """Which of `num_levels` Glow levels begin with a squeeze (while even).

  Level k squeezes iff the size reaching it is divisible by `factor`; after
  the first odd size no level squeezes. E.g. (28, 28, 3) -> (True, True,
  False) and (32, 32, 3) -> (True, True, True).

  Raises:
    ValueError: if num_levels < 1.
  """
  if num_levels < 1:
    raise ValueError(f"squeeze_schedule: num_levels must be >= 1, got "
                     f"{num_levels}.")
  out = []
  for _ in range(num_levels):
    ok = height % factor == 0 and width % factor == 0
    out.append(ok)
    if ok:
      height, width = height // factor, width // factor
  return tuple(out)


def split_channels(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Factor-out: [..., C] -> (kept [..., C - C//2], factored [..., C//2]).

  Raises:
    ValueError: if C < 2 (nothing to factor out).
  """
  c = x.shape[-1]
  if c < 2:
    raise ValueError(f"split_channels: needs at least 2 channels, got {c}; "
                     "squeeze first or make this the last level.")
  k = c - c // 2
  return x[..., :k], x[..., k:]


def merge_channels(kept: jax.Array, factored: jax.Array) -> jax.Array:
  """Inverse of `split_channels`: concatenates on the last axis.

  Raises:
    ValueError: the two parts differ in dtype or in any axis but the last.
  """
  fn = "flows.merge_channels"
  checks.check_array(fn, "kept", kept, min_rank=1, dtype=None)
  checks.check_array(fn, "factored", factored, min_rank=1, dtype=None)
  checks.check_same_shape(fn, [("kept", kept), ("factored", factored)],
                          slice(0, -1), "shape on all axes but the last")
  if kept.dtype != factored.dtype:
    raise ValueError(f"{fn}: `kept` and `factored` must have one dtype; got "
                     f"{kept.dtype} and {factored.dtype}.")
  return jnp.concatenate([kept, factored], axis=-1)


def flatten_latents(latents: Sequence[jax.Array]) -> jax.Array:
  """(z_0 [B, ...], ..., z_{L-1} [B, ...]) -> [B, D], concatenated in order.

  Raises:
    ValueError: no latents, or latents with different batch sizes.
  """
  if not latents:
    raise ValueError("flows.flatten_latents: `latents` must hold at least "
                     "one array; got none.")
  checks.check_same_batch("flows.flatten_latents",
                          [(f"latents[{i}]", z) for i, z in enumerate(latents)])
  return jnp.concatenate([z.reshape(z.shape[0], -1) for z in latents], axis=-1)


def unflatten_latents(z: jax.Array,
                      shapes: Sequence[Sequence[int]]) -> tuple[jax.Array, ...]:
  """Inverse of `flatten_latents`: [B, D] -> latents of per-example `shapes`.

  Raises:
    ValueError: z is not [B, D], or the shapes' sizes do not add up to D.
  """
  checks.check_arg("flows.unflatten_latents", "z", z, "any [B, D]")
  sizes = [math.prod(s) for s in shapes]
  if sum(sizes) != z.shape[-1]:
    raise ValueError(f"unflatten_latents: shapes {shapes} hold {sum(sizes)} "
                     f"values, z has {z.shape[-1]}.")
  out, start = [], 0
  for s, n in zip(shapes, sizes):
    out.append(z[:, start:start + n].reshape((z.shape[0],) + tuple(s)))
    start += n
  return tuple(out)


class MultiscaleFlow(Bijector):
  """Multiscale flow x -> (z_0, ..., z_{L-1}) with factor-out after each level.

    h_0 = x;  for k < L-1:  (h_{k+1}, z_k) = split_channels(f_k(h_k))
              z_{L-1} = f_{L-1}(h_{L-1})
    log_det = Σ_k log|det ∂f_k/∂h_k|

  so log p(x) = Σ_k log N(z_k; 0, I) + log_det (or a learned prior on the
  z_k). `forward` returns the latents as a tuple; `flatten_latents` makes a
  [B, D] vector of them. To sample, get the latent shapes once with
  `jax.eval_shape(lambda x: flow.apply(variables, x)[0], example_batch)`,
  draw each z_k, and call `inverse`.

  Each level is any bijector, typically a Chain; put a `Squeeze` first in it
  for Glow (squeeze, K steps, split) or between its checkerboard and channel
  couplings for RealNVP; `squeeze_schedule` says where a squeeze fits (see
  the module docstring for odd sizes).

  Shapes: x [B, H, W, C]; latents as produced by the levels; log_det [B].

  Attributes:
    levels: the L level bijectors f_0 ... f_{L-1}.

  Raises:
    ValueError: (at call) a non-final level outputs fewer than 2 channels,
      no levels, or (inverse) a latent tuple whose length is not L.

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 3.6.
    Kingma and Dhariwal 2018, "Glow", fig. 2.
  """
  levels: Sequence[nn.Module] = ()

  def forward(self, x: jax.Array) -> tuple[tuple[jax.Array, ...], jax.Array]:
    """x [B, H, W, C] -> ((z_0, ..., z_{L-1}), log_det [B]) (class
    docstring)."""
    if not self.levels:
      raise ValueError("MultiscaleFlow: needs at least one level.")
    check_flow_input(self, "forward", "x", x, min_rank=2)
    log_det = zero_log_det(x)
    latents = []
    h = x
    for k, level in enumerate(self.levels):
      h, ld = level.forward(h)
      log_det = log_det + ld
      if k < len(self.levels) - 1:
        h, z = split_channels(h)
        latents.append(z)
    latents.append(h)
    return tuple(latents), log_det

  def inverse(self, latents: Sequence[jax.Array]
              ) -> tuple[jax.Array, jax.Array]:
    """(z_0, ..., z_{L-1}) -> (x, log_det [B]), the levels inverted from
    the last; each z_k as `forward` produced it."""
    if len(latents) != len(self.levels):
      raise ValueError(f"MultiscaleFlow.inverse: expects {len(self.levels)} "
                       f"latents, got {len(latents)}.")
    for i, z in enumerate(latents):
      check_flow_input(self, "inverse", f"latents[{i}]", z, min_rank=2)
    checks.check_same_batch("MultiscaleFlow.inverse",
                            [(f"latents[{i}]", z)
                             for i, z in enumerate(latents)])
    h = latents[-1]
    log_det = zero_log_det(h)
    for k in reversed(range(len(self.levels))):
      if k < len(self.levels) - 1:
        h = merge_channels(h, latents[k])
      h, ld = self.levels[k].inverse(h)
      log_det = log_det + ld
    return h, log_det

"""Preprocessing of uint8 images inside the jitted step, keyed by JAX PRNG keys.

Modes (config `data.binarization`, `data.dequantization`, `data.value_range`):
  dynamic binarisation   x ~ Bernoulli(pixel / 255), a fresh draw every step
                          (Salakhutdinov and Murray 2008);
  static binarisation    x = [pixel / 255 > 0.5] (the UvA practical);
  uniform dequantisation  x = (pixel + u) / 256, u ~ U[0, 1)^D (Theis et al.
                          2016), so a continuous density on [0, 1)^D is a lower
                          bound on the 8-bit discrete likelihood;
  scaling                 to [0, 1] or [-1, 1].

Bits/dim of a continuous model on dequantised data counts the Jacobian of the
map from the 8-bit grid [0, 256)^D to model space: if x = a * y + b with y the
dequantised pixel value in [0, 256), then
  -log P(y) = -log p(x) - D log a,
and `Preprocessing.nats_offset_per_dim` = -log a (log 256 for [0, 1],
log 128 for [-1, 1]). For binary data the offset is 0. Without
dequantisation the scaling is pixel / 255 and the offset log 255 (or log
127.5), but a continuous density on undequantised data is no bound on the
discrete likelihood: report bits/dim only with dequantisation.

Every function takes 8-bit pixel values 0..255 [B, H, W, C] (any rank >= 2,
[B, ...], is accepted), uint8 or another integer or float dtype (PixelCNN's
sampler feeds float canvases); bool or complex arrays and rank < 2 raise
ValueError at trace time. Values cannot be checked inside jit: float data
already in [0, 1] are not detected.
"""

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gdm_jax import checks

BINARIZATIONS = ("dynamic", "static", "none")
DEQUANTIZATIONS = ("none", "uniform")
VALUE_RANGES = ("0_1", "-1_1")


IMAGE = "numeric [B, ..., C] of pixel values 0..255"     # any rank >= 2


@checks.inputs(image=IMAGE)
def binarize_dynamic(rng: jax.Array, image: jax.Array) -> jax.Array:
  """uint8 [B, H, W, C] -> float32 {0, 1}, x ~ Bernoulli(pixel / 255).

  Dynamic binarisation: a fresh draw from `rng` on every call (Salakhutdinov
  and Murray 2008, sec. 5).

  Args:
    rng: a PRNG key.
    image: numeric [B, H, W, C] (any rank >= 2) of pixel values 0..255.

  Returns:
    float32 of image's shape, values in {0, 1}.

  Raises:
    ValueError: image is not a numeric array of rank >= 2.

  References:
    Salakhutdinov and Murray 2008, "On the Quantitative Analysis of Deep
    Belief Networks" (ICML), sec. 5.
  """
  p = image.astype(jnp.float32) / 255.0
  return jax.random.bernoulli(rng, p).astype(jnp.float32)


@checks.inputs(image=IMAGE)
def binarize_static(image: jax.Array) -> jax.Array:
  """uint8 [B, H, W, C] -> float32 {0, 1}, x = [pixel / 255 > 0.5].

  Args:
    image: numeric [B, H, W, C] (any rank >= 2) of pixel values 0..255.

  Returns:
    float32 of image's shape, values in {0, 1}.

  Raises:
    ValueError: image is not a numeric array of rank >= 2.
  """
  return (image.astype(jnp.float32) / 255.0 > 0.5).astype(jnp.float32)


@checks.inputs(image=IMAGE)
def dequantize_uniform(rng: jax.Array, image: jax.Array) -> jax.Array:
  """uint8 [B, H, W, C] -> float32 in [0, 1): (pixel + u) / 256.

  u ~ U[0, 1)^D drawn from `rng` (Theis et al. 2016, sec. 3.1), so a
  density on [0, 1)^D bounds the 8-bit likelihood (see the module
  docstring).

  Args:
    rng: a PRNG key.
    image: numeric [B, H, W, C] (any rank >= 2) of pixel values 0..255.

  Returns:
    float32 of image's shape, in [0, 1); each value stays in its pixel's
    bin [pixel / 256, (pixel + 1) / 256).

  Raises:
    ValueError: image is not a numeric array of rank >= 2.

  References:
    Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models" (ICLR), sec. 3.1.
  """
  y = image.astype(jnp.float32)
  u = jax.random.uniform(rng, image.shape, jnp.float32)
  # In float32, pixel + u rounds up to pixel + 1 for u within half an ulp of
  # 1; clamp to the largest float below pixel + 1 so x stays in its bin.
  return jnp.minimum(y + u, jnp.nextafter(y + 1.0, y)) / 256.0


class Preprocessing(NamedTuple):
  """A preprocessing chosen by config.

  Attributes:
    apply: (rng, uint8 [B, H, W, C]) -> float32 [B, H, W, C] in model space.
    to_unit: model space -> [0, 1] for display.
    binary: True when the output is {0, 1} (a discrete likelihood).
    nats_offset_per_dim: add D times this to a continuous NLL in nats to get
      the NLL of the 8-bit data (see module docstring).
    description: a short string for the metrics' protocol.
  """
  apply: Callable[[jax.Array, jax.Array], jax.Array]
  to_unit: Callable[[jax.Array], jax.Array]
  binary: bool
  nats_offset_per_dim: float
  description: str


def make_preprocessing(binarization: str = "dynamic",
                       dequantization: str = "none",
                       value_range: str = "0_1") -> Preprocessing:
  """Builds the preprocessing from config strings.

  The returned `apply` raises ValueError (at trace time) on an image that is
  not a numeric array [B, ...].

  Raises:
    ValueError: an unknown mode, or binarisation combined with
      dequantisation or the [-1, 1] range.
  """
  for name, value, allowed in (("binarization", binarization, BINARIZATIONS),
                               ("dequantization", dequantization,
                                DEQUANTIZATIONS),
                               ("value_range", value_range, VALUE_RANGES)):
    checks.check_one_of(f"data.{name}", value, allowed)
  if binarization != "none":
    if dequantization != "none" or value_range != "0_1":
      raise ValueError("binarised data takes dequantization='none' and "
                       "value_range='0_1'.")
    if binarization == "dynamic":
      fn = binarize_dynamic
    else:
      fn = lambda rng, image: binarize_static(image)
    return Preprocessing(_checked(fn), lambda x: x, True, 0.0,
                         f"{binarization} binarisation")

  lo = 0.0 if value_range == "0_1" else -1.0
  width = 1.0 - lo
  if dequantization == "uniform":
    scale = width / 256.0
    base = lambda rng, image: dequantize_uniform(rng, image) * 256.0
  else:
    scale = width / 255.0
    base = lambda rng, image: image.astype(jnp.float32)
  apply = lambda rng, image: lo + scale * base(rng, image)
  to_unit = lambda x: jnp.clip((x - lo) / width, 0.0, 1.0)
  desc = f"{dequantization} dequantisation, range [{lo:g}, 1]"
  return Preprocessing(_checked(apply), to_unit, False, -math.log(scale),
                       desc)


def _checked(apply):
  def checked_apply(rng, image):
    checks.check_arg("Preprocessing.apply", "image", image, IMAGE)
    return apply(rng, image)
  return checked_apply

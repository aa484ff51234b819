"""Jittable RGB pictures drawn with jax.numpy alone (no matplotlib).

A model's `images(params, batch, rng)` runs inside `jax.jit` (the trainer
compiles it), so a picture it returns must be drawn with array operations
on the device. This module holds such drawing primitives; it knows nothing
of models (it sits beside `distributions` and `divergences`, below
`gdm_jax.models`). matplotlib figures for documents live in
`gdm_jax.eval.plots` (e.g. `latent_scatter_figure`, the same picture at
print quality).

  latent_raster   2-D codes as coloured dots over a prior's density.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Size [px] of the latent scatter image a model's `images` draws (2-D codes).
LATENT_IMAGE_SIZE = 160
# tab10 colours (one per class label), RGB in [0, 1].
TAB10 = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                  [148, 103, 189], [140, 86, 75], [227, 119, 194],
                  [127, 127, 127], [188, 189, 34], [23, 190, 207]],
                 np.float32) / 255.0


def latent_raster(z: jax.Array, labels: jax.Array | None, prior: Any,
                  size: int = LATENT_IMAGE_SIZE) -> jax.Array:
  """A jittable picture of 2-D codes over a prior's density.

  Background: exp(log p) on a size x size grid over `prior.extent`,
  normalised to its maximum, as grey levels (white = 0, dark = peak); a
  prior without a density (the swiss roll) draws 4000 of its samples
  instead. Codes: 3x3-pixel dots coloured by label (tab10), black without
  labels; codes outside the extent are clipped to its border.

  Args:
    z: [N, 2] codes; labels: int [N] or None.
    prior: a 2-D `gdm_jax.models.latent_priors.LatentPrior` (read:
      `extent`, `log_prob` or None, `sample`).
    size: the picture's side in pixels.

  Returns:
    float32 [1, size, size, 3] in [0, 1] (one image for an image grid).
  """
  xmin, xmax, ymin, ymax = prior.extent
  if prior.log_prob is not None:
    xs = jnp.linspace(xmin, xmax, size)
    ys = jnp.linspace(ymax, ymin, size)                     # row 0 = top
    gx, gy = jnp.meshgrid(xs, ys)
    lp = prior.log_prob(jnp.stack([gx.ravel(), gy.ravel()], -1)).reshape(size, size)
    dens = jnp.exp(lp - jnp.max(lp))
  else:
    pts = prior.sample(jax.random.PRNGKey(0), 4000)
    dens = jnp.zeros((size, size)).at[_pixels(pts, prior.extent, size)].add(1.0)
    dens = jnp.minimum(dens, 1.0)
  img = jnp.broadcast_to((1.0 - 0.6 * dens)[..., None], (size, size, 3))
  colours = (jnp.zeros((z.shape[0], 3)) if labels is None
             else jnp.asarray(TAB10)[labels % 10])
  rows, cols = _pixels(z, prior.extent, size)
  for dr in (-1, 0, 1):
    for dc in (-1, 0, 1):
      img = img.at[jnp.clip(rows + dr, 0, size - 1),
                   jnp.clip(cols + dc, 0, size - 1)].set(colours)
  return img[None]


def _pixels(z, extent, size):
  """(row, col) int32 [N] of points z [N, 2] on a size x size grid over
  extent = (xmin, xmax, ymin, ymax); row 0 is the top (ymax)."""
  xmin, xmax, ymin, ymax = extent
  col = jnp.clip(((z[:, 0] - xmin) / (xmax - xmin) * size).astype(jnp.int32),
                 0, size - 1)
  row = jnp.clip(((ymax - z[:, 1]) / (ymax - ymin) * size).astype(jnp.int32),
                 0, size - 1)
  return row, col

"""Image grids as PNG files."""

import math
import os

import numpy as np
from PIL import Image

from gdm_jax import checks


def image_grid(images: np.ndarray, ncols: int | None = None,
               pad: int = 1) -> np.ndarray:
  """Tiles images [N, H, W, C] with values in [0, 1] into one uint8 image.

  Args:
    images: numeric array [N, H, W, C], C in {1, 3}, values in [0, 1]
      (clipped).
    ncols: grid width (default ceil(sqrt(N))).
    pad: pixels of white between tiles.

  Returns:
    uint8 array [rows*(H+pad)+pad, ncols*(W+pad)+pad, C], rows =
    ceil(N / ncols), values round(255 * clip(x, 0, 1)).

  Raises:
    ValueError: images not a numeric [N, H, W, C] array with N >= 1 and C in
      {1, 3}; ncols not a positive int (or None); pad not an int >= 0.
  """
  fn = "images.image_grid"
  checks.check_arg(fn, "images", images, "numeric [N, H, W, C]")
  n, _, _, c = checks.shape_of(images)
  if n < 1 or c not in (1, 3):
    raise ValueError(f"{fn}: `images` must be [N, H, W, C] with N >= 1 and C "
                     f"in (1, 3); got shape {checks.shape_of(images)}.")
  if ncols is not None:
    checks.check_positive_int(fn, "ncols", ncols)
  checks.check_int(fn, "pad", pad, 0)
  images = np.asarray(images, dtype=np.float32)
  n, h, w, c = images.shape
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / ncols))
  grid = np.ones((rows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
  for i in range(n):
    r, col = divmod(i, ncols)
    y, x = pad + r * (h + pad), pad + col * (w + pad)
    grid[y:y + h, x:x + w] = images[i]
  return (np.clip(grid, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def save_png(grid: np.ndarray, path: str) -> None:
  """Saves a uint8 [H, W, C] image (C in {1, 3}) as PNG.

  Args:
    grid: uint8 [H, W, C], e.g. from `image_grid`.
    path: the file to write (its folder is created).

  Raises:
    ValueError: grid is not a uint8 [H, W, C] array with C in {1, 3}.
  """
  fn = "images.save_png"
  checks.check_arg(fn, "grid", grid, "any [H, W, C]")
  if checks.dtype_of(grid) != np.uint8 or checks.shape_of(grid)[-1] not in (1, 3):
    raise ValueError(f"{fn}: `grid` must be a uint8 [H, W, C] array with C in "
                     f"(1, 3); got {checks.dtype_of(grid).name} with shape "
                     f"{checks.shape_of(grid)}.")
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  arr = grid[..., 0] if grid.shape[-1] == 1 else grid
  Image.fromarray(arr).save(path)

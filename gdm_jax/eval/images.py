"""Image grids as PNG files."""

import math
import os

import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, ncols: int | None = None,
               pad: int = 1) -> np.ndarray:
  """Tiles images [N, H, W, C] with values in [0, 1] into one uint8 image.

  Args:
    images: float array [N, H, W, C], C in {1, 3}.
    ncols: grid width (default ceil(sqrt(N))).
    pad: pixels of white between tiles.

  Returns:
    uint8 array [rows*(H+pad)+pad, ncols*(W+pad)+pad, C].
  """
  images = np.asarray(images, dtype=np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid expects [N, H, W, C]; got shape {images.shape}.")
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
  """Saves a uint8 [H, W, C] image (C in {1, 3}) as PNG."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  arr = grid[..., 0] if grid.shape[-1] == 1 else grid
  Image.fromarray(arr).save(path)

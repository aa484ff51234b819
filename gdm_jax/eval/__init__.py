"""Metrics and pictures: dataset-level averages, bits/dim, image grids."""

from gdm_jax.eval.images import image_grid
from gdm_jax.eval.images import save_png

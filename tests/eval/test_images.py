"""gdm_jax/eval/images.py: the image grid's layout and values, PNG round
trip, and input validation."""

import chex
import numpy as np
from PIL import Image

from gdm_jax.eval import images
from tests.helpers import invalid_input_test


def test_image_grid_tiles_in_rows_with_white_padding():
  tiles = np.stack([np.full((2, 3, 1), v) for v in (0.0, 0.5, 1.0)])  # N = 3
  grid = images.image_grid(tiles, ncols=2, pad=1)
  chex.assert_shape(grid, (2 * (2 + 1) + 1, 2 * (3 + 1) + 1, 1))
  chex.assert_type(grid, np.uint8)
  np.testing.assert_array_equal(grid[1:3, 1:4], 0)             # tile 0
  np.testing.assert_array_equal(grid[1:3, 5:8], 128)           # round(127.5)
  np.testing.assert_array_equal(grid[4:6, 1:4], 255)           # tile 2
  np.testing.assert_array_equal(grid[0], 255)                  # padding
  np.testing.assert_array_equal(grid[4:6, 5:8], 255)           # empty cell
  # Default width ceil(sqrt(N)); values outside [0, 1] are clipped.
  chex.assert_shape(images.image_grid(np.full((5, 2, 2, 3), 2.0), pad=0),
                    (4, 6, 3))


def test_save_png_round_trip(tmp_path):
  grid = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
  path = tmp_path / "sub" / "grid.png"
  images.save_png(grid, str(path))
  np.testing.assert_array_equal(np.asarray(Image.open(path)), grid)
  grey = grid[..., :1]
  images.save_png(grey, str(path))
  np.testing.assert_array_equal(np.asarray(Image.open(path)), grey[..., 0])


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("image_grid_rank", lambda: images.image_grid(np.ones((4, 4, 1))),
     ["images.image_grid", "`images`", "rank 4", "(4, 4, 1)"]),
    ("image_grid_channels", lambda: images.image_grid(np.ones((2, 4, 4, 2))),
     ["images.image_grid", "C in (1, 3)", "(2, 4, 4, 2)"]),
    ("image_grid_ncols", lambda: images.image_grid(np.ones((2, 4, 4, 1)), 0),
     ["images.image_grid", "`ncols`", "positive", "0"]),
    ("image_grid_pad",
     lambda: images.image_grid(np.ones((2, 4, 4, 1)), pad=-1),
     ["images.image_grid", "`pad`", ">= 0", "-1"]),
    ("save_png_float",
     lambda: images.save_png(np.ones((4, 4, 1), np.float32), "/tmp/never.png"),
     ["images.save_png", "`grid`", "uint8", "float32"]),
    ("save_png_rank",
     lambda: images.save_png(np.ones((4, 4), np.uint8), "/tmp/never.png"),
     ["images.save_png", "`grid`", "rank 3", "(4, 4)"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

"""Shared pieces of the VAE-family tests (test_vae, test_vae_flows,
test_gumbel_vae)."""

import jax.numpy as jnp
import numpy as np


def synthetic_batch(n=32, shape=(28, 28, 1)):
  """Four fixed binary patterns (stripes, blocks), repeated: {'image': uint8
  {0, 255} [n, H, W, 1], 'label': int32 [n]}."""
  h, w, _ = shape
  yy, xx = np.mgrid[:h, :w]
  patterns = [(yy // 4) % 2, (xx // 4) % 2, (yy < h // 2), ((yy + xx) // 7) % 2]
  images = np.stack([patterns[i % 4] for i in range(n)])[..., None]
  return {"image": jnp.asarray(images * 255, jnp.uint8),
          "label": jnp.asarray(np.arange(n) % 4, jnp.int32)}

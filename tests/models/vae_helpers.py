"""Shared pieces of the VAE-family tests (test_vae, test_vae_flows,
test_gumbel_vae)."""

import jax.numpy as jnp
import numpy as np

from experiments.configs import vae as vae_configs


def vae_config(variant="smoke", **model):
  """experiments/configs/vae.py:<variant> with a constant learning rate, no
  warm-up, and the given `config.model` fields."""
  cfg = vae_configs.get_config(variant)
  cfg.optimizer.schedule = "constant"
  cfg.optimizer.warmup_steps = 0
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


def synthetic_batch(n=32, shape=(28, 28, 1)):
  """Four fixed binary patterns (stripes, blocks), repeated: {'image': uint8
  {0, 255} [n, H, W, 1], 'label': int32 [n]}."""
  h, w, _ = shape
  yy, xx = np.mgrid[:h, :w]
  patterns = [(yy // 4) % 2, (xx // 4) % 2, (yy < h // 2), ((yy + xx) // 7) % 2]
  images = np.stack([patterns[i % 4] for i in range(n)])[..., None]
  return {"image": jnp.asarray(images * 255, jnp.uint8),
          "label": jnp.asarray(np.arange(n) % 4, jnp.int32)}

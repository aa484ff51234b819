"""Cramér GAN (Bellemare et al. 2017, §5 and Algorithm 1).

Launch:
  python -m experiments.train --config=experiments/configs/cramer_gan.py --workdir=/tmp/cramer

Critic h: X -> R^k (k = 256 in the paper), f(x) = ||h(x) - h(x'_g)|| -
||h(x)||, critic loss -(f(x_r) - f(x_g)) + λ (||∇f(x̂)||₂ - 1)² with
λ = 10, generator loss ||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)|| -
||h(x_g) - h(x'_g)|| from two independent generated batches (the energy-
distance surrogate), n_critic = 5, Adam(1e-4, b1 = 0.5, b2 = 0.9), trainer
batch 5 x 64. No batch norm in the critic (gradient penalty).

Variants (`:variant`):
  default  MLP generator of gan.py, MLP critic 784 -> 512 -> 256 -> 256
           (layer norm) on Fashion-MNIST, 2000 generator steps. Validation
           `energy_distance` is an unbiased estimate of the energy distance
           between the critic's features of data and samples. RESULT: README.
  ring8    toy MLPs on 8 Gaussians, k = 16.
  smoke    a few steps on tiny nets, for tests (seconds).
"""

import ml_collections

from experiments.configs import gan as gan_config


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = gan_config.base_config()
  c.model.objective = "cramer"
  c.model.critic_steps = 5
  c.model.gp_weight = 10.0
  c.model.cramer_dim = 256
  c.model.discriminator_dropout = 0.0
  c.model.discriminator_norm = "layer"
  c.optimizer.generator = gan_config._optimizer(1e-4, 0.5, 0.9)  # pylint: disable=protected-access
  c.optimizer.discriminator = gan_config._optimizer(1e-4, 0.5, 0.9)  # pylint: disable=protected-access
  c.train.batch_size = 5 * 64
  c.train.num_steps = 2000
  c.train.eval_every = 1000
  c.train.checkpoint_every = 1000
  if variant == "default":
    pass
  elif variant == "ring8":
    gan_config.use_toy_data(c, "ring8")
    c.model.discriminator_norm = "none"
  elif variant == "smoke":
    gan_config.make_smoke(c)
  else:
    raise ValueError(f"unknown variant '{variant}' of cramer_gan.py; choose "
                     "one of default, ring8, smoke.")
  return c

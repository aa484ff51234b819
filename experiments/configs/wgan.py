"""WGAN with weight clipping (Arjovsky, Chintala and Bottou 2017, Algorithm 1).

Launch:
  python -m experiments.train --config=experiments/configs/wgan.py --workdir=/tmp/wgan

Algorithm 1's settings: RMSProp with learning rate 5e-5 for both players,
n_critic = 5 critic updates per generator update, every critic weight
clipped to [-0.01, 0.01] after each update (the critic's optax chain ends in
gdm_jax.core.transforms.clip_params), minibatch m = 64 (the trainer's batch
is 5 x 64 = 320: one minibatch per critic update).

Variants (`:variant`):
  default  MLP critic (784 -> 512 -> 256 -> 1, no dropout, no norm) and the
           MLP generator of gan.py on Fashion-MNIST, 3000 generator steps.
           Validation `wasserstein_estimate` = mean f(x) - f(G(z)) tracks the
           critic's (scaled) W1 estimate. RESULT: see README.
  ring8    toy MLPs on 8 Gaussians (clip 0.01 is a strong constraint on a
           2 x 128 critic: expect slow, mode-covering progress).
  smoke    a few steps on tiny nets, for tests (seconds).
"""

import ml_collections

from experiments.configs import gan as gan_config


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = gan_config.base_config()
  c.model.objective = "wgan"
  c.model.critic_steps = 5
  c.model.clip_value = 0.01
  c.model.discriminator_dropout = 0.0
  c.optimizer.generator = gan_config._optimizer(5e-5, 0.9, 0.999, "rmsprop")  # pylint: disable=protected-access
  c.optimizer.discriminator = gan_config._optimizer(5e-5, 0.9, 0.999, "rmsprop")  # pylint: disable=protected-access
  c.train.batch_size = 5 * 64
  c.train.num_steps = 3000
  c.train.eval_every = 1000
  c.train.checkpoint_every = 1000
  if variant == "default":
    pass
  elif variant == "ring8":
    gan_config.use_toy_data(c, "ring8")
  elif variant == "smoke":
    gan_config.make_smoke(c)
  else:
    raise ValueError(f"unknown variant '{variant}' of wgan.py; choose one of "
                     "default, ring8, smoke.")
  return c

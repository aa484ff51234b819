"""Cramér GAN (Bellemare et al. 2017, §5 and Algorithm 1): critic
h: X -> R^k (k = 256), λ = 10, n_critic = 5, Adam(1e-4, b1 = 0.5, b2 =
0.9), trainer batch 5 x 64.

Launch (`:variant`: default (MLPs, layer-norm critic, Fashion-MNIST), ring8
(toy MLPs, k = 16)):
  python -m experiments.train --config=experiments/configs/cramer_gan.py --workdir=/tmp/cramer

Expected result: see the README.
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(
      model=dict(objective="cramer", critic_steps=5, discriminator_dropout=0.0,
                 discriminator_norm="layer"),
      train=dict(batch_size=5 * 64, num_steps=2000, eval_every=1000,
                 checkpoint_every=1000)))
  c.optimizer = gan.players(1e-4, 0.5, 0.9)

  def ring8(c):
    gan.use_toy_data(c, "ring8")
    c.model.discriminator_norm = "none"

  return common.select(c, "cramer_gan.py", variant, {
      "default": {}, "ring8": ring8, "smoke": gan.make_smoke})

"""Cramér GAN (Bellemare et al. 2017, §5 and Algorithm 1): critic
h: X -> R^k (k = 256), λ = 10, n_critic = 5, Adam(1e-4, b1 = 0.5, b2 =
0.9), trainer batch (5 + 1) x 64: five critic minibatches and the
generator's own.

Launch (`:variant`: default (MLPs, layer-norm critic, Fashion-MNIST), ring8
(toy MLPs, k = 16)):
  python -m experiments.train --config=experiments/configs/cramer_gan.py --workdir=/tmp/cramer

Expected results (measured with the generator reusing the last critic
minibatch, batch 5 x 64, before it got its own; 2-core CPU shared by ~8
jobs; docs/results.md): default, 2000 steps: FID 83.8, KID 4.70, IS 4.13,
precision 0.747, recall 0.166; ring8, 5000 steps: 1/8 modes, W1 0.801.
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(
      model=dict(objective="cramer", critic_steps=5, discriminator_dropout=0.0,
                 discriminator_norm="layer"),
      train=dict(batch_size=6 * 64, num_steps=2000, eval_every=1000,
                 checkpoint_every=1000)))
  c.optimizer = gan.players(1e-4, 0.5, 0.9)

  def ring8(c):
    gan.use_toy_data(c, "ring8")
    c.model.discriminator_norm = "none"

  return common.select(c, "cramer_gan.py", variant, {
      "default": {}, "ring8": ring8})

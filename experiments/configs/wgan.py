"""WGAN with weight clipping (Arjovsky, Chintala and Bottou 2017, Algorithm 1).

Launch (`:variant`: default (MLPs on Fashion-MNIST), ring8):
  python -m experiments.train --config=experiments/configs/wgan.py --workdir=/tmp/wgan

Algorithm 1's settings: RMSProp(5e-5), n_critic = 5, clip 0.01, minibatch
64 (trainer batch 5 x 64). Expected result: see the README.
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(
      model=dict(objective="wgan", critic_steps=5,
                 discriminator_dropout=0.0),
      train=dict(batch_size=5 * 64, num_steps=3000, eval_every=1000,
                 checkpoint_every=1000)))
  c.optimizer = gan.players(5e-5, 0.9, 0.999, "rmsprop")
  return common.select(c, "wgan.py", variant, {
      "default": {}, "ring8": gan.use_toy_data})

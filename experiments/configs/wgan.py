"""WGAN with weight clipping (Arjovsky, Chintala and Bottou 2017, Algorithm 1).

Launch (`:variant`: default = cpu (MLPs on Fashion-MNIST), paper, ring8):
  python -m experiments.train --config=experiments/configs/wgan.py --workdir=/tmp/wgan
  python -m experiments.train --config=experiments/configs/wgan.py:paper --workdir=/tmp/wgan_paper

paper: Algorithm 1 with the DCGAN pair of the paper's §4 adapted to 28x28x1
(dcgan.py:paper's networks: generator 7x7x256 -> 14x14x128 -> 28x28x1,
critic 64-128-256, batch norm in both), 100,000 generator iterations (the
paper trains until its curves flatten and gives no single budget; its
n_critic = 100 for the first 25 and every 500th generator iteration is not
implemented). No MNIST number in the paper; the recipe aims at a lower FID
than the VAE's samples. Not yet measured: it is sized for a GPU.

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
      "default": {}, "cpu": {},
      "paper": dict(model=dict(
          architecture="dcgan", generator_channels=(256, 128),
          discriminator_channels=(64, 128, 256), generator_norm="batch",
          discriminator_norm="batch"),
          train=dict(num_steps=100_000, log_every=1000, eval_every=10_000,
                     checkpoint_every=10_000)),
      "ring8": gan.use_toy_data})

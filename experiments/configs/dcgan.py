"""DCGAN (Radford et al. 2016) on Fashion-MNIST, non-saturating loss.

Launch (`:variant`: default = cpu (small widths for the 2-core CPU), paper):
  python -m experiments.train --config=experiments/configs/dcgan.py --workdir=/tmp/dcgan
  python -m experiments.train --config=experiments/configs/dcgan.py:paper --workdir=/tmp/dcgan_paper

paper: Radford et al. 2016, §3-4, adapted to 28x28x1: generator 7x7x256 ->
14x14x128 -> 28x28x1 (two x2 stages: 28 is not divisible by 8; sub-pixel
convolutions in place of fractionally strided ones), discriminator stride-2
4x4 convolutions 64-128-256 with LeakyReLU(0.2), batch norm in both (not on
the generator's output nor the discriminator's input), Adam(2e-4, b1 0.5),
minibatch 128, 100 latent dimensions (N(0, I) here, uniform in the paper),
25 epochs (10,725 steps). The paper gives no FID; the recipe aims at FID
<= 40 on the project's protocol. Not yet measured: it is sized for a GPU.

Expected result, measured only with --config.train.num_steps=500 (0.4
steps/s, ~16 min, on the 2-core CPU shared with ~8 jobs, load average
20-30): FID 212.4, KID 9.12, IS 1.89, precision 0.76, recall 0.01 (10,000
samples, the project's classifier, test split).
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(
      model=dict(architecture="dcgan", generator_channels=(64, 32),
                 discriminator_channels=(32, 64), generator_norm="batch",
                 discriminator_norm="batch", discriminator_dropout=0.0),
      train=dict(num_steps=2000, eval_every=1000, checkpoint_every=1000)))
  return common.select(c, "dcgan.py", variant, {
      "default": {}, "cpu": {},
      "paper": dict(
          model=dict(generator_channels=(256, 128),
                     discriminator_channels=(64, 128, 256)),
          train=dict(batch_size=128, num_steps=common.epochs(25, 128),
                     log_every=500, eval_every=2500,
                     checkpoint_every=2500))})

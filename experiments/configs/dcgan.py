"""DCGAN (Radford et al. 2016) on Fashion-MNIST, non-saturating loss.

Launch (`:variant`: default):
  python -m experiments.train --config=experiments/configs/dcgan.py --workdir=/tmp/dcgan

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
  return common.select(c, "dcgan.py", variant, {"default": {}})

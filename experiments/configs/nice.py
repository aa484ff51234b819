"""NICE (Dinh et al. 2014) on Fashion-MNIST, flattened to 784 dimensions.

Launch (`:variant`: default):
  python -m experiments.train --config=experiments/configs/nice.py --workdir=/tmp/nice

Expected result (3000 steps = 3.5 epochs; 131 s of CPU time, 431 s wall on
the shared 2-core CPU): test 6.318 bits/dim (all 10,000 test images;
validation 6.24); samples at T = 1: FID 268.5, IS 1.34, precision 0.91,
recall 0.03 (10,000 samples, the project's classifier, test split).
"""

import ml_collections

from experiments.configs import common
from experiments.configs import flow_base


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(flow_base.base_config(), dict(
      model=dict(architecture="nice", hidden=500),
      train=dict(num_steps=3000, log_every=100, eval_every=1000,
                 checkpoint_every=1000)))
  return common.select(c, "nice.py", variant, {"default": {}})

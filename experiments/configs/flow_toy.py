"""Flows on toy densities (gdm_jax/models/flow.py `toy_flow`): the seed's
z = x^3 example (1-D), two moons, ring8.

Launch (`:variant`: two_moons (the default), cubic1d (x = z^(1/3), z ~
U[-1, 1]), ring8 (8 Gaussians of std 0.02 on a circle)):
  python -m experiments.train --config=experiments/configs/flow_toy.py:two_moons --workdir=/tmp/flow_moons
  python -m experiments.train --config=experiments/configs/flow_toy.py:cubic1d --workdir=/tmp/flow_cubic

Expected results (3000 steps of batch 256, on the shared 2-core CPU; test
NLL and KL(p_data || p_model) on the test split, sample W1 on 10,000
samples):
  cubic1d    test NLL 0.344 nats, KL 0.089 nats, W1 0.030; 398 s wall.
  two_moons  test NLL 1.026 nats, KL 0.018 nats, W1 0.035; 419 s wall.
  ring8      not measured (a coupling flow leaves thin bridges between
             the modes).
"""

import ml_collections

from experiments.configs import common
from experiments.configs import flow_base


def get_config(variant: str = "two_moons") -> ml_collections.ConfigDict:
  c = flow_base.base_config()
  c.data = common.toy_data("two_moons")
  common.update(c, dict(
      optimizer=dict(warmup_steps=100),
      train=dict(batch_size=256, num_steps=3000, log_every=250,
                 eval_every=1000, checkpoint_every=1000, eval_batch_size=1000,
                 eval_examples=0, final_eval_batch_size=1000)))
  return common.select(c, "flow_toy.py", variant, {
      "default": {}, "two_moons": {}, "cubic1d": dict(data=dict(name="cubic1d")),
      "ring8": dict(data=dict(name="ring8"))})

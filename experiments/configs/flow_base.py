"""Shared defaults of the flow configs (realnvp.py, glow.py, nice.py, flow_toy.py).

Not an experiment itself: `base_config()` returns the flow family's sections
(seed, data, model, optimizer, train, eval); the experiment files change
what differs.
"""

import ml_collections

from experiments.configs import common

epochs = common.epochs


def base_config() -> ml_collections.ConfigDict:
  return common.config(
      # Flows model the 8-bit data; dequantization: uniform | variational.
      data=common.fashion_mnist(dequantization="uniform"),
      model=dict(
          name="flow",
          architecture="realnvp",   # nice | realnvp | glow
          logit_alpha=0.05,         # 0 = Glow's x - 0.5 instead of a logit
          num_levels=3,
          num_couplings=3,          # RealNVP, per half level
          num_steps=4,              # Glow, steps per level
          hidden=32,                # conditioner channels / units
          num_blocks=1,             # RealNVP residual blocks
          nice_num_couplings=4, nice_hidden_layers=2,
          scale_fn="tanh",          # tanh | sigmoid
          log_scale_bound=2.0,
          temperature=1.0,          # sampling z ~ N(0, T^2 I)
          eval_num_samples=1,       # K of the importance-weighted bound
          dequant_hidden=16, dequant_num_couplings=2,
          toy_num_layers=8, toy_hidden=64),
      # Flows diverge without a warm-up.
      optimizer=common.optimizer(1e-3, schedule="cosine", warmup_steps=200,
                                 grad_clip_norm=50.0),
      train=common.train(batch_size=64, num_steps=2000, log_every=100,
                         eval_every=1000, eval_batch_size=400,
                         eval_examples=1000, final_eval_batch_size=400))


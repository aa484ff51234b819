"""Kantorovich-Rubinstein duality (experiments/kantorovich_rubinstein_study.py).

Launch:
  python -m experiments.kantorovich_rubinstein_study \
      --config=experiments/configs/kantorovich_rubinstein_study.py \
      --workdir=/tmp/kr

(a) the seed's earth mover's example (no settings). (b) four 1-D pairs
(π = real, p = fake): N(0,1) vs N(1,1) (W1 = 1), N(0,1) vs N(0,2²)
(W1 = √(2/π) = 0.7979), N(0,1) vs N(3,0.5²), and the mode-seeking study's
mixture 0.5 N(-2,0.5²) + 0.5 N(2,0.5²) vs N(0,1). Four critics per pair,
ReLU MLP 64-64-1, 3000 steps, batch 256 of each: `gp` (the paper's
two-sided penalty, λ = 10, Adam 1e-3, β = (0.5, 0.9)), `gp_one_sided` (the
same with max(0, |f'| - 1)², Petzka et al. 2018), `clip_c001` (c = 0.01,
RMSProp 5e-4) and `clip_c01` (c = 0.1, RMSProp 5e-3).

Expected result (measured; README section "Divergence and transport
studies"): (a) 5 = 5 = 5 = 5 (0.5 per unit mass); (b) GP estimates within
a few % of the exact W1 (slightly above: the soft penalty); clipped
estimates are K·W1 with K ~ 1e-4 (c = 0.01) to ~1 (c = 0.1); divided by
their max |f'| they stay <= W1.

Variants: default, smoke (two pairs, the one-sided GP critic and c = 0.01
clipping, small nets, 400 steps; for tests).
"""

import ml_collections

from experiments import study_utils


def _normal(loc, scale):
  d = ml_collections.ConfigDict()
  d.locs, d.scales, d.weights = (loc,), (scale,), (1.0,)
  return d


def _pair(name, real, fake):
  p = ml_collections.ConfigDict()
  p.name, p.real, p.fake = name, real, fake
  return p


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  mixture = ml_collections.ConfigDict()
  mixture.locs, mixture.scales, mixture.weights = (-2.0, 2.0), (0.5, 0.5), (
      0.5, 0.5)
  c.pairs = (
      _pair("N(0,1) vs N(1,1)", _normal(0.0, 1.0), _normal(1.0, 1.0)),
      _pair("N(0,1) vs N(0,2^2)", _normal(0.0, 1.0), _normal(0.0, 2.0)),
      _pair("N(0,1) vs N(3,0.5^2)", _normal(0.0, 1.0), _normal(3.0, 0.5)),
      _pair("mixture vs N(0,1)", mixture, _normal(0.0, 1.0)),
  )
  c.quadrature = ml_collections.ConfigDict()
  c.quadrature.low, c.quadrature.high = -12.0, 12.0
  c.quadrature.num_panels, c.quadrature.order = 240, 8
  c.plot_low, c.plot_high = -5.0, 6.0
  c.critics = ml_collections.ConfigDict()
  c.critics.gp = study_utils.critic_config(
      "wasserstein_gp", hidden=(64, 64), learning_rate=1e-3, num_steps=3000,
      batch_size=256, gp_weight=10.0)
  c.critics.gp_one_sided = study_utils.critic_config(
      "wasserstein_gp", hidden=(64, 64), learning_rate=1e-3, num_steps=3000,
      batch_size=256, gp_weight=10.0, gp_one_sided=True)
  c.critics.clip_c001 = study_utils.critic_config(
      "wasserstein_clip", hidden=(64, 64), optimizer="rmsprop",
      learning_rate=5e-4, num_steps=3000, batch_size=256, clip=0.01)
  c.critics.clip_c01 = study_utils.critic_config(
      "wasserstein_clip", hidden=(64, 64), optimizer="rmsprop",
      learning_rate=5e-3, num_steps=3000, batch_size=256, clip=0.1)

  if variant == "default":
    pass
  elif variant == "smoke":
    c.pairs = c.pairs[:2]
    c.quadrature.num_panels = 96
    del c.critics["clip_c01"]
    del c.critics["gp"]
    for kind in ("gp_one_sided", "clip_c001"):
      c.critics[kind].hidden = (32, 32)
      c.critics[kind].num_steps = 400
      c.critics[kind].batch_size = 128
    c.critics.gp_one_sided.optimizer.learning_rate = 1e-2
  else:
    raise ValueError(f"unknown variant '{variant}' of "
                     "kantorovich_rubinstein_study.py; choose one of default, "
                     "smoke.")
  return c

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

Expected result (measured, seed 0; README section "Divergence and
transport studies"): (a) primal (POT) = primal (linprog) = CDF = dual = 5
(0.5 per unit mass). (b)

  pair               exact W1  W1+W1²/2λ  gp     gp_one_sided  clip 0.01 / max|f'|  clip 0.1 / max|f'|
  N(0,1) vs N(1,1)    1.0000    1.0500    1.0500  1.0671       0.8005 (K 0.00214)   0.5564 (K 2.05)
  N(0,1) vs N(0,2²)   0.7979    0.8297    0.8216  0.8367       0.6368 (K 0.00113)   0.5596 (K 1.34)
  N(0,1) vs N(3,.5²)  3.0000    3.4500    3.4697  3.4516       1.8474 (K 0.00209)   1.4581 (K 1.83)
  mixture vs N(0,1)   1.2022    1.2744    1.2860  1.2739       0.9919 (K 0.00148)   0.9542 (K 1.00)

The GP critics reach the soft penalty's optimum W1 + W1²/(2λ) (within
1.7%), i.e. overshoot W1 by up to 16% at W1 = 3; the clipped critics'
raw estimates (0.0007-0.0039 for c = 0.01) are K·(something <= W1) with
K set by c and the pair, so they rank the pairs but do not measure W1.
209 s wall on the loaded 2-core machine (51 s of CPU).

Variants: default.
"""

import ml_collections

from gdm_jax import critics


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
  c.critics.gp = critics.default_config(
      "wasserstein_gp", hidden=(64, 64), learning_rate=1e-3, num_steps=3000,
      batch_size=256, gp_weight=10.0)
  c.critics.gp_one_sided = critics.default_config(
      "wasserstein_gp", hidden=(64, 64), learning_rate=1e-3, num_steps=3000,
      batch_size=256, gp_weight=10.0, gp_one_sided=True)
  c.critics.clip_c001 = critics.default_config(
      "wasserstein_clip", hidden=(64, 64), optimizer="rmsprop",
      learning_rate=5e-4, num_steps=3000, batch_size=256, clip=0.01)
  c.critics.clip_c01 = critics.default_config(
      "wasserstein_clip", hidden=(64, 64), optimizer="rmsprop",
      learning_rate=5e-3, num_steps=3000, batch_size=256, clip=0.1)

  if variant != "default":
    raise ValueError(f"unknown variant '{variant}' of "
                     "kantorovich_rubinstein_study.py; choose one of default.")
  return c

"""Disjoint supports (experiments/disjoint_supports_study.py).

Launch:
  python -m experiments.disjoint_supports_study \
      --config=experiments/configs/disjoint_supports_study.py --workdir=/tmp/ds

π = (0, U[0,1]), p_θ = (θ, U[0,1]) at 21 values of θ in [-1, 1]; at each θ
three critics trained from scratch on fresh samples (ReLU MLP 64-64-1,
batch 128 of each distribution, 1000 steps): a WGAN-GP critic (λ = 10,
Adam 1e-3, β = (0.5, 0.9)), a weight-clipped WGAN critic (c = 0.01,
RMSProp 5e-4; Arjovsky et al. use 5e-5 over many more steps) and a
logistic discriminator (Adam 1e-3). Sample W1: exact OT between 1000 and
1000 samples (POT).

Expected result (measured; README section "Divergence and transport
studies"): GP estimates within a few % of |θ|; the clipped critic's
estimate ≈ K̂·|θ| with K̂ ~ 1e-3 (its Lipschitz constant is set by c);
the discriminator's JSD estimate ≈ log 2 for every θ ≠ 0 and its gradient
to θ ~0, while the GP critic's is ≈ sign(θ).

Variants: default, smoke (5 θ values, small nets, 300 steps; for tests).
"""

import ml_collections

from experiments import study_utils


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.num_theta = 21
  c.theta_max = 1.0
  c.quadrature_order = 64
  c.w1_num_samples = 1000
  c.critics = ml_collections.ConfigDict()
  c.critics.gp = study_utils.critic_config(
      "wasserstein_gp", hidden=(64, 64), learning_rate=1e-3, num_steps=1000,
      batch_size=128, gp_weight=10.0)
  c.critics.clip = study_utils.critic_config(
      "wasserstein_clip", hidden=(64, 64), optimizer="rmsprop",
      learning_rate=5e-4, num_steps=1000, batch_size=128, clip=0.01)
  c.critics.discriminator = study_utils.critic_config(
      "logistic", hidden=(64, 64), learning_rate=1e-3, num_steps=1000,
      batch_size=128)

  if variant == "default":
    pass
  elif variant == "smoke":
    c.num_theta = 5
    c.quadrature_order = 16
    c.w1_num_samples = 200
    for kind in ("gp", "clip", "discriminator"):
      c.critics[kind].hidden = (32, 32)
      c.critics[kind].num_steps = 300
      c.critics[kind].batch_size = 64
  else:
    raise ValueError(f"unknown variant '{variant}' of "
                     "disjoint_supports_study.py; choose one of default, "
                     "smoke.")
  return c

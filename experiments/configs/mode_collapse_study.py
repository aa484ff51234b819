"""Mode collapse on the 8-Gaussian ring (experiments/mode_collapse_study.py).

Launch:
  python -m experiments.mode_collapse_study \
      --config=experiments/configs/mode_collapse_study.py \
      --workdir=/tmp/mode_collapse

`arms.<name>` is a complete gan-family experiment config (seed, data, model,
optimizer, train), built from experiments/configs/gan.py:ring8 and
wgan_gp.py:ring8 with the overrides below; every arm uses the same generator
and discriminator MLPs (`HIDDEN`, ReLU, 2-D latent; the study refuses
arms whose generators differ) and trains with
the gan family's own `train_step`. `study` holds the study's settings.

WGAN-GP on ring8, what went wrong before (README, "Toy data": 0-1 of 8 modes
after 5000 steps with wgan_gp.py:ring8): not a defect of models/gan.py but
the hyper-parameters. Measured (2 x 128 ReLU nets, n_critic 5, batch 256,
lr 1e-4, seed 0, 2000 samples, modes covered / W1 at step 5000 unless said):
  b1 = 0,   λ = 10   (wgan_gp.py:ring8)  0/8, W1 1.78; the critic's W
                                         estimate swings sign from record
                                         to record, samples jump around
  b1 = 0.5, λ = 0.1  (Gulrajani et al.'s toy code)  8/8 from step 1750,
                                         high-quality fraction 0.63, W1 0.18
  (the b1 = 0.5, λ = 10 and b1 = 0, λ = 0.1 runs that separate the two
  changes: see the study's README section / the report.)
Gulrajani et al.'s gan_toy.py uses Adam(1e-4, β = (0.5, 0.9)) and λ = 0.1
for the toy sets, not the image settings (β1 = 0, λ = 10) of their
Algorithm 1; this study uses the toy code's settings.

Variants (`:variant`):
  default  GAN (non-saturating, k = 1, Adam(1e-3, b1 0.5), gan.py:ring8)
           vs WGAN-GP (k = 5, Adam(1e-4, b1 0.5, b2 0.9), λ = 0.1),
           5000 generator steps, 3 seeds, metrics every 250 steps on 2000
           samples. RESULT: see the study's docstring / report.
  smoke    tiny nets, 6 steps, 1 seed, records every 3 steps (for tests).
"""

import ml_collections

from experiments.configs import gan as gan_configs
from experiments.configs import wgan_gp as wgan_gp_configs

ARM_NAMES = ("gan", "wgan_gp")
# G and D hidden layers of every arm (the study checks that the arms agree).
HIDDEN = (128, 128)


def _arm(name: str, hidden, num_steps: int) -> ml_collections.ConfigDict:
  """The gan-family config of one arm (seed, data, model, optimizer, train)."""
  if name == "gan":
    c = gan_configs.get_config("ring8")            # non-saturating, k = 1
  elif name == "wgan_gp":
    c = wgan_gp_configs.get_config("ring8")         # k = 5
    c.model.gp_weight = 0.1                          # Gulrajani et al. toy code
    c.optimizer.generator.b1 = 0.5
    c.optimizer.discriminator.b1 = 0.5
  else:
    raise ValueError(f"unknown arm '{name}'; choose from {ARM_NAMES}.")
  c.model.generator_hidden = tuple(hidden)
  c.model.discriminator_hidden = tuple(hidden)
  c.train.num_steps = num_steps
  c.eval.sample_metrics = False                      # the study measures
  return c


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  s = c.study = ml_collections.ConfigDict()
  s.num_steps = 5000             # generator updates per run
  s.record_every = 250           # metrics every this many steps (and at 0)
  s.snapshot_steps = (0, 500, 1000, 2000, 5000)   # scatter panels (seed 0)
  s.seeds = (0, 1, 2)            # model seeds (init and step keys)
  s.eval_samples = 2000          # samples per record (fixed key per record)
  s.w1_points = 1000             # exact W1 on this many samples vs test
  s.scatter_points = 1000        # points per scatter panel
  s.num_std = 3.0                # high-quality radius (toy_metrics)

  if variant == "default":
    pass
  elif variant == "smoke":
    s.num_steps = 6
    s.record_every = 3
    s.snapshot_steps = (0, 6)
    s.seeds = (0,)
    s.eval_samples = 200
    s.w1_points = 100
    s.scatter_points = 200
  else:
    raise ValueError(f"unknown variant '{variant}' of mode_collapse_study.py;"
                     " choose one of default, smoke.")

  c.arms = ml_collections.ConfigDict()
  for name in ARM_NAMES:
    arm = _arm(name, (16,) if variant == "smoke" else HIDDEN, s.num_steps)
    if variant == "smoke":
      arm.model.latent_dim = 2
      arm.train.batch_size = 16 * arm.model.critic_steps
      arm.data.toy_num_train = 1000
      arm.data.toy_num_validation = 200
      arm.data.toy_num_test = 200
    c.arms[name] = arm
  return c

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
after 5000 steps with wgan_gp.py:ring8): the gradient-penalty weight λ = 10
together with the critic's learning rate 1e-4, not a defect of
models/gan.py: the same code reaches 8/8 once λ is smaller or the critic
faster. Measured with /tmp scripts on this study's path (models.make +
train_step, 2 x 128 ReLU nets, n_critic 5, m = 256, Adam(1e-4, b2 0.9) for
both players unless said, seed 0, 2000 samples every 250 steps; loaded
2-core CPU, 70-240 s per run):

  β1   λ    critic lr  modes at step 1000/2000/4000  W1 at 4000  W estimate
  0    10   1e-4       0 / 2 / 0   (wgan_gp.py:ring8)  1.92       swings -1.3..+2.5
  0.5  10   1e-4       0 / 0 / 1                        1.60       swings -1.4..+1.2
  0    0.1  1e-4       5 / 8 / 8                        0.204      0.34, decreasing
  0.5  0.1  1e-4       2 / 8 / 8   (5000: 8, W1 0.176)  0.191      0.29, decreasing
  0.5  1    1e-4       4 / 8 / 8                        0.193      0.15
  0.5  10   1e-3       3 / 8 / 8                        0.197      0.13

With λ = 10 and lr 1e-4 the critic's W estimate E f(x) - E f(G(z)) changes
sign from record to record: the critic lags the generator, which chases a
stale critic around the ring (the samples jump; W1 stays at 1.1-3.3).
β1 does not matter; a 10x faster critic or a 10-100x smaller λ does.
Gulrajani et al.'s toy code (gan_toy.py) uses λ = 0.1 ("smaller lambda
seems to help for toy tasks specifically"), Adam(1e-4, β = (0.5, 0.9)),
3 x 512 ReLU nets and batch 256, not Algorithm 1's image settings (λ = 10,
β1 = 0). This study uses λ = 0.1, β = (0.5, 0.9) and the toy nets of
gan.py:ring8 (2 x 128, the same for both arms).
A row of the table with this study (one seed, WGAN-GP arm only), e.g. the
failing setting:
  python -m experiments.mode_collapse_study \
      --config=experiments/configs/mode_collapse_study.py \
      --workdir=/tmp/wgan_gp_lambda10 --config.study.seeds='(0,)' \
      --config.study.run_arms='("wgan_gp",)' \
      --config.arms.wgan_gp.model.gp_weight=10 \
      --config.arms.wgan_gp.optimizer.generator.b1=0 \
      --config.arms.wgan_gp.optimizer.discriminator.b1=0

Variants (`:variant`):
  default  GAN (non-saturating, k = 1, Adam(1e-3, b1 0.5), gan.py:ring8)
           vs WGAN-GP (k = 5, Adam(1e-4, b1 0.5, b2 0.9), λ = 0.1),
           5000 generator steps, 3 seeds, metrics every 250 steps on 2000
           samples. MEASURED (14 min wall on the 2-core CPU at load ~35:
           GAN 86-119 s per seed, WGAN-GP 136-223 s per seed), at step
           5000, mean ± std over seeds 0, 1, 2:
             GAN      modes 6.67 ± 0.94 of 8 (6, 8, 6), high-quality
                      0.739 ± 0.100, W1 0.370 ± 0.133; all 8 modes only in
                      seed 1 (from step 2000); seeds 0 and 2 sit at 6 modes
                      from step ~1000 on;
             WGAN-GP  modes 8.00 ± 0 (8/8 from step 1500, 1500, 1750),
                      high-quality 0.645 ± 0.010, W1 0.166 ± 0.008;
           W1 data floor (1000 train vs 1000 test points) 0.115.
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
  s.run_arms = ARM_NAMES         # which of `arms` to train

  if variant != "default":
    raise ValueError(f"unknown variant '{variant}' of mode_collapse_study.py;"
                     " choose one of default.")

  c.arms = ml_collections.ConfigDict()
  for name in ARM_NAMES:
    c.arms[name] = _arm(name, HIDDEN, s.num_steps)
  return c

"""The gradient-estimator study (experiments/gradient_estimator_study.py).

Launch:
  python -m experiments.gradient_estimator_study \
      --config=experiments/configs/gradient_estimator_study.py \
      --workdir=/tmp/grad_study

The top-level sections (seed, data, model, optimizer, train) are a VAE
experiment config (experiments/configs/vae.py, a smaller MLP: 784-256-16
Bernoulli), used by objective (b); `study` holds the study's settings.

Variants: default (S = 1 ... 1000).

Result of the default (seed 0; R = 2000 / 50 / 1000 repetitions for
(a) / (b) / (c); (b): the 784-256-16 VAE after 400 Adam steps (train ELBO
-261), 4 Fashion-MNIST test images, 209184 encoder parameters, reference
from 25 x 1000 independent draws; 4 min wall, 39 s CPU, on a heavily shared
2-core CPU; figure docs/gradient_estimator_study.png):

  objective    estimator        var(S_min)  var(S=1000)  slope  |bias|  noise
  gaussian     reparam               22.4      0.0215    -1.00  0.0044  0.0033
               reinforce            279.3      0.287     -0.99  0.021   0.012
               reinforce_mean       173.1      0.185     -0.99  0.018   0.0096
               reinforce_loo        114.3*     0.183     -1.01  0.017   0.0096
  vae          reparam             3.01e5      336       -1.00  4.4     2.6**
               reinforce           1.80e10     1.91e7    -1.00  668     618
               reinforce_mean      5.94e6      5757      -1.00  10.6    10.7
               reinforce_loo       5.76e6*     5757      -1.08  10.6    10.7
  categorical  reinforce            10.6       0.0108    -1.00  0.0036  0.0033
  (K = 10,     reinforce_mean        0.292     3.05e-4   -1.00  5.2e-4  5.5e-4
  τ = 0.5)     reinforce_loo         0.329*    3.06e-4   -1.10  5.2e-4  5.5e-4
               gumbel_relaxed        0.260     2.54e-4   -1.01  0.056   5.0e-4
               gumbel_st             0.819     8.51e-4   -1.00  0.078   9.2e-4
  (* at S = 2, the smallest S with a leave-one-out baseline; ** the
  reference's own noise, sqrt(336 / 25) = 3.7, adds to it.)

Every unbiased estimator's variance falls as 1/S (slope -1.00 +- 0.01
where the baseline does not depend on S; the leave-one-out baseline is
noisier at small S, so its fitted slope is -1.08 to -1.10), and its mean
is within its noise of the exact gradient (|bias| ~ noise; per-coordinate
|z| < 3 on (a) and (c), < 5 over the VAE's 209184 coordinates). The
reparameterised estimator has the least variance on both continuous
objectives: 12x below REINFORCE on (a) and 6e4x on the VAE's encoder,
where a baseline cuts REINFORCE's variance ~3000x and still leaves it 17x
above the pathwise estimator at equal S. On the categorical objective the
baselines reduce REINFORCE's variance 35x, to the level of the relaxed
Gumbel-softmax, which has no advantage in variance here but a bias
(0.056, 110x its noise at S = 1000; straight-through 0.078) that no
number of samples removes.
"""

import ml_collections

from experiments.configs import vae as vae_configs


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = vae_configs.get_config("default")
  c.model.hidden = (256,)
  c.model.latent_dim = 16
  c.optimizer.schedule = "constant"
  c.optimizer.warmup_steps = 0
  c.eval.sample_metrics = False

  c.study = ml_collections.ConfigDict()
  c.study.objectives = ("gaussian", "vae", "categorical")
  c.study.sample_sizes = (1, 2, 5, 10, 30, 100, 300, 1000)
  c.study.baseline_samples = 1000      # draws for the constant baseline
  c.study.gaussian = ml_collections.ConfigDict(
      {"mu": 0.5, "sigma": 1.0, "c": 2.0})
  c.study.gaussian_reps = 2000
  c.study.categorical = ml_collections.ConfigDict(
      {"num_classes": 10, "temperature": 0.5})
  c.study.categorical_reps = 1000
  c.study.vae_data = "dataset"         # dataset | synthetic (tests)
  c.study.vae_train_steps = 400        # the VAE whose encoder gradient we take
  c.study.vae_batch = 4                # test images in the ELBO
  c.study.vae_reps = 50
  c.study.vae_reference_reps = 25      # independent draws for the reference
  c.train.batch_size = 128

  if variant != "default":
    raise ValueError(f"unknown variant '{variant}' of gradient_estimator_study.py; "
                     "choose default.")
  return c

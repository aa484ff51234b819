"""The gradient-estimator study (experiments/gradient_estimator_study.py).

Launch:
  python -m experiments.gradient_estimator_study \
      --config=experiments/configs/gradient_estimator_study.py \
      --workdir=/tmp/grad_study

The top-level sections (seed, data, model, optimizer, train) are a VAE
experiment config (experiments/configs/vae.py, a smaller MLP: 784-256-16
Bernoulli), used by objective (b); `study` holds the study's settings.

Variants: default (S = 1 ... 1000) and smoke (tiny, for the tests).

RESULTS
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
  c.study.vae_batch = 8                # test images in the ELBO
  c.study.vae_reps = 100
  c.study.vae_reference_reps = 50      # independent draws for the reference
  c.train.batch_size = 128

  if variant == "default":
    pass
  elif variant == "smoke":
    c.model.hidden = (32,)
    c.model.latent_dim = 4
    c.study.sample_sizes = (1, 4, 16)
    c.study.baseline_samples = 200
    c.study.gaussian_reps = 3000
    c.study.categorical = ml_collections.ConfigDict(
        {"num_classes": 4, "temperature": 0.5})
    c.study.categorical_reps = 3000
    c.study.vae_train_steps = 0
    c.study.vae_data = "synthetic"
    c.study.vae_batch = 4
    c.study.vae_reps = 200
    c.study.vae_reference_reps = 400
    c.train.batch_size = 32
  else:
    raise ValueError(f"unknown variant '{variant}' of gradient_estimator_study.py; "
                     "choose default or smoke.")
  return c

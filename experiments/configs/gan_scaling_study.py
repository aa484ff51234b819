"""The GAN0 vs GAN1 study (experiments/gan_scaling_study.py).

Launch:
  python -m experiments.gan_scaling_study \
      --config=experiments/configs/gan_scaling_study.py --workdir=/tmp/gan01

The top-level sections are the gan family's experiment config
(experiments/configs/gan.py: seed, data, model, optimizer, train, eval),
shared by both arms, which differ only in `model.objective` ('minimax' =
GAN0, Johnson and Zhang 2018 Algorithm 4; 'non_saturating' = GAN1,
Algorithm 5); `study` holds the study's own settings.

Variants (`:variant`):
  default   Fashion-MNIST, the practical's MLP GAN (G 100-128-256-512-1024-
            784, D 784-512-256-1, Adam 2e-4 b1 0.5, batch 64, k = 1),
            600 steps per arm; a few minutes on a 2-core CPU. RESULT: see
            the README / report (GAN0's mean s(G(z)) over the first 200 steps
            is a small fraction of GAN1's).
  ring8     the same study on the 2-D ring of 8 Gaussians (toy MLPs).
  smoke     tiny nets, 30 steps, with a fast discriminator (lr 1e-2, k = 5)
            so that it rejects fakes confidently within seconds: the regime
            of the claim, for tests.
"""

import ml_collections

from experiments.configs import gan as gan_configs


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = gan_configs.base_config()
  c.model.objective = "minimax"      # set per arm by the study
  c.eval.sample_metrics = False      # the study computes its own proxy
  c.eval.periodic_num_samples = 0

  c.study = ml_collections.ConfigDict()
  c.study.num_steps = 600      # train steps (generator updates) per arm
  c.study.record_every = 10    # probe s(G(z)) and D(G(z)) every this many steps
  c.study.probe_size = 512     # fixed z of the probe
  c.study.quality_every = 100  # MMD² proxy every this many steps
  c.study.quality_size = 500   # samples and test examples of the proxy
  c.study.early_steps = 200    # the table's "early" window

  if variant == "default":
    pass
  elif variant == "ring8":
    gan_configs.use_toy_data(c, "ring8")
    c.model.critic_steps = 1
    c.train.batch_size = 256
    c.optimizer.generator.learning_rate = 1e-3
    c.optimizer.discriminator.learning_rate = 1e-3
    c.study.num_steps = 2000
    c.study.record_every = 20
    c.study.quality_every = 250
    c.study.early_steps = 500
  elif variant == "smoke":
    c.model.generator_hidden = (32,)
    c.model.discriminator_hidden = (32,)
    c.model.latent_dim = 8
    c.model.discriminator_dropout = 0.0
    c.model.critic_steps = 5
    c.train.batch_size = 5 * 16
    c.optimizer.discriminator.learning_rate = 1e-2
    c.study.num_steps = 30
    c.study.record_every = 5
    c.study.probe_size = 64
    c.study.quality_every = 15
    c.study.quality_size = 50
    c.study.early_steps = 30
  else:
    raise ValueError(f"unknown variant '{variant}' of gan_scaling_study.py; "
                     "choose one of default, ring8, smoke.")
  return c

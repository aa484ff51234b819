"""GAN (Goodfellow et al. 2014) on Fashion-MNIST and on 2-D toy data.

Launch:
  python -m experiments.train --config=experiments/configs/gan.py --workdir=/tmp/gan
  python -m experiments.train --config=experiments/configs/gan.py:ring8 --workdir=/tmp/gan_ring8

Variants (`:variant`):
  default   the practical's MLP GAN (seed 001 §2.3): G z100 -> 128 -> 256 ->
            512 -> 1024 -> 784, LeakyReLU(0.2), tanh; D 784 -> 512 -> 256 ->
            1, LeakyReLU(0.2), dropout 0.2; non-saturating generator loss
            (-log D(G(z))), Adam(2e-4, b1 = 0.5), batch 64, k = 1,
            data uniformly dequantised to [-1, 1]. RESULT below.
  minimax   the same with the saturating generator loss log(1 - D(G(z)))
            (Goodfellow et al. 2014, eq. 1): expect slower early progress.
  ring8     8 Gaussians on a circle (radius 2, std 0.02), toy MLPs
            (2 x 128 ReLU), non-saturating loss. RESULT below.
  grid25    5 x 5 grid of Gaussians (spacing 2, std 0.05), same nets.
  smoke     a few steps on tiny nets, for tests (seconds).

Results (measured on the 2-core CPU while ~8 other jobs shared it (load
average 20-30), so wall times are several times an idle machine's):
  default: not run to its 6000 steps here; with --config.train.num_steps=1500
           (eval/checkpoint every 500; 15 min wall under that load, of which
           ~7 min training): classifier FID (test split, 10,000 samples)
           219.3, KID 8.49, IS 2.05, precision 0.62, recall 0.00; the
           periodic FID on 2000 samples fell 358 -> 275 -> 219 at steps
           500 / 1000 / 1500, so the full 6000 steps (~4-5 min of training
           on an idle 2-core CPU) should go well below that. Samples at 1500
           steps are noisy garment silhouettes.
  ring8:   5000 steps, 13 min of training wall time under that load: 6 of 8
           modes covered from step 1000 on (the critic's contours are high on
           the two dropped modes), high-quality fraction 0.68, exact W1 0.45
           against the test split (data-to-data baseline 0.055), on 10,000
           samples.

`config.eval`: sample metrics (FID/KID/IS/precision-recall against the test
split with the project's Fashion-MNIST classifier; mode coverage and W1 on
toy data) at the end, and with 2000 samples at every evaluation of the image
variants so FID is tracked over training.

This file also provides `base_config` and `use_toy_data`, which the other
adversarial configs (dcgan, fgan, wgan, wgan_gp, cramer_gan) build on.
"""

import ml_collections

# Training examples after the 5000-example validation split.
TRAIN_EXAMPLES = 55000


def _optimizer(lr, b1, b2, name="adam"):
  o = ml_collections.ConfigDict()
  o.name = name
  o.learning_rate = lr
  o.schedule = "constant"
  o.warmup_steps = 0
  o.b1 = b1
  o.b2 = b2
  o.eps = 1e-8
  o.decay = 0.9            # RMSProp only
  o.weight_decay = 0.0
  o.grad_clip_norm = 0.0
  return o


def base_config() -> ml_collections.ConfigDict:
  """The MLP non-saturating GAN on Fashion-MNIST (the default variant)."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"
  c.data.data_dir = ""
  c.data.download = False
  c.data.validation_size = 5000
  c.data.split_seed = 0
  c.data.image_size = 0
  c.data.binarization = "none"
  c.data.dequantization = "uniform"
  c.data.value_range = "-1_1"

  c.model = ml_collections.ConfigDict()
  c.model.name = "gan"
  c.model.objective = "non_saturating"  # minimax | non_saturating | fgan |
  #                                       wgan | wgan_gp | hinge | cramer
  c.model.divergence = "gan"             # f-GAN only (divergences.py names)
  c.model.fgan_non_saturating = True     # f-GAN generator loss -g_f(V)
  c.model.fgan_update = "single_step"    # f-GAN: single_step | alternating
  c.model.architecture = "mlp"           # mlp | dcgan | toy
  c.model.latent_dim = 100
  c.model.generator_hidden = (128, 256, 512, 1024)
  c.model.discriminator_hidden = (512, 256)
  c.model.generator_channels = (128, 64)       # dcgan: 7x7x128 -> 14x14x64
  c.model.discriminator_channels = (64, 128)   # dcgan: 14x14x64 -> 7x7x128
  c.model.activation = "leaky_relu"      # mlp / toy hidden layers
  c.model.generator_norm = "none"        # none | batch
  c.model.discriminator_norm = "none"    # none | batch | layer | spectral
  c.model.generator_dropout = 0.0
  c.model.discriminator_dropout = 0.2
  c.model.critic_steps = 1               # k critic updates per generator update
  c.model.gp_weight = 10.0               # lambda (wgan_gp, cramer)
  c.model.clip_value = 0.01              # c (wgan)
  c.model.cramer_dim = 256               # k of the Cramér critic h: X -> R^k
  c.model.real_label = 1.0               # < 1: one-sided label smoothing

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.generator = _optimizer(2e-4, 0.5, 0.999)
  c.optimizer.discriminator = _optimizer(2e-4, 0.5, 0.999)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 64                # = critic_steps x minibatch
  c.train.num_steps = 6000
  c.train.log_every = 200
  c.train.eval_every = 2000
  c.train.checkpoint_every = 2000
  c.train.keep_checkpoints = 2
  c.train.eval_batch_size = 400
  c.train.eval_examples = 2000
  c.train.final_eval_split = "test"
  c.train.final_eval_examples = 0
  c.train.final_eval_batch_size = 400

  c.eval = ml_collections.ConfigDict()
  c.eval.sample_metrics = True
  c.eval.num_samples = 10000
  c.eval.periodic_num_samples = 2000
  return c


def use_toy_data(c: ml_collections.ConfigDict, name: str = "ring8",
                 num_steps: int = 5000) -> ml_collections.ConfigDict:
  """Switches `c` to a 2-D toy set with the small toy MLPs (in place)."""
  c.data = ml_collections.ConfigDict()
  c.data.name = name
  c.data.split_seed = 0
  c.data.toy_num_train = 100_000
  c.data.toy_num_validation = 10_000
  c.data.toy_num_test = 10_000
  c.model.architecture = "toy"
  c.model.latent_dim = 2
  c.model.generator_hidden = (128, 128)
  c.model.discriminator_hidden = (128, 128)
  c.model.activation = "relu"
  c.model.discriminator_dropout = 0.0
  c.model.cramer_dim = 16
  c.train.batch_size = 256 * c.model.critic_steps
  c.train.num_steps = num_steps
  c.train.log_every = 250
  c.train.eval_every = 1000
  c.train.checkpoint_every = 1000
  c.train.eval_batch_size = 1000
  c.train.eval_examples = 10_000
  c.train.final_eval_batch_size = 1000
  c.eval.num_samples = 10_000
  c.eval.periodic_num_samples = 2000
  return c


def make_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Tiny nets, 3 steps, 200 evaluation examples, no sample metrics."""
  k = c.model.critic_steps
  c.model.generator_hidden = (16,)
  c.model.discriminator_hidden = (16,)
  c.model.generator_channels = (8, 4)
  c.model.discriminator_channels = (4, 8)
  c.model.cramer_dim = 4
  c.model.latent_dim = 4
  c.train.batch_size = 8 * k
  c.train.num_steps = 3
  c.train.log_every = 1
  c.train.eval_every = 3
  c.train.checkpoint_every = 3
  c.train.eval_batch_size = 200
  c.train.eval_examples = 200
  c.train.final_eval_examples = 200
  c.train.final_eval_batch_size = 200
  if c.data.name in ("ring8", "grid25", "two_moons", "swiss_roll",
                     "gaussian1d", "mixture1d", "cubic1d"):
    c.data.toy_num_train = 1000
    c.data.toy_num_validation = 200
    c.data.toy_num_test = 200
  c.eval.sample_metrics = False
  c.eval.num_samples = 200
  c.eval.periodic_num_samples = 0
  return c


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = base_config()
  if variant == "default":
    pass
  elif variant == "minimax":
    c.model.objective = "minimax"
  elif variant in ("ring8", "grid25"):
    use_toy_data(c, variant)
    c.optimizer.generator = _optimizer(1e-3, 0.5, 0.999)
    c.optimizer.discriminator = _optimizer(1e-3, 0.5, 0.999)
  elif variant == "smoke":
    make_smoke(c)
  else:
    raise ValueError(f"unknown variant '{variant}' of gan.py; choose one of "
                     "default, minimax, ring8, grid25, smoke.")
  return c

"""Adversarial autoencoder (Makhzani et al. 2015) on Fashion-MNIST.

Launch:
  python -m experiments.train --config=experiments/configs/aae.py --workdir=/tmp/aae
  python -m experiments.train --config=experiments/configs/aae.py:mixture2d --workdir=/tmp/aae_mix
  python -m experiments.aae_latent_figure --workdir=/tmp/aae_mix --out=docs/aae_latent_mixture.png

Variants (`:variant`):
  default    MLP encoder/decoder 784-512-512-z8 (deterministic encoder),
             Bernoulli decoder on dynamically binarised data, Gaussian prior
             N(0, I), latent discriminator 512-512, Adam(1e-3 / 2e-4 /
             2e-4, b1 = 0.5 for the two adversarial players), batch 100.
             RESULT below.
  mixture2d  z = 2 with the paper's mixture of 10 Gaussians (Fig. 4): the
             latent scatter of the test codes, coloured by class, over the
             prior's density (images/latent_*.png in the run;
             docs/aae_latent_mixture.png via experiments/aae_latent_figure).
  ring2d     z = 2 with a continuous ring prior.
  swiss2d    z = 2 with the paper's swiss-roll prior.
  l2         the default with the squared-error ("Gaussian") decoder on
             [0, 1] grey levels.
  smoke      3 steps of tiny nets, for tests (seconds).
  mixture2d_smoke  the same with the 2-D mixture prior.

Results (seed 0, measured on the 2-core CPU while ~10 other jobs shared it,
load average ~30, so wall times are several times an idle machine's; sample
metrics: 10,000 samples against the 10,000 test images, the project's
classifier, README protocol):
  default    3191 steps (5.8 epochs; the run was stopped for time and
             evaluated from its checkpoint: `--config.train.num_steps=2750`
             in the same workdir then evaluates the newest checkpoint),
             34 min of training under that load: FID 94.2, KID 5.09, IS 4.58,
             diversity 0.953, precision 0.932, recall 0.061; test
             reconstruction 239.7 nats (Bernoulli), squared error 18.2 per
             image against the grey levels, code-vs-prior MMD² 0.035.
  mixture2d  4500 steps (`--config.train.num_steps=4500`, ~5 min of
             training at lighter load): 68.1% of the 10,000 test codes lie in
             the prior's 99% highest-density region (63.7% at 1500 steps),
             classes on their own arms, some arms still sparse
             (docs/aae_latent_mixture.png); test reconstruction 256.1 nats.
  ring2d     3000 steps (78 s of training): 66.1% in the ring's 99% HDR,
             the classes in arcs around it (docs/aae_latent_ring.png); test
             reconstruction 257.2 nats.
"""

import ml_collections

# Training examples after the 5000-example validation split.
TRAIN_EXAMPLES = 55000


def optimizer(lr: float, b1: float = 0.9, b2: float = 0.999
              ) -> ml_collections.ConfigDict:
  """An Adam chain config (gdm_jax/core/optimizers.py fields)."""
  o = ml_collections.ConfigDict()
  o.name = "adam"
  o.learning_rate = lr
  o.schedule = "constant"
  o.warmup_steps = 0
  o.b1 = b1
  o.b2 = b2
  o.eps = 1e-8
  o.weight_decay = 0.0
  o.grad_clip_norm = 0.0
  return o


def base_config() -> ml_collections.ConfigDict:
  """Fashion-MNIST, MLP autoencoder: shared by aae.py and wae.py."""
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"
  c.data.data_dir = ""
  c.data.download = False
  c.data.validation_size = 5000
  c.data.split_seed = 0
  c.data.image_size = 0
  c.data.binarization = "dynamic"
  c.data.dequantization = "none"
  c.data.value_range = "0_1"

  c.model = ml_collections.ConfigDict()
  c.model.hidden = (512, 512)
  c.model.latent_dim = 8
  c.model.prior = "gaussian"          # gaussian | mixture | ring | swiss_roll
  c.model.prior_scale = 1.0           # sigma of the Gaussian prior
  c.model.discriminator_hidden = (512, 512)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 100
  c.train.num_steps = 10 * (TRAIN_EXAMPLES // 100)
  c.train.log_every = 250
  c.train.eval_every = 2750
  c.train.checkpoint_every = 2750
  c.train.keep_checkpoints = 2
  c.train.eval_batch_size = 500
  c.train.eval_examples = 0
  c.train.final_eval_split = "test"
  c.train.final_eval_examples = 0
  c.train.final_eval_batch_size = 500

  c.eval = ml_collections.ConfigDict()
  c.eval.sample_metrics = True
  c.eval.num_samples = 10000
  c.eval.periodic_num_samples = 0
  c.eval.reference_split = "test"
  return c


def make_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Tiny nets, 3 steps, 200 evaluation examples, no sample metrics."""
  c.model.hidden = (16,)
  c.model.discriminator_hidden = (16,)
  c.train.batch_size = 20
  c.train.num_steps = 3
  c.train.log_every = 1
  c.train.eval_every = 3
  c.train.checkpoint_every = 3
  c.train.eval_batch_size = 100
  c.train.eval_examples = 100
  c.train.final_eval_examples = 100
  c.train.final_eval_batch_size = 100
  c.eval.sample_metrics = False
  c.eval.num_samples = 100
  return c


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = base_config()
  c.model.name = "aae"
  c.model.likelihood = "bernoulli"    # bernoulli | l2
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.autoencoder = optimizer(1e-3)
  c.optimizer.discriminator = optimizer(2e-4, b1=0.5)
  c.optimizer.generator = optimizer(2e-4, b1=0.5)

  smoke = variant.endswith("smoke")
  base = variant[:-len("_smoke")] if variant.endswith("_smoke") else (
      "default" if variant == "smoke" else variant)
  if base == "default":
    pass
  elif base in ("mixture2d", "ring2d", "swiss2d"):
    c.model.latent_dim = 2
    c.model.prior = {"mixture2d": "mixture", "ring2d": "ring",
                     "swiss2d": "swiss_roll"}[base]
    c.eval.sample_metrics = False
  elif base == "l2":
    c.data.binarization = "none"
    c.model.likelihood = "l2"
  else:
    raise ValueError(f"unknown variant '{variant}' of aae.py; choose one of "
                     "default, mixture2d, ring2d, swiss2d, l2, smoke (or "
                     "<variant>_smoke).")
  if smoke:
    make_smoke(c)
  return c

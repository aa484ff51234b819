"""Helmholtz machine (sigmoid belief network + recognition model) trained by
wake-sleep on dynamically binarised Fashion-MNIST (gdm_jax/models/helmholtz.py).

Launch:
  python -m experiments.train --config=experiments/configs/helmholtz.py --workdir=/tmp/hm
  python -m experiments.train --config=experiments/configs/helmholtz.py:rws --workdir=/tmp/hm_rws

Variants (`:variant`):
  default    the classic Helmholtz machine: one layer of 200 binary units,
             affine generative and recognition conditionals (784-200, learned
             prior logits), wake-sleep, Adam 1e-3 (constant) for both models,
             batch 128, 6000 steps (~14 epochs: what fits in ~10 min of
             training on the shared 2-core CPU; a GPU or an idle machine
             would take the VAE default's 50 epochs). RESULT below.
  two_layer  784-200-200 affine SBN (Bornschein and Bengio's SBN layers),
             wake-sleep, same budget (not measured here: ~3x the default's
             step time).
  rws        the default's network trained by reweighted wake-sleep, K = 5,
             wake- and sleep-phase q updates averaged (~8x the default's
             step time on the CPU).
  reinforce  the default's network trained on the ELBO itself: θ by
             E_q ∇_θ log p(x, z), φ by the score function with a
             leave-one-out baseline over K = 2 samples (the like-for-like
             ELBO-trained SBN for the comparison with wake-sleep).
  smoke      3 steps of a tiny model, for tests (seconds).

Evaluation (final_metrics.json): test ELBO (one Monte Carlo sample per
example, nats) and the K=1000 importance-sampled NLL with q as proposal, the
same protocol as the VAE family, on the first 2000 test images.

RESULT (measured 2026-11-21 on the 2-core CPU shared with ~8 other jobs,
load average ~33, three runs at a time, so wall times are several times an
idle machine's; same 2000 test images, K=1000):
  python -m experiments.train --config=experiments/configs/helmholtz.py \
    --workdir=/tmp/hm
  python -m experiments.train --config=experiments/configs/helmholtz.py:reinforce \
    --workdir=/tmp/hm_reinforce --config.eval.sample_metrics=False
  python -m experiments.train --config=experiments/configs/vae.py \
    --workdir=/tmp/vae200 --config.model.hidden='()' \
    --config.model.latent_dim=200 --config.train.num_steps=6000 \
    --config.train.final_eval_examples=2000 --config.eval.sample_metrics=False
  model (6000 steps)              test ELBO  test NLL  val ELBO  train s
  SBN 200, wake-sleep (default)    -280.8     259.9     -278.7     621
  SBN 200, ELBO (reinforce, K=2)   -270.6     257.9     -268.5     638
  VAE affine, z = 200 Gaussian     -270.5     260.3     -268.1     714
  Wake-sleep's ELBO is 10 nats below the ELBO-trained models' (its q is fit
  by the sleep phase's KL(p || q), not the ELBO's KL(q || p)), yet its K=1000
  NLL is level with the VAE's: the mass-covering q is a good importance
  proposal. At 2000 steps (validation ELBO; constant learning rates, so
  the 6000-step runs' step-2000 values are those of 2000-step runs):
  wake-sleep -353.2, reinforce -281.6, VAE -282.6, and reweighted
  wake-sleep (`:rws`, K=5, --config.train.num_steps=2000, 52 s idle) -281.5,
  test ELBO -283.8, test NLL 262.8: the importance weights fix wake-sleep's
  slow start. The wake-sleep default's samples (10,000, test split,
  the project's classifier): FID 229.4, KID 9.46, IS 1.98, precision 0.93,
  recall 0.00. Samples: docs/helmholtz_samples.png.
"""

import ml_collections

# Training examples after the 5000-example validation split.
_TRAIN_EXAMPLES = 55000


def _epochs(n, batch_size):
  return n * (_TRAIN_EXAMPLES // batch_size)


def _optimizer(lr):
  o = ml_collections.ConfigDict()
  o.name = "adam"
  o.learning_rate = lr
  o.schedule = "constant"
  o.warmup_steps = 0
  o.b1 = 0.9
  o.b2 = 0.999
  o.eps = 1e-8
  o.weight_decay = 0.0
  o.grad_clip_norm = 0.0
  return o


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"
  c.data.data_dir = ""
  c.data.download = False
  c.data.validation_size = 5000
  c.data.split_seed = 0
  c.data.image_size = 0
  c.data.binarization = "dynamic"   # dynamic | static
  c.data.dequantization = "none"
  c.data.value_range = "0_1"

  c.model = ml_collections.ConfigDict()
  c.model.name = "helmholtz"
  c.model.latent_sizes = (200,)     # n_1 .. n_L, bottom to top
  c.model.hidden = ()               # () = affine conditionals (classic)
  c.model.training = "wake_sleep"   # wake_sleep | reweighted
  c.model.num_samples = 5           # K of reweighted wake-sleep
  c.model.q_update = "wake_sleep"   # reweighted: wake | sleep | wake_sleep
  c.model.sleep_batch_size = 0      # dreams per step; 0 = train.batch_size
  c.model.eval_num_samples = 1000
  c.model.eval_chunk_size = 100

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.generative = _optimizer(1e-3)
  c.optimizer.recognition = _optimizer(1e-3)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 128
  c.train.num_steps = 6000                 # ~14 epochs
  c.train.log_every = 200
  c.train.eval_every = 2000
  c.train.checkpoint_every = 2000
  c.train.keep_checkpoints = 2
  c.train.eval_batch_size = 500
  c.train.eval_examples = 0          # 0 = the whole validation split
  c.train.final_eval_split = "test"
  c.train.final_eval_examples = 2000  # K=1000 NLL on the first 2000 test images
  c.train.final_eval_batch_size = 200

  c.eval = ml_collections.ConfigDict()
  c.eval.sample_metrics = True
  c.eval.num_samples = 10000
  c.eval.periodic_num_samples = 0

  if variant == "default":
    pass
  elif variant == "two_layer":
    c.model.latent_sizes = (200, 200)
  elif variant == "rws":
    c.model.training = "reweighted"
  elif variant == "reinforce":
    c.model.training = "reinforce"
    c.model.num_samples = 2
  elif variant == "smoke":
    c.model.latent_sizes = (8, 4)
    c.model.hidden = (16,)
    c.model.eval_num_samples = 20
    c.model.eval_chunk_size = 10
    c.train.batch_size = 16
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
  else:
    raise ValueError(f"unknown variant '{variant}' of helmholtz.py; choose one "
                     "of default, two_layer, rws, reinforce, smoke.")
  return c

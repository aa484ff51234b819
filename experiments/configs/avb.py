"""Adversarial Variational Bayes (Mescheder et al. 2017) on Fashion-MNIST.

Launch (`:variant`: default, contrast (adaptive contrast, §4)):
  python -m experiments.train --config=experiments/configs/avb.py --workdir=/tmp/avb
  python -m experiments.train --config=experiments/configs/avb.py:contrast --workdir=/tmp/avb_c

Expected results (1000 steps = 2.3 epochs, batch 128; test NLL by importance
sampling, K = 1000, on the first 200 test examples; the 2-core CPU at load
average 20-29), with
  --config.train.num_steps=1000 --config.train.final_eval_examples=200
  --config.eval.sample_metrics=False --config.train.eval_every=500
  --config.train.checkpoint_every=500 --config.train.eval_examples=2000
  model            test NLL  AVB estimate  KL estimate  recon.  wall s
  VAE (vae.py)       252.7   ELBO -256.9   11.9 (exact)  245.0    328
  AVB (default)      270.4       -252.0       5.7       246.3    704
  AVB + contrast     257.3       -245.0       1.2       243.8    528
The AVB estimate E[log p(x|z) - T(x, z)] is not a bound.
"""

import ml_collections

from experiments.configs import common


def _optimizer(lr: float) -> ml_collections.ConfigDict:
  return common.optimizer(lr, schedule="cosine", warmup_steps=100)


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.config(
      data=common.fashion_mnist(binarization="dynamic"),
      model=dict(
          name="avb", hidden=(512, 512), latent_dim=32, noise_dim=32,
          noise_injection="layers",          # input | layers
          likelihood="bernoulli",            # bernoulli | gaussian
          fixed_scale=0.1,                   # σ of a Gaussian decoder
          discriminator_architecture="inner_product",  # | concat
          discriminator_hidden=(512, 512), discriminator_embedding_dim=64,
          discriminator_activation="relu", discriminator_steps=1,
          adaptive_contrast=False, contrast_samples=8,
          # Test NLL: K samples from the equal-weight mixture of
          # N(m, (c s)²) over the scales c, (m, s) moment-matched to
          # eval_proposal_samples encoder samples.
          eval_num_samples=1000, eval_chunk_size=100,
          eval_proposal_samples=128,
          eval_proposal_scales=(1.0, 2.0, 4.0, 8.0),
          eval_proposal_min_std=1e-3),
      optimizer=ml_collections.ConfigDict(dict(
          encoder_decoder=_optimizer(1e-3), discriminator=_optimizer(1e-3))),
      train=common.train(batch_size=128, num_steps=common.epochs(50, 128),
                         log_every=200, eval_every=2000, eval_batch_size=400,
                         final_eval_batch_size=200))
  return common.select(c, "avb.py", variant, {
      "default": {}, "contrast": dict(model=dict(adaptive_contrast=True))})

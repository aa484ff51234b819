"""Adversarial autoencoder (Makhzani et al. 2015) on Fashion-MNIST.

Launch (`:variant`: default (Gaussian prior, z = 8), mixture2d / ring2d /
swiss2d (z = 2 with the paper's 10-Gaussian mixture, a ring, a swiss roll;
the run draws the test codes over the prior, images/latent_*.png), l2
(squared-error decoder on grey levels)):
  python -m experiments.train --config=experiments/configs/aae.py --workdir=/tmp/aae
  python -m experiments.train --config=experiments/configs/aae.py:mixture2d --workdir=/tmp/aae_mix
  python -m experiments.aae_latent_figure --workdir=/tmp/aae_mix --out=docs/aae_latent_mixture.png

Expected results (seed 0; sample metrics on 10,000 samples against the
10,000 test images with the project's classifier; the 2-core CPU shared
with ~10 other jobs, load average ~30):
  default    3191 steps (stopped for time; `--config.train.num_steps=2750`
             in the same workdir evaluates the newest checkpoint), 34 min
             of training: FID 94.2, KID 5.09, IS 4.58, precision 0.932,
             recall 0.061; test reconstruction 239.7 nats, squared error
             18.2 per image, code-vs-prior MMD² 0.035.
  mixture2d  --config.train.num_steps=4500 (~5 min of training at lighter
             load): 68.1% of the test codes in the prior's 99% highest-
             density region; test reconstruction 256.1 nats.
  ring2d     3000 steps (78 s of training): 66.1% in the ring's 99% HDR;
             test reconstruction 257.2 nats.
"""

import ml_collections

from experiments.configs import common

optimizer = common.optimizer


def base_config() -> ml_collections.ConfigDict:
  """Fashion-MNIST, MLP autoencoder: shared by aae.py and wae.py."""
  return common.config(
      data=common.fashion_mnist(binarization="dynamic"),
      model=dict(hidden=(512, 512), latent_dim=8,
                 prior="gaussian",  # gaussian | mixture | ring | swiss_roll
                 prior_scale=1.0,   # sigma of the Gaussian prior
                 discriminator_hidden=(512, 512)),
      optimizer=ml_collections.ConfigDict(),
      train=common.train(batch_size=100, num_steps=common.epochs(10, 100),
                         log_every=250, eval_every=2750, eval_batch_size=500,
                         final_eval_batch_size=500),
      eval=common.evaluation(reference_split="test"))


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = base_config()
  c.model.update(name="aae", likelihood="bernoulli")  # bernoulli | l2
  c.optimizer.update(autoencoder=optimizer(1e-3),
                     discriminator=optimizer(2e-4, b1=0.5),
                     generator=optimizer(2e-4, b1=0.5))
  variants = {"default": {}, "l2": dict(data=dict(binarization="none"),
                                        model=dict(likelihood="l2"))}
  for name, prior in (("mixture2d", "mixture"), ("ring2d", "ring"),
                      ("swiss2d", "swiss_roll")):
    variants[name] = dict(model=dict(latent_dim=2, prior=prior),
                          eval=dict(sample_metrics=False))
  return common.select(c, "aae.py", variant, variants)

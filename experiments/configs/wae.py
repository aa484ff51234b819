"""Wasserstein autoencoders (Tolstikhin et al. 2018) on Fashion-MNIST.

Launch (`:variant`: mmd (the default; WAE-MMD, IMQ kernel, λ = 10), mmd_rbf
(RBF kernel at the fixed scales), mmd_rbf_median (RBF kernel, the authors'
median-heuristic bandwidth), gan (WAE-GAN, λ = 1), mixture2d (WAE-MMD, z = 2, the AAE
paper's 10-Gaussian mixture prior)):
  python -m experiments.train --config=experiments/configs/wae.py --workdir=/tmp/wae_mmd
  python -m experiments.train --config=experiments/configs/wae.py:gan --workdir=/tmp/wae_gan

Expected results (seed 0; sample metrics on 10,000 samples against the
10,000 test images with the project's classifier; the 2-core CPU shared
with ~10 other jobs, load average 10-35):
  mmd  3407 steps (stopped for time, evaluated from that checkpoint), 27
       min of training: FID 85.6, KID 5.02, IS 4.52, precision 0.858,
       recall 0.192; test cost ||x - G(Q(x))||² 11.03 per image,
       code-vs-prior MMD² 0.0126.
  gan  --config.train.num_steps=3300, 6 min of training: FID 63.3, KID
       3.39, IS 5.23, precision 0.900, recall 0.147; test cost 11.19, MMD²
       0.0057.
"""

import ml_collections

from experiments.configs import aae
from experiments.configs import common


def get_config(variant: str = "mmd") -> ml_collections.ConfigDict:
  c = aae.base_config()
  c.data.binarization = "none"        # grey levels in [0, 1]
  c.model.update(
      name="wae",
      penalty="mmd",                  # mmd | gan
      kernel="imq",                   # imq | rbf (mmd only)
      rbf_bandwidth="fixed",          # fixed (the scales below) | median
      kernel_scales=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
      penalty_weight=10.0,            # λ
      cost_scale=1.0)                 # the released code's 0.05 = λ x 20
  c.optimizer.update(autoencoder=aae.optimizer(1e-3),
                     discriminator=aae.optimizer(5e-4, b1=0.5))
  variants = {
      "mmd": {},
      "mmd_rbf": dict(model=dict(kernel="rbf")),
      "mmd_rbf_median": dict(model=dict(kernel="rbf", rbf_bandwidth="median")),
      "gan": dict(model=dict(penalty="gan", penalty_weight=1.0)),
      "mixture2d": dict(model=dict(latent_dim=2, prior="mixture"),
                        eval=dict(sample_metrics=False)),
      "default": {}}  # = mmd
  return common.select(c, "wae.py", variant, variants)

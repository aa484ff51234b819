"""Wasserstein autoencoders (Tolstikhin et al. 2018) on Fashion-MNIST.

Launch:
  python -m experiments.train --config=experiments/configs/wae.py --workdir=/tmp/wae_mmd
  python -m experiments.train --config=experiments/configs/wae.py:gan --workdir=/tmp/wae_gan

Variants (`:variant`):
  mmd (default)  WAE-MMD (Algorithm 2), IMQ kernel with C = 2 d_z σ_z² over
                 the scales {0.1, ..., 10}, λ = 10; MLP encoder/decoder
                 784-512-512-z8, sigmoid mean on [0, 1] grey levels, cost
                 ||x - G(z)||² summed over pixels; prior N(0, I_8); Adam 1e-3,
                 batch 100, 10 epochs. RESULT below.
  mmd_rbf        the same with the RBF kernel exp(-||x - y||² / C_s).
  gan            WAE-GAN (Algorithm 1), λ = 1, latent discriminator 512-512,
                 Adam(1e-3) for Q, G and Adam(5e-4, b1 = 0.5) for D.
  mixture2d      WAE-MMD with z = 2 and the AAE paper's 10-Gaussian mixture
                 prior (images/latent_*.png shows the codes over it).
  smoke, gan_smoke, mmd_rbf_smoke   3 steps of tiny nets (tests).

Results (measured on the shared 2-core CPU, see the README section of the
report; sample metrics on 10,000 samples against the test split with the
project's classifier):
  RESULT
"""

import ml_collections

from experiments.configs import aae as aae_config


def get_config(variant: str = "mmd") -> ml_collections.ConfigDict:
  c = aae_config.base_config()
  c.data.binarization = "none"        # grey levels in [0, 1]
  c.model.name = "wae"
  c.model.penalty = "mmd"             # mmd | gan
  c.model.kernel = "imq"              # imq | rbf (mmd only)
  c.model.kernel_scales = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
  c.model.penalty_weight = 10.0       # λ
  c.model.cost_scale = 1.0            # the released code's 0.05 = λ x 20
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.autoencoder = aae_config.optimizer(1e-3)
  c.optimizer.discriminator = aae_config.optimizer(5e-4, b1=0.5)

  smoke = variant == "smoke" or variant.endswith("_smoke")
  base = variant[:-len("_smoke")] if variant.endswith("_smoke") else (
      "mmd" if variant in ("smoke", "default") else variant)
  if base == "mmd":
    pass
  elif base == "mmd_rbf":
    c.model.kernel = "rbf"
  elif base == "gan":
    c.model.penalty = "gan"
    c.model.penalty_weight = 1.0
  elif base == "mixture2d":
    c.model.latent_dim = 2
    c.model.prior = "mixture"
    c.eval.sample_metrics = False
  else:
    raise ValueError(f"unknown variant '{variant}' of wae.py; choose one of "
                     "mmd (default), mmd_rbf, gan, mixture2d, smoke, "
                     "gan_smoke, mmd_rbf_smoke.")
  if smoke:
    aae_config.make_smoke(c)
  return c

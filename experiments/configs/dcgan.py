"""DCGAN (Radford et al. 2016) on Fashion-MNIST, non-saturating loss.

Launch:
  python -m experiments.train --config=experiments/configs/dcgan.py --workdir=/tmp/dcgan

Variants (`:variant`):
  default  G: z100 -> dense 7x7x64 -> BN, ReLU -> x2 sub-pixel 14x14x32 ->
           BN, ReLU -> x2 sub-pixel 28x28x1 -> tanh; D: 4x4 stride-2 convs
           32 -> 64 with LeakyReLU(0.2), batch norm on the second, dense
           logit (the paper's guidelines, §3, at small channel counts
           because XLA's CPU convolutions are slow); Adam(2e-4, b1 = 0.5),
           batch 64, k = 1. MEASURED only with --config.train.num_steps=500
           (the machine was shared by ~8 jobs, load average 20-30; the 500
           steps ran at 0.4 steps/s, ~16 min): classifier FID (test split,
           10,000 samples) 212.4, KID 9.12, IS 1.89, precision 0.76,
           recall 0.01; samples are blurry garment shapes. On an idle 2-core
           CPU the 2000-step default should take ~10-15 min; the paper's
           channel widths need a GPU.
  smoke    a few steps on tiny nets, for tests (seconds).

Upsampling is sub-pixel (conv + depth-to-space) rather than a strided
transposed convolution: see gdm_jax/nn/gan_nets.py for the measurement. A
GPU would allow the paper's 1024-512-256-128 channel widths.
"""

import ml_collections

from experiments.configs import gan as gan_config


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = gan_config.base_config()
  c.model.architecture = "dcgan"
  c.model.generator_channels = (64, 32)
  c.model.discriminator_channels = (32, 64)
  c.model.generator_norm = "batch"
  c.model.discriminator_norm = "batch"
  c.model.discriminator_dropout = 0.0
  c.train.num_steps = 2000
  c.train.eval_every = 1000
  c.train.checkpoint_every = 1000
  if variant == "default":
    pass
  elif variant == "smoke":
    gan_config.make_smoke(c)
  else:
    raise ValueError(f"unknown variant '{variant}' of dcgan.py; choose one of "
                     "default, smoke.")
  return c

"""WGAN-GP (Gulrajani et al. 2017, Algorithm 1): λ = 10, n_critic = 5,
Adam(1e-4, b1 = 0, b2 = 0.9), minibatch 64 (trainer batch 5 x 64).

Launch (`:variant`: default = cpu (conv critic with layer norm, the DCGAN
generator, small widths), paper, mlp (gan.py's MLPs), ring8 and grid25 (toy
MLPs with the authors' toy settings λ = 0.1, Adam(1e-4, b1 = 0.5, b2 =
0.9))):
  python -m experiments.train --config=experiments/configs/wgan_gp.py --workdir=/tmp/wgan_gp
  python -m experiments.train --config=experiments/configs/wgan_gp.py:paper --workdir=/tmp/wgan_gp_paper
  python -m experiments.train --config=experiments/configs/wgan_gp.py:ring8 --workdir=/tmp/wgan_gp_ring8

paper: the authors' MNIST model (their gan_mnist.py, DIM = 64): critic
stride-2 convolutions 64-128-256 with LeakyReLU and no normalisation (4x4
kernels here, 5x5 there), generator 128 latent dimensions -> 7x7x128 ->
14x14x64 -> 28x28x1 without normalisation (their 4x4x256 stage, cropped to
7x7, is left out), λ = 10, n_critic = 5, Adam(1e-4, b1 = 0.5, b2 = 0.9),
minibatch 50 (trainer batch 5 x 50), 200,000 generator iterations. The
paper reports no MNIST number; the recipe aims at FID <= 40 on the
project's protocol. Not yet measured: it is sized for a GPU.

Expected results:
  default  measured only for 100 generator steps (500 critic updates,
           ~0.1 steps/s, ~22 min on the 2-core CPU shared with ~8 jobs):
           FID 322.4, IS 1.12, precision 0.96, recall 0.00 (10,000
           samples, the project's classifier, test split); test W estimate
           12.3, gradient penalty 0.29.
  ring8    5000 steps, seeds 0-2: all 8 modes by step ~1500, high-quality
           fraction 0.645 ± 0.010, W1 0.166 ± 0.008
           (experiments/configs/mode_collapse_study.py). With the image
           setting λ = 10 and critic rate 1e-4: 0-2 of 8 modes, W1 1.9.
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan

_NO_NORM = dict(generator_norm="none", discriminator_norm="none")


def _paper(c: ml_collections.ConfigDict) -> None:
  """The authors' gan_mnist.py recipe (see the module docstring)."""
  common.update(c, dict(
      model=dict(latent_dim=128, generator_channels=(128, 64),
                 discriminator_channels=(64, 128, 256), **_NO_NORM),
      train=dict(batch_size=5 * 50, num_steps=200_000, log_every=1000,
                 eval_every=10_000, checkpoint_every=10_000)))
  c.optimizer = gan.players(1e-4, 0.5, 0.9)


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(
      model=dict(objective="wgan_gp", critic_steps=5, discriminator_dropout=0.0,
                 architecture="dcgan",
                 generator_channels=(64, 32), discriminator_channels=(32, 64),
                 generator_norm="batch", discriminator_norm="layer"),
      train=dict(batch_size=5 * 64, num_steps=1000, log_every=100,
                 eval_every=500, checkpoint_every=500)))
  c.optimizer = gan.players(1e-4, 0.0, 0.9)

  def toy(c, name):
    gan.use_toy_data(c, name)
    common.update(c.model, _NO_NORM | dict(gp_weight=0.1))  # their gan_toy.py
    c.optimizer = gan.players(1e-4, 0.5, 0.9)

  return common.select(c, "wgan_gp.py", variant, {
      "default": {}, "cpu": {},
      "paper": _paper,
      "mlp": dict(model=dict(architecture="mlp", **_NO_NORM),
                  train=dict(num_steps=3000, eval_every=1000,
                             checkpoint_every=1000)),
      "ring8": lambda c: toy(c, "ring8"),
      "grid25": lambda c: toy(c, "grid25")})

"""GAN (Goodfellow et al. 2014) on Fashion-MNIST and on 2-D toy data.

Launch (`:variant`: default, minimax (saturating loss), ring8, grid25):
  python -m experiments.train --config=experiments/configs/gan.py --workdir=/tmp/gan
  python -m experiments.train --config=experiments/configs/gan.py:ring8 --workdir=/tmp/gan_ring8

Expected results (seed 0; 10,000 samples; FID/KID/IS/precision/recall with
the project's Fashion-MNIST classifier against the test split; the 2-core
CPU shared with ~8 other jobs, load average 20-30):
  default  with --config.train.num_steps=1500 (eval and checkpoint every
           500; ~7 min of training, 15 min wall): FID 219.3, KID 8.49,
           IS 2.05, precision 0.62, recall 0.00.
  ring8    5000 steps (13 min of training): 6 of 8 modes, high-quality
           fraction 0.68, W1 0.45 against the test split (data-to-data
           0.055).

`base_config`, `optimizer` and `use_toy_data` serve the other adversarial
configs (dcgan, fgan, wgan, wgan_gp, cramer_gan).
"""

import ml_collections

from experiments.configs import common


def optimizer(lr: float, b1: float, b2: float, name: str = "adam"
              ) -> ml_collections.ConfigDict:
  """One player's chain: Adam or RMSProp (decay 0.9), constant rate."""
  return common.optimizer(lr, name=name, b1=b1, b2=b2, decay=0.9)


_optimizer = optimizer  # tests/models/test_gan.py's name for it.


def players(lr: float, b1: float, b2: float, name: str = "adam"
             ) -> ml_collections.ConfigDict:
  """The same optimizer for the generator and the discriminator."""
  return ml_collections.ConfigDict(dict(
      generator=optimizer(lr, b1, b2, name),
      discriminator=optimizer(lr, b1, b2, name)))


def base_config() -> ml_collections.ConfigDict:
  """The MLP non-saturating GAN on Fashion-MNIST (the default variant)."""
  return common.config(
      data=common.fashion_mnist(dequantization="uniform", value_range="-1_1"),
      model=dict(
          name="gan",
          objective="non_saturating",  # minimax | non_saturating | fgan |
          #                              wgan | wgan_gp | hinge | cramer
          divergence="gan",            # f-GAN only (divergences.py names)
          fgan_non_saturating=True,    # f-GAN generator loss -g_f(V)
          fgan_update="single_step",   # f-GAN: single_step | alternating
          architecture="mlp",          # mlp | dcgan | toy
          latent_dim=100,
          generator_hidden=(128, 256, 512, 1024),
          discriminator_hidden=(512, 256),
          generator_channels=(128, 64),      # dcgan: 7x7x128 -> 14x14x64
          discriminator_channels=(64, 128),  # dcgan: 14x14x64 -> 7x7x128
          activation="leaky_relu",     # mlp / toy hidden layers
          generator_norm="none",       # none | batch
          discriminator_norm="none",   # none | batch | layer | spectral
          generator_dropout=0.0, discriminator_dropout=0.2,
          critic_steps=1,              # k critic updates per generator update
          gp_weight=10.0,              # lambda (wgan_gp, cramer)
          clip_value=0.01,             # c (wgan)
          cramer_dim=256,              # k of the Cramér critic h: X -> R^k
          real_label=1.0),             # < 1: one-sided label smoothing
      optimizer=players(2e-4, 0.5, 0.999),
      # batch_size = critic_steps x minibatch
      train=common.train(batch_size=64, num_steps=6000, log_every=200,
                         eval_every=2000, eval_batch_size=400,
                         eval_examples=2000, final_eval_batch_size=400),
      eval=common.evaluation(periodic_num_samples=2000))


def minibatches(c: ml_collections.ConfigDict) -> int:
  """Minibatches in one trainer batch: the k critic updates' and, for the
  Cramér GAN, the generator's own (Bellemare et al. 2017, Algorithm 1)."""
  return c.model.critic_steps + (c.model.objective == "cramer")


def use_toy_data(c: ml_collections.ConfigDict, name: str = "ring8",
                 num_steps: int = 5000) -> ml_collections.ConfigDict:
  """Switches `c` to a 2-D toy set with the small toy MLPs (in place)."""
  c.data = common.toy_data(name)
  return common.update(c, dict(
      model=dict(architecture="toy", latent_dim=2, activation="relu",
                 generator_hidden=(128, 128), discriminator_hidden=(128, 128),
                 discriminator_dropout=0.0, cramer_dim=16),
      train=dict(batch_size=256 * minibatches(c), num_steps=num_steps,
                 log_every=250, eval_every=1000, checkpoint_every=1000,
                 eval_batch_size=1000, eval_examples=10_000,
                 final_eval_batch_size=1000),
      eval=dict(num_samples=10_000, periodic_num_samples=2000)))


def _toy(c: ml_collections.ConfigDict, name: str) -> None:
  use_toy_data(c, name)
  c.optimizer = players(1e-3, 0.5, 0.999)


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  return common.select(base_config(), "gan.py", variant, {
      "default": {},
      "minimax": dict(model=dict(objective="minimax")),
      "ring8": lambda c: _toy(c, "ring8"),
      "grid25": lambda c: _toy(c, "grid25")})

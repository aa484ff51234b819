"""f-GAN (Nowozin et al. 2016): variational divergence minimisation.

Launch (`:variant`: a divergence of gdm_jax.divergences or its alias, the
default jensen_shannon; ring8 (Jensen-Shannon on 8 Gaussians, toy MLPs);
ring8_<divergence>):
  python -m experiments.train --config=experiments/configs/fgan.py:reverse_kl --workdir=/tmp/fgan_rkl
  python -m experiments.train --config=experiments/configs/fgan.py:reverse_kl \
    --config.model.fgan_update=alternating --workdir=/tmp/fgan_rkl_alt

Expected results: the README's GAN section (on Fashion-MNIST every
single-step f-GAN collapsed, IS ~ 1, the alternating ones did not).
"""

import ml_collections

from experiments.configs import common
from experiments.configs import gan
from gdm_jax import divergences
from gdm_jax.models.gan import DIVERGENCE_ALIASES


def _ring8(c: ml_collections.ConfigDict, divergence: str) -> None:
  gan.use_toy_data(c, "ring8")
  common.update(c, dict(model=dict(divergence=divergence), optimizer=dict(
      generator=dict(learning_rate=1e-3),
      discriminator=dict(learning_rate=1e-3))))


def get_config(variant: str = "jensen_shannon") -> ml_collections.ConfigDict:
  c = common.update(gan.base_config(), dict(model=dict(
      objective="fgan", divergence="jensen_shannon",
      discriminator_dropout=0.0)))
  names = sorted(set(divergences.FDIVERGENCES) | set(DIVERGENCE_ALIASES))
  variants = {"default": {}, "ring8": lambda c: _ring8(c, "jensen_shannon")}
  for name in names:
    variants[name] = dict(model=dict(divergence=name))
    variants[f"ring8_{name}"] = lambda c, name=name: _ring8(c, name)
  if variant not in variants:
    raise ValueError(f"unknown variant '{variant}' of fgan.py; choose a "
                     f"divergence ({names}), ring8 or ring8_<divergence>.")
  return common.select(c, "fgan.py", variant, variants)

"""f-GAN (Nowozin et al. 2016): variational divergence minimisation.

Launch:
  python -m experiments.train --config=experiments/configs/fgan.py:reverse_kl --workdir=/tmp/fgan_rkl

The critic V is the MLP discriminator of gan.py (without dropout); T =
g_f(V) with the divergence's output activation (Table 2), critic loss
-(E_P[g_f(V)] - E_Q[f*(g_f(V))]) (eq. 6), generator loss -E_Q[g_f(V)]
(§3.2), both updated from one batch by the single-step gradient method
(Algorithm 1), Adam(2e-4, b1 = 0.5), batch 64.

Variants (`:variant`), one per divergence of gdm_jax.divergences (Fashion-
MNIST MLP, 6000 steps): forward_kl, reverse_kl, jensen_shannon (the default),
gan, pearson_chi2 (alias pearson), neyman_chi2 (alias neyman),
squared_hellinger, total_variation; `ring8` (Jensen-Shannon on 8 Gaussians,
toy MLPs); `ring8_<divergence>` for any divergence on ring8; smoke.
The validation metric `variational_bound` is the critic's estimate of
D_f(P || Q) (a lower bound when the critic is not optimal).

--config.model.fgan_update=alternating replaces the single-step method by
alternating updates (the critic first, then the generator against the
updated critic; with model.critic_steps = k, k critic updates). On
Fashion-MNIST every single-step f-GAN collapsed (IS ~ 1) while the
alternating ones did not (README, "Sample quality").
RESULT: see the README's GAN section.
"""

import ml_collections

from experiments.configs import gan as gan_config
from gdm_jax import divergences
from gdm_jax.models.gan import DIVERGENCE_ALIASES


def get_config(variant: str = "jensen_shannon") -> ml_collections.ConfigDict:
  c = gan_config.base_config()
  c.model.objective = "fgan"
  c.model.divergence = "jensen_shannon"
  c.model.discriminator_dropout = 0.0
  names = set(divergences.FDIVERGENCES) | set(DIVERGENCE_ALIASES)
  if variant == "default":
    variant = "jensen_shannon"
  if variant in names:
    c.model.divergence = variant
  elif variant == "ring8" or (variant.startswith("ring8_")
                              and variant[len("ring8_"):] in names):
    gan_config.use_toy_data(c, "ring8")
    c.optimizer.generator.learning_rate = 1e-3
    c.optimizer.discriminator.learning_rate = 1e-3
    if variant != "ring8":
      c.model.divergence = variant[len("ring8_"):]
  elif variant == "smoke":
    gan_config.make_smoke(c)
  else:
    raise ValueError(f"unknown variant '{variant}' of fgan.py; choose a "
                     f"divergence ({sorted(names)}), ring8, "
                     "ring8_<divergence> or smoke.")
  return c

"""Model families, each exposing the interface of models/base.py."""

import importlib

FAMILIES = {
    "vae": "gdm_jax.models.vae",
    "gan": "gdm_jax.models.gan",          # GAN, DCGAN, f-GAN, WGAN, WGAN-GP, Cramer GAN
    "cfg": "gdm_jax.models.cfg",          # CFG / xICFG
    "flow": "gdm_jax.models.flow",        # NICE, RealNVP, Glow, toy flows
    "pixelcnn": "gdm_jax.models.pixelcnn",  # PixelCNN, PixelCNN++
    "avb": "gdm_jax.models.avb",          # adversarial variational Bayes
    "aae": "gdm_jax.models.aae",          # adversarial autoencoder
    "wae": "gdm_jax.models.wae",          # Wasserstein autoencoder (GAN / MMD)
    "gumbel_vae": "gdm_jax.models.gumbel_vae",  # categorical latents
    "helmholtz": "gdm_jax.models.helmholtz",    # wake-sleep
}


def make(config, dataset_info: dict):
  """The model named by `config.model.name`.

  Raises:
    ValueError: unknown family name, or an invalid setting of that family.
  """
  name = config.model.name
  if name not in FAMILIES:
    raise ValueError(f"model.name must be one of {sorted(FAMILIES)}; got '{name}'.")
  return importlib.import_module(FAMILIES[name]).make(config, dataset_info)

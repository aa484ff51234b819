"""gdm_jax/rasters.py: the jittable latent picture places each code at its
pixel in its label's colour over the prior's density."""

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import rasters
from gdm_jax.models import latent_priors


def test_latent_raster_places_codes_by_label():
  prior = latent_priors.get_prior("mixture", 2)
  z = jnp.asarray([[0.0, 0.0], [1.4, 0.0]])
  img = np.asarray(rasters.latent_raster(z, jnp.asarray([0, 3]), prior,
                                         size=101))[0]
  assert img.shape == (101, 101, 3)
  xmin, xmax, ymin, ymax = prior.extent
  col = int((1.4 - xmin) / (xmax - xmin) * 101)
  row = int((ymax - 0.0) / (ymax - ymin) * 101)
  np.testing.assert_allclose(img[row, col], rasters.TAB10[3], atol=1e-6)
  np.testing.assert_allclose(img[50, 50], rasters.TAB10[0], atol=1e-6)
  # Background: darker (denser) at a component centre than in a corner.
  background = np.asarray(rasters.latent_raster(z[:0], None, prior,
                                                size=101))[0]
  assert background[row, col, 0] < background[2, 2, 0]


def test_latent_raster_jits_and_draws_a_prior_without_density():
  roll = latent_priors.get_prior("swiss_roll", 2)
  z = roll.sample(jax.random.PRNGKey(0), 5)
  img = jax.jit(lambda z: rasters.latent_raster(z, None, roll))(z)
  assert img.shape == (1, rasters.LATENT_IMAGE_SIZE, rasters.LATENT_IMAGE_SIZE, 3)
  img = np.asarray(img)
  assert img.min() >= 0.0 and img.max() <= 1.0
  # Grey prior samples and black codes on white.
  assert np.any(np.isclose(img, 0.4)) and np.any(img == 0.0)

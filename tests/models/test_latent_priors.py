"""Latent priors: sample moments against closed forms, densities that
integrate to 1, densities that match the samples, the highest-density-region
fraction, clear errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.models import latent_priors
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i

N = 100_000


def _samples(prior, n=N, seed=0):
  return np.asarray(jax.jit(prior.sample, static_argnums=1)(
      jax.random.PRNGKey(seed), n), np.float64)


def test_gaussian_moments_and_density():
  prior = latent_priors.get_prior("gaussian", 3, scale=2.0)
  z = _samples(prior)
  assert z.shape == (N, 3)
  se = 2.0 / math.sqrt(N)
  np.testing.assert_allclose(z.mean(0), 0.0, atol=5 * se)
  np.testing.assert_allclose(z.var(0), 4.0, rtol=0.03)
  assert prior.sigma2 == 4.0
  # log N(z; 0, 4 I) in closed form.
  pts = jnp.asarray([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
  want = -0.5 * np.sum(np.square(pts) / 4.0, 1) - 3 * math.log(2.0) \
      - 1.5 * math.log(2 * math.pi)
  np.testing.assert_allclose(prior.log_prob(pts), want, rtol=1e-5)


def test_mixture_moments():
  prior = latent_priors.get_prior("mixture", 2)
  z = _samples(prior)
  r, sr, st = 1.4, 0.5, 0.05
  # E z = 0 by symmetry; E||z||² = r² + s_r² + s_t²; per coordinate σ_z².
  np.testing.assert_allclose(z.mean(0), 0.0, atol=0.02)
  np.testing.assert_allclose(np.mean(np.sum(z * z, 1)), r * r + sr * sr + st * st,
                             rtol=0.02)
  np.testing.assert_allclose(prior.sigma2, (r * r + sr * sr + st * st) / 2)
  # Each component is elongated along its ray: the spread across the ray
  # (the tangential coordinate of the nearest centre) has std s_t.
  angles = np.arctan2(z[:, 1], z[:, 0])
  k = np.round(angles / (2 * np.pi / 10)) % 10
  phi = 2 * np.pi * k / 10
  across = -np.sin(phi) * z[:, 0] + np.cos(phi) * z[:, 1]
  along = np.cos(phi) * z[:, 0] + np.sin(phi) * z[:, 1]
  near = np.abs(along - r) < 0.5     # away from the overlapping centre
  assert abs(np.std(across[near]) - st) < 0.2 * st
  assert abs(np.mean(along[along > 0.9]) - r) < 0.15


def test_ring_moments():
  prior = latent_priors.get_prior("ring", 2, radius=2.0, width=0.1)
  z = _samples(prior)
  rho = np.linalg.norm(z, axis=1)
  np.testing.assert_allclose(rho.mean(), 2.0, atol=3e-3)
  np.testing.assert_allclose(rho.std(), 0.1, rtol=0.03)
  np.testing.assert_allclose(z.mean(0), 0.0, atol=0.02)
  np.testing.assert_allclose(np.mean(z * z, 0), prior.sigma2, rtol=0.03)


@pytest.mark.parametrize("name,kw", [("gaussian", {"scale": 0.7}),
                                     ("mixture", {}), ("ring", {}),
                                     ("ring", {"radius": 0.3, "width": 0.2})])
def test_density_integrates_to_one(name, kw):
  """∫ p(z) dz over a fine grid covering the mass (midpoint rule) = 1."""
  prior = latent_priors.get_prior(name, 2, **kw)
  lo, hi = -4.0, 4.0
  n = 1200
  h = (hi - lo) / n
  g = lo + h * (np.arange(n) + 0.5)
  gx, gy = np.meshgrid(g, g)
  pts = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], -1), jnp.float32)
  mass = float(jnp.sum(jnp.exp(jax.jit(prior.log_prob)(pts)))) * h * h
  assert abs(mass - 1.0) < 5e-3, mass


@pytest.mark.parametrize("name", ["mixture", "ring"])
def test_density_matches_samples(name):
  """Histogram of samples on a coarse grid vs ∫ p over each cell."""
  prior = latent_priors.get_prior(name, 2)
  z = _samples(prior, seed=1)
  edges = np.linspace(-3.0, 3.0, 13)                # 0.5 x 0.5 cells
  counts, _, _ = np.histogram2d(z[:, 0], z[:, 1], bins=[edges, edges])
  emp = counts / len(z)
  # Cell probabilities from the density: 20 x 20 midpoints per cell.
  m = 240
  h = 6.0 / m
  g = -3.0 + h * (np.arange(m) + 0.5)
  gx, gy = np.meshgrid(g, g, indexing="ij")
  dens = np.exp(np.asarray(prior.log_prob(jnp.asarray(
      np.stack([gx.ravel(), gy.ravel()], -1), jnp.float32)))).reshape(m, m)
  model = dens.reshape(12, 20, 12, 20).sum((1, 3)) * h * h
  # Multinomial standard errors; the check is per cell, at 5 sigma + slack
  # for the midpoint rule on the thin ring / thin components.
  se = np.sqrt(model * (1 - model) / len(z))
  assert np.all(np.abs(emp - model) < 5 * se + 0.1 * model + 1e-4), (
      np.max(np.abs(emp - model)))
  # And the mean log-density of samples is the negative entropy, which a
  # shifted density would lower: log p at the samples beats log p at
  # samples rotated by half a component (mixture) / scaled by 0.9 (ring).
  lp = float(jnp.mean(prior.log_prob(jnp.asarray(z[:5000], jnp.float32))))
  moved = z[:5000] * 0.9 if name == "ring" else z[:5000] @ np.array(
      [[math.cos(math.pi / 10), math.sin(math.pi / 10)],
       [-math.sin(math.pi / 10), math.cos(math.pi / 10)]])
  assert lp > float(jnp.mean(prior.log_prob(jnp.asarray(moved, jnp.float32)))) + 1.0


def test_swiss_roll_has_no_density_and_right_scale():
  prior = latent_priors.get_prior("swiss_roll", 2)
  assert prior.log_prob is None
  z = _samples(prior)
  # ||z|| = 3 √u, u ~ U[0, 1]: E||z||² = 9 / 2 = 2 σ_z².
  np.testing.assert_allclose(np.mean(np.sum(z * z, 1)), 2 * prior.sigma2,
                             rtol=0.02)
  assert np.max(np.linalg.norm(z, axis=1)) <= 3.0 + 1e-5


def test_errors():
  with pytest.raises(ValueError, match="must be one of"):
    latent_priors.get_prior("uniform", 2)
  with pytest.raises(ValueError, match="latent_dim == 2"):
    latent_priors.get_prior("mixture", 8)
  with pytest.raises(ValueError, match="scale must be > 0"):
    latent_priors.get_prior("gaussian", 2, scale=0.0)
  with pytest.raises(ValueError, match="bad parameters"):
    latent_priors.get_prior("ring", 2, sigma=1.0)


@pytest.mark.parametrize("name", ["gaussian", "mixture", "ring"])
def test_hdr_fraction_of_prior_samples_is_the_level(name):
  """Fresh prior samples fall in the α-HDR with probability α (binomial
  standard error); codes pushed off the prior fall in it less often."""
  prior = latent_priors.get_prior(name, 2)
  z = prior.sample(jax.random.PRNGKey(5), 10_000)
  for level in (0.5, 0.99):
    frac = latent_priors.hdr_fraction(prior, z, level, num_samples=50_000)
    se = math.sqrt(level * (1 - level) / 10_000)
    # + the threshold's own sampling error (50k prior samples).
    assert abs(frac - level) < 5 * se + 0.005, (level, frac)
  assert latent_priors.hdr_fraction(prior, 1.5 * z + 1.0, 0.9) < 0.8


def test_hdr_fraction_without_density_and_errors():
  roll = latent_priors.get_prior("swiss_roll", 2)
  assert latent_priors.hdr_fraction(roll, jnp.zeros((3, 2))) is None
  with pytest.raises(ValueError, match="level"):
    latent_priors.hdr_fraction(latent_priors.gaussian(2), jnp.zeros((3, 2)), 1.0)


def test_prior_sample_accepts_numpy_ints_and_keeps_its_law():
  prior = latent_priors.gaussian(2, scale=2.0)
  z = prior.sample(jax.random.key(0), np.int64(4000))
  assert z.shape == (4000, 2)
  np.testing.assert_allclose(np.var(np.asarray(z), 0), 4.0, rtol=0.15)
  lp = prior.log_prob(jnp.zeros((1, 2)))
  np.testing.assert_allclose(lp, -2.0 * math.log(2.0) - math.log(2 * math.pi),
                             rtol=1e-6)


KEY = jax.random.key(0)

# (id, call, substrings the message must contain)
VALIDATION_CASES = [
    ("prior_gaussian_n", lambda: latent_priors.gaussian(3).sample(KEY, 0),
     ["latent_priors.gaussian.sample", "`n`", "positive", "0"]),
    ("prior_ring_float_n", lambda: latent_priors.ring().sample(KEY, 2.0),
     ["latent_priors.ring.sample", "`n`", "float", "2.0"]),
    ("prior_swiss_roll_n",
     lambda: latent_priors.swiss_roll().sample(KEY, -1),
     ["latent_priors.swiss_roll.sample", "`n`", "-1"]),
    ("prior_gaussian_log_prob_dim",
     lambda: latent_priors.gaussian(3).log_prob(f(5, 2)),
     ["latent_priors.gaussian.log_prob", "`z`", "[N, 3]", "(5, 2)"]),
    ("prior_mixture_log_prob_rank",
     lambda: latent_priors.mixture().log_prob(f(5)),
     ["latent_priors.mixture.log_prob", "`z`", "[N, 2]", "(5,)"]),
    ("prior_ring_log_prob_int",
     lambda: latent_priors.ring().log_prob(i(5, 2)),
     ["latent_priors.ring.log_prob", "`z`", "floating", "int32"]),
    ("hdr_fraction_num_samples",
     lambda: latent_priors.hdr_fraction(latent_priors.ring(), f(5, 2),
                                        num_samples=0),
     ["latent_priors.hdr_fraction", "`num_samples`", "0"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=name)
                          for name, c, e in VALIDATION_CASES])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

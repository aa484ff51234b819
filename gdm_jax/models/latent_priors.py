"""Latent priors p(z) as data, for the autoencoders that match q(z) to them.

An adversarial autoencoder (AAE) or a Wasserstein autoencoder (WAE) only
needs samples of its prior (the discriminator's "real" data, or the MMD's
second sample); the density is used for plots and tests. Each prior is a
`LatentPrior` with a sampler drawn from an explicit JAX key, the
log-density in nats where one exists, and the per-coordinate variance
σ_z² = E||z - E z||² / d that sets the WAE kernel's scale (C = 2 d σ_z²,
`gdm_jax.models.wae.make_kernel`). `hdr_fraction` measures how well a set
of codes fills a prior: the fraction inside its highest-density region.

Priors (`get_prior(name, dim, **kw)`):
  gaussian    N(0, σ² I_d), any d (σ = `scale`, default 1).
  mixture     the AAE paper's 2-D mixture of 10 Gaussians (Makhzani et al.
              2015, Fig. 4): component k (k = 0..9) is centred at radius r
              on the ray at angle φ_k = 2πk/10, with std s_r along the ray
              and s_t across it:
                p(z) = (1/10) Σ_k N(R_k^T z - (r, 0); 0, diag(s_r², s_t²)),
              R_k the rotation by φ_k. The paper shows the shape but gives
              no numbers; r = 1.4, s_r = 0.5, s_t = 0.05 are those of the
              widely used open reimplementation (musyoku/adversarial-
              autoencoder, `sampler.gaussian_mixture`). d = 2 only.
  ring        a continuous ring (annulus): angle θ ~ U[0, 2π), radius
              ρ = |r + s ε|, ε ~ N(0, 1), z = ρ (cos θ, sin θ), so
                p(z) = [N(||z||; r, s²) + N(||z||; -r, s²)] / (2π ||z||)
              (the folded normal radius over the circle's length 2πρ);
              r = 2, s = 0.1 by default. d = 2 only.
  swiss_roll  the AAE paper's swiss-roll prior (Fig. 4, right): u ~ U[0, 1],
              z = 3√u (cos 4π√u, sin 4π√u) (the open reimplementation's
              `sampler.swiss_roll`), a 1-D curve in the plane: no density
              (log_prob None). d = 2 only.

References:
  Makhzani, Shlens, Jaitly, Goodfellow and Frey 2015, "Adversarial
    Autoencoders", arXiv:1511.05644, §2 and Fig. 4.
  Tolstikhin, Bousquet, Gelly and Schölkopf 2018, "Wasserstein
    Auto-Encoders", ICLR, §4 (kernel scale from the prior's variance).
"""

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks
from gdm_jax import distributions

PRIORS = ("gaussian", "mixture", "ring", "swiss_roll")
TWO_D_ONLY = ("mixture", "ring", "swiss_roll")


class LatentPrior(NamedTuple):
  """A latent prior as data.

  Attributes:
    name: its name in `PRIORS`.
    dim: d, the latent dimension.
    sample: (rng key, n) -> float32 [n, d]; pure, jittable with static n.
      Raises ValueError if n is not a positive Python int.
    log_prob: z [N, d] -> [N], log p(z) in nats; None where p has no
      density (the swiss roll is a curve). Raises ValueError if z is not a
      floating [N, d] array.
    sigma2: per-coordinate variance σ_z² = E||z - E z||² / d (every prior
      here has E z = 0), the scale of the WAE kernels.
    extent: (xmin, xmax, ymin, ymax) of a box holding nearly all the mass
      (2-D priors; for plots), or None.
    description: one line, with the parameters.
  """
  name: str
  dim: int
  sample: Callable[[jax.Array, int], jax.Array]
  log_prob: Callable[[jax.Array], jax.Array] | None
  sigma2: float
  extent: tuple[float, float, float, float] | None
  description: str


def gaussian(dim: int, scale: float = 1.0) -> LatentPrior:
  """N(0, σ² I_d): log p(z) = Σ_i log N(z_i; 0, σ²); σ_z² = σ²."""
  _check_params("gaussian", dim, scale=scale)
  log_scale = math.log(scale)

  def sample(rng, n):
    return scale * jax.random.normal(rng, (n, dim), jnp.float32)

  def log_prob(z):
    return jnp.sum(distributions.gaussian_log_prob(z, 0.0, log_scale), -1)

  e = 3.5 * scale
  return _checked(LatentPrior("gaussian", dim, sample, log_prob,
                              float(scale ** 2), (-e, e, -e, e),
                              f"N(0, {scale:g}² I_{dim})"))


def mixture(dim: int = 2, num_components: int = 10, radius: float = 1.4,
            radial_std: float = 0.5, tangential_std: float = 0.05
            ) -> LatentPrior:
  """The AAE paper's mixture of 10 elongated 2-D Gaussians on a circle.

  p(z) = (1/K) Σ_k N(R_k^T z - (r, 0); 0, diag(s_r², s_t²)), R_k the
  rotation by 2πk/K (module docstring). σ_z² = (r² + s_r² + s_t²) / 2.

  Raises:
    ValueError: dim != 2 or a non-positive parameter.
  """
  _check_params("mixture", dim, num_components=num_components, radius=radius,
                radial_std=radial_std, tangential_std=tangential_std)
  k = num_components
  angles = 2.0 * np.pi * np.arange(k) / k
  cos, sin = np.cos(angles), np.sin(angles)
  # rot[k] maps component coordinates (along, across the ray) to z.
  rot = jnp.asarray(np.stack([np.stack([cos, -sin], -1),
                              np.stack([sin, cos], -1)], -2), jnp.float32)
  stds = jnp.asarray([radial_std, tangential_std], jnp.float32)
  centre = jnp.asarray([radius, 0.0], jnp.float32)

  def sample(rng, n):
    k_comp, k_noise = jax.random.split(rng)
    comp = jax.random.randint(k_comp, (n,), 0, k)
    u = centre + stds * jax.random.normal(k_noise, (n, 2), jnp.float32)
    return jnp.einsum("nij,nj->ni", rot[comp], u)

  def log_prob(z):
    u = jnp.einsum("kji,nj->nki", rot, z)                      # R_k^T z [N, K, 2]
    log_comp = jnp.sum(distributions.gaussian_log_prob(
        u, centre, jnp.log(stds)), -1)                         # [N, K]
    return jax.nn.logsumexp(log_comp, -1) - math.log(k)

  e = radius + 3.0 * radial_std + 0.2
  return _checked(LatentPrior(
      "mixture", 2, sample, log_prob,
      float((radius ** 2 + radial_std ** 2 + tangential_std ** 2) / 2.0),
      (-e, e, -e, e),
      f"{k} Gaussians at radius {radius:g}, std {radial_std:g} along the ray, "
      f"{tangential_std:g} across (Makhzani et al. 2015, Fig. 4)"))


def ring(dim: int = 2, radius: float = 2.0, width: float = 0.1) -> LatentPrior:
  """A continuous ring: z = |r + s ε| (cos θ, sin θ), θ ~ U[0, 2π).

  p(z) = [N(ρ; r, s²) + N(ρ; -r, s²)] / (2π ρ), ρ = ||z||;
  σ_z² = E ρ² / 2 = (r² + s²) / 2.

  Raises:
    ValueError: dim != 2 or a non-positive parameter.
  """
  _check_params("ring", dim, radius=radius, width=width)
  log_width = math.log(width)

  def sample(rng, n):
    k_angle, k_radius = jax.random.split(rng)
    theta = 2.0 * jnp.pi * jax.random.uniform(k_angle, (n,), jnp.float32)
    rho = jnp.abs(radius + width * jax.random.normal(k_radius, (n,),
                                                     jnp.float32))
    return rho[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)

  def log_prob(z):
    rho = jnp.sqrt(jnp.sum(jnp.square(z), -1))
    folded = jnp.logaddexp(
        distributions.gaussian_log_prob(rho, radius, log_width),
        distributions.gaussian_log_prob(rho, -radius, log_width))
    # The density has an integrable 1/ρ singularity at 0 (weight ~e^{-r²/2s²}).
    return folded - jnp.log(2.0 * jnp.pi * jnp.maximum(rho, 1e-12))

  e = radius + 4.0 * width + 0.2
  return _checked(LatentPrior(
      "ring", 2, sample, log_prob, float((radius ** 2 + width ** 2) / 2.0),
      (-e, e, -e, e), f"ring of radius {radius:g}, radial std {width:g}"))


def swiss_roll(dim: int = 2, scale: float = 3.0, turns: float = 2.0
               ) -> LatentPrior:
  """The AAE paper's swiss-roll prior: z = a√u (cos 2πT√u, sin 2πT√u).

  u ~ U[0, 1], a = `scale` (3), T = `turns` (2). No density (a curve).
  σ_z² = E||z||² / 2 = a² E[u] / 2 = a² / 4. (E z ≈ 0 but not exactly: the
  roll is not symmetric; σ_z² is its second moment per coordinate.)

  Raises:
    ValueError: dim != 2 or a non-positive parameter.
  """
  _check_params("swiss_roll", dim, scale=scale, turns=turns)

  def sample(rng, n):
    s = jnp.sqrt(jax.random.uniform(rng, (n,), jnp.float32))
    angle = 2.0 * jnp.pi * turns * s
    return scale * s[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)

  e = scale + 0.3
  return _checked(LatentPrior(
      "swiss_roll", 2, sample, None, float(scale ** 2 / 4.0), (-e, e, -e, e),
      f"swiss roll, radius {scale:g}, {turns:g} turns "
      "(Makhzani et al. 2015, Fig. 4)"))


def _checked(prior: LatentPrior) -> LatentPrior:
  """The prior with input checks before its sampler (n a positive Python
  int) and log-density (z a floating [N, d] array), at trace time; the
  messages name 'latent_priors.<name>.sample' / '.log_prob'."""
  name, dim, sample, log_prob = prior[:4]

  def checked_sample(rng, n):
    checks.check_positive_int(f"latent_priors.{name}.sample", "n", n)
    return sample(rng, n)

  def checked_log_prob(z):
    checks.check_array(f"latent_priors.{name}.log_prob", "z", z,
                       shape=(None, dim), layout=f"[N, {dim}]")
    return log_prob(z)

  return prior._replace(
      sample=checked_sample,
      log_prob=None if log_prob is None else checked_log_prob)


def _check_params(name: str, dim: int, **params: float) -> None:
  """A 2-D prior (`TWO_D_ONLY`) has dim == 2; every parameter is > 0."""
  if name in TWO_D_ONLY and dim != 2:
    raise ValueError(f"the '{name}' prior is 2-D: it needs latent_dim == 2; "
                     f"got {dim}.")
  if min(params.values()) <= 0:
    got = ", ".join(f"{k}={v}" for k, v in params.items())
    raise ValueError(f"{name} prior: {', '.join(params)} must be > 0; got "
                     f"{got}.")


_BUILDERS = {"gaussian": gaussian, "mixture": mixture, "ring": ring,
             "swiss_roll": swiss_roll}


def get_prior(name: str, dim: int, **kwargs) -> LatentPrior:
  """The prior called `name` on R^dim, with optional parameters `kwargs`.

  Raises:
    ValueError: unknown name, a 2-D prior with dim != 2, a bad parameter.
  """
  if name not in _BUILDERS:
    raise ValueError(f"model.prior must be one of {PRIORS}; got '{name}'.")
  if not isinstance(dim, int) or dim < 1:
    raise ValueError(f"latent_dim must be an integer >= 1; got {dim}.")
  try:
    return _BUILDERS[name](dim, **kwargs)
  except TypeError as e:
    raise ValueError(f"bad parameters {sorted(kwargs)} for the '{name}' "
                     f"prior: {e}") from e


def hdr_fraction(prior: LatentPrior, z: jax.Array, level: float = 0.99,
                 num_samples: int = 100_000,
                 rng: jax.Array | None = None) -> float | None:
  """Fraction of the points z inside the prior's `level` highest-density
  region (HDR).

  The HDR R_α = {z : p(z) >= t_α} is the smallest region of prior mass α;
  its threshold t_α is estimated as the (1 - α) quantile of log p over
  `num_samples` prior samples (p(Z) for Z ~ p falls below t_α with
  probability 1 - α). Codes distributed as the prior give ≈ α; codes that
  leave holes in the prior or fall outside it give less.

  Args:
    prior: a prior with a density.
    z: [N, d] points (e.g. the encoded test set).
    level: α in (0, 1).
    num_samples: prior samples for the threshold.
    rng: their key (default PRNGKey(1)).

  Returns:
    a float in [0, 1], or None for a prior without a density (swiss roll).

  Raises:
    ValueError: level not in (0, 1), z not [N, d], num_samples not a
      positive int.
  """
  if not 0.0 < level < 1.0:
    raise ValueError(f"latent_priors.hdr_fraction: `level` must be in (0, 1); "
                     f"got {level}.")
  checks.check_positive_int("latent_priors.hdr_fraction", "num_samples",
                            num_samples)
  if prior.log_prob is None:
    return None
  rng = jax.random.PRNGKey(1) if rng is None else rng
  lp_prior = np.asarray(prior.log_prob(prior.sample(rng, num_samples)))
  threshold = np.quantile(lp_prior, 1.0 - level)
  return float(np.mean(np.asarray(prior.log_prob(jnp.asarray(z))) >= threshold))

"""Monte Carlo estimators: reparameterisation and importance weighting.

References:
  Kingma and Welling 2014, "Auto-Encoding Variational Bayes", eq. 10 (the
    reparameterisation z = μ + σ ⊙ ε).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8 (the K-sample bound L_K).
"""

import math

import jax
import jax.numpy as jnp


def reparameterize(rng: jax.Array, mean: jax.Array, log_scale: jax.Array,
                   num_samples: int | None = None) -> jax.Array:
  """Draws z = mean + exp(log_scale) * ε, ε ~ N(0, I), differentiably.

  Args:
    rng: a JAX PRNG key.
    mean, log_scale: float arrays [B, D].
    num_samples: if given, K samples are drawn and stacked on a new leading
      axis.

  Returns:
    [B, D] float array, or [K, B, D] when `num_samples` is given.
  """
  shape = mean.shape if num_samples is None else (num_samples,) + mean.shape
  eps = jax.random.normal(rng, shape, mean.dtype)
  return mean + jnp.exp(log_scale) * eps


def log_mean_exp(x: jax.Array, axis: int = 0) -> jax.Array:
  """log(mean(exp(x), axis)), stable: logsumexp(x) - log(n)."""
  return jax.nn.logsumexp(x, axis=axis) - math.log(x.shape[axis])


def iwae_bound(log_weights: jax.Array) -> jax.Array:
  """The importance-weighted bound L_K from K log-weights (Burda et al., eq. 8).

  L_K = log (1/K) Σ_k w_k,   w_k = p(x, z_k) / q(z_k | x),  z_k ~ q(z | x).
  L_1 is the ELBO; E[L_K] is non-decreasing in K and tends to log p(x).

  Args:
    log_weights: float array [K, B] of log w_k.

  Returns:
    float array [B], in nats.
  """
  return log_mean_exp(log_weights, axis=0)

"""Log-likelihoods and closed-form KL divergences, in nats.

Conventions: "elementwise" functions return an array of the broadcast shape of
their inputs; functions named `*_sum` or taking `event_ndims` sum the trailing
event axes and return one value per example. Every value is a natural-log
density (nats); divide by `log(2)` for bits.
"""

import math

import jax
import jax.numpy as jnp

LOG_2PI = math.log(2.0 * math.pi)


def sum_except_batch(x: jax.Array, batch_ndims: int = 1) -> jax.Array:
  """Sums all axes after the first `batch_ndims`: [B, ...] -> [B]."""
  return jnp.sum(x, axis=tuple(range(batch_ndims, x.ndim)))


def bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """Elementwise log Bernoulli(x | sigmoid(logits)), numerically stable.

  log p(x) = x * l - softplus(l), which is exact for |l| up to float range
  (no sigmoid is formed, so logits of +-100 give finite values).

  Args:
    logits: float array, any shape; l = log(p / (1 - p)).
    x: array broadcastable to `logits`, values in [0, 1] (binary data; a
      fractional x gives the continuous-Bernoulli-free cross-entropy).

  Returns:
    float array of the broadcast shape, in nats (<= 0 for binary x).
  """
  return x * logits - jax.nn.softplus(logits)


def gaussian_log_prob(x: jax.Array, mean: jax.Array,
                      log_scale: jax.Array) -> jax.Array:
  """Elementwise log N(x | mean, exp(log_scale)^2), in nats.

  Args:
    x, mean, log_scale: broadcastable float arrays; `log_scale` is the log of
      the standard deviation.

  Returns:
    float array of the broadcast shape.
  """
  z = (x - mean) * jnp.exp(-log_scale)
  return -0.5 * (z * z + LOG_2PI) - log_scale


def standard_normal_log_prob(x: jax.Array) -> jax.Array:
  """Elementwise log N(x | 0, 1), in nats."""
  return -0.5 * (x * x + LOG_2PI)


def kl_divergence_diagonal_gaussian(mean: jax.Array, log_scale: jax.Array,
                                    prior_mean: jax.Array | float = 0.0,
                                    prior_log_scale: jax.Array | float = 0.0
                                    ) -> jax.Array:
  """KL(N(mean, diag σ²) || N(prior_mean, diag σ_p²)), summed over the last axis.

  Closed form per dimension (Kingma and Welling 2014, appendix B, for the
  standard-normal prior):
    KL = log σ_p - log σ + (σ² + (μ - μ_p)²) / (2 σ_p²) - 1/2.

  Args:
    mean, log_scale: float arrays [..., D]; `log_scale` = log σ.
    prior_mean, prior_log_scale: broadcastable to [..., D]; default N(0, I).

  Returns:
    float array [...], in nats, >= 0.
  """
  var_ratio = jnp.exp(2.0 * (log_scale - prior_log_scale))
  mean_term = jnp.square((mean - prior_mean) * jnp.exp(-prior_log_scale))
  per_dim = 0.5 * (var_ratio + mean_term - 1.0) - (log_scale - prior_log_scale)
  return jnp.sum(per_dim, axis=-1)

"""Activation normalisation (Glow's actnorm) with data-dependent initialisation.

References:
  Kingma and Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1
    Convolutions", sec. 3.1 and table 1.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import channel_map_log_det
from gdm_jax.flows.base import check_channel_map_input


class ActNorm(Bijector):
  """Per-channel affine map y = x ⊙ exp(log_scale) + bias, data-initialised.

    forward:  y = x ⊙ s + b,       log_det = H·W·Σ_c log|s_c|
    inverse:  x = (y - b) / s,     log_det = -H·W·Σ_c log|s_c|

  with s = exp(log_scale) > 0 (stored as a log, so |s| = s). The channel axis
  is the last one; every other non-batch axis is "spatial", so [B, H, W, C]
  gets the factor H·W and [B, D] (D channels) the factor 1.

  Data-dependent initialisation: when the variables are created by `init`,
  the per-channel mean μ_c and standard deviation σ_c over all but the last
  axis of the init batch set
    forward init (init(rng, x)):  s = 1 / (σ + eps), b = -μ / (σ + eps),
      so the outputs on the init batch have zero mean and unit variance per
      channel;
    inverse init (init(rng, y, method="inverse")):  s = σ + eps, b = μ, so
      the inverse's outputs on that batch are standardised.
  Init on a representative batch (a handful of examples per channel at
  least): a single constant channel gives s = 1/eps.

  Shapes: [B, ..., C] -> same; log_det [B]. Parameters "log_scale" [C] and
  "bias" [C].

  Raises:
    ValueError: (at call) a non-floating input of rank < 2, or one whose C
      differs from the parameters'.

  Attributes:
    eps: added to σ at initialisation.

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 3.1 and table 1 (actnorm and its
      log-det h·w·sum(log|s|)).
  """
  eps: float = 1e-6

  @nn.compact
  def _params(self, data: jax.Array,
              inverse_init: bool) -> tuple[jax.Array, jax.Array]:
    axes = tuple(range(data.ndim - 1))

    def stats():
      d = jax.lax.stop_gradient(data)
      return jnp.mean(d, axes), jnp.std(d, axes) + self.eps

    def init_log_scale(_):
      _, std = stats()
      return jnp.log(std) if inverse_init else -jnp.log(std)

    def init_bias(_):
      mean, std = stats()
      return mean if inverse_init else -mean / std

    return (self.param("log_scale", init_log_scale),
            self.param("bias", init_bias))

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = x ⊙ exp(log_scale) + bias per channel: (y, log_det [B] =
    H·W·Σ_c log s_c)."""
    check_channel_map_input(self, "forward", "x", x, "log_scale")
    log_scale, bias = self._params(x, False)
    return x * jnp.exp(log_scale) + bias, channel_map_log_det(x, log_scale)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = (y - bias) ⊙ exp(-log_scale): (x, log_det [B] = -H·W·Σ_c log s_c)."""
    check_channel_map_input(self, "inverse", "y", y, "log_scale")
    log_scale, bias = self._params(y, True)
    return ((y - bias) * jnp.exp(-log_scale),
            -channel_map_log_det(y, log_scale))

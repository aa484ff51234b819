"""Elementwise bijectors: the logit transform of RealNVP.

References:
  Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP",
    sec. 4.1 (logit of alpha-squashed pixels).
"""

import jax
import jax.numpy as jnp

from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import sum_except_batch


class Logit(Bijector):
  """y = logit(α + (1 - 2α) x), mapping [0, 1] data to R.

    forward:  p = α + (1 - 2α) x,  y = log p - log(1 - p),
              log_det = Σ [log(1 - 2α) - log p - log(1 - p)]
    inverse:  x = (sigmoid(y) - α) / (1 - 2α),
              log_det = Σ [log σ(y) + log σ(-y) - log(1 - 2α)]

  α > 0 keeps y finite at x = 0 and x = 1 (RealNVP uses 0.05 for CIFAR-10,
  1e-6 for MNIST). Inputs outside [0, 1] give NaN (not checked: traced).
  For bits/dim of 8-bit data dequantised as x = (k + u) / 256, the model adds
  the -D·log 256 of that rescaling itself; it is not part of this bijector.

  Shapes: any [B, ...] -> same; log_det [B]. No parameters.

  Attributes:
    alpha: the squashing α, 0 <= α < 0.5.

  Raises:
    ValueError: (at call) α outside [0, 0.5).

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 4.1.
  """
  alpha: float = 0.05

  def _check(self):
    if not 0.0 <= self.alpha < 0.5:
      raise ValueError(f"Logit: alpha must be in [0, 0.5), got {self.alpha}.")

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    self._check()
    p = self.alpha + (1.0 - 2.0 * self.alpha) * x
    log_p, log_1mp = jnp.log(p), jnp.log1p(-p)
    log_det = jnp.log1p(-2.0 * self.alpha) - log_p - log_1mp
    return log_p - log_1mp, sum_except_batch(log_det)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    self._check()
    x = (jax.nn.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)
    log_det = (jax.nn.log_sigmoid(y) + jax.nn.log_sigmoid(-y)
               - jnp.log1p(-2.0 * self.alpha))
    return x, sum_except_batch(log_det)

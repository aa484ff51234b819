"""Elementwise bijectors: a constant shift, RealNVP's logit transform,
sinh-arcsinh.

References:
  Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP",
    sec. 4.1 (logit of alpha-squashed pixels).
  Jones and Pewsey 2009, "Sinh-arcsinh distributions", Biometrika 96(4).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import check_flow_input
from gdm_jax.flows.base import sum_except_batch
from gdm_jax.flows.base import zero_log_det


class Shift(Bijector):
  """y = x + offset, a constant shift; volume preserving.

    forward:  y = x + offset,  log_det = 0
    inverse:  x = y - offset,  log_det = 0

  Glow's preprocessing of [0, 1) pixels is Shift(-0.5); Shift(0.0) is the
  identity (the toy flows' "no preprocessing").

  Shapes: any [B, ...] -> same; log_det [B] (zeros). No parameters.

  Attributes:
    offset: the constant added in the forward direction.

  Raises:
    ValueError: (at call) a non-floating input of rank 0.

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 5 (pixels in [-1/2, 1/2]).
  """
  offset: float = 0.0

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = x + offset: (y, zeros [B])."""
    check_flow_input(self, "forward", "x", x)
    return x + self.offset, zero_log_det(x)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = y - offset: (x, zeros [B])."""
    check_flow_input(self, "inverse", "y", y)
    return y - self.offset, zero_log_det(y)


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

  def _check(self, x=None, method=None):
    if x is not None:
      check_flow_input(self, method, "x" if method == "forward" else "y", x)
    if not 0.0 <= self.alpha < 0.5:
      raise ValueError(f"Logit: alpha must be in [0, 0.5), got {self.alpha}.")

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x in [0, 1] -> (logit(α + (1 - 2α) x), log_det [B]) (class docstring)."""
    self._check(x, "forward")
    p = self.alpha + (1.0 - 2.0 * self.alpha) * x
    log_p, log_1mp = jnp.log(p), jnp.log1p(-p)
    log_det = jnp.log1p(-2.0 * self.alpha) - log_p - log_1mp
    return log_p - log_1mp, sum_except_batch(log_det)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y -> ((σ(y) - α) / (1 - 2α), log_det [B]) (class docstring)."""
    self._check(y, "inverse")
    x = (jax.nn.sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)
    log_det = (jax.nn.log_sigmoid(y) + jax.nn.log_sigmoid(-y)
               - jnp.log1p(-2.0 * self.alpha))
    return x, sum_except_batch(log_det)


class SinhArcsinh(Bijector):
  """Elementwise monotone map y = sinh(δ · arcsinh(x) - ε), per dimension.

    forward:  y = sinh(δ a - ε),  a = arcsinh(x),
              log_det = Σ [log δ + log cosh(δ a - ε) - ½ log(1 + x²)]
    inverse:  x = sinh((arcsinh(y) + ε) / δ),
              log_det = Σ [-log δ + log cosh(b) - ½ log(1 + y²)],
              b = (arcsinh(y) + ε) / δ

  with δ = exp(log δ) > 0, so y is strictly increasing in x: a bijection of
  R. ε shifts mass to one side (skewness), δ < 1 thickens and δ > 1 thins
  the tails (Jones and Pewsey 2009). Parameters per dimension: "skew" ε
  and "log_tailweight" log δ, both [D] (the last axis), zero-initialised, so
  the layer starts as the identity. A chain of these with affine layers
  (`ActNorm`) and 1-D `Planar` layers is this library's 1-D density model.

  Shapes: [B, ..., D] -> same; log_det [B].

  Raises:
    ValueError: (at call) a non-floating input of rank < 2.

  References:
    Jones and Pewsey 2009, "Sinh-arcsinh distributions", Biometrika 96(4),
      eq. 2 (the transformation S_{ε,δ}).
  """

  @nn.compact
  def _params(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    d = x.shape[-1]
    skew = self.param("skew", nn.initializers.zeros, (d,), x.dtype)
    log_tail = self.param("log_tailweight", nn.initializers.zeros, (d,),
                          x.dtype)
    return skew, log_tail

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = sinh(δ arcsinh(x) - ε): (y, log_det [B]) (class docstring)."""
    check_flow_input(self, "forward", "x", x, min_rank=2, layout="[B, ..., D]")
    skew, log_tail = self._params(x)
    inner = jnp.exp(log_tail) * jnp.arcsinh(x) - skew
    log_det = log_tail + _log_cosh(inner) - 0.5 * jnp.log1p(x * x)
    return jnp.sinh(inner), sum_except_batch(log_det)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = sinh((arcsinh(y) + ε) / δ): (x, log_det [B]) (class docstring)."""
    check_flow_input(self, "inverse", "y", y, min_rank=2, layout="[B, ..., D]")
    skew, log_tail = self._params(y)
    inner = (jnp.arcsinh(y) + skew) * jnp.exp(-log_tail)
    log_det = -log_tail + _log_cosh(inner) - 0.5 * jnp.log1p(y * y)
    return jnp.sinh(inner), sum_except_batch(log_det)


def _log_cosh(x: jax.Array) -> jax.Array:
  """log cosh x = |x| + log1p(exp(-2|x|)) - log 2, without overflow."""
  a = jnp.abs(x)
  return a + jnp.log1p(jnp.exp(-2.0 * a)) - jnp.log(2.0)

"""Invertible 1x1 convolution with an LU-decomposed weight (Glow, sec. 3.2).

References:
  Kingma and Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1
    Convolutions", sec. 3.2 (LU decomposition) and table 1.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from gdm_jax import checks
from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import channel_map_log_det
from gdm_jax.flows.base import check_channel_map_input


def random_rotation(rng: jax.Array, n: int) -> jax.Array:
  """A Haar-random orthogonal [n, n] matrix (QR of a Gaussian, signs fixed).

  Raises:
    ValueError: n is not a positive int.
  """
  checks.check_positive_int("flows.random_rotation", "n", n)
  q, r = jnp.linalg.qr(jax.random.normal(rng, (n, n), jnp.float32))
  return q * jnp.sign(jnp.diag(r))[None, :]


class InvertibleConv1x1(Bijector):
  """Learned channel mixing y = W x at every pixel, W = P L (U + diag(s)).

  s = sign(s) exp(log|s|) is stored as a fixed sign and a trainable log|s|.

    forward:  y[b, h, w, :] = W x[b, h, w, :],   log_det = H·W·Σ_c log|s_c|
    inverse:  x[b, h, w, :] = W⁻¹ y[b, h, w, :], log_det = -H·W·Σ_c log|s_c|

  P is a fixed permutation matrix, L unit lower triangular, U strictly upper
  triangular, s the diagonal of the U factor; log|det W| = Σ log|s| costs
  O(C) and W⁻¹ = (U + diag s)⁻¹ L⁻¹ Pᵀ two triangular solves. At init W is a
  random rotation (|det W| = 1, log_det = 0) and P, L, U, s come from its
  pivoted LU decomposition. Any non-batch axes before the channel axis are
  "spatial": [B, D] inputs get a D x D dense map with factor 1.

  Variables: trainable "params" {"lower" [C, C] (strictly lower part used),
  "upper" [C, C] (strictly upper part used), "log_s" [C]} and fixed
  "constants" {"permutation" [C, C], "sign_s" [C]}. `init` returns both
  collections; pass both to `apply` and give only "params" to the optimizer
  (a missing "constants" collection raises flax's ScopeCollectionNotFound).

  Shapes: [B, ..., C] -> same; log_det [B].

  Raises:
    ValueError: (at call) a non-floating input of rank < 2, or one whose C
      differs from the parameters'.

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 3.2 and table 1.
  """

  @nn.compact
  def _factors(self, c: int):
    # Flax evaluates param initialisers abstractly on every call (a shape
    # check), so they must work without an rng: placeholders of the right
    # shapes unless the variables are being created.
    init = dict(p=jnp.eye(c), l=jnp.eye(c), u=jnp.zeros((c, c)),
                sign=jnp.ones(c), log_s=jnp.zeros(c))
    if not self.has_variable("params", "log_s"):
      w0 = random_rotation(self.make_rng("params"), c)
      p, l, u = jax.scipy.linalg.lu(w0)
      s = jnp.diag(u)
      init = dict(p=p, l=l, u=jnp.triu(u, 1), sign=jnp.sign(s),
                  log_s=jnp.log(jnp.abs(s)))
    perm = self.variable("constants", "permutation", lambda: init["p"]).value
    sign_s = self.variable("constants", "sign_s", lambda: init["sign"]).value
    lower = self.param("lower", lambda _: init["l"])
    upper = self.param("upper", lambda _: init["u"])
    log_s = self.param("log_s", lambda _: init["log_s"])
    eye = jnp.eye(c, dtype=lower.dtype)
    l_mat = jnp.tril(lower, -1) + eye
    u_mat = jnp.triu(upper, 1) + jnp.diag(sign_s * jnp.exp(log_s))
    return perm, l_mat, u_mat, log_s

  def weight(self, channels: int) -> jax.Array:
    """W = P L U [C_out, C_in], for inspection (y = W x per pixel)."""
    perm, l_mat, u_mat, _ = self._factors(channels)
    return perm @ l_mat @ u_mat

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = W x per pixel, W = P L U: (y, log_det [B] = H·W·Σ_c log|s_c|)."""
    check_channel_map_input(self, "forward", "x", x, "log_s")
    perm, l_mat, u_mat, log_s = self._factors(x.shape[-1])
    w = perm @ l_mat @ u_mat
    return jnp.einsum("...i,oi->...o", x, w), channel_map_log_det(x, log_s)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = W⁻¹ y per pixel (two triangular solves): (x, log_det [B] =
    -H·W·Σ_c log|s_c|)."""
    check_channel_map_input(self, "inverse", "y", y, "log_s")
    perm, l_mat, u_mat, log_s = self._factors(y.shape[-1])
    l_inv_pt = solve_triangular(l_mat, perm.T, lower=True, unit_diagonal=True)
    w_inv = solve_triangular(u_mat, l_inv_pt, lower=False)
    return (jnp.einsum("...i,oi->...o", y, w_inv),
            -channel_map_log_det(y, log_s))

"""Planar flow with the û reparametrisation that guarantees invertibility.

References:
  Rezende and Mohamed 2015, "Variational Inference with Normalizing Flows",
    sec. 4.1, eq. 10-12, and appendix A.1 (invertibility condition, û).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.flows.base import Bijector


class Planar(Bijector):
  """f(z) = z + û tanh(wᵀz + b), invertible by construction.

    û = u + (m(wᵀu) - wᵀu) w / ‖w‖²,  m(a) = -1 + softplus(a),
  so wᵀû = m(wᵀu) > -1, which makes a ↦ a + (wᵀû) tanh(a) strictly
  increasing and f a bijection of R^D (Rezende and Mohamed, appendix A.1).

    forward:  y = z + û tanh(a),  a = wᵀz + b,
              log_det = log|1 + ûᵀψ(z)| = log(1 + (wᵀû)(1 - tanh²(a)))
    inverse:  wᵀy + b = a + (wᵀû) tanh(a) is solved for the scalar a
              (the only non-analytic step; one 1-D root per example), then
              z = y - û tanh(a), log_det = -log(1 + (wᵀû)(1 - tanh²(a))).

  The 1-D root is found by `num_bisection_steps` bisection steps on the
  bracket [c - |wᵀû|, c + |wᵀû|], c = wᵀy + b (it holds the root since
  |tanh| < 1), which reaches float32 precision, then one Newton step from
  the stopped-gradient root: its value changes by ~0 but its derivative is
  the implicit-function one, so gradients through `inverse` are exact.

  Shapes: [B, D] -> [B, D]; log_det [B]. Parameters "w" [D], "u" [D],
  "b" [] (w and u drawn from N(0, init_stddev²), b = 0).

  Attributes:
    init_stddev: standard deviation of the initial w and u.
    num_bisection_steps: bisection iterations in `inverse`.

  Raises:
    ValueError: (at call) inputs that are not [B, D].

  References:
    Rezende and Mohamed 2015, "Variational Inference with Normalizing
      Flows", eq. 10-12 and appendix A.1.
  """
  init_stddev: float = 0.01
  num_bisection_steps: int = 60

  @nn.compact
  def _params(self, x: jax.Array):
    checks.check_array("Planar.forward/inverse", "x", x)
    if x.ndim != 2:
      raise ValueError(f"Planar: expects [B, D] inputs, got shape {x.shape}; "
                       "flatten images first.")
    d = x.shape[-1]
    init = nn.initializers.normal(self.init_stddev)
    w = self.param("w", init, (d,), x.dtype)
    u = self.param("u", init, (d,), x.dtype)
    b = self.param("b", nn.initializers.zeros, (), x.dtype)
    wu = jnp.dot(w, u)
    w_u_hat = -1.0 + jax.nn.softplus(wu)  # wᵀû = m(wᵀu) > -1
    u_hat = u + (w_u_hat - wu) * w / (jnp.dot(w, w) + 1e-12)
    # wᵀû is used in its analytic form: recomputed as jnp.dot(w, û) it can
    # round to <= -1 in float32 when wᵀu << 0 (a non-finite log-det).
    return w, u_hat, b, w_u_hat, wu

  @staticmethod
  def _log_det(wu: jax.Array, t: jax.Array) -> jax.Array:
    """log(1 + (wᵀû)(1 - t²)) = log(t² + softplus(wᵀu)(1 - t²)): a sum of
    non-negative terms, without the cancellation of 1 + (-1 + softplus)."""
    return jnp.log(jnp.maximum(t * t + jax.nn.softplus(wu) * (1.0 - t * t),
                               jnp.finfo(t.dtype).tiny))

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    w, u_hat, b, _, wu = self._params(x)
    t = jnp.tanh(x @ w + b)  # [B]
    return x + t[:, None] * u_hat, self._log_det(wu, t)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    w, u_hat, b, w_u_hat, wu = self._params(y)
    c = y @ w + b  # [B]: solve g(a) = a + w_u_hat * tanh(a) = c
    g = lambda a: a + w_u_hat * jnp.tanh(a) - c
    radius = jnp.abs(w_u_hat)

    def bisect(_, bracket):
      lo, hi = bracket
      mid = 0.5 * (lo + hi)
      below = g(mid) < 0  # g is increasing: root above mid
      return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(
        0, self.num_bisection_steps, bisect,
        jax.lax.stop_gradient((c - radius - 1e-6, c + radius + 1e-6)))
    a0 = jax.lax.stop_gradient(0.5 * (lo + hi))
    t0 = jnp.tanh(a0)
    a = a0 - g(a0) / (1.0 + w_u_hat * (1.0 - t0 * t0))  # implicit gradient
    t = jnp.tanh(a)
    return y - t[:, None] * u_hat, -self._log_det(wu, t)

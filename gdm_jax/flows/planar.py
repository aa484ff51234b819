"""The planar flow (Rezende and Mohamed 2015, sec. 4.1), in one implementation.

    f(z) = z + û h(wᵀz + b),  h = tanh,  z, u, w in R^D, b in R,

with the reparametrisation û of u that makes f invertible (their appendix
A.1):

    û = u + (m(wᵀu) - wᵀu) w / ‖w‖²,   so  wᵀû = m(wᵀu) > -1,

and then a ↦ a + (wᵀû) tanh(a) is strictly increasing, so f is a bijection
of R^D (along w it is that scalar map; across w it is a shift).

The choice of m. The paper takes m(a) = -1 + softplus(a) = -1 + log(1 + e^a).
This module takes

    m(a) = -1 + softplus(a + log(e - 1)),

the paper's m shifted by log(e - 1) = softplus^{-1}(1), so that m(0) = 0:
u = 0 gives û = 0 and the flow is the identity, and a small u gives a flow
near the identity (with the paper's m, u = 0 gives wᵀû = -0.31 and a visible
contraction along w). Both are increasing bijections of R onto (-1, ∞), and
the two define the same family of maps: û of this m at (u, w) equals the
paper's û at (u + log(e - 1) w / ‖w‖², w). Only the coordinates of the
parameters, and hence the function a given initialisation starts as, differ.

Numerics. 1 + wᵀû = softplus(wᵀu + log(e - 1)) is computed in that form and
floored at `PLANAR_FLOOR` = 1e-6 (in float32 softplus underflows to 0 for
arguments below about -104, and -1 + softplus rounds to -1 long before), so
wᵀû >= -1 + 1e-6; the log-determinant is evaluated as

    log|det ∂f/∂z| = log(1 + (wᵀû)(1 - t²)) = log(t² + (1 + wᵀû)(1 - t²)),

t = tanh(wᵀz + b), a sum of non-negative terms without cancellation.

Shapes. The module-level functions broadcast: z [N, D] with u, w [N, D]
(one flow per example, e.g. amortised by an encoder) or [D] (one shared
flow), b [N] or [].

References:
  Rezende and Mohamed 2015, "Variational Inference with Normalizing Flows",
    sec. 4.1, eq. 10-12 (planar flow and its log-det), appendix A.1
    (invertibility, û).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.flows.base import Bijector

# log(e - 1) = softplus^{-1}(1): shifts m so that m(0) = 0 (module docstring).
LOG_E_MINUS_1 = math.log(math.e - 1.0)
# The smallest 1 + wᵀû of a planar step.
PLANAR_FLOOR = 1e-6


def planar_u_hat(u: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Rezende and Mohamed's û, which makes the planar map invertible.

    û = u + (m(wᵀu) - wᵀu) w / ‖w‖²,  m(a) = -1 + softplus(a + log(e - 1)),

  so wᵀû = m(wᵀu) > -1 for every u, w (appendix A.1, with the shifted m of
  the module docstring: u = 0 gives û = 0, the identity).

  Args:
    u, w: float [..., D] (broadcastable).

  Returns:
    (û [..., D], 1 + wᵀû = max(softplus(wᵀu + log(e - 1)), 1e-6) [...]).
    The second is exact (and floored, so wᵀû >= -1 + 1e-6 in float32 too),
    while wᵀû recomputed from û in float32 can fall below -1 by rounding
    when wᵀu << 0 (e.g. -1.000006), so log-dets use it.

  References:
    Rezende and Mohamed 2015, appendix A.1.
  """
  wu = jnp.sum(w * u, -1, keepdims=True)
  sp = jnp.maximum(jax.nn.softplus(wu + LOG_E_MINUS_1), PLANAR_FLOOR)
  u_hat = u + (sp - 1.0 - wu) * w / (jnp.sum(w * w, -1, keepdims=True) + 1e-12)
  return u_hat, sp[..., 0]


def planar_log_det(one_plus_wu_hat: jax.Array, t: jax.Array) -> jax.Array:
  """log|det ∂f/∂z| = log(t² + (1 + wᵀû)(1 - t²)), t = tanh(wᵀz + b).

  Equal to log|1 + ûᵀψ(z)|, ψ(z) = h'(wᵀz + b) w (Rezende and Mohamed 2015,
  eq. 11-12), written as a sum of non-negative terms.

  Args:
    one_plus_wu_hat: float [...] from `planar_u_hat` (> 0).
    t: float [...], broadcastable.

  Returns:
    float [...], nats.
  """
  t2 = t * t
  return jnp.log(jnp.maximum(t2 + one_plus_wu_hat * (1.0 - t2), 1e-30))


def planar_forward(z: jax.Array, u: jax.Array, w: jax.Array,
                   b: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One planar step y = z + û tanh(wᵀz + b) and its log-determinant.

    log|det ∂y/∂z| = log(1 + (wᵀû)(1 - tanh²(wᵀz + b)))

  (Rezende and Mohamed 2015, eq. 10-12; û from `planar_u_hat`).

  Args:
    z: float [N, D]; u, w: [N, D] or [D]; b: [N] or [].

  Returns:
    (y [N, D], log_det [N]), nats.

  References:
    Rezende and Mohamed 2015, eq. 10-12.
  """
  u_hat, one_plus = planar_u_hat(u, w)
  t = jnp.tanh(jnp.sum(w * z, -1) + b)                        # [N]
  return z + t[..., None] * u_hat, planar_log_det(one_plus, t)


def planar_inverse(y: jax.Array, u: jax.Array, w: jax.Array, b: jax.Array,
                   num_bisection_steps: int = 60
                   ) -> tuple[jax.Array, jax.Array]:
  """The inverse of `planar_forward`: z with z + û tanh(wᵀz + b) = y.

  Along w the map is scalar: with a = wᵀz + b and c = wᵀy + b,

    a + (wᵀû) tanh(a) = c,

  an increasing function of a whose root lies in [c - |wᵀû|, c + |wᵀû|]
  (|tanh| < 1). `num_bisection_steps` bisection steps on that bracket reach
  float32 precision; one Newton step from the stopped-gradient root leaves
  the value unchanged (to rounding) and gives the implicit-function
  derivative, so gradients through the inverse are exact. Then
  z = y - û tanh(a) and log|det ∂z/∂y| = -log(1 + (wᵀû)(1 - tanh²(a))).

  Args:
    y: float [N, D]; u, w: [N, D] or [D]; b: [N] or [].
    num_bisection_steps: bisection iterations.

  Returns:
    (z [N, D], log_det [N]), nats.

  References:
    Rezende and Mohamed 2015, eq. 10 and appendix A.1 (the map is
      invertible; they give no inverse in closed form).
  """
  u_hat, one_plus = planar_u_hat(u, w)
  w_u_hat = one_plus - 1.0
  c = jnp.sum(w * y, -1) + b                                 # [N]
  g = lambda a: a + w_u_hat * jnp.tanh(a) - c
  radius = jnp.abs(w_u_hat)

  def bisect(_, bracket):
    lo, hi = bracket
    mid = 0.5 * (lo + hi)
    below = g(mid) < 0                       # g is increasing: root above mid
    return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

  lo, hi = jax.lax.fori_loop(
      0, num_bisection_steps, bisect,
      jax.lax.stop_gradient((c - radius - 1e-6, c + radius + 1e-6)))
  a0 = jax.lax.stop_gradient(0.5 * (lo + hi))
  t0 = jnp.tanh(a0)
  # g'(a0) = 1 + (wᵀû)(1 - t0²) = t0² + (1 + wᵀû)(1 - t0²) > 0.
  a = a0 - g(a0) / (t0 * t0 + one_plus * (1.0 - t0 * t0))
  t = jnp.tanh(a)
  return y - t[..., None] * u_hat, -planar_log_det(one_plus, t)


class Planar(Bijector):
  """f(z) = z + û tanh(wᵀz + b), invertible by construction (one shared
  set of parameters for all examples; `planar_forward` / `planar_inverse`).

  Parameters "w" [D], "u" [D], "b" [] (w and u drawn from
  N(0, init_stddev²), b = 0). With the module's m (m(0) = 0) a small
  init_stddev starts the flow near the identity.

  Shapes: [B, D] -> [B, D]; log_det [B].

  Attributes:
    init_stddev: standard deviation of the initial w and u.
    num_bisection_steps: bisection iterations in `inverse`.

  Raises:
    ValueError: (at call) inputs that are not floating [B, D].

  References:
    Rezende and Mohamed 2015, "Variational Inference with Normalizing
      Flows", eq. 10-12 and appendix A.1.
  """
  init_stddev: float = 0.01
  num_bisection_steps: int = 60

  @nn.compact
  def _params(self, x: jax.Array):
    checks.check_arg("Planar.forward/inverse", "x", x)
    if x.ndim != 2:
      raise ValueError(f"Planar: expects [B, D] inputs, got shape {x.shape}; "
                       "flatten images first.")
    d = x.shape[-1]
    init = nn.initializers.normal(self.init_stddev)
    w = self.param("w", init, (d,), x.dtype)
    u = self.param("u", init, (d,), x.dtype)
    b = self.param("b", nn.initializers.zeros, (), x.dtype)
    return u, w, b

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`planar_forward` with this layer's (u, w, b): (y [B, D], log_det [B])."""
    return planar_forward(x, *self._params(x))

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`planar_inverse` (bisection) with this layer's (u, w, b): (x [B, D],
    log_det [B])."""
    return planar_inverse(y, *self._params(y), self.num_bisection_steps)

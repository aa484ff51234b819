"""Conditional bijectors u = f(ε; c): invertible in ε for every context c.

Each has `forward(x, context) -> (y, log_det)` and `inverse(y, context) ->
(x, log_det)`, log_det = log|det ∂y/∂x| per example [B] at fixed context
(the Jacobian is taken in x only). The context is a feature array with the
input's leading shape, e.g. [B, H, W, F] for images [B, H, W, C]. They build
the variational dequantiser q(u | k) of Flow++ (`gdm_jax.models.flow`):
ε ~ N(0, I), u = sigmoid(f(ε; features(k))).

References:
  Ho, Chen, Srinivas, Duan and Abbeel 2019, "Flow++: Improving Flow-Based
    Generative Models with Variational Dequantization and Architecture
    Design", sec. 3.1.
  Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 3 (the coupling).
"""

from typing import Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.flows.base import affine_forward
from gdm_jax.flows.base import affine_inverse
from gdm_jax.flows.base import bounded_log_scale
from gdm_jax.flows.base import check_flow_input
from gdm_jax.flows.base import zero_log_det
from gdm_jax.flows.coupling import coupling_mask
from gdm_jax.flows.coupling import default_conditioner


class _ConditionalAffineMap(nn.Module):
  """Shared forward/inverse of the conditional affine maps:

    forward:  y = x ⊙ exp(log s) + t,     log_det = Σ log s
    inverse:  x = (y - t) ⊙ exp(-log s),  log_det = -Σ log s

  with (t, log s) = `_shift_and_log_scale(x, context)` computed from what
  both directions share (b ⊙ x = b ⊙ y for a coupling, the context only for
  `ConditionalAffine`). Subclasses define that method and `_input_ranks`
  = (check_flow_input's rank arguments, layout) for the input check."""

  def __call__(self, x, context):
    return self.forward(x, context)

  def _check(self, method, x, context):
    ranks, layout = self._input_ranks
    check_flow_input(self, method, "x" if method == "forward" else "y", x,
                     layout=layout, **ranks)
    _check_context(self, method, x, context)

  def forward(self, x, context):
    self._check("forward", x, context)
    return affine_forward(x, *self._shift_and_log_scale(x, context))

  def inverse(self, y, context):
    self._check("inverse", y, context)
    return affine_inverse(y, *self._shift_and_log_scale(y, context))


class ConditionalAffineCoupling(_ConditionalAffineMap):
  """Affine coupling whose conditioner also sees a context c.

    forward:  y = b ⊙ x + (1 - b) ⊙ (x ⊙ exp(log s) + t),
              (t, raw) = NN([b ⊙ x, c]),  log s = (1 - b) ⊙ bounded(raw),
              log_det = Σ (1 - b) ⊙ log s
    inverse:  x = b ⊙ y + (1 - b) ⊙ (y - t) ⊙ exp(-log s), same NN input
              since b ⊙ y = b ⊙ x;  log_det = -Σ (1 - b) ⊙ log s.

  [·, ·] concatenates on the last axis. Masks as in `AffineCoupling`
  ("checkerboard"/"channel" for images, "half"/"alternating" for vectors);
  the NN's last layer is zero-initialised (identity at init).

  Shapes: x [B, H, W, C] with context [B, H, W, F], or x [B, D] with context
  [B, F]; log_det [B].

  Attributes:
    mask_type, parity: the mask b (see `coupling_mask`).
    hidden: width of the default conditioner (ConvConditioner for images,
      two-layer MLPConditioner for vectors).
    conditioner: optional custom net(input, out_features).
    scale_fn, log_scale_bound: see `bounded_log_scale`.

  Raises:
    ValueError: (at call) a mask that does not fit the input; non-floating
      x or context; x not [B, H, W, C] or [B, D]; a context that does not
      broadcast to x on all axes but the last.

  References:
    Ho et al. 2019, "Flow++", sec. 3.1 (conditional flows for q(u|x)).
  """
  mask_type: str = "checkerboard"
  parity: bool = False
  hidden: int = 32
  conditioner: Optional[nn.Module] = None
  scale_fn: str = "tanh"
  log_scale_bound: float = 2.0

  _input_ranks = (dict(ranks=(2, 4)), "[B, H, W, C] or [B, D]")

  @nn.compact
  def _shift_and_log_scale(self, x, context):
    b = jnp.asarray(coupling_mask(x.shape, self.mask_type, self.parity),
                    x.dtype)
    c = x.shape[-1]
    net = (self.conditioner if self.conditioner is not None
           else default_conditioner(self.hidden, x.ndim))
    inp = jnp.concatenate(
        [x * b, jnp.broadcast_to(context, x.shape[:-1] + context.shape[-1:])],
        axis=-1)
    out = net(inp, 2 * c)
    shift = (1.0 - b) * out[..., :c]
    log_s = (1.0 - b) * bounded_log_scale(out[..., c:], self.scale_fn,
                                          self.log_scale_bound)
    return shift, log_s


def _check_context(module, method, x, context) -> None:
  """context [B, ..., F] must broadcast to x [B, ..., C] on all axes but the
  last (its last axis holds the features)."""
  fn = f"{type(module).__name__}.{method}"
  checks.check_array(fn, "context", context, min_rank=1,
                     layout="[B, ..., F]")
  if not checks.broadcasts_to(context.shape[:-1], x.shape[:-1]):
    raise ValueError(f"{fn}: `context` {context.shape} must match the input "
                     f"{x.shape} on all axes but the last.")


class ConditionalAffine(_ConditionalAffineMap):
  """Elementwise y = x ⊙ exp(log s(c)) + t(c), with (t, raw) = Dense(c).

    log s = bounded_log_scale(raw);  log_det = Σ log s.

  Every entry of x gets its own shift and scale from the context at the
  same position (a 1x1 map of the context's features, zero-initialised: the
  identity at init).

  Shapes: x [B, ..., C], context [B, ..., F] -> y like x; log_det [B].

  Attributes:
    scale_fn, log_scale_bound: see `bounded_log_scale`.

  Raises:
    ValueError: (at call) non-floating x or context, rank < 2, or a context
      that does not broadcast to x on all axes but the last.
  """
  scale_fn: str = "tanh"
  log_scale_bound: float = 2.0
  _input_ranks = (dict(min_rank=2), "[B, ..., C]")

  @nn.compact
  def _shift_and_log_scale(self, x, context):
    c = x.shape[-1]
    out = nn.Dense(2 * c, kernel_init=nn.initializers.zeros,
                   bias_init=nn.initializers.zeros, name="zero_dense")(context)
    out = jnp.broadcast_to(out, x.shape[:-1] + (2 * c,))
    return out[..., :c], bounded_log_scale(out[..., c:], self.scale_fn,
                                           self.log_scale_bound)


class ConditionalChain(nn.Module):
  """f = f_{n-1} ∘ ... ∘ f_0, every member called with the same context.

  forward sums the members' log-dets in list order; inverse applies them in
  reverse. Members take (x, context) and return (y, log_det [B]).

  Attributes:
    bijectors: the conditional members.
  """
  bijectors: Sequence[nn.Module] = ()

  def __call__(self, x, context):
    """`forward(x, context)`."""
    return self.forward(x, context)

  def forward(self, x, context):
    """x through every member with `context` [B, ...]: (y, the summed
    log-dets [B])."""
    check_flow_input(self, "forward", "x", x)
    checks.check_array("ConditionalChain.forward", "context", context,
                       min_rank=1)
    log_det = zero_log_det(x)
    for b in self.bijectors:
      x, ld = b.forward(x, context)
      log_det = log_det + ld
    return x, log_det

  def inverse(self, y, context):
    """y through the members' inverses in reverse order, each with
    `context`: (x, the summed log-dets [B])."""
    check_flow_input(self, "inverse", "y", y)
    checks.check_array("ConditionalChain.inverse", "context", context,
                       min_rank=1)
    log_det = zero_log_det(y)
    for b in reversed(self.bijectors):
      y, ld = b.inverse(y, context)
      log_det = log_det + ld
    return y, log_det

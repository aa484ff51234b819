"""The bijector interface, composition (`Chain`, `Invert`) and bounded scales.

A bijector is a Flax linen module f with two methods

  forward(x) -> (y, log_det),   y = f(x),       log_det = log|det ∂f/∂x|(x)
  inverse(y) -> (x, log_det),   x = f^{-1}(y),  log_det = log|det ∂f^{-1}/∂y|(y)

where `log_det` is per example, shape [B] (the leading axis of x is the
batch), in the dtype of x (float32 for float32 inputs). The two directions'
log-dets cancel: forward(x).log_det + inverse(f(x)).log_det = 0. Calling the
module (`__call__`) runs `forward`, so `flow.init(rng, x)` initialises it from
a data batch (data-dependent initialisations such as ActNorm's see that batch)
and `flow.apply(variables, x, method="inverse")` runs the other direction.

Change of variables: if y = f(x) with x ~ p_X then
  log p_Y(y) = log p_X(x) - log|det ∂f/∂x|(x),
so a flow model x = f^{-1}(z), z ~ N(0, I), has
  log p(x) = log N(f(x); 0, I) + forward(x).log_det.

Inputs are validated at trace time (`check_flow_input`, built on
`gdm_jax.checks`): a bijector's input must be a floating array [B, ...] of
the rank it documents, else ValueError naming e.g. "AffineCoupling.inverse".

References:
  Dinh, Krueger and Bengio 2014, "NICE: Non-linear Independent Components
    Estimation" (composition of bijectors, change of variables).
  Rezende and Mohamed 2015, "Variational Inference with Normalizing Flows",
    eq. 5-7 (log-dets of a chain add up).
"""

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks

SCALE_FUNCTIONS = ("tanh", "sigmoid")


def check_flow_input(module: nn.Module | str, method: str, name: str,
                     x: jax.Array, *, rank: int | None = None,
                     min_rank: int | None = 1,
                     ranks: tuple[int, ...] | None = None,
                     layout: str = "[B, ...]") -> None:
  """Checks a bijector input: floating, of `rank` / >= `min_rank` / one of
  `ranks` axes; the message names "<Class>.<method>" and the argument.

  Raises:
    ValueError: the input does not fit.
  """
  owner = module if isinstance(module, str) else type(module).__name__
  fn = f"{owner}.{method}"
  if ranks is not None:
    checks.check_array(fn, name, x, min_rank=None, layout=layout)
    if len(checks.shape_of(x)) not in ranks:
      raise ValueError(f"{fn}: `{name}` must be a floating array of rank in "
                       f"{ranks} {layout}; got "
                       f"{checks.dtype_of(x).name} with shape "
                       f"{checks.shape_of(x)}.")
    return
  checks.check_array(fn, name, x, rank=rank,
                     min_rank=None if rank is not None else min_rank,
                     layout=layout)


def check_channels(module: nn.Module, method: str, name: str, x: jax.Array,
                   channels: int) -> None:
  """Checks that x's last axis has the `channels` a layer was built for.

  Raises:
    ValueError: it does not (broadcasting would otherwise hide a 1-channel
      input against C-channel parameters).
  """
  if x.shape[-1] != channels:
    raise ValueError(f"{type(module).__name__}.{method}: `{name}` must have "
                     f"{channels} channels on its last axis (the layer's "
                     f"parameters); got shape {x.shape}.")


def check_channel_map_input(module: nn.Module, method: str, name: str,
                            x: jax.Array, param: str) -> None:
  """The input check of a per-channel layer (ActNorm, 1x1 convolution):
  floating [B, ..., C] with rank >= 2, and, once the layer's parameter
  `param` [C] exists, the C it was built for.

  Raises:
    ValueError: the input does not fit (see `check_flow_input`,
      `check_channels`).
  """
  check_flow_input(module, method, name, x, min_rank=2, layout="[B, ..., C]")
  if module.has_variable("params", param):
    check_channels(module, method, name, x,
                   module.get_variable("params", param).shape[0])


def channel_map_log_det(x: jax.Array, log_s: jax.Array) -> jax.Array:
  """log|det| of a map that acts on the channel axis of every position of
  x [B, ..., C] with per-position log|det| Σ_c log s_c:

    log_det = (Π of the axes between batch and channel) · Σ_c log s_c,

  broadcast to [B] in the dtype of x (H·W·Σ log|s| for images [B, H, W, C],
  Σ log|s| for vectors [B, D]).

  References:
    Kingma and Dhariwal 2018, "Glow", table 1 (actnorm and 1x1 conv).
  """
  spatial = math.prod(x.shape[1:-1])
  return jnp.broadcast_to(spatial * jnp.sum(log_s), x.shape[:1]).astype(
      x.dtype)


def affine_forward(x: jax.Array, shift: jax.Array,
                   log_s: jax.Array) -> tuple[jax.Array, jax.Array]:
  """y = x ⊙ exp(log s) + t and log_det = Σ log s per example [B]."""
  return x * jnp.exp(log_s) + shift, sum_except_batch(log_s)


def affine_inverse(y: jax.Array, shift: jax.Array,
                   log_s: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x = (y - t) ⊙ exp(-log s) and log_det = -Σ log s per example [B]."""
  return (y - shift) * jnp.exp(-log_s), -sum_except_batch(log_s)


def sum_except_batch(x: jax.Array) -> jax.Array:
  """Sums all axes but the first: [B, ...] -> [B].

  Raises:
    ValueError: x is not numeric or has rank 0.
  """
  checks.check_arg("flows.sum_except_batch", "x", x, "numeric [B, ...]")
  return jnp.sum(x, axis=tuple(range(1, x.ndim)))


def zero_log_det(x: jax.Array) -> jax.Array:
  """The log-det of a volume-preserving map: zeros of shape [B], dtype of x.

  Raises:
    ValueError: x is not floating or has rank 0.
  """
  checks.check_arg("flows.zero_log_det", "x", x, "floating [B, ...]")
  return jnp.zeros(x.shape[:1], x.dtype)


def bounded_log_scale(raw: jax.Array, scale_fn: str = "tanh",
                      bound: float = 2.0) -> jax.Array:
  """Maps an unconstrained network output to a bounded log-scale, log s.

    "tanh":    log s = bound * tanh(raw / bound), so |log s| < bound and
               log s = 0 (s = 1) at raw = 0: a zero-initialised conditioner
               makes the layer the identity. Slope 1 at raw = 0.
    "sigmoid": s = sigmoid(raw + 2), log s = log_sigmoid(raw + 2) in
               (-inf, 0) (Glow's affine coupling, Kingma and Dhariwal 2018,
               and IAF's forget-gate bias, Kingma et al. 2016). s = 0.881 at
               raw = 0, so the layer starts as a near-identity contraction,
               not the identity.

  Unbounded scales (s = exp(raw)) let deep flows diverge early in training
  (Glow bounds them with the sigmoid for that reason), so none is offered.

  Args:
    raw: float array, any shape.
    scale_fn: "tanh" or "sigmoid".
    bound: the bound of |log s| for "tanh" (> 0); ignored for "sigmoid".

  Returns:
    log s, same shape and dtype as `raw`.

  Raises:
    ValueError: unknown `scale_fn`, bound <= 0, or non-floating raw.
  """
  checks.check_arg("flows.bounded_log_scale", "raw", raw)
  if scale_fn == "tanh":
    if bound <= 0:
      raise ValueError(f"bounded_log_scale: bound must be > 0, got {bound}.")
    return bound * jnp.tanh(raw / bound)
  if scale_fn == "sigmoid":
    return jax.nn.log_sigmoid(raw + 2.0)
  raise ValueError(f"bounded_log_scale: scale_fn must be one of "
                   f"{SCALE_FUNCTIONS}, got {scale_fn!r}.")


class Bijector(nn.Module):
  """Base class: `forward` and `inverse` each return (output, log_det [B]).

  Subclasses implement both methods; `__call__` is `forward`, so
  `module.init(rng, x)` initialises from a batch in the forward direction.
  """

  def __call__(self, x: jax.Array):
    """`forward(x)`, so `init(rng, x)` initialises in the forward direction."""
    return self.forward(x)

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x -> (y, log|det ∂y/∂x| [B]); implemented by each subclass."""
    raise NotImplementedError(f"{type(self).__name__}.forward")

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y -> (x, log|det ∂x/∂y| [B]); implemented by each subclass."""
    raise NotImplementedError(f"{type(self).__name__}.inverse")


class Chain(Bijector):
  """Composition f = f_{n-1} ∘ ... ∘ f_0 of `bijectors`, applied in list order.

    forward:  x_{k+1} = f_k(x_k),   log_det = Σ_k log|det ∂f_k/∂x_k|
    inverse:  applies f_k^{-1} for k = n-1 ... 0, summing their log-dets.

  Shapes are whatever the members produce in turn (e.g. a Squeeze changes
  [B, H, W, C] to [B, H/2, W/2, 4C]); log_det is [B]. An empty chain is the
  identity. Member parameters live under "bijectors_0", "bijectors_1", ...

  Attributes:
    bijectors: the members, each with forward/inverse returning (out, [B]).

  References:
    Rezende and Mohamed 2015, "Variational Inference with Normalizing
      Flows", eq. 7.
  """
  bijectors: Sequence[nn.Module] = ()

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x through f_0 ... f_{n-1}: (y, the summed log-dets [B])."""
    check_flow_input(self, "forward", "x", x)
    log_det = zero_log_det(x)
    for b in self.bijectors:
      x, ld = b.forward(x)
      log_det = log_det + ld
    return x, log_det

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y through f_{n-1}⁻¹ ... f_0⁻¹: (x, the summed log-dets [B])."""
    check_flow_input(self, "inverse", "y", y)
    log_det = zero_log_det(y)
    for b in reversed(self.bijectors):
      y, ld = b.inverse(y)
      log_det = log_det + ld
    return y, log_det


class Invert(Bijector):
  """The inverse bijector g = f⁻¹: g.forward = f.inverse, g.inverse = f.forward.

  E.g. a masked autoregressive flow (MAF, Papamakarios et al. 2017) is
  `Invert(IAF(...))`: fast (one-pass) density evaluation, sequential sampling.
  Note that `init` of an Invert runs f.inverse on the batch, so a
  data-dependent initialisation inside f sees data in f's output space.

  Attributes:
    bijector: f.

  References:
    Papamakarios, Pavlakou and Murray 2017, "Masked Autoregressive Flow for
      Density Estimation", sec. 3.3 (MAF and IAF are each other's inverse).
  """
  bijector: nn.Module

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """f.inverse(x): (f⁻¹(x), its log-det [B])."""
    return self.bijector.inverse(x)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """f.forward(y): (f(y), its log-det [B])."""
    return self.bijector.forward(y)


class Reshape(Bijector):
  """Reshapes each example: [B, *in_shape] <-> [B, *out_shape]; log_det = 0.

  A permutation of coordinates (row-major order is kept), e.g. NICE's MLP
  couplings on flattened images: Reshape((28, 28, 1), (784,)).

  Attributes:
    in_shape: per-example input shape.
    out_shape: per-example output shape, same number of entries.

  Raises:
    ValueError: (at call) the shapes hold different numbers of entries, or
      the input's per-example shape is not in_shape (out_shape for inverse).
  """
  in_shape: Sequence[int] = ()
  out_shape: Sequence[int] = ()

  def _check(self, x: jax.Array, expected: Sequence[int], direction: str):
    check_flow_input(self, direction, "x" if direction == "forward" else "y",
                     x)
    if _prod(self.in_shape) != _prod(self.out_shape):
      raise ValueError(f"Reshape: {tuple(self.in_shape)} and "
                       f"{tuple(self.out_shape)} differ in size.")
    if tuple(x.shape[1:]) != tuple(expected):
      raise ValueError(f"Reshape.{direction}: expects [B, *{tuple(expected)}]"
                       f", got shape {x.shape}.")

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[B, *in_shape] -> ([B, *out_shape], zeros [B])."""
    self._check(x, self.in_shape, "forward")
    return x.reshape((x.shape[0],) + tuple(self.out_shape)), zero_log_det(x)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[B, *out_shape] -> ([B, *in_shape], zeros [B])."""
    self._check(y, self.out_shape, "inverse")
    return y.reshape((y.shape[0],) + tuple(self.in_shape)), zero_log_det(y)


def _prod(shape: Sequence[int]) -> int:
  out = 1
  for s in shape:
    out *= int(s)
  return out

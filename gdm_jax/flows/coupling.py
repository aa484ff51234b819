"""Additive (NICE) and affine (RealNVP) coupling layers, their masks and nets.

A binary mask b (1 = "conditioning" entry, passed through unchanged; 0 =
transformed entry) splits x into x_b = b ⊙ x and the rest. With a
conditioner network NN,

  additive (NICE):   y = x + (1 - b) ⊙ t(b ⊙ x),                log_det = 0
  affine (RealNVP):  y = b ⊙ x + (1 - b) ⊙ (x ⊙ s(b ⊙ x) + t(b ⊙ x)),
                     log_det = Σ (1 - b) ⊙ log s(b ⊙ x)

and since b ⊙ y = b ⊙ x the inverse is closed-form:
  x = b ⊙ y + (1 - b) ⊙ (y - t(b ⊙ y)) / s(b ⊙ y).

Masks are built from the input's shape at call time:
  images [B, H, W, C]: "checkerboard" (b = 1 where (i + j) is even) and
                       "channel" (b = 1 on the first C // 2 channels);
  vectors [B, D]:      "half" (b = 1 on the first D // 2 entries) and
                       "alternating" (b = 1 on even indices);
`parity=True` uses 1 - b, so alternating the parity between consecutive
layers transforms every entry.

The masked formulation (the conditioner sees b ⊙ x with zeros in the
transformed entries) is used for all four masks. For channel masks it costs
a first conv layer with C instead of C/2 input channels compared with
slicing, and keeps one code path.

The conditioner's LAST layer is zero-initialised, so t = 0 and raw log-scale
0 at init: with the default "tanh" scale (log s = 2 tanh(raw / 2), see
`bounded_log_scale`) every coupling starts as the exact identity.

References:
  Dinh, Krueger and Bengio 2014, "NICE: Non-linear Independent Components
    Estimation", sec. 3 (the additive coupling law).
  Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP",
    sec. 3 (affine coupling, checkerboard and channel masks).
  Kingma and Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1
    Convolutions", sec. 3 and table 1 (zero-initialised last layer,
    sigmoid scale).
"""

from typing import Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks
from gdm_jax.flows.base import affine_forward
from gdm_jax.flows.base import affine_inverse
from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import bounded_log_scale
from gdm_jax.flows.base import check_flow_input

IMAGE_MASKS = ("checkerboard", "channel")
VECTOR_MASKS = ("half", "alternating")


def checkerboard_mask(height: int, width: int,
                      parity: bool = False) -> np.ndarray:
  """b[i, j] = 1 if (i + j + parity) is even else 0; [H, W, 1] float32.

  Raises:
    ValueError: height or width not a positive int.
  """
  checks.check_positive_int("flows.checkerboard_mask", "height", height)
  checks.check_positive_int("flows.checkerboard_mask", "width", width)
  i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  return ((i + j + int(parity)) % 2 == 0).astype(np.float32)[..., None]


def _first_half(n: int, parity: bool, error: str) -> np.ndarray:
  if n < 2:
    raise ValueError(error)
  b = (np.arange(n) < n // 2).astype(np.float32)
  return 1.0 - b if parity else b


def channel_mask(channels: int, parity: bool = False) -> np.ndarray:
  """b[c] = 1 for c < C // 2 (flipped if parity), shape [C], float32.

  Raises:
    ValueError: if channels < 2 (nothing to condition on or to transform).
  """
  return _first_half(channels, parity, f"channel_mask: needs at least 2 "
                     f"channels, got {channels}; use a checkerboard mask.")


def half_mask(dim: int, parity: bool = False) -> np.ndarray:
  """b[d] = 1 for d < D // 2 (flipped if parity), shape [D], float32.

  Raises:
    ValueError: if dim < 2.
  """
  return _first_half(dim, parity,
                     f"half_mask: needs at least 2 dimensions, got {dim}.")


def alternating_mask(dim: int, parity: bool = False) -> np.ndarray:
  """b[d] = 1 for even d (odd d if parity), shape [D], float32.

  Raises:
    ValueError: if dim < 2.
  """
  if dim < 2:
    raise ValueError(f"alternating_mask: needs at least 2 dimensions, got "
                     f"{dim}.")
  return ((np.arange(dim) + int(parity)) % 2 == 0).astype(np.float32)


def coupling_mask(shape: Sequence[int], mask_type: str,
                  parity: bool = False) -> np.ndarray:
  """The mask for an input of `shape` ([B, H, W, C] or [B, D]).

  Returns:
    float32 array broadcastable to `shape`: [H, W, 1] (checkerboard), [C]
    (channel) or [D] (half, alternating).

  Raises:
    ValueError: a mask type that does not fit the input's rank, an unknown
      mask type, or too few channels/dimensions.
  """
  if len(shape) == 4:
    _, h, w, c = shape
    if mask_type == "checkerboard":
      return checkerboard_mask(h, w, parity)
    if mask_type == "channel":
      return channel_mask(c, parity)
    raise ValueError(f"coupling mask {mask_type!r} does not apply to images "
                     f"[B, H, W, C]; use one of {IMAGE_MASKS}.")
  if len(shape) == 2:
    if mask_type == "half":
      return half_mask(shape[1], parity)
    if mask_type == "alternating":
      return alternating_mask(shape[1], parity)
    raise ValueError(f"coupling mask {mask_type!r} does not apply to vectors "
                     f"[B, D]; use one of {VECTOR_MASKS}.")
  raise ValueError(f"coupling layers take [B, H, W, C] or [B, D] inputs, got "
                   f"shape {tuple(shape)}.")


def _zero_conv(out_features: int, kernel_size) -> nn.Module:
  """The conditioners' last layer: a 'SAME' convolution with zero kernel and
  bias ("zero_conv"), so a coupling starts as the identity."""
  return nn.Conv(out_features, kernel_size, padding="SAME",
                 kernel_init=nn.initializers.zeros,
                 bias_init=nn.initializers.zeros, name="zero_conv")


class ConvConditioner(nn.Module):
  """Glow's coupling net: conv3x3-ReLU-conv1x1-ReLU-conv3x3 (zero init).

  [B, H, W, C_in] -> [B, H, W, out_features]. The last convolution's kernel
  and bias start at zero, so the output is 0 at init.

  Attributes:
    hidden_channels: width of the two hidden layers (Glow uses 512).
    kernel_size: spatial size of the first and last convolutions.

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 3 (the coupling NN()).
  """
  hidden_channels: int = 64
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: jax.Array, out_features: int) -> jax.Array:
    """x [B, H, W, C_in] -> [B, H, W, out_features] (0 at init)."""
    _check_conditioner(self, x, out_features, "floating [B, H, W, C_in]")
    k = (self.kernel_size, self.kernel_size)
    x = nn.relu(nn.Conv(self.hidden_channels, k, padding="SAME")(x))
    x = nn.relu(nn.Conv(self.hidden_channels, (1, 1))(x))
    return _zero_conv(out_features, k)(x)


class ResNetConditioner(nn.Module):
  """RealNVP's coupling net, small: conv3x3, residual blocks, zero conv3x3.

    h = conv3x3(x);  h <- h + conv3x3(relu(conv3x3(relu(h))))  (num_blocks
    times);  out = conv3x3(relu(h)) with zero-initialised kernel and bias.

  [B, H, W, C_in] -> [B, H, W, out_features]; the output is 0 at init. Batch
  normalisation of the original is left out (it makes the coupling depend
  on the batch; the bounded scale and the identity start keep training
  stable without it).

  Attributes:
    hidden_channels: width of the residual stream.
    num_blocks: residual blocks (RealNVP uses 8 for CIFAR-10).

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 4.1 (deep
      residual conditioners); He et al. 2016, "Deep Residual Learning".
  """
  hidden_channels: int = 32
  num_blocks: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, out_features: int) -> jax.Array:
    """x [B, H, W, C_in] -> [B, H, W, out_features] (0 at init)."""
    _check_conditioner(self, x, out_features, "floating [B, H, W, C_in]")
    h = nn.Conv(self.hidden_channels, (3, 3), padding="SAME", name="conv_in")(x)
    for i in range(self.num_blocks):
      r = nn.Conv(self.hidden_channels, (3, 3), padding="SAME",
                  name=f"block_{i}_a")(nn.relu(h))
      r = nn.Conv(self.hidden_channels, (3, 3), padding="SAME",
                  name=f"block_{i}_b")(nn.relu(r))
      h = h + r
    return _zero_conv(out_features, (3, 3))(nn.relu(h))


class MLPConditioner(nn.Module):
  """Dense layers with `activation`, then a zero-initialised Dense.

  [B, D_in] -> [B, out_features]; the output is 0 at init.

  Attributes:
    hidden: sizes of the hidden layers.
    activation: nonlinearity after each hidden layer.
  """
  hidden: Sequence[int] = (64, 64)
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array, out_features: int) -> jax.Array:
    """x [..., D_in] -> [..., out_features] (0 at init)."""
    _check_conditioner(self, x, out_features, "floating [..., D_in]")
    for i, f in enumerate(self.hidden):
      x = self.activation(nn.Dense(f, name=f"dense_{i}")(x))
    return nn.Dense(out_features, kernel_init=nn.initializers.zeros,
                    bias_init=nn.initializers.zeros, name="zero_dense")(x)


def default_conditioner(hidden: int, rank: int) -> nn.Module:
  """The coupling net used when none is given: `ConvConditioner(hidden)` for
  images (rank 4), a two-layer `MLPConditioner((hidden, hidden))` for
  vectors; named "net" in its parent's parameters. Call it inside the
  parent's compact method."""
  if rank == 4:
    return ConvConditioner(hidden, name="net")
  return MLPConditioner((hidden, hidden), name="net")


def _check_conditioner(module, x, out_features, spec: str) -> None:
  fn = f"{type(module).__name__}.__call__"
  checks.check_arg(fn, "x", x, spec)
  checks.check_positive_int(fn, "out_features", out_features)


class _Coupling(Bijector):
  """Shared mask and conditioner plumbing of the two coupling layers."""
  mask_type: str = "checkerboard"
  parity: bool = False
  hidden: int = 64
  conditioner: Optional[nn.Module] = None

  @nn.compact
  def _condition(self, x_masked: jax.Array, out_features: int) -> jax.Array:
    net = (self.conditioner if self.conditioner is not None
           else default_conditioner(self.hidden, x_masked.ndim))
    return net(x_masked, out_features)

  def _check(self, x: jax.Array, method: str) -> None:
    check_flow_input(self, method, "x" if method == "forward" else "y", x,
                     ranks=(2, 4), layout="[B, H, W, C] or [B, D]")

  def _mask(self, x: jax.Array) -> jax.Array:
    return jnp.asarray(coupling_mask(x.shape, self.mask_type, self.parity),
                       x.dtype)


class AdditiveCoupling(_Coupling):
  """NICE's additive coupling y = x + (1 - b) ⊙ t(b ⊙ x); volume preserving.

    forward:  y = x + (1 - b) ⊙ t(b ⊙ x),   log_det = 0
    inverse:  x = y - (1 - b) ⊙ t(b ⊙ y),   log_det = 0

  Shapes: [B, H, W, C] (mask_type "checkerboard" or "channel") or [B, D]
  ("half" or "alternating") -> same shape; log_det [B] (zeros). NICE's final
  diagonal scaling layer is an `ActNorm` here.

  Attributes:
    mask_type: "checkerboard", "channel", "half" or "alternating".
    parity: use the complementary mask 1 - b.
    hidden: width of the default conditioner (ConvConditioner for images,
      MLPConditioner with two hidden layers for vectors).
    conditioner: optional custom net, called as net(b ⊙ x, out_features) and
      returning [..., out_features] with the input's leading shape; zero-init
      its last layer to keep the identity start.

  Raises:
    ValueError: (at call) the mask does not fit the input's rank, or fewer
      than 2 channels/dimensions for a channel/half/alternating mask.

  References:
    Dinh, Krueger and Bengio 2014, "NICE", sec. 3 (the additive coupling
      law).
  """

  def _shift(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    b = self._mask(x)
    return (1.0 - b) * self._condition(x * b, x.shape[-1])

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = x + (1 - b) ⊙ t(b ⊙ x): (y, zeros [B]) (volume preserving)."""
    self._check(x, "forward")
    return x + self._shift(x), jnp.zeros(x.shape[:1], x.dtype)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = y - (1 - b) ⊙ t(b ⊙ y): (x, zeros [B])."""
    self._check(y, "inverse")
    return y - self._shift(y), jnp.zeros(y.shape[:1], y.dtype)


class AffineCoupling(_Coupling):
  """RealNVP's affine coupling with a bounded scale.

    forward:  y = x ⊙ s + t,     s = exp((1 - b) ⊙ log s(b ⊙ x)),
                                 t = (1 - b) ⊙ t(b ⊙ x)
              log_det = Σ_{H,W,C} (1 - b) ⊙ log s(b ⊙ x)
    inverse:  x = (y - t) ⊙ exp(-log s),  both computed from b ⊙ y = b ⊙ x;
              log_det = -Σ (1 - b) ⊙ log s.

  The conditioner outputs 2·C features: t = out[..., :C] and the raw
  log-scale out[..., C:], mapped by `bounded_log_scale(raw, scale_fn,
  log_scale_bound)`: "tanh" (default) gives |log s| < log_scale_bound and the
  exact identity at init; "sigmoid" is Glow's s = sigmoid(raw + 2).

  Shapes: [B, H, W, C] or [B, D] -> same shape; log_det [B].

  Attributes:
    mask_type, parity, hidden, conditioner: as in `AdditiveCoupling`.
    scale_fn: "tanh" or "sigmoid".
    log_scale_bound: bound on |log s| per entry for "tanh".

  Raises:
    ValueError: (at call) the mask does not fit the input's rank, too few
      channels/dimensions, or an unknown scale_fn.

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real
      NVP", sec. 3 (coupling, its triangular Jacobian, masks).
    Kingma and Dhariwal 2018, "Glow", table 1 (sigmoid scale).
  """
  scale_fn: str = "tanh"
  log_scale_bound: float = 2.0

  def _shift_and_log_scale(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    b = self._mask(x)
    c = x.shape[-1]
    out = self._condition(x * b, 2 * c)
    shift = (1.0 - b) * out[..., :c]
    log_s = (1.0 - b) * bounded_log_scale(out[..., c:], self.scale_fn,
                                          self.log_scale_bound)
    return shift, log_s

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """y = x ⊙ s + t on the unmasked part (class docstring): (y,
    log_det [B] = Σ log s)."""
    self._check(x, "forward")
    return affine_forward(x, *self._shift_and_log_scale(x))

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """x = (y - t) ⊙ s⁻¹ on the unmasked part: (x, log_det [B] = -Σ log s)."""
    self._check(y, "inverse")
    return affine_inverse(y, *self._shift_and_log_scale(y))

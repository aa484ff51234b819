"""MADE and the inverse autoregressive flow (IAF) built on it.

MADE (Germain et al. 2015) turns an MLP into an autoregressive network by
masking its weights. Each input d gets a degree m(d) in {1..D} (its position
in the autoregressive order), each hidden unit k a degree m(k) in
{1..D-1}; a hidden weight k' -> k is kept iff m(k) >= m(k') and an output
weight k -> d iff m(d) > m(k). Then output d depends only on the inputs with
m(d') < m(d): the Jacobian ∂out_d/∂x_{d'} is strictly lower triangular in
the order m.

Hidden degrees are assigned deterministically and cyclically,
m(k) = 1 + (k mod max(1, D-1)), so every allowed connection d' -> d exists
as soon as each hidden layer has >= D - 1 units, and the masks need no key.

References:
  Germain, Gregor, Murray and Larochelle 2015, "MADE: Masked Autoencoder for
    Distribution Estimation", sec. 4 (masks).
  Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling 2016, "Improved
    Variational Inference with Inverse Autoregressive Flow", sec. 4 (IAF,
    and the context input of its autoregressive network).
"""

from typing import Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks
from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import bounded_log_scale


def made_degrees(dim: int, hidden: Sequence[int],
                 reverse: bool = False) -> list[np.ndarray]:
  """MADE degrees [m_in [D], m_h1 [H1], ...].

  Inputs get 1..D (D..1 if reverse); hidden units 1 + (k mod max(1, D-1)).

  Raises:
    ValueError: if dim < 1.
  """
  if dim < 1:
    raise ValueError(f"made_degrees: dim must be >= 1, got {dim}.")
  m_in = np.arange(1, dim + 1)
  degrees = [m_in[::-1].copy() if reverse else m_in]
  for h in hidden:
    degrees.append(1 + np.arange(h) % max(1, dim - 1))
  return degrees


def made_masks(dim: int, hidden: Sequence[int],
               reverse: bool = False) -> list[np.ndarray]:
  """MADE's weight masks, one [fan_in, fan_out] float32 array per layer.

    hidden layer l:  M[k', k] = 1[m_l(k) >= m_{l-1}(k')]
    output layer:    M[k, d]  = 1[m_in(d) > m_L(k)]   (strict)

  The output mask is [H_L, D] for one output per input; tile it for several.

  References:
    Germain et al. 2015, "MADE", sec. 4.
  """
  degrees = made_degrees(dim, hidden, reverse)
  masks = [(d_out[None, :] >= d_in[:, None]).astype(np.float32)
           for d_in, d_out in zip(degrees[:-1], degrees[1:])]
  masks.append((degrees[0][None, :] > degrees[-1][:, None]).astype(np.float32))
  return masks


class MaskedDense(nn.Module):
  """y = x (kernel ⊙ mask) + bias: [B, fan_in] -> [B, features].

  Attributes:
    features: output size.
    mask: [fan_in, features] 0/1 array (a static numpy array).
    kernel_init, bias_init: initialisers (the kernel before masking).

  Raises:
    ValueError: (at call) a non-floating input, or one whose last axis is not
      the mask's fan_in.
  """
  features: int
  mask: np.ndarray
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[..., fan_in] -> [..., features]: x (kernel ⊙ mask) + bias."""
    checks.check_arg("MaskedDense.__call__", "x", x, "floating [..., fan_in]")
    if x.shape[-1] != np.shape(self.mask)[0]:
      raise ValueError(f"MaskedDense.__call__: `x` must have fan_in = "
                       f"{np.shape(self.mask)[0]} (the mask's rows) on its "
                       f"last axis; got shape {x.shape}.")
    kernel = self.param("kernel", self.kernel_init,
                        (x.shape[-1], self.features), x.dtype)
    bias = self.param("bias", self.bias_init, (self.features,), x.dtype)
    return x @ (kernel * jnp.asarray(self.mask, x.dtype)) + bias


class MADE(nn.Module):
  """Masked autoencoder [B, D] -> [B, num_outputs, D], autoregressive in x,
  optionally with a context input.

    out[:, j, d] depends only on x[:, d'] with m(d') < m(d) (and on all of
    the context),

  with m the input degrees (1..D, or D..1 if reverse). With a context h
  [B, C] (Kingma et al. 2016, sec. 4: the autoregressive network of an IAF
  posterior takes the encoder's h as an extra input), h enters the first
  hidden layer through an unmasked dense map without bias:

    a_1 = MaskedDense(x) + Dense(h),  h_1 = activation(a_1),

  which keeps the autoregressive property in x (h does not depend on x).
  The last layer is zero-initialised (outputs are 0 at init) unless
  zero_init_last=False.

  Call: `made(x [B, D], context=None or [B, C]) -> [B, num_outputs, D]`.
  Parameters: "masked_0", ..., "masked_out" (each "kernel", "bias") and,
  when a context is given, "context" ("kernel" [C, hidden[0]]).

  Attributes:
    hidden: hidden layer sizes (>= D - 1 each for full connectivity).
    num_outputs: outputs per input dimension (2 for IAF: shift, log-scale).
    reverse: use the order D..1 instead of 1..D.
    activation: nonlinearity after each hidden layer.
    zero_init_last: zero-initialise the output layer.

  Raises:
    ValueError: (at call) inputs that are not floating [B, D], or a context
      that is not floating [B, C] with the same B.

  References:
    Germain, Gregor, Murray and Larochelle 2015, "MADE", sec. 4.
    Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling 2016,
      "Improved Variational Inference with Inverse Autoregressive Flow",
      sec. 4 (the context h).
  """
  hidden: Sequence[int] = (64, 64)
  num_outputs: int = 2
  reverse: bool = False
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  zero_init_last: bool = True

  @nn.compact
  def __call__(self, x: jax.Array,
               context: Optional[jax.Array] = None) -> jax.Array:
    """x [B, D] (and context [B, C] or None) -> [B, num_outputs, D];
    output d depends only on the inputs before d in the MADE order."""
    checks.check_arg("MADE.__call__", "x", x)
    if x.ndim != 2:
      raise ValueError(f"MADE: expects [B, D] inputs, got shape {x.shape}.")
    if context is not None:
      checks.check_arg("MADE.__call__", "context", context, "floating [B, C]")
      checks.check_same_batch("MADE.__call__", [("x", x),
                                                ("context", context)])
    d = x.shape[-1]
    masks = made_masks(d, self.hidden, self.reverse)
    h = x
    for i, (f, m) in enumerate(zip(self.hidden, masks[:-1])):
      a = MaskedDense(f, m, name=f"masked_{i}")(h)
      if i == 0 and context is not None:
        a = a + nn.Dense(f, use_bias=False, name="context")(context)
      h = self.activation(a)
    out_mask = np.tile(masks[-1], (1, self.num_outputs))  # [H_L, n*D]
    init = (nn.initializers.zeros if self.zero_init_last
            else nn.initializers.lecun_normal())
    out = MaskedDense(self.num_outputs * d, out_mask, kernel_init=init,
                      name="masked_out")(h)
    return out.reshape(x.shape[0], self.num_outputs, d)


class IAF(Bijector):
  """Inverse autoregressive flow: an affine map with MADE shift and scale.

    forward (one parallel pass):
      (t, raw) = MADE(x),  log s = bounded_log_scale(raw),
      y = x ⊙ exp(log s) + t,              log_det = Σ_d log s_d(x)
    inverse (D sequential passes, lax.fori_loop):
      x ← (y - t(x)) ⊙ exp(-log s(x)), repeated D times from x = 0;
      after pass k every entry of degree <= k is exact, so after D passes
      all are;                             log_det = -Σ_d log s_d(x)

  The Jacobian ∂y/∂x is triangular in the MADE order with diagonal s. Use
  the forward direction where samples are made (IAF posteriors in VAEs) and
  `Invert(IAF(...))` (= MAF) where densities of given data are needed. With
  the default "tanh" scale and the zero-initialised MADE output layer, the
  flow starts as the identity; "sigmoid" uses the gate of Kingma et al.'s
  update, s = sigmoid(raw + 2), with an independent shift t (their update
  ties it: t = (1 - s) m).

  Shapes: [B, D] -> [B, D]; log_det [B].

  Attributes:
    hidden: MADE hidden sizes (>= D - 1 each for full connectivity).
    reverse: MADE order D..1 (alternate it between stacked IAFs).
    activation: MADE's hidden nonlinearity.
    scale_fn, log_scale_bound: see `bounded_log_scale`.

  Raises:
    ValueError: (at call) inputs that are not [B, D]; unknown scale_fn.

  References:
    Kingma et al. 2016, "Improved Variational Inference with Inverse
      Autoregressive Flow", sec. 4.
    Germain et al. 2015, "MADE".
  """
  hidden: Sequence[int] = (64, 64)
  reverse: bool = False
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  scale_fn: str = "tanh"
  log_scale_bound: float = 2.0

  def setup(self):
    """The MADE that gives the shift and log-scale."""
    self.made = MADE(self.hidden, num_outputs=2, reverse=self.reverse,
                     activation=self.activation)

  def _shift_and_log_scale(self, x: jax.Array):
    out = self.made(x)
    return out[:, 0], bounded_log_scale(out[:, 1], self.scale_fn,
                                        self.log_scale_bound)

  def forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One pass: y = x ⊙ s(x) + t(x); (y [B, D], log_det [B] = Σ_d log s_d)."""
    checks.check_arg("IAF.forward", "x", x, "floating [B, D]")
    shift, log_s = self._shift_and_log_scale(x)
    return x * jnp.exp(log_s) + shift, jnp.sum(log_s, axis=-1)

  def inverse(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """D sequential passes (class docstring): (x [B, D], log_det [B] =
    -Σ_d log s_d(x))."""
    checks.check_arg("IAF.inverse", "y", y)
    if y.ndim != 2:
      raise ValueError(f"IAF: expects [B, D] inputs, got shape {y.shape}.")
    if self.is_initializing():
      self.made(y)  # create the parameters outside the loop

    def step(_, carry):
      x, _ = carry
      shift, log_s = self._shift_and_log_scale(x)
      return (y - shift) * jnp.exp(-log_s), log_s

    # Pass k's log s uses only entries of degree < k, exact after pass k-1,
    # so the last pass's log s is that of the final x: no extra pass needed.
    x, log_s = jax.lax.fori_loop(0, y.shape[-1], step,
                                 (jnp.zeros_like(y), jnp.zeros_like(y)))
    return x, -jnp.sum(log_s, axis=-1)

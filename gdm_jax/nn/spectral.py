"""Spectral normalisation for discriminators, via `flax.linen.SpectralNorm`.

Spectral normalisation (Miyato et al. 2018) divides each weight matrix W by
an estimate of its largest singular value σ(W), so every layer is 1-Lipschitz
in the l2 norm and (with 1-Lipschitz activations) so is the critic:

  W_SN = W / σ(W),   σ(W) ≈ vᵀ W u  from power iteration
  v <- normalise(W u),  u <- normalise(Wᵀ v)   (u persists across steps).

flax 0.12.8 ships this as `nn.SpectralNorm(layer)`; it works for `nn.Dense`
and `nn.Conv` (checked in tests/nn/test_spectral.py), so this module only
adds thin layers with the call convention fixed, and pure helpers to check
the estimate. What a model using it must know:

  * State. The power-iteration vector `u` and the last `sigma` live in the
    'batch_stats' collection (`collection_name` to change it), created at
    `init`. In the train step call
      `model.apply({'params': p, 'batch_stats': s}, x, update_stats=True,
                   mutable=['batch_stats'])`
    and keep the returned 'batch_stats' in the train state; without
    `mutable` flax raises ModifyScopeVariableError. With
    `update_stats=False` (evaluation, and the critic call inside a gradient
    penalty) the layer still runs `n_steps` iterations from the stored `u`
    but stores nothing, so it is deterministic and needs no `mutable`.
  * One iteration per step (n_steps=1, Miyato's choice) is enough because `u`
    is carried across training steps; σ is only accurate once `u` has
    converged, i.e. after some tens of steps (or use a larger n_steps).
  * Calling the critic twice with update_stats=True in one step (real, then
    fake) starts both calls from the same stored `u`: concatenate real and
    fake into one batch, or thread the returned state from the first call
    into the second.
  * Gradients treat u and v as constants (stop_gradient), as in the paper.
  * Only parameters with ndim >= 2 are normalised (kernels, not biases). A
    conv kernel [kh, kw, C_in, C_out] is normalised as the matrix
    [kh·kw·C_in, C_out] (Miyato's reshape). That bounds the reshaped matrix,
    not the convolution's operator norm, which can be larger, by at most a
    factor √(kh·kw) for stride 1 (Tsuzuku et al. 2018; 1.5x measured for a
    random 3x3 kernel): the critic's Lipschitz constant is bounded only up
    to such factors.

References:
  Miyato, Kataoka, Koyama and Yoshida 2018, "Spectral Normalization for
    Generative Adversarial Networks", ICLR (Algorithm 1, Appendix A).
  Tsuzuku, Sato and Sugiyama 2018, "Lipschitz-Margin Training", NeurIPS
    (conv operator norm vs. reshaped kernel).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.nn.conv import strided_conv_general_dilated


class SpectralDense(nn.Module):
  """`nn.Dense` with a spectrally normalised kernel.

  Call as `layer(x, update_stats=train)`; see the module docstring for the
  'batch_stats' collection it needs.

  Attributes:
    features: output size.
    use_bias: add a (not normalised) bias.
    n_steps: power iterations per call.
    collection_name: variable collection holding `u` and `sigma`.
  """
  features: int
  use_bias: bool = True
  n_steps: int = 1
  collection_name: str = "batch_stats"

  @nn.compact
  def __call__(self, x: jax.Array, *, update_stats: bool) -> jax.Array:
    """[..., D_in] -> [..., features]."""
    checks.check_arg("SpectralDense.__call__", "x", x, "floating [..., D_in]")
    dense = nn.Dense(self.features, use_bias=self.use_bias)
    return nn.SpectralNorm(dense, n_steps=self.n_steps,
                           collection_name=self.collection_name)(
                               x, update_stats=update_stats)


class SpectralConv(nn.Module):
  """`nn.Conv` with a spectrally normalised (reshaped) kernel.

  Attributes:
    features: output channels.
    kernel_size: e.g. (3, 3).
    strides: e.g. 1 or (2, 2).
    padding: as for `nn.Conv` ('SAME', 'VALID', explicit pairs).
    use_bias: add a (not normalised) bias.
    n_steps: power iterations per call.
    collection_name: variable collection holding `u` and `sigma`.
  """
  features: int
  kernel_size: Sequence[int] = (3, 3)
  strides: int | Sequence[int] = 1
  padding: Any = "SAME"
  use_bias: bool = True
  n_steps: int = 1
  collection_name: str = "batch_stats"

  @nn.compact
  def __call__(self, x: jax.Array, *, update_stats: bool) -> jax.Array:
    """[B, H, W, C_in] -> [B, H', W', features]."""
    checks.check_array("SpectralConv.__call__", "x", x,
                       rank=len(self.kernel_size) + 2,
                       layout="[B, H, W, C_in]")
    conv = nn.Conv(self.features, tuple(self.kernel_size),
                   strides=self.strides, padding=self.padding,
                   use_bias=self.use_bias,
                   conv_general_dilated=strided_conv_general_dilated)
    return nn.SpectralNorm(conv, n_steps=self.n_steps,
                           collection_name=self.collection_name)(
                               x, update_stats=update_stats)


def kernel_as_matrix(kernel: jax.Array) -> jax.Array:
  """The matrix that is normalised: [..., C_out] -> [prod(...), C_out].

  Raises:
    ValueError: kernel not floating or of rank 0.
  """
  checks.check_arg("nn.kernel_as_matrix", "kernel", kernel,
                   "floating [..., C_out]")
  return kernel.reshape(-1, kernel.shape[-1])


def power_iteration(kernel: jax.Array, u: jax.Array,
                    n_steps: int) -> tuple[jax.Array, jax.Array]:
  """σ_max of `kernel_as_matrix(kernel)` by power iteration, as flax does.

  For W = kernel_as_matrix(kernel) [m, n]: repeat n_steps times
  v = normalise(u Wᵀ), u = normalise(v W); then σ = v W uᵀ <= σ_max(W),
  converging to σ_max from below when u0 has a component along the top
  right singular vector.

  Args:
    kernel: [..., n] weights.
    u: [1, n] start vector (e.g. from `jax.random.normal`).
    n_steps: iterations, >= 1.

  Returns:
    (sigma, u): scalar estimate and the [1, n] vector to resume from.

  Raises:
    ValueError: n_steps < 1 (or not an int); kernel not floating; u not
      floating [1, n].
  """
  if n_steps < 1:
    raise ValueError(f"power_iteration: n_steps must be >= 1; got {n_steps}.")
  checks.check_positive_int("nn.power_iteration", "n_steps", n_steps)
  checks.check_arg("nn.power_iteration", "kernel", kernel, "floating [..., n]")
  checks.check_array("nn.power_iteration", "u", u,
                     shape=(1, kernel.shape[-1]), layout="[1, n]")
  w = kernel_as_matrix(kernel)

  def normalise(a):
    return a * jax.lax.rsqrt(jnp.maximum(jnp.sum(a * a), 1e-24))

  def body(_, carry):
    u, _ = carry
    v = normalise(u @ w.T)
    return normalise(v @ w), v

  u, v = jax.lax.fori_loop(0, n_steps, body,
                           (u, jnp.zeros((1, w.shape[0]), w.dtype)))
  return (v @ w @ u.T)[0, 0], u


def spectral_sigmas(stats: Any) -> dict[str, jax.Array]:
  """The stored σ estimates of all spectrally normalised layers, for logging.

  Args:
    stats: the collection written by `nn.SpectralNorm` (e.g.
      `variables['batch_stats']`).

  Returns:
    {'/'-joined path: scalar sigma} for every entry whose name ends in
    '/sigma'.
  """
  flat = jax.tree_util.tree_flatten_with_path(stats)[0]
  out = {}
  for path, value in flat:
    name = "/".join(str(getattr(k, "key", k)) for k in path)
    if name.endswith("/sigma"):
      out[name] = value
  return out

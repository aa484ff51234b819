"""Mixed precision: float32 parameters, bfloat16 computation.

`config.train.compute_dtype` = 'float32' (default) or 'bfloat16'. With
'bfloat16' a family runs its networks on bfloat16 copies of the float32
parameters and inputs (matmuls and convolutions in bfloat16, the native
rate of TPU MXUs and of GPU tensor cores), while the parameters, the
optimizer state, the gradients' accumulation into the parameters, and the
losses (log-likelihoods, KL terms, log-determinants) stay in float32:

    y = f(cast_bf16(θ), cast_bf16(x));   loss = L(cast_f32(y));
    ∇θ flows back through the casts, so the update is applied to float32 θ.

bfloat16 keeps float32's exponent range, so no loss scaling is needed
(float16 would need it and is refused). On CPU bfloat16 is emulated and
slower: the option is for GPU/TPU runs.

References:
  Micikevicius et al. 2018, Mixed Precision Training (float32 master
  weights); Kalamkar et al. 2019, A Study of BFLOAT16 for Deep Learning
  Training (no loss scaling with bfloat16).
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(config) -> Any:
  """The compute dtype named by `config.train.compute_dtype` (default
  float32).

  Whether a family honours it is the family's declaration
  (`Model.supports_bfloat16`); the trainer refuses 'bfloat16' for the
  others rather than silently computing in float32.

  Raises:
    ValueError: a name other than 'float32' or 'bfloat16'.
  """
  name = config.train.get("compute_dtype", "float32")
  if name not in COMPUTE_DTYPES:
    hint = (" (float16 needs loss scaling; use bfloat16)"
            if name == "float16" else "")
    raise ValueError(f"train.compute_dtype must be one of "
                     f"{sorted(COMPUTE_DTYPES)}; got {name!r}{hint}.")
  return COMPUTE_DTYPES[name]


def cast_floating(tree: Any, dtype: Any) -> Any:
  """Casts every floating-point leaf of `tree` to `dtype`; integer and
  boolean leaves (and non-arrays) are returned unchanged."""
  def cast(x):
    if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
      return x.astype(dtype)
    return x
  return jax.tree.map(cast, tree)


def apply_in(dtype: Any, apply_fn: Callable[..., Any], params: Any,
             *args: Any, **kwargs: Any) -> Any:
  """`apply_fn(params, *args, **kwargs)` computed in `dtype`, outputs float32.

  For float32 this is exactly `apply_fn(params, *args, **kwargs)`. Keyword
  arguments (e.g. flax's `method=`) are passed unchanged; positional array
  arguments and the floating leaves of `params` are cast to `dtype`, and the
  floating outputs cast back to float32, so losses are computed in float32.
  """
  if dtype == jnp.float32:
    return apply_fn(params, *args, **kwargs)
  out = apply_fn(cast_floating(params, dtype), *cast_floating(args, dtype),
                 **kwargs)
  return cast_floating(out, jnp.float32)

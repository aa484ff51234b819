"""Shared helpers of the flow, masked-conv and exact-likelihood model tests:
perturbed parameters, flat Jacobians, keys and data, invalid-input cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.flows import flatten_latents
from tests.validation_cases import assert_raises_naming


def perturb(variables, seed=0, scale=0.1):
  """Adds N(0, scale²) noise to every trainable parameter (not 'constants').

  Makes zero-initialised last layers non-zero, so the tests see non-trivial
  bijectors rather than the identity they start as. The noise comes from
  numpy: jax.random would compile a sampler per parameter shape (seconds).
  """
  if "params" not in variables:
    return variables
  rng = np.random.default_rng(seed)
  noisy = jax.tree.map(
      lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype),
      variables["params"])
  return {**variables, "params": noisy}


def flat(out):
  """An output (array or tuple of latents) as [B, D]."""
  if isinstance(out, (tuple, list)):
    return flatten_latents(out)
  return out.reshape(out.shape[0], -1)


def per_example_slogdet(fn, x):
  """log|det ∂fn/∂x| for each example of x [B, ...], from jax.jacfwd.

  fn maps a batch to (output, log_det); each example is run as a batch of
  one and its output flattened, so the Jacobian is [D, D].
  """
  shape = x.shape[1:]

  def flat_fn(x_flat):  # [D] -> [D]
    return flat(fn(x_flat.reshape((1,) + shape))[0])[0]

  def one(x_single):
    jac = jax.jacfwd(flat_fn)(x_single.reshape(-1))
    sign, logdet = jnp.linalg.slogdet(jac)
    return sign, logdet

  return jax.vmap(one)(x)


def key(seed=0):
  """A PRNG key for `init`. The RngBitGenerator implementation compiles in a
  fraction of threefry's time on CPU (5 s -> 1 s for the multiscale flow's
  init); the tests need random, not reproducible-across-backends, values."""
  return jax.random.key(seed, impl="unsafe_rbg")


def normal(shape, seed=0, dtype=np.float32):
  """Standard-normal test data from numpy (no per-shape jax compile)."""
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def uniform(shape, seed=0, dtype=np.float32):
  """U(0, 1) test data from numpy."""
  return jnp.asarray(np.random.default_rng(seed).uniform(size=shape), dtype)


def invalid_input_test(cases, model=None):
  """A pytest test over (id, call, expected) cases: `call()` (or
  `call(model())` when a model factory is given) raises ValueError whose
  message contains every string of `expected`. Bind it to a module-level
  name starting with `test_` for pytest to collect it."""
  @pytest.mark.parametrize("call, expected", [
      pytest.param(c, e, id=n) for n, c, e in cases])
  def test(call, expected):
    assert_raises_naming((lambda: call(model())) if model else call, expected)
  return test

"""Shared pieces of the input-validation tests (tests/test_input_validation*.py):
array makers for wrong dtypes/shapes and the check that a call raises a
ValueError whose message names what it must."""

import jax.numpy as jnp
import pytest


def f(*shape):
  """float32 ones of `shape`."""
  return jnp.ones(shape, jnp.float32)


def i(*shape):
  """int32 ones of `shape`."""
  return jnp.ones(shape, jnp.int32)


def u8(*shape):
  """uint8 zeros of `shape`."""
  return jnp.zeros(shape, jnp.uint8)


def assert_raises_naming(call, expected) -> None:
  """`call()` raises ValueError whose message contains every string of
  `expected` (the function, the argument, the shape/dtype it got)."""
  with pytest.raises(ValueError) as info:
    call()
  message = str(info.value)
  missing = [part for part in expected if part not in message]
  assert not missing, f"{missing} not in: {message}"

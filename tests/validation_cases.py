"""Shared pieces of the input-validation tests: array makers for wrong
dtypes/shapes, the check that a call raises a ValueError whose message names
what it must, and the parametrised test a module's test file builds from its
table of invalid calls.

Usage in a test file:

  INVALID = [("id", lambda: fn(bad input), ["module.fn", "`arg`", "(4,)"]),
             ...]
  test_invalid_inputs = invalid_input_test(INVALID)
"""

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


def invalid_input_test(cases):
  """A pytest test over `cases`, (id, call, substrings of the message)
  triples: each call raises ValueError naming the function, the argument and
  the shape/dtype (or value) it got. Assign it to a module-level name that
  starts with `test_`."""

  @pytest.mark.parametrize("call, expected",
                           [pytest.param(c, e, id=name)
                            for name, c, e in cases])
  def test(call, expected):
    assert_raises_naming(call, expected)

  return test

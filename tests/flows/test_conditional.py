"""Conditional bijectors f(x; c): round trip, log-det against jax.jacfwd in x
at fixed context, cancelling log-dets, jit against eager, identity at init."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb

B = 3


def _image_case(members):
  x = normal(seed=1, shape=(B, 4, 4, 1))
  ctx = normal(seed=2, shape=(B, 4, 4, 3))
  return flows.ConditionalChain(members), x, ctx


CASES = {
    "coupling_checkerboard": lambda: _image_case([
        flows.ConditionalAffineCoupling("checkerboard", hidden=8),
        flows.ConditionalAffineCoupling("checkerboard", True, hidden=8)]),
    "affine_then_coupling": lambda: _image_case([
        flows.ConditionalAffine(),
        flows.ConditionalAffineCoupling("checkerboard", hidden=8,
                                        scale_fn="sigmoid")]),
    "coupling_vector": lambda: (
        flows.ConditionalChain([
            flows.ConditionalAffineCoupling("half", hidden=8),
            flows.ConditionalAffineCoupling("half", True, hidden=8)]),
        normal(seed=3, shape=(B, 4)), normal(seed=4, shape=(B, 2))),
}


@functools.lru_cache(maxsize=None)
def _results(name):
  flow, x, ctx = CASES[name]()
  variables = perturb(jax.jit(flow.init)(key(0), x, ctx), seed=5, scale=0.2)
  fwd = lambda x, c: flow.apply(variables, x, c, method="forward")
  inv = lambda y, c: flow.apply(variables, y, c, method="inverse")
  shape = x.shape[1:]

  def slogdet_one(xi, ci):
    f = lambda v: fwd(v.reshape((1,) + shape), ci[None])[0].reshape(-1)
    return jnp.linalg.slogdet(jax.jacfwd(f)(xi.reshape(-1)))

  @jax.jit
  def compute(x, ctx):
    y, ld = fwd(x, ctx)
    x_back, ild = inv(y, ctx)
    sign, logdet = jax.vmap(slogdet_one)(x, ctx)
    return dict(y=y, ld=ld, x_back=x_back, ild=ild, sign=sign, logdet=logdet)

  return flow, variables, x, ctx, fwd, inv, compute(x, ctx)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_and_log_dets(name):
  *_, x, ctx, fwd, inv, r = _results(name)
  np.testing.assert_allclose(r["x_back"], x, atol=1e-5, rtol=0)
  assert float(jnp.max(jnp.abs(r["y"] - x))) > 1e-2   # not the identity
  assert np.all(np.asarray(r["sign"]) != 0)
  np.testing.assert_allclose(r["ld"], r["logdet"], atol=2e-4, rtol=1e-5)
  np.testing.assert_allclose(r["ld"] + r["ild"], 0.0, atol=1e-4)
  assert r["ld"].shape == (B,) and r["ld"].dtype == jnp.float32
  # Eager agrees with jit.
  y, ld = fwd(x, ctx)
  np.testing.assert_allclose(y, r["y"], atol=1e-5)
  np.testing.assert_allclose(ld, r["ld"], atol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_depends_on_context(name):
  *_, x, ctx, fwd, _, r = _results(name)
  y_other, _ = fwd(x, ctx + 1.0)
  assert float(jnp.max(jnp.abs(y_other - r["y"]))) > 1e-3


@pytest.mark.parametrize("name", sorted(CASES))
def test_identity_at_init(name):
  flow, x, ctx = CASES[name]()
  variables = flow.init(key(0), x, ctx)
  y, ld = flow.apply(variables, x, ctx)
  if name == "affine_then_coupling":   # Glow's sigmoid scale: s = sigmoid(2)
    return
  np.testing.assert_allclose(y, x, atol=1e-6)
  np.testing.assert_allclose(ld, 0.0, atol=1e-6)


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)

INVALID_INPUTS = [
    ("conditional_coupling_context",
     lambda: flows.ConditionalAffineCoupling("half").init(key(), f(2, 4),
                                                          f(3, 5)),
     ["ConditionalAffineCoupling.forward", "`context` (3, 5)", "(2, 4)"]),
    ("conditional_affine_int_context",
     lambda: flows.ConditionalAffine().init(key(), f(2, 4), i(2, 5)),
     ["ConditionalAffine.forward", "`context`", "int32"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

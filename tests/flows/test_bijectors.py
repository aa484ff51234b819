"""Properties every bijector must have, with randomly perturbed parameters.

For each case: inverse(forward(x)) == x (atol 1e-5); the forward log-det
equals slogdet of jax.jacfwd of the flattened single-example map, per
example; the inverse's log-det cancels it; jit and eager agree; log_det is
float32 of shape [B].
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.helpers import f
from tests.helpers import flat
from tests.helpers import i
from tests.helpers import invalid_input_test
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import per_example_slogdet
from tests.helpers import perturb
from tests.helpers import uniform

B = 3


def _image(shape=(B, 4, 4, 2)):
  return normal(seed=1, shape=shape)


def _vector(shape=(B, 5)):
  return normal(seed=2, shape=shape)


def _unit_interval():
  return uniform(seed=3, shape=(B, 4, 4, 2))


def _glow_step():
  return flows.Chain([flows.ActNorm(), flows.InvertibleConv1x1(),
                      flows.AffineCoupling("channel", hidden=8,
                                           scale_fn="sigmoid")])


def _multiscale():
  # 6x6x1: squeeze once to 3x3x4 (3 is odd: no further squeeze).
  squeezes = flows.squeeze_schedule(6, 6, 3)
  assert squeezes == (True, False, False)
  return flows.MultiscaleFlow([
      flows.Chain([flows.Squeeze(), flows.ActNorm(),
                   flows.AffineCoupling("checkerboard", hidden=4)]),
      flows.AffineCoupling("channel", True, hidden=4),
      flows.AdditiveCoupling("checkerboard", True, hidden=4),
  ])


CASES = {
    "additive_checkerboard": (
        lambda: flows.AdditiveCoupling("checkerboard", hidden=8), _image),
    "additive_channel": (
        lambda: flows.AdditiveCoupling("channel", True, hidden=8), _image),
    "additive_half": (lambda: flows.AdditiveCoupling("half", hidden=8),
                      _vector),
    "additive_alternating": (
        lambda: flows.AdditiveCoupling("alternating", hidden=8), _vector),
    "affine_checkerboard": (
        lambda: flows.AffineCoupling("checkerboard", hidden=8), _image),
    "affine_channel": (lambda: flows.AffineCoupling("channel", hidden=8),
                       _image),
    # RealNVP's residual conditioner, odd spatial size (5x5).
    "affine_checkerboard_resnet_odd": (
        lambda: flows.AffineCoupling(
            "checkerboard", True,
            conditioner=flows.ResNetConditioner(8, num_blocks=2)),
        lambda: _image((B, 5, 5, 1))),
    "affine_half": (lambda: flows.AffineCoupling("half", hidden=8), _vector),
    "affine_alternating_custom_net": (
        lambda: flows.AffineCoupling(
            "alternating", True,
            conditioner=flows.MLPConditioner((8,), activation=jnp.tanh)),
        _vector),
    "actnorm_image": (flows.ActNorm, _image),
    "actnorm_vector": (flows.ActNorm, _vector),
    "conv1x1_image": (flows.InvertibleConv1x1,
                      lambda: _image((B, 4, 4, 3))),
    "conv1x1_vector": (flows.InvertibleConv1x1, _vector),
    "logit": (lambda: flows.Logit(0.05), _unit_interval),
    "shift": (lambda: flows.Shift(-0.5), _image),
    "sinh_arcsinh": (flows.SinhArcsinh, _vector),
    "sinh_arcsinh_1d": (flows.SinhArcsinh, lambda: _vector((B, 1))),
    "planar_1d": (lambda: flows.Planar(init_stddev=1.0),
                  lambda: _vector((B, 1))),
    "reshape": (lambda: flows.Reshape((4, 4, 2), (32,)), _image),
    "squeeze": (flows.Squeeze, _image),
    "planar": (flows.Planar, _vector),
    "iaf": (lambda: flows.IAF((8, 8)), _vector),
    "iaf_reverse_sigmoid": (
        lambda: flows.IAF((8, 8), reverse=True, scale_fn="sigmoid"), _vector),
    "maf_invert_iaf": (lambda: flows.Invert(flows.IAF((8, 8))), _vector),
    # ActNorm, 1x1 conv, affine channel coupling with Glow's sigmoid scale.
    "glow_step_chain": (_glow_step, _image),
    # Checkerboard coupling, squeeze, channel coupling (RealNVP's scale).
    "realnvp_chain_with_squeeze": (
        lambda: flows.Chain([
            flows.AffineCoupling("checkerboard", True, hidden=8),
            flows.Squeeze(),
            flows.AffineCoupling("channel", True, hidden=8)]), _image),
    "multiscale": (_multiscale, lambda: _image((B, 6, 6, 1))),
    # NICE: flatten, additive MLP couplings, diagonal scaling.
    "nice_chain": (
        lambda: flows.Chain([
            flows.Reshape((4, 4, 2), (32,)),
            flows.AdditiveCoupling("alternating", hidden=8),
            flows.AdditiveCoupling("alternating", True, hidden=8),
            flows.ActNorm()]), _image),
    # A 1-D monotone chain (the toy 1-D flow's block).
    "monotone_1d_chain": (
        lambda: flows.Chain([flows.ActNorm(), flows.SinhArcsinh(),
                             flows.Planar(init_stddev=0.5)]),
        lambda: _vector((B, 1))),
}


@functools.lru_cache(maxsize=None)
def _setup(name):
  """(flow, perturbed variables, x, forward fn, inverse fn) for a case."""
  make_flow, make_x = CASES[name]
  flow, x = make_flow(), make_x()
  variables = jax.jit(flow.init)(key(0), x)
  variables = perturb(variables, seed=4, scale=0.1)
  fwd = functools.partial(flow.apply, variables, method="forward")
  inv = functools.partial(flow.apply, variables, method="inverse")
  return flow, variables, x, fwd, inv


@functools.lru_cache(maxsize=None)
def _results(name):
  """Everything the tests check, computed in one compiled function per case.

  (Compilation dominates the run time on CPU; one jit per case instead of
  one per test keeps the suite fast.)
  """
  _, _, x, fwd, inv = _setup(name)

  @jax.jit
  def compute(x):
    y, ld = fwd(x)
    x_back, ild = inv(y)
    out = dict(y=y, ld=ld, x_back=x_back, ild=ild)
    out["sign"], out["slogdet"] = per_example_slogdet(fwd, x)
    return out

  return x, compute(x)


def _assert_tree_close(a, b, atol):
  jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, atol=atol,
                                                       rtol=0), a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name):
  x, r = _results(name)
  np.testing.assert_allclose(r["x_back"], x, atol=1e-5, rtol=0)
  # The perturbed bijector is not the identity (else the test is vacuous);
  # the shape-changing ones are permutations at least.
  if not isinstance(r["y"], tuple) and r["y"].shape == x.shape:
    assert float(jnp.max(jnp.abs(r["y"] - x))) > 1e-2


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_log_det_matches_jacobian(name):
  _, r = _results(name)
  assert np.all(np.asarray(r["sign"]) != 0)
  np.testing.assert_allclose(r["ld"], r["slogdet"], atol=2e-4, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_dets_cancel_and_have_batch_shape(name):
  """With the round trip and the forward check, this also pins the inverse
  log-det: log|det ∂f⁻¹/∂y|(f(x)) = -log|det ∂f/∂x|(x)."""
  _, r = _results(name)
  for ld in (r["ld"], r["ild"]):
    assert ld.shape == (B,) and ld.dtype == jnp.float32
  np.testing.assert_allclose(r["ld"] + r["ild"], 0.0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_matches_eager(name):
  _, _, x, fwd, inv = _setup(name)
  _, r = _results(name)
  y, ld = fwd(x)
  _assert_tree_close(y, r["y"], 1e-5)
  np.testing.assert_allclose(ld, r["ld"], atol=1e-4, rtol=1e-6)
  x_back, ild = inv(y)
  np.testing.assert_allclose(x_back, r["x_back"], atol=1e-5, rtol=0)
  np.testing.assert_allclose(ild, r["ild"], atol=1e-4, rtol=1e-6)


def test_multiscale_jacobian_covers_every_dimension():
  x, r = _results("multiscale")
  assert flat(r["y"]).shape == (B, 36) == (B, x[0].size)


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)

INVALID_INPUTS = [
    ("chain_int",
     lambda: flows.Chain([flows.ActNorm()]).init(key(), i(4, 2)),
     ["Chain.forward", "`x`", "int32"]),
    ("shift_int", lambda: flows.Shift(0.5).init(key(), i(2, 3)),
     ["Shift.forward", "`x`", "int32"]),
    ("logit_int", lambda: flows.Logit().init(key(), i(2, 3)),
     ["Logit.forward", "`x`", "int32"]),
    ("sinh_arcsinh_rank1", lambda: flows.SinhArcsinh().init(key(), f(5)),
     ["SinhArcsinh.forward", "`x`", "rank >= 2", "(5,)"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

"""Logit transform, planar flow (invertibility, numerical inverse), Chain."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logit as scipy_logit

from gdm_jax import flows
from tests.helpers import assert_raises_naming
from tests.helpers import i
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb


def test_logit_values_and_log_det():
  x = jnp.array([[0.0, 0.25, 0.5, 1.0]])
  alpha = 0.05
  flow = flows.Logit(alpha)
  y, ld = flow.apply({}, x)
  p = alpha + (1 - 2 * alpha) * x
  np.testing.assert_allclose(y, scipy_logit(p), rtol=1e-6)
  # dy/dx = (1 - 2α) / (p (1 - p)) per entry.
  np.testing.assert_allclose(
      ld, jnp.sum(jnp.log((1 - 2 * alpha) / (p * (1 - p))), -1), rtol=1e-6)
  assert np.all(np.isfinite(y))
  with pytest.raises(ValueError):
    flows.Logit(0.5).apply({}, x)


def _planar(x, seed=0, scale=0.5):
  flow = flows.Planar()
  variables = perturb(flow.init(key(seed), x), seed=seed,
                      scale=scale)
  return flow, variables


def test_planar_u_hat_keeps_it_invertible():
  """w·u = -5 would make f non-monotone along w; û restores w·û > -1."""
  x = normal(seed=0, shape=(64, 3)) * 3.0
  flow = flows.Planar()
  variables = {"params": {"w": jnp.array([1.0, 0.0, 0.0]),
                          "u": jnp.array([-5.0, 1.0, 0.0]),
                          "b": jnp.array(0.3)}}
  p = variables["params"]
  u_hat, one_plus = flows.planar_u_hat(p["u"], p["w"])
  w_u_hat = one_plus - 1.0
  assert float(w_u_hat) > -1.0
  np.testing.assert_allclose(jnp.dot(p["w"], u_hat), w_u_hat, rtol=1e-6)
  # m(a) = -1 + softplus(a + log(e - 1)) (the shifted m, module docstring).
  np.testing.assert_allclose(
      w_u_hat, -1.0 + jax.nn.softplus(-5.0 + np.log(np.e - 1.0)), rtol=1e-6)
  np.testing.assert_allclose(u_hat[1:], [1.0, 0.0])  # only the w part moved
  y, ld = flow.apply(variables, x)
  assert np.all(np.isfinite(ld))
  # Monotone along w: the order of w·x is kept by w·y.
  order = np.argsort(np.asarray(x[:, 0]))
  assert np.all(np.diff(np.asarray(y[order, 0])) > 0)
  x_back, ild = flow.apply(variables, y, method="inverse")
  np.testing.assert_allclose(x_back, x, atol=1e-4)
  np.testing.assert_allclose(ld + ild, 0.0, atol=1e-4)


def test_planar_m_is_the_papers_m_shifted_to_the_identity():
  """m(a) = -1 + softplus(a + log(e - 1)) is the paper's m(a) = -1 +
  softplus(a) at a + log(e - 1): m(0) = 0, so u = 0 is the identity, and û at
  (u, w) is the paper's û at (u + log(e - 1) w / ‖w‖², w)."""
  rng = np.random.default_rng(5)
  u = jnp.asarray(rng.standard_normal((50, 4)), jnp.float32)
  w = jnp.asarray(rng.standard_normal((50, 4)), jnp.float32)
  c = np.log(np.e - 1.0)
  u_hat, _ = flows.planar_u_hat(u, w)
  u_paper = u + c * w / jnp.sum(w * w, -1, keepdims=True)
  wu = jnp.sum(w * u_paper, -1, keepdims=True)
  paper = u_paper + (-1.0 + jax.nn.softplus(wu) - wu) * w / jnp.sum(
      w * w, -1, keepdims=True)
  np.testing.assert_allclose(u_hat, paper, rtol=1e-4, atol=1e-5)
  z = normal(seed=6, shape=(50, 4))
  y, ld = flows.planar_forward(z, jnp.zeros_like(u), w, rng.standard_normal(50))
  np.testing.assert_array_equal(y, z)
  np.testing.assert_allclose(ld, 0.0, atol=1e-6)


def test_planar_functions_per_example_log_det_and_inverse():
  """planar_forward with one (u, w, b) per example (the VAE's amortised
  posterior): log-det = slogdet of jax.jacfwd per example, and
  planar_inverse round-trips with cancelling log-dets."""
  b_, d = 6, 3
  z = normal(seed=7, shape=(b_, d))
  u = normal(seed=8, shape=(b_, d)) * 2.0
  w = normal(seed=9, shape=(b_, d))
  b = normal(seed=10, shape=(b_,))
  y, ld = jax.jit(flows.planar_forward)(z, u, w, b)
  for n in range(b_):
    jac = jax.jacfwd(lambda v, n=n: flows.planar_forward(
        v[None], u[n:n + 1], w[n:n + 1], b[n:n + 1])[0][0])(z[n])
    sign, log_abs = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert sign > 0
    np.testing.assert_allclose(ld[n], log_abs, rtol=1e-5, atol=1e-5)
  assert float(jnp.max(jnp.abs(y - z))) > 0.1           # not the identity
  z_back, ild = jax.jit(flows.planar_inverse)(y, u, w, b)
  np.testing.assert_allclose(z_back, z, atol=1e-5)
  np.testing.assert_allclose(ld + ild, 0.0, atol=1e-5)


def test_planar_inverse_has_implicit_gradients():
  """x(θ) = f_θ^{-1}(y) satisfies f_θ(x(θ)) = y for all θ, so the gradient
  of f_θ(f_θ^{-1}(y)) in θ is zero; bisection alone would not give that."""
  y = normal(seed=1, shape=(4, 3))
  flow, variables = _planar(y, seed=2)
  r = normal(seed=3, shape=y.shape)

  def round_trip(params):
    v = {"params": params}
    x, _ = flow.apply(v, y, method="inverse")
    return jnp.sum(r * flow.apply(v, x)[0])

  grads = jax.jit(jax.grad(round_trip))(variables["params"])
  jax.tree.map(lambda g: np.testing.assert_allclose(g, 0.0, atol=1e-4), grads)


def test_planar_rejects_images():
  with pytest.raises(ValueError, match="flatten"):
    flows.Planar().init(key(0), jnp.zeros((1, 2, 2, 1)))


def test_chain_sums_log_dets_and_inverts_in_reverse_order():
  x = normal(seed=0, shape=(2, 4, 4, 2))
  chain = flows.Chain([flows.ActNorm(), flows.Squeeze(),
                       flows.InvertibleConv1x1()])
  variables = perturb(chain.init(key(1), x), seed=1)
  y, ld = chain.apply(variables, x)
  # The same members applied one by one with the chain's parameters.
  a = {"params": variables["params"]["bijectors_0"]}
  c = {"params": variables["params"]["bijectors_2"],
       "constants": variables["constants"]["bijectors_2"]}
  h, ld0 = flows.ActNorm().apply(a, x)
  h = flows.squeeze(h)
  y_parts, ld2 = flows.InvertibleConv1x1().apply(c, h)
  np.testing.assert_allclose(y, y_parts, atol=1e-6)
  np.testing.assert_allclose(ld, ld0 + ld2, rtol=1e-6)
  # Reverse order: the inverse takes [B, 2, 2, 8] back to [B, 4, 4, 2].
  x_back, ild = chain.apply(variables, y, method="inverse")
  np.testing.assert_allclose(x_back, x, atol=1e-5)
  np.testing.assert_allclose(ild, -ld, rtol=1e-5)


def test_invert_swaps_directions():
  x = normal(seed=0, shape=(2, 4))
  iaf = flows.IAF((4, 4))
  variables = perturb(iaf.init(key(1), x), seed=1)
  maf = flows.Invert(iaf)
  maf_vars = {"params": {"bijector": variables["params"]}}
  y, ld = maf.apply(maf_vars, x)
  y_ref, ld_ref = iaf.apply(variables, x, method="inverse")
  np.testing.assert_allclose(y, y_ref, atol=1e-6)
  np.testing.assert_allclose(ld, ld_ref, atol=1e-6)


def test_sinh_arcsinh_values_identity_at_init_and_monotone():
  x = jnp.linspace(-5.0, 5.0, 101)[:, None]
  flow = flows.SinhArcsinh()
  variables = flow.init(key(0), x)
  y, ld = flow.apply(variables, x)
  np.testing.assert_allclose(y, x, atol=1e-5)
  np.testing.assert_allclose(ld, 0.0, atol=1e-6)
  skew, log_tail = 0.7, np.log(1.8)
  variables = {"params": {"skew": jnp.array([skew]),
                          "log_tailweight": jnp.array([log_tail])}}
  y, ld = flow.apply(variables, x)
  expected = np.sinh(1.8 * np.arcsinh(np.asarray(x)) - skew)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
  assert np.all(np.diff(np.asarray(y[:, 0])) > 0)
  # log dy/dx from finite differences of the closed form.
  h = 1e-3
  fd = (np.sinh(1.8 * np.arcsinh(np.asarray(x) + h) - skew)
        - np.sinh(1.8 * np.arcsinh(np.asarray(x) - h) - skew)) / (2 * h)
  np.testing.assert_allclose(ld, np.log(fd[:, 0]), atol=1e-3)


def test_reshape_checks_shapes():
  x = normal(seed=0, shape=(2, 4, 4, 2))
  flow = flows.Reshape((4, 4, 2), (32,))
  y, ld = flow.apply({}, x)
  assert y.shape == (2, 32)
  np.testing.assert_array_equal(ld, 0.0)
  with pytest.raises(ValueError, match="expects"):
    flow.apply({}, x[:, :2])
  with pytest.raises(ValueError, match="differ in size"):
    flows.Reshape((4, 4, 2), (31,)).apply({}, x)


def test_planar_log_det_finite_and_exact_when_w_u_very_negative():
  """wᵀu << 0 puts wᵀû = m(wᵀu) within float32 rounding of -1. On the
  hyperplane (tanh = 0) the log-det is log(1 + wᵀû) = log softplus(wᵀu +
  log(e - 1)), which a cancelling 1 + (wᵀû)(1 - t²) would get wrong (here
  by ~1e-3) or turn into -inf; below 1e-6 it is floored there (wᵀû >= -1 +
  1e-6, flows.planar.PLANAR_FLOOR) and stays finite."""
  d = 4
  w = jnp.array([3.0, 0.0, 0.0, 0.0])
  x = jnp.zeros((1, d))                          # a = wᵀx + b = 0, tanh = 0
  for wu in (-12.0, -30.0):                      # softplus 1.1e-5; 1.6e-13
    u = jnp.array([wu / 3.0, 0.0, 0.0, 0.0])
    params = {"params": {"w": w, "u": u, "b": jnp.zeros(())}}
    _, log_det = flows.Planar().apply(params, x)
    exact = np.log(np.log1p(np.exp(wu + np.log(np.e - 1.0))))   # float64
    expected = max(exact, np.log(flows.planar.PLANAR_FLOOR))
    assert np.isfinite(log_det).all()
    np.testing.assert_allclose(np.asarray(log_det), expected, rtol=1e-5)
    # The inverse stays finite and undoes it there.
    y, _ = flows.Planar().apply(params, x)
    x_back, ild = flows.Planar().apply(params, y, method="inverse")
    np.testing.assert_allclose(x_back, x, atol=1e-5)
    np.testing.assert_allclose(ild, -log_det, rtol=1e-5)


@pytest.mark.parametrize("call, expected", [
    pytest.param(lambda: flows.Planar().init(key(0), i(2, 3)),
                 ["Planar", "`x`", "int32"], id="planar_int"),
])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

"""Logit transform, planar flow (invertibility, numerical inverse), Chain."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logit as scipy_logit

from gdm_jax import flows
from tests.flows.helpers import key
from tests.flows.helpers import normal
from tests.flows.helpers import perturb


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
  _, u_hat, _, w_u_hat, _ = flow.apply(variables, x, method="_params")
  assert float(w_u_hat) > -1.0
  np.testing.assert_allclose(jnp.dot(variables["params"]["w"], u_hat), w_u_hat,
                             rtol=1e-6)
  np.testing.assert_allclose(w_u_hat, -1.0 + jax.nn.softplus(-5.0), rtol=1e-6)
  np.testing.assert_allclose(u_hat[1:], [1.0, 0.0])  # only the w part moved
  y, ld = flow.apply(variables, x)
  assert np.all(np.isfinite(ld))
  # Monotone along w: the order of w·x is kept by w·y.
  order = np.argsort(np.asarray(x[:, 0]))
  assert np.all(np.diff(np.asarray(y[order, 0])) > 0)
  x_back, ild = flow.apply(variables, y, method="inverse")
  np.testing.assert_allclose(x_back, x, atol=1e-4)
  np.testing.assert_allclose(ld + ild, 0.0, atol=1e-4)


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
  """wᵀu << 0 puts wᵀû = -1 + softplus(wᵀu) within float32 rounding of -1;
  on the hyperplane (tanh = 0) the log-det is log softplus(wᵀu), which a
  cancelling 1 + (wᵀû)(1 - t²) would turn into -inf or NaN."""
  d = 4
  w = jnp.array([3.0, 0.0, 0.0, 0.0])
  u = jnp.array([-10.0, 0.0, 0.0, 0.0])        # wᵀu = -30: softplus ~ 9.4e-14
  params = {"params": {"w": w, "u": u, "b": jnp.zeros(())}}
  x = jnp.zeros((1, d))                          # a = wᵀx + b = 0, tanh = 0
  _, log_det = flows.Planar().apply(params, x)
  expected = np.log(np.log1p(np.exp(-30.0)))   # log softplus(-30), float64
  assert np.isfinite(log_det).all()
  np.testing.assert_allclose(np.asarray(log_det), expected, rtol=1e-5)

"""MADE's masks give autoregressive outputs; IAF's Jacobian is triangular."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.flows.helpers import key
from tests.flows.helpers import normal
from tests.flows.helpers import perturb

D = 5


def _order(reverse):
  """order[d] = the position (degree) of input d in the autoregressive order."""
  deg = np.arange(1, D + 1)
  return deg[::-1] if reverse else deg


def test_made_degrees_and_mask_shapes():
  degrees = flows.made_degrees(D, (7, 6))
  np.testing.assert_array_equal(degrees[0], [1, 2, 3, 4, 5])
  for deg in degrees[1:]:
    assert deg.min() >= 1 and deg.max() <= D - 1
  masks = flows.made_masks(D, (7, 6))
  assert [m.shape for m in masks] == [(D, 7), (7, 6), (6, D)]
  # Chaining the masks counts paths: input d' reaches output d only when
  # d' < d (ascending order).
  paths = masks[0] @ masks[1] @ masks[2]
  np.testing.assert_array_equal(paths > 0, np.triu(np.ones((D, D)), 1) > 0)


@pytest.mark.parametrize("reverse", [False, True])
def test_made_jacobian_is_strictly_triangular_in_its_order(reverse):
  x = normal(seed=0, shape=(1, D))
  # tanh, not ReLU: a dead ReLU unit would zero an allowed entry at this x.
  made = flows.MADE(hidden=(8, 8), num_outputs=2, reverse=reverse,
                    activation=jnp.tanh)
  variables = perturb(made.init(key(1), x), seed=2, scale=0.5)
  jac = jax.jacfwd(lambda v: made.apply(variables, v[None])[0])(x[0])
  assert jac.shape == (2, D, D)  # [output kind, output d, input d']
  order = _order(reverse)
  allowed = order[None, :] < order[:, None]  # [d, d']: m(d') < m(d)
  for j in range(2):
    np.testing.assert_array_equal(np.asarray(jac[j])[~allowed], 0.0)
    # Hidden layers of >= D - 1 units connect every allowed pair.
    assert np.all(np.abs(np.asarray(jac[j])[allowed]) > 0)


def test_made_is_zero_at_init_and_rejects_images():
  x = normal(seed=0, shape=(3, D))
  made = flows.MADE(hidden=(8,))
  variables = made.init(key(1), x)
  np.testing.assert_array_equal(made.apply(variables, x), 0.0)
  with pytest.raises(ValueError):
    made.init(key(1), x.reshape(3, D, 1, 1))


@pytest.mark.parametrize("reverse", [False, True])
def test_iaf_jacobian_is_triangular_with_scale_diagonal(reverse):
  x = normal(seed=3, shape=(1, D))
  flow = flows.IAF((8, 8), reverse=reverse, activation=jnp.tanh)
  variables = perturb(flow.init(key(4), x), seed=5, scale=0.5)
  jac = np.asarray(jax.jacfwd(
      lambda v: flow.apply(variables, v[None])[0][0])(x[0]))
  perm = np.argsort(_order(reverse))  # dims listed in autoregressive order
  jac = jac[np.ix_(perm, perm)]
  np.testing.assert_array_equal(np.triu(jac, 1), 0.0)
  assert np.all(np.abs(np.tril(jac, -1)[np.tril_indices(D, -1)]) > 0)
  _, ld = flow.apply(variables, x)
  np.testing.assert_allclose(ld[0], np.sum(np.log(np.abs(np.diag(jac)))),
                             rtol=1e-5)


def test_iaf_is_identity_at_init():
  x = normal(seed=6, shape=(3, D))
  flow = flows.IAF((8, 8))
  variables = flow.init(key(7), x)
  y, ld = flow.apply(variables, x)
  np.testing.assert_array_equal(y, x)
  np.testing.assert_array_equal(ld, 0.0)


def test_iaf_inverse_is_d_sequential_passes():
  """x <- (y - t(x)) / s(x) from x = 0: one pass only fixes the first entry
  in the order; after D passes (the loop length IAF uses) x is exact."""
  x = normal(seed=8, shape=(2, D))
  flow = flows.IAF((8, 8), activation=jnp.tanh)
  variables = perturb(flow.init(key(9), x), seed=3, scale=0.5)
  y, _ = flow.apply(variables, x)

  def step(v):
    out = flow.apply(variables, v, method=lambda m, u: m.made(u))
    log_s = flows.bounded_log_scale(out[:, 1], "tanh", 2.0)
    return (y - out[:, 0]) * jnp.exp(-log_s)

  def passes(n):
    v = jnp.zeros_like(y)
    for _ in range(n):
      v = step(v)
    return v

  one = passes(1)
  np.testing.assert_allclose(one[:, 0], x[:, 0], atol=1e-5)
  assert float(jnp.abs(one - x).max()) > 1e-2
  np.testing.assert_allclose(passes(D), x, atol=1e-5)
  np.testing.assert_allclose(flow.apply(variables, y, method="inverse")[0], x,
                             atol=1e-5)

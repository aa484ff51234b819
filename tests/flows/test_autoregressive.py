"""MADE's masks give autoregressive outputs; IAF's Jacobian is triangular."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb

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


# ------------------------------------------------- MADE with a context


def _context_made(reverse=False, hidden=(8, 8), seed=11):
  x = normal(seed=seed, shape=(3, D))
  h = normal(seed=seed + 1, shape=(3, 4))
  made = flows.MADE(hidden=hidden, num_outputs=2, reverse=reverse,
                    activation=jnp.tanh)
  variables = perturb(made.init(key(seed), x, h), seed=seed, scale=0.5)
  return made, variables, x, h


@pytest.mark.parametrize("reverse", [False, True])
def test_made_with_context_stays_autoregressive_in_x(reverse):
  """With a context h, out_d still depends only on x_{d'} with m(d') <
  m(d), and every output after the first in the order depends on h (Kingma
  et al. 2016, sec. 4); the first sees no hidden unit (MADE's strict output
  mask), so it is a constant, as without a context."""
  made, variables, x, h = _context_made(reverse)
  fn = lambda v, c: made.apply(variables, v[None], c[None])[0]
  jac_x = np.asarray(jax.jacfwd(fn, 0)(x[0], h[0]))      # [2, D, D]
  jac_h = np.asarray(jax.jacfwd(fn, 1)(x[0], h[0]))      # [2, D, C]
  order = _order(reverse)
  allowed = order[None, :] < order[:, None]
  for j in range(2):
    np.testing.assert_array_equal(jac_x[j][~allowed], 0.0)
    assert np.all(np.abs(jac_x[j][allowed]) > 0)
  sees_h = np.abs(jac_h).sum(-1) > 0                    # [2, D]
  np.testing.assert_array_equal(sees_h, np.broadcast_to(order > 1, (2, D)))


def test_made_context_is_an_unmasked_dense_map_into_the_first_layer():
  """out = W_out^M σ(W_0^M x + b_0 + W_h h) + b_out, by hand from the
  parameters (the IAF posterior's network, Kingma et al. 2016, sec. 4)."""
  made, variables, x, h = _context_made(hidden=(7,))
  p = variables["params"]
  assert set(p) == {"masked_0", "context", "masked_out"}
  assert set(p["context"]) == {"kernel"}                 # no bias
  masks = flows.made_masks(D, (7,))
  h1 = jnp.tanh(x @ (p["masked_0"]["kernel"] * masks[0])
                + p["masked_0"]["bias"] + h @ p["context"]["kernel"])
  out = (h1 @ (p["masked_out"]["kernel"] * np.tile(masks[1], (1, 2)))
         + p["masked_out"]["bias"])
  np.testing.assert_allclose(made.apply(variables, x, h),
                             out.reshape(3, 2, D), rtol=1e-5, atol=1e-6)


def test_made_without_context_is_unchanged():
  """No context: no 'context' parameters, the same outputs as a MADE built
  from the same non-context parameters."""
  made, variables, x, h = _context_made()
  plain = {"params": {k: v for k, v in variables["params"].items()
                      if k != "context"}}
  assert set(made.init(key(0), x)["params"]) == set(plain["params"])
  without = made.apply(plain, x)
  with_zero_context = made.apply(variables, x, jnp.zeros_like(h))
  np.testing.assert_allclose(without, with_zero_context, rtol=1e-6)


@pytest.mark.parametrize("call, expected", [
    pytest.param(lambda: flows.MADE((4,)).init(key(0), i(2, 3)),
                 ["MADE.__call__", "`x`", "int32"], id="made_int"),
    pytest.param(lambda: flows.MADE((4,)).init(key(0), f(2, 3), f(3, 5)),
                 ["MADE.__call__", "batch size", "`context` (3, 5)"],
                 id="made_context_batch"),
    pytest.param(lambda: flows.MADE((4,)).init(key(0), f(2, 3), f(2, 5, 1)),
                 ["MADE.__call__", "`context`", "rank 2", "(2, 5, 1)"],
                 id="made_context_rank"),
    pytest.param(lambda: flows.IAF((4,)).init(key(0), f(2, 3, 1)),
                 ["IAF.forward", "`x`", "rank 2", "(2, 3, 1)"],
                 id="iaf_rank"),
    pytest.param(lambda: flows.MaskedDense(2, np.ones((3, 2), np.float32)).init(
        key(0), f(2, 4)), ["MaskedDense.__call__", "`x`", "fan_in = 3",
                           "(2, 4)"], id="masked_dense_fan_in"),
])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

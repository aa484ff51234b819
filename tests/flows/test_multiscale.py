"""Squeeze, factor-out and the multiscale flow, including 28x28 images."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import flows
from gdm_jax.nn import depth_to_space
from tests.helpers import f
from tests.helpers import invalid_input_test
from tests.helpers import key
from tests.helpers import normal
from tests.helpers import perturb
from tests.helpers import uniform


def test_squeeze_values_and_inverse():
  x = jnp.arange(2 * 4 * 4 * 3, dtype=jnp.float32).reshape(2, 4, 4, 3)
  y = flows.squeeze(x)
  assert y.shape == (2, 2, 2, 12)
  # Channel (p*2 + q)*C + c of block (i, j) is pixel (2i + p, 2j + q, c).
  for p in range(2):
    for q in range(2):
      np.testing.assert_array_equal(
          y[:, 1, 0, (p * 2 + q) * 3:(p * 2 + q + 1) * 3], x[:, 2 + p, q])
  np.testing.assert_array_equal(flows.unsqueeze(y), x)
  np.testing.assert_array_equal(depth_to_space(y, 2), x)


@pytest.mark.parametrize("fn, shape", [
    (flows.squeeze, (1, 7, 7, 1)),
    (flows.squeeze, (1, 4, 6)),
    (flows.unsqueeze, (1, 2, 2, 6)),
])
def test_squeeze_shape_errors(fn, shape):
  with pytest.raises(ValueError):
    fn(jnp.zeros(shape))


def test_squeeze_schedule_stops_at_odd_sizes():
  assert flows.squeeze_schedule(28, 28, 3) == (True, True, False)
  assert flows.squeeze_schedule(32, 32, 3) == (True, True, True)
  assert flows.squeeze_schedule(7, 8, 2) == (False, False)
  with pytest.raises(ValueError):
    flows.squeeze_schedule(28, 28, 0)


def test_split_and_merge_channels():
  x = jnp.arange(10.0).reshape(1, 1, 2, 5)
  kept, out = flows.split_channels(x)
  assert kept.shape == (1, 1, 2, 3) and out.shape == (1, 1, 2, 2)
  np.testing.assert_array_equal(flows.merge_channels(kept, out), x)
  with pytest.raises(ValueError):
    flows.split_channels(jnp.zeros((1, 3, 3, 1)))


def test_flatten_unflatten_latents():
  zs = (jnp.ones((2, 3, 3, 2)), 2 * jnp.ones((2, 3, 3, 1)))
  flat = flows.flatten_latents(zs)
  assert flat.shape == (2, 27)
  back = flows.unflatten_latents(flat, [(3, 3, 2), (3, 3, 1)])
  jax.tree.map(np.testing.assert_array_equal, back, zs)
  with pytest.raises(ValueError):
    flows.unflatten_latents(flat, [(3, 3, 2)])


def test_multiscale_on_28x28_images():
  """28 -> 14 -> 7 (odd: the last level does not squeeze): 784 latents."""
  x = uniform(seed=0, shape=(2, 28, 28, 1))
  levels = []
  for squeezes in flows.squeeze_schedule(28, 28, 3):
    coupling = flows.AffineCoupling("channel", hidden=4)
    levels.append(flows.Chain([flows.Squeeze(), coupling]) if squeezes
                  else coupling)
  flow = flows.MultiscaleFlow(levels)
  variables = perturb(jax.jit(flow.init)(key(1), x), seed=1)

  @jax.jit
  def round_trip(x):
    zs, ld = flow.apply(variables, x)
    return zs, ld, flow.apply(variables, zs, method="inverse")

  zs, ld, (x_back, ild) = round_trip(x)
  assert [z.shape[1:] for z in zs] == [(14, 14, 2), (7, 7, 4), (7, 7, 4)]
  assert flows.flatten_latents(zs).shape == (2, 784)
  np.testing.assert_allclose(x_back, x, atol=1e-5)
  np.testing.assert_allclose(ld + ild, 0.0, atol=1e-3)
  assert np.all(np.isfinite(ld)) and np.all(np.abs(ld) > 1e-2)


def test_multiscale_inverse_checks_number_of_latents():
  x = normal(seed=0, shape=(1, 4, 4, 1))
  flow = flows.MultiscaleFlow([flows.Squeeze(), flows.Squeeze()])
  variables = flow.init(key(1), x)
  zs, _ = flow.apply(variables, x)
  assert [z.shape for z in zs] == [(1, 2, 2, 2), (1, 1, 1, 8)]
  with pytest.raises(ValueError):
    flow.apply(variables, zs[:1], method="inverse")
  with pytest.raises(ValueError):
    flows.MultiscaleFlow([]).init(key(1), x)


# ----------------------------------------------------------- invalid inputs
# (id, call, substrings the ValueError's message must contain)

INVALID_INPUTS = [
    ("multiscale_latent_batches",
     lambda: flows.MultiscaleFlow([flows.ActNorm(), flows.ActNorm()]).apply(
         {}, (f(2, 4), f(3, 4)), method="inverse"),
     ["MultiscaleFlow.inverse", "batch size", "(2,)", "(3,)"]),
    ("merge_channels_shapes",
     lambda: flows.merge_channels(f(2, 4, 4, 2), f(2, 2, 2, 2)),
     ["flows.merge_channels", "`kept` (2, 4, 4, 2)",
      "`factored` (2, 2, 2, 2)"]),
    ("flatten_latents_batches",
     lambda: flows.flatten_latents([f(2, 3), f(4, 3)]),
     ["flows.flatten_latents", "`latents[1]`", "(4,)"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS))

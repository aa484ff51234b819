"""gdm_jax.nn.spectral: flax SpectralNorm on Dense and Conv, checked by SVD."""

import functools

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.nn import spectral
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i


def _top_singular_value(kernel):
  return float(jnp.linalg.svd(spectral.kernel_as_matrix(kernel),
                              compute_uv=False)[0])


def _run_power_iteration(module, variables, x, steps):
  """`steps` training-mode calls, carrying 'batch_stats' between them."""
  @jax.jit
  def call(variables):
    _, updates = module.apply(variables, x, update_stats=True,
                              mutable=["batch_stats"])
    return {"params": variables["params"], **updates}
  for _ in range(steps):
    variables = call(variables)
  return variables


def _init(module, key, x):
  """Jitted init (eager flax init compiles op by op, which takes seconds)."""
  return jax.jit(functools.partial(module.init, update_stats=False))(key, x)


def _only(tree):
  leaves = jax.tree.leaves(tree)
  assert len(leaves) == 1
  return leaves[0]


def test_spectral_dense_sigma_and_normalised_map():
  module = spectral.SpectralDense(features=8, use_bias=False)
  x = jnp.eye(16)  # the layer applied to I_16 is the normalised kernel
  variables = _init(module, jax.random.PRNGKey(0), x)
  kernel = variables["params"]["Dense_0"]["kernel"]
  kernel = kernel * jnp.linspace(0.5, 3.0, 8)  # sigma far from 1
  variables = {"params": {"Dense_0": {"kernel": kernel}},
               "batch_stats": variables["batch_stats"]}
  true_sigma = _top_singular_value(kernel)
  assert true_sigma > 2.0
  variables = _run_power_iteration(module, variables, x, 60)
  sigmas = spectral.spectral_sigmas(variables["batch_stats"])
  assert list(sigmas) == ["SpectralNorm_0/Dense_0/kernel/sigma"]
  np.testing.assert_allclose(_only(sigmas), true_sigma, rtol=1e-4)
  # Evaluation mode: deterministic, stores nothing, largest singular value 1.
  w_sn = module.apply(variables, x, update_stats=False)
  np.testing.assert_allclose(w_sn, kernel / true_sigma, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(_top_singular_value(w_sn), 1.0, rtol=1e-4)


def test_spectral_conv_sigma_and_normalised_kernel():
  # n_steps=5 per call: 250 iterations, enough for this kernel's narrow gap
  # between its top two singular values.
  module = spectral.SpectralConv(features=6, kernel_size=(3, 3), strides=2,
                                 n_steps=5)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 3))
  variables = _init(module, jax.random.PRNGKey(2), x)
  params = variables["params"]
  kernel = params["Conv_0"]["kernel"]
  assert kernel.shape == (3, 3, 3, 6)
  true_sigma = _top_singular_value(kernel)  # of the [27, 6] reshape
  variables = _run_power_iteration(module, variables, x, 50)
  sigma = _only(spectral.spectral_sigmas(variables["batch_stats"]))
  np.testing.assert_allclose(sigma, true_sigma, rtol=1e-4)
  # The layer is exactly nn.Conv with kernel / sigma (bias untouched).
  out = module.apply(variables, x, update_stats=False)
  plain = nn.Conv(6, (3, 3), strides=2)
  normalised = {"kernel": kernel / sigma, "bias": params["Conv_0"]["bias"]}
  np.testing.assert_allclose(out, jax.jit(plain.apply)({"params": normalised},
                                                      x),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(_top_singular_value(kernel / sigma), 1.0,
                             rtol=1e-4)


def test_one_step_per_call_converges_from_below():
  """n_steps=1: sigma rises towards the true value across training steps."""
  module = spectral.SpectralDense(features=8, use_bias=False)
  x = jnp.ones((1, 16))
  variables = _init(module, jax.random.PRNGKey(4), x)
  true_sigma = _top_singular_value(variables["params"]["Dense_0"]["kernel"])
  history = []
  for _ in range(4):
    variables = _run_power_iteration(module, variables, x, 5)
    history.append(float(_only(spectral.spectral_sigmas(
        variables["batch_stats"]))))
  assert all(s <= true_sigma * (1 + 1e-5) for s in history)
  assert history[-1] >= history[0] - 1e-6
  np.testing.assert_allclose(history[-1], true_sigma, rtol=1e-2)


def test_update_requires_mutable_batch_stats():
  module = spectral.SpectralDense(features=4)
  x = jnp.ones((2, 5))
  variables = _init(module, jax.random.PRNGKey(0), x)
  with pytest.raises(flax.errors.ModifyScopeVariableError):
    module.apply(variables, x, update_stats=True)
  # Evaluation mode needs no mutable collection and is repeatable.
  a = module.apply(variables, x, update_stats=False)
  b = module.apply(variables, x, update_stats=False)
  np.testing.assert_array_equal(a, b)


def test_power_iteration_matches_svd():
  kernel = jax.random.normal(jax.random.PRNGKey(5), (3, 3, 4, 5))
  u0 = jax.random.normal(jax.random.PRNGKey(6), (1, 5))
  sigma, u = spectral.power_iteration(kernel, u0, 200)
  np.testing.assert_allclose(sigma, _top_singular_value(kernel), rtol=1e-5)
  assert u.shape == (1, 5)
  np.testing.assert_allclose(jnp.linalg.norm(u), 1.0, rtol=1e-6)
  few, _ = spectral.power_iteration(kernel, u0, 1)
  assert float(few) <= float(sigma) * (1 + 1e-6)
  with pytest.raises(ValueError, match="n_steps"):
    spectral.power_iteration(kernel, u0, 0)


KEY = jax.random.key(0)


@pytest.mark.parametrize("call, expected", [
    (lambda: spectral.power_iteration(f(3, 4), f(1, 3), 1),
     ["nn.power_iteration", "`u`", "(1, 4)", "(1, 3)"]),
    (lambda: spectral.SpectralDense(3).init(KEY, i(2, 4), update_stats=False),
     ["SpectralDense.__call__", "`x`", "int32"]),
])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

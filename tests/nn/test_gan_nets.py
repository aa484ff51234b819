"""gdm_jax.nn.gan_nets: shapes, modes, state, per-example independence and
spectral normalisation of the GAN generators and discriminators."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.nn import gan_nets
from gdm_jax.nn import spectral
from tests.helpers import assert_raises_naming
from tests.helpers import f


def _init(module, x, **kw):
  return jax.jit(functools.partial(module.init, train=False, **kw))(
      jax.random.PRNGKey(0), x)


@pytest.mark.parametrize("shape,channels", [((28, 28, 1), (8, 4)),
                                            ((32, 32, 3), (8, 4, 4))])
def test_dcgan_generator_shapes_and_range(shape, channels):
  """28x28 from a 7x7 base in 2 stages, 32x32 from 4x4 in 3 (64x64: 4)."""
  gen = gan_nets.DCGANGenerator(shape, channels)
  z = jax.random.normal(jax.random.PRNGKey(1), (3, 8)) * 10.0
  variables = _init(gen, z)
  assert gan_nets.has_state(variables)       # batch-norm running averages
  assert variables["params"]["project"]["kernel"].shape == (
      8, shape[0] // 2 ** len(channels) * shape[1] // 2 ** len(channels)
      * channels[0])
  x = jax.jit(functools.partial(gen.apply, train=False))(variables, z)
  assert x.shape == (3,) + shape
  assert float(jnp.max(jnp.abs(x))) <= 1.0   # tanh output


def test_dcgan_generator_rejects_indivisible_size():
  gen = gan_nets.DCGANGenerator((28, 28, 1), (8, 8, 8))  # 28 / 8 not integral
  with pytest.raises(ValueError, match="not divisible by 2\\*\\*3"):
    gen.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), train=False)


@pytest.mark.parametrize("field,module", [
    ("discriminator normalization", gan_nets.MLPDiscriminator(normalization="group")),
    ("generator normalization", gan_nets.MLPGenerator((2,), normalization="layer")),
    ("activation", gan_nets.MLPDiscriminator(activation="swish"))])
def test_unknown_options_raise(field, module):
  x = jnp.zeros((2, 2)) if isinstance(module, gan_nets.MLPGenerator) else jnp.zeros((2, 4))
  with pytest.raises(ValueError, match=field):
    module.init(jax.random.PRNGKey(0), x, train=False)


def test_batch_norm_train_mode_updates_running_averages_used_in_eval():
  gen = gan_nets.MLPGenerator((3,), (5,), normalization="batch",
                              output_activation="linear")
  z = 3.0 + 2.0 * jax.random.normal(jax.random.PRNGKey(2), (256, 4))
  variables = _init(gen, z)
  stats0 = variables["batch_stats"]["norm_0"]
  np.testing.assert_allclose(stats0["mean"], 0.0)
  _, new = gen.apply(variables, z, train=True, mutable=["batch_stats"])
  pre = z @ variables["params"]["dense_0"]["kernel"] + variables["params"]["dense_0"]["bias"]
  # EMA with momentum 0.9 from (mean 0, var 1) towards the batch moments.
  np.testing.assert_allclose(new["batch_stats"]["norm_0"]["mean"],
                             0.1 * jnp.mean(pre, 0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(new["batch_stats"]["norm_0"]["var"],
                             0.9 + 0.1 * jnp.var(pre, 0), rtol=1e-4)
  # Eval mode is deterministic per example (running averages), train mode is
  # not: an example's output then depends on the rest of the batch.
  updated = {**variables, **new}
  one = gen.apply(updated, z[:1], train=False)
  np.testing.assert_allclose(gen.apply(updated, z, train=False)[:1], one,
                             rtol=1e-5, atol=1e-5)
  train_out, _ = gen.apply(updated, z, train=True, mutable=["batch_stats"])
  assert not np.allclose(train_out[:1], one, atol=1e-3)


def test_dropout_only_in_train_mode():
  disc = gan_nets.MLPDiscriminator((64,), dropout=0.5)
  x = jax.random.normal(jax.random.PRNGKey(3), (4, 10))
  variables = _init(disc, x)
  a = disc.apply(variables, x, train=False)
  np.testing.assert_allclose(disc.apply(variables, x, train=False), a)
  b = disc.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(4)})
  c = disc.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(5)})
  assert not np.allclose(b, c)


@pytest.mark.parametrize("arch,norm", [("mlp", "none"), ("mlp", "spectral"),
                                       ("dcgan", "layer"), ("dcgan", "spectral")])
def test_discriminator_treats_examples_independently(arch, norm):
  """No cross-example coupling (what a per-example gradient penalty needs):
  the Jacobian of the outputs w.r.t. the batch is block diagonal."""
  if arch == "mlp":
    disc = gan_nets.MLPDiscriminator((8,), normalization=norm)
    x = jax.random.normal(jax.random.PRNGKey(6), (3, 5))
  else:
    disc = gan_nets.DCGANDiscriminator((2, 4), normalization=norm)
    x = jax.random.normal(jax.random.PRNGKey(6), (3, 8, 8, 1))
  variables = _init(disc, x)
  jac = jax.jit(jax.jacrev(lambda v: disc.apply(variables, v, train=False)[:, 0]))(x)
  jac = jac.reshape(3, 3, -1)                             # [out, in_example, D]
  off = jac * (1.0 - jnp.eye(3))[:, :, None]
  assert float(jnp.max(jnp.abs(off))) == 0.0
  assert float(jnp.min(jnp.max(jnp.abs(jac), -1).diagonal())) > 0.0


def test_spectral_discriminators_converge_to_svd_and_are_1_lipschitz():
  """Train-mode calls carry u; the stored σ of every layer (convs and the
  dense output) converges to the largest singular value of its (reshaped)
  kernel, and the MLP critic's input gradient norm is then <= 1."""
  x = jax.random.normal(jax.random.PRNGKey(7), (4, 8, 8, 1))
  disc = gan_nets.DCGANDiscriminator((4, 6), normalization="spectral")
  variables = _init(disc, x)

  @jax.jit
  def step(variables):
    _, new = disc.apply(variables, x, train=True, mutable=["batch_stats"])
    return {**variables, **new}
  for _ in range(100):
    variables = step(variables)
  sigmas = spectral.spectral_sigmas(variables["batch_stats"])
  assert len(sigmas) == 3                                 # 2 convs + dense
  kernels = {name: kern for name, kern in _kernels(variables["params"])}
  for name, sigma in sigmas.items():
    layer = name.split("/")[0]
    svd = np.linalg.svd(np.asarray(spectral.kernel_as_matrix(kernels[layer])),
                        compute_uv=False)[0]
    np.testing.assert_allclose(float(sigma), svd, rtol=1e-3, err_msg=name)

  mlp = gan_nets.MLPDiscriminator((32, 32), normalization="spectral")
  pts = 3.0 * jax.random.normal(jax.random.PRNGKey(8), (256, 5))
  m_vars = _init(mlp, pts)
  m_step = jax.jit(lambda v: {**v, **mlp.apply(v, pts, train=True,
                                                mutable=["batch_stats"])[1]})
  for _ in range(100):
    m_vars = m_step(m_vars)
  grads = jax.jit(jax.vmap(jax.grad(
      lambda p: mlp.apply(m_vars, p[None], train=False)[0, 0])))(pts)
  norms = jnp.linalg.norm(grads, axis=-1)
  assert float(jnp.max(norms)) <= 1.0 + 1e-3
  assert float(jnp.max(norms)) > 0.05                     # not trivially 0


def _kernels(params):
  """(top-level layer name, kernel) for every kernel in a params tree."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  for path, value in flat:
    keys = [str(getattr(k, "key", k)) for k in path]
    if keys[-1] == "kernel":
      yield keys[0], value


KEY = jax.random.key(0)


@pytest.mark.parametrize("call, expected", [
    (lambda: gan_nets.MLPGenerator((2,), (4,)).init(KEY, f(3), train=False),
     ["MLPGenerator.__call__", "`z`", "rank 2", "(3,)"]),
    (lambda: gan_nets.DCGANDiscriminator().init(KEY, f(2, 28, 28),
                                                train=False),
     ["DCGANDiscriminator.__call__", "`x`", "rank 4", "(2, 28, 28)"]),
])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

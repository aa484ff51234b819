"""Mathematical tests of xICFG (gdm_jax/models/cfg.py).

The functional step x <- x + η s ∇D(x) is checked against its first-order
expansion D(x + η g) = D(x) + η s ||∇D||² + O(η²) and against the closed form
of gradient ascent on a quadratic D; the stored generator against the exact
sum of steps of linear discriminators; ICFG against the direction real data
lie in; the approximator refit against its objective; the module-level functions
without `make` and their input errors.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.models import cfg
from tests import helpers
from tests.helpers import assert_raises_naming
from tests.helpers import f

TOY = {"shape": (2,), "kind": "toy", "name": "ring8"}
RING_RADIUS, RING_STD = 2.0, 0.02


def toy_config(**model):
  c = helpers.smoke_config("cfg.py")
  c.model.output_activation = "linear"
  for k, v in model.items():
    setattr(c.model, k, v)
  c.train.batch_size = (c.model.num_stages * c.model.discriminator_updates
                        * c.model.stage_batch_size)
  return c


def ring8_batch(rng: np.random.Generator, n: int) -> dict:
  angles = 2 * np.pi * rng.integers(0, 8, n) / 8
  x = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
  return {"x": jnp.asarray(x + RING_STD * rng.normal(size=x.shape), jnp.float32)}


def _smooth_critic():
  """A fixed nonlinear D: R^3 -> R, tanh features (smooth everywhere)."""
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  w = jax.random.normal(k1, (3, 8))
  v = jax.random.normal(k2, (8,))
  return lambda x: jnp.tanh(x @ w) @ v


# ----------------------------------------------------- functional step ------


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_functional_step_raises_d_to_first_order(scale):
  d_fn = _smooth_critic()
  x = jax.random.normal(jax.random.PRNGKey(1), (16, 3))
  g = cfg.functional_gradient(d_fn, x, scale)
  np.testing.assert_allclose(g, scale * jax.vmap(jax.grad(
      lambda y: d_fn(y[None])[0]))(x), rtol=1e-5, atol=1e-6)
  sq = jnp.sum(jnp.square(g), -1) / scale       # s ||∇D||²
  for eta in (1e-2, 3e-3):
    gain = d_fn(cfg.functional_step(d_fn, x, eta, scale)) - d_fn(x)
    assert bool(jnp.all(gain > 0)), "a small step must raise D everywhere"
    ratio = gain / (eta * sq)
    # The second-order remainder is O(η): the ratio is 1 up to ~η·||H||·||g||².
    np.testing.assert_allclose(ratio, 1.0, atol=40 * eta)


def test_steps_on_a_quadratic_d_follow_the_gradient_flow_closed_form():
  """D(x) = -1/2 ||x - m||²: ∇D = m - x, so T steps of size η give exactly
  x_T = m + (1 - η)^T (x_0 - m), moving along ∇D(x_0) = m - x_0, and D
  rises at every step."""
  m = jnp.array([1.0, -2.0, 0.5])
  d_fn = lambda x: -0.5 * jnp.sum(jnp.square(x - m), -1)
  x0 = jax.random.normal(jax.random.PRNGKey(2), (10, 3))
  eta, steps = 0.1, 7
  x, values = x0, [d_fn(x0)]
  for _ in range(steps):
    x = cfg.functional_step(d_fn, x, eta)
    values.append(d_fn(x))
  np.testing.assert_allclose(x, m + (1 - eta) ** steps * (x0 - m), rtol=1e-5,
                             atol=1e-5)
  moved = x - x0
  cosine = jnp.sum(moved * (m - x0), -1) / (
      jnp.linalg.norm(moved, axis=-1) * jnp.linalg.norm(m - x0, axis=-1))
  np.testing.assert_allclose(cosine, 1.0, atol=1e-5)
  assert bool(jnp.all(jnp.diff(jnp.stack(values), axis=0) > 0))


def test_generator_is_approximator_plus_the_stored_steps():
  """With linear stage discriminators D_t(x) = w_t·x + c_t (no hidden layer)
  every step adds η_t s w_t exactly: G(z) = G~(z) + s Σ_t η_t w_t."""
  c = toy_config(discriminator_hidden=(), num_stages=3, step_scale=0.5)
  model = cfg.make(c, TOY)
  params = model.init(jax.random.PRNGKey(0), None).params
  gen = params["generator"]
  z = jax.random.normal(jax.random.PRNGKey(1), (5, c.model.latent_dim))
  # At init the step sizes are 0: G = G~.
  np.testing.assert_allclose(model.generate(gen, z),
                             model.approximator(gen["base"], z), atol=1e-6)
  kernel_shape = gen["stage_discriminators"]["params"]["dense_out"]["kernel"].shape
  w = jax.random.normal(jax.random.PRNGKey(2), kernel_shape)      # [T, 2, 1]
  gen = jax.tree.map(lambda a: a, gen)
  gen["stage_discriminators"]["params"]["dense_out"]["kernel"] = w
  gen["step_sizes"] = jnp.array([0.3, 0.1, 0.7])
  expected = model.approximator(gen["base"], z) + 0.5 * jnp.sum(
      gen["step_sizes"][:, None] * w[..., 0], 0)
  np.testing.assert_allclose(model.generate(gen, z), expected, rtol=1e-5,
                             atol=1e-5)


# -------------------------------------------------------------- ICFG --------


def test_icfg_moves_the_pool_towards_the_data():
  """Real data at m = (3, 3), generated pool near 0: after T stages the
  discriminator scores data above the pool, and the pool has moved towards
  m (every stage ascends a D whose gradient points from fakes to reals)."""
  c = toy_config(num_stages=8, discriminator_updates=4, stage_batch_size=32,
                 pool_size=64, discriminator_hidden=(32,), eta=0.2)
  c.optimizer.discriminator.learning_rate = 1e-2
  model = cfg.make(c, TOY)
  state = model.init(jax.random.PRNGKey(0), None)
  m = jnp.array([3.0, 3.0])
  real = m + 0.1 * jax.random.normal(jax.random.PRNGKey(1), (8, 4, 32, 2))
  x_pool = 0.1 * jax.random.normal(jax.random.PRNGKey(2), (64, 2))
  d, _, x_new, stages, metrics = jax.jit(model.icfg)(
      state.params["discriminator"], state.opt_state["discriminator"], x_pool,
      real, jax.random.PRNGKey(3))
  assert jax.tree.leaves(stages)[0].shape[0] == 8
  # The last stage's snapshot is the returned discriminator.
  for a, b in zip(jax.tree.leaves(stages), jax.tree.leaves(d)):
    np.testing.assert_array_equal(a[-1], b)
  assert float(jnp.mean(model.discriminator(d, real[-1, -1]))) > float(
      jnp.mean(model.discriminator(d, x_new)))
  dist = lambda x: float(jnp.mean(jnp.linalg.norm(x - m, axis=-1)))
  assert dist(x_new) < dist(x_pool) - 0.3
  assert metrics["d_loss"].shape == (8, 4)
  # The discriminator learns: its loss falls below log 4 (chance).
  assert float(jnp.mean(metrics["d_loss"][-1])) < math.log(4)


def test_approximator_refit_reduces_the_fit_loss():
  c = toy_config(approximator_epochs=20, pool_size=64,
                 approximator_batch_size=16, approximator_hidden=(32,))
  c.optimizer.approximator.learning_rate = 1e-2
  model = cfg.make(c, TOY)
  state = model.init(jax.random.PRNGKey(0), None)
  g = state.params["approximator"]
  z = jax.random.normal(jax.random.PRNGKey(1), (64, c.model.latent_dim))
  targets = model.approximator(g, z) + jnp.array([0.5, -0.3]) + 0.2 * z[:, :2]
  new_g, _, fit = jax.jit(model.fit_approximator)(
      g, state.opt_state["approximator"], z, targets, jax.random.PRNGKey(2))
  loss = lambda p: float(jnp.mean(cfg.fit_loss_per_example(
      model.approximator(p, z), targets)))
  np.testing.assert_allclose(float(fit["fit_loss_before"]), loss(g), rtol=1e-5)
  np.testing.assert_allclose(float(fit["fit_loss_after"]), loss(new_g),
                             rtol=1e-5)
  # 1/2 ||0.5, -0.3||² + O(0.2²) at the start.
  assert loss(g) > 0.15
  assert loss(new_g) < 0.2 * loss(g)


# ------------------------------------------------------- the train step -----


def test_train_step_compiles_once_and_is_finite_on_ring8():
  c = toy_config(approximator_hidden=(32,), discriminator_hidden=(32,),
                 eta=0.05)
  model = cfg.make(c, TOY)
  state = jax.jit(model.init)(jax.random.PRNGKey(0), None)
  step = jax.jit(model.train_step, donate_argnums=0)
  rng = np.random.default_rng(0)
  for i in range(4):
    state, metrics = step(state, ring8_batch(rng, c.train.batch_size),
                          jax.random.fold_in(jax.random.PRNGKey(1), i))
    assert all(math.isfinite(float(v)) for v in metrics.values()), metrics
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert int(state.step) == 4
  np.testing.assert_allclose(state.params["generator"]["step_sizes"],
                             np.full(c.model.num_stages, 0.05))
  for name in ("d_loss", "fit_loss_before", "fit_loss_after", "grad_norm",
               "d_real", "d_fake"):
    assert name in metrics
  x = ring8_batch(rng, 6)
  out = jax.jit(model.evaluate)(state.params, x, jax.random.PRNGKey(2))
  assert {k: v.shape for k, v in out.items()} == {
      k: (6,) for k in ("d_real", "d_fake", "d_loss", "approximator_error")}
  np.testing.assert_allclose(
      out["d_loss"], jax.nn.softplus(-out["d_real"]) + jax.nn.softplus(
          out["d_fake"]), rtol=1e-5)
  np.testing.assert_allclose(out["d_real"], model.critic(state.params, x["x"]),
                             rtol=1e-5)
  samples = model.sample(state.params, jax.random.PRNGKey(3), 7)
  assert samples.shape == (7, 2)
  assert model.images(state.params, x, jax.random.PRNGKey(4)) == {}


def test_image_samples_are_in_unit_range_and_images_have_both_grids():
  c = helpers.smoke_config("cfg.py")
  model = cfg.make(c, {"shape": (4, 4, 1)})
  state = model.init(jax.random.PRNGKey(0), None)
  batch = {"image": jnp.full((c.train.batch_size, 4, 4, 1), 200, jnp.uint8),
           "label": jnp.zeros((c.train.batch_size,), jnp.int32)}
  state, _ = jax.jit(model.train_step)(state, batch, jax.random.PRNGKey(1))
  pics = model.images(state.params, batch, jax.random.PRNGKey(2))
  assert pics["samples"].shape == (64, 4, 4, 1)
  assert pics["interpolations"].shape == (40, 4, 4, 1)
  for v in pics.values():
    assert float(v.min()) >= 0.0 and float(v.max()) <= 1.0


def test_invalid_settings_name_the_field():
  c = toy_config()
  c.train.batch_size += 1
  with pytest.raises(ValueError, match="train.batch_size"):
    cfg.make(c, TOY)
  c = toy_config(pool_size=4, approximator_batch_size=8)
  with pytest.raises(ValueError, match="approximator_batch_size"):
    cfg.make(c, TOY)
  c = helpers.smoke_config("cfg.py")
  c.data.binarization = "dynamic"
  c.data.value_range = "0_1"
  with pytest.raises(ValueError, match="binarization"):
    cfg.make(c, {"shape": (4, 4, 1)})


def test_gradient_cap_keeps_the_direction_and_bounds_the_norm():
  """max_norm c: g = s ∇D where ||s ∇D|| <= c, else c ∇D / ||∇D||."""
  w = jnp.array([3.0, -4.0])                       # ||∇D|| = 5 everywhere
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 2))
  g = cfg.functional_gradient(lambda y: y @ w, x, scale=1.0, max_norm=2.0)
  np.testing.assert_allclose(g, jnp.broadcast_to(2.0 * w / 5.0, x.shape),
                             rtol=1e-6)
  g = cfg.functional_gradient(lambda y: y @ w, x, scale=0.1, max_norm=2.0)
  np.testing.assert_allclose(g, jnp.broadcast_to(0.1 * w, x.shape), rtol=1e-6)
  # Per example: a steep and a flat region of one D.
  d_fn = lambda y: jnp.where(y[:, 0] > 0, 10.0, 0.1) * y[:, 1]
  x = jnp.array([[1.0, 0.0], [-1.0, 0.0]])
  g = cfg.functional_gradient(d_fn, x, max_norm=1.0)
  np.testing.assert_allclose(g, [[0.0, 1.0], [0.0, 0.1]], rtol=1e-6)


# ----------------------------------------- module-level functions directly ---


class FunctionalStepVariants(chex.TestCase):
  """The functional step agrees with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_functional_step_jit_and_no_jit_agree(self):
    d_fn = _smooth_critic()
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    step = self.variant(lambda x, eta: cfg.functional_step(d_fn, x, eta, 0.5,
                                                           2.0))
    out = step(x, jnp.float32(0.1))
    chex.assert_shape(out, (8, 3))
    chex.assert_trees_all_close(
        out, x + 0.1 * cfg.functional_gradient(d_fn, x, 0.5, 2.0), rtol=1e-5)


def test_generator_and_images_from_module_functions():
  """`cfg.generate` on networks from `build_networks` is the bound member,
  and the images' interpolation grid is `cfg.interpolate` on the pairs z =
  normal(key, [4, 2, latent_dim])."""
  c = toy_config(num_stages=2)
  model = cfg.make(c, {"shape": (4, 4, 1)})
  state = model.init(jax.random.PRNGKey(0), None)
  batch = {"image": jnp.full((c.train.batch_size, 4, 4, 1), 90, jnp.uint8)}
  state, _ = jax.jit(model.train_step)(state, batch, jax.random.PRNGKey(1))
  approximator, disc = cfg.build_networks(c.model, (4, 4, 1), toy=False)
  spec = cfg.hyperparameters(c.model)
  z = jax.random.normal(jax.random.PRNGKey(2), (3, c.model.latent_dim))
  chex.assert_trees_all_close(
      cfg.generate(approximator, disc, state.params["generator"], z,
                   spec=spec),
      model.generate(state.params["generator"], z), rtol=1e-6)
  rng = jax.random.PRNGKey(3)
  grid = model.images(state.params, batch, rng)["interpolations"]
  pairs = jax.random.normal(jax.random.split(rng)[1],
                            (4, 2, c.model.latent_dim))
  expected = jnp.concatenate([model.interpolate(state.params, p[0], p[1])
                              for p in pairs])
  chex.assert_trees_all_close(grid, expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------- input validation ---


@pytest.fixture(scope="module")
def toy_cfg():
  return cfg.make(toy_config(), TOY)


KEY = jax.random.key(0)


@pytest.mark.parametrize("call, expected", [
    (lambda m: m.critic({}, f(4, 3)),
     ["cfg.critic", "`x`", "(*, 2)", "(4, 3)"]),
    (lambda m: m.evaluate({}, {"x": f(4)}, KEY),
     ["cfg.evaluate", "batch['x']", "(4,)"]),
    (lambda m: m.sample({}, KEY, 0), ["cfg.sample", "`n`", "0"]),
    (lambda m: m.interpolate({}, f(3), f(7)),
     ["cfg.interpolate", "`z_a`", "(3,)"]),
    (lambda m: cfg.fit_loss_per_example(f(4, 2), f(3, 2)),
     ["cfg.fit_loss_per_example", "`prediction` (4, 2)", "`target` (3, 2)"]),
    (lambda m: cfg.functional_gradient(lambda x: x, f(4, 2)),
     ["cfg.functional_gradient", "`d_fn`", "(4, 2)"]),
])
def test_functions_reject_inputs_that_do_not_fit(toy_cfg, call, expected):
  assert_raises_naming(lambda: call(toy_cfg), expected)

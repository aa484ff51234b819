"""gdm_jax.models.gan: the mathematics of the adversarial family.

The optimal discriminator D* = p / (p + q) and V(G, D*) = 2 JSD - log 4 on
1-D Gaussians, weight clipping and the k critic updates inside one compiled
step, the gradient penalty per example (closed forms for linear and Cramér
critics), finite f-GAN steps for every divergence, Cramér GAN's generator
minibatch and its energy distance (masked rows, closed form for Gaussian
features), the module-level functions called without `make`, and clear
config and input errors.
"""

import functools
import math
import re

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from jax.scipy.stats import norm as jnorm

from experiments.configs import gan as gan_config
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax.models import gan
from tests import helpers
from tests.helpers import assert_raises_naming
from tests.helpers import f

TOY_INFO = {"kind": "toy", "name": "toy", "shape": (2,)}
IMAGE_INFO = {"shape": (28, 28, 1)}


def _toy_config(objective="non_saturating", k=1, batch=32, hidden=(16,),
                **model) -> ml_collections.ConfigDict:
  c = gan_config.base_config()
  c.data.name = "ring8"
  c.model.objective = objective
  c.model.architecture = "toy"
  c.model.activation = "relu"
  c.model.latent_dim = 2
  c.model.generator_hidden = hidden
  c.model.discriminator_hidden = hidden
  c.model.discriminator_dropout = 0.0
  c.model.critic_steps = k
  c.model.cramer_dim = 3
  # k critic minibatches of `batch` (+ the generator's own for Cramér GAN).
  c.train.batch_size = batch * (k + (objective == "cramer"))
  c.train.num_steps = 100
  for name, value in model.items():
    c.model[name] = value
  return c


def _toy_batch(key, n, dim=2):
  return {"x": jax.random.normal(key, (n, dim))}


def _run(model, state, steps, batch_fn, jit=None):
  step = jit or jax.jit(model.train_step)
  metrics = None
  for i in range(steps):
    state, metrics = step(state, batch_fn(i), jax.random.PRNGKey(100 + i))
  return state, metrics


# ------------------------------------------------------------ D* and JSD ----


def test_trained_discriminator_approaches_optimum_and_value_is_2jsd_minus_log4():
  """Fixed G(z) = mu + s z (a linear generator, lr 0) against data N(0, 1):
  D trained alone approaches D* = p / (p + q) (Goodfellow et al. 2014,
  Prop. 1), and V(G, D) approaches V(G, D*) = 2 JSD(p, q) - log 4
  (Theorem 1), both computed by numerical integration on a grid."""
  mu, s = 1.0, 0.6
  c = _toy_config(hidden=(64, 64), batch=512, latent_dim=1)
  c.model.generator_hidden = ()
  c.optimizer.generator = ml_collections.ConfigDict(
      {"name": "sgd", "learning_rate": 0.0})
  c.optimizer.discriminator.learning_rate = 3e-3
  model = gan.make(c, {"kind": "toy", "name": "toy", "shape": (1,)})
  state = model.init(jax.random.PRNGKey(0), None)
  g = state.params["generator"]["params"]
  g = {"dense_out": {"kernel": jnp.full((1, 1), s), "bias": jnp.full((1,), mu)}}
  state = state.replace(params={**state.params, "generator": {"params": g}})
  state, _ = _run(model, state, 1500,
                  lambda i: _toy_batch(jax.random.PRNGKey(i), 512, 1))
  np.testing.assert_allclose(state.params["generator"]["params"]["dense_out"]
                             ["kernel"], s)                   # G did not move

  grid = jnp.linspace(-6.0, 6.0, 4001)
  log_p, log_q = jnorm.logpdf(grid, 0.0, 1.0), jnorm.logpdf(grid, mu, s)
  p, q = jnp.exp(log_p), jnp.exp(log_q)
  log_d_star = log_p - jnp.logaddexp(log_p, log_q)        # log p / (p + q)
  log_1m_d_star = log_q - jnp.logaddexp(log_p, log_q)
  logits = jax.jit(model.critic)(state.params, grid[:, None])
  d = jax.nn.sigmoid(logits)
  where = (p + q) > 0.05                     # where both densities matter
  np.testing.assert_array_less(
      np.abs(np.asarray(d - jnp.exp(log_d_star)))[where], 0.06)

  def integrate(f):
    return float(jnp.trapezoid(f, grid))
  log_m = jnp.logaddexp(log_p, log_q) - math.log(2)
  jsd = 0.5 * integrate(p * (log_p - log_m)) + 0.5 * integrate(q * (log_q - log_m))
  v_star = integrate(p * log_d_star + q * log_1m_d_star)
  np.testing.assert_allclose(v_star, 2 * jsd - math.log(4), atol=1e-5)
  assert 0.1 < jsd < math.log(2)             # the Gaussians overlap partly
  v = integrate(p * jax.nn.log_sigmoid(logits) + q * jax.nn.log_sigmoid(-logits))
  assert v <= v_star + 1e-4                  # D* maximises V(G, .)
  assert v_star - v < 0.01
  # The model's per-example evaluation averages to V by Monte Carlo:
  # mean d_loss = -V(G, D).
  ev = jax.jit(model.evaluate)(state.params, _toy_batch(jax.random.PRNGKey(7), 20000, 1),
                               jax.random.PRNGKey(8))
  assert ev["d_loss"].shape == (20000,)
  se = float(jnp.std(ev["d_loss"])) / math.sqrt(20000)
  assert abs(float(jnp.mean(ev["d_loss"])) + v) < 4 * se


# ----------------------------------------------- WGAN clipping, k updates ----


def test_wgan_weight_clipping_after_real_train_steps():
  c = _toy_config("wgan", k=5, hidden=(32,))
  c.optimizer.discriminator = gan_config._optimizer(0.05, 0.9, 0.999, "rmsprop")  # pylint: disable=protected-access
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  state, metrics = _run(model, state, 3,
                        lambda i: _toy_batch(jax.random.PRNGKey(i), 160))
  cval = c.model.clip_value
  d_leaves = jax.tree.leaves(state.params["discriminator"]["params"])
  assert all(float(jnp.max(jnp.abs(l))) <= cval for l in d_leaves)
  # Clipping was active (weights sit on the faces) and only on the critic.
  assert sum(int(jnp.sum(jnp.abs(l) == cval)) for l in d_leaves) > 10
  g_leaves = jax.tree.leaves(state.params["generator"]["params"])
  assert max(float(jnp.max(jnp.abs(l))) for l in g_leaves) > 10 * cval
  assert np.isfinite(float(metrics["wasserstein_estimate"]))


def test_k_critic_updates_in_one_step_that_compiles_once():
  """The trainer's jit (donated state) compiles once; each step makes k
  discriminator updates and one generator update (Adam's counts)."""
  k, steps = 3, 4
  c = _toy_config("wgan_gp", k=k)
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)

  def step_fn(state, batch):
    return model.train_step(state, batch, jax.random.fold_in(state.rng, state.step))
  p_step = jax.jit(step_fn, donate_argnums=0)
  d0 = state.params["discriminator"]["params"]["dense_0"]["kernel"].copy()
  for i in range(steps):
    state, metrics = p_step(state, _toy_batch(jax.random.PRNGKey(i), 32 * k))
  assert p_step._cache_size() == 1  # pylint: disable=protected-access
  assert _adam_count(state.opt_state["discriminator"]) == k * steps
  assert _adam_count(state.opt_state["generator"]) == steps
  assert int(state.step) == steps
  assert not np.allclose(state.params["discriminator"]["params"]["dense_0"]["kernel"], d0)
  assert set(metrics) >= {"d_loss", "g_loss", "gradient_penalty",
                          "wasserstein_estimate", "critic_real", "critic_fake"}


def _adam_count(opt_state):
  is_adam = lambda s: isinstance(s, optax.ScaleByAdamState)
  (adam,) = [s for s in jax.tree.leaves(opt_state, is_leaf=is_adam) if is_adam(s)]
  return int(adam.count)


def test_critic_minibatches_follow_the_batch_convention():
  c = _toy_config("wgan", k=4, batch=3)
  model = gan.make(c, TOY_INFO)
  x = jnp.arange(24.0).reshape(12, 2)
  parts = model.split_batch(x)
  assert parts.shape == (4, 3, 2)
  np.testing.assert_array_equal(parts[2], x[6:9])
  # Cramér GAN: k critic minibatches and the generator's own (k + 1 in all).
  model = gan.make(_toy_config("cramer", k=2, batch=3), TOY_INFO)
  parts = model.split_batch(jnp.arange(18.0).reshape(9, 2))
  assert parts.shape == (3, 3, 2) and model.game.num_minibatches == 3
  np.testing.assert_array_equal(parts[2], jnp.arange(12.0, 18.0).reshape(3, 2))


def test_cramer_generator_step_uses_its_own_minibatch():
  """Bellemare et al. 2017, Algorithm 1: the generator's update samples a
  fresh data batch. With k = 2 the batch carries 3 minibatches of m: the
  critic updates see minibatches 0 and 1, the generator minibatch 2 (not 1,
  the last critic minibatch, as the step once reused). Replayed with the
  module-level functions; SGD so the update is proportional to the
  gradient."""
  k, m = 2, 8
  c = _toy_config("cramer", k=k, batch=m, hidden=(8,))
  sgd = ml_collections.ConfigDict({"name": "sgd", "learning_rate": 0.1})
  c.optimizer.generator, c.optimizer.discriminator = sgd, sgd
  model = gan.make(c, TOY_INFO)
  gen, disc, game = model.generator_net, model.discriminator_net, model.game
  state = model.init(jax.random.PRNGKey(0), None)
  x = jax.random.normal(jax.random.PRNGKey(1), ((k + 1) * m, 2))
  rng = jax.random.PRNGKey(2)
  new, _ = jax.jit(model.train_step)(state, {"x": x}, rng)

  _, d_rng, g_rng = jax.random.split(rng, 3)
  reals = gan.split_batch(x, k + 1)
  params, _, _ = gan.critic_updates(
      gen, disc, model.discriminator_optimizer, state.params,
      state.opt_state["discriminator"], reals[:k], d_rng, game=game)
  chex.assert_trees_all_close(new.params["discriminator"],
                              params["discriminator"], rtol=1e-6)

  def generator_after(real):
    return gan.generator_update(gen, disc, model.generator_optimizer, params,
                                state.opt_state["generator"], real, g_rng,
                                game=game)[0]
  chex.assert_trees_all_close(new.params["generator"],
                              generator_after(reals[k]), rtol=1e-6)
  other = generator_after(reals[k - 1])
  assert any(not np.allclose(a, b, rtol=1e-4) for a, b in zip(
      jax.tree.leaves(new.params["generator"]), jax.tree.leaves(other)))
  # Moving only minibatch k moves G and leaves the critic's update alone.
  moved, _ = jax.jit(model.train_step)(
      state, {"x": x.at[k * m:].add(3.0)}, rng)
  chex.assert_trees_all_close(moved.params["discriminator"],
                              new.params["discriminator"])
  assert any(not np.allclose(a, b, rtol=1e-4) for a, b in zip(
      jax.tree.leaves(new.params["generator"]),
      jax.tree.leaves(moved.params["generator"])))


@pytest.mark.parametrize("name", sorted(divergences.FDIVERGENCES))
def test_fgan_steps_are_finite_for_every_divergence(name):
  c = _toy_config("fgan", divergence=name)
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  state, metrics = _run(model, state, 3,
                        lambda i: _toy_batch(jax.random.PRNGKey(i), 32))
  assert set(metrics) >= {"d_loss", "g_loss", "variational_bound"}
  for key, value in metrics.items():
    assert np.isfinite(float(value)), (name, key)
  ev = jax.jit(model.evaluate)(state.params, _toy_batch(jax.random.PRNGKey(9), 16),
                               jax.random.PRNGKey(1))
  assert ev["variational_bound"].shape == (16,)
  # d_loss is the negated bound, pair by pair.
  np.testing.assert_allclose(ev["d_loss"], -ev["variational_bound"], rtol=1e-6)


def test_fgan_single_step_uses_one_point_for_both_players():
  """Nowozin et al. 2016, Algorithm 1: the generator's gradient is taken at
  the old discriminator, so the step equals two updates from the same state."""
  c = _toy_config("fgan", divergence="reverse_kl")
  model = gan.make(c, TOY_INFO)
  batch = _toy_batch(jax.random.PRNGKey(1), 32)
  step = jax.jit(model.train_step)
  # Past Adam's first update, which is ~lr·sign(g) and so blind to where
  # the generator's gradient is taken.
  state, _ = _run(model, model.init(jax.random.PRNGKey(0), None), 3,
                  lambda i: batch, jit=step)
  new, _ = step(state, batch, jax.random.PRNGKey(2))
  # Replay with another discriminator optimiser state (Adam's count + 1):
  # the discriminator's update changes, the generator's must not, because
  # it is taken at the old discriminator.
  other_opt = jax.tree.map(lambda a: a + 1 if a.dtype == jnp.int32 else a,
                           state.opt_state)
  other = state.replace(opt_state={**state.opt_state,
                                   "discriminator": other_opt["discriminator"]})
  new2, _ = step(other, batch, jax.random.PRNGKey(2))
  d_new = jax.tree.leaves(new.params["discriminator"])
  d_new2 = jax.tree.leaves(new2.params["discriminator"])
  assert any(not np.allclose(a, b, rtol=1e-6) for a, b in zip(d_new, d_new2))
  for a, b in zip(jax.tree.leaves(new.params["generator"]),
                  jax.tree.leaves(new2.params["generator"])):
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 3])
def test_alternating_jensen_shannon_fgan_step_is_the_non_saturating_gan_step(k):
  """With fgan_update='alternating', the Jensen-Shannon f-GAN's losses are
  the non-saturating GAN's minus constants (critic: -2 log 2, generator:
  -log 2; Nowozin et al. 2016, Table 2 and §3.2), so from the same state,
  batch and key one step gives the same parameters. (The single-step method
  is pinned by test_fgan_single_step_uses_one_point_for_both_players.)"""
  ns = gan.make(_toy_config("non_saturating", k=k), TOY_INFO)
  alt = gan.make(_toy_config("fgan", k=k, divergence="jensen_shannon",
                             fgan_update="alternating"), TOY_INFO)
  batch = _toy_batch(jax.random.PRNGKey(1), 32 * k)
  # Past Adam's first update (~lr·sign(g), blind to the gradient's size).
  state, _ = _run(ns, ns.init(jax.random.PRNGKey(0), None), 3,
                  lambda i: batch)
  new_ns, m_ns = jax.jit(ns.train_step)(state, batch, jax.random.PRNGKey(2))
  new_alt, m_alt = jax.jit(alt.train_step)(state, batch, jax.random.PRNGKey(2))
  for a, b in zip(jax.tree.leaves(new_ns.params),
                  jax.tree.leaves(new_alt.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(m_alt["d_loss"], m_ns["d_loss"] - 2 * math.log(2),
                             atol=1e-5)
  np.testing.assert_allclose(m_alt["g_loss"], m_ns["g_loss"] - math.log(2),
                             atol=1e-5)
  assert alt.protocol()["fgan_update"] == "alternating"


@pytest.mark.parametrize("objective,k", [("non_saturating", 1), ("wgan", 5),
                                         ("wgan_gp", 5), ("cramer", 5)])
def test_generator_moves_towards_the_data(objective, k):
  """Data N(0, I_2); an affine generator G(z) = 0.5 z + (3, 3) trained by
  each game ends near the data: the signs of both players' losses and the
  k-step schedule pull G towards P (bias 4.2 -> < 1, scale 0.5 -> ~1)."""
  c = _toy_config(objective, k=k, batch=128, hidden=(32, 32))
  c.model.generator_hidden = ()
  c.optimizer.generator.learning_rate = 1e-2
  c.optimizer.discriminator.learning_rate = 1e-2
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  g = {"dense_out": {"kernel": 0.5 * jnp.eye(2), "bias": jnp.full((2,), 3.0)}}
  state = state.replace(params={**state.params, "generator": {"params": g}})
  state, _ = _run(model, state, 400, lambda i: _toy_batch(
      jax.random.PRNGKey(i), 128 * model.game.num_minibatches))
  g = state.params["generator"]["params"]["dense_out"]
  assert float(jnp.linalg.norm(g["bias"])) < 1.0, g
  np.testing.assert_array_less(jnp.abs(jnp.diag(g["kernel"]) - 1.0), 0.4)


# -------------------------------------------------- gradient penalty --------


def _set_linear_critic(state, w):
  """Toy critic with no hidden layer: f(x) = <w, x> + b."""
  d = {"params": {"dense_out": {"kernel": jnp.asarray(w, jnp.float32)[:, None],
                                "bias": jnp.zeros((1,))}}}
  return {**state.params, "discriminator": d}


def test_gradient_penalty_zero_for_unit_norm_linear_critic_and_per_example():
  c = _toy_config("wgan_gp", hidden=())
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  real = jax.random.normal(jax.random.PRNGKey(1), (16, 2))
  fake = jax.random.normal(jax.random.PRNGKey(2), (16, 2)) + 3.0
  rng = jax.random.PRNGKey(3)
  params = _set_linear_critic(state, [0.6, 0.8])          # ||w|| = 1
  np.testing.assert_allclose(jax.jit(model.gradient_penalty)(params, real, (fake,), rng),
                             np.zeros(16), atol=1e-10)
  params = _set_linear_critic(state, [1.5, 2.0])          # ||w|| = 2.5
  np.testing.assert_allclose(jax.jit(model.gradient_penalty)(params, real, (fake,), rng),
                             np.full(16, 1.5 ** 2), rtol=1e-5)

  # A nonlinear critic: each example's penalty from its own input gradient.
  c = _toy_config("wgan_gp", hidden=(8, 8))
  model = gan.make(c, TOY_INFO)
  params = model.init(jax.random.PRNGKey(4), None).params
  penalty = jax.jit(model.gradient_penalty)(params, real, (fake,), rng)
  x_hat = gan_losses.interpolate(real, fake, rng)
  f1 = lambda x: model.critic(params, x[None])[0]
  g = jax.jit(jax.vmap(jax.grad(f1)))(x_hat)
  np.testing.assert_allclose(penalty, (jnp.linalg.norm(g, axis=-1) - 1.0) ** 2,
                             rtol=1e-4, atol=1e-6)
  assert float(jnp.std(penalty)) > 0


def test_gradient_penalty_norm_over_all_pixels_for_conv_critic():
  """A DCGAN critic with no conv layer is linear in the image: its penalty
  is (||W||_F - 1)² for every example, the norm taken over H, W and C."""
  c = gan_config.base_config()
  c.model.objective = "wgan_gp"
  c.model.architecture = "dcgan"
  c.model.discriminator_norm = "none"
  c.model.discriminator_channels = ()
  c.model.generator_channels = (4, 2)
  c.model.critic_steps = 1
  model = gan.make(c, IMAGE_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  w = jax.random.normal(jax.random.PRNGKey(1), (784, 1)) * 0.1
  params = {**state.params, "discriminator": {"params": {"dense_out": {
      "kernel": w, "bias": jnp.zeros((1,))}}}}
  real = jax.random.uniform(jax.random.PRNGKey(2), (5, 28, 28, 1))
  fake = jax.random.uniform(jax.random.PRNGKey(3), (5, 28, 28, 1))
  penalty = jax.jit(model.gradient_penalty)(params, real, (fake,), jax.random.PRNGKey(4))
  expected = (float(jnp.linalg.norm(w)) - 1.0) ** 2
  np.testing.assert_allclose(penalty, np.full(5, expected), rtol=1e-4)


def test_cramer_penalty_matches_closed_form_for_linear_features():
  """h(x) = A x: f(x) = ||A(x - x'_g)|| - ||A x|| has gradient
  Aᵀ(A(x - x'_g)/||A(x - x'_g)|| - A x/||A x||) (Bellemare et al. 2017,
  Algorithm 1)."""
  c = _toy_config("cramer", hidden=())
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  a = jax.random.normal(jax.random.PRNGKey(1), (3, 2))   # h: R^2 -> R^3
  params = {**state.params, "discriminator": {"params": {"dense_out": {
      "kernel": a.T, "bias": jnp.zeros((3,))}}}}
  real = jax.random.normal(jax.random.PRNGKey(2), (8, 2))
  x_g = jax.random.normal(jax.random.PRNGKey(3), (8, 2)) + 2.0
  x_g2 = jax.random.normal(jax.random.PRNGKey(4), (8, 2)) - 2.0
  rng = jax.random.PRNGKey(5)
  penalty = jax.jit(model.gradient_penalty)(params, real, (x_g, x_g2), rng)
  x_hat = gan_losses.interpolate(real, x_g, rng)
  u = (x_hat - x_g2) @ a.T
  v = x_hat @ a.T
  grad = (u / jnp.linalg.norm(u, axis=-1, keepdims=True)
          - v / jnp.linalg.norm(v, axis=-1, keepdims=True)) @ a
  np.testing.assert_allclose(penalty, (jnp.linalg.norm(grad, axis=-1) - 1) ** 2,
                             rtol=1e-4, atol=1e-6)
  # The module-level function is the bound member.
  np.testing.assert_allclose(
      penalty, gan.gradient_penalty(model.discriminator_net,
                                    params["discriminator"], real, (x_g, x_g2),
                                    rng, game=model.game), rtol=1e-6)
  # Its generator loss per example; the energy distance is batch-level.
  ev = jax.jit(model.evaluate)(params, {"x": real}, jax.random.PRNGKey(6))
  assert ev["energy_distance"].shape == () and ev["g_loss"].shape == (8,)


def test_cramer_and_hinge_train_and_sample():
  for objective in ("cramer", "hinge", "minimax"):
    c = _toy_config(objective, k=2 if objective == "cramer" else 1)
    model = gan.make(c, TOY_INFO)
    state = model.init(jax.random.PRNGKey(0), None)
    state, metrics = _run(model, state, 2, lambda i: _toy_batch(
        jax.random.PRNGKey(i), 32 * model.game.num_minibatches))
    assert all(np.isfinite(float(v)) for v in metrics.values()), objective
    assert model.sample(state.params, jax.random.PRNGKey(1), 7).shape == (7, 2)
    assert model.critic(state.params, jnp.zeros((5, 2))).shape == (5,)
    assert model.images(state.params, None, jax.random.PRNGKey(0)) == {}


# --------------------------------------------------------- config errors ----


@pytest.mark.parametrize("changes,field", [
    ({"model.objective": "wgan_gp", "model.discriminator_norm": "batch"},
     "model.discriminator_norm"),
    ({"model.objective": "cramer", "model.discriminator_norm": "batch"},
     "model.discriminator_norm"),
    ({"model.objective": "lsgan"}, "model.objective"),
    ({"model.objective": "fgan", "model.divergence": "bhattacharyya"},
     "model.divergence"),
    ({"model.objective": "fgan", "model.critic_steps": 2, "train.batch_size": 64},
     "model.critic_steps"),
    ({"model.objective": "fgan", "model.fgan_update": "simultaneous"},
     "model.fgan_update"),
    ({"model.critic_steps": 5, "train.batch_size": 64}, "train.batch_size"),
    ({"model.objective": "cramer", "model.critic_steps": 5,
      "train.batch_size": 320}, "train.batch_size"),
    ({"model.architecture": "resnet"}, "model.architecture"),
    ({"model.architecture": "toy"}, "model.architecture"),
    ({"data.value_range": "0_1"}, "data.value_range"),
    ({"model.discriminator_norm": "group"}, "model.discriminator_norm"),
])
def test_wrong_combinations_raise_naming_the_field(changes, field):
  c = gan_config.base_config()
  for path, value in changes.items():
    section, name = path.split(".")
    c[section][name] = value
  with pytest.raises(ValueError, match=field.replace(".", "\\.")):
    gan.make(c, IMAGE_INFO)


def test_cramer_batch_must_carry_the_generator_minibatch():
  c = gan_config.base_config()
  c.model.objective, c.model.critic_steps = "cramer", 5
  c.train.batch_size = 5 * 64
  with pytest.raises(ValueError, match=re.escape(
      "train.batch_size (320) must be a multiple of model.critic_steps + 1 "
      "(6)")):
    gan.make(c, IMAGE_INFO)
  c.train.batch_size = 6 * 64
  assert gan.make(c, IMAGE_INFO).game.num_minibatches == 6


def test_image_model_samples_in_unit_range_with_interpolations():
  c = helpers.smoke_config("gan.py")
  c.model.architecture = "dcgan"
  c.model.generator_norm = "batch"
  c.model.discriminator_norm = "spectral"
  model = gan.make(c, IMAGE_INFO)
  state = jax.jit(model.init)(jax.random.PRNGKey(0), None)
  assert "batch_stats" in state.params["generator"]       # BN running averages
  assert "batch_stats" in state.params["discriminator"]   # spectral u, sigma
  samples = jax.jit(model.sample, static_argnums=2)(
      state.params, jax.random.PRNGKey(1), 16)
  assert samples.shape == (16, 28, 28, 1)
  assert float(jnp.min(samples)) >= 0.0 and float(jnp.max(samples)) <= 1.0
  # Interpolation i * 8 is the generator's image of the pair's first z.
  z = jax.random.normal(jax.random.PRNGKey(3), (4, 2, c.model.latent_dim))
  path = jax.jit(model.interpolate, static_argnums=2)(
      state.params, jax.random.PRNGKey(3), 8)
  assert path.shape == (32, 28, 28, 1)
  ends = model.preprocessing.to_unit(jax.jit(model.generate)(state.params, z[:, 0]))
  np.testing.assert_allclose(path[::8], ends, atol=1e-5)


# ------------------------------------------ Cramér energy distance (eval) ----


def _old_energy_distance_terms(ev, h_r):
  """The per-example estimator the evaluation once returned: g_loss_i -
  ||h_r,i - h_r,i-1||, the real row paired with its cyclic neighbour."""
  return ev["g_loss"] - jnp.linalg.norm(h_r - jnp.roll(h_r, 1, axis=0), axis=-1)


@pytest.mark.parametrize("padding", ["copies", "other_rows"])
def test_cramer_energy_distance_sees_only_the_real_rows(padding):
  """Issue 14 item 1: `energy_distance` is a batch-level scalar over the
  rows the mask marks real, equal to its value on the unpadded rows, for
  the evaluator's padding (copies of the last real example) and for any
  other padding content; the per-example estimator it replaces, averaged
  with the mask as the evaluator does, is skewed by padding that is not a
  copy of the last real row."""
  model = gan.make(_toy_config("cramer", hidden=(8,)), TOY_INFO)
  params = model.init(jax.random.PRNGKey(0), None).params
  n, pad = 5, 11
  x = 2.0 * jax.random.normal(jax.random.PRNGKey(1), (n, 2))
  fill = (jnp.repeat(x[-1:], pad, 0) if padding == "copies" else
          10.0 + jax.random.normal(jax.random.PRNGKey(3), (pad, 2)))
  mask = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)])
  padded = {"x": jnp.concatenate([x, fill]), "mask": mask}
  rng = jax.random.PRNGKey(2)
  ev = jax.jit(model.evaluate)
  full, real = ev(params, padded, rng), ev(params, {"x": x}, rng)
  assert full["energy_distance"].shape == ()
  np.testing.assert_allclose(full["energy_distance"], real["energy_distance"],
                             rtol=1e-5, atol=1e-6)
  # Per-example metrics of the real rows are those of the unpadded batch.
  np.testing.assert_allclose(full["g_loss"][:n], real["g_loss"], rtol=1e-5)
  # Without the mask the padding counts (a different number).
  unmasked = ev(params, {"x": padded["x"]}, rng)["energy_distance"]
  assert abs(float(unmasked - real["energy_distance"])) > 1e-3
  old_full = _old_energy_distance_terms(
      full, model.discriminator_output(params, padded["x"]))
  old_real = _old_energy_distance_terms(
      real, model.discriminator_output(params, x))
  skew = float(jnp.sum(old_full * mask) / n - jnp.mean(old_real))
  if padding == "copies":
    assert abs(skew) < 1e-5      # row 0 meets a copy of row n - 1 either way
  else:
    assert abs(skew) > 1e-2


def test_weighted_energy_distance_is_the_u_statistic_of_the_weighted_rows():
  x = jax.random.normal(jax.random.PRNGKey(0), (7, 3))
  y = jax.random.normal(jax.random.PRNGKey(1), (9, 3)) + 0.5
  ones_x, ones_y = jnp.ones(7), jnp.ones(9)
  np.testing.assert_allclose(
      gan.weighted_energy_distance(x, y, ones_x, ones_y),
      divergences.energy_distance(x, y), rtol=1e-5)
  wx = jnp.array([1.0, 0, 1, 1, 0, 1, 0])
  wy = jnp.array([0.0, 1, 1, 1, 0, 1, 1, 0, 1])
  np.testing.assert_allclose(
      gan.weighted_energy_distance(x, y, wx, wy),
      divergences.energy_distance(x[wx > 0], y[wy > 0]), rtol=1e-5)
  # One real row: the within-sample term is 0 (finite, not NaN).
  one = gan.weighted_energy_distance(x, y, jnp.eye(7)[0], ones_y)
  assert np.isfinite(float(one))


def test_cramer_energy_distance_matches_the_closed_form_of_gaussian_features():
  """Linear critic h(x) = a x + c and generator G(z) = μ + s z in 1-D, data
  N(0, 1): the features are N(c, a²) and N(aμ + c, a²s²), whose energy
  distance is 2 E|X - Y| - E|X - X'| - E|Y - Y'| with E|N(m, v)| =
  √(2v/π) e^{-m²/2v} + m (1 - 2Φ(-m/√v)) and E|X - X'| = 2σ/√π. Each batch's
  value is the unweighted U-statistic of those features (exactly), and
  the mean over 8 batches of 1000 is within 4 standard errors (0.07) of
  the closed form."""
  c = _toy_config("cramer", hidden=(), latent_dim=1)
  c.model.generator_hidden, c.model.cramer_dim = (), 1
  model = gan.make(c, {"kind": "toy", "name": "toy", "shape": (1,)})
  a, c0, mu, s = 1.5, 0.3, 1.0, 0.5
  dense = lambda w, b: {"params": {"dense_out": {
      "kernel": jnp.full((1, 1), w), "bias": jnp.full((1,), b)}}}
  params = {"generator": dense(s, mu), "discriminator": dense(a, c0)}

  def e_abs(m, v):
    return (math.sqrt(2 * v / math.pi) * math.exp(-m * m / (2 * v))
            + m * (1 - 2 * float(jnorm.cdf(-m / math.sqrt(v)))))
  closed = (2 * e_abs(-a * mu, a * a * (1 + s * s))
            - 2 * a / math.sqrt(math.pi) - 2 * a * s / math.sqrt(math.pi))

  ev = jax.jit(model.evaluate)
  values = []
  for i in range(8):
    batch = {"x": jax.random.normal(jax.random.PRNGKey(i), (1000, 1))}
    rng = jax.random.PRNGKey(100 + i)
    values.append(float(ev(params, batch, rng)["energy_distance"]))
    if i == 0:        # the same value from the critic's features directly
      fake_rng = jax.random.split(rng, 3)[1]
      fakes, _ = gan.draw_fakes(model.generator_net, params["generator"],
                                1000, fake_rng, game=model.game, train=False)
      h = lambda v: model.discriminator_output(params, v)
      np.testing.assert_allclose(
          values[0], divergences.energy_distance(
              h(batch["x"]), h(jnp.concatenate(fakes))), rtol=1e-4)
  assert abs(np.mean(values) - closed) < 0.07, (np.mean(values), closed)


# ----------------------------------------- module-level functions directly ---


@pytest.mark.parametrize("objective", gan.OBJECTIVES)
def test_losses_of_the_outputs_are_the_gan_losses(objective):
  """critic_loss_per_example / generator_loss_per_example on D's outputs,
  without `make`, against gan_losses and divergences."""
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  width = 3 if objective == "cramer" else 1
  outs = [jax.random.normal(key, (6, width)) for key in keys]
  game = gan.Game(objective=objective, real_label=0.9,
                  divergence=divergences.get_f_divergence("reverse_kl"))
  if objective != "cramer":
    outs = outs[:2]
  loss, metrics = gan.critic_loss_per_example(outs, game=game)
  g = gan.generator_loss_per_example(outs[1:], outs[0], game=game)
  chex.assert_shape([loss, g, *metrics.values()], (6,))
  l_r, l_f = outs[0][:, 0], outs[1][:, 0]
  expected = {
      "minimax": (gan_losses.discriminator_loss_per_example(l_r, l_f, 0.9),
                  jnp.log1p(-jax.nn.sigmoid(l_f))),
      "non_saturating": (gan_losses.discriminator_loss_per_example(
          l_r, l_f, 0.9), -jax.nn.log_sigmoid(l_f)),
      "fgan": (-divergences.variational_lower_bound_per_example(
          game.divergence, l_r, l_f),
               -game.divergence.output_activation(l_f)),
      "wgan": (l_f - l_r, -l_f), "wgan_gp": (l_f - l_r, -l_f),
      "hinge": (jax.nn.relu(1 - l_r) + jax.nn.relu(1 + l_f), -l_f)}
  if objective == "cramer":
    h_r, h_g, h_g2 = outs
    norm = lambda v: jnp.linalg.norm(v, axis=-1)
    crit = lambda h: norm(h - h_g2) - norm(h)
    expected["cramer"] = (-(crit(h_r) - crit(h_g)), norm(h_r - h_g)
                          + norm(h_r - h_g2) - norm(h_g - h_g2))
  np.testing.assert_allclose(loss, expected[objective][0], rtol=1e-5)
  np.testing.assert_allclose(g, expected[objective][1], rtol=1e-5, atol=1e-6)


def test_a_notebook_evaluates_a_checkpoint_without_make():
  """Networks from the config (`build_networks`, `game_from_config`), params
  from a train state: the module-level functions give the Model's values."""
  c = _toy_config("wgan_gp", k=2)
  model = gan.make(c, TOY_INFO)
  state = model.init(jax.random.PRNGKey(0), None)
  state, _ = _run(model, state, 1,
                  lambda i: _toy_batch(jax.random.PRNGKey(i), 64))
  gen, disc = gan.build_networks(c.model, (2,))
  game = gan.game_from_config(c.model)
  inputs = functools.partial(gan.model_inputs, preprocessing=None,
                             data_shape=(2,))
  batch, rng = _toy_batch(jax.random.PRNGKey(5), 16), jax.random.PRNGKey(6)
  chex.assert_trees_all_close(
      gan.evaluate(gen, disc, state.params, batch, rng, game=game,
                   inputs=inputs),
      model.evaluate(state.params, batch, rng), rtol=1e-6)
  np.testing.assert_allclose(
      gan.critic_value(gen, disc, state.params, batch["x"], game=game),
      model.critic(state.params, batch["x"]), rtol=1e-6)
  assert model.supports_bfloat16 and model.critic is not None


# ------------------------------------------------------- input validation ---


@pytest.fixture(scope="module")
def toy_gan():
  c = gan_config.get_config("ring8")
  c.model.critic_steps = 2
  return gan.make(c, {"shape": (2,), "kind": "toy", "name": "ring8"})


KEY = jax.random.key(0)


@pytest.mark.parametrize("call, expected", [
    (lambda m: m.evaluate({}, {"x": f(4, 3)}, KEY),
     ["gan.evaluate", "batch['x']", "(4, 3)"]),
    (lambda m: m.train_step(None, {"x": f(3, 2)}, KEY),
     ["gan.train_step", "batch size 3", "critic_steps = 2"]),
    (lambda m: m.sample({}, KEY, -2), ["gan.sample", "`n`", "-2"]),
])
def test_model_functions_reject_inputs_that_do_not_fit(toy_gan, call,
                                                       expected):
  assert_raises_naming(lambda: call(toy_gan), expected)

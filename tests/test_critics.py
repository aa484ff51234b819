"""Tests of gdm_jax/critics.py: the critic losses against gan_losses, the
training loop against a hand-written optax loop, a discriminator trained to
the optimal one on a known case, and the optima (1-D Kantorovich potential,
the gradient penalty's overshoot, Lipschitz bounds)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdm_jax import critics
from gdm_jax.data import toy


def _linear(params, x):
  """f(x) = x·w + b, [B, D] -> [B]."""
  return x @ params["w"] + params["b"]


def _pair(seed=0, n=16, d=3):
  k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
  return (jax.random.normal(k1, (n, d)) + 1.0,
          jax.random.normal(k2, (n, d)) - 1.0)


# ----------------------------------------------------------- losses ----


class CriticLossTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_objectives_are_the_gan_losses(self):
    real, fake = _pair()
    params = {"w": jnp.asarray([0.5, -1.0, 2.0]), "b": jnp.asarray(0.3)}
    key = jax.random.PRNGKey(7)
    f_real, f_fake = _linear(params, real), _linear(params, fake)
    for objective, expected in (
        ("wasserstein_clip", jnp.mean(f_fake) - jnp.mean(f_real)),
        ("logistic", jnp.mean(jax.nn.softplus(-f_real))
         + jnp.mean(jax.nn.softplus(f_fake)))):
      loss = self.variant(lambda p, r, f, k, o=objective: critics.critic_loss(
          p, r, f, k, apply_fn=_linear, objective=o))
      chex.assert_trees_all_close(loss(params, real, fake, key), expected,
                                  rtol=1e-6)
    # WGAN-GP: a linear critic has ||∇f|| = ||w|| everywhere, so the penalty
    # is λ (||w|| - 1)², or λ max(0, ||w|| - 1)² one-sided.
    for w, one_sided in (([0.5, -1.0, 2.0], False), ([0.1, 0.2, 0.2], False),
                         ([0.1, 0.2, 0.2], True)):
      p = {"w": jnp.asarray(w), "b": jnp.asarray(0.0)}
      excess = float(jnp.linalg.norm(p["w"])) - 1.0
      if one_sided:
        excess = max(excess, 0.0)
      loss = self.variant(lambda pp, r, f, k, s=one_sided: critics.critic_loss(
          pp, r, f, k, apply_fn=_linear, objective="wasserstein_gp",
          gp_weight=10.0, gp_one_sided=s))
      expected = (jnp.mean(_linear(p, fake)) - jnp.mean(_linear(p, real))
                  + 10.0 * excess ** 2)
      chex.assert_trees_all_close(loss(p, real, fake, key), expected,
                                  rtol=1e-5, atol=1e-6)

  def test_errors_name_the_problem(self):
    real, fake = _pair()
    params = {"w": jnp.ones(3), "b": jnp.asarray(0.0)}
    with pytest.raises(ValueError, match="objective must be one of"):
      critics.critic_loss(params, real, fake, apply_fn=_linear,
                          objective="hinge")
    with pytest.raises(ValueError, match="needs `rng`"):
      critics.critic_loss(params, real, fake, apply_fn=_linear,
                          objective="wasserstein_gp")


@pytest.mark.parametrize("field,value,match", [
    ("objective", "hinge", "objective must be one of"),
    ("clip", 0.0, "clip must be > 0"),
    ("gp_weight", -1.0, "gp_weight must be > 0"),
])
def test_build_critic_rejects_bad_config(field, value, match):
  objective = {"clip": "wasserstein_clip", "gp_weight": "wasserstein_gp"}.get(
      field, "logistic")
  config = critics.default_config(objective)
  config[field] = value
  with pytest.raises(ValueError, match=match):
    critics.build_critic(config)


# --------------------------------------------------------- training ----


def test_step_keys_are_fold_in():
  rng = jax.random.PRNGKey(3)
  keys = critics.step_keys(rng, 4)
  for t in range(4):
    np.testing.assert_array_equal(keys[t], jax.random.fold_in(rng, t))


def test_train_critic_is_the_optax_loop_and_continues_exactly():
  real_dist = toy.gaussian_mixture1d([1.0], [1.0])
  fake_dist = toy.gaussian_mixture1d([-1.0], [0.5])

  def sample(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return (toy.mixture1d_sample(k1, 32, real_dist),
            toy.mixture1d_sample(k2, 32, fake_dist), k3)

  loss = lambda p, r, f, k: critics.critic_loss(
      p, r, f, k, apply_fn=_linear, objective="wasserstein_gp")
  tx = optax.adam(1e-2)
  params = {"w": jnp.asarray([0.3]), "b": jnp.asarray(0.0)}
  keys = critics.step_keys(jax.random.PRNGKey(0), 6)
  fit = jax.jit(lambda p, k: critics.train_critic(loss, tx, p, sample, k))(
      params, keys)
  chex.assert_shape([fit.losses, fit.grad_norms], (6,))
  # By hand: value_and_grad, tx.update, apply_updates.
  p, state = params, tx.init(params)
  for t in range(6):
    value, grads = jax.value_and_grad(loss)(p, *sample(keys[t]))
    np.testing.assert_allclose(fit.losses[t], value, rtol=1e-5)
    np.testing.assert_allclose(fit.grad_norms[t], optax.global_norm(grads),
                               rtol=1e-5)
    updates, state = tx.update(grads, state, p)
    p = optax.apply_updates(p, updates)
  chex.assert_trees_all_close(fit.params, p, rtol=1e-5)
  # Two halves, the second continuing from the first's optimizer state.
  half = critics.train_critic(loss, tx, params, sample, keys[:3])
  rest = critics.train_critic(loss, tx, half.params, sample, keys[3:],
                              opt_state=half.opt_state)
  chex.assert_trees_all_close(rest.params, fit.params, rtol=1e-6)
  # A deterministic loss: plain minimisation, inputs from step indices.
  quad = critics.train_critic(lambda x: jnp.sum((x - 3.0) ** 2),
                              optax.sgd(0.25), jnp.zeros(2), lambda _: (),
                              jnp.arange(20))
  chex.assert_trees_all_close(quad.params, jnp.full(2, 3.0), atol=1e-5)


def test_train_critic_reaches_the_optimal_discriminator():
  """π = N(1, 1) against p = N(-1, 1): logit D* = log π - log p = 2x, which
  a linear discriminator can represent; trained on fresh samples (vmapped
  over seeds), it converges to it."""
  real_dist = toy.gaussian_mixture1d([1.0], [1.0])
  fake_dist = toy.gaussian_mixture1d([-1.0], [1.0])

  def sample(key):
    k1, k2 = jax.random.split(key)
    return (toy.mixture1d_sample(k1, 512, real_dist),
            toy.mixture1d_sample(k2, 512, fake_dist))

  loss = lambda p, r, f: critics.critic_loss(p, r, f, apply_fn=_linear,
                                             objective="logistic")
  tx = optax.adam(0.02)
  params = {"w": jnp.zeros(1), "b": jnp.asarray(0.0)}

  def run(seed):
    return critics.train_critic(loss, tx, params, sample, critics.step_keys(
        jax.random.PRNGKey(seed), 3000)).params

  fitted = jax.jit(jax.vmap(run))(jnp.arange(2))
  x = jnp.linspace(-3.0, 3.0, 13)
  star = critics.optimal_discriminator_logit(
      toy.mixture1d_log_prob(x, real_dist), toy.mixture1d_log_prob(x, fake_dist))
  chex.assert_trees_all_close(star, 2.0 * x, atol=1e-5)
  for i in range(2):
    p = jax.tree.map(lambda a, i=i: a[i], fitted)
    np.testing.assert_allclose(_linear(p, x[:, None]), star, atol=0.25)
    np.testing.assert_allclose(jax.nn.sigmoid(_linear(p, x[:, None])),
                               jax.nn.sigmoid(star), atol=0.03)


def test_fit_critic_is_train_critic_with_the_documented_keys():
  config = critics.default_config("wasserstein_gp", hidden=(8,),
                                  num_steps=5, batch_size=16)
  real = lambda k, n: toy.mixture1d_sample(k, n, toy.gaussian_mixture1d(
      [0.0], [1.0]))
  fake = lambda k, n: toy.mixture1d_sample(k, n, toy.gaussian_mixture1d(
      [2.0], [1.0]))
  rng = jax.random.PRNGKey(4)
  params, losses = critics.fit_critic(config, real, fake, rng, 1)
  critic = critics.build_critic(config)
  init_rng, train_rng = jax.random.split(rng)

  def sample(key):
    k_real, k_fake, k_loss = jax.random.split(key, 3)
    return real(k_real, 16), fake(k_fake, 16), k_loss

  fit = critics.train_critic(critic.loss, critic.tx,
                             critic.init(init_rng, 1), sample,
                             critics.step_keys(train_rng, 5))
  chex.assert_trees_all_close(params, fit.params)
  chex.assert_trees_all_close(losses, fit.losses)


def test_weight_clipping_keeps_the_critic_in_the_box():
  config = critics.default_config("wasserstein_clip", hidden=(8,),
                                  optimizer="rmsprop", learning_rate=0.1,
                                  num_steps=20, batch_size=16, clip=0.01)
  params, _ = critics.fit_critic(
      config, lambda k, n: jax.random.normal(k, (n, 1)),
      lambda k, n: jax.random.normal(k, (n, 1)) + 3.0,
      jax.random.PRNGKey(0), 1)
  for leaf in jax.tree.leaves(params):
    assert float(jnp.max(jnp.abs(leaf))) <= 0.01 + 1e-7


# ------------------------------------------------------------ optima ----


def test_optimal_critic_attains_w1_in_1d():
  """E_π f* - E_p f* = ∫|F_π - F_p| for f*' = sign(F_p - F_π)."""
  real = toy.gaussian_mixture1d([-2.0, 2.0], [0.5, 0.5], [0.5, 0.5])
  fake = toy.gaussian_mixture1d([0.0, 0.0], [1.0, 1.0], [0.5, 0.5])
  x = np.linspace(-12.0, 12.0, 240_001)
  xs = jnp.asarray(x)
  f = critics.optimal_critic_1d(x, toy.mixture1d_cdf(xs, real),
                                toy.mixture1d_cdf(xs, fake))
  assert f.dtype == np.float64 and f[0] == 0.0
  dens = (np.exp(toy.mixture1d_log_prob(xs, real))
          - np.exp(toy.mixture1d_log_prob(xs, fake)))
  value = np.trapezoid(f * dens, x)
  assert value == pytest.approx(toy.mixture1d_wasserstein1(real, fake),
                                rel=1e-3)
  assert np.max(np.abs(np.diff(f) / np.diff(x))) <= 1 + 1e-9


def test_gp_critic_value_is_the_penalised_optimum():
  """-s W1 + λ(s - 1)² is minimal at s = 1 + W1/(2λ), where E_π f - E_p f
  = s W1."""
  s = np.linspace(0.5, 1.5, 100_001)
  best = s[np.argmin(-s * 0.8 + 10.0 * (s - 1) ** 2)]
  assert critics.gp_critic_value(-0.8, 10.0) == pytest.approx(
      best * 0.8, abs=1e-5)
  np.testing.assert_allclose(critics.gp_critic_value([1.0, 3.0], 10.0),
                             [1.05, 3.45])


def test_lipschitz_bounds_of_a_linear_and_a_relu_critic():
  grid = jnp.linspace(-3.0, 3.0, 61)[:, None]
  w = {"w": jnp.asarray([-1.7]), "b": jnp.asarray(0.2)}
  assert float(critics.empirical_lipschitz(_linear, w, grid)) == (
      pytest.approx(1.7, rel=1e-6))
  np.testing.assert_allclose(critics.input_gradients(_linear, w, grid),
                             jnp.full((61, 1), -1.7))
  critic = critics.build_critic(critics.default_config("logistic",
                                                       hidden=(16, 16)))
  params = critic.init(jax.random.PRNGKey(0), 1)
  lip = float(critics.empirical_lipschitz(critic.apply, params, grid))
  bound = float(critics.spectral_lipschitz_bound(params))
  assert 0 < lip <= bound * (1 + 1e-5)
  # The input gradient by finite differences, off the kinks (with zero
  # initial biases the ReLU critic is positively homogeneous: its only kink
  # is at x = 0).
  grid = grid + 0.025
  h = 1e-3
  fd = (critic.apply(params, grid + h) - critic.apply(params, grid - h)) / (
      2 * h)
  np.testing.assert_allclose(critics.input_gradients(
      critic.apply, params, grid)[:, 0], fd, atol=2e-3)
  assert lip == pytest.approx(float(jnp.max(jnp.abs(fd))), rel=0.05)
  assert math.isfinite(bound)

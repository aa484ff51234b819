"""Maths checks of gdm_jax.gan_losses: logistic, WGAN(-GP), hinge, f-GAN,
Cramér; jit/no-jit agreement; input errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from gdm_jax import divergences as dv
from gdm_jax import gan_losses as gl
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i

MODERATE = jnp.array([-4.0, -1.5, -0.3, 0.0, 0.7, 2.0, 5.0])


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def test_logistic_losses_equal_naive_formulas():
  real, fake = MODERATE, MODERATE[::-1] * 0.5
  d_real, d_fake = _sigmoid(real), _sigmoid(fake)
  np.testing.assert_allclose(
      gl.discriminator_loss_per_example(real, fake),
      -np.log(d_real) - np.log(1.0 - d_fake), rtol=1e-5)
  np.testing.assert_allclose(
      gl.discriminator_loss_per_example(real, fake, real_label=0.9),
      -(0.9 * np.log(d_real) + 0.1 * np.log(1.0 - d_real))
      - np.log(1.0 - d_fake), rtol=1e-5)
  np.testing.assert_allclose(gl.generator_loss_minimax_per_example(fake),
                             np.log(1.0 - d_fake), rtol=1e-5)
  np.testing.assert_allclose(gl.generator_loss_non_saturating_per_example(fake),
                             -np.log(d_fake), rtol=1e-5)
  np.testing.assert_allclose(gl.discriminator_loss(real, fake[:3]),
                             np.mean(-np.log(d_real))
                             + np.mean(-np.log(1.0 - d_fake[:3])), rtol=1e-5)
  np.testing.assert_allclose(gl.generator_loss_minimax(fake),
                             np.mean(np.log(1.0 - d_fake)), rtol=1e-5)
  np.testing.assert_allclose(gl.generator_loss_non_saturating(fake),
                             np.mean(-np.log(d_fake)), rtol=1e-5)


def test_logistic_losses_finite_at_extreme_logits():
  big = jnp.array([-100.0, 100.0])
  for value in (gl.discriminator_loss_per_example(big, big),
                gl.generator_loss_minimax_per_example(big),
                gl.generator_loss_non_saturating_per_example(big)):
    assert bool(jnp.all(jnp.isfinite(value)))
  # A perfect discriminator has loss ~0; a perfectly wrong one ~200 nats.
  np.testing.assert_allclose(
      gl.discriminator_loss_per_example(big[::-1], big), [0.0, 200.0],
      atol=1e-6)
  np.testing.assert_allclose(gl.generator_loss_non_saturating_per_example(big),
                             [100.0, 0.0], atol=1e-6)
  grads = jax.grad(lambda l: jnp.sum(gl.discriminator_loss_per_example(l, l)))(
      big)
  assert bool(jnp.all(jnp.isfinite(grads)))


def test_minimax_saturates_non_saturating_does_not():
  """At D(G(z)) ~ 0 (logit -20) the minimax gradient vanishes."""
  fake = jnp.array(-20.0)
  g_minimax = jax.grad(gl.generator_loss_minimax_per_example)(fake)
  g_ns = jax.grad(gl.generator_loss_non_saturating_per_example)(fake)
  assert abs(float(g_minimax)) < 1e-8  # -sigmoid(-20) = -2e-9
  np.testing.assert_allclose(g_ns, -1.0, rtol=1e-6)
  # Both push the logit up (towards "real"), and agree at D = 1/2.
  assert float(g_minimax) < 0 and float(g_ns) < 0
  np.testing.assert_allclose(
      jax.grad(gl.generator_loss_minimax_per_example)(0.0),
      jax.grad(gl.generator_loss_non_saturating_per_example)(0.0), rtol=1e-6)


def test_logistic_losses_check_grads():
  real, fake = MODERATE, MODERATE[::-1]
  check_grads(lambda r, f: jnp.sum(gl.discriminator_loss_per_example(r, f)),
              (real, fake), order=1, modes=["rev"], eps=1e-2, atol=2e-2,
              rtol=2e-2)
  check_grads(gl.generator_loss_non_saturating, (fake,), order=1,
              modes=["rev"], eps=1e-2, atol=2e-2, rtol=2e-2)


def test_wasserstein_and_hinge_losses():
  real = jnp.array([2.0, -0.5, 0.3])
  fake = jnp.array([1.0, 0.5, -3.0])
  np.testing.assert_allclose(gl.wasserstein_critic_loss_per_example(real, fake),
                             [-1.0, 1.0, -3.3], rtol=1e-6)
  np.testing.assert_allclose(gl.wasserstein_critic_loss(real, fake[:2]),
                             0.75 - 0.6, rtol=1e-6)
  np.testing.assert_allclose(gl.wasserstein_generator_loss(fake), 0.5,
                             rtol=1e-6)
  np.testing.assert_allclose(
      gl.wasserstein_generator_loss_per_example(fake), -fake)
  # max(0, 1 - r) + max(0, 1 + f)
  np.testing.assert_allclose(
      gl.hinge_discriminator_loss_per_example(real, fake),
      [0.0 + 2.0, 1.5 + 1.5, 0.7 + 0.0], rtol=1e-6)
  np.testing.assert_allclose(gl.hinge_discriminator_loss(real, fake),
                             (0.0 + 1.5 + 0.7) / 3.0 + (2.0 + 1.5 + 0.0) / 3.0,
                             rtol=1e-6)
  with pytest.raises(ValueError, match="one shape"):
    gl.wasserstein_critic_loss_per_example(real, fake[:2])
  with pytest.raises(ValueError, match="one shape"):
    gl.discriminator_loss_per_example(real, fake[:2])


def test_fgan_losses_reduce_to_gan_losses():
  """Nowozin's GAN row is Goodfellow's GAN (critic, both generator losses)."""
  real, fake = MODERATE, MODERATE[::-1] * 1.3
  np.testing.assert_allclose(gl.fgan_critic_loss(dv.GAN, real, fake),
                             gl.discriminator_loss(real, fake), rtol=1e-6)
  np.testing.assert_allclose(
      gl.fgan_generator_loss_per_example(dv.GAN, fake, non_saturating=True),
      gl.generator_loss_non_saturating_per_example(fake), rtol=1e-6)
  np.testing.assert_allclose(
      gl.fgan_generator_loss_per_example(dv.GAN, fake, non_saturating=False),
      gl.generator_loss_minimax_per_example(fake), rtol=1e-6)
  # For KL (g_f = identity, f* = exp(t - 1)) by hand.
  np.testing.assert_allclose(
      gl.fgan_critic_loss(dv.FORWARD_KL, real, fake),
      -(jnp.mean(real) - jnp.mean(jnp.exp(fake - 1.0))), rtol=1e-6)
  np.testing.assert_allclose(
      gl.fgan_generator_loss(dv.FORWARD_KL, fake, non_saturating=False),
      -jnp.mean(jnp.exp(fake - 1.0)), rtol=1e-6)


# ------------------------------------------------------- gradient penalty ---

IMAGE_SHAPE = (4, 5, 6, 3)  # [B, H, W, C]


def _images(seed):
  k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
  return (jax.random.normal(k1, IMAGE_SHAPE),
          0.5 * jax.random.normal(k2, IMAGE_SHAPE) + 1.0)


def _linear_critic(w):
  return lambda x: jnp.sum(x * w, axis=(1, 2, 3))


def test_gradient_penalty_linear_critic():
  real, fake = _images(0)
  w = jax.random.normal(jax.random.PRNGKey(7), IMAGE_SHAPE[1:])
  unit = w / jnp.linalg.norm(w)
  rng = jax.random.PRNGKey(1)
  np.testing.assert_allclose(
      gl.gradient_penalty(_linear_critic(unit), real, fake, rng),
      np.zeros(4), atol=1e-10)
  # ||grad|| = 3 everywhere: (3 - 1)^2 = 4; one-sided the same.
  np.testing.assert_allclose(
      gl.gradient_penalty(_linear_critic(3.0 * unit), real, fake, rng),
      np.full(4, 4.0), rtol=1e-5)
  # ||grad|| = 0.5: two-sided (0.5 - 1)^2, one-sided 0.
  half = _linear_critic(0.5 * unit)
  np.testing.assert_allclose(gl.gradient_penalty(half, real, fake, rng),
                             np.full(4, 0.25), rtol=1e-5)
  np.testing.assert_allclose(
      gl.gradient_penalty(half, real, fake, rng, one_sided=True),
      np.zeros(4), atol=1e-10)
  # [B, 1] critic outputs are fine too.
  np.testing.assert_allclose(
      gl.gradient_penalty(lambda x: _linear_critic(unit)(x)[:, None], real,
                          fake, rng), np.zeros(4), atol=1e-10)


def test_gradient_penalty_quadratic_critic_norm_over_all_axes():
  """D(x) = ||x||^2 / 2: grad = x_hat, penalty = (||x_hat|| - 1)^2."""
  scale = jnp.array([0.05, 0.1, 0.2, 0.3])[:, None, None, None]
  real, fake = scale * _images(2)[0], scale * _images(2)[1]
  rng = jax.random.PRNGKey(5)
  critic = lambda x: 0.5 * jnp.sum(jnp.square(x), axis=(1, 2, 3))
  eps = np.asarray(jax.random.uniform(rng, (4, 1, 1, 1)))
  assert np.all((eps >= 0) & (eps <= 1)) and len(np.unique(eps)) == 4
  x_hat = eps * np.asarray(real) + (1.0 - eps) * np.asarray(fake)
  np.testing.assert_allclose(gl.interpolate(real, fake, rng), x_hat,
                             rtol=1e-6, atol=1e-7)
  norms = np.linalg.norm(x_hat.reshape(4, -1), axis=1)  # over H, W, C
  # Norms on both sides of 1: neither penalty is trivially 0.
  assert np.any(norms < 0.9) and np.any(norms > 1.1)
  np.testing.assert_allclose(gl.gradient_norms(critic, jnp.asarray(x_hat)),
                             norms, rtol=1e-5)
  np.testing.assert_allclose(gl.gradient_penalty(critic, real, fake, rng),
                             (norms - 1.0) ** 2, rtol=1e-4)
  np.testing.assert_allclose(
      gl.gradient_penalty(critic, real, fake, rng, one_sided=True),
      np.maximum(norms - 1.0, 0.0) ** 2, rtol=1e-4, atol=1e-12)


def test_gradient_penalty_parameter_gradient():
  """d/dw mean (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||, and finite at w = 0."""
  real, fake = _images(3)
  rng = jax.random.PRNGKey(0)
  def loss(w):
    return jnp.mean(gl.gradient_penalty(_linear_critic(w), real, fake, rng))
  w = 0.3 * jax.random.normal(jax.random.PRNGKey(9), IMAGE_SHAPE[1:])
  norm = jnp.linalg.norm(w)
  np.testing.assert_allclose(jax.grad(loss)(w), 2.0 * (norm - 1.0) * w / norm,
                             rtol=1e-4, atol=1e-6)
  g0 = jax.grad(loss)(jnp.zeros(IMAGE_SHAPE[1:]))
  assert bool(jnp.all(jnp.isfinite(g0)))


def test_gradient_penalty_checks_shapes():
  real, fake = _images(0)
  with pytest.raises(ValueError, match="one shape"):
    gl.gradient_penalty(_linear_critic(1.0), real, fake[:2],
                        jax.random.PRNGKey(0))


# ------------------------------------------------------------ Cramér --------


def test_cramer_losses_closed_form_and_finite_gradient_at_zero():
  h_r = jnp.array([[3.0, 4.0], [0.0, 0.0]])
  h_g = jnp.array([[0.0, 0.0], [1.0, 0.0]])
  h_g2 = jnp.array([[0.0, 4.0], [0.0, 2.0]])
  # f(x) = ||h(x) - h(x'_g)|| - ||h(x)||
  np.testing.assert_allclose(gl.cramer_critic_per_example(h_r, h_g2),
                             [3.0 - 5.0, 2.0 - 0.0], rtol=1e-6)
  np.testing.assert_allclose(
      gl.cramer_critic_loss_per_example(h_r, h_g, h_g2),
      [-((3.0 - 5.0) - (4.0 - 0.0)), -((2.0 - 0.0) - (np.sqrt(5.0) - 1.0))],
      rtol=1e-6)
  np.testing.assert_allclose(
      gl.cramer_generator_loss_per_example(h_r, h_g, h_g2),
      [5.0 + 3.0 - 4.0, 1.0 + 2.0 - np.sqrt(5.0)], rtol=1e-6)
  # Coincident features (norm 0) give gradient 0, not NaN.
  grads = jax.grad(lambda h: jnp.sum(gl.cramer_generator_loss_per_example(
      h, h, h)))(h_r)
  assert bool(jnp.all(jnp.isfinite(grads)))
  with pytest.raises(ValueError, match="one shape"):
    gl.cramer_generator_loss_per_example(h_r, h_g[:1], h_g2)


def test_cramer_generator_loss_averages_to_the_energy_distance_surrogate():
  """E[L_G] = E(P, Q) + E||X - X'|| (Bellemare et al. 2017, §5): on large
  samples the mean generator loss minus the within-data term is the energy
  distance of the two samples."""
  k = jax.random.split(jax.random.PRNGKey(0), 4)
  n = 4000
  x, x2 = jax.random.normal(k[0], (n, 2)), jax.random.normal(k[1], (n, 2))
  y = 0.5 * jax.random.normal(k[2], (n, 2)) + 1.0
  y2 = 0.5 * jax.random.normal(k[3], (n, 2)) + 1.0
  surrogate = jnp.mean(gl.cramer_generator_loss_per_example(x, y, y2)
                       - jnp.linalg.norm(x - x2, axis=-1))
  np.testing.assert_allclose(surrogate, dv.energy_distance(x[:1000], y[:1000]),
                             atol=0.08)


class JitVariants(chex.TestCase):
  """Key pure functions agree with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_gradient_penalty_and_cramer_loss(self):
    real, fake = _images(0)
    rng = jax.random.PRNGKey(1)
    critic = lambda x: 0.5 * jnp.sum(jnp.square(x), axis=(1, 2, 3))
    penalty = self.variant(lambda r, f: gl.gradient_penalty(critic, r, f, rng))
    chex.assert_trees_all_close(penalty(real, fake),
                                gl.gradient_penalty(critic, real, fake, rng),
                                rtol=1e-5)
    h = jax.random.normal(rng, (3, 5, 4))
    loss = self.variant(gl.cramer_generator_loss_per_example)(*h)
    chex.assert_shape(loss, (5,))
    chex.assert_trees_all_close(
        loss, gl.cramer_generator_loss_per_example(*h), rtol=1e-6)


# ------------------------------------------------------- input validation ---

KEY = jax.random.key(0)
CRITIC = lambda x: jnp.sum(x.reshape(x.shape[0], -1), axis=-1)   # [B]

CASES = [
    ("d_loss_per_example_shapes",
     lambda: gl.discriminator_loss_per_example(f(4), f(3)),
     ["gan_losses.discriminator_loss_per_example", "one shape", "(4,)",
      "(3,)"]),
    ("d_loss_int", lambda: gl.discriminator_loss(i(4), f(4)),
     ["gan_losses.discriminator_loss", "`real_logits`", "int32"]),
    ("g_loss_int", lambda: gl.generator_loss_non_saturating(i(4)),
     ["gan_losses.generator_loss_non_saturating_per_example",
      "`fake_logits`", "int32"]),
    ("wgan_scores_int",
     lambda: gl.wasserstein_critic_loss_per_example(f(4), i(4)),
     ["gan_losses.wasserstein_critic_loss_per_example", "`fake_scores`",
      "int32"]),
    ("gradient_penalty_int",
     lambda: gl.gradient_penalty(CRITIC, i(4), i(4), KEY),
     ["gan_losses.gradient_penalty", "`real`", "floating", "int32",
      "(4,)"]),
    ("gradient_penalty_shapes",
     lambda: gl.gradient_penalty(CRITIC, f(4, 2), f(3, 2), KEY),
     ["gradient_penalty", "one shape", "(4, 2)", "(3, 2)"]),
    ("gradient_norms_critic_output",
     lambda: gl.gradient_norms(lambda x: x, f(4, 2)),
     ["gan_losses.gradient_norms", "`critic_fn`", "[B]", "(4, 2)"]),
    ("hinge_int", lambda: gl.hinge_discriminator_loss(f(4), i(4)),
     ["gan_losses.hinge_discriminator_loss", "`fake_logits`", "int32"]),
    ("fgan_generator_div",
     lambda: gl.fgan_generator_loss("gan", f(4)),
     ["gan_losses.fgan_generator_loss_per_example", "`div`", "str"]),
    ("fgan_critic_int",
     lambda: gl.fgan_critic_loss(dv.GAN, f(4), i(4)),
     ["gan_losses.fgan_critic_loss", "`fake_logits`", "int32"]),
    ("cramer_int",
     lambda: gl.cramer_critic_loss_per_example(f(4, 2), i(4, 2), f(4, 2)),
     ["gan_losses.cramer_critic_loss_per_example", "`h_fake`", "int32"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=name) for name, c, e in CASES])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)

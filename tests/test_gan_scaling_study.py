"""The GAN0 vs GAN1 study (experiments/gan_scaling_study.py).

The mathematics first: both generator losses have gradients that are the
discriminator's gradient weighted by s(x), σ(D) for the minimax loss (GAN0)
and σ(-D) for the log-D trick (GAN1) (Johnson and Zhang 2018, Algorithms
4-5). Then the study's smoke run: its outputs, and the claim in the regime
where it holds (a discriminator that rejects fakes confidently).
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments import gan_scaling_study as study
from gdm_jax import gan_losses
from tests import helpers


def _toy_discriminator():
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  w, v = jax.random.normal(k1, (3, 6)), jax.random.normal(k2, (6,))
  return lambda x: jnp.tanh(x @ w) @ v - 2.0          # [N, 3] -> [N]


def test_generator_gradients_are_s_weighted_gradients_of_d():
  d = _toy_discriminator()
  x = jax.random.normal(jax.random.PRNGKey(1), (12, 3))
  grad_d = jax.vmap(jax.grad(lambda y: d(y[None])[0]))(x)       # [N, 3]
  logits = d(x)
  w = study.generator_weights(logits)
  for objective, loss in (
      ("minimax", gan_losses.generator_loss_minimax_per_example),
      ("non_saturating", gan_losses.generator_loss_non_saturating_per_example)):
    grad_loss = jax.grad(lambda y, f=loss: jnp.sum(f(d(y))))(x)
    np.testing.assert_allclose(grad_loss, -w[objective][:, None] * grad_d,
                               rtol=1e-5, atol=1e-6, err_msg=objective)
  np.testing.assert_allclose(w["minimax"], jax.nn.sigmoid(logits), rtol=1e-6)
  np.testing.assert_allclose(w["minimax"] + w["non_saturating"], 1.0, rtol=1e-6)
  # σ(D) / σ(-D) = e^D: GAN0's weight is e^D times GAN1's.
  np.testing.assert_allclose(w["minimax"] / w["non_saturating"],
                             jnp.exp(logits), rtol=1e-5)


def test_parameter_gradient_is_the_weighted_sum_over_the_batch():
  """∇_θ mean L_G(G_θ(z)) = -(1/b) Σ_i s(G(z_i)) J_θ(z_i)^T ∇D(G(z_i))."""
  d = _toy_discriminator()
  z = jax.random.normal(jax.random.PRNGKey(2), (8, 2))
  theta = jax.random.normal(jax.random.PRNGKey(3), (2, 3))
  gen = lambda th: jnp.tanh(z @ th)
  x = gen(theta)
  grad_d = jax.vmap(jax.grad(lambda y: d(y[None])[0]))(x)
  for objective, loss in (
      ("minimax", gan_losses.generator_loss_minimax),
      ("non_saturating", gan_losses.generator_loss_non_saturating)):
    s = study.generator_weights(d(x))[objective]
    _, vjp = jax.vjp(gen, theta)
    expected = vjp(-s[:, None] * grad_d / z.shape[0])[0]
    np.testing.assert_allclose(jax.grad(lambda th, f=loss: f(d(gen(th))))(theta),
                               expected, rtol=1e-5, atol=1e-6)


def test_smoke_study_writes_outputs_and_shows_the_vanishing_weight(tmp_path):
  config = helpers.smoke_config("gan_scaling_study.py")
  out = study.run_study(config, str(tmp_path))
  png = tmp_path / study.FIGURE_NAME
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  saved = json.loads((tmp_path / study.JSON_NAME).read_text())
  assert set(saved["arms"]) == {"minimax", "non_saturating"}
  s = config.study
  for r in saved["arms"].values():
    assert r["steps"][0] == 0 and r["steps"][-1] == s.num_steps
    assert len(r["g_grad_norm"]) == s.num_steps
    assert r["quality_steps"] == [0, 15, 30]
    for key in ("s_own", "d_fake_logit", "g_grad_norm", "mmd2"):
      assert all(math.isfinite(v) for v in r[key]), key
    assert r["train_step_compilations"] == 1
  gan0, gan1 = saved["arms"]["minimax"], saved["arms"]["non_saturating"]
  # Same seed and nets: identical before the first update.
  assert gan0["d_fake_logit"][0] == gan1["d_fake_logit"][0]
  assert gan0["mmd2"][0] == gan1["mmd2"][0]
  # Each arm's own weight is the matching sigmoid of its discriminator.
  assert gan0["s_own"] == gan0["s_gan0"] and gan1["s_own"] == gan1["s_gan1"]
  summary = out["summary"]
  # The regime of the claim: D rejects the fakes confidently ...
  for v in summary.values():
    assert v["early_mean_d_fake_logit"] < -3.0, summary
  # ... so GAN0's weight σ(D) ~ e^D vanishes while GAN1's σ(-D) stays ~1,
  early0 = summary["minimax"]["early_mean_s_own"]
  early1 = summary["non_saturating"]["early_mean_s_own"]
  assert early0 < 0.05 and early1 > 0.95, summary
  # and so does GAN0's generator gradient against GAN1's.
  assert (summary["non_saturating"]["early_mean_g_grad_norm"]
          > 100 * summary["minimax"]["early_mean_g_grad_norm"]), summary
  assert "GAN0" in study.format_table(summary)

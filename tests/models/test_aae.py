"""AAE: the latent discriminator reaches the analytic optimum D* = p/(p+q);
one train step runs all three updates, each equal to a `gradient_update` of
the module-level objective in the paper's order; finite metrics; one
compilation; the 2-D latent picture; config errors."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.configs import aae as aae_config
from gdm_jax import rasters
from gdm_jax.core import steps
from gdm_jax.models import aae
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import latent_priors
from tests import helpers

SHAPE = (28, 28, 1)


def _batch(n=20, seed=0):
  rng = jax.random.PRNGKey(seed)
  return {"image": jax.random.randint(rng, (n,) + SHAPE, 0, 256).astype(jnp.uint8),
          "label": jnp.arange(n, dtype=jnp.int32) % 10}


def _model(variant="", **model_fields):
  """experiments/configs/aae.py[:variant] at smoke sizes, with `model_fields`."""
  c = helpers.smoke_config(f"aae.py:{variant}")
  for k, v in model_fields.items():
    c.model[k] = v
  return c, aae.make(c, {"shape": SHAPE})


def test_discriminator_reaches_the_optimal_log_ratio():
  """D trained alone on p = N(0, I) (real) vs q = N(μ, s² I) (fake), 2-D:
  its logit approaches log p(z) - log q(z) (Goodfellow et al. Prop. 1)."""
  _, m = _model(latent_dim=2, discriminator_hidden=(64, 64))
  mu, s = jnp.asarray([1.0, -0.5]), 0.7
  d_vars = m.discriminator_net.init(jax.random.PRNGKey(1), jnp.zeros((1, 2)))
  tx = optax.adam(3e-3)

  def step(carry, key):
    d_vars, opt = carry
    kp, kq = jax.random.split(key)
    zp = jax.random.normal(kp, (512, 2))
    zq = mu + s * jax.random.normal(kq, (512, 2))
    loss, g = jax.value_and_grad(m.discriminator_loss)(d_vars, zp, zq)
    upd, opt = tx.update(g, opt, d_vars)
    return (optax.apply_updates(d_vars, upd), opt), loss

  (d_vars, _), losses = jax.jit(lambda c, k: jax.lax.scan(step, c, k))(
      (d_vars, tx.init(d_vars)), jax.random.split(jax.random.PRNGKey(2), 2000))
  # Evaluate where both densities have mass: points from the mixture.
  k1, k2 = jax.random.split(jax.random.PRNGKey(3))
  z = jnp.concatenate([jax.random.normal(k1, (1000, 2)),
                       mu + s * jax.random.normal(k2, (1000, 2))])
  log_p = latent_priors.gaussian(2).log_prob(z)
  log_q = jnp.sum(-0.5 * jnp.square((z - mu) / s) - math.log(s)
                  - 0.5 * math.log(2 * math.pi), -1)
  want = np.asarray(log_p - log_q)
  got = np.asarray(m.critic({"discriminator": d_vars}, z))
  err = np.abs(got - want)
  assert np.median(err) < 0.15, np.median(err)
  assert np.corrcoef(got, want)[0, 1] > 0.98
  # At the optimum L_D = log 4 - 2 JSD(p, q) < log 4.
  assert float(jnp.mean(losses[-100:])) < math.log(4.0) - 0.2


@pytest.fixture(scope="module")
def stepped():
  c, m = _model()
  batch = _batch()
  state = m.init(jax.random.PRNGKey(0), batch)
  step = jax.jit(m.train_step)
  new, metrics = step(state, batch, jax.random.PRNGKey(5))
  new2, metrics2 = step(new, batch, jax.random.PRNGKey(6))
  return m, state, new, new2, metrics, metrics2, step


def _changed(a, b):
  return any(not np.array_equal(x, y) for x, y in
             zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_one_step_runs_all_three_updates(stepped):
  m, state, new, _, metrics, _, _ = stepped
  assert int(new.step) == 1
  for player in ("encoder", "decoder", "discriminator"):
    assert _changed(state.params[player], new.params[player]), player
  # Each optimiser took exactly one step on its own player's gradients.
  for opt in ("autoencoder", "discriminator", "generator"):
    counts = [int(x) for x in jax.tree.leaves(new.opt_state[opt])
              if jnp.ndim(x) == 0 and jnp.issubdtype(x.dtype, jnp.integer)]
    assert counts and all(c == 1 for c in counts), (opt, counts)
    mu = new.opt_state[opt][0].mu
    assert _changed(jax.tree.map(jnp.zeros_like, mu), mu), opt
  assert set(new.opt_state["generator"][0].mu) == set(state.params["encoder"])
  # The encoder moved by the reconstruction and the generator updates: its
  # change differs from the reconstruction update alone.
  x = m.preprocessing.apply(jax.random.split(jax.random.PRNGKey(5))[0],
                            _batch()["image"])
  ae_params = ae.autoencoder_params(state.params)
  g = jax.grad(lambda p: jnp.mean(m.reconstruction_loss(p, x)))(ae_params)
  tx = optax.adam(1e-3)
  upd, _ = tx.update(g, tx.init(ae_params), ae_params)
  rec_only = optax.apply_updates(ae_params, upd)
  for a, b in zip(jax.tree.leaves(rec_only["decoder"]),
                  jax.tree.leaves(new.params["decoder"])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  assert _changed(rec_only["encoder"], new.params["encoder"])


def test_step_is_the_three_phases_in_order(stepped):
  """Rebuilds the step from the module-level objectives: reconstruction,
  then D on the updated encoder's codes, then the encoder against the
  updated D (Makhzani et al. §2); the state and metrics agree."""
  m, state, new, _, metrics, _, _ = stepped
  c = helpers.smoke_config("aae.py")
  txs = {p: optax.adam(c.optimizer[p].learning_rate, b1=c.optimizer[p].b1)
         for p in aae.PLAYERS}
  x, z_prior = ae.prepare(m.preprocessing, m.prior, _batch()["image"],
                          jax.random.PRNGKey(5))
  rec = steps.gradient_update(
      functools.partial(aae.reconstruction_objective, m.net,
                        likelihood="bernoulli"),
      txs["autoencoder"], ae.autoencoder_params(state.params),
      state.opt_state["autoencoder"], x)
  dis = steps.gradient_update(
      functools.partial(ae.discriminator_objective, m.discriminator_net),
      txs["discriminator"], state.params["discriminator"],
      state.opt_state["discriminator"], z_prior,
      ae.encode(m.net, rec.params, x))
  gen = steps.gradient_update(
      functools.partial(aae.regularisation_objective, m.net,
                        m.discriminator_net),
      txs["generator"], rec.params["encoder"], state.opt_state["generator"],
      rec.params["decoder"], dis.params, x)
  want = {"encoder": gen.params, "decoder": rec.params["decoder"],
          "discriminator": dis.params}
  chex.assert_trees_all_close(new.params, want, rtol=1e-5, atol=1e-6)
  for k, v in (("reconstruction", rec.loss), ("d_loss", dis.loss),
               ("g_loss", gen.loss), ("g_grad_norm", gen.grad_norm)):
    np.testing.assert_allclose(metrics[k], v, rtol=1e-5)
  # The bound member is the module-level loss.
  np.testing.assert_allclose(
      m.discriminator_loss(state.params["discriminator"], z_prior, z_prior),
      ae.discriminator_loss(m.discriminator_net, state.params["discriminator"],
                            z_prior, z_prior), rtol=1e-6)


def test_metrics_finite_and_no_recompilation(stepped):
  _, _, _, _, metrics, metrics2, step = stepped
  for ms in (metrics, metrics2):
    for k in ("reconstruction", "d_loss", "d_accuracy", "g_loss"):
      assert np.isfinite(float(ms[k])), k
    assert 0.0 <= float(ms["d_accuracy"]) <= 1.0
    # Binarised 784-pixel images: reconstruction nats in (0, 784 log 2·10).
    assert 0 < float(ms["reconstruction"]) < 784 * 10
  assert step._cache_size() == 1


def test_evaluate_and_sample(stepped):
  m, _, new, _, _, _, _ = stepped
  batch = _batch()
  ev = jax.jit(m.evaluate)(new.params, batch, jax.random.PRNGKey(0))
  for k in ("reconstruction", "squared_error", "d_loss", "d_accuracy",
            "g_loss"):
    assert ev[k].shape == (20,) and np.all(np.isfinite(ev[k])), k
  # The code-vs-prior MMD² is one batch-level value.
  assert ev["mmd"].shape == () and np.isfinite(ev["mmd"])
  # The encoder is deterministic: the codes do not depend on any key.
  x = m.preprocessing.apply(jax.random.PRNGKey(0), batch["image"])
  np.testing.assert_array_equal(m.encode(new.params, x), m.encode(new.params, x))
  s = m.sample(new.params, jax.random.PRNGKey(1), 7)
  assert s.shape == (7,) + SHAPE and float(s.min()) >= 0 and float(s.max()) <= 1


def test_latent_dim_2_images():
  _, m = _model("mixture2d")
  batch = _batch()
  state = m.init(jax.random.PRNGKey(0), batch)
  im = jax.jit(m.images)(state.params, batch, jax.random.PRNGKey(2))
  size = rasters.LATENT_IMAGE_SIZE
  assert im["latent"].shape == (1, size, size, 3)
  x = m.preprocessing.apply(jax.random.split(jax.random.PRNGKey(2))[0],
                            batch["image"][:32])
  np.testing.assert_allclose(
      im["latent"], rasters.latent_raster(m.encode(state.params, x),
                                          batch["label"][:32], m.prior),
      atol=1e-6)


def test_config_errors():
  with pytest.raises(ValueError, match="likelihood"):
    _model(likelihood="gaussian")
  with pytest.raises(ValueError, match="latent_dim == 2"):
    _model(prior="ring")
  c = helpers.smoke_config("aae.py")
  c.data.binarization = "none"
  with pytest.raises(ValueError, match="binarised"):
    aae.make(c, {"shape": SHAPE})
  with pytest.raises(ValueError, match="model.discriminator_hidden"):
    _model(discriminator_hidden=())
  with pytest.raises(ValueError, match="model.latent_dim must be >= 1"):
    _model(latent_dim=0)
  with pytest.raises(ValueError, match="unknown variant"):
    aae_config.get_config("nope")

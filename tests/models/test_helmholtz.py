"""Mathematical tests of the Helmholtz machine (gdm_jax/models/helmholtz.py).

A one-layer affine sigmoid belief network with 3 latent and 4 visible bits
is small enough to enumerate: p(x, z) over all 2^3 · 2^4 configurations,
the exact marginal log p(x) = logsumexp_z log p(x, z), the exact posterior
p(z | x), and exact expectations under q(z | x). The brute-force densities
below are written from the parameter arrays with log σ / log(1 - σ), apart
from the model's code. The module-level functions are also called directly
(on networks rebuilt from the config, as a notebook would), checked for
jit/no-jit agreement, and for the input checks that name what they got.
"""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.models import helmholtz
from tests import helpers

NUM_Z, SHAPE = 3, (2, 2, 1)          # 3 latent bits, 4 visible bits
NUM_X = 4


def tiny_config(latent_sizes=(NUM_Z,), hidden=(), **model):
  cfg = helpers.smoke_config("helmholtz.py")
  cfg.model.latent_sizes = latent_sizes
  cfg.model.hidden = hidden
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


def _all_bits(n):
  return jnp.asarray(list(itertools.product([0.0, 1.0], repeat=n)), jnp.float32)


ALL_Z, ALL_X = _all_bits(NUM_Z), _all_bits(NUM_X)        # [8, 3], [16, 4]


def random_params(model, seed, scale=1.5):
  """init, then every leaf replaced by N(0, scale²): a posterior far from
  factorised, so the bounds are not tight."""
  params = model.init(jax.random.key(seed), None).params
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed + 100), len(leaves))
  return jax.tree.unflatten(tree, [scale * jax.random.normal(k, l.shape)
                                   for k, l in zip(keys, leaves)])


def _log_bern(logits, v):
  return jnp.sum(v * jax.nn.log_sigmoid(logits)
                 + (1 - v) * jax.nn.log_sigmoid(-logits), -1)


def bf_log_joint(gen_params, x, z):
  """log p(z) + log p(x | z) of the affine one-layer SBN, broadcasting."""
  p = gen_params["params"]
  dense = p["decoder_1"]["dense_0"]
  return (_log_bern(p["prior_logits"], z)
          + _log_bern(z @ dense["kernel"] + dense["bias"], x))


def bf_log_q(rec_params, x, z):
  dense = rec_params["params"]["encoder_1"]["dense_0"]
  return _log_bern(x @ dense["kernel"] + dense["bias"], z)


def bf_table(params):
  """log p(x, z) [16, 8] and log q(z | x) [16, 8] over all (x, z)."""
  x, z = ALL_X[:, None, :], ALL_Z[None, :, :]
  return (bf_log_joint(params["generative"], x, z),
          bf_log_q(params["recognition"], x, z))


@pytest.fixture(scope="module")
def tiny():
  model = helmholtz.make(tiny_config(), {"shape": SHAPE})
  return model, random_params(model, 0)


# ------------------------------------------------------------ densities


def test_densities_equal_brute_force_and_normalise(tiny):
  model, params = tiny
  x = jnp.repeat(ALL_X, len(ALL_Z), 0)
  z = jnp.tile(ALL_Z, (len(ALL_X), 1))
  log_p, log_q = bf_table(params)
  np.testing.assert_allclose(model.log_joint(params, x, [z]),
                             log_p.reshape(-1), atol=1e-5)
  np.testing.assert_allclose(model.log_posterior(params, x, [z]),
                             log_q.reshape(-1), atol=1e-5)
  assert abs(float(jax.nn.logsumexp(log_p))) < 1e-5        # Σ_{x,z} p = 1
  np.testing.assert_allclose(jax.nn.logsumexp(log_q, 1), 0.0, atol=1e-5)


def test_two_layer_mlp_densities_normalise():
  """z_2 (2 bits) -> z_1 (2 bits) -> x (3 bits), MLP conditionals:
  Σ_{x, z} p(x, z) = 1, Σ_z q(z | x) = 1 for every x, and the dreams'
  frequencies match p(x)."""
  model = helmholtz.make(tiny_config(latent_sizes=(2, 2), hidden=(5,)),
                         {"shape": (3, 1, 1)})
  params = random_params(model, 1)
  confs = _all_bits(7)                                        # (x, z1, z2)
  x, z1, z2 = confs[:, :3], confs[:, 3:5], confs[:, 5:]
  log_p = model.log_joint(params, x, [z1, z2])
  assert abs(float(jax.nn.logsumexp(log_p))) < 1e-5
  log_q = model.log_posterior(params, x, [z1, z2]).reshape(8, 16)
  np.testing.assert_allclose(jax.nn.logsumexp(log_q, 1), 0.0, atol=1e-5)
  # Ancestral sampling draws from p: frequencies of the 8 values of x.
  n = 100_000
  xs, zs = jax.jit(model.dream, static_argnums=2)(params, jax.random.key(2), n)
  assert xs.shape == (n, 3) and [z.shape for z in zs] == [(n, 2), (n, 2)]
  codes = np.asarray(xs @ jnp.array([4.0, 2.0, 1.0])).astype(int)
  freq = np.bincount(codes, minlength=8) / n
  p_x = np.exp(jax.nn.logsumexp(log_p.reshape(8, 16), 1))
  np.testing.assert_allclose(freq, p_x, atol=4 * np.sqrt(0.25 / n))


def test_iwae_bound_rises_to_exact_log_px_and_elbo_is_below(tiny):
  model, params = tiny
  log_p, log_q = bf_table(params)
  exact = jax.nn.logsumexp(log_p, 1)                          # log p(x) [16]
  q = jnp.exp(log_q)
  exact_elbo = jnp.sum(q * (log_p - log_q), 1)
  assert np.all(exact_elbo < exact - 1e-3)                    # KL(q||p(z|x)) > 0
  reps = 400
  means = {}
  for k in (1, 10, 100, 1000):
    bound = jax.jit(jax.vmap(lambda r: model.iwae_bound(params, ALL_X, r, k)))
    vals = np.asarray(bound(jax.random.split(jax.random.key(k), reps)))
    means[k], stds = vals.mean(0), vals.std(0)
    se = stds / np.sqrt(reps)
    assert np.all(means[k] <= exact + 4 * se + 1e-5), k      # L_K <= log p(x)
    if k == 1:                                                # L_1 = ELBO
      np.testing.assert_allclose(means[k], exact_elbo, atol=float(5 * se.max()))
  gaps = [float(np.mean(exact - means[k])) for k in (1, 10, 100, 1000)]
  assert gaps[0] > gaps[1] > gaps[2] > gaps[3] >= 0, gaps
  assert gaps[3] < 0.01 * gaps[0] and gaps[3] < 5e-3, gaps
  # The chunked evaluation (10 chunks of 100) is as close as one K = 1000
  # draw (stds: the spread of those draws).
  chunked = model.iwae_bound(params, ALL_X, jax.random.key(5), 1000, 100)
  assert np.all(np.abs(np.asarray(chunked) - exact) < 4 * stds + 1e-3)
  # The model's one-sample ELBO estimator is unbiased for the exact ELBO.
  elbos = jax.jit(jax.vmap(lambda r: model.elbo(params, ALL_X, r)["elbo"]))(
      jax.random.split(jax.random.key(9), 4000))
  se = np.asarray(elbos).std(0) / np.sqrt(4000)
  np.testing.assert_allclose(np.asarray(elbos).mean(0), exact_elbo,
                             atol=float(5 * se.max()))


# ------------------------------------------------------------ gradients


def _rel_err(a, b):
  fa, fb = (jnp.concatenate([v.ravel() for v in jax.tree.leaves(t)])
            for t in (a, b))
  return float(jnp.linalg.norm(fa - fb) / jnp.linalg.norm(fb))


def _data():
  """A fixed 'data set' of 5 of the 16 visible patterns."""
  return ALL_X[jnp.array([0, 3, 6, 9, 15])]


def exact_sleep_objective(rec, params):
  """E_{p(x)} KL(p(z|x) || q_φ(z|x)), by enumeration (φ = rec)."""
  log_p, _ = bf_table(params)
  log_q = bf_log_q(rec, ALL_X[:, None, :], ALL_Z[None, :, :])
  log_px = jax.nn.logsumexp(log_p, 1, keepdims=True)
  post = jnp.exp(log_p - log_px)
  return jnp.sum(jnp.exp(log_px[:, 0]) * jnp.sum(
      post * (log_p - log_px - log_q), 1))


def exact_wake_objective(gen, params, data):
  """-(1/N) Σ_x E_{q(z|x)} log p_θ(x, z), by enumeration (θ = gen)."""
  x = data[:, None, :]
  q = jnp.exp(bf_log_q(params["recognition"], x, ALL_Z[None]))
  return -jnp.mean(jnp.sum(q * bf_log_joint(gen, x, ALL_Z[None]), 1))


def test_sleep_gradient_is_the_gradient_of_the_expected_kl_exactly(tiny):
  """Σ_{x,z} p(x,z) ∇_φ[-log q_φ(z|x)] = ∇_φ E_{p(x)} KL(p(z|x) || q_φ(z|x))
  (the entropy of p(z|x) does not depend on φ), through the model's q."""
  model, params = tiny
  log_p, _ = bf_table(params)
  w = jnp.exp(log_p).reshape(-1)
  x = jnp.repeat(ALL_X, len(ALL_Z), 0)
  z = jnp.tile(ALL_Z, (len(ALL_X), 1))

  def weighted(rec):
    return -jnp.sum(w * model.log_posterior({**params, "recognition": rec},
                                            x, [z]))

  g_model = jax.grad(weighted)(params["recognition"])
  g_kl = jax.grad(exact_sleep_objective)(params["recognition"], params)
  assert _rel_err(g_model, g_kl) < 1e-4


def test_wake_sleep_gradients_match_enumeration(tiny):
  """`gradients` (what the train step descends): the generative part is
  ∇_θ of -E_data E_q log p_θ(x, z), the recognition part ∇_φ of
  E_{p(x)} KL(p(z|x) || q_φ(z|x)), up to Monte Carlo noise."""
  _, params = tiny
  reps = 20_000
  cfg = tiny_config(sleep_batch_size=5 * reps)
  model = helmholtz.make(cfg, {"shape": SHAPE})
  data = _data()
  x = jnp.tile(data, (reps, 1))
  grads, metrics = jax.jit(model.gradients)(params, x, jax.random.key(3))
  g_wake = jax.grad(exact_wake_objective)(params["generative"], params, data)
  g_sleep = jax.grad(exact_sleep_objective)(params["recognition"], params)
  assert _rel_err(grads["generative"], g_wake) < 0.03
  assert _rel_err(grads["recognition"], g_sleep) < 0.03
  # The wake loss is E_q[-log p(x, z)], its exact value by enumeration.
  exact = exact_wake_objective(params["generative"], params, data)
  assert abs(float(metrics["wake_loss"]) - float(exact)) < 0.02 * abs(float(exact))
  # A different q moves the wake gradient (the test can fail).
  shifted = jax.tree.map(lambda v: v + 1.0, params["recognition"])
  g_other = jax.grad(exact_wake_objective)(
      params["generative"], {**params, "recognition": shifted}, data)
  assert _rel_err(g_other, g_wake) > 0.1


def test_reweighted_gradients_approach_the_true_ones(tiny):
  """Reweighted wake-sleep with large K: θ's step is ∇_θ of the data's
  -log p_θ(x) (self-normalised IS of p(z|x) with q as proposal,
  Bornschein and Bengio eq. 5), and the wake-phase q step is ∇_φ of
  E_data KL(p(z|x) || q_φ(z|x)) (eq. 6)."""
  _, params = tiny
  model = helmholtz.make(tiny_config(training="reweighted", num_samples=20_000,
                                     q_update="wake"), {"shape": SHAPE})
  data = _data()
  grads, metrics = jax.jit(model.gradients)(params, data, jax.random.key(4))

  def nll(gen):
    x = data[:, None, :]
    return -jnp.mean(jax.nn.logsumexp(bf_log_joint(gen, x, ALL_Z[None]), 1))

  def data_kl(rec):
    x = data[:, None, :]
    log_p = bf_log_joint(params["generative"], x, ALL_Z[None])
    post = jax.nn.softmax(log_p, 1)
    return jnp.mean(jnp.sum(post * (jax.nn.log_softmax(log_p, 1)
                                    - bf_log_q(rec, x, ALL_Z[None])), 1))

  assert _rel_err(grads["generative"], jax.grad(nll)(params["generative"])) < 0.03
  assert _rel_err(grads["recognition"],
                  jax.grad(data_kl)(params["recognition"])) < 0.03
  np.testing.assert_allclose(metrics["iwae_bound"], -nll(params["generative"]),
                             atol=0.01)


def test_reinforce_gradients_are_the_elbo_gradients(tiny):
  """training='reinforce': both players' steps are unbiased estimates of
  -∇ of the data's ELBO E_q[log p_θ(x, z) - log q_φ(z | x)] (exact by
  enumeration); the score-function φ step with the leave-one-out baseline
  included."""
  _, params = tiny
  model = helmholtz.make(tiny_config(training="reinforce", num_samples=20_000),
                         {"shape": SHAPE})
  data = _data()
  grads, metrics = jax.jit(model.gradients)(params, data, jax.random.key(6))

  def neg_elbo(gen, rec):
    x = data[:, None, :]
    log_q = bf_log_q(rec, x, ALL_Z[None])
    return -jnp.mean(jnp.sum(jnp.exp(log_q) * (
        bf_log_joint(gen, x, ALL_Z[None]) - log_q), 1))

  g_gen, g_rec = jax.grad(neg_elbo, (0, 1))(params["generative"],
                                            params["recognition"])
  assert _rel_err(grads["generative"], g_gen) < 0.03
  assert _rel_err(grads["recognition"], g_rec) < 0.05
  np.testing.assert_allclose(metrics["elbo"], -neg_elbo(
      params["generative"], params["recognition"]), atol=0.05)


# -------------------------------------------------------------- training


def bars(rng: np.random.Generator, n: int, size: int = 4) -> np.ndarray:
  """Hinton et al. (1995)'s bars: vertical (prob. 1/3) or horizontal bars,
  each bar on with prob. 0.2. uint8 {0, 255} [n, size, size, 1]."""
  vertical = rng.random(n) < 1 / 3
  on = rng.random((n, size)) < 0.2
  img = np.where(vertical[:, None, None], on[:, None, :], on[:, :, None])
  return (255 * img[..., None]).astype(np.uint8)


def test_wake_sleep_raises_the_held_out_bound_without_recompiling():
  """The issue's test: 600 wake-sleep steps on the 4x4 bars raise the
  held-out ELBO and K=100 IWAE bound by a clear margin; the train step
  compiles once and reports finite metrics."""
  cfg = tiny_config(latent_sizes=(8,))
  cfg.train.batch_size = 32
  cfg.optimizer.generative.learning_rate = 0.02
  cfg.optimizer.recognition.learning_rate = 0.02
  model = helmholtz.make(cfg, {"shape": (4, 4, 1)})
  rng = np.random.default_rng(0)
  train, held_out = bars(rng, 4000), {"image": jnp.asarray(bars(rng, 500))}
  state = model.init(jax.random.key(0), None)

  @jax.jit
  def bounds(params, rng):
    x = held_out["image"].reshape(500, 16).astype(jnp.float32) / 255.0
    return (jnp.mean(model.elbo(params, x, rng)["elbo"]),
            jnp.mean(model.iwae_bound(params, x, rng, 100)))

  elbo0, iwae0 = bounds(state.params, jax.random.key(1))
  step = jax.jit(model.train_step)
  for i in range(600):
    idx = rng.integers(0, len(train), 32)
    state, metrics = step(state, {"image": jnp.asarray(train[idx])},
                          jax.random.key(i))
    if i < 3:
      assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert int(state.step) == 600
  elbo1, iwae1 = bounds(state.params, jax.random.key(1))
  # 16 pixels at p = 1/2 give -11.1 nats; the bars' entropy is ~3.2 nats.
  assert float(iwae1) > float(iwae0) + 4.0, (iwae0, iwae1)
  assert float(elbo1) > float(elbo0) + 3.0, (elbo0, elbo1)
  assert float(elbo1) <= float(iwae1) + 0.05


def test_reweighted_step_takes_both_wake_gradients_at_the_old_theta():
  """Reweighted wake-sleep (q_update='wake') takes θ's and φ's gradients
  from one K-sample pass at (θ_t, φ_t) (Bornschein and Bengio 2015, Alg. 1):
  with another θ optimizer state (so another θ_{t+1}) φ's update is the
  same. Checked past Adam's first update, which is ~lr·sign(g) and so blind
  to small changes of the gradient."""
  cfg = tiny_config(latent_sizes=(8,), training="reweighted", num_samples=5,
                    q_update="wake")
  cfg.train.batch_size = 32
  model = helmholtz.make(cfg, {"shape": (4, 4, 1)})
  rng = np.random.default_rng(0)
  batch = {"image": jnp.asarray(bars(rng, 32))}
  step = jax.jit(model.train_step)
  state = model.init(jax.random.key(0), None)
  for i in range(3):
    state, _ = step(state, batch, jax.random.key(10 + i))
  new, metrics = step(state, batch, jax.random.key(20))
  other_gen = jax.tree.map(lambda a: a + 1 if a.dtype == jnp.int32 else a,
                           state.opt_state["generative"])
  other = state.replace(opt_state={**state.opt_state, "generative": other_gen})
  new2, metrics2 = step(other, batch, jax.random.key(20))
  assert any(not np.allclose(a, b, rtol=1e-6)
             for a, b in zip(jax.tree.leaves(new.params["generative"]),
                             jax.tree.leaves(new2.params["generative"])))
  for a, b in zip(jax.tree.leaves(new.params["recognition"]),
                  jax.tree.leaves(new2.params["recognition"])):
    np.testing.assert_allclose(a, b, rtol=1e-6)
  # The φ loss reported is the weighted log q of the same pass.
  assert np.isfinite(float(metrics["q_wake_loss"]))
  assert float(metrics["q_wake_loss"]) == float(metrics2["q_wake_loss"])


def test_interface_shapes_and_config_errors(tiny):
  model, params = tiny
  img = jnp.asarray(np.random.default_rng(0).integers(0, 256, (6,) + SHAPE),
                    jnp.uint8)
  # The evaluator's batches carry a row mask; every metric is per example.
  out = jax.jit(model.evaluate_final)(params, {"image": img,
                                               "mask": jnp.ones(6)},
                                      jax.random.key(0))
  assert set(out) >= {"elbo", "nll", "bits_per_dim", "elbo_bits_per_dim"}
  assert all(v.shape == (6,) for v in out.values())
  np.testing.assert_allclose(out["bits_per_dim"], out["nll"] / (4 * np.log(2)),
                             rtol=1e-5)
  s = jax.jit(model.sample, static_argnums=2)(params, jax.random.key(1), 7)
  assert s.shape == (7,) + SHAPE and float(s.min()) >= 0 and float(s.max()) <= 1
  pics = jax.jit(model.images)(params, {"image": img}, jax.random.key(2))
  assert pics["reconstructions"].shape == (12,) + SHAPE
  assert model.protocol()["model"] == "helmholtz"
  for training, field, value in (
      ("reweighted", "training", "vae"), ("reweighted", "latent_sizes", ()),
      ("reweighted", "q_update", "both"), ("reweighted", "num_samples", 0),
      ("reinforce", "num_samples", 1)):
    cfg = tiny_config(training=training)
    setattr(cfg.model, field, value)
    with pytest.raises(ValueError, match=f"model.{field}"):
      helmholtz.make(cfg, {"shape": SHAPE})
  cfg = tiny_config()
  cfg.data.binarization = "none"
  with pytest.raises(ValueError, match="data.binarization"):
    helmholtz.make(cfg, {"shape": SHAPE})


# ------------------------------------------- module-level functions


def test_module_functions_on_rebuilt_networks_equal_brute_force(tiny):
  """A notebook rebuilds the networks from the config and calls the module
  functions on the params: the enumerated densities, and the bound members'
  values."""
  model, params = tiny
  gen, rec = helmholtz.build_networks(tiny_config().model, SHAPE)
  assert (gen, rec) == (model.generative_net, model.recognition_net)
  x = jnp.repeat(ALL_X, len(ALL_Z), 0)
  z = jnp.tile(ALL_Z, (len(ALL_X), 1))
  log_p, log_q = bf_table(params)
  np.testing.assert_allclose(helmholtz.log_joint(gen, params, x, [z]),
                             log_p.reshape(-1), atol=1e-5)
  np.testing.assert_allclose(helmholtz.log_posterior(rec, params, x, [z]),
                             log_q.reshape(-1), atol=1e-5)
  key = jax.random.key(3)
  bound = helmholtz.iwae_bound(gen, rec, params, ALL_X, key, 20, 10)
  chex.assert_shape(bound, (16,))
  chex.assert_trees_all_close(bound, model.iwae_bound(params, ALL_X, key, 20,
                                                      10))
  chex.assert_trees_all_close(helmholtz.elbo(gen, rec, params, ALL_X, key),
                              model.elbo(params, ALL_X, key))


def test_reweighted_losses_are_the_self_normalised_weights_by_enumeration(
    tiny):
  """Given a pass (zs, log w), the losses are -Σ_k ω_k log p(x, z_k) and
  -Σ_k ω_k log q(z_k | x) with ω = softmax_k(log w) (Bornschein and Bengio
  2015, eq. 5-6), checked against the enumerated densities with the 8
  latent configurations as K = 8 samples of one x."""
  _, params = tiny
  gen, rec = helmholtz.build_networks(tiny_config().model, SHAPE)
  x = ALL_X[5][None]                                         # [1, 4]
  zs = [ALL_Z[:, None, :]]                                   # [8, 1, 3]
  log_p, log_q = bf_table(params)
  log_w = (log_p[5] - log_q[5])[:, None]                     # [8, 1]
  g_loss, r_loss, metrics = helmholtz.reweighted_losses(gen, rec, params, x,
                                                        zs, log_w)
  omega = jax.nn.softmax(log_w[:, 0])
  np.testing.assert_allclose(g_loss, -jnp.sum(omega * log_p[5]), rtol=1e-5)
  np.testing.assert_allclose(r_loss, -jnp.sum(omega * log_q[5]), rtol=1e-5)
  np.testing.assert_allclose(metrics["effective_sample_size"],
                             1 / jnp.sum(omega ** 2), rtol=1e-5)
  np.testing.assert_allclose(metrics["iwae_bound"],
                             jax.nn.logsumexp(log_w) - np.log(8), rtol=1e-5)


def test_rws_recognition_loss_averages_the_wake_and_sleep_phases(tiny):
  """q_update='wake_sleep': φ's loss is the mean of the sleep loss and the
  reweighted wake-phase loss, so its gradient is the mean of theirs; the
  wake phase uses the given pass (zs, log w), not the θ in `params`."""
  _, params = tiny
  gen, rec = helmholtz.build_networks(tiny_config().model, SHAPE)
  x, wake_rng, sleep_rng = _data(), jax.random.key(1), jax.random.key(2)
  wake = helmholtz.reweighted_pass(gen, rec, params, x, wake_rng, 7)
  chex.assert_shape((wake[0][0], wake[1]), ((7, 5, NUM_Z), (7, 5)))
  opts = dict(training="reweighted", num_samples=7, sleep_batch_size=9)

  def phi_grad(q_update, p):
    return jax.grad(lambda r: helmholtz.recognition_loss(
        gen, rec, {**p, "recognition": r}, x, wake_rng, sleep_rng, wake,
        q_update=q_update, **opts)[0])(p["recognition"])

  both, wake_only, sleep_only = (phi_grad(q, params)
                                 for q in ("wake_sleep", "wake", "sleep"))
  chex.assert_trees_all_close(
      both, jax.tree.map(lambda a, b: (a + b) / 2, wake_only, sleep_only),
      rtol=1e-5, atol=1e-6)
  moved = {**params, "generative": jax.tree.map(lambda v: v + 1.0,
                                                params["generative"])}
  chex.assert_trees_all_close(phi_grad("wake", moved), wake_only, rtol=1e-6)
  loss, terms = helmholtz.recognition_loss(
      gen, rec, params, x, wake_rng, sleep_rng, wake, q_update="wake_sleep",
      **opts)
  assert set(terms) == {"sleep_loss", "q_wake_loss"}
  np.testing.assert_allclose(loss, (terms["sleep_loss"]
                                    + terms["q_wake_loss"]) / 2, rtol=1e-6)


class JitAgreementTest(chex.TestCase):
  """The key pure functions give the same values with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_importance_log_weights(self):
    model = helmholtz.make(tiny_config(), {"shape": SHAPE})
    params = random_params(model, 0)
    gen, rec = model.generative_net, model.recognition_net
    fn = self.variant(lambda p, x, r: helmholtz.importance_log_weights(
        gen, rec, p, x, r, 6, 3))
    log_w = fn(params, ALL_X, jax.random.key(4))
    chex.assert_shape(log_w, (6, 16))
    chex.assert_tree_all_finite(log_w)
    chex.assert_trees_all_close(log_w, helmholtz.importance_log_weights(
        gen, rec, params, ALL_X, jax.random.key(4), 6, 3), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_wake_loss(self):
    model = helmholtz.make(tiny_config(), {"shape": SHAPE})
    params = random_params(model, 1)
    gen, rec = model.generative_net, model.recognition_net
    fn = self.variant(lambda p, x, r: helmholtz.wake_loss(gen, rec, p, x, r))
    out = fn(params, ALL_X, jax.random.key(5))
    chex.assert_trees_all_close(out, helmholtz.wake_loss(
        gen, rec, params, ALL_X, jax.random.key(5)), rtol=1e-5)


# -------------------------------------------------- input validation
# Moved from tests/test_input_validation_models.py: each call fails while
# checking its inputs (the model is built, never initialised) and the
# message names the function, the argument and what it got.

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def small_helmholtz():    # latent sizes (8, 4), D = 16
  return helmholtz.make(helpers.smoke_config("helmholtz.py"),
                        {"shape": (4, 4, 1)})


VALIDATION_CASES = [
    (lambda m: m.evaluate({}, {"image": helpers.u8(2, 16)}, KEY),
     ["helmholtz.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 16)"]),
    (lambda m: m.elbo({}, helpers.f(2, 4, 4, 1), KEY),
     ["helmholtz.elbo", "`x`", "[B, 16]", "(2, 4, 4, 1)"]),
    (lambda m: m.log_joint({}, helpers.f(2, 16), [helpers.f(2, 8)]),
     ["helmholtz.log_joint", "`zs`", "2 arrays", "length 1"]),
    (lambda m: m.log_prior({}, [helpers.f(2, 8), helpers.f(2, 3)]),
     ["helmholtz.log_prior", "`zs[1]`", "[..., 4]", "(2, 3)"]),
    (lambda m: m.log_likelihood({}, helpers.f(2, 16), helpers.i(2, 8)),
     ["helmholtz.log_likelihood", "`z1`", "floating", "int32"]),
    (lambda m: m.importance_log_weights({}, helpers.f(2, 16), KEY, 2.0),
     ["helmholtz.importance_log_weights", "`k`", "float"]),
    (lambda m: m.importance_log_weights({}, helpers.f(2, 16), KEY, 10, 4),
     ["helmholtz.importance_log_weights", "K=10", "multiple",
      "chunk_size=4"]),
    (lambda m: m.sleep_loss({}, KEY, 0),
     ["helmholtz.sleep_loss", "`n`", "0"]),
    (lambda m: m.dream({}, KEY, -1),
     ["helmholtz.dream", "`n`", "-1"]),
    (lambda m: m.decode_mean({}, helpers.f(2, 4)),
     ["helmholtz.decode_mean", "`z1`", "[N, 8]", "(2, 4)"]),
    # the module functions check as the members do
    (lambda m: helmholtz.log_posterior(m.recognition_net, {}, helpers.f(2, 15),
                                       [helpers.f(2, 8), helpers.f(2, 4)]),
     ["helmholtz.log_posterior", "`x`", "[..., 16]", "(2, 15)"]),
    (lambda m: helmholtz.train_step(
        m.generative_net, m.recognition_net, m.preprocessing, None, None,
        None, {"x": helpers.f(2, 2)}, KEY, training="wake_sleep"),
     ["helmholtz.train_step", "key 'image'", "['x']"]),
    (lambda m: helmholtz.gradients(m.generative_net, m.recognition_net, {},
                                   helpers.f(2, 4), KEY, training="wake_sleep"),
     ["helmholtz.gradients", "`x`", "[B, 16]", "(2, 4)"]),
]


@pytest.mark.parametrize("call, expected", VALIDATION_CASES)
def test_functions_reject_inputs_that_do_not_fit_the_model(
    call, expected, small_helmholtz):
  helpers.assert_raises_naming(lambda: call(small_helmholtz), expected)

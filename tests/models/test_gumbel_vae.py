"""Mathematical tests of the Gumbel-softmax VAE (gdm_jax/models/gumbel_vae.py).

With N = 2 latents of K = 3 classes the latent space has 9 points, so the
marginal likelihood log p(x) = logsumexp_z [log p(x|z) + log p(z)], the
discrete ELBO's expectation and the KL can be computed exactly by
enumeration and compared with the model's Monte Carlo estimates.
"""

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import distributions
from gdm_jax.models import gumbel_vae
from tests import helpers
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import synthetic_batch
from tests.helpers import u8

SHAPE = (4, 4, 1)
N, K = 2, 3
KEY = jax.random.key(0)


def small_config(**model):
  cfg = helpers.smoke_config("gumbel_vae.py")
  cfg.model.hidden = (8,)
  cfg.model.num_latents, cfg.model.num_classes = N, K
  cfg.optimizer.schedule = "constant"
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


def _scaled(params, factor):
  """Multiplies every parameter: sharper posteriors, a decoder that matters."""
  return jax.tree_util.tree_map(lambda p: p * factor, params)


@pytest.fixture(scope="module")
def tiny():
  model = gumbel_vae.make(small_config(), {"shape": SHAPE})
  params = _scaled(jax.jit(model.init)(jax.random.key(0), None).params, 1.2)
  x = (jax.random.uniform(jax.random.key(1), (5,) + SHAPE) > 0.5).astype(jnp.float32)
  return model, params, x


def _all_latents():
  """The K^N one-hot configurations: [K^N, N, K]."""
  idx = np.array(list(itertools.product(range(K), repeat=N)))
  return jnp.asarray(np.eye(K, dtype=np.float32)[idx])


def _exact(model, params, x):
  """(log p(x), E_q[log p(x|z)] - KL, KL, q(z|x)) by enumeration, float64."""
  zs = _all_latents()                                             # [M, N, K]
  b = x.shape[0]
  log_px_z = np.stack([np.asarray(model.log_likelihood(
      params, jnp.broadcast_to(z, (b, N, K)), x), np.float64) for z in zs])  # [M, B]
  logits = np.asarray(model.encode(params, x), np.float64)          # [B, N, K]
  log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  log_qz = np.einsum("mnk,bnk->mb", np.asarray(zs, np.float64), log_q)
  log_prior = -N * math.log(K)
  joint = log_px_z + log_prior
  log_px = np.log(np.exp(joint - joint.max(0)).sum(0)) + joint.max(0)
  q = np.exp(log_qz)
  kl = np.sum(q * (log_qz - log_prior), 0)
  elbo = np.sum(q * log_px_z, 0) - kl
  return log_px, elbo, kl, q


def test_kl_closed_form_matches_enumeration_and_monte_carlo(tiny):
  model, params, x = tiny
  logits = model.encode(params, x)
  kl = np.asarray(gumbel_vae.kl_to_uniform(logits), np.float64)
  _, _, kl_exact, q = _exact(model, params, x)
  np.testing.assert_allclose(q.sum(0), 1.0, rtol=1e-6)
  np.testing.assert_allclose(kl, kl_exact, rtol=1e-5, atol=1e-6)
  assert np.all(kl > 0.05), kl                    # a non-trivial posterior
  # Monte Carlo: E_q[log q(z|x) - log p(z)] with hard categorical samples.
  z = gumbel_vae.sample_one_hot(jax.random.key(2), logits, (20_000,))
  est = np.asarray(gumbel_vae.categorical_log_prob_one_hot(logits, z)
                   + N * math.log(K), np.float64)                  # [S, B]
  se = est.std(0) / math.sqrt(est.shape[0])
  assert np.all(np.abs(est.mean(0) - kl) < 4.5 * se), (est.mean(0), kl, se)
  # Limits: 0 for a uniform posterior, N log K for a one-hot one.
  np.testing.assert_allclose(gumbel_vae.kl_to_uniform(jnp.zeros((3, N, K))), 0.0,
                             atol=1e-6)
  peaked = 100.0 * jax.nn.one_hot(jnp.zeros((1, N), jnp.int32), K)
  np.testing.assert_allclose(gumbel_vae.kl_to_uniform(peaked), N * math.log(K),
                             rtol=1e-5)


def test_one_hot_samples_follow_the_posterior(tiny):
  model, params, x = tiny
  logits = model.encode(params, x[:1])
  z = np.asarray(gumbel_vae.sample_one_hot(jax.random.key(3), logits, (20_000,)))
  assert set(np.unique(z)) == {0.0, 1.0} and np.all(z.sum(-1) == 1)
  freq = z.mean(0)[0]                                            # [N, K]
  p = np.asarray(jax.nn.softmax(logits[0]), np.float64)
  assert np.all(np.abs(freq - p) < 4.5 * np.sqrt(p * (1 - p) / 20_000))


def test_discrete_elbo_below_iwae_below_log_px(tiny):
  """E[ELBO] (exact and Monte Carlo) <= E[L_5] <= log p(x) <= 0, and L_1000
  ~ log p(x): only 9 latent points."""
  model, params, x = tiny
  log_px, elbo_exact, _, _ = _exact(model, params, x)
  assert np.all(log_px <= 0) and np.all(elbo_exact < log_px - 0.05)
  reps = 3000
  elbo_mc = np.asarray(jax.jit(jax.vmap(lambda r: model.discrete_elbo(
      params, x, r)["elbo"]))(jax.random.split(jax.random.key(4), reps)),
                       np.float64)
  se = elbo_mc.std(0) / math.sqrt(reps)
  assert np.all(np.abs(elbo_mc.mean(0) - elbo_exact) < 4.5 * se + 1e-4)
  assert np.all(elbo_mc <= 0)                                     # Bernoulli
  l5 = np.asarray(jax.jit(jax.vmap(lambda r: model.iwae_bound(params, x, r, 5)))(
      jax.random.split(jax.random.key(5), reps)), np.float64)
  m5, se5 = l5.mean(0), l5.std(0) / math.sqrt(reps)
  assert np.all(m5 - elbo_exact > 4.5 * se5), (m5, elbo_exact)
  assert np.all(m5 < log_px + 4.5 * se5)
  assert np.all(m5 < log_px - 1e-3)               # strictly, for this posterior
  l1000 = np.asarray(jax.jit(lambda r: model.iwae_bound(params, x, r, 1000, 100))(
      jax.random.key(6)), np.float64)
  np.testing.assert_allclose(l1000, log_px, atol=0.05)
  assert np.all(l1000 <= 0)


def test_importance_weights_are_unbiased_for_px(tiny):
  """w = p(x|z) p(z) / q(z|x), z ~ q: E_q[w] = p(x)."""
  model, params, x = tiny
  log_w = np.asarray(model.importance_log_weights(params, x, jax.random.key(7),
                                                  400), np.float64)
  assert log_w.shape == (400, 5)
  log_px, _, _, q = _exact(model, params, x)
  # Monte Carlo mean of w ≈ p(x) (relative error), from 400 draws.
  w = np.exp(log_w - log_px)
  assert np.all(np.abs(w.mean(0) - 1.0) < 4.5 * w.std(0) / math.sqrt(400) + 1e-6)
  with pytest.raises(ValueError, match="multiple"):
    model.importance_log_weights(params, x, jax.random.key(7), 400, 300)


def test_straight_through_forward_is_a_hard_sample(tiny):
  model, params, x = tiny
  rng = jax.random.key(8)
  elbo = jax.jit(model.elbo, static_argnums=4)
  logits = model.encode(params, x)
  g = jax.random.gumbel(rng, logits.shape, logits.dtype)
  z = jax.nn.one_hot(jnp.argmax(logits + g, -1), K)
  expected = -model.log_likelihood(params, z, x)
  for tau in (1.0, 0.3):
    st = elbo(params, x, rng, tau, True)
    np.testing.assert_allclose(st["reconstruction"], expected, rtol=1e-5)
  relaxed = [elbo(params, x, rng, tau, False)["reconstruction"]
             for tau in (1.0, 0.3)]
  assert not np.allclose(relaxed[0], relaxed[1])
  # ... and the relaxed sample tends to the same hard sample as τ -> 0.
  np.testing.assert_allclose(elbo(params, x, rng, 1e-3, False)["reconstruction"],
                             expected, rtol=1e-4)
  # Both estimators give the encoder a gradient.
  for hard in (False, True):
    grads = jax.jit(jax.grad(lambda p: -jnp.mean(model.elbo(
        p, x, rng, 0.5, hard)["elbo"])))(params)
    enc = grads["params"]["encoder"]
    assert float(optax_norm(enc)) > 1e-4


def optax_norm(tree):
  return jnp.sqrt(sum(jnp.sum(l * l) for l in jax.tree_util.tree_leaves(tree)))


def test_train_step_anneals_temperature_and_learns_without_recompiling():
  cfg = small_config(anneal_rate=0.1, anneal_every=2, temperature_min=0.7,
                     hidden=(16,), num_latents=4)
  cfg.optimizer.learning_rate = 1e-2
  shape = (8, 8, 1)
  model = gumbel_vae.make(cfg, {"shape": shape})
  batch = synthetic_batch(16, shape)                  # {0, 255}: deterministic x
  state = jax.jit(model.init)(jax.random.key(9), batch)
  step = jax.jit(model.train_step)
  elbo = jax.jit(model.elbo)
  for t in range(8):
    rng = jax.random.fold_in(state.rng, t)
    params = state.params
    state, metrics = step(state, batch, rng)
    tau = max(0.7, math.exp(-0.1 * (t // 2) * 2))
    np.testing.assert_allclose(metrics["temperature"], tau, rtol=1e-6)
    # The loss is the surrogate at that τ, with the step's own keys.
    pre_rng, z_rng = jax.random.split(rng)
    x = model.preprocessing.apply(pre_rng, batch["image"])
    terms = elbo(params, x, z_rng, tau)
    np.testing.assert_allclose(metrics["loss"], -jnp.mean(terms["elbo"]), rtol=1e-5)
    if t == 0:
      first_loss = float(metrics["loss"])
  # Training on the fixed patterns lowers the loss (at τ = τ_min from here on).
  losses = []
  for t in range(8, 60):
    state, metrics = step(state, batch, jax.random.fold_in(state.rng, t))
    losses.append(float(metrics["loss"]))
  assert np.all(np.isfinite(losses))
  assert np.mean(losses[-5:]) < 0.8 * first_loss, (first_loss, losses)
  assert int(state.step) == 60
  assert step._cache_size() == 1
  np.testing.assert_allclose(model.temperature_at(10 ** 6), 0.7)


def test_sample_images_and_final_metrics(tiny):
  model, params, x = tiny
  s = jax.jit(model.sample, static_argnums=2)(params, jax.random.key(11), 7)
  assert s.shape == (7,) + SHAPE
  assert float(s.min()) >= 0 and float(s.max()) <= 1
  batch = {"image": (x * 255).astype(jnp.uint8)}
  pics = jax.jit(model.images)(params, batch, jax.random.key(12))
  assert pics["samples"].shape == (64,) + SHAPE
  assert pics["reconstructions"].shape == (10,) + SHAPE
  final = jax.jit(model.evaluate_final)(params, batch, jax.random.key(13))
  d = math.prod(SHAPE)
  np.testing.assert_allclose(final["bits_per_dim"], final["nll"] / (d * math.log(2)),
                             rtol=1e-6)
  log_px, elbo_exact, _, _ = _exact(model, params, x)
  # One draw of -L_20 (smoke config) on 9 latent points: near -log p(x).
  assert np.all(final["nll"] > -log_px - 0.5), (final["nll"], -log_px)
  assert np.all(final["nll"] < -elbo_exact + 0.5), (final["nll"], -elbo_exact)
  assert np.all(final["elbo"] <= 0)
  assert model.protocol()["nll_num_samples"] == 20


@pytest.mark.parametrize("field,value,match", [
    ("num_latents", 0, "model.num_latents"),
    ("num_classes", 1, "model.num_classes"),
    ("hidden", (8, 0), "model.hidden"),
    ("temperature_init", 0.0, "model.temperature_init"),
    ("temperature_min", 2.0, "model.temperature_min"),
    ("anneal_rate", -1.0, "model.anneal_rate"),
    ("anneal_every", 0, "model.anneal_every"),
    ("eval_chunk_size", 7, "model.eval_chunk_size"),
])
def test_invalid_config_raises(field, value, match):
  cfg = small_config(**{field: value})
  with pytest.raises(ValueError, match=match):
    gumbel_vae.make(cfg, {"shape": SHAPE})


def test_needs_binarised_data():
  cfg = small_config()
  cfg.data.binarization = "none"
  with pytest.raises(ValueError, match="binarization"):
    gumbel_vae.make(cfg, {"shape": SHAPE})


def test_module_functions_equal_the_bound_members(tiny):
  """The members are the module-level functions with the network bound."""
  model, params, x = tiny
  net = gumbel_vae.build_networks(small_config().model, SHAPE)
  assert net == model.net
  key = jax.random.key(14)
  chex.assert_trees_all_equal(gumbel_vae.elbo(net, params, x, key, 0.5, True),
                              model.elbo(params, x, key, 0.5, True))
  chex.assert_trees_all_equal(gumbel_vae.discrete_elbo(net, params, x, key),
                              model.discrete_elbo(params, x, key))
  chex.assert_trees_all_equal(
      gumbel_vae.iwae_bound(net, params, x, key, 8, 4),
      model.iwae_bound(params, x, key, 8, 4))
  chex.assert_trees_all_equal(gumbel_vae.sample(net, params, key, 3),
                              model.sample(params, key, 3))
  # The schedule τ(t) = max(τ_min, τ_0 exp(-r ⌊t / T⌋ T)), traced or not.
  t = np.arange(0, 50, 3)
  expected = np.maximum(0.5, np.exp(-0.1 * (t // 2) * 2))
  np.testing.assert_allclose(
      jax.jit(gumbel_vae.temperature_schedule, static_argnums=(1, 2, 3, 4))(
          t, 1.0, 0.5, 0.1, 2), expected, rtol=1e-6)
  np.testing.assert_allclose(model.temperature_at(jnp.asarray(t)),
                             gumbel_vae.temperature_schedule(t, 1.0, 0.5, 0.1, 2),
                             rtol=1e-6)
  # Metrics through distributions.bits_per_dim.
  final = model.evaluate_final(params, {"image": (x * 255).astype(jnp.uint8)},
                               key)
  np.testing.assert_array_equal(final["bits_per_dim"], distributions.bits_per_dim(
      final["nll"], math.prod(SHAPE)))


def test_uniform_logits_have_zero_kl():
  np.testing.assert_allclose(gumbel_vae.kl_to_uniform(f(2, 4, 3)), 0.0,
                             atol=1e-6)


# ------------------------------------------------------------ input checks


@pytest.fixture(scope="module")
def smoke_model():          # 4 latents of 3 classes, never initialised
  return gumbel_vae.make(helpers.smoke_config("gumbel_vae.py"), {"shape": SHAPE})


MODEL_CASES = [
    (lambda m: m.evaluate_final({}, {"image": u8(2, 4, 4)}, KEY),
     ["gumbel_vae.evaluate_final", "batch['image']", "(*, 4, 4, 1)",
      "(2, 4, 4)"]),
    (lambda m: m.elbo({}, f(2, 16), KEY, 1.0),
     ["gumbel_vae.elbo", "`x`", "(2, 16)"]),
    (lambda m: m.importance_log_weights({}, f(2, 4, 4, 1), KEY, 0),
     ["gumbel_vae.importance_log_weights", "`k`", "0"]),
    (lambda m: m.iwae_bound({}, f(2, 4, 4, 1), KEY, 4, 0),
     ["gumbel_vae.iwae_bound", "`chunk_size`", "0"]),
    (lambda m: m.log_likelihood({}, f(2, 4, 4), f(2, 4, 4, 1)),
     ["gumbel_vae.log_likelihood", "`z`", "[B, 4, 3]", "(2, 4, 4)"]),
    (lambda m: m.log_likelihood({}, f(3, 4, 3), f(2, 4, 4, 1)),
     ["gumbel_vae.log_likelihood", "batch size", "`z` (3, 4, 3)"]),
    (lambda m: m.sample({}, KEY, 0), ["gumbel_vae.sample", "`n`", "0"]),
    (lambda m: m.images({}, {"x": f(2, 16)}, KEY),
     ["gumbel_vae.images", "key 'image'", "['x']"]),
    (lambda m: gumbel_vae.kl_to_uniform(f(3)),
     ["gumbel_vae.kl_to_uniform", "`logits`", "rank >= 2", "(3,)"]),
]


@pytest.mark.parametrize("call, expected", MODEL_CASES)
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    call, expected, smoke_model):
  assert_raises_naming(lambda: call(smoke_model), expected)

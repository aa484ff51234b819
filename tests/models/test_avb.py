"""Mathematical tests of adversarial variational Bayes (gdm_jax/models/avb.py).

1. Proposition 1: on a Gaussian case with known densities, x ~ N(0, 1),
   q(z|x) = N(a x + c, s²), p(z) = N(0, 1), the module's discriminator
   trained with the module's loss approaches T*(x, z) = log q(z|x) - log p(z),
   and its mean under q approaches the closed-form KL.
2. The importance-sampled NLL on a linear-Gaussian model, where
     z ~ N(0, I_d),  x | z ~ N(W z + b, σ² I_D)  =>  x ~ N(b, W Wᵀ + σ² I_D)
   and z | x ~ N(P Wᵀ (x - b) / σ², P), P = (I + WᵀW / σ²)^-1:
   with the exact posterior as proposal every log-weight equals log p(x);
   an implicit encoder that samples the exact posterior gives a
   moment-matched proposal whose bound is log p(x); the mean log-weight
   equals the closed-form ELBO of the Gaussian proposal; and with an inexact
   proposal the bound stays below log p(x) and tightens with K.
3. The train step (adaptive contrast on; the plain path runs in
   tests/test_cli_avb.py): finite metrics, both players move, one
   compilation.
4. The module-level functions: equal to the Model's bound members;
   adaptive contrast against its closed form with the moments held fixed in
   the gradient; the two players' gradients (through z into T for (φ, θ),
   none into φ from T's loss); jit/no-jit agreement; input validation.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from gdm_jax.models import avb
from tests import helpers

SHAPE = (4, 4, 1)
SIGMA = 0.5


# ------------------------------------------------- Proposition 1 ----------

A, C, S = 0.6, 0.2, 0.7        # q(z|x) = N(A x + C, S²)


def true_log_ratio(x, z):
  return (stats.norm.logpdf(z, A * x + C, S) - stats.norm.logpdf(z)).astype(
      np.float64)


def test_discriminator_learns_the_log_density_ratio():
  disc = avb.Discriminator(hidden=(32,), architecture="inner_product",
                           embedding_dim=8, activation="elu")
  batch, steps = 512, 2000
  params = disc.init(jax.random.PRNGKey(0), jnp.zeros((1, 1)), jnp.zeros((1, 1)))
  tx = optax.adam(optax.cosine_decay_schedule(1e-2, steps))

  def draw(rng):
    kx, kq, kp = jax.random.split(rng, 3)
    x = jax.random.normal(kx, (batch, 1))
    z_q = A * x + C + S * jax.random.normal(kq, (batch, 1))
    return x, z_q, jax.random.normal(kp, (batch, 1))

  def loss_fn(p, rng):
    x, z_q, z_p = draw(rng)
    return jnp.mean(avb.discriminator_loss_per_example(
        disc.apply(p, x, z_q), disc.apply(p, x, z_p)))

  def step(carry, rng):
    p, o = carry
    g = jax.grad(loss_fn)(p, rng)
    u, o = tx.update(g, o, p)
    return (optax.apply_updates(p, u), o), None

  (params, _), _ = jax.jit(lambda c, r: jax.lax.scan(step, c, r))(
      (params, tx.init(params)), jax.random.split(jax.random.PRNGKey(1), steps))

  x, z_q, z_p = (np.asarray(v) for v in draw(jax.random.PRNGKey(2)))
  x2, z = np.concatenate([x, x]), np.concatenate([z_q, z_p])   # the mixture
  t = np.asarray(disc.apply(params, x2, z), np.float64)
  truth = true_log_ratio(x2[:, 0], z[:, 0])
  rmse = np.sqrt(np.mean((t - truth) ** 2))
  assert rmse < 0.2 * np.std(truth), (rmse, np.std(truth))
  # E_q[T] -> KL(q(z|x) || p(z)) averaged over x, in closed form.
  kl = -math.log(S) + (S * S + A * A + C * C) / 2 - 0.5
  t_q = t[:batch]
  assert abs(t_q.mean() - kl) < 0.1 * kl + 3 * t_q.std() / math.sqrt(batch), (
      t_q.mean(), kl)


def test_discriminator_loss_is_the_logistic_loss():
  tq = jnp.array([-3.0, 0.0, 2.0, 40.0])  # T = 0 counts as wrong
  tp = jnp.array([1.0, -2.0, 0.5, -40.0])
  expect = -np.log(1 / (1 + np.exp(-np.asarray(tq, np.float64)))) - np.log(
      1 - 1 / (1 + np.exp(-np.asarray(tp, np.float64))))
  np.testing.assert_allclose(avb.discriminator_loss_per_example(tq, tp),
                             expect, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(avb.discriminator_accuracy(tq, tp),
                                [0.0, 0.5, 0.5, 1.0])


# ------------------------------------------- importance-sampled NLL -------


def linear_config(latent_dim, noise_dim=None, **model):
  cfg = helpers.smoke_config("avb.py")
  cfg.data.binarization = "none"
  cfg.model.hidden = ()
  cfg.model.likelihood = "gaussian"
  cfg.model.fixed_scale = SIGMA
  cfg.model.latent_dim = latent_dim
  cfg.model.noise_dim = noise_dim or latent_dim
  cfg.model.eval_proposal_scales = (1.0,)
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


def _decoder_wb(params):
  dec = params["encoder_decoder"]["params"]["decoder"]["dense_0"]
  return (np.asarray(dec["kernel"], np.float64).T,          # W [D, d]
          np.asarray(dec["bias"], np.float64))              # b [D]


def exact_log_px(params, x):
  w, b = _decoder_wb(params)
  cov = w @ w.T + SIGMA ** 2 * np.eye(w.shape[0])
  flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
  return stats.multivariate_normal(b, cov).logpdf(flat)


def exact_posterior(params, x):
  """(mean [B, d], covariance P [d, d]) of z | x."""
  w, b = _decoder_wb(params)
  cov = np.linalg.inv(np.eye(w.shape[1]) + w.T @ w / SIGMA ** 2)
  flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
  return (flat - b) @ (cov @ w.T / SIGMA ** 2).T, cov


def _setup(cfg, seed=0, n=6):
  model = avb.make(cfg, {"shape": SHAPE})
  state = jax.jit(model.init)(jax.random.PRNGKey(seed), None)
  params = state.params
  # A decoder with larger weights, so the posterior is far from the prior.
  dec = params["encoder_decoder"]["params"]["decoder"]["dense_0"]
  dec["kernel"] = dec["kernel"] * 3.0
  x_rng = jax.random.PRNGKey(seed + 100)
  x = 0.5 + jax.random.normal(x_rng, (n,) + SHAPE)
  return model, params, x


def test_bound_with_the_exact_posterior_has_zero_variance_and_equals_log_px():
  model, params, x = _setup(linear_config(1))
  mean, cov = exact_posterior(params, x)
  prop = (jnp.asarray(mean, jnp.float32),
          jnp.full(mean.shape, 0.5 * math.log(cov[0, 0]), jnp.float32))
  log_w = np.asarray(model.importance_log_weights(
      params, x, jax.random.PRNGKey(3), 50, None, prop), np.float64)
  exact = exact_log_px(params, x)
  np.testing.assert_allclose(log_w, np.broadcast_to(exact, log_w.shape),
                             atol=2e-3 * max(1.0, np.abs(exact).max() / 10))
  assert log_w.std(axis=0).max() < 1e-3


def _posterior_encoder(params, x_dim, noise_dim):
  """Implicit-encoder params with g(x, ε) = M (x - b) + L ε, L Lᵀ = P:
  the encoder samples the exact posterior (ε enters linearly)."""
  w, b = _decoder_wb(params)
  d = w.shape[1]
  cov = np.linalg.inv(np.eye(d) + w.T @ w / SIGMA ** 2)
  m = cov @ w.T / SIGMA ** 2                                 # [d, D]
  chol = np.linalg.cholesky(cov)                             # [d, d]
  kernel = np.zeros((x_dim + noise_dim, d))
  kernel[:x_dim] = m.T
  kernel[x_dim:x_dim + d] = chol.T
  enc = {"kernel": jnp.asarray(kernel, jnp.float32),
         "bias": jnp.asarray(-m @ b, jnp.float32)}
  params = jax.tree_util.tree_map(lambda v: v, params)
  params["encoder_decoder"]["params"]["encoder"]["dense_0"] = enc
  return params


def test_moment_matched_proposal_of_an_exact_implicit_encoder_gives_log_px():
  model, params, x = _setup(linear_config(1, noise_dim=3,
                                          eval_proposal_samples=4096))
  params = _posterior_encoder(params, math.prod(SHAPE), 3)
  mean, cov = exact_posterior(params, x)
  m, log_s = model.proposal(params, x, jax.random.PRNGKey(4))
  # Moments of 4096 samples: mean within ~4 SE, std within ~5 %.
  np.testing.assert_allclose(m, mean, atol=4 * math.sqrt(cov[0, 0] / 4096))
  np.testing.assert_allclose(np.exp(log_s), np.sqrt(cov[0, 0]) * np.ones_like(m),
                             rtol=0.05)
  bound = np.asarray(model.iwae_bound(params, x, jax.random.PRNGKey(5), 100, 50))
  np.testing.assert_allclose(bound, exact_log_px(params, x), atol=0.01)


def test_mixture_proposal_gives_an_unbiased_estimate_of_p_x():
  """Stratified samples from the mixture of N(m, (c s)²), c in (1, 3), with
  weights under the mixture density: mean_k w_k is unbiased for p(x) (so
  the K-sample bound is a lower bound in expectation); (m, s) are the exact
  posterior's."""
  model, params, x = _setup(linear_config(1, eval_proposal_scales=(1.0, 3.0)))
  mean, cov = exact_posterior(params, x)
  prop = (jnp.asarray(mean, jnp.float32),
          jnp.full(mean.shape, 0.5 * math.log(cov[0, 0]), jnp.float32))
  log_w = np.asarray(model.importance_log_weights(
      params, x, jax.random.PRNGKey(8), 4000, 1000, prop), np.float64)
  assert log_w.std(0).min() > 0.1          # not the zero-variance case
  exact = exact_log_px(params, x)
  w = np.exp(log_w - exact)                # w_k / p(x), mean 1
  np.testing.assert_allclose(w.mean(0), 1.0, atol=4 * w.std(0).max() / 63)


def test_mean_log_weight_is_the_closed_form_elbo_of_the_proposal():
  """E_r[log p(x|z) + log p(z) - log r(z|x)] for r = N(m, diag v):
  log N(x; W m + b, σ²I) - tr(W diag(v) Wᵀ)/(2σ²)
  - (d log 2π + |m|² + Σv)/2 + Σ(log √v + (1 + log 2π)/2)."""
  model, params, x = _setup(linear_config(2))
  w, b = _decoder_wb(params)
  rng = np.random.default_rng(0)
  m = rng.normal(size=(x.shape[0], 2))
  log_s = rng.normal(-0.5, 0.3, size=(x.shape[0], 2))
  v = np.exp(2 * log_s)
  k = 20000
  log_w = np.asarray(model.importance_log_weights(
      params, x, jax.random.PRNGKey(6), k, 1000,
      (jnp.asarray(m, jnp.float32), jnp.asarray(log_s, jnp.float32))),
      np.float64)
  flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
  resid = flat - (m @ w.T + b)
  dim = flat.shape[1]
  e_log_px_z = (-0.5 * np.sum(resid ** 2, 1) / SIGMA ** 2
                - dim * (math.log(SIGMA) + 0.5 * math.log(2 * math.pi))
                - 0.5 * np.sum(v * np.sum(w ** 2, 0), 1) / SIGMA ** 2)
  e_log_pz = -0.5 * (2 * math.log(2 * math.pi) + np.sum(m ** 2 + v, 1))
  entropy = np.sum(log_s + 0.5 * (1 + math.log(2 * math.pi)), 1)
  elbo = e_log_px_z + e_log_pz + entropy
  se = log_w.std(0) / math.sqrt(k)
  assert np.all(np.abs(log_w.mean(0) - elbo) < 4 * se + 1e-3), (
      log_w.mean(0), elbo, se)


def test_bound_is_below_log_px_and_tightens_with_k():
  model, params, x = _setup(linear_config(2, eval_proposal_scales=(2.0,),
                                          eval_proposal_samples=64))
  # An encoder sampling the exact (correlated) posterior: the diagonal,
  # widened proposal is inexact, so the bound has a visible gap.
  params = _posterior_encoder(params, math.prod(SHAPE), 2)
  exact = exact_log_px(params, x)
  prop = model.proposal(params, x, jax.random.PRNGKey(7))
  reps = 200

  def bounds(k):
    keys = jax.random.split(jax.random.PRNGKey(k), reps)
    return np.asarray(jax.jit(jax.vmap(
        lambda r: model.iwae_bound(params, x, r, k, None, prop)))(keys),
        np.float64)                                          # [reps, B]

  means, ses = [], []
  for k in (1, 100):
    b = bounds(k)
    means.append(b.mean(0))
    ses.append(b.std(0) / math.sqrt(reps))
  means, ses = np.array(means), np.array(ses)
  assert np.all(means[0] < exact - 0.05), (means[0], exact)   # a real gap
  assert np.all(means[:-1] < means[1:] + 3 * (ses[:-1] + ses[1:]))
  assert np.all(means < exact + 3 * ses)
  # tightens: the K = 100 gap is a fraction of the K = 1 gap
  assert np.all(exact - means[-1] < 0.5 * (exact - means[0]))


def test_adaptive_contrast_carries_the_kl_of_a_gaussian_posterior():
  """With adaptive contrast and T = 0, kl_estimate = log r_α(z|x) - log p(z)
  with r_α moment-matched to q; for a Gaussian q = N(μ, P) (the exact-
  posterior encoder) KL(q || r_α) ≈ 0, so its mean is KL(q || p) =
  (P + μ² - 1 - log P) / 2 in closed form."""
  model, params, x = _setup(linear_config(1, adaptive_contrast=True,
                                          contrast_samples=64))
  params = _posterior_encoder(params, math.prod(SHAPE), 1)
  params["discriminator"] = jax.tree_util.tree_map(jnp.zeros_like,
                                                   params["discriminator"])
  mean, cov = exact_posterior(params, x)
  reps = 300
  xs = jnp.tile(x, (reps, 1, 1, 1))
  kl = np.asarray(jax.jit(model.elbo_estimate)(
      params, xs, jax.random.PRNGKey(10))["kl_estimate"], np.float64)
  kl = kl.reshape(reps, x.shape[0])
  exact = 0.5 * (cov[0, 0] + mean[:, 0] ** 2 - 1 - math.log(cov[0, 0]))
  assert exact.min() > 0.5          # a KL worth estimating
  se = kl.std(0) / math.sqrt(reps)
  assert np.all(np.abs(kl.mean(0) - exact) < 4 * se + 0.03), (kl.mean(0), exact)


def test_gaussian_proposal_moments_and_floor():
  rng = np.random.default_rng(1)
  z = rng.normal([1.0, -2.0], [0.5, 2.0], size=(5000, 3, 2))
  mean, log_s = avb.gaussian_proposal(jnp.asarray(z, jnp.float32), scale=1.5)
  np.testing.assert_allclose(mean, z.mean(0), atol=1e-4)
  np.testing.assert_allclose(np.exp(log_s), 1.5 * z.std(0, ddof=1), rtol=1e-4)
  constant = jnp.ones((4, 3, 2))
  _, log_s = avb.gaussian_proposal(constant, min_std=1e-3)
  np.testing.assert_allclose(log_s, math.log(1e-3), rtol=1e-6)
  with pytest.raises(ValueError, match="2 samples"):
    avb.gaussian_proposal(jnp.ones((1, 3, 2)))


# ------------------------------------------------------ train step --------


def test_train_step_moves_both_players_and_compiles_once():
  """With adaptive contrast (the longer path: moments, z̃, explicit term)."""
  cfg = helpers.smoke_config("avb.py")
  cfg.model.adaptive_contrast = True
  model = avb.make(cfg, {"shape": (8, 8, 1)})
  batch = {"image": jnp.asarray(np.random.default_rng(0).integers(
      0, 256, (16, 8, 8, 1)), jnp.uint8)}
  state = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
  before = jax.tree_util.tree_map(np.asarray, state.params)
  step = jax.jit(model.train_step)
  for i in range(3):
    state, metrics = step(state, batch, jax.random.PRNGKey(i))
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert int(state.step) == 3
  for name in ("loss", "d_loss", "d_accuracy", "elbo_avb", "kl_estimate",
               "reconstruction", "t_posterior", "t_prior"):
    assert np.isfinite(float(metrics[name])), name
  np.testing.assert_allclose(
      metrics["elbo_avb"], -metrics["reconstruction"] - metrics["kl_estimate"],
      rtol=1e-5)
  for player in ("encoder_decoder", "discriminator"):
    moved = jax.tree_util.tree_leaves(jax.tree_util.tree_map(
        lambda a, b: np.abs(np.asarray(a) - b).max() > 0,
        state.params[player], before[player]))
    assert all(moved), player
  # The evaluator's batches carry a row mask; every metric is per example.
  out = jax.jit(model.evaluate)(state.params, {**batch, "mask": jnp.ones(16)},
                                jax.random.PRNGKey(9))
  assert all(v.shape == (16,) and np.all(np.isfinite(v)) for v in out.values())


@pytest.mark.parametrize("field,value", [
    ("noise_injection", "hidden"), ("discriminator_architecture", "bilinear"),
    ("discriminator_steps", 0), ("contrast_samples", 1),
    ("eval_chunk_size", 7)])
def test_invalid_config_raises_naming_the_field(field, value):
  cfg = helpers.smoke_config("avb.py")
  setattr(cfg.model, field, value)
  with pytest.raises(ValueError, match=field):
    avb.make(cfg, {"shape": (8, 8, 1)})


# ------------------------------------------- module-level functions -------


def _smoke_model(**model):
  cfg = helpers.smoke_config("avb.py")
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg, avb.make(cfg, {"shape": (4, 4, 1)})


def _binary(n, seed=0):
  return jnp.asarray(np.random.default_rng(seed).integers(0, 2, (n, 4, 4, 1)),
                     jnp.float32)


@pytest.mark.parametrize("contrast", [False, True])
def test_module_functions_equal_the_bound_members(contrast):
  """A notebook rebuilds the networks from the config and calls the module
  functions on the params: the same numbers as the Model's members."""
  cfg, model = _smoke_model(adaptive_contrast=contrast)
  params = model.init(jax.random.key(0), None).params
  net, disc = avb.build_networks(cfg.model, (4, 4, 1))
  assert (net, disc) == (model.net, model.discriminator_net)
  kw = dict(contrast_samples=cfg.model.contrast_samples if contrast else 0,
            min_std=cfg.model.eval_proposal_min_std)
  x, key = _binary(6), jax.random.key(1)
  chex.assert_trees_all_close(avb.elbo_estimate(net, disc, params, x, key, **kw),
                              model.elbo_estimate(params, x, key))
  chex.assert_trees_all_close(
      avb.discriminator_loss(net, disc, params["discriminator"], params, x,
                             key, **kw),
      model.discriminator_loss(params["discriminator"], params, x, key))
  pkw = dict(scales=tuple(cfg.model.eval_proposal_scales),
             proposal_samples=cfg.model.eval_proposal_samples,
             min_std=cfg.model.eval_proposal_min_std)
  bound = avb.iwae_bound(net, params, x, key, 20, 10, **pkw)
  chex.assert_shape(bound, (6,))
  chex.assert_trees_all_close(bound, model.iwae_bound(params, x, key, 20, 10))
  z = avb.encode(net, params, x, key, 3)
  chex.assert_shape(z, (3, 6, cfg.model.latent_dim))
  chex.assert_trees_all_close(z, model.encode(params, x, key, 3))


def test_adaptive_contrast_closed_form_and_moments_held_fixed():
  """z̃ = (z - m)/s and log N(z; m, s²) - log N(z; 0, I) with the moments of
  the moment samples (ddof 1); the gradient reaches z only: ∂/∂z of Σ z̃ is
  1/s, and the moment samples get none (stop_gradient, §4)."""
  rng = np.random.default_rng(3)
  samples = rng.normal([0.5, -1.0], [0.3, 2.0], size=(50, 4, 2))
  z = rng.normal(size=(4, 2))
  z_t, explicit = avb.adaptive_contrast(jnp.asarray(z, jnp.float32),
                                        jnp.asarray(samples, jnp.float32))
  m, s = samples.mean(0), samples.std(0, ddof=1)
  np.testing.assert_allclose(z_t, (z - m) / s, rtol=1e-4, atol=1e-5)
  expect = np.sum(stats.norm.logpdf(z, m, s) - stats.norm.logpdf(z), -1)
  np.testing.assert_allclose(explicit, expect, rtol=1e-4, atol=1e-4)
  total = lambda zz, ss: jnp.sum(avb.adaptive_contrast(zz, ss)[0])
  g_z, g_s = jax.grad(total, (0, 1))(jnp.asarray(z, jnp.float32),
                                 jnp.asarray(samples, jnp.float32))
  np.testing.assert_allclose(g_z, 1 / s, rtol=1e-4)
  np.testing.assert_array_equal(g_s, 0.0)


def test_objective_gradients_of_the_two_players():
  """The (φ, θ) objective is -mean[log p(x|z) - T(x, z)] at z = g_φ(x, ε)
  with its φ-gradient through z into T (eq. 3.7); T's logistic loss sends
  no gradient into φ (z_q is held fixed)."""
  cfg, model = _smoke_model()
  params = model.init(jax.random.key(0), None).params
  net, disc = model.net, model.discriminator_net
  x, key = _binary(8), jax.random.key(2)

  def by_hand(ed):
    eps = jax.random.normal(key, (8, cfg.model.noise_dim))
    p = {**params, "encoder_decoder": ed}
    z = avb.encode_with_noise(net, p, x, eps)
    return -jnp.mean(avb.log_likelihood(net, p, z, x)
                     - disc.apply(params["discriminator"], x, z))

  g = jax.grad(lambda ed: avb.encoder_decoder_objective(
      net, disc, ed, params, x, key)[0])(params["encoder_decoder"])
  chex.assert_trees_all_close(g, jax.grad(by_hand)(params["encoder_decoder"]),
                              rtol=1e-5, atol=1e-6)
  # T's z-dependence moves the encoder's gradient (the path through T).
  other = {**params, "discriminator": jax.tree.map(
      lambda v: v + 0.1, params["discriminator"])}
  g_other = jax.grad(lambda ed: avb.encoder_decoder_objective(
      net, disc, ed, other, x, key)[0])(params["encoder_decoder"])
  enc = lambda t: t["params"]["encoder"]
  assert any(not np.allclose(a, b) for a, b in zip(
      jax.tree.leaves(enc(g)), jax.tree.leaves(enc(g_other))))
  g_d = jax.grad(lambda ed: jnp.mean(avb.discriminator_loss(
      net, disc, params["discriminator"], {**params, "encoder_decoder": ed},
      x, key)[0]))(params["encoder_decoder"])
  assert all(np.all(np.asarray(v) == 0) for v in jax.tree.leaves(g_d))


class JitAgreementTest(chex.TestCase):
  """The key pure functions give the same values with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_mixture_log_weights(self):
    _, model = _smoke_model()
    params = model.init(jax.random.key(0), None).params
    x = _binary(3)
    mean, log_s = jnp.zeros((3, 4)), jnp.full((3, 4), -0.5)
    fn = self.variant(lambda p, xx, r, m, s: avb.mixture_log_weights(
        model.net, p, xx, r, 4, m, s, (1.0, 2.0)))
    log_w = fn(params, x, jax.random.key(1), mean, log_s)
    chex.assert_shape(log_w, (4, 3))
    chex.assert_tree_all_finite(log_w)
    np.testing.assert_allclose(log_w, avb.mixture_log_weights(
        model.net, params, x, jax.random.key(1), 4, mean, log_s, (1.0, 2.0)),
                               rtol=1e-5, atol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_adaptive_contrast(self):
    z = jnp.linspace(-1.0, 1.0, 6).reshape(3, 2)
    samples = jnp.stack([z * 0.5, z * -0.3, z + 1.0])
    z_t, explicit = self.variant(avb.adaptive_contrast)(z, samples)
    chex.assert_shape((z_t, explicit), ((3, 2), (3,)))
    ref = avb.adaptive_contrast(z, samples)
    chex.assert_trees_all_close((z_t, explicit), ref, rtol=1e-5, atol=1e-6)


# -------------------------------------------------- input validation ------
# Moved from tests/test_input_validation_models.py: each call fails while
# checking its inputs (the model is built, never initialised) and the
# message names the function, the argument and what it got.

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def small_avb():          # latent_dim 4, data 4x4x1
  return avb.make(helpers.smoke_config("avb.py"), {"shape": (4, 4, 1)})


VALIDATION_CASES = [
    (lambda m: m.train_step(None, {"image": helpers.u8(2, 8, 8, 1)}, KEY),
     ["avb.train_step", "batch['image']", "(*, 4, 4, 1)", "(2, 8, 8, 1)"]),
    (lambda m: m.discriminator({}, helpers.f(3, 4, 4, 1), helpers.f(2, 4)),
     ["avb.discriminator", "batch size", "`z` (2, 4)"]),
    (lambda m: m.encode({}, helpers.f(2, 4, 4, 1), KEY, 0),
     ["avb.encode", "`k`", "0"]),
    (lambda m: m.log_likelihood({}, helpers.f(2, 5), helpers.f(2, 4, 4, 1)),
     ["avb.log_likelihood", "`z`", "[B, 4]", "(2, 5)"]),
    (lambda m: m.importance_log_weights(
        {}, helpers.f(2, 4, 4, 1), KEY, 4, None, (helpers.f(2, 4), helpers.f(3, 4))),
     ["avb.importance_log_weights", "proposal_params[1]", "(3, 4)"]),
    (lambda m: m.importance_log_weights(
        {}, helpers.f(2, 4, 4, 1), KEY, 10, 4, (helpers.f(2, 4), helpers.f(2, 4))),
     ["avb.importance_log_weights", "K=10", "multiple", "chunk_size=4"]),
    (lambda m: m.interpolate({}, helpers.f(2, 4, 4, 1), helpers.f(4, 4, 1), KEY),
     ["avb.interpolate", "`x_a`", "(4, 4, 1)", "(2, 4, 4, 1)"]),
    (lambda m: m.sample({}, KEY, True),
     ["avb.sample", "`n`", "bool", "True"]),
    (lambda m: avb.gaussian_proposal(helpers.f(3, 2)),
     ["avb.gaussian_proposal", "`samples`", "rank 3", "(3, 2)"]),
    # the module functions check as the members do
    (lambda m: avb.elbo_estimate(m.net, m.discriminator_net, {},
                                 helpers.f(2, 4, 4, 2), KEY),
     ["avb.elbo_estimate", "`x`", "[B, 4, 4, 1]", "(2, 4, 4, 2)"]),
    (lambda m: avb.evaluate(m.net, m.discriminator_net, m.preprocessing, {},
                            {"x": helpers.f(2, 2)}, KEY),
     ["avb.evaluate", "key 'image'", "['x']"]),
    (lambda m: avb.proposal(m.net, {}, helpers.f(2, 4, 4, 1), KEY, 0),
     ["avb.proposal", "`s`", "0"]),
]


@pytest.mark.parametrize("call, expected", VALIDATION_CASES)
def test_functions_reject_inputs_that_do_not_fit_the_model(call, expected,
                                                           small_avb):
  helpers.assert_raises_naming(lambda: call(small_avb), expected)

"""Mathematical tests of the VAE family (gdm_jax/models/vae.py).

The central check uses a linear-Gaussian VAE (no hidden layers, Gaussian
decoder with a fixed scale), whose marginal likelihood is known exactly:
  z ~ N(0, I_d),  x | z ~ N(W z + b, s^2 I_D)  =>  x ~ N(b, W W^T + s^2 I_D),
and whose exact posterior is Gaussian:
  z | x ~ N(S W^T (x - b) / s^2, S),   S = (I_d + W^T W / s^2)^-1.
"""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
from jax.test_util import check_grads
import numpy as np
import pytest
from scipy import stats

from experiments.configs import vae as vae_configs
from gdm_jax import distributions
from gdm_jax.models import vae
from tests import helpers
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import synthetic_batch
from tests.helpers import u8
from tests.helpers import vae_config

SMALL_SHAPE = (4, 4, 1)
SIGMA = 0.5
KEY = jax.random.key(0)


def small_config(variant="", **model):
  """experiments/configs/vae.py at smoke sizes (or a production variant)
  with small model settings (tests/helpers.vae_config)."""
  return vae_config(variant, **{"hidden": (16,), "latent_dim": 2, **model})


def _init(model, rng, batch):
  return jax.jit(model.init)(rng, batch)


def linear_gaussian_config(latent_dim):
  cfg = small_config(hidden=(), likelihood="gaussian", learn_scale=False,
                     fixed_scale=SIGMA, latent_dim=latent_dim)
  cfg.data.binarization = "none"
  return cfg


def _decoder_wb(params):
  dec = params["params"]["decoder"]["dense_0"]
  w = np.asarray(dec["kernel"], np.float64).T            # [D, d]
  b = np.asarray(dec["bias"], np.float64)                 # [D]
  return w, b


def exact_log_px(params, x):
  """log N(x | b, W W^T + s^2 I), float64, x [B, H, W, C] -> [B]."""
  w, b = _decoder_wb(params)
  cov = w @ w.T + SIGMA**2 * np.eye(w.shape[0])
  flat = np.asarray(x, np.float64).reshape(x.shape[0], -1)
  return stats.multivariate_normal(b, cov).logpdf(flat)


def with_posterior_encoder(params, scale_factor=1.0, shift=0.0):
  """Params whose encoder gives the exact posterior mean and marginal stds
  (times `scale_factor`, mean moved by `shift` posterior stds)."""
  w, b = _decoder_wb(params)
  d = w.shape[1]
  cov = np.linalg.inv(np.eye(d) + w.T @ w / SIGMA**2)    # S
  a = cov @ w.T / SIGMA**2                                # mean = a (x - b)
  std = np.sqrt(np.diag(cov))
  kernel = np.zeros((w.shape[0], 2 * d))
  kernel[:, :d] = a.T
  bias = np.concatenate([-a @ b + shift * std, np.log(scale_factor * std)])
  params = jax.tree_util.tree_map(lambda v: v, params)   # shallow copy of dicts
  params["params"]["encoder"]["dense_0"] = {
      "kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}
  return params


def sample_linear_gaussian(params, n, seed=0):
  w, b = _decoder_wb(params)
  rng = np.random.default_rng(seed)
  z = rng.standard_normal((n, w.shape[1]))
  x = z @ w.T + b + SIGMA * rng.standard_normal((n, w.shape[0]))
  return jnp.asarray(x.reshape((n,) + SMALL_SHAPE), jnp.float32)


def repeated_bounds(model, params, x, k, reps, seed):
  """L_K for `reps` independent draws: [reps, B]."""
  fn = jax.jit(jax.vmap(lambda r: model.iwae_bound(params, x, r, k)))
  return np.asarray(fn(jax.random.split(jax.random.key(seed), reps)), np.float64)


@pytest.fixture(scope="module")
def linear_model():
  cfg = linear_gaussian_config(latent_dim=2)
  model = vae.make(cfg, {"shape": SMALL_SHAPE})
  params = _init(model, jax.random.key(0), None).params
  return model, params


# --------------------------------------------------------- linear Gaussian


def test_exact_posterior_makes_every_log_weight_log_px():
  """With q = the exact posterior (d = 1, so mean-field is exact), every
  w_k = p(x, z_k) / q(z_k | x) equals p(x): L_K = log p(x) for every K."""
  cfg = linear_gaussian_config(latent_dim=1)
  model = vae.make(cfg, {"shape": SMALL_SHAPE})
  params = with_posterior_encoder(_init(model, jax.random.key(1), None).params)
  x = sample_linear_gaussian(params, 6)
  log_w = jax.jit(model.importance_log_weights, static_argnums=3)(
      params, x, jax.random.key(2), 50)
  assert log_w.shape == (50, 6)
  expected = exact_log_px(params, x)
  np.testing.assert_allclose(log_w, np.broadcast_to(expected, (50, 6)), atol=2e-3)
  # The ELBO is tight too: E_q[log p(x|z)] - KL(q || p) = log p(x).
  reps = 2000
  elbo = np.asarray(jax.jit(jax.vmap(lambda r: model.elbo(params, x, r)["elbo"]))(
      jax.random.split(jax.random.key(3), reps)), np.float64)
  se = elbo.std(0) / math.sqrt(reps)
  assert np.all(np.abs(elbo.mean(0) - expected) < 4.5 * se + 1e-3)


def test_elbo_matches_closed_form(linear_model):
  """E_q[log p(x|z)] = log N(x | W m + b, s^2 I) - tr(W diag(v) W^T) / (2 s^2)."""
  model, params = linear_model
  x = sample_linear_gaussian(params, 5, seed=1)
  mean, log_scale = (np.asarray(a, np.float64) for a in model.encode(params, x))
  w, b = _decoder_wb(params)
  var = np.exp(2 * log_scale)
  flat = np.asarray(x, np.float64).reshape(5, -1)
  recon = (stats.norm.logpdf(flat, mean @ w.T + b, SIGMA).sum(-1)
           - (var @ (w**2).sum(0)) / (2 * SIGMA**2))
  kl = 0.5 * np.sum(var + mean**2 - 1 - 2 * log_scale, -1)
  reps = 4000
  terms = jax.jit(jax.vmap(lambda r: model.elbo(params, x, r)))(
      jax.random.split(jax.random.key(4), reps))
  np.testing.assert_allclose(terms["kl"][0], kl, rtol=1e-4)
  elbo = np.asarray(terms["elbo"], np.float64)
  se = elbo.std(0) / math.sqrt(reps)
  assert np.all(np.abs(elbo.mean(0) - (recon - kl)) < 4.5 * se + 1e-3), (
      elbo.mean(0), recon - kl, se)
  np.testing.assert_allclose(terms["elbo"], -terms["reconstruction"] - terms["kl"],
                             rtol=1e-6)


def test_iwae_converges_to_exact_log_px(linear_model):
  """L_K <= log p(x) in expectation and the gap closes as K grows, with a
  proposal that is mean-field, 1.3x too wide and off by half a std."""
  model, params = linear_model
  params = with_posterior_encoder(params, scale_factor=1.3, shift=0.5)
  x = sample_linear_gaussian(params, 8, seed=2)
  log_px = exact_log_px(params, x)
  gaps, ses = {}, {}
  for k, reps in ((1, 2000), (10, 500), (5000, 40)):
    bounds = repeated_bounds(model, params, x, k, reps, seed=k)
    mean, se = bounds.mean(0), bounds.std(0) / math.sqrt(reps)
    # An upper bound can be crossed only by Monte Carlo noise (plus f32 rounding).
    assert np.all(mean <= log_px + 4.5 * se + 1e-3), (k, mean - log_px, se)
    gaps[k], ses[k] = log_px - mean, se
  assert np.all(gaps[1] > 0.2), gaps[1]                # a visibly loose ELBO
  # The gap shrinks with K (averaged over examples, beyond the noise) ...
  for lo, hi in ((1, 10), (10, 5000)):
    noise = 4.5 * np.sqrt(np.sum(ses[lo]**2 + ses[hi]**2)) / len(x)
    assert gaps[hi].mean() < gaps[lo].mean() - noise, (gaps, ses)
  # ... and all but closes at K = 5000, for every example.
  assert np.all(np.abs(gaps[5000]) < 0.02 * gaps[1]), (gaps[5000], gaps[1])
  assert np.all(np.abs(gaps[5000]) < 0.01), gaps[5000]


def test_chunked_importance_weights_match_unchunked(linear_model):
  model, params = linear_model
  params = with_posterior_encoder(params, scale_factor=1.5, shift=1.0)
  x = sample_linear_gaussian(params, 4, seed=4)
  k, chunk = 2000, 100
  full = model.importance_log_weights(params, x, jax.random.key(6), k)
  chunked = jax.jit(model.importance_log_weights, static_argnums=(3, 4))(
      params, x, jax.random.key(7), k, chunk)
  assert full.shape == chunked.shape == (k, 4)
  assert chunked.dtype == full.dtype
  full, chunked = np.asarray(full, np.float64), np.asarray(chunked, np.float64)
  # Every chunk draws fresh samples (no key reused across chunks).
  blocks = chunked.reshape(k // chunk, chunk, 4)
  assert not np.allclose(blocks[0], blocks[1])
  assert len(np.unique(chunked[:, 0])) > 0.99 * k
  # Same distribution: the means and stds of log w agree within their errors.
  se = np.sqrt(full.var(0) / k + chunked.var(0) / k)
  assert np.all(np.abs(full.mean(0) - chunked.mean(0)) < 4.5 * se)
  np.testing.assert_allclose(full.std(0), chunked.std(0), rtol=0.15)
  # chunk_size >= K falls back to the unchunked computation.
  np.testing.assert_array_equal(
      model.importance_log_weights(params, x, jax.random.key(6), k, k), full)
  # Both bounds estimate log p(x), within the Monte Carlo error of K = 2000.
  log_px = exact_log_px(params, x)
  for log_w in (full, chunked):
    bound = np.log(np.mean(np.exp(log_w - log_w.max(0)), 0)) + log_w.max(0)
    np.testing.assert_allclose(bound, log_px, atol=0.1)


# --------------------------------------------------- bounds of a random VAE


@pytest.fixture(scope="module")
def bernoulli_bounds():
  """ELBOs and L_K (K = 1, 5, 50) of an untrained Bernoulli VAE on 6 binary
  examples, for many independent draws: {'elbo' or K: [reps, B]}."""
  model = vae.make(small_config(), {"shape": SMALL_SHAPE})
  params = _init(model, jax.random.key(10), None).params
  x = (jax.random.uniform(jax.random.key(11), (6,) + SMALL_SHAPE) > 0.5
       ).astype(jnp.float32)
  reps = {"elbo": 2000, 1: 2000, 5: 1000, 50: 300}

  @jax.jit
  def draw(rng):                                    # one compilation for all
    keys = jax.random.split(rng, 4)
    out = {"elbo": jax.vmap(lambda r: model.elbo(params, x, r)["elbo"])(
        jax.random.split(keys[0], reps["elbo"]))}
    for key, k in zip(keys[1:], (1, 5, 50)):
      out[str(k)] = jax.vmap(lambda r, k=k: model.iwae_bound(params, x, r, k))(
          jax.random.split(key, reps[k]))
    return out

  return {int(k) if k.isdigit() else k: np.asarray(v, np.float64)
          for k, v in draw(jax.random.key(12)).items()}


def _mean_and_se(a):
  return a.mean(0), a.std(0) / math.sqrt(a.shape[0])


def test_elbo_and_single_sample_bound_agree(bernoulli_bounds):
  """The closed-form-KL ELBO and L_1 (Monte Carlo KL) have the same mean."""
  m_elbo, se_elbo = _mean_and_se(bernoulli_bounds["elbo"])
  m_1, se_1 = _mean_and_se(bernoulli_bounds[1])
  assert np.all(np.abs(m_elbo - m_1) < 4.5 * np.hypot(se_elbo, se_1))


def test_iwae_at_least_elbo_in_expectation(bernoulli_bounds):
  m_elbo, se_elbo = _mean_and_se(bernoulli_bounds["elbo"])
  for k in (5, 50):
    m_k, se_k = _mean_and_se(bernoulli_bounds[k])
    # Strictly above the ELBO for every example, by more than the noise.
    assert np.all(m_k - m_elbo > 4.5 * np.hypot(se_elbo, se_k)), (k, m_k, m_elbo)


def test_iwae_nondecreasing_in_k(bernoulli_bounds):
  means, ses = {}, {}
  for k in (1, 5, 50):
    b = bernoulli_bounds[k].mean(1)                     # average over examples
    means[k], ses[k] = b.mean(), b.std() / math.sqrt(len(b))
  for lo, hi in ((1, 5), (5, 50)):
    assert means[hi] - means[lo] > 4.5 * math.hypot(ses[lo], ses[hi]), (means, ses)


# ---------------------------------------------------------------- training


def _run_steps(model, state, batch, n):
  step = jax.jit(model.train_step)
  history = []
  for t in range(n):
    state, metrics = step(state, batch, jax.random.fold_in(state.rng, t))
    history.append(jax.device_get(metrics))
  return state, history


def test_train_step_decreases_loss():
  cfg = helpers.smoke_config("vae.py")                  # 784-64-z4, batch 32
  cfg.optimizer.schedule = "constant"
  model = vae.make(cfg, {"shape": (28, 28, 1)})
  batch = synthetic_batch()
  state = _init(model, jax.random.key(0), batch)
  state, history = _run_steps(model, state, batch, 50)
  losses = np.array([m["loss"] for m in history])
  assert np.all(np.isfinite(losses))
  assert int(state.step) == 50
  assert losses[-5:].mean() < 0.5 * losses[:5].mean(), losses
  # The ELBO loss is the negative ELBO, reconstruction + KL.
  last = history[-1]
  np.testing.assert_allclose(last["loss"], last["reconstruction"] + last["kl"],
                             rtol=1e-5)
  np.testing.assert_allclose(last["elbo"], -last["loss"], rtol=1e-5)


def test_beta_warmup_schedule():
  cfg = small_config("beta", hidden=(8,))
  cfg.model.beta, cfg.model.kl_warmup_steps, warmup = 4.0, 8, 8
  model = vae.make(cfg, {"shape": SMALL_SHAPE})
  batch = {"image": synthetic_batch(8, SMALL_SHAPE)["image"]}
  state = _init(model, jax.random.key(2), batch)
  _, history = _run_steps(model, state, batch, 12)
  betas = np.array([m["beta"] for m in history], np.float64)
  # Linear from (about) 0 to beta over `warmup` steps, then constant.
  assert betas[0] <= 4.0 / warmup + 1e-6
  np.testing.assert_allclose(np.diff(betas[:warmup]), 4.0 / warmup, rtol=1e-5)
  np.testing.assert_allclose(betas[warmup:], 4.0, rtol=1e-6)
  assert np.all(betas[:warmup - 1] < 4.0)
  # The loss weights the KL by the current beta: -beta-ELBO = recon + beta KL.
  for m in history:
    np.testing.assert_allclose(m["loss"], m["reconstruction"] + m["beta"] * m["kl"],
                               rtol=1e-5)


def test_kl_weight_is_the_linear_warmup():
  """β(t) = β min(1, (t + 1) / T), t from 0; β itself without warm-up."""
  t = jnp.arange(12)
  np.testing.assert_allclose(vae.kl_weight(t, beta=4.0, warmup_steps=8),
                             4.0 * np.minimum(1.0, (np.arange(12) + 1) / 8),
                             rtol=1e-6)
  assert float(vae.kl_weight(5, beta=0.5)) == 0.5
  assert jax.jit(lambda s: vae.kl_weight(s, beta=2.0, warmup_steps=4)
                 )(jnp.int32(1)).dtype == jnp.float32


def test_train_step_is_the_gradient_step_of_the_loss_with_the_steps_keys():
  """The default (MLP Bernoulli) VAE's step: pre_rng, z_rng = split(rng),
  x = preprocess(pre_rng), loss = -mean β-ELBO(x, z_rng), then Adam; the
  RNG stream the main job's results were measured with."""
  cfg = helpers.smoke_config("vae.py")
  cfg.optimizer.schedule = "constant"
  model = vae.make(cfg, {"shape": (28, 28, 1)})
  batch = synthetic_batch(8)
  state = _init(model, jax.random.key(0), batch)
  rng = jax.random.key(3)
  new, metrics = jax.jit(model.train_step)(state, batch, rng)
  assert set(metrics) == {"loss", "grad_norm", "beta", "elbo",
                          "reconstruction", "kl"}
  pre_rng, z_rng = jax.random.split(rng)
  x = model.preprocessing.apply(pre_rng, batch["image"])
  net = vae.build_networks(cfg.model, (28, 28, 1))

  def neg_elbo(params):
    return -jnp.mean(vae.elbo(net, params, x, z_rng)["beta_elbo"])

  loss, grads = jax.value_and_grad(neg_elbo)(state.params)
  np.testing.assert_allclose(metrics["loss"], loss, rtol=1e-6)
  np.testing.assert_allclose(metrics["grad_norm"], optax_global_norm(grads),
                             rtol=1e-5)
  assert int(new.step) == 1


def optax_global_norm(tree):
  return jnp.sqrt(sum(jnp.sum(l * l) for l in jax.tree_util.tree_leaves(tree)))


def test_module_functions_equal_the_bound_members(linear_model):
  """The VAE's members are the module-level functions with the network
  bound: a notebook calls them on loaded params without make()."""
  model, params = linear_model
  cfg = linear_gaussian_config(latent_dim=2)
  net = vae.build_networks(cfg.model, SMALL_SHAPE)
  assert net == model.net
  x = sample_linear_gaussian(params, 3, seed=7)
  key = jax.random.key(8)
  chex.assert_trees_all_equal(vae.elbo(net, params, x, key),
                              model.elbo(params, x, key))
  chex.assert_trees_all_equal(
      vae.importance_log_weights(net, params, x, key, 6, 3),
      model.importance_log_weights(params, x, key, 6, 3))
  chex.assert_trees_all_equal(vae.iwae_bound(net, params, x, key, 6),
                              model.iwae_bound(params, x, key, 6))
  to_unit = model.preprocessing.to_unit
  chex.assert_trees_all_equal(
      vae.interpolate(net, params, x[0], x[1], 4, to_unit=to_unit),
      model.interpolate(params, x[0], x[1], 4))
  chex.assert_trees_all_equal(vae.sample(net, params, key, 5, to_unit=to_unit),
                              model.sample(params, key, 5))
  # log p(x|z) is the fixed-scale Gaussian of the linear decoder.
  z = jax.random.normal(key, (3, 2))
  w, b = _decoder_wb(params)
  mean = np.asarray(z, np.float64) @ w.T + b
  expected = stats.norm.logpdf(np.asarray(x, np.float64).reshape(3, -1), mean,
                               SIGMA).sum(-1)
  np.testing.assert_allclose(vae.log_likelihood(net, params, z, x), expected,
                             rtol=1e-5)
  # The metric dictionaries use distributions.bits_per_dim.
  terms = vae.elbo(net, params, x, key)
  metrics = vae.elbo_metrics(terms, 16, math.log(256))
  np.testing.assert_array_equal(metrics["elbo_bits_per_dim"],
                                distributions.bits_per_dim(
                                    -terms["elbo"], 16, math.log(256)))


def test_model_is_a_base_model_that_declares_bfloat16_and_can_be_replaced():
  from gdm_jax.models import base                       # pylint: disable=g-import-not-at-top
  model = vae.make(small_config(), {"shape": SMALL_SHAPE})
  assert isinstance(model, base.Model) and model.supports_bfloat16
  replaced = dataclasses.replace(model, train_step=None)
  assert replaced.train_step is None and replaced.elbo is model.elbo


# ------------------------------------------------------- gradient checks


def test_check_grads_of_the_averaged_elbo():
  """Gradients of the averaged ELBO (Gaussian decoder with a learned scale)
  against finite differences, in float64."""
  cfg = small_config(hidden=(5,), likelihood="gaussian")
  cfg.data.binarization = "none"
  model = vae.make(cfg, {"shape": (2, 2, 1)})
  with jax.enable_x64(True):
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(3, 2, 2, 1)),
                    jnp.float64)
    params = jax.tree_util.tree_map(                # f64; non-zero decoder scale
        lambda p: jnp.asarray(p, jnp.float64) + 0.1,
        _init(model, jax.random.key(4), None).params)
    key = jax.random.key(5)
    loss = jax.jit(lambda p: -jnp.mean(model.elbo(p, x, key)["elbo"]))
    check_grads(loss, (params,), order=1, modes=("fwd", "rev"))


# ---------------------------------------------- other functions and config


def test_evaluate_metrics_consistent():
  cfg = small_config("gaussian")
  model = vae.make(cfg, {"shape": SMALL_SHAPE})
  params = _init(model, jax.random.key(6), None).params
  batch = synthetic_batch(5, SMALL_SHAPE)
  final = jax.jit(model.evaluate_final)(params, batch, jax.random.key(8))
  num_dims = math.prod(SMALL_SHAPE)
  assert final["elbo"].shape == final["nll"].shape == (5,)
  # bits/dim of the 8-bit data: (-ELBO / D + log 256) / ln 2; same for the NLL.
  np.testing.assert_allclose(
      final["elbo_bits_per_dim"],
      (-final["elbo"] / num_dims + math.log(256)) / math.log(2), rtol=1e-5)
  np.testing.assert_allclose(
      final["bits_per_dim"], (final["nll"] / num_dims + math.log(256)) / math.log(2),
      rtol=1e-5)


def test_manifold_of_2d_latent():
  cfg = vae_configs.get_config("latent2d")
  cfg.model.hidden = (16,)
  model = vae.make(cfg, {"shape": (28, 28, 1)})
  params = _init(model, jax.random.key(12), None).params
  grid = jax.jit(model.manifold)(params)
  assert grid.shape == (400, 28, 28, 1)
  assert float(grid.min()) >= 0.0 and float(grid.max()) <= 1.0
  # The lattice is the standard-normal quantiles ppf((i + 0.5) / 20): z1 grows
  # left to right, z2 bottom to top (row-major, top row first).
  q = stats.norm.ppf((np.arange(20) + 0.5) / 20)
  corners = jnp.asarray([[q[0], q[-1]], [q[-1], q[-1]], [q[0], q[0]], [q[-1], q[0]]],
                        jnp.float32)
  np.testing.assert_allclose(grid[jnp.array([0, 19, 380, 399])],
                             jax.jit(model.decode_mean)(params, corners), atol=1e-5)
  small = jax.jit(model.manifold, static_argnums=1)(params, 3)
  assert small.shape == (9, 28, 28, 1)


def test_manifold_needs_2d_latent():
  model = vae.make(small_config(latent_dim=3), {"shape": SMALL_SHAPE})
  params = _init(model, jax.random.key(13), None).params
  with pytest.raises(ValueError, match="latent_dim"):
    model.manifold(params)


@pytest.mark.parametrize("field,value,match", [
    ("architecture", "foo", "model.architecture"),
    ("latent_dim", 0, "model.latent_dim"),
    ("likelihood", "poisson", "model.likelihood"),
    ("objective", "vlb", "model.objective"),
    ("hidden", (16, 0), "model.hidden"),
    ("num_samples", 0, "model.num_samples"),
    ("eval_chunk_size", 7, "model.eval_chunk_size"),
    ("fixed_scale", 0.0, "model.fixed_scale"),
    ("beta", -1.0, "model.beta"),
    ("kl_warmup_steps", -1, "model.kl_warmup_steps"),
])
def test_invalid_model_config_raises(field, value, match):
  cfg = small_config()
  setattr(cfg.model, field, value)
  with pytest.raises(ValueError, match=match):
    vae.make(cfg, {"shape": SMALL_SHAPE})


def test_bernoulli_needs_binarised_data():
  cfg = small_config()
  cfg.data.binarization = "none"
  with pytest.raises(ValueError, match="data.binarization"):
    vae.make(cfg, {"shape": SMALL_SHAPE})


def test_gaussian_needs_continuous_data():
  cfg = small_config(likelihood="gaussian")              # data still binarised
  with pytest.raises(ValueError, match="data.binarization"):
    vae.make(cfg, {"shape": SMALL_SHAPE})


@pytest.mark.parametrize("field,value", [("beta", 2.0), ("kl_warmup_steps", 100)])
def test_iwae_objective_rejects_kl_weighting(field, value):
  cfg = small_config("iwae")
  setattr(cfg.model, field, value)
  with pytest.raises(ValueError, match=field):
    vae.make(cfg, {"shape": SMALL_SHAPE})


def test_decoder_log_likelihood_rejects_an_unknown_likelihood():
  with pytest.raises(ValueError, match="likelihood must be one of"):
    vae.decoder_log_likelihood("poisson", f(2, 4), None, f(2, 4))


# ------------------------------------------------------------ input checks


@pytest.fixture(scope="module")
def smoke_vae():
  return vae.make(helpers.smoke_config("vae.py"), {"shape": (28, 28, 1)})


MODEL_CASES = [
    (lambda m: m.evaluate({}, {"image": u8(2, 32, 32, 1)}, KEY),
     ["vae.evaluate", "batch['image']", "(*, 28, 28, 1)", "(2, 32, 32, 1)"]),
    (lambda m: m.train_step(None, {"x": f(2, 2)}, KEY),
     ["vae.train_step", "key 'image'", "['x']"]),
    (lambda m: m.elbo({}, f(2, 784), KEY),
     ["vae.elbo", "`x`", "(2, 784)"]),
    (lambda m: m.importance_log_weights({}, f(2, 28, 28, 1), KEY, 0),
     ["vae.importance_log_weights", "`k`", "0"]),
    (lambda m: m.iwae_bound({}, f(2, 28, 28, 1), KEY, 4, 0),
     ["vae.importance_log_weights", "`chunk_size`", "0"]),
    (lambda m: m.sample({}, KEY, 0), ["vae.sample", "`n`", "0"]),
]


@pytest.mark.parametrize("call, expected", MODEL_CASES)
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    call, expected, smoke_vae):
  assert_raises_naming(lambda: call(smoke_vae), expected)

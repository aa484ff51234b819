"""WAE: the MMD penalty with the paper's kernel scales (≈ 0 between prior
samples, positive for a shifted or scaled q(z), its gradient moves codes to
the prior); the authors' median-heuristic RBF width; WAE-MMD and WAE-GAN
train steps (the loss they descend equals the module-level objective,
finite metrics, one compilation, λ on the discriminator's objective); the
encoder is deterministic."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import wae as wae_config
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import latent_priors
from gdm_jax.models import wae
from tests import helpers

SHAPE = (28, 28, 1)
D = 8
N = 100       # the configs' batch size


def _batch(n=20, seed=0):
  rng = jax.random.PRNGKey(seed)
  return {"image": jax.random.randint(rng, (n,) + SHAPE, 0, 256).astype(jnp.uint8),
          "label": jnp.arange(n, dtype=jnp.int32) % 10}


def _model(variant="", **model_fields):
  """experiments/configs/wae.py[:variant] at smoke sizes, with `model_fields`."""
  c = helpers.smoke_config(f"wae.py:{variant}")
  for k, v in model_fields.items():
    c.model[k] = v
  return c, wae.make(c, {"shape": SHAPE})


@pytest.fixture(scope="module")
def prior():
  return latent_priors.get_prior("gaussian", D)


# q(z) = law of a z + b, z ~ P_Z: (a, b) = (1, 0) is the null.
TRANSFORMS = ((1.0, 0.0), (1.0, 0.5), (1.5, 0.0), (0.5, 0.0))


def _replicates(prior, mmd, reps=200, seed=0):
  """mmd(a·(prior samples) + b, independent prior samples), `reps` batches
  of N for each (a, b) in TRANSFORMS: [len(TRANSFORMS), reps]."""
  def one(key):
    kq, kp = jax.random.split(key)
    zq, zp = prior.sample(kq, N), prior.sample(kp, N)
    return jnp.stack([mmd(a * zq + b, zp) for a, b in TRANSFORMS])
  keys = jax.random.split(jax.random.PRNGKey(seed), reps)
  return np.asarray(jax.jit(jax.vmap(one))(keys)).T


@pytest.mark.parametrize("name", ["imq", "rbf"])
def test_mmd_zero_for_equal_and_positive_for_different_q(prior, name):
  kernel = wae.make_kernel(name, prior.sigma2)
  vals = _replicates(prior, functools.partial(wae.mmd_penalty, kernel=kernel))
  null = vals[0]
  se = null.std() / np.sqrt(len(null))
  # Unbiased: mean 0 within 4 standard errors; negative values occur.
  assert abs(null.mean()) < 4 * se, (null.mean(), se)
  assert null.min() < 0 < null.max()
  for (a, b), alt in zip(TRANSFORMS[1:], vals[1:]):
    se = alt.std() / np.sqrt(len(alt))
    assert alt.mean() > 10 * se, (a, b, alt.mean(), se)
    # Clearly above the null's spread, batch by batch.
    assert np.mean(alt > np.quantile(null, 0.95)) > 0.9, (a, b)


@pytest.mark.parametrize("name", ["imq", "rbf"])
def test_mmd_gradient_moves_codes_to_the_prior(prior, name):
  kernel = wae.make_kernel(name, prior.sigma2)

  @jax.jit
  def run(key):
    kq, kp, kt = jax.random.split(key, 3)
    z = 1.6 * prior.sample(kq, N) + 0.7
    grad = jax.grad(wae.mmd_penalty)(z, prior.sample(kp, N), kernel)
    moved = z - 0.5 / jnp.max(jnp.abs(grad)) * grad     # a small move
    # Judged on fresh prior samples (not those the gradient saw).
    fresh = jax.vmap(lambda k: prior.sample(k, N))(jax.random.split(kt, 20))
    mmd = lambda q: jnp.mean(jax.vmap(lambda p: wae.mmd_penalty(q, p, kernel))(fresh))
    spread = lambda q: jnp.mean(jnp.square(q - q.mean(0)))
    return (mmd(z), mmd(moved), jnp.linalg.norm(z.mean(0)),
            jnp.linalg.norm(moved.mean(0)), spread(z), spread(moved))

  before, after, m0, m1, s0, s1 = (float(v) for v in run(jax.random.PRNGKey(3)))
  assert after < before
  # The mean and the spread of the codes both move towards N(0, I).
  assert m1 < m0 and s1 < s0


def test_median_bandwidth_is_the_authors_definition():
  """σ_k² = the ((n² - n)/2)-th largest cross squared distance + the same
  rank among the codes' n² squared distances (wae.py, mmd_penalty, of
  github.com/tolstikhin/wae), checked against numpy; the kernel is one
  Gaussian exp(-||x - y||² / (2 σ_k²))."""
  rng = np.random.default_rng(0)
  zq = rng.normal(size=(9, 3)).astype(np.float32)
  zp = rng.normal(size=(9, 3)).astype(np.float32) + 0.5
  r = (81 - 9) // 2
  cross = np.sum((zq[:, None] - zp[None]) ** 2, -1).ravel()
  within = np.sum((zq[:, None] - zq[None]) ** 2, -1)
  want = np.sort(cross)[::-1][r - 1] + np.sort(within.ravel())[::-1][r - 1]
  # The second term is the median of the 36 distinct pairwise distances.
  pairs = within[np.triu_indices(9, 1)]
  np.testing.assert_allclose(np.sort(within.ravel())[::-1][r - 1],
                             np.sort(pairs)[len(pairs) // 2], rtol=1e-6)
  s2 = wae.median_bandwidth2(jnp.asarray(zq), jnp.asarray(zp))
  np.testing.assert_allclose(s2, want, rtol=1e-5)
  k = wae.median_rbf_kernel(jnp.asarray(zq), jnp.asarray(zp))
  np.testing.assert_allclose(k(zq[:1], zp[:1]),
                             [[np.exp(-cross[0] / (2 * want))]], rtol=1e-5)
  # Collapsed codes: a finite kernel and a finite penalty.
  zero = jnp.zeros((4, 3))
  assert np.isfinite(float(wae.median_rbf_mmd_penalty(zero, zero)))


def test_median_rbf_penalty_tells_q_from_the_prior(prior):
  vals = _replicates(prior, wae.median_rbf_mmd_penalty, reps=100)
  null = vals[0]
  for (a, b), alt in zip(TRANSFORMS[1:], vals[1:]):
    se = alt.std() / np.sqrt(len(alt))
    assert alt.mean() > 10 * se, (a, b, alt.mean(), se)
    assert alt.mean() > null.mean() + 5 * null.std() / np.sqrt(len(null))
  # Not exactly unbiased (a data-dependent width), but near 0 on the null
  # compared with the smallest shift.
  assert abs(null.mean()) < 0.1 * min(alt.mean() for alt in vals[1:])


def test_kernel_scale_follows_the_prior():
  """C = 2 d σ_z² s: k(x, y) at ||x - y||² = C_s·1 for one scale is 1/2."""
  k = wae.make_kernel("imq", 2.0, scales=(1.0,))
  x = jnp.zeros((1, D))
  y = jnp.zeros((1, D)).at[0, 0].set(jnp.sqrt(2.0 * D * 2.0))
  np.testing.assert_allclose(k(x, y), [[0.5]], rtol=1e-6)
  r = wae.make_kernel("rbf", 2.0, scales=(1.0,))
  np.testing.assert_allclose(r(x, y), [[np.exp(-1.0)]], rtol=1e-6)
  with pytest.raises(ValueError, match="model.kernel"):
    wae.make_kernel("laplace", 1.0)


def _check_step(m, c, batch, step, state):
  """Two jitted steps: one compilation, finite metrics, the loss descended,
  a deterministic encoder; returns (state after the first step, metrics)."""
  s1, m1 = step(state, batch, jax.random.PRNGKey(1))
  s2, m2 = step(s1, batch, jax.random.PRNGKey(2))
  assert step._cache_size() == 1
  assert int(s2.step) == 2
  for ms in (m1, m2):
    for k, v in ms.items():
      assert np.isfinite(float(v)), k
  # The loss descended is c + λ D_Z (cost_scale 1).
  np.testing.assert_allclose(float(m1["loss"]),
                             float(m1["reconstruction"] + m1["penalty"]), rtol=1e-5)
  # Deterministic encoder: the same codes twice; evaluate's reconstruction
  # does not depend on its key.
  x = m.preprocessing.apply(jax.random.PRNGKey(0), batch["image"])
  np.testing.assert_array_equal(m.encode(s2.params, x), m.encode(s2.params, x))
  evaluate = jax.jit(m.evaluate)
  e1 = evaluate(s2.params, batch, jax.random.PRNGKey(7))
  e2 = evaluate(s2.params, batch, jax.random.PRNGKey(8))
  np.testing.assert_array_equal(e1["reconstruction"], e2["reconstruction"])
  np.testing.assert_allclose(e1["reconstruction"], m.cost(s2.params, x), rtol=1e-5)
  # [0, 1] data without dequantisation: the cost is against pixel / 255.
  np.testing.assert_allclose(e1["squared_error"], e1["reconstruction"], rtol=1e-6)
  assert m.sample(s2.params, jax.random.PRNGKey(3), 5).shape == (5,) + SHAPE
  return s1, m1


def test_wae_mmd_train_step():
  c, m = _model()
  batch = _batch()
  state = m.init(jax.random.PRNGKey(0), batch)
  s1, m1 = _check_step(m, c, batch, jax.jit(m.train_step), state)
  # WAE-MMD's penalty is λ MMD²_u with the IMQ kernel (the `mmd` metric).
  np.testing.assert_allclose(float(m1["penalty"]),
                             c.model.penalty_weight * float(m1["mmd"]), rtol=1e-4)
  assert set(s1.params) == {"encoder", "decoder"}
  # The loss is Algorithm 2's objective at the old parameters.
  x, z_prior = ae.prepare(m.preprocessing, m.prior, batch["image"],
                          jax.random.PRNGKey(1))
  loss, aux = wae.wae_mmd_objective(
      m.net, state.params, x, z_prior, mmd=m.mmd,
      penalty_weight=c.model.penalty_weight)
  np.testing.assert_allclose(m1["loss"], loss, rtol=1e-5)
  np.testing.assert_allclose(m1["penalty"], aux["penalty"], rtol=1e-5)


def test_wae_median_rbf_train_step():
  """model.rbf_bandwidth = 'median': the penalty is λ times the authors'
  median-width RBF MMD² of the step's codes and prior samples."""
  c, m = _model("mmd_rbf", rbf_bandwidth="median")
  assert m.kernel is None and m.mmd is wae.median_rbf_mmd_penalty
  assert "median" in m.protocol()["kernel"]
  batch = _batch()
  state = m.init(jax.random.PRNGKey(0), batch)
  _, m1 = _check_step(m, c, batch, jax.jit(m.train_step), state)
  x, z_prior = ae.prepare(m.preprocessing, m.prior, batch["image"],
                          jax.random.PRNGKey(1))
  z = m.encode(state.params, x)
  np.testing.assert_allclose(
      m1["penalty"],
      c.model.penalty_weight * wae.median_rbf_mmd_penalty(z, z_prior),
      rtol=1e-4)


def test_wae_gan_train_step_and_lambda_on_the_discriminator():
  """Algorithm 1 in one step; D ascends λ[log D(z) + log(1 - D(ẑ))]: with
  plain SGD its update is proportional to λ."""
  batch = _batch()
  moves = {}
  for lam in (1.0, 3.0):
    c = helpers.smoke_config("wae.py:gan")
    c.model.penalty_weight = lam
    c.optimizer.discriminator.name = "sgd"
    c.optimizer.discriminator.learning_rate = 0.01
    m = wae.make(c, {"shape": SHAPE})
    state = m.init(jax.random.PRNGKey(0), batch)
    step = jax.jit(m.train_step)
    if lam == 1.0:
      new, metrics = _check_step(m, c, batch, step, state)
      assert set(new.params) == {"encoder", "decoder", "discriminator"}
      assert 0 <= float(metrics["d_accuracy"]) <= 1
      assert float(metrics["penalty"]) > 0          # λ · -log D > 0
    else:
      new, _ = step(state, batch, jax.random.PRNGKey(1))
    moves[lam] = jax.tree.map(lambda a, b: b - a, state.params["discriminator"],
                              new.params["discriminator"])
  for a, b in zip(jax.tree.leaves(moves[1.0]), jax.tree.leaves(moves[3.0])):
    np.testing.assert_allclose(b, 3.0 * a, rtol=1e-4, atol=1e-7)
  assert any(float(jnp.max(jnp.abs(a))) > 0 for a in jax.tree.leaves(moves[1.0]))


def test_config_errors():
  with pytest.raises(ValueError, match="model.penalty"):
    _model(penalty="wgan")
  with pytest.raises(ValueError, match="model.kernel"):
    _model(kernel="laplace")
  with pytest.raises(ValueError, match="model.rbf_bandwidth must be one of"):
    _model(rbf_bandwidth="mean")
  with pytest.raises(ValueError, match=r"model.penalty_weight \(λ\)"):
    _model(penalty_weight=-1.0)
  with pytest.raises(ValueError, match="model.cost_scale"):
    _model(cost_scale=0.0)
  with pytest.raises(ValueError, match="model.discriminator_hidden"):
    _model("gan", discriminator_hidden=(0,))
  c = helpers.smoke_config("wae.py")
  c.data.binarization = "dynamic"
  with pytest.raises(ValueError, match="binarization='none'"):
    wae.make(c, {"shape": SHAPE})
  with pytest.raises(ValueError, match="unknown variant"):
    wae_config.get_config("nope")

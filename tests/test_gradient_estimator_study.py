"""The gradient-estimator study (experiments/gradient_estimator_study.py).

First its per-sample formulas against autodiff of the library's surrogates,
then the smoke run: the unbiased estimators' means agree with the exact
gradient, the relaxed Gumbel-softmax is biased, the reparameterised
estimator has the smallest variance on the continuous objectives, the
baselines reduce REINFORCE's variance, and variances fall as 1/S.
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import gradient_estimator_study as study
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax.models import vae
from tests import helpers


def test_score_function_terms_are_surrogate_gradients():
  """(1/S) Σ (f_s - b_s) ∇ log q(z_s) = ∇ mean_s score_function_surrogate."""
  mu, sigma, c = 0.3, 1.4, 1.0
  samples = study.gaussian_samples(jax.random.key(0), mu, sigma, c, 3, 5)
  theta = jnp.asarray([mu, sigma])
  z = mu + sigma * (jax.random.normal(jax.random.key(0), (3, 5)))
  f = (z - c) ** 2
  np.testing.assert_allclose(samples["f"], f, rtol=1e-5)
  terms = study.score_function_terms(samples["f"], samples["score"], 4, 0.7)

  def surrogate(t, zr, loo):
    log_q = distributions.gaussian_log_prob(zr, t[0], jnp.log(t[1]))
    fr = (zr - c) ** 2
    b = estimators.leave_one_out_baseline(fr) if loo else 0.7
    return jnp.mean(estimators.score_function_surrogate(log_q, fr, b))

  for r in range(3):
    zr = z[r, :4]
    np.testing.assert_allclose(terms["reinforce_loo"][r],
                               jax.grad(surrogate)(theta, zr, True), rtol=1e-4)
    np.testing.assert_allclose(terms["reinforce_mean"][r],
                               jax.grad(surrogate)(theta, zr, False), rtol=1e-4)
  # The pathwise terms: ∇_{μ,σ} (μ + σ ε - c)² = 2 (z - c) (1, ε).
  eps = (z - mu) / sigma
  np.testing.assert_allclose(samples["reparam"][..., 0], 2 * (z - c), rtol=1e-4)
  np.testing.assert_allclose(samples["reparam"][..., 1], 2 * (z - c) * eps,
                             rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError):
    estimators.leave_one_out_baseline(samples["f"][:, :1], axis=1)


def test_vae_per_sample_terms_match_autodiff():
  """The VAE's per-sample pathwise and score terms at u = (μ, log σ)."""
  cfg = helpers.smoke_config("gradient_estimator_study.py")
  model = vae.make(cfg, {"shape": (4, 4, 1)})
  params = jax.jit(model.init)(jax.random.key(1), None).params
  x = (jax.random.uniform(jax.random.key(2), (3, 4, 4, 1)) > 0.5).astype(jnp.float32)
  s = study.vae_samples(model, params, x, jax.random.key(3), 1, 2)
  mean, log_scale = model.encode(params, x)
  d = mean.shape[-1]
  eps = jax.random.normal(jax.random.fold_in(jax.random.key(3), 0), (2, 3, d))
  z = mean + jnp.exp(log_scale) * eps

  def log_lik(zz):
    logits, _ = model.net.apply(params, zz, method=vae.VAENet.decode)
    return jnp.sum(distributions.bernoulli_log_prob(logits, x), (1, 2, 3))

  for i in range(2):
    u = jnp.concatenate([mean, log_scale], -1)
    g_path = jax.grad(lambda uu: jnp.sum(log_lik(
        uu[:, :d] + jnp.exp(uu[:, d:]) * eps[i])))(u)
    g_score = jax.grad(lambda uu: jnp.sum(distributions.gaussian_log_prob(
        z[i], uu[:, :d], uu[:, d:])))(u)
    np.testing.assert_allclose(s["f"][0, i], log_lik(z[i]), rtol=1e-5)
    np.testing.assert_allclose(s["reparam"][0, i], g_path, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s["score"][0, i], g_score, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("grad_study")
  config = helpers.smoke_config("gradient_estimator_study.py")
  out = study.run(config, str(workdir))
  return out, workdir


def _unbiased(res):
  return [n for n in res["estimators"] if not n.startswith("gumbel")]


def test_smoke_gaussian(smoke):
  res = smoke[0]["results"]["gaussian"]
  est = res["estimators"]
  np.testing.assert_allclose(res["exact_gradient"], [2 * (0.5 - 2.0), 2.0])
  for name in _unbiased(res):
    z = [v for v in est[name]["max_abs_z"] if v is not None]
    assert max(z) < 4.5, (name, z)                   # unbiased at every S
  for i, _ in enumerate(res["sample_sizes"]):
    assert est["reparam"]["variance"][i] < est["reinforce"]["variance"][i]
  # Variance ∝ 1/S: the exact slope of a mean of i.i.d. terms is -1.
  assert abs(est["reparam"]["slope"] + 1) < 0.1, est["reparam"]["slope"]
  for name in ("reinforce", "reinforce_mean"):
    assert abs(est[name]["slope"] + 1) < 0.3, (name, est[name]["slope"])
  # A baseline near E[f] reduces REINFORCE's variance.
  assert est["reinforce_mean"]["variance"][-1] < est["reinforce"]["variance"][-1]


def test_smoke_categorical(smoke):
  res = smoke[0]["results"]["categorical"]
  est = res["estimators"]
  for name in _unbiased(res):
    z = [v for v in est[name]["max_abs_z"] if v is not None]
    assert max(z) < 4.5, (name, z)
  # The relaxed estimator targets the relaxed objective: biased for the
  # discrete gradient, beyond its noise.
  relaxed = est["gumbel_relaxed"]
  assert relaxed["bias_norm"][-1] > 5 * relaxed["noise_norm"][-1], relaxed
  assert est["reinforce_loo"]["variance"][-1] < est["reinforce"]["variance"][-1]


def test_smoke_vae(smoke):
  res = smoke[0]["results"]["vae"]
  est = res["estimators"]
  v = {n: est[n]["variance"][-1] for n in est}
  assert v["reparam"] < v["reinforce_loo"] < v["reinforce"], v
  assert v["reinforce_mean"] < v["reinforce"], v
  # Unbiased: each mean is within a few noise norms of the reference.
  for name in est:
    assert est[name]["bias_norm"][-1] < 3 * est[name]["noise_norm"][-1], (
        name, est[name]["bias_norm"], est[name]["noise_norm"])


def test_smoke_outputs(smoke):
  out, workdir = smoke
  saved = json.loads((workdir / study.JSON_NAME).read_text())
  assert set(saved["results"]) == {"gaussian", "vae", "categorical"}
  assert saved["protocol"]["sample_sizes"] == [1, 4, 16]
  for res in saved["results"].values():
    for rec in res["estimators"].values():
      assert len(rec["variance"]) == 3 and math.isfinite(rec["slope"])
  assert (workdir / study.FIGURE_NAME).stat().st_size > 10_000
  assert "reparam" in study.format_table(out["results"])


@pytest.mark.parametrize("field,value,match", [
    ("sample_sizes", (4, 2), "sample_sizes"),
    ("sample_sizes", (0, 2), "sample_sizes"),
    ("objectives", ("gaussian", "beta"), "objectives"),
])
def test_invalid_study_config(tmp_path, field, value, match):
  config = helpers.smoke_config("gradient_estimator_study.py")
  setattr(config.study, field, value)
  with pytest.raises(ValueError, match=match):
    study.run(config, str(tmp_path))

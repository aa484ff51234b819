"""The divergence and transport studies (experiments/{mode_seeking,
disjoint_supports,kantorovich_rubinstein}_study.py).

The mathematics first (the mode-seeking problem's quadrature divergences
against scipy, f-divergences and Monte Carlo, the earth mover's example three
ways, the disjoint supports' closed forms), then each study's smoke run
against the closed forms it is about. The library pieces they use are tested
beside them: tests/test_quadrature.py, tests/test_critics.py and
tests/data/test_toy.py (1-D mixtures).
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy import stats

from experiments import disjoint_supports_study as ds
from experiments import kantorovich_rubinstein_study as kr
from experiments import mode_seeking_study as ms
from gdm_jax import critics
from gdm_jax import divergences
from gdm_jax import quadrature
from gdm_jax.eval import toy_metrics
from tests import helpers


def _smoke(study: str):
  """experiments/configs/<study>_study.py at the tests' smoke sizes."""
  return helpers.smoke_config(f"{study}_study.py")


LOG_2 = math.log(2.0)


# ------------------------------------------------------ mode seeking ----


@pytest.fixture(scope="module")
def ms_problem():
  return ms.Problem(_smoke("mode_seeking"))


def test_quadrature_divergences_match_scipy_f_divergences_and_monte_carlo(
    ms_problem):
  mu, sigma = 0.7, 1.3
  quad = {k: float(v) for k, v in ms_problem.divergences(
      jnp.float32(mu), jnp.float32(math.log(sigma))).items()}
  pi = lambda x: 0.5 * stats.norm.pdf(x, -2, 0.5) + 0.5 * stats.norm.pdf(
      x, 2, 0.5)
  p = lambda x: stats.norm.pdf(x, mu, sigma)
  m = lambda x: 0.5 * (pi(x) + p(x))
  kl = lambda a, b: integrate.quad(
      lambda x: a(x) * (np.log(a(x)) - np.log(b(x))) if a(x) > 0 else 0.0,
      -15, 15, limit=400, points=[-2, 2, mu])[0]
  assert quad["forward_kl"] == pytest.approx(kl(pi, p), rel=1e-4)
  assert quad["reverse_kl"] == pytest.approx(kl(p, pi), rel=1e-4)
  assert quad["jsd"] == pytest.approx(0.5 * kl(pi, m) + 0.5 * kl(p, m),
                                      rel=1e-4)
  # The same integrals as f-divergences of the quadrature masses
  # (D_f(P||Q) = Σ q_k f(p_k / q_k); 'jensen_shannon' is 2 JSD).
  x, w = quadrature.gauss_legendre(-8.0, 8.0, 200, 8)
  pm, qm = w * pi(x), w * p(x)
  np.testing.assert_allclose(divergences.discrete_f_divergence(
      divergences.FORWARD_KL, qm, pm), quad["reverse_kl"], rtol=1e-3)
  np.testing.assert_allclose(0.5 * divergences.discrete_f_divergence(
      divergences.JENSEN_SHANNON, pm, qm), quad["jsd"], rtol=1e-3)
  mc = ms.monte_carlo(ms_problem, mu, sigma, jax.random.PRNGKey(0), 20_000)
  for k, (mean, se) in mc.items():
    assert abs(mean - quad[k]) < 5 * se + 1e-4, (k, mean, se, quad[k])


def test_jsd_is_between_zero_and_log2_even_at_extremes(ms_problem):
  mus = jnp.array([-20.0, -2.0, 0.0, 1.0, 2.0, 20.0])
  for log_sigma in (math.log(0.2), 0.0, math.log(5.0)):
    jsd = jax.vmap(lambda m, ls=log_sigma: ms_problem.divergences(
        m, jnp.float32(ls))["jsd"])(mus)
    assert np.all(np.asarray(jsd) >= -1e-6) and np.all(
        np.asarray(jsd) <= LOG_2 + 1e-5), jsd
  # Disjoint in effect (20 standard deviations apart): JSD -> log 2.
  far = ms_problem.divergences(jnp.float32(20.0), jnp.float32(math.log(0.2)))
  assert float(far["jsd"]) == pytest.approx(LOG_2, abs=1e-4)


@pytest.fixture(scope="module")
def ms_out(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("mode_seeking")
  out = ms.run(_smoke("mode_seeking"), str(workdir))
  return out, workdir


def test_mode_seeking_smoke_run_fits_and_outputs(ms_out):
  out, workdir = ms_out
  assert (workdir / "mode_seeking_study.png").read_bytes()[:4] == b"\x89PNG"
  saved = json.loads((workdir / "mode_seeking_study.json").read_text())
  assert len(saved["fits"]) == 3 * len(_smoke("mode_seeking").fit.inits)
  # Forward KL = moment matching, from every start: μ = 0, σ = √4.25.
  assert out["closed_form"]["mixture_std"] == pytest.approx(math.sqrt(4.25))
  for f in out["fits"]:
    if f["divergence"] == "forward_kl":
      assert f["mu"] == pytest.approx(0.0, abs=1e-3)
      assert f["sigma"] == pytest.approx(math.sqrt(4.25), abs=1e-3)
  # Reverse KL from a start near a mode: that mode, its std, value ≈ log 2.
  rev = {tuple(f["init"]): f for f in out["fits"]
         if f["divergence"] == "reverse_kl"}
  for init, mode in (((-3.0, 1.0), -2.0), ((3.0, 1.0), 2.0)):
    f = rev[init]
    assert f["mu"] == pytest.approx(mode, abs=0.01)
    assert f["sigma"] == pytest.approx(0.5, abs=0.01)
    assert f["quadrature"]["reverse_kl"] == pytest.approx(LOG_2, abs=1e-3)
  # The landscapes: JSD in [0, log 2]; the profiles are minima over σ.
  land = out["landscape"]
  for key in ("fixed_sigma", "profile"):
    assert np.all(land[key]["jsd"] >= -1e-6)
    assert np.all(land[key]["jsd"] <= LOG_2 + 1e-5)
    assert np.all(land[key]["reverse_kl"] >= 0)
  assert np.all(land["profile"]["forward_kl"]
                <= land["fixed_sigma"]["forward_kl"] + 1e-6)
  # Quadrature and Monte Carlo agree at every fit.
  for f in out["fits"]:
    for k, (mean, se) in f["monte_carlo"].items():
      assert abs(mean - f["quadrature"][k]) < 5 * se + 1e-3, (f, k)


# -------------------------------------------------- disjoint supports ----


def test_disjoint_supports_closed_forms():
  cf = ds.closed_form(np.array([-0.5, 0.0, 0.25]))
  np.testing.assert_array_equal(cf["kl"], [np.inf, 0.0, np.inf])
  np.testing.assert_allclose(cf["jsd"], [LOG_2, 0.0, LOG_2])
  np.testing.assert_allclose(cf["w1"], [0.5, 0.0, 0.25])
  np.testing.assert_allclose(cf["d_w1_d_theta"], [-1.0, np.nan, 1.0])
  np.testing.assert_allclose(cf["d_jsd_d_theta"], [0.0, np.nan, 0.0])


@pytest.fixture(scope="module")
def ds_out(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("disjoint")
  return ds.run(_smoke("disjoint_supports"), str(workdir)), workdir


def test_disjoint_supports_smoke_learned_estimates(ds_out):
  out, workdir = ds_out
  assert (workdir / "disjoint_supports_study.png").read_bytes()[:4] == (
      b"\x89PNG")
  json.loads((workdir / "disjoint_supports_study.json").read_text())
  theta = out["theta"]
  lam = _smoke("disjoint_supports").critics.gp.gp_weight
  gp, disc = out["learned"]["gp"], out["learned"]["discriminator"]
  far = np.abs(theta) >= 0.5
  assert far.sum() >= 2
  # The GP critic's estimate: within 10% of W1 = |θ|, and closer still to
  # the penalised optimum |θ| + θ²/(2λ).
  np.testing.assert_allclose(gp["estimate"][far], np.abs(theta[far]),
                             rtol=0.1)
  np.testing.assert_allclose(gp["estimate"][far],
                             critics.gp_critic_value(theta[far], lam),
                             rtol=0.04)
  # ... and it gives θ the gradient sign(θ) where JSD gives ~0.
  np.testing.assert_allclose(gp["d_estimate_d_theta"][far],
                             np.sign(theta[far]), rtol=0.15)
  assert np.all(np.abs(disc["d_estimate_d_theta"][far]) < 0.05)
  # The discriminator's plug-in JSD: a lower bound that reaches ~log 2.
  assert np.all(disc["estimate"] <= LOG_2 + 1e-4)
  assert np.all(disc["estimate"][far] > LOG_2 - 0.05)
  # Exact OT between samples ~ |θ| (finite-sample bias is small).
  np.testing.assert_allclose(out["sample_w1"][far], np.abs(theta[far]),
                             atol=0.03)
  # Weight clipping: a positive multiple K̂ of |θ|, with K̂ << 1 (c = 0.01),
  # and (E_π f - E_p f) / max||∇f|| is at most W1 (up to the grid).
  clip = out["learned"]["clip"]["estimate"]
  assert np.all(clip[far] > 0)
  assert 0 < out["clip_fit"]["scale_k_hat"] < 0.1
  assert np.all(out["clip_fit"]["estimate_over_lipschitz"][far]
                <= np.abs(theta[far]) * 1.05)


# ---------------------------------------------- Kantorovich-Rubinstein ----


def test_earth_movers_example_primal_cdf_and_dual_agree():
  d = kr.discrete_w1(kr.EARTH_MOVER_P, kr.EARTH_MOVER_Q)
  for key in ("primal_pot", "primal_linprog", "cdf", "dual_linprog"):
    assert d[key] == pytest.approx(5.0, abs=1e-9), key
  assert d["per_unit_mass"] == pytest.approx(0.5)
  plan = np.asarray(d["plan"])
  np.testing.assert_allclose(plan.sum(1), kr.EARTH_MOVER_P, atol=1e-12)
  np.testing.assert_allclose(plan.sum(0), kr.EARTH_MOVER_Q, atol=1e-12)
  cost = np.abs(np.arange(4)[:, None] - np.arange(4)[None])
  assert np.sum(plan * cost) == pytest.approx(5.0)
  f = np.asarray(d["dual_potential"])
  assert np.all(np.abs(np.diff(f)) <= 1 + 1e-9)      # 1-Lipschitz
  assert np.dot(np.subtract(kr.EARTH_MOVER_P, kr.EARTH_MOVER_Q), f) == (
      pytest.approx(5.0))
  # Unequal spacing and random masses: the three agree, and equal the
  # library's exact 1-D W1 of the normalised histograms times the mass.
  rng = np.random.default_rng(0)
  p, q = rng.uniform(0, 1, 6), rng.uniform(0, 1, 6)
  q *= p.sum() / q.sum()
  pos = np.cumsum(rng.uniform(0.1, 2.0, 6))
  d = kr.discrete_w1(p, q, pos)
  ref = toy_metrics.wasserstein1(pos[:, None], pos[:, None],
                                 weights=(p / p.sum(), q / q.sum()))
  for key in ("primal_pot", "primal_linprog", "cdf", "dual_linprog"):
    assert d[key] == pytest.approx(ref * p.sum(), rel=1e-6), key
  with pytest.raises(ValueError):
    kr.discrete_w1([1.0, 2.0], [1.0, 1.0])


def test_study_optimal_critic_is_critics_optimal_critic_1d():
  """The study's f* of two mixtures (the library's f* is tested in
  tests/test_critics.py against the exact W1)."""
  pairs = kr.pair_mixtures(_smoke("kantorovich_rubinstein"))
  _, real, fake = pairs[1]
  x = np.linspace(-6.0, 6.0, 1200)             # symmetric, no node at 0
  f = kr.optimal_critic(x, real, fake)
  # N(0,1) vs N(0,2²): F_p - F_π is > 0 left of 0 and < 0 right of it,
  # so f* = 6 - |x|.
  np.testing.assert_allclose(f, 6.0 - np.abs(x), atol=1e-9)


@pytest.fixture(scope="module")
def kr_out(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("kr")
  return kr.run(_smoke("kantorovich_rubinstein"), str(workdir)), workdir


def test_kantorovich_rubinstein_smoke_critics(kr_out):
  out, workdir = kr_out
  assert (workdir / "kantorovich_rubinstein_study.png").read_bytes()[:4] == (
      b"\x89PNG")
  saved = json.loads((workdir / "kantorovich_rubinstein_study.json"
                      ).read_text())
  assert saved["discrete"]["cdf"] == 5.0
  rows = out["pairs"]
  assert rows[0]["exact_w1"] == pytest.approx(1.0, abs=1e-6)
  assert rows[1]["exact_w1"] == pytest.approx(math.sqrt(2 / math.pi),
                                              abs=1e-6)
  # The (one-sided) gradient-penalty critic: within 10% of W1 on both, and
  # near the soft penalty's optimum W1 + W1²/(2λ).
  for r in rows:
    assert r["gp_target"] == pytest.approx(r["exact_w1"] * (
        1 + r["exact_w1"] / 20.0))
    assert r["gp_one_sided"]["estimate"] == pytest.approx(r["exact_w1"],
                                                          rel=0.1)
    assert r["gp_one_sided"]["estimate"] == pytest.approx(r["gp_target"],
                                                          rel=0.06)
  # Weight clipping: positive, increasing with the true W1, and by duality
  # at most K·W1 for the critic's Lipschitz constant K (max |f'| on a dense
  # grid; the spectral-norm product is a guaranteed upper bound on K).
  clip = [r["clip_c001"] for r in rows]
  assert all(c["estimate"] > 0 for c in clip)
  order = np.argsort([r["exact_w1"] for r in rows])
  assert np.all(np.diff(np.asarray([clip[i]["estimate"] for i in order])) > 0)
  for r, c in zip(rows, clip):
    assert c["lipschitz"] <= c["spectral_bound"] * (1 + 1e-5)
    assert c["estimate_over_lipschitz"] <= r["exact_w1"] * (1 + 1e-3)

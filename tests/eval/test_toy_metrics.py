"""Tests of gdm_jax/eval/toy_metrics.py: exact W1 on known cases, mode
coverage on synthetic samples, input validation."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from scipy import stats

from gdm_jax.data import toy
from gdm_jax.eval import toy_metrics as tm
from tests.helpers import invalid_input_test


def test_w1_of_diracs_and_translated_point_clouds():
  assert tm.wasserstein1([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(5.0)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 2))
  shift = np.array([0.3, -0.4])
  # Translating a measure by v moves it by exactly |v| in W1 (the identity
  # coupling costs |v|, and |E x - E y| <= W1 bounds it from below).
  assert tm.wasserstein1(x, x + shift) == pytest.approx(0.5, abs=1e-9)
  assert tm.wasserstein1(x, x) == pytest.approx(0.0, abs=1e-12)
  # Two half-masses: {0, 0}, {1, 0} against {0, 1}, {1, 1}: each moves 1.
  assert tm.wasserstein1([[0, 0], [1, 0]], [[0, 1], [1, 1]]) == pytest.approx(1.0)
  # Weighted: all mass at (0,0) vs 1/4 at (2,0), 3/4 at (0,0) -> 1/4 * 2.
  w = tm.wasserstein1([[0.0, 0.0]], [[2.0, 0.0], [0.0, 0.0]],
                      weights=([1.0], [0.25, 0.75]))
  assert w == pytest.approx(0.5)


def test_w1_in_1d_equals_scipy_and_the_emd_solver():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(400, 1)), rng.gamma(2.0, size=(250, 1))
  ref = stats.wasserstein_distance(x[:, 0], y[:, 0])
  assert tm.wasserstein1(x, y) == pytest.approx(ref, rel=1e-10)
  assert tm._w1_emd(x, y, None, None) == pytest.approx(ref, rel=1e-8)
  a, b = rng.random(400), rng.random(250)
  a, b = a / a.sum(), b / b.sum()
  ref_w = stats.wasserstein_distance(x[:, 0], y[:, 0], a, b)
  assert tm.wasserstein1(x, y, weights=(a, b)) == pytest.approx(ref_w, rel=1e-9)
  assert tm._w1_emd(x, y, a, b) == pytest.approx(ref_w, rel=1e-6)


def test_w1_is_a_metric_on_random_sets():
  rng = np.random.default_rng(2)
  x, y, z = (rng.normal(loc, size=(60, 3)) for loc in (0.0, 0.5, 1.0))
  dxy, dyz, dxz = (tm.wasserstein1(p, q) for p, q in ((x, y), (y, z), (x, z)))
  assert dxz <= dxy + dyz + 1e-9
  assert tm.wasserstein1(y, x) == pytest.approx(dxy, rel=1e-9)
  # Lower bound: |E x - E y| <= W1.
  assert np.linalg.norm(x.mean(0) - y.mean(0)) <= dxy + 1e-12


def test_w1_subsampling_is_seeded_and_errors_are_clear():
  rng = np.random.default_rng(3)
  x, y = rng.normal(size=(500, 2)), rng.normal(size=(400, 2)) + 1.0
  w1 = tm.wasserstein1(x, y, max_points=100, seed=7)
  assert w1 == tm.wasserstein1(x, y, max_points=100, seed=7)
  assert w1 != tm.wasserstein1(x, y, max_points=100, seed=8)
  full = tm.wasserstein1(x, y, max_points=None)
  assert abs(w1 - full) < 0.3 * full
  with pytest.raises(ValueError, match="one dimension D"):
    tm.wasserstein1(x, y[:, :1])
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    tm.wasserstein1(x[:, 0], y)
  with pytest.raises(ValueError, match="max_points"):
    tm.wasserstein1(x, y, weights=(np.full(500, 1 / 500), np.full(400, 1 / 400)),
                    max_points=100)


def test_mode_assignment_radius_is_num_std_times_std():
  modes = np.array([[0.0, 0.0], [10.0, 0.0]])
  x = np.array([[0.29, 0.0], [0.0, 0.31], [9.0, 0.0], [6.0, 0.0]])
  nearest, hq = tm.mode_assignment(x, modes, mode_std=0.1, num_std=3.0)
  np.testing.assert_array_equal(nearest, [0, 0, 1, 1])
  np.testing.assert_array_equal(hq, [True, False, False, False])


def test_modes_covered_on_synthetic_samples():
  dist = toy.get_toy("grid25")
  modes, std = dist.modes, dist.mode_std
  key = jax.random.PRNGKey(0)
  # The true distribution covers all 25 modes; its high-quality fraction is
  # P(chi2_2 <= 9) = 1 - exp(-4.5) up to sampling error.
  x = np.asarray(dist.sample(key, 5000))
  res = tm.modes_covered(x, modes, std)
  assert res["modes_covered"] == 25 and res["num_modes"] == 25
  assert res["min_count"] == 2                     # ceil(0.01 * 5000 / 25)
  assert abs(res["high_quality_fraction"] - (1 - np.exp(-4.5))) < 0.006
  # Samples from only 3 modes cover 3.
  idx = np.repeat([0, 7, 24], 300)
  noise = std * np.asarray(jax.random.normal(key, (len(idx), 2)))
  res = tm.modes_covered(modes[idx] + noise, modes, std)
  assert res["modes_covered"] == 3
  # Far-off samples (between the modes) are low quality and cover nothing.
  far = modes[idx] + np.array([1.0, 1.0])
  res = tm.modes_covered(far, modes, std)
  assert res["modes_covered"] == 0 and res["high_quality_fraction"] == 0.0
  # A mode with only a trace of samples (below min_count) is not covered.
  trace = np.concatenate([modes[np.repeat(np.arange(24), 400)], modes[[24, 24]]])
  res = tm.modes_covered(trace, modes, std)
  assert res["min_count"] == 4                     # ceil(0.01 * 9602 / 25)
  assert res["modes_covered"] == 24 and res["high_quality_fraction"] == 1.0
  assert tm.modes_covered(trace, modes, std, min_count=1)["modes_covered"] == 25


def test_evaluate_toy_samples_metrics_and_protocol():
  ds = toy.load_toy_dataset("ring8", num_train=10, num_validation=10,
                            num_test=600, seed=0)
  dist = toy.get_toy("ring8")
  samples = np.asarray(dist.sample(jax.random.PRNGKey(9), 500))
  metrics, protocol = tm.evaluate_toy_samples(
      samples, ds.splits["test"]["x"], ds.info, log_prob_fn=dist.log_prob)
  assert metrics["modes_covered"] == 8 and metrics["num_modes"] == 8
  assert metrics["high_quality_fraction"] > 0.97
  # Two samples of the same distribution are close (W1 > 0 only from the
  # sampling noise of each mode's share of ~60 points, which costs ~1.5 per
  # unit of mass moved between neighbouring modes); a collapsed model is far.
  assert metrics["w1"] < 0.3
  collapsed = np.tile(dist.modes[:1], (500, 1))
  m2, _ = tm.evaluate_toy_samples(collapsed, ds.splits["test"]["x"], ds.info)
  assert m2["modes_covered"] == 1 and m2["w1"] > 1.0
  assert "true_log_prob" not in m2
  # The mean true log-density estimates -H(p) = E log p; the entropy of 8
  # well-separated Gaussians is log 8 + log(2 pi e s^2).
  neg_entropy = -(np.log(8) + np.log(2 * np.pi * np.e * 0.02**2))
  assert abs(metrics["true_log_prob"] - neg_entropy) < 0.15
  assert metrics["outside_support_fraction"] == 0.0
  assert protocol == {"num_samples": 500, "num_reference": 600, "num_std": 3.0,
                      "min_count": 1, "w1_solver": "POT emd2 (exact)",
                      "w1_subsample": "at most 5000 points per set, without "
                                      "replacement, seed 0"}
  # 1-D data without modes: W1 only, by the exact 1-D formula.
  cub = toy.get_toy("cubic1d")
  ref = np.asarray(cub.sample(jax.random.PRNGKey(1), 300))
  m3, p3 = tm.evaluate_toy_samples(ref[::-1] * 0.5, ref, {"modes": None},
                                   log_prob_fn=cub.log_prob)
  assert set(m3) == {"w1", "true_log_prob", "outside_support_fraction"}
  # E|x| - E|x|/2 for x ~ 3x^2/2 on [-1, 1]: W1 of scaling by 1/2 is E|x|/2.
  assert m3["w1"] == pytest.approx(np.abs(ref).mean() / 2, rel=1e-9)
  assert p3["w1_solver"] == "exact 1-D CDF formula"


def test_non_finite_samples_count_as_low_quality_without_raising():
  dist = toy.get_toy("ring8")
  ref = np.asarray(dist.sample(jax.random.PRNGKey(0), 200))
  x = np.array(dist.sample(jax.random.PRNGKey(1), 200))
  x[:50] = np.nan
  x[50:60, 0] = np.inf
  metrics, protocol = tm.evaluate_toy_samples(x, ref, {"modes": dist.modes,
                                                       "mode_std": 0.02},
                                              log_prob_fn=dist.log_prob)
  clean = tm.modes_covered(x[60:], dist.modes, 0.02, min_count=protocol["min_count"])
  assert metrics["modes_covered"] == clean["modes_covered"] == 8
  assert metrics["high_quality_fraction"] == pytest.approx(
      clean["high_quality_fraction"] * 140 / 200)
  assert metrics["nonfinite_fraction"] == pytest.approx(0.3)
  assert np.isnan(metrics["w1"]) and np.isnan(metrics["true_log_prob"])
  x[:] = np.nan
  metrics, _ = tm.evaluate_toy_samples(x, ref, {"modes": dist.modes, "mode_std": 0.02})
  assert metrics["modes_covered"] == 0 and metrics["high_quality_fraction"] == 0.0


def test_importing_pot_stays_numpy_only():
  code = ("import sys; from gdm_jax.eval import toy_metrics as tm; "
          "tm.wasserstein1([[0., 0.]], [[1., 0.]]); "
          "print(sorted(m for m in ('torch', 'tensorflow', 'cupy') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, check=True, timeout=120)
  assert out.stdout.strip() == "[]" and "Warning" not in out.stderr


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("wasserstein1_dims",
     lambda: tm.wasserstein1(np.ones((5, 2)), np.ones((5, 3))),
     ["toy_metrics.wasserstein1", "one dimension D", "(5, 2)", "(5, 3)"]),
    ("wasserstein1_rank",
     lambda: tm.wasserstein1(np.ones(5), np.ones((5, 1))),
     ["toy_metrics.wasserstein1", "`x`", "[N, D]", "(5,)"]),
    ("wasserstein1_nan",
     lambda: tm.wasserstein1(np.full((5, 2), np.nan), np.ones((5, 2))),
     ["toy_metrics.wasserstein1", "`x`", "NaN or infinite"]),
    ("wasserstein1_weights",
     lambda: tm.wasserstein1(np.ones((2, 2)), np.ones((3, 2)),
                             weights=(np.full(2, 0.5), np.full(2, 0.5))),
     ["toy_metrics.wasserstein1", "`weights` b", "(3,)", "(2,)"]),
    ("modes_covered_dims",
     lambda: tm.modes_covered(np.ones((5, 2)), np.ones((8, 3)), 0.1),
     ["toy_metrics.modes_covered", "`samples`", "`modes`", "(5, 2)",
      "(8, 3)"]),
    ("modes_covered_dtype",
     lambda: tm.modes_covered(np.ones((5, 2), bool), np.ones((8, 2)), 0.1),
     ["toy_metrics.modes_covered", "`samples`", "numeric", "bool"]),
    ("modes_covered_min_count",
     lambda: tm.modes_covered(np.ones((5, 2)), np.ones((8, 2)), 0.1,
                              min_count=0),
     ["toy_metrics.modes_covered", "`min_count`", "positive", "0"]),
    ("mode_assignment_std",
     lambda: tm.mode_assignment(np.ones((5, 2)), np.ones((8, 2)), 0.0),
     ["toy_metrics.mode_assignment", "`mode_std`", "positive", "0.0"]),
    ("default_min_count_samples",
     lambda: tm.default_min_count(-1, 8),
     ["toy_metrics.default_min_count", "`num_samples`", ">= 0", "-1"]),
    ("evaluate_toy_samples_dims",
     lambda: tm.evaluate_toy_samples(np.ones((5, 2)), np.ones((5, 1)), {}),
     ["toy_metrics.evaluate_toy_samples", "`reference`", "(5, 1)"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

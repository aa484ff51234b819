"""The GAN dynamics studies: the optimal discriminator and mode collapse.

Mathematics first (the generator gradients; the quadrature JSD and
Theorem 1's value at D* that the study uses are tested in
tests/test_quadrature.py), then each study's smoke run: a trained D close to
D* (Proposition 1), V(G, D_trained) below and close to 2 JSD - log 4
(Theorem 1), the minimax gradient vanishing against the non-saturating one
(Arjovsky and Bottou 2017); the mode-collapse study's recorded coverage
equals toy_metrics' on the same samples, and a short GAN run on a 2-mode
mixture improves coverage.
"""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import mode_collapse_study as mc_study
from experiments import optimal_discriminator_study as od_study
from experiments.configs import gan as gan_configs
from experiments.configs import mode_collapse_study as mc_configs
from gdm_jax.eval import toy_metrics
from tests import helpers


def test_generator_gradient_norms_of_a_linear_discriminator():
  """l(x) = a x + b: ∂/∂μ E L = E[L'(l) a], ∂/∂σ E L = E[L'(l) a z], with
  L' = -σ(l) (minimax) and -σ(-l) (non-saturating)."""
  a, b = 1.7, -3.0
  z = jax.random.normal(jax.random.PRNGKey(0), (500,))
  theta = {"mu": jnp.asarray(0.4), "sigma": jnp.asarray(1.2)}
  norms = od_study.generator_gradient_norms(lambda x: a * x + b, theta, z)
  logits = a * (0.4 + 1.2 * z) + b
  for name, slope in (("minimax", -jax.nn.sigmoid(logits)),
                      ("non_saturating", -jax.nn.sigmoid(-logits))):
    expected = jnp.hypot(jnp.mean(slope * a), jnp.mean(slope * a * z))
    np.testing.assert_allclose(norms[name], expected, rtol=1e-5)


def test_optimal_discriminator_study_smoke(tmp_path):
  config = helpers.smoke_config("optimal_discriminator_study.py")
  out = od_study.run(config, str(tmp_path))
  with open(tmp_path / od_study.JSON_NAME) as f:
    saved = json.load(f)
  assert os.path.getsize(tmp_path / od_study.FIGURE_NAME) > 10_000
  v = saved["value"]
  assert v == out["value"]
  assert v["mu"] == list(config.study.mus)
  jsd, c_of_g = np.asarray(v["jsd"]), np.asarray(v["c_of_g"])
  np.testing.assert_allclose(c_of_g, 2 * jsd - math.log(4.0), atol=1e-9)
  # (a) Proposition 1: the trained D is close to D* where the data are.
  assert max(v["max_abs_d_error"]) < 0.1, v["max_abs_d_error"]
  assert max(v["weighted_abs_d_error"]) < 0.03, v["weighted_abs_d_error"]
  # (b) Theorem 1: a trained D gives a lower bound on C(G), and a tight one.
  gap = np.asarray(v["gap"])
  assert np.all(gap > -1e-4), gap
  assert np.all(gap < 0.02), gap
  # The Monte Carlo value agrees with the quadrature up to sampling noise.
  np.testing.assert_allclose(v["v_mc"], v["v_trained"], atol=0.03)
  # (c) Arjovsky and Bottou: the minimax gradient vanishes as D improves,
  # the non-saturating one does not.
  g = saved["gradients"]
  minimax, ns = np.asarray(g["minimax"]), np.asarray(g["non_saturating"])
  assert minimax.shape == ns.shape == (config.study.gradient_seeds,
                                       len(g["steps"]))
  assert np.all(minimax[:, -1] < 0.1 * ns[:, -1]), (minimax[:, -1], ns[:, -1])
  # The minimax norm peaks while D is still poor, then decays; the
  # non-saturating one keeps (close to) its largest value.
  assert np.all(minimax[:, -1] < 0.2 * minimax.max(axis=1)), minimax
  assert np.all(ns[:, -1] > 0.5 * ns.max(axis=1)), ns
  assert np.all(np.asarray(g["d_fake_logit"])[:, -1] < -3.0)
  # At D* itself: e^{-large} against the slope of log π in its tail.
  assert g["at_optimum"]["minimax"] < 1e-6 * g["at_optimum"]["non_saturating"]


def _check_records_are_toy_metrics(out, config):
  """The final record of seed 0 equals toy_metrics on the final samples."""
  s = config.study
  info_modes = np.asarray(out["protocol"]["modes"])
  for name, r in out["arms"].items():
    final = np.asarray(r["snapshots"][str(s.num_steps)])
    assert final.shape == (s.eval_samples, info_modes.shape[1])
    cov = toy_metrics.modes_covered(final, info_modes,
                                    out["protocol"]["mode_std"])
    assert r["modes_covered"][0][-1] == cov["modes_covered"], name
    np.testing.assert_allclose(r["high_quality_fraction"][0][-1],
                               cov["high_quality_fraction"], rtol=1e-12)
    assert r["train_step_compilations"] == 1, name


def test_mode_collapse_study_smoke(tmp_path):
  config = helpers.smoke_config("mode_collapse_study.py")
  assert config.study.scatter_points == config.study.eval_samples
  out = mc_study.run(config, str(tmp_path))
  with open(tmp_path / mc_study.JSON_NAME) as f:
    saved = json.load(f)
  assert os.path.getsize(tmp_path / mc_study.FIGURE_NAME) > 10_000
  assert set(saved["arms"]) == set(mc_configs.ARM_NAMES)
  _check_records_are_toy_metrics(saved, config)
  for name, r in saved["arms"].items():
    assert r["steps"] == [0, 3, 6]
    assert np.asarray(r["w1"]).shape == (1, 3)
    assert np.all(np.asarray(r["w1"]) > saved["protocol"]["w1_data_floor"])
    summary = saved["summary"][name]
    assert summary["final_modes_covered_mean"] == r["modes_covered"][0][-1]
  assert "GAN (non-saturating)" in mc_study.format_table(out)
  # A second run in the same workdir reuses every finished arm.
  again = mc_study.run(config, str(tmp_path))
  assert again["arms"] == json.loads(json.dumps(out["arms"]))


def test_short_gan_run_covers_both_modes_of_a_1d_mixture(tmp_path):
  """A GAN learns 0.5 N(-2, 0.5²) + 0.5 N(2, 0.5²): from 0 modes covered
  at initialisation (samples near 0) to both, with W1 falling."""
  config = helpers.smoke_config("mode_collapse_study.py")
  arm = gan_configs.get_config("ring8")
  with arm.unlocked():
    arm.data.name = "mixture1d"
    arm.data.toy_num_train = 20_000
    arm.data.toy_num_validation = 100
    arm.data.toy_num_test = 1000
    arm.model.generator_hidden = (32, 32)
    arm.model.discriminator_hidden = (32, 32)
    arm.train.batch_size = 128
    arm.optimizer.generator.learning_rate = 3e-3
    arm.optimizer.discriminator.learning_rate = 3e-3
  with config.unlocked():
    config.arms = {"gan": arm}
    config.study.run_arms = ("gan",)
    config.study.num_steps = 400
    config.study.record_every = 200
    config.study.snapshot_steps = (0, 400)
    config.study.eval_samples = 1000
    config.study.scatter_points = 1000
    config.study.w1_points = 1000
  out = mc_study.run(config, str(tmp_path))
  r = out["arms"]["gan"]
  _check_records_are_toy_metrics(out, config)
  assert r["modes_covered"][0][0] < 2
  assert r["modes_covered"][0][-1] == 2, r["modes_covered"]
  assert r["high_quality_fraction"][0][-1] > 0.8
  assert r["w1"][0][-1] < 0.5 * r["w1"][0][0]


def test_mode_collapse_study_refuses_arms_with_different_generators():
  config = helpers.smoke_config("mode_collapse_study.py")
  mc_study.validate(config)
  with config.unlocked():
    config.arms.wgan_gp.model.generator_hidden = (8,)
  with pytest.raises(ValueError, match="generator_hidden"):
    mc_study.validate(config)
  config = helpers.smoke_config("mode_collapse_study.py")
  with config.unlocked():
    config.study.run_arms = ("gan", "unrolled")
  with pytest.raises(ValueError, match="unrolled"):
    mc_study.validate(config)

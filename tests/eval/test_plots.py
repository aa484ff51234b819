"""Tests of gdm_jax/eval/plots.py and experiments/plot_run.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gdm_jax.eval import plots
from gdm_jax.models import latent_priors
from tests.helpers import assert_raises_naming

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ring(n=400, seed=0):
  rng = np.random.default_rng(seed)
  a = 2 * np.pi * rng.integers(8, size=n) / 8
  return np.stack([2 * np.cos(a), 2 * np.sin(a)], -1) + 0.05 * rng.normal(size=(n, 2))


def orange_fraction(img):
  """Fraction of pixels close to matplotlib's tab:orange (1.0, 0.50, 0.05)."""
  return float(np.mean((img[..., 0] > 0.85) & (np.abs(img[..., 1] - 0.5) < 0.15)
                       & (img[..., 2] < 0.3)))


def test_toy_scatter_2d_shape_range_and_content():
  data = ring()
  img = plots.toy_scatter(data + 0.1, data, title="t")
  assert img.shape == (plots.IMAGE_SIZE, plots.IMAGE_SIZE, 3)
  assert img.dtype == np.float32 and img.min() >= 0.0 and img.max() <= 1.0
  # Samples are drawn in colour: orange pixels appear with samples, and
  # fewer when the samples are a single point (a collapsed generator).
  collapsed = plots.toy_scatter(np.zeros((400, 2)), data,
                                extent=(-2.5, 2.5, -2.5, 2.5))
  assert orange_fraction(img) > 3 * orange_fraction(collapsed) > 0
  # Deterministic.
  np.testing.assert_array_equal(img, plots.toy_scatter(data + 0.1, data, title="t"))


def test_toy_scatter_field_changes_the_image():
  data = ring()
  extent = (-3, 3, -3, 3)
  plain = plots.toy_scatter(data, data, extent=extent)
  f1 = plots.toy_scatter(data, data, field_fn=lambda g: g[:, 0], extent=extent)
  f2 = plots.toy_scatter(data, data, field_fn=lambda g: -np.sum(g**2, 1),
                         extent=extent)
  assert f1.shape == f2.shape == plain.shape == (400, 400, 3)
  assert np.abs(f1 - f2).mean() > 0.02 and np.abs(f1 - plain).mean() > 0.02
  # A left-to-right field: the viridis colours of the left and right edges
  # of the plot differ (dark purple vs yellow).
  row = f1[200]
  coloured = np.where(np.ptp(row, axis=1) > 0.15)[0]
  left, right = row[coloured[2]], row[coloured[-40]]
  assert right[0] + right[1] > left[0] + left[1] + 0.5
  # Non-finite values (log p = -inf off the support) do not break drawing,
  # and a fixed field_range is honoured.
  with_inf = plots.toy_scatter(data, data, extent=extent, field_range=(0, 1),
                               field_fn=lambda g: np.where(g[:, 0] > 0, 0.5, -np.inf))
  assert np.all(np.isfinite(with_inf))


def test_toy_scatter_1d_histograms_and_curve():
  rng = np.random.default_rng(0)
  data = rng.normal(size=(500, 1))
  a = plots.toy_scatter(data + 2.0, data)
  b = plots.toy_scatter(data + 2.0, data, field_fn=lambda x: np.sin(3 * x[:, 0]))
  assert a.shape == b.shape == (400, 400, 3)
  assert np.abs(a - b).mean() > 0.003
  # Non-finite samples (a diverged model) are skipped, not an error.
  bad = np.concatenate([data, np.full((5, 1), np.nan), np.full((5, 1), np.inf)])
  np.testing.assert_array_equal(plots.toy_scatter(bad, data), plots.toy_scatter(data, data))
  assert plots.toy_scatter(np.full((4, 2), np.nan)).shape == (400, 400, 3)
  with pytest.raises(ValueError, match=r"\[N, 1\] or \[N, 2\]"):
    plots.toy_scatter(np.zeros((5, 3)))
  with pytest.raises(ValueError, match="data must be"):
    plots.toy_scatter(np.zeros((5, 2)), np.zeros((5, 1)))


def write_metrics(path):
  with open(path, "w") as f:
    for step in range(0, 200, 20):
      f.write(json.dumps({"step": step, "split": "train", "loss": 1.0 / (step + 1),
                          "w_estimate": 2.0 - step / 100, "wall_time_s": step}) + "\n")
      if step % 100 == 0:
        f.write(json.dumps({"step": step, "split": "validation",
                            "loss": 1.5 / (step + 1)}) + "\n")
    f.write(json.dumps({"step": 200, "split": "test", "w1": 0.1,
                        "loss": float("nan")}) + "\n")


def test_plot_curves_writes_a_png(tmp_path):
  path = tmp_path / "metrics.jsonl"
  write_metrics(path)
  out = tmp_path / "plots" / "curves.png"
  keys = plots.plot_curves(str(path), str(out))
  assert keys == ["loss", "w_estimate", "w1"]           # no wall_time_s
  with Image.open(out) as im:
    assert im.format == "PNG" and im.size[0] > 600 and im.size[1] > 200
  assert plots.plot_curves(str(path), str(out), keys=["w_estimate", "nope"]) == [
      "w_estimate"]
  with pytest.raises(ValueError, match="none of the keys"):
    plots.plot_curves(str(path), str(out), keys=["nope"])
  bad = tmp_path / "bad.jsonl"
  bad.write_text('{"step": 1}\nnot json\n')
  with pytest.raises(ValueError, match="bad.jsonl:2"):
    plots.read_metrics(str(bad))


def test_plot_run_cli(tmp_path):
  write_metrics(tmp_path / "metrics.jsonl")
  cmd = [sys.executable, "-m", "experiments.plot_run", f"--workdir={tmp_path}"]
  out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                       check=False)
  assert out.returncode == 0, out.stderr
  assert (tmp_path / "curves.png").stat().st_size > 1000
  missing = subprocess.run(cmd[:-1] + [f"--workdir={tmp_path / 'none'}"], cwd=REPO,
                           capture_output=True, text=True, timeout=120, check=False)
  assert missing.returncode == 2 and missing.stderr.startswith("error:")


def test_latent_scatter_figure_draws_codes_over_the_prior():
  z = np.random.RandomState(0).randn(50, 2)
  for name in ("mixture", "swiss_roll"):
    prior = latent_priors.get_prior(name, 2)
    fig = plots.latent_scatter_figure(z, np.arange(50) % 10, prior, title="t",
                                      class_names=[str(k) for k in range(10)])
    assert fig.ndim == 3 and fig.shape[2] == 3 and fig.dtype == np.float32
    assert 0.0 <= fig.min() and fig.max() <= 1.0
  # Without labels: black dots, no legend (a narrower tight layout).
  unlabelled = plots.latent_scatter_figure(z, None, prior)
  assert unlabelled.shape[2] == 3 and unlabelled.min() < 0.2
  with pytest.raises(ValueError, match=r"\[N, 2\] codes"):
    plots.latent_scatter_figure(np.zeros((5, 3)), None, prior)


def test_toy_scatter_rejects_bool_samples():
  assert_raises_naming(lambda: plots.toy_scatter(np.ones((5, 2), bool)),
                       ["plots.toy_scatter", "`samples`", "bool"])

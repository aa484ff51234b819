"""examples/notebook_reuse.py runs as a script on trained checkpoints: it
loads both runs, prints the ELBO of a test batch and a flow density that
integrates to ~1 on its grid, and saves its figure."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.configs import flow_toy
from gdm_jax.train import loop
from tests.train import _helpers as h

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_notebook_example_runs_on_checkpoints(tmp_path, monkeypatch):
  h.patch_data_cache(monkeypatch)
  vae_dir, flow_dir = tmp_path / "vae", tmp_path / "flow"
  loop.train_and_evaluate(h.smoke_config(), str(vae_dir))
  loop.train_and_evaluate(flow_toy.get_config("smoke"), str(flow_dir))
  out_png = tmp_path / "reuse.png"
  out = subprocess.run(
      [sys.executable, "examples/notebook_reuse.py", f"--vae_workdir={vae_dir}",
       f"--flow_workdir={flow_dir}", f"--out={out_png}"],
      cwd=REPO, capture_output=True, text=True, timeout=400, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  assert out_png.stat().st_size > 10_000
  elbo = float(re.search(r"ELBO (-?[\d.]+) nats/image", out.stdout).group(1))
  assert elbo < 0
  mass = float(re.search(r"mass on the grid: ([\d.]+)", out.stdout).group(1))
  assert abs(mass - 1.0) < 0.05

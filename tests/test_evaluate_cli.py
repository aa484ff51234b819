"""`loop.load_run` and `python -m experiments.evaluate` on a finished toy run:
the rebuilt model and state are the trained ones, and the CLI's sample
metrics equal the in-process computation with the same key."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.configs import gan as gan_configs
from gdm_jax.eval import generated
from gdm_jax.train import loop

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
  config = gan_configs.get_config("ring8")
  config.train.num_steps = 6
  for field in ("log_every", "eval_every", "checkpoint_every"):
    config.train[field] = 3
  config.data.toy_num_train = 2000
  config.data.toy_num_validation = 500
  config.data.toy_num_test = 500
  config.eval.num_samples = 500
  workdir = str(tmp_path_factory.mktemp("ring"))
  loop.train_and_evaluate(config, workdir)
  return workdir


def test_load_run_restores_the_trained_state(toy_run):
  run = loop.load_run(toy_run)
  assert run.step == 6 and int(run.state.step) == 6
  assert run.config.data.name == "ring8"
  x = run.model.sample(run.state.params, jax.random.PRNGKey(0), 16)
  assert x.shape == (16, 2) and np.all(np.isfinite(x))
  earlier = loop.load_run(toy_run, step=3)
  assert int(earlier.state.step) == 3
  with pytest.raises(FileNotFoundError, match="config.json"):
    loop.load_run(str(Path(toy_run) / "checkpoints"))


def test_evaluate_cli_matches_in_process(toy_run):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.evaluate", f"--workdir={toy_run}",
       "--num_samples=400", "--seed=3"],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  written = json.loads((Path(toy_run) / "sample_metrics.json").read_text())
  run = loop.load_run(toy_run)
  metrics, protocol = generated.evaluate_generated(
      jax.jit(run.model.sample, static_argnums=2), run.state.params,
      run.dataset, 400, jax.random.PRNGKey(3), "test")
  assert written["metrics"] == pytest.approx(metrics, rel=1e-6)
  assert written["protocol"] == json.loads(json.dumps(protocol))
  assert written["step"] == 6


def test_evaluate_cli_error_is_one_line(tmp_path):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.evaluate", f"--workdir={tmp_path}"],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert out.returncode == 2
  errors = [l for l in out.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "config.json" in errors[0]

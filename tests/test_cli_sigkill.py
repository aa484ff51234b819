"""Preemption without warning: a CLI run is killed with SIGKILL at random
moments several times, restarted each time with the same command, and ends
with exactly the parameters (and metrics) of an uninterrupted run.

Uses the toy GAN (no TensorFlow import, fast start) with frequent
checkpoints; a kill can land anywhere, also inside an asynchronous orbax
save, whose unfinished temporary folder orbax ignores on restore.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments.configs import gan as gan_configs
from gdm_jax.train import loop
from tests import helpers

pytestmark = pytest.mark.slow
NUM_STEPS, EVERY = 120, 10
OVERRIDES = [f"--config.train.num_steps={NUM_STEPS}",
             f"--config.train.checkpoint_every={EVERY}",
             f"--config.train.log_every={EVERY}",
             f"--config.train.eval_every={NUM_STEPS}",
             "--config.data.toy_num_train=4000",
             "--config.data.toy_num_validation=500",
             "--config.data.toy_num_test=500",
             "--config.eval.sample_metrics=False"]


def _config():
  config = gan_configs.get_config("ring8")
  config.train.num_steps = NUM_STEPS
  config.train.checkpoint_every = config.train.log_every = EVERY
  config.train.eval_every = NUM_STEPS
  config.data.toy_num_train, config.data.toy_num_validation = 4000, 500
  config.data.toy_num_test = 500
  config.eval.sample_metrics = False
  return config


def _steps(workdir: Path) -> list[int]:
  d = workdir / "checkpoints"
  return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def _start(workdir: Path) -> subprocess.Popen:
  return subprocess.Popen(
      [sys.executable, "-m", "experiments.train",
       "--config=experiments/configs/gan.py:ring8", f"--workdir={workdir}",
       *OVERRIDES], cwd=helpers.REPO, env=helpers.env(),
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
  workdir = tmp_path / "killed"
  rng = np.random.default_rng(0)
  kills = 0
  while kills < 3:
    before = _steps(workdir)[-1:] or [0]
    proc = _start(workdir)
    deadline = time.time() + 240
    # Wait for a new checkpoint (progress), then kill after a random delay.
    while time.time() < deadline and proc.poll() is None:
      if (_steps(workdir)[-1:] or [0])[0] > before[0]:
        break
      time.sleep(0.05)
    if proc.poll() is not None:
      pytest.fail(f"run ended before it could be killed: {proc.stderr.read()[-2000:]}")
    time.sleep(rng.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kills += 1
    assert _steps(workdir)[-1] < NUM_STEPS, "killed too late to test resuming"
  proc = _start(workdir)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err[-3000:]

  straight = tmp_path / "straight"
  expected = loop.train_and_evaluate(_config(), str(straight))
  got = json.loads((workdir / "final_metrics.json").read_text())
  assert got["metrics"] == expected["metrics"]
  killed_run = loop.load_run(str(workdir))
  straight_run = loop.load_run(str(straight))
  assert killed_run.step == straight_run.step == NUM_STEPS
  for x, y in zip(jax.tree.leaves(killed_run.state), jax.tree.leaves(straight_run.state)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))

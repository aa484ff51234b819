"""Two processes on localhost (CPU collectives through gloo) train the smoke
VAE through the CLI and end with the parameters of one process that takes
the same global batch (gdm_jax/train/distributed.py, the trainer's
per-process data slices and orbax's coordinated checkpoints).
"""

import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from gdm_jax.train import distributed
from gdm_jax.train import loop
from tests import helpers as h

pytestmark = pytest.mark.slow
TIMEOUT_S = 420


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one_process(tmp_path, monkeypatch):
  workdir = tmp_path / "two"
  port = _free_port()
  procs = [subprocess.Popen(
      [sys.executable, "-m", "experiments.train",
       *h.smoke_flags("vae.py"), f"--workdir={workdir}",
       f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
       f"--process_id={i}", "--cpu_collectives=gloo"],
      cwd=h.REPO, env=h.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True) for i in range(2)]
  outputs = []
  for p in procs:
    try:
      outputs.append(p.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      pytest.fail("the two-process run did not finish in time:\n" +
                  "\n".join(o[-2000:] for o in outputs))
  for i, (p, out) in enumerate(zip(procs, outputs)):
    assert p.returncode == 0, f"process {i} failed:\n{out[-3000:]}"
  assert "process 1 of 2" in outputs[1]

  h.patch_data_cache(monkeypatch)
  config = h.smoke_config("vae.py")
  one = tmp_path / "one"
  loop.train_and_evaluate(config, str(one))
  step_two, state_two = h.restore_checkpoint(str(workdir), config)
  step_one, state_one = h.restore_checkpoint(str(one), config)
  assert step_two == step_one == config.train.num_steps
  leaves_two, leaves_one = jax.tree.leaves(state_two.params), jax.tree.leaves(state_one.params)
  assert len(leaves_two) == len(leaves_one) > 0
  for a, b in zip(leaves_two, leaves_one):
    # Same data, keys and global batch; only the order of the cross-device
    # gradient sum differs (float rounding, amplified a little by Adam).
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
  # Only process 0 wrote the logs.
  assert (workdir / "metrics.jsonl").exists()
  assert (workdir / "final_metrics.json").exists()


def test_plain_machine_does_not_initialize(monkeypatch):
  for var in ("SLURM_NTASKS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
              "TPU_WORKER_HOSTNAMES"):
    monkeypatch.delenv(var, raising=False)
  assert distributed.detected_cluster() is None
  assert distributed.maybe_initialize() is False
  monkeypatch.setenv("SLURM_NTASKS", "4")
  monkeypatch.setenv("SLURM_JOB_ID", "1")
  assert distributed.detected_cluster() == "slurm"
  monkeypatch.setenv("SLURM_NTASKS", "1")
  assert distributed.detected_cluster() is None


def test_incomplete_coordinator_settings_are_rejected():
  with pytest.raises(ValueError, match="all three"):
    distributed.maybe_initialize("127.0.0.1:1234", None, 0)
  with pytest.raises(ValueError, match="process_id"):
    distributed.maybe_initialize("127.0.0.1:1234", 2, 2)

"""Preemption and damaged checkpoints (gdm_jax/train/loop.py, checkpoint.py).

- SIGTERM during training: the loop checkpoints the step it is on, returns
  {"preempted_at": step}, and a rerun in the workdir ends with exactly the
  state of an uninterrupted run.
- An unreadable newest checkpoint: the run resumes from the previous good
  one (the bad one is moved to checkpoints_unreadable/) and again ends
  exactly where an uninterrupted run ends; when no checkpoint restores, a
  CheckpointError names the folder.
"""

import os
import signal

import jax
import numpy as np
import pytest

from gdm_jax.train import loop
from gdm_jax.train.checkpoint import CheckpointError
from tests import helpers as h

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  h.patch_data_cache(monkeypatch)


def _config():
  # Checkpoints at 5, 10, 15, 20; no expensive final NLL needed here.
  config = h.smoke_config("vae.py", checkpoint_every=5, keep_checkpoints=4)
  return config


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  with pytest.MonkeyPatch.context() as mp:
    h.patch_data_cache(mp)
    workdir = str(tmp_path_factory.mktemp("straight"))
    result = loop.train_and_evaluate(_config(), workdir)
  return workdir, result


def _assert_same_final_state(dir_a, dir_b, config):
  step_a, state_a = h.restore_checkpoint(dir_a, config)
  step_b, state_b = h.restore_checkpoint(dir_b, config)
  assert step_a == step_b == config.train.num_steps
  for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_sigterm_checkpoints_current_step_and_resume_is_exact(
    tmp_path, monkeypatch, straight):
  config = _config()
  signal_at = 7   # Not a checkpoint step: the loop must save step 8 itself.
  original = loop.sharding.global_batch
  calls = {"n": 0}

  def global_batch_then_signal(batch, mesh):
    calls["n"] += 1
    # Call 1 is the example batch for init; call k + 2 is step k's batch.
    if calls["n"] == signal_at + 2:
      os.kill(os.getpid(), signal.SIGTERM)
    return original(batch, mesh)

  monkeypatch.setattr(loop.sharding, "global_batch", global_batch_then_signal)
  workdir = str(tmp_path)
  out = loop.train_and_evaluate(config, workdir)
  assert out == {"preempted_at": signal_at + 1}
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "handler leaked"
  step, _ = h.restore_checkpoint(workdir, config)
  assert step == signal_at + 1
  assert not os.path.exists(os.path.join(workdir, "final_metrics.json"))

  monkeypatch.setattr(loop.sharding, "global_batch", original)
  resumed = loop.train_and_evaluate(config, workdir)
  assert resumed["metrics"] == straight[1]["metrics"]
  _assert_same_final_state(workdir, straight[0], config)


def _corrupt(step_dir: str) -> int:
  """Overwrites every file of a checkpoint with garbage; returns the count."""
  n = 0
  for root, _, files in os.walk(step_dir):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"\x00garbage")
      n += 1
  return n


def test_unreadable_newest_checkpoint_resumes_from_previous(
    tmp_path, straight):
  config = _config()
  workdir = str(tmp_path)
  assert loop.train_and_evaluate(config, workdir, stop_at_step=15) == {
      "stopped_at": 15}
  ckpt_dir = os.path.join(workdir, "checkpoints")
  assert _corrupt(os.path.join(ckpt_dir, "15")) > 0

  resumed = loop.train_and_evaluate(config, workdir)
  assert os.path.isdir(os.path.join(workdir, "checkpoints_unreadable", "15"))
  train_steps = [r["step"] for r in h.read_metrics(workdir) if r["split"] == "train"]
  # Steps 11-15 were trained twice: logged at 15 before and after the resume.
  assert train_steps.count(15) == 2 and train_steps.count(20) == 1
  assert resumed["metrics"] == straight[1]["metrics"]
  _assert_same_final_state(workdir, straight[0], config)


def test_no_readable_checkpoint_is_a_clear_error(tmp_path):
  config = _config()
  workdir = str(tmp_path)
  loop.train_and_evaluate(config, workdir, stop_at_step=5)
  _corrupt(os.path.join(workdir, "checkpoints", "5"))
  with pytest.raises(CheckpointError, match="none of the checkpoints"):
    loop.train_and_evaluate(config, workdir)
  assert os.path.isdir(os.path.join(workdir, "checkpoints", "5")), (
      "the only checkpoint must be left where it is")


def test_full_disk_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch,
                                                         straight):
  """A save that dies half-written (ENOSPC) stops the run with a clear
  error; the previous checkpoint stays usable and a rerun resumes from it."""
  config = _config()
  workdir = str(tmp_path)
  original = loop.Checkpointer.save

  def save_until_disk_full(self, state):
    step = int(jax.device_get(state.step))
    if step == 15:
      partial = os.path.join(self.directory, "15")   # Half-written leftovers.
      os.makedirs(partial, exist_ok=True)
      with open(os.path.join(partial, "_CHECKPOINT_METADATA"), "wb") as f:
        f.write(b"{\"trunc")
      raise OSError(28, "No space left on device")
    return original(self, state)

  monkeypatch.setattr(loop.Checkpointer, "save", save_until_disk_full)
  with pytest.raises(CheckpointError, match=r"No space left on device.*step 10"):
    loop.train_and_evaluate(config, workdir)
  monkeypatch.setattr(loop.Checkpointer, "save", original)
  resumed = loop.train_and_evaluate(config, workdir)
  assert resumed["metrics"] == straight[1]["metrics"]
  _assert_same_final_state(workdir, straight[0], config)

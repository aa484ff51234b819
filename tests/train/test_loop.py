"""Tests of the generic train loop (gdm_jax/train/loop.py), in-process, on the
smoke config and real Fashion-MNIST: the loss falls, the step compiles once,
interrupt-and-resume equals an uninterrupted run, and the NaN guard stops the
run naming the step and metric while the last good checkpoint survives.

The data set is loaded once per session (tests/helpers.cached_load).
"""

import os
import re

import jax
import numpy as np
import pytest

from gdm_jax.train import loop
from tests import helpers as h

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  h.patch_data_cache(monkeypatch)


# ---------------------------------------------------------------- loss falls

def test_loss_falls_on_real_data(tmp_path):
  num_steps, log_every = 150, 25
  config = h.smoke_config("vae.py", num_steps=num_steps,
                          log_every=log_every, eval_every=num_steps,
                          checkpoint_every=num_steps)
  # stop_at_step == num_steps: the last step's eval and checkpoint run, the
  # (slow, irrelevant here) final test evaluation is skipped.
  out = loop.train_and_evaluate(config, str(tmp_path), stop_at_step=num_steps)
  assert out == {"stopped_at": num_steps}

  losses = h.train_losses(h.read_metrics(str(tmp_path)))
  assert sorted(losses) == list(range(log_every, num_steps + 1, log_every))
  first, last = losses[log_every], losses[num_steps]
  assert np.isfinite(first) and np.isfinite(last)
  # Binarised Fashion-MNIST, this config: ~534 nats averaged over steps
  # 1-25, ~364 over steps 126-150 (measured); a stalled optimiser or a
  # wrong-sign gradient stays above ~500.
  assert last < first - 50, f"loss did not fall: {losses}"
  assert last < 0.85 * first, f"loss did not fall: {losses}"


# ---------------------------------------------------- interrupt and resume

@pytest.fixture(scope="module")
def resume_runs(tmp_path_factory):
  """Run A: stopped after step 10, then resumed to 20; run B: uninterrupted."""
  with pytest.MonkeyPatch.context() as mp:
    h.patch_data_cache(mp)
    config = h.smoke_config("vae.py")
    assert config.train.num_steps == 20 and config.train.checkpoint_every == 10
    dir_a = str(tmp_path_factory.mktemp("run_a"))
    dir_b = str(tmp_path_factory.mktemp("run_b"))
    first = loop.train_and_evaluate(config, dir_a, stop_at_step=10)
    stopped_files = sorted(os.listdir(dir_a))
    resumed = loop.train_and_evaluate(config, dir_a)
    straight = loop.train_and_evaluate(config, dir_b)
    yield {"config": config, "dir_a": dir_a, "dir_b": dir_b, "first": first,
           "stopped_files": stopped_files, "resumed": resumed,
           "straight": straight}


def test_stop_at_step_stops_without_final_eval(resume_runs):
  assert resume_runs["first"] == {"stopped_at": 10}
  assert "final_metrics.json" not in resume_runs["stopped_files"]
  assert "checkpoints" in resume_runs["stopped_files"]


def test_resume_final_metrics_equal_uninterrupted(resume_runs):
  a, b = resume_runs["resumed"], resume_runs["straight"]
  assert set(a["metrics"]) >= {"test/elbo", "test/nll", "test/bits_per_dim"}
  assert a["metrics"] == b["metrics"]      # exactly: one CPU device
  assert a["protocol"] == b["protocol"]


def test_resume_checkpointed_state_equal_uninterrupted(resume_runs):
  config = resume_runs["config"]
  step_a, state_a = h.restore_checkpoint(resume_runs["dir_a"], config)
  step_b, state_b = h.restore_checkpoint(resume_runs["dir_b"], config)
  assert step_a == step_b == config.train.num_steps
  assert int(state_a.step) == int(state_b.step) == config.train.num_steps
  assert (jax.tree.structure(state_a) == jax.tree.structure(state_b))
  leaves_a = jax.tree.leaves(state_a.params)
  leaves_b = jax.tree.leaves(state_b.params)
  assert leaves_a, "no params restored"
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # Optimizer state and RNG too, so a further resume would also match.
  for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_resume_logged_metrics_equal_uninterrupted(resume_runs):
  rec_a = h.read_metrics(resume_runs["dir_a"])
  rec_b = h.read_metrics(resume_runs["dir_b"])
  loss_a, loss_b = h.train_losses(rec_a), h.train_losses(rec_b)  # no dupes
  assert sorted(loss_a) == sorted(loss_b) == [5, 10, 15, 20]
  after_a = {s: v for s, v in loss_a.items() if s > 10}
  after_b = {s: v for s, v in loss_b.items() if s > 10}
  assert after_a == after_b                # exactly
  assert loss_a == loss_b
  val_a = [_timeless(r) for r in rec_a if r["split"] == "validation"]
  val_b = [_timeless(r) for r in rec_b if r["split"] == "validation"]
  assert [r["step"] for r in val_a] == [10, 20]
  assert val_a == val_b                    # exactly


def _timeless(record: dict) -> dict:
  """A metrics.jsonl record without its wall-clock fields."""
  return {k: v for k, v in record.items() if "wall_time" not in k}


def test_rerun_of_finished_run_returns_its_final_metrics(resume_runs):
  with pytest.MonkeyPatch.context() as mp:
    h.patch_data_cache(mp)
    again = loop.train_and_evaluate(resume_runs["config"], resume_runs["dir_b"])
  assert again["metrics"] == resume_runs["straight"]["metrics"]
  assert again["protocol"] == resume_runs["straight"]["protocol"]
  steps = [r["step"] for r in h.read_metrics(resume_runs["dir_b"])
           if r["split"] == "train"]
  assert steps == [5, 10, 15, 20], "the finished run trained again"


def test_train_step_compiles_once(resume_runs):
  assert resume_runs["straight"]["train_step_compilations"] == 1
  assert resume_runs["resumed"]["train_step_compilations"] == 1


# ------------------------------------------------------------------ NaN guard

def test_non_finite_loss_stops_with_step_and_metric(tmp_path, monkeypatch):
  h.register_nan_vae(monkeypatch)
  config = h.smoke_config("vae.py", checkpoint_every=5, log_every=1,
                          eval_every=100, num_steps=20)
  config.model.name = h.NAN_FAMILY
  bad_step = h.NAN_FROM_STEP + 1           # the trainer's 1-based step: 13
  with pytest.raises(loop.NonFiniteError) as info:
    loop.train_and_evaluate(config, str(tmp_path))
  message = str(info.value)
  assert re.search(rf"\bstep {bad_step}\b", message), message
  assert "'loss'" in message, message

  # The last good checkpoint (10) is the newest, and it is finite.
  step, state = h.restore_checkpoint(str(tmp_path), config)
  assert step == 10
  assert int(state.step) == 10
  assert h.all_finite(state.params)
  assert h.all_finite(state.opt_state)
  # Stopped at once: nothing logged past the bad step, no final metrics.
  losses = h.train_losses(h.read_metrics(str(tmp_path)))
  assert max(losses) < bad_step
  assert all(np.isfinite(v) for v in losses.values())
  assert not os.path.exists(tmp_path / "final_metrics.json")


def test_checkpoint_beyond_num_steps_is_evaluated_and_recorded(resume_runs,
                                                               tmp_path):
  """A workdir whose newest checkpoint (step 20) is beyond a smaller
  train.num_steps is evaluated as it is, and the protocol records step 20."""
  import shutil
  workdir = str(tmp_path / "copy")
  shutil.copytree(resume_runs["dir_a"], workdir)
  os.remove(os.path.join(workdir, "final_metrics.json"))
  config = h.smoke_config("vae.py", num_steps=10)
  with pytest.MonkeyPatch.context() as mp:
    h.patch_data_cache(mp)
    result = loop.train_and_evaluate(config, workdir)
  assert result["protocol"]["train_steps"] == 20
  assert result["metrics"] == resume_runs["resumed"]["metrics"]

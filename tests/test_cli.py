"""End-to-end tests of the entry point `python -m experiments.train`, each in
a subprocess: the smoke run and everything it writes, 1 vs 8 simulated
devices, the non-finite exit status, and short clear errors for bad input.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tests import helpers
from tests.helpers import describe
from tests.helpers import read_metrics
from tests.helpers import run_cli
from tests.helpers import train_records

CONFIG = "experiments/configs/vae.py"
# The VAE's smoke run: 20 steps, logged every 5, evaluated and checkpointed
# every 10 (tests/helpers.py SMOKE['vae']).
SMOKE = helpers.smoke_flags("vae.py")

# absl/C++ log lines, which are not part of an error message.
_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s|WARNING: All log messages before "
    r"absl::InitializeLog\(\))")


def _message_lines(stderr: str) -> list[str]:
  return [l for l in stderr.splitlines() if l.strip() and not _LOG_LINE.match(l)]


# ------------------------------------------------------------- smoke run

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  """The smoke config on 1 CPU device, via the CLI (shared by two tests)."""
  workdir = tmp_path_factory.mktemp("smoke") / "run"   # created by the CLI
  proc = run_cli(*SMOKE, f"--workdir={workdir}", devices=None)
  return proc, workdir


@pytest.mark.slow
def test_smoke_run_writes_all_outputs(smoke_run):
  proc, workdir = smoke_run
  assert proc.returncode == 0, describe(proc)
  assert "Traceback" not in proc.stderr, describe(proc)

  # metrics.jsonl: valid JSON lines, train and validation splits.
  records = read_metrics(workdir)
  assert records
  for r in records:
    assert isinstance(r.get("step"), int) and isinstance(r.get("split"), str), r
  train = train_records(records)
  assert sorted(train) == [5, 10, 15, 20]
  assert all(math.isfinite(r["loss"]) for r in train.values())
  val_steps = [r["step"] for r in records if r["split"] == "validation"]
  assert val_steps == [10, 20]

  # A checkpoint of the last step.
  from gdm_jax.train.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top
  ckpt = Checkpointer(str(workdir / "checkpoints"))
  try:
    assert ckpt.latest_step() == 20
  finally:
    ckpt.close()

  # PNG grids and TensorBoard event files.
  pngs = sorted((workdir / "images").glob("*.png"))
  assert pngs, f"no PNG in {workdir / 'images'}"
  for p in pngs:
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
  events = list((workdir / "tensorboard").rglob("events.out.tfevents.*"))
  assert events and all(e.stat().st_size > 0 for e in events), events

  # final_metrics.json: metrics and their protocol.
  final = json.loads((workdir / "final_metrics.json").read_text())
  m, proto = final["metrics"], final["protocol"]
  for key in ("test/elbo", "test/nll", "test/bits_per_dim"):
    assert math.isfinite(m[key]), (key, m)
  # The IWAE NLL (K=20) is <= -ELBO in expectation; 200 examples leave some
  # Monte Carlo noise (measured margin ~3.8 nats at 535 nats).
  assert m["test/nll"] <= -m["test/elbo"] + 1.0, m
  assert m["test/nll"] > 0
  # Binary 28x28 data: bits/dim = nll / (784 ln 2).
  assert m["test/bits_per_dim"] == pytest.approx(
      m["test/nll"] / (784 * math.log(2)), rel=1e-5)
  assert proto["dataset"] == "fashion_mnist"
  assert proto["split"] == "test"
  assert proto["num_examples"] == 200
  assert proto["seed"] == 0
  assert proto["nll_num_samples"] == 20, proto


@pytest.mark.slow
def test_train_losses_match_on_1_and_8_devices(smoke_run, tmp_path):
  proc1, workdir1 = smoke_run
  assert proc1.returncode == 0, describe(proc1)
  assert re.search(r"\b1 devices\b", proc1.stderr), describe(proc1)
  # Eval batch sizes that divide over 8 devices (the smoke config's 100 does
  # not: see test_smoke_config_batch_sizes_divide_over_8_devices), and no
  # mid-run eval/checkpoint (saves time). None of these affect training, so
  # the train metrics must match the 1-device smoke run.
  workdir8 = tmp_path / "run8"
  proc8 = run_cli(*SMOKE, f"--workdir={workdir8}",
                  "--config.train.eval_batch_size=200",
                  "--config.train.final_eval_batch_size=200",
                  "--config.train.eval_every=20",
                  "--config.train.checkpoint_every=20", devices=8)
  assert proc8.returncode == 0, describe(proc8)
  assert re.search(r"\b8 devices\b", proc8.stderr), (
      "the run did not see 8 devices\n" + describe(proc8))

  train1 = train_records(read_metrics(workdir1))
  train8 = train_records(read_metrics(workdir8))
  assert sorted(train1) == sorted(train8) == [5, 10, 15, 20]
  for step in sorted(train1):
    np.testing.assert_allclose(train8[step]["loss"], train1[step]["loss"],
                               rtol=1e-4, err_msg=f"loss at step {step}")
    for key in ("elbo", "kl", "reconstruction", "grad_norm"):
      np.testing.assert_allclose(train8[step][key], train1[step][key],
                                 rtol=1e-3, atol=1e-3,
                                 err_msg=f"{key} at step {step}")
  assert (workdir8 / "final_metrics.json").exists()


@pytest.mark.slow
def test_cpu_devices_flag_splits_the_cpu_and_matches_one_device(smoke_run,
                                                                 tmp_path):
  """--cpu_devices=2 (no XLA flag) runs on a 2-device Mesh with the same
  training curve as one device."""
  proc1, workdir1 = smoke_run
  assert proc1.returncode == 0, describe(proc1)
  workdir2 = tmp_path / "run2"
  proc2 = run_cli(*SMOKE, f"--workdir={workdir2}", "--cpu_devices=2",
                  "--config.train.eval_every=20",
                  "--config.train.checkpoint_every=20")
  assert proc2.returncode == 0, describe(proc2)
  assert re.search(r"\b2 devices \(cpu\)", proc2.stderr), describe(proc2)
  train1 = train_records(read_metrics(workdir1))
  train2 = train_records(read_metrics(workdir2))
  assert sorted(train1) == sorted(train2) == [5, 10, 15, 20]
  for step in sorted(train1):
    for key in ("loss", "elbo", "kl", "grad_norm"):
      np.testing.assert_allclose(train2[step][key], train1[step][key],
                                 rtol=1e-3, atol=1e-3,
                                 err_msg=f"{key} at step {step}")


def test_set_cpu_devices_validates_and_refuses_after_jax_started():
  import jax  # pylint: disable=g-import-not-at-top
  from gdm_jax.train import distributed  # pylint: disable=g-import-not-at-top
  jax.devices()   # the backend is running from here on
  for bad in (0, -2, 1.5, "2", True):
    with pytest.raises(ValueError, match="positive integer"):
      distributed.set_cpu_devices(bad)
  with pytest.raises(ValueError, match="before JAX's first computation"):
    distributed.set_cpu_devices(len(jax.devices()) + 1)


def test_smoke_config_batch_sizes_divide_over_8_devices():
  t = helpers.smoke_config("vae.py").train
  for field in ("batch_size", "eval_batch_size", "final_eval_batch_size"):
    assert t[field] % 8 == 0, f"train.{field}={t[field]} % 8 != 0"


@pytest.mark.slow
def test_eval_batch_size_checked_before_training(tmp_path):
  proc = run_cli(*SMOKE, f"--workdir={tmp_path / 'run'}",
                 "--config.train.eval_batch_size=100",
                 "--config.train.final_eval_batch_size=40",
                 "--config.train.num_steps=2", "--config.train.log_every=1",
                 devices=8)
  assert proc.returncode == 2, describe(proc)
  assert "Traceback" not in proc.stderr, describe(proc)
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert errors and "eval" in errors[0] and "100" in errors[0], describe(proc)
  assert not re.search(r"step 1/2\b", proc.stderr), (
      "trained before rejecting the eval batch size\n" + describe(proc))


# ------------------------------------------------------------- NaN guard

@pytest.mark.slow
def test_huge_learning_rate_exits_3_naming_non_finite(tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli(*SMOKE, f"--workdir={workdir}",
                 "--config.optimizer.learning_rate=1e30")
  assert proc.returncode == 3, describe(proc)
  assert "Traceback" not in proc.stderr, describe(proc)
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error: non-finite")]
  assert len(errors) == 1, describe(proc)
  # It really went non-finite, and the message names the step and metric.
  assert re.search(r"= (nan|-?inf)\b", errors[0]), errors[0]
  assert re.search(r"\bat step \d+\b", errors[0]), errors[0]
  assert re.search(r"metric '\w+'", errors[0]), errors[0]
  assert not (workdir / "final_metrics.json").exists()


# ------------------------------------------------------------- bad input

def _under_a_file(tmp_path: Path) -> str:
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  return str(blocker / "workdir")


_BAD_INPUTS = [
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={tmp / 'w'}",
                     "--config.train.no_such_field=1"],
        None, ["no_such_field"], id="unknown_config_field"),
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={tmp / 'w'}",
                     "--config.train.batch_size=abc"],
        None, ["config.train.batch_size", "abc", "error"], id="wrong_type"),
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={tmp / 'w'}",
                     "--config.train.batch_size=-4"],
        2, ["error: train.batch_size", "-4", "positive"], id="negative_batch"),
    pytest.param(
        lambda tmp: [f"--config={CONFIG}:nope", f"--workdir={tmp / 'w'}"],
        None, ["unknown variant", "nope"], id="unknown_variant"),
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={_under_a_file(tmp)}"],
        2, ["error: workdir", "not writable"], id="unwritable_workdir"),
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={tmp / 'w'}", "--cpu_devices=0"],
        None, ["cpu_devices", "error"], id="cpu_devices_zero"),
    pytest.param(
        lambda tmp: [*SMOKE, f"--workdir={tmp / 'w'}", "--cpu_devices=3"],
        2, ["error: train.batch_size", "3 devices", "--cpu_devices"],
        id="batch_not_divisible_by_cpu_devices"),
    pytest.param(
        lambda tmp: SMOKE, None, ["workdir", "error"], id="missing_workdir"),
    pytest.param(
        lambda tmp: [f"--workdir={tmp / 'w'}"], None, ["config", "error"],
        id="missing_config"),
    pytest.param(
        lambda tmp: ["--config=experiments/configs/no_such_file.py",
                     f"--workdir={tmp / 'w'}"],
        None, ["no_such_file.py"], id="missing_config_file"),
]


@pytest.mark.parametrize("make_args, status, keywords", _BAD_INPUTS)
def test_bad_input_gives_short_clear_error(tmp_path, make_args, status, keywords):
  args = make_args(tmp_path)
  proc = run_cli(*args, timeout=120)
  assert proc.returncode != 0, describe(proc)
  if status is not None:
    assert proc.returncode == status, describe(proc)
  assert "Traceback" not in proc.stderr + proc.stdout, describe(proc)
  message = "\n".join(_message_lines(proc.stderr))
  for word in keywords:
    assert word.lower() in message.lower(), (f"{word!r} not in the error\n"
                                             + describe(proc))
  # Short: absl's flag errors are 2 lines ('FATAL Flags parsing error: ...'
  # and a '--helpshort' hint); the trainer's are one 'error:' line.
  assert len(_message_lines(proc.stderr)) <= 3, describe(proc)
  # Rejected before any data was loaded or model built.
  assert " parameters, " not in proc.stderr, describe(proc)
  assert not (tmp_path / "w" / "metrics.jsonl").exists()

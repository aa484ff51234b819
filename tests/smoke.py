"""Smoke runs of a config in this test process, for the per-config tests.

Each family keeps one real CLI run (`python -m experiments.train`, a
subprocess: flag parsing, exit codes, a fresh process); its other configs run
the same `train_and_evaluate` in-process through `run_in_process`, which
shares the imports and the loaded data with the rest of the test process
(the subprocesses' start-up, TensorFlow import and data loading were most of
their cost). The result looks like a finished subprocess so the same checks
apply to both.
"""

import importlib
import pathlib
import subprocess
import traceback

import pytest

from gdm_jax.train.options import with_trainer_defaults
from gdm_jax.train import loop
from tests.train import _helpers as h


def run_in_process(config_arg: str, workdir) -> subprocess.CompletedProcess:
  """Trains `config_arg` ('experiments/configs/NAME.py:VARIANT') into
  `workdir` like the CLI (its trainer options added, config locked).

  Returns CompletedProcess(args, returncode 0 or 1, stdout '', stderr =
  the traceback of a failure).
  """
  path, _, variant = config_arg.partition(":")
  name = pathlib.Path(path).stem
  module = importlib.import_module(f"experiments.configs.{name}")
  args = ["in-process", f"--config={config_arg}", f"--workdir={workdir}"]
  try:
    config = with_trainer_defaults(
        module.get_config(variant) if variant else module.get_config())
    config.lock()
    with pytest.MonkeyPatch.context() as mp:
      h.patch_data_cache(mp)
      loop.train_and_evaluate(config, str(workdir))
  except Exception:  # pylint: disable=broad-except
    return subprocess.CompletedProcess(args, 1, "", traceback.format_exc())
  return subprocess.CompletedProcess(args, 0, "", "")


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
  """Waits for a CLI subprocess started with text pipes: (returncode, stdout,
  stderr); after `timeout` seconds it is killed and stderr says so (the
  tests then fail on its return code, with the output so far)."""
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
    err = (err or "") + f"\n[killed after {timeout} s]"
  return proc.returncode, out or "", err or ""

"""The xICFG smoke config end to end through `python -m experiments.train`."""

import json
import math

import pytest

from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records


@pytest.mark.slow
def test_cfg_smoke_run_through_the_cli(tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli("--config=experiments/configs/cfg.py:smoke",
                 f"--workdir={workdir}")
  assert proc.returncode == 0, _describe(proc)
  assert "Traceback" not in proc.stderr, _describe(proc)
  train = train_records(read_metrics(workdir))
  assert sorted(train) == [1, 2, 3]
  for record in train.values():
    for key in ("d_loss", "fit_loss_before", "fit_loss_after", "grad_norm"):
      assert math.isfinite(record[key]), (key, record)
    # Logistic loss of a (real, fake) pair: >= 0, and near log 4 for the
    # barely trained tiny discriminator.
    assert 0 < record["d_loss"] < 3 * math.log(4), record
  final = json.loads((workdir / "final_metrics.json").read_text())
  for key in ("test/d_loss", "test/d_real", "test/d_fake",
              "test/approximator_error"):
    assert math.isfinite(final["metrics"][key]), (key, final)
  assert final["protocol"]["model"] == "cfg"
  assert final["protocol"]["num_examples"] == 200
  pngs = sorted((workdir / "images").glob("*.png"))
  assert any("samples" in p.name for p in pngs), pngs
  assert any("interpolations" in p.name for p in pngs), pngs

"""The Helmholtz machine's smoke config end to end through
`python -m experiments.train`."""

import json
import math

import pytest

from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records


@pytest.mark.slow
def test_helmholtz_smoke_run_through_the_cli(tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli("--config=experiments/configs/helmholtz.py:smoke",
                 f"--workdir={workdir}")
  assert proc.returncode == 0, _describe(proc)
  assert "Traceback" not in proc.stderr, _describe(proc)
  train = train_records(read_metrics(workdir))
  assert sorted(train) == [1, 2, 3]
  for record in train.values():
    for key in ("wake_loss", "sleep_loss", "elbo", "generative_grad_norm",
                "recognition_grad_norm"):
      assert math.isfinite(record[key]), (key, record)
    # -log p(x, z) and -log q(z | x) of binary variables are >= 0, and the
    # 784-pixel wake loss of an untrained model is hundreds of nats.
    assert record["wake_loss"] > 100 and record["sleep_loss"] > 0, record
  final = json.loads((workdir / "final_metrics.json").read_text())
  metrics = final["metrics"]
  for key in ("test/elbo", "test/nll", "test/bits_per_dim"):
    assert math.isfinite(metrics[key]), (key, final)
  # The K=20 importance bound is at least the one-sample ELBO on average
  # (up to Monte Carlo noise over 100 examples).
  assert metrics["test/nll"] <= -metrics["test/elbo"] + 1.0, metrics
  assert final["protocol"]["model"] == "helmholtz"
  assert final["protocol"]["num_examples"] == 100
  pngs = sorted((workdir / "images").glob("*.png"))
  for name in ("samples", "dreams", "reconstructions"):
    assert any(name in p.name for p in pngs), (name, pngs)

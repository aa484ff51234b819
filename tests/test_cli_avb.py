"""The AVB smoke config end to end through the CLI (`experiments.train`):
exit 0, finite train metrics of both players, final_metrics.json with the
importance-sampled NLL (a bound at least as tight as the proposal's own
ELBO) and the AVB estimate, and the sample / reconstruction grids."""

import json
import math

from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records


def test_avb_smoke_run(tmp_path):
  workdir = tmp_path / "avb"
  proc = run_cli("--config=experiments/configs/avb.py:smoke",
                 f"--workdir={workdir}")
  assert proc.returncode == 0, _describe(proc)
  records = train_records(read_metrics(workdir))
  assert sorted(records) == [1, 2, 3]
  for r in records.values():
    for name in ("loss", "d_loss", "elbo_avb", "kl_estimate"):
      assert math.isfinite(r[name]), (name, r)
  final = json.loads((workdir / "final_metrics.json").read_text())
  m = final["metrics"]
  for name in ("test/nll", "test/elbo_avb", "test/elbo_proposal",
               "test/bits_per_dim"):
    assert math.isfinite(m[name]), name
  assert -m["test/nll"] >= m["test/elbo_proposal"] - 1e-3
  assert final["protocol"]["model"] == "avb"
  assert final["protocol"]["nll_num_samples"] == 20
  pictures = {p.name for p in (workdir / "images").rglob("*.png")}
  assert any("samples" in p for p in pictures), pictures
  assert any("reconstructions" in p for p in pictures), pictures

"""CLI smoke run of the Gumbel-softmax VAE (experiments/configs/gumbel_vae.py:
smoke): trains 3 steps with the annealed temperature, evaluates the discrete
model, and writes the final metrics and pictures."""

import json
import math

from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records


def test_gumbel_vae_smoke_cli(tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli("--config=experiments/configs/gumbel_vae.py:smoke",
                 f"--workdir={workdir}")
  assert proc.returncode == 0, _describe(proc)
  final = json.loads((workdir / "final_metrics.json").read_text())
  m, protocol = final["metrics"], final["protocol"]
  assert protocol["model"] == "gumbel_vae" and protocol["nll_num_samples"] == 20
  assert protocol["num_examples"] == 100
  for key in ("test/elbo", "test/nll", "test/bits_per_dim"):
    assert math.isfinite(m[key]), m
  # Binary data, Bernoulli decoder: ELBO <= 0, NLL >= 0, bits/dim = NLL/(D ln 2).
  assert m["test/elbo"] < 0 < m["test/nll"]
  assert abs(m["test/bits_per_dim"] - m["test/nll"] / (784 * math.log(2))) < 1e-4
  # The smoke schedule τ = max(0.5, exp(-0.1 ⌊t/2⌋ 2)) at steps t = 0, 1, 2.
  records = train_records(read_metrics(workdir))
  taus = [records[step]["temperature"] for step in sorted(records)]
  assert sorted(records) == [1, 2, 3], records
  for t, tau in enumerate(taus):
    assert abs(tau - max(0.5, math.exp(-0.1 * (t // 2) * 2))) < 1e-5, taus
  names = {p.name.rsplit("_", 1)[0] for p in (workdir / "images").glob("*.png")}
  assert {"samples", "reconstructions", "final_samples"} <= names, names

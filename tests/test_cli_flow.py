"""One smoke run of every flow config: realnvp through the entry point
`python -m experiments.train` (a subprocess, as in tests/test_cli.py), the
others through the same `train_and_evaluate` in this process meanwhile
(tests/smoke.py); each test checks one of them: success, finite train
losses, and the final metrics with their protocol.
"""

import json
import math
import subprocess
import sys

import pytest

from tests.smoke import run_in_process
from tests.test_cli import _describe
from tests.test_cli import _env
from tests.test_cli import REPO
from tests.test_cli import TIMEOUT_S as _ONE_RUN_TIMEOUT_S
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records

# Four runs share the CPU: twice the single-run limit of tests/test_cli.py.
TIMEOUT_S = 2 * _ONE_RUN_TIMEOUT_S

CONFIGS = {
    "realnvp": "experiments/configs/realnvp.py:smoke",
    "glow": "experiments/configs/glow.py:smoke",
    "nice": "experiments/configs/nice.py:smoke",
    "flow_toy": "experiments/configs/flow_toy.py:smoke",
}


CLI_CONFIG = "realnvp"   # The one run through a subprocess.


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
  """{name: (CompletedProcess, workdir)} for every flow smoke config."""
  root = tmp_path_factory.mktemp("flow_smoke")
  workdir = root / CLI_CONFIG
  cmd = [sys.executable, "-m", "experiments.train",
         f"--config={CONFIGS[CLI_CONFIG]}", f"--workdir={workdir}"]
  proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  out = {name: (run_in_process(config, root / name), root / name)
         for name, config in CONFIGS.items() if name != CLI_CONFIG}
  try:
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
  except subprocess.TimeoutExpired:
    proc.kill()
    pytest.fail(f"`{' '.join(cmd[1:])}` did not finish within {TIMEOUT_S} s; "
                "killed.", pytrace=False)
  out[CLI_CONFIG] = (subprocess.CompletedProcess(cmd, proc.returncode, stdout,
                                                 stderr), workdir)
  return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["realnvp", "glow", "nice"])
def test_image_flow_smoke_run(smoke_runs, name):
  proc, workdir = smoke_runs[name]
  assert proc.returncode == 0, _describe(proc)
  train = train_records(read_metrics(workdir))
  assert sorted(train) == [3]
  assert all(math.isfinite(r["loss"]) for r in train.values())
  final = json.loads((workdir / "final_metrics.json").read_text())
  m, proto = final["metrics"], final["protocol"]
  # bits/dim = (nll + D ln 256) / (D ln 2) for uniform dequantisation.
  # (NICE's per-pixel scaling, data-initialised on 16 images, can put it
  # far above 8 after 3 steps: no upper bound is checked.)
  d = 784
  assert math.isfinite(m["test/bits_per_dim"]) and m["test/bits_per_dim"] > 0
  assert m["test/bits_per_dim"] == pytest.approx(
      (m["test/nll"] + d * math.log(256)) / (d * math.log(2)), rel=1e-5)
  assert proto["model"] == "flow" and proto["architecture"] == name
  assert proto["num_examples"] == 100
  pngs = [p.name for p in (workdir / "images").glob("*.png")]
  assert any(p.startswith("samples_t0.7") or p.startswith("samples_t1.0")
             for p in pngs), pngs


@pytest.mark.slow
def test_toy_flow_smoke_run(smoke_runs):
  proc, workdir = smoke_runs["flow_toy"]
  assert proc.returncode == 0, _describe(proc)
  final = json.loads((workdir / "final_metrics.json").read_text())
  m, proto = final["metrics"], final["protocol"]
  assert math.isfinite(m["test/nll"])
  # KL(p_data || p_model) >= 0 up to the Monte Carlo error of 100 examples.
  assert m["test/kl_data_model"] > -0.1, m
  assert proto["dataset"] == "two_moons" and proto["architecture"] == "toy_2d"

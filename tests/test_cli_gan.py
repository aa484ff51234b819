"""Every adversarial config's smoke variant end to end: `gan.py:smoke`
through the CLI (`python -m experiments.train`, a subprocess), the other five
through the same `train_and_evaluate` in this process while it runs
(tests/smoke.py); each is then checked on its own: success, finite losses at
every step, final_metrics.json with the objective's own metric and
protocol, sample and interpolation grids.
"""

import json
import math
import subprocess
import sys

import pytest

from tests.smoke import finish
from tests.smoke import run_in_process
from tests.test_cli import _env
from tests.test_cli import REPO
from tests.test_cli import TIMEOUT_S
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records

# config file -> (objective, a final metric only that objective reports)
CONFIGS = {
    "gan": ("non_saturating", "test/d_real"),
    "dcgan": ("non_saturating", "test/d_accuracy"),
    "fgan": ("fgan", "test/variational_bound"),
    "wgan": ("wgan", "test/wasserstein_estimate"),
    "wgan_gp": ("wgan_gp", "test/gradient_penalty"),
    "cramer_gan": ("cramer", "test/energy_distance"),
}


CLI_CONFIG = "gan"   # The one run through a subprocess.


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
  """{config: (returncode, stdout, stderr, workdir)}."""
  root = tmp_path_factory.mktemp("gan_smoke")
  workdir = root / CLI_CONFIG
  cmd = [sys.executable, "-m", "experiments.train",
         f"--config=experiments/configs/{CLI_CONFIG}.py:smoke",
         f"--workdir={workdir}"]
  proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  results = {}
  for name in CONFIGS:
    if name != CLI_CONFIG:
      done = run_in_process(f"experiments/configs/{name}.py:smoke", root / name)
      results[name] = (done.returncode, done.stdout, done.stderr, root / name)
  results[CLI_CONFIG] = finish(proc, 2 * TIMEOUT_S) + (workdir,)
  return results


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_smoke_config_runs_through_the_cli(smoke_runs, name):
  code, out, err, workdir = smoke_runs[name]
  context = (f"{name}: exit status {code}\n--- stdout tail:\n{out[-1500:]}\n"
             f"--- stderr tail:\n{err[-4000:]}")
  assert code == 0, context
  assert "Traceback" not in err, context
  train = train_records(read_metrics(workdir))
  assert sorted(train) == [1, 2, 3], context
  for record in train.values():
    for key in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"):
      assert math.isfinite(record[key]), (name, key, record)
  objective, own_metric = CONFIGS[name]
  final = json.loads((workdir / "final_metrics.json").read_text())
  for key in ("test/d_loss", "test/g_loss", own_metric):
    assert math.isfinite(final["metrics"][key]), (name, key, final)
  proto = final["protocol"]
  assert proto["model"] == "gan" and proto["objective"] == objective, proto
  assert proto["num_examples"] == 200, proto
  pngs = sorted((workdir / "images").glob("*.png"))
  assert any("samples" in p.name for p in pngs), pngs
  assert any("interpolations" in p.name for p in pngs), pngs

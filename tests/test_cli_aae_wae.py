"""The AAE and WAE smoke configs end to end through the CLI.

aae.py:mixture2d_smoke (the 2-D prior, so the latent picture is drawn too)
and wae.py:gan_smoke (WAE-GAN) run through the CLI in subprocesses;
wae.py:smoke (WAE-MMD) runs the same `train_and_evaluate` in this process
meanwhile (tests/smoke.py); each must succeed with finite losses at every
step, final metrics with the family's own terms and protocol, and its image
grids.
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

# config -> (model name, final metrics that family reports, image names)
RUNS = {
    "aae.py:mixture2d_smoke": ("aae", ("test/reconstruction", "test/d_accuracy",
                                       "test/g_loss", "test/mmd"),
                               ("samples", "reconstructions", "latent")),
    "wae.py:smoke": ("wae", ("test/reconstruction", "test/mmd"),
                     ("samples", "reconstructions")),
    "wae.py:gan_smoke": ("wae", ("test/reconstruction", "test/mmd",
                                 "test/d_loss"), ("samples", "reconstructions")),
}


# Each family through the CLI (subprocesses, concurrently); WAE-MMD through
# the same train_and_evaluate in this process meanwhile.
CLI_RUNS = ("aae.py:mixture2d_smoke", "wae.py:gan_smoke")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
  """{config: (returncode, stderr, workdir)}."""
  root = tmp_path_factory.mktemp("aae_wae_smoke")
  procs = {}
  for name in CLI_RUNS:
    workdir = root / name.replace(".py:", "_")
    cmd = [sys.executable, "-m", "experiments.train",
           f"--config=experiments/configs/{name}", f"--workdir={workdir}"]
    procs[name] = (subprocess.Popen(cmd, cwd=REPO, env=_env(), text=True,
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE), workdir)
  results = {}
  for name in RUNS:
    if name not in CLI_RUNS:
      wd = root / name.replace(".py:", "_")
      done = run_in_process(f"experiments/configs/{name}", wd)
      results[name] = (done.returncode, done.stderr, wd)
  for name, (proc, workdir) in procs.items():
    returncode, _, err = finish(proc, 2 * TIMEOUT_S)
    results[name] = (returncode, err, workdir)
  return results


@pytest.mark.parametrize("name", list(RUNS))
def test_smoke_run(smoke_runs, name):
  family, final_keys, image_names = RUNS[name]
  rc, err, workdir = smoke_runs[name]
  assert rc == 0, f"{name}: exit {rc}\n{err[-3000:]}"
  records = train_records(read_metrics(workdir))
  assert sorted(records) == [1, 2, 3]
  for r in records.values():
    assert math.isfinite(r["loss"]) and math.isfinite(r["reconstruction"]), r
  final = json.loads((workdir / "final_metrics.json").read_text())
  for key in final_keys:
    assert math.isfinite(final["metrics"][key]), key
  assert final["protocol"]["model"] == family
  assert final["protocol"]["num_examples"] == 100
  for image in image_names:
    assert list((workdir / "images").glob(f"{image}_*.png")), image

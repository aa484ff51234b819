"""The PixelCNN smoke config end to end through `python -m experiments.train`
(a subprocess, as in tests/test_cli.py): training steps, validation, the
sample and completion grids, and the exact test NLL in final_metrics.json.
"""

import json
import math

import pytest

from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records

CONFIG = "experiments/configs/pixelcnn.py"


@pytest.mark.slow
def test_pixelcnn_smoke_run(tmp_path):
  workdir = tmp_path / "run"
  proc = run_cli(f"--config={CONFIG}:smoke", f"--workdir={workdir}")
  assert proc.returncode == 0, _describe(proc)
  assert "Traceback" not in proc.stderr, _describe(proc)

  train = train_records(read_metrics(workdir))
  assert sorted(train) == [1, 2, 3]
  for r in train.values():
    # Train bits/dim is the per-image loss over 784 ln 2.
    assert r["bits_per_dim"] == pytest.approx(r["loss"] / (784 * math.log(2)),
                                              rel=1e-5)

  pngs = sorted(p.name for p in (workdir / "images").glob("*.png"))
  assert any("samples" in p for p in pngs), pngs
  assert any("completions" in p for p in pngs), pngs

  final = json.loads((workdir / "final_metrics.json").read_text())
  m, proto = final["metrics"], final["protocol"]
  # Exact discrete likelihood: bits/dim = nll / (D ln 2), no offset; after
  # 3 steps from a near-uniform start the model is within a bit of 8.
  assert m["test/bits_per_dim"] == pytest.approx(
      m["test/nll"] / (784 * math.log(2)), rel=1e-5)
  assert 6.0 < m["test/bits_per_dim"] < 9.0, m
  assert proto["model"] == "pixelcnn" and proto["num_examples"] == 200
  assert proto["likelihood"] == "categorical"


def test_variants_build_and_unknown_variant_is_rejected():
  from experiments.configs import pixelcnn as cfg  # pylint: disable=g-import-not-at-top
  from gdm_jax.models import pixelcnn  # pylint: disable=g-import-not-at-top
  for variant in ("default", "pp", "plain", "smoke"):
    c = cfg.get_config(variant)
    pixelcnn.make(c, {"shape": (28, 28, 1)})
    assert c.eval.sample_metrics == (variant in ("default", "pp"))
    for field in ("batch_size", "eval_batch_size", "final_eval_batch_size"):
      assert c.train[field] % 8 == 0, (variant, field)
  assert cfg.get_config("pp").model.likelihood == "logistic_mixture"
  with pytest.raises(ValueError, match="unknown variant"):
    cfg.get_config("nope")

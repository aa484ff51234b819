"""Smoke runs of the flow VAE variants (experiments/configs/vae.py): three
train steps each, then the final K=20 IWAE evaluation on 200 test examples;
planar_smoke through `python -m experiments.train` (a subprocess), the others
through the same `train_and_evaluate` in the test process (tests/smoke.py).
"""

import json
import math

import pytest

from experiments.configs import vae as vae_configs
from tests.smoke import run_in_process
from tests.test_cli import _describe
from tests.test_cli import run_cli
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records

CONFIG = "experiments/configs/vae.py"


@pytest.mark.slow
@pytest.mark.parametrize("variant,posterior,prior", [
    ("planar_smoke", "planar x2", "none"),
    ("iaf_smoke", "iaf x2", "none"),
    ("flow_prior_smoke", "none", "maf x2"),
    ("gaussian_iaf_smoke", "iaf x2", "none"),
])
def test_flow_variant_smoke_run(tmp_path, variant, posterior, prior):
  workdir = tmp_path / "run"
  if variant == "planar_smoke":
    proc = run_cli(f"--config={CONFIG}:{variant}", f"--workdir={workdir}")
  else:
    proc = run_in_process(f"{CONFIG}:{variant}", workdir)
  assert proc.returncode == 0, _describe(proc)
  assert "Traceback" not in proc.stderr, _describe(proc)
  train = train_records(read_metrics(workdir))
  assert sorted(train) == [1, 2, 3]
  for r in train.values():
    assert math.isfinite(r["loss"]) and math.isfinite(r["kl"]), r
    # The flow ELBO's loss is reconstruction + (Monte Carlo) KL.
    assert r["loss"] == pytest.approx(r["reconstruction"] + r["kl"], rel=1e-4)
  final = json.loads((workdir / "final_metrics.json").read_text())
  m, proto = final["metrics"], final["protocol"]
  for key in ("test/elbo", "test/nll", "test/bits_per_dim"):
    assert math.isfinite(m[key]), (key, m)
  assert proto["posterior_flow"] == posterior and proto["prior_flow"] == prior
  assert proto["kl"].startswith("Monte Carlo")
  assert proto["nll_num_samples"] == 20 and proto["num_examples"] == 200
  # IWAE_20 >= ELBO up to the noise of 200 examples (nats).
  assert m["test/nll"] <= -m["test/elbo"] + 1.0, m
  cfg = vae_configs.get_config(variant)
  offset = 0.0 if cfg.model.likelihood == "bernoulli" else math.log(256)
  # bits/dim = (NLL / D + log 256) / ln 2 on dequantised 8-bit data, NLL /
  # (D ln 2) on binary data (models/vae.py docstring).
  assert m["test/bits_per_dim"] == pytest.approx(
      (m["test/nll"] / 784 + offset) / math.log(2), rel=1e-5)
  assert list((workdir / "images").glob("*.png"))


def test_flow_smoke_variants_are_tiny_and_unknown_ones_rejected():
  for name in ("planar", "iaf", "flow_prior", "flow_prior_realnvp",
               "gaussian_iaf"):
    full, smoke = (vae_configs.get_config(name),
                   vae_configs.get_config(f"{name}_smoke"))
    assert full.model.posterior_flow == smoke.model.posterior_flow
    assert full.model.prior_flow == smoke.model.prior_flow
    assert full.model.likelihood == smoke.model.likelihood
    assert smoke.train.num_steps <= 5 and not smoke.eval.sample_metrics
    assert full.eval.sample_metrics
  assert vae_configs.get_config("planar").model.posterior_flow_steps == 10
  for bad in ("smoke_smoke", "conv_smoke", "nope"):
    with pytest.raises(ValueError, match="unknown variant"):
      vae_configs.get_config(bad)

"""Smoke runs of the exact-likelihood configs (flows, PixelCNN), shrunk by
tests/helpers.smoke_config: one run per family through `python -m
experiments.train` (a subprocess), the others through the same
`train_and_evaluate` in this process meanwhile; each checked by
helpers.check_run and its family's checks."""

import math

import pytest

from tests import helpers
from tests.helpers import Case

D = 784   # dimensions of a Fashion-MNIST image


def dequantised_bits_per_dim(_train, final, _config):
  # bits/dim = (nll + D ln 256) / (D ln 2) under uniform dequantisation.
  # (NICE's per-pixel scaling, data-initialised on 16 images, can put it far
  # above 8 after 3 steps: no upper bound is checked.)
  m = final["metrics"]
  assert m["test/bits_per_dim"] > 0, m
  assert m["test/bits_per_dim"] == pytest.approx(
      (m["test/nll"] + D * math.log(256)) / (D * math.log(2)), rel=1e-5)


def image_flow(name: str, other_temperature: str, cli: bool = False) -> Case:
  """An image flow: samples at its temperature, and at 0 and the other of
  0.7 and 1.0."""
  return Case(f"{name}.py", dict(model="flow", architecture=name),
              ("test/nll", "test/bits_per_dim"),
              images=("samples_0", "samples_t0.0",
                      f"samples_t{other_temperature}"),
              cli=cli, check=dequantised_bits_per_dim)


def toy_kl_nonnegative(_train, final, _config):
  # KL(p_data || p_model) >= 0 up to the Monte Carlo error of 100 examples.
  assert final["metrics"]["test/kl_data_model"] > -0.1, final["metrics"]


def pixelcnn_exact_bits_per_dim(train, final, _config):
  # Exact discrete likelihood: bits/dim = nll / (D ln 2), no offset, in
  # training and at the end; after 3 steps from a near-uniform start the
  # model is within a bit of 8.
  for r in train.values():
    assert r["bits_per_dim"] == pytest.approx(r["loss"] / (D * math.log(2)),
                                              rel=1e-5)
  m = final["metrics"]
  assert m["test/bits_per_dim"] == pytest.approx(
      m["test/nll"] / (D * math.log(2)), rel=1e-5)
  assert 6.0 < m["test/bits_per_dim"] < 9.0, m


CASES = [   # CLI runs last: they train while the in-process ones do.
    image_flow("glow", "1.0"),
    image_flow("nice", "0.7"),
    Case("flow_toy.py", dict(model="flow", dataset="two_moons",
                             architecture="toy_2d"),
         ("test/nll", "test/kl_data_model"), check=toy_kl_nonnegative),
    image_flow("realnvp", "0.7", cli=True),
    Case("pixelcnn.py", dict(model="pixelcnn", likelihood="categorical"),
         ("test/nll", "test/bits_per_dim"),
         train=("loss", "bits_per_dim"), images=("samples", "completions"),
         cli=True, check=pixelcnn_exact_bits_per_dim),
]

smoke_runs = helpers.smoke_runs_fixture(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_config_smoke_run(smoke_runs, case):  # pylint: disable=redefined-outer-name
  helpers.check_run(case, *smoke_runs(case))

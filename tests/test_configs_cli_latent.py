"""Smoke runs of the latent-variable configs (the VAE's flow variants, AVB,
the Gumbel-softmax VAE, the Helmholtz machine), shrunk by
tests/helpers.smoke_config: one run per family through `python -m
experiments.train` (a subprocess; the plain VAE's is tests/test_cli.py's),
the others through the same `train_and_evaluate` in this process meanwhile;
each checked by helpers.check_run and its family's checks."""

import math

import pytest

from tests import helpers
from tests.helpers import Case

D = 784   # dimensions of a Fashion-MNIST image
_BOUNDS = ("test/elbo", "test/nll", "test/bits_per_dim")


def iwae_below_elbo(_train, final, _config):
  # The K=20 importance bound is at least the one-sample ELBO on average, up
  # to the Monte Carlo noise of 100-200 examples (nats).
  m = final["metrics"]
  assert m["test/nll"] <= -m["test/elbo"] + 1.0, m


def vae_flow_check(train, final, config):
  for r in train.values():   # the flow ELBO's loss: reconstruction + MC KL
    assert r["loss"] == pytest.approx(r["reconstruction"] + r["kl"], rel=1e-4)
  iwae_below_elbo(train, final, config)
  m, proto = final["metrics"], final["protocol"]
  assert proto["kl"].startswith("Monte Carlo"), proto
  # bits/dim = (NLL / D + log 256) / ln 2 on dequantised 8-bit data, NLL /
  # (D ln 2) on binary data (models/vae.py docstring).
  offset = 0.0 if config.model.likelihood == "bernoulli" else math.log(256)
  assert m["test/bits_per_dim"] == pytest.approx(
      (m["test/nll"] / D + offset) / math.log(2), rel=1e-5)


def vae_flow(variant: str, posterior: str, prior: str) -> Case:
  return Case(f"vae.py:{variant}",
              dict(model="vae", posterior_flow=posterior, prior_flow=prior,
                   nll_num_samples=20),
              _BOUNDS, train=("loss", "kl"), images=("samples",),
              check=vae_flow_check)


def avb_check(_train, final, _config):
  # The importance-sampled NLL is a bound at least as tight as the
  # proposal's own ELBO.
  m = final["metrics"]
  assert -m["test/nll"] >= m["test/elbo_proposal"] - 1e-3, m


def gumbel_check(train, final, _config):
  m = final["metrics"]
  # Binary data, Bernoulli decoder: ELBO <= 0, NLL >= 0, bits/dim = NLL /
  # (D ln 2).
  assert m["test/elbo"] < 0 < m["test/nll"], m
  assert abs(m["test/bits_per_dim"] - m["test/nll"] / (D * math.log(2))) < 1e-4
  # The smoke schedule τ = max(0.5, exp(-0.1 ⌊t/2⌋ 2)) at steps t = 0, 1, 2.
  taus = [train[step]["temperature"] for step in sorted(train)]
  for t, tau in enumerate(taus):
    assert abs(tau - max(0.5, math.exp(-0.1 * (t // 2) * 2))) < 1e-5, taus


def helmholtz_check(train, final, config):
  # -log p(x, z) and -log q(z | x) of binary variables are >= 0, and the
  # 784-pixel wake loss of an untrained model is hundreds of nats.
  for record in train.values():
    assert record["wake_loss"] > 100 and record["sleep_loss"] > 0, record
  iwae_below_elbo(train, final, config)


CASES = [   # CLI runs last: they train while the in-process ones do.
    vae_flow("planar", "planar x2", "none"),
    vae_flow("iaf", "iaf x2", "none"),
    vae_flow("flow_prior", "none", "maf x2"),
    vae_flow("gaussian_iaf", "iaf x2", "none"),
    Case("avb.py", dict(model="avb", nll_num_samples=20),
         ("test/nll", "test/elbo_avb", "test/elbo_proposal",
          "test/bits_per_dim"),
         train=("loss", "d_loss", "elbo_avb", "kl_estimate"),
         images=("samples", "reconstructions"), cli=True, check=avb_check),
    Case("gumbel_vae.py", dict(model="gumbel_vae", nll_num_samples=20),
         _BOUNDS, train=("loss", "temperature"),
         images=("samples", "reconstructions", "final_samples"), cli=True,
         check=gumbel_check),
    Case("helmholtz.py", dict(model="helmholtz"), _BOUNDS,
         train=("wake_loss", "sleep_loss", "elbo", "generative_grad_norm",
                "recognition_grad_norm"),
         images=("samples", "dreams", "reconstructions"), cli=True,
         check=helmholtz_check),
]

smoke_runs = helpers.smoke_runs_fixture(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_config_smoke_run(smoke_runs, case):  # pylint: disable=redefined-outer-name
  helpers.check_run(case, *smoke_runs(case))

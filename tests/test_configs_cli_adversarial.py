"""Smoke runs of the adversarial configs (GANs, xICFG, AAE, WAE), shrunk by
tests/helpers.smoke_config: one run per family through `python -m
experiments.train` (a subprocess), the others through the same
`train_and_evaluate` in this process meanwhile; each checked by
helpers.check_run and its family's checks."""

import math

import pytest

from tests import helpers
from tests.helpers import Case


def gan(spec: str, objective: str, own_metric: str, cli: bool = False) -> Case:
  """A GAN-family config: both players' losses and gradient norms at every
  step, the objective's own final metric."""
  return Case(spec, dict(model="gan", objective=objective),
              ("test/d_loss", "test/g_loss", own_metric),
              train=("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"),
              images=("samples", "interpolations"), cli=cli)


def cfg_d_loss_near_log4(train, _final, _config):
  # Logistic loss of a (real, fake) pair: > 0, and near log 4 for the barely
  # trained tiny discriminator.
  for record in train.values():
    assert 0 < record["d_loss"] < 3 * math.log(4), record


_AUTOENCODER = dict(train=("loss", "reconstruction"),
                    images=("samples", "reconstructions"))

CASES = [   # CLI runs last: they train while the in-process ones do.
    gan("dcgan.py", "non_saturating", "test/d_accuracy"),
    gan("fgan.py", "fgan", "test/variational_bound"),
    gan("wgan.py", "wgan", "test/wasserstein_estimate"),
    gan("wgan_gp.py", "wgan_gp", "test/gradient_penalty"),
    gan("cramer_gan.py", "cramer", "test/energy_distance"),
    Case("wae.py", dict(model="wae"), ("test/reconstruction", "test/mmd"),
         **_AUTOENCODER),
    gan("gan.py", "non_saturating", "test/d_real", cli=True),
    Case("cfg.py", dict(model="cfg"),
         ("test/d_loss", "test/d_real", "test/d_fake",
          "test/approximator_error"),
         train=("d_loss", "fit_loss_before", "fit_loss_after", "grad_norm"),
         images=("samples", "interpolations"), cli=True,
         check=cfg_d_loss_near_log4),
    # The 2-D prior: the latent picture is drawn too.
    Case("aae.py:mixture2d", dict(model="aae"),
         ("test/reconstruction", "test/d_accuracy", "test/g_loss",
          "test/mmd"), train=("loss", "reconstruction"),
         images=("samples", "reconstructions", "latent"), cli=True),
    Case("wae.py:gan", dict(model="wae"),
         ("test/reconstruction", "test/mmd", "test/d_loss"), cli=True,
         **_AUTOENCODER),
]

smoke_runs = helpers.smoke_runs_fixture(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_config_smoke_run(smoke_runs, case):  # pylint: disable=redefined-outer-name
  helpers.check_run(case, *smoke_runs(case))

"""Invalid inputs to the issue-5 families and the latent priors raise clear
errors (issue 6 §5; the estimators' and the Gumbel VAE's cases are in
tests/test_estimators*.py and tests/models/test_gumbel_vae.py).

Like tests/test_input_validation.py: each case calls one public function
with a wrong rank, dtype, per-example shape, batch size or count and checks
that it raises ValueError whose message names the function, the argument
and the shape/dtype (or value) it got. The models are tiny, built once per
module from the configs' smoke variants for 4x4x1 images, never
initialised or trained: every case fails while checking its inputs, before
any compute. Valid inputs keep their values (spot checks below) and the
checks add no recompilation (they look at static shapes only).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import aae as aae_configs
from experiments.configs import avb as avb_configs
from experiments.configs import helmholtz as helmholtz_configs
from experiments.configs import wae as wae_configs
from gdm_jax.models import aae
from gdm_jax.models import avb
from gdm_jax.models import helmholtz
from gdm_jax.models import latent_priors
from gdm_jax.models import wae
from tests.validation_cases import assert_raises_naming
from tests.validation_cases import f
from tests.validation_cases import i
from tests.validation_cases import u8

KEY = jax.random.key(0)
SHAPE = (4, 4, 1)          # the tiny data set the models are built for


# ------------------------------------------------------------ priors

# (id, call, substrings the message must contain)
CASES = [
    ("prior_gaussian_n", lambda: latent_priors.gaussian(3).sample(KEY, 0),
     ["latent_priors.gaussian.sample", "`n`", "positive", "0"]),
    ("prior_ring_float_n", lambda: latent_priors.ring().sample(KEY, 2.0),
     ["latent_priors.ring.sample", "`n`", "float", "2.0"]),
    ("prior_swiss_roll_n",
     lambda: latent_priors.swiss_roll().sample(KEY, -1),
     ["latent_priors.swiss_roll.sample", "`n`", "-1"]),
    ("prior_gaussian_log_prob_dim",
     lambda: latent_priors.gaussian(3).log_prob(f(5, 2)),
     ["latent_priors.gaussian.log_prob", "`z`", "[N, 3]", "(5, 2)"]),
    ("prior_mixture_log_prob_rank",
     lambda: latent_priors.mixture().log_prob(f(5)),
     ["latent_priors.mixture.log_prob", "`z`", "[N, 2]", "(5,)"]),
    ("prior_ring_log_prob_int",
     lambda: latent_priors.ring().log_prob(i(5, 2)),
     ["latent_priors.ring.log_prob", "`z`", "floating", "int32"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=name)
                          for name, c, e in CASES])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)


# ------------------------------------------------------------ models
# Built once per module from the smoke configs; make() builds functions
# only (no parameters), so these cost milliseconds.

@pytest.fixture(scope="module")
def small_aae():          # latent_dim 8
  return aae.make(aae_configs.get_config("smoke"), {"shape": SHAPE})


@pytest.fixture(scope="module")
def small_wae():          # latent_dim 8
  return wae.make(wae_configs.get_config("smoke"), {"shape": SHAPE})


@pytest.fixture(scope="module")
def small_avb():          # latent_dim 4
  return avb.make(avb_configs.get_config("smoke"), {"shape": SHAPE})


@pytest.fixture(scope="module")
def small_helmholtz():    # latent sizes (8, 4), D = 16
  return helmholtz.make(helmholtz_configs.get_config("smoke"),
                        {"shape": SHAPE})


MODEL_CASES = [
    # ------------------------------------------------------------ aae
    ("aae", lambda m: m.evaluate({}, {"image": u8(2, 5, 5, 1)}, KEY),
     ["aae.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 5, 5, 1)"]),
    ("aae", lambda m: m.train_step(None, {"x": f(2, 2)}, KEY),
     ["aae.train_step", "key 'image'", "['x']"]),
    ("aae", lambda m: m.init(KEY, {"image": u8(2, 16)}),
     ["aae.init", "batch['image']", "(2, 16)"]),
    ("aae", lambda m: m.images({}, {"image": jnp.zeros((2, 4, 4, 1), bool)},
                               KEY),
     ["aae.images", "batch['image']", "numeric", "bool"]),
    ("aae", lambda m: m.encode({}, f(2, 16)),
     ["aae.encode", "`x`", "[B, 4, 4, 1]", "(2, 16)"]),
    ("aae", lambda m: m.decode_mean({}, f(2, 3)),
     ["aae.decode_mean", "`z`", "[B, 8]", "(2, 3)"]),
    ("aae", lambda m: m.critic({}, i(2, 8)),
     ["aae.critic", "`z`", "floating", "int32"]),
    ("aae", lambda m: m.discriminator_loss({}, f(4, 8), f(3, 8)),
     ["aae.discriminator_loss", "batch size", "`z_codes` (3, 8)"]),
    ("aae", lambda m: m.sample({}, KEY, 0), ["aae.sample", "`n`", "0"]),
    ("aae", lambda m: m.sample_prior(KEY, -1),
     ["aae.sample_prior", "`n`", "-1"]),
    # ------------------------------------------------------------ wae
    ("wae", lambda m: m.evaluate_final({}, {"image": u8(2, 4, 4, 3)}, KEY),
     ["wae.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 4, 4, 3)"]),
    ("wae", lambda m: m.cost({}, i(2, 4, 4, 1)),
     ["wae.cost", "`x`", "floating", "int32"]),
    ("wae", lambda m: m.mmd(f(4, 8), f(4, 2)),
     ["wae.mmd", "`z_prior`", "[B, 8]", "(4, 2)"]),
    ("wae", lambda m: m.sample({}, KEY, 1.5),
     ["wae.sample", "`n`", "float", "1.5"]),
    # ------------------------------------------------------------ avb
    ("avb", lambda m: m.train_step(None, {"image": u8(2, 8, 8, 1)}, KEY),
     ["avb.train_step", "batch['image']", "(*, 4, 4, 1)", "(2, 8, 8, 1)"]),
    ("avb", lambda m: m.discriminator({}, f(3, 4, 4, 1), f(2, 4)),
     ["avb.discriminator", "batch size", "`z` (2, 4)"]),
    ("avb", lambda m: m.encode({}, f(2, 4, 4, 1), KEY, 0),
     ["avb.encode", "`k`", "0"]),
    ("avb", lambda m: m.log_likelihood({}, f(2, 5), f(2, 4, 4, 1)),
     ["avb.log_likelihood", "`z`", "[B, 4]", "(2, 5)"]),
    ("avb", lambda m: m.importance_log_weights(
        {}, f(2, 4, 4, 1), KEY, 4, proposal_params=(f(2, 4), f(3, 4))),
     ["avb.importance_log_weights", "proposal_params[1]", "(3, 4)"]),
    ("avb", lambda m: m.interpolate({}, f(2, 4, 4, 1), f(4, 4, 1), KEY),
     ["avb.interpolate", "`x_a`", "(4, 4, 1)", "(2, 4, 4, 1)"]),
    ("avb", lambda m: m.sample({}, KEY, True),
     ["avb.sample", "`n`", "bool", "True"]),
    ("avb_fn", lambda m: avb.gaussian_proposal(f(3, 2)),
     ["avb.gaussian_proposal", "`samples`", "rank 3", "(3, 2)"]),
    # ------------------------------------------------------ helmholtz
    ("helmholtz", lambda m: m.evaluate({}, {"image": u8(2, 16)}, KEY),
     ["helmholtz.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 16)"]),
    ("helmholtz", lambda m: m.elbo({}, f(2, 4, 4, 1), KEY),
     ["helmholtz.elbo", "`x`", "[B, 16]", "(2, 4, 4, 1)"]),
    ("helmholtz", lambda m: m.log_joint({}, f(2, 16), [f(2, 8)]),
     ["helmholtz.log_joint", "`zs`", "2 arrays", "length 1"]),
    ("helmholtz", lambda m: m.log_prior({}, [f(2, 8), f(2, 3)]),
     ["helmholtz.log_prior", "`zs[1]`", "[..., 4]", "(2, 3)"]),
    ("helmholtz", lambda m: m.log_likelihood({}, f(2, 16), i(2, 8)),
     ["helmholtz.log_likelihood", "`z1`", "floating", "int32"]),
    ("helmholtz", lambda m: m.importance_log_weights({}, f(2, 16), KEY, 2.0),
     ["helmholtz.importance_log_weights", "`k`", "float"]),
    ("helmholtz", lambda m: m.sleep_loss({}, KEY, 0),
     ["helmholtz.sleep_loss", "`n`", "0"]),
    ("helmholtz", lambda m: m.dream({}, KEY, -1),
     ["helmholtz.dream", "`n`", "-1"]),
    ("helmholtz", lambda m: m.decode_mean({}, f(2, 4)),
     ["helmholtz.decode_mean", "`z1`", "[N, 8]", "(2, 4)"]),
]

FIXTURES = {"aae": "small_aae", "wae": "small_wae",
            "avb": "small_avb", "avb_fn": None,
            "helmholtz": "small_helmholtz"}


@pytest.mark.parametrize("family, call, expected",
                         [pytest.param(fam, c, e, id=f"{fam}-{k}")
                          for k, (fam, c, e) in enumerate(MODEL_CASES)])
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    family, call, expected, request):
  fixture = FIXTURES[family]
  model = request.getfixturevalue(fixture) if fixture else None
  assert_raises_naming(lambda: call(model), expected)


# --------------------------------------------------- valid inputs unchanged


def test_prior_sample_accepts_numpy_ints_and_keeps_its_law():
  prior = latent_priors.gaussian(2, scale=2.0)
  z = prior.sample(KEY, np.int64(4000))
  assert z.shape == (4000, 2)
  np.testing.assert_allclose(np.var(np.asarray(z), 0), 4.0, rtol=0.15)
  lp = prior.log_prob(jnp.zeros((1, 2)))
  np.testing.assert_allclose(lp, -2.0 * math.log(2.0) - math.log(2 * math.pi),
                             rtol=1e-6)

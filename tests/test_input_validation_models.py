"""Invalid inputs to the issue-5 families and the estimators raise clear
errors (issue 6 §5).

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

from experiments.configs import gumbel_vae as gumbel_vae_configs
from gdm_jax import estimators as E
from gdm_jax.models import gumbel_vae
from tests.validation_cases import assert_raises_naming
from tests.validation_cases import f
from tests.validation_cases import i
from tests.validation_cases import u8

KEY = jax.random.key(0)
SHAPE = (4, 4, 1)          # the tiny data set the models are built for


# ------------------------------------------------ estimators and priors

# (id, call, substrings the message must contain)
CASES = [
    ("reparameterize_int_mean",
     lambda: E.reparameterize(KEY, i(2, 3), f(2, 3)),
     ["estimators.reparameterize", "`mean`", "floating", "int32", "(2, 3)"]),
    ("reparameterize_log_scale_shape",
     lambda: E.reparameterize(KEY, f(2, 3), f(2, 4)),
     ["estimators.reparameterize", "`log_scale`", "(2, 3)", "(2, 4)"]),
    ("reparameterize_num_samples",
     lambda: E.reparameterize(KEY, f(2, 3), f(2, 3), 0),
     ["estimators.reparameterize", "`num_samples`", "positive", "0"]),
    ("log_mean_exp_axis", lambda: E.log_mean_exp(f(3, 4), axis=2),
     ["estimators.log_mean_exp", "`axis`", "(3, 4)", "2"]),
    ("log_mean_exp_bool", lambda: E.log_mean_exp(jnp.zeros(3, bool)),
     ["estimators.log_mean_exp", "`x`", "numeric", "bool"]),
    ("iwae_bound_int", lambda: E.iwae_bound(i(4, 2)),
     ["estimators.iwae_bound", "`log_weights`", "[K, B]", "int32",
      "(4, 2)"]),
    ("iwae_bound_scalar", lambda: E.iwae_bound(f()),
     ["estimators.iwae_bound", "`log_weights`", "rank >= 1", "shape ()"]),
    ("iwae_bound_no_samples", lambda: E.iwae_bound(f(0, 3)),
     ["estimators.iwae_bound", "`log_weights`", ">= 1 entries", "(0, 3)"]),
    ("sample_gumbel_shape", lambda: E.sample_gumbel(KEY, (2, -1)),
     ["estimators.sample_gumbel", "`shape`", "(2, -1)"]),
    ("sample_gumbel_dtype",
     lambda: E.sample_gumbel(KEY, (2, 3), jnp.int32),
     ["estimators.sample_gumbel", "`dtype`", "floating", "int32"]),
    ("gumbel_softmax_int_logits",
     lambda: E.gumbel_softmax(KEY, i(2, 3), 1.0),
     ["estimators.gumbel_softmax", "`logits`", "[..., K]", "int32",
      "(2, 3)"]),
    ("gumbel_softmax_temperature_vector",
     lambda: E.gumbel_softmax(KEY, f(2, 3), f(3)),
     ["estimators.gumbel_softmax", "`temperature`", "rank 0", "(3,)"]),
    ("relaxed_log_prob_shapes",
     lambda: E.relaxed_categorical_log_prob(f(2, 3), f(2, 4), 0.5),
     ["estimators.relaxed_categorical_log_prob", "broadcast", "(2, 3)",
      "(2, 4)"]),
    ("relaxed_log_prob_int_sample",
     lambda: E.relaxed_categorical_log_prob(f(2, 3), i(2, 3), 0.5),
     ["estimators.relaxed_categorical_log_prob", "`sample`", "int32"]),
    ("score_function_shapes",
     lambda: E.score_function_surrogate(f(4), f(3)),
     ["estimators.score_function_surrogate", "`log_prob` (4,)",
      "`f_value` (3,)"]),
    ("score_function_bool_f",
     lambda: E.score_function_surrogate(f(4), jnp.zeros(4, bool)),
     ["estimators.score_function_surrogate", "`f_value`", "numeric",
      "bool"]),
    ("leave_one_out_one_sample",
     lambda: E.leave_one_out_baseline(f(1, 3)),
     ["estimators.leave_one_out_baseline", "2 samples", "(1, 3)"]),
    ("leave_one_out_axis",
     lambda: E.leave_one_out_baseline(f(2, 3), axis=3),
     ["estimators.leave_one_out_baseline", "`axis`", "(2, 3)", "3"]),
    ("leave_one_out_int", lambda: E.leave_one_out_baseline(i(2, 3)),
     ["estimators.leave_one_out_baseline", "`f_values`", "int32"]),
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
def small_gumbel_vae():   # 4 latents of 3 classes
  return gumbel_vae.make(gumbel_vae_configs.get_config("smoke"),
                         {"shape": SHAPE})


MODEL_CASES = [
    # ----------------------------------------------------- gumbel_vae
    ("gumbel_vae", lambda m: m.evaluate_final({}, {"image": u8(2, 4, 4)},
                                              KEY),
     ["gumbel_vae.evaluate_final", "batch['image']", "(*, 4, 4, 1)",
      "(2, 4, 4)"]),
    ("gumbel_vae", lambda m: m.elbo({}, f(2, 16), KEY, 1.0),
     ["gumbel_vae.elbo", "`x`", "(2, 16)"]),
    ("gumbel_vae",
     lambda m: m.importance_log_weights({}, f(2, 4, 4, 1), KEY, 0),
     ["gumbel_vae.importance_log_weights", "`k`", "0"]),
    ("gumbel_vae", lambda m: m.iwae_bound({}, f(2, 4, 4, 1), KEY, 4, 0),
     ["gumbel_vae.iwae_bound", "`chunk_size`", "0"]),
    ("gumbel_vae", lambda m: m.log_likelihood({}, f(2, 4, 4), f(2, 4, 4, 1)),
     ["gumbel_vae.log_likelihood", "`z`", "[B, 4, 3]", "(2, 4, 4)"]),
    ("gumbel_vae", lambda m: m.log_likelihood({}, f(3, 4, 3), f(2, 4, 4, 1)),
     ["gumbel_vae.log_likelihood", "batch size", "`z` (3, 4, 3)"]),
    ("gumbel_vae", lambda m: m.sample({}, KEY, 0),
     ["gumbel_vae.sample", "`n`", "0"]),
    ("gumbel_vae_fn", lambda m: gumbel_vae.kl_to_uniform(f(3)),
     ["gumbel_vae.kl_to_uniform", "`logits`", "rank >= 2", "(3,)"]),
]

FIXTURES = {"gumbel_vae": "small_gumbel_vae", "gumbel_vae_fn": None}


@pytest.mark.parametrize("family, call, expected",
                         [pytest.param(fam, c, e, id=f"{fam}-{k}")
                          for k, (fam, c, e) in enumerate(MODEL_CASES)])
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    family, call, expected, request):
  fixture = FIXTURES[family]
  model = request.getfixturevalue(fixture) if fixture else None
  assert_raises_naming(lambda: call(model), expected)


# --------------------------------------------------- valid inputs unchanged


def test_estimators_keep_their_values_on_valid_inputs():
  """Closed forms: the checks do not touch values or accepted inputs."""
  x = jnp.asarray([[0.0, math.log(3.0)], [math.log(2.0), 0.0]])   # [K=2, B=2]
  np.testing.assert_allclose(E.log_mean_exp(x), np.log([1.5, 2.0]),
                             rtol=1e-6)
  np.testing.assert_allclose(E.iwae_bound(x), np.log([1.5, 2.0]), rtol=1e-6)
  fv = jnp.asarray([[1.0, 4.0], [3.0, 0.0], [5.0, 2.0]])           # [S=3, 2]
  np.testing.assert_allclose(E.leave_one_out_baseline(fv),
                             [[4.0, 1.0], [3.0, 3.0], [2.0, 2.0]])
  # A Python-int temperature (weakly typed) and Python-float baseline pass.
  y = E.gumbel_softmax(KEY, f(2, 3), 1)
  np.testing.assert_allclose(jnp.sum(y, -1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(E.score_function_surrogate(f(3), 2.0 * f(3), 0.5),
                             1.5 * np.ones(3))
  z = E.reparameterize(KEY, f(2, 3), jnp.full((3,), -jnp.inf), 4)  # σ = 0
  np.testing.assert_array_equal(z, np.ones((4, 2, 3)))
  # Uniform logits: KL(q || uniform) = 0.
  np.testing.assert_allclose(gumbel_vae.kl_to_uniform(f(2, 4, 3)), 0.0,
                             atol=1e-6)


def test_traced_temperature_passes_the_checks_and_compiles_once():
  """A traced (annealed) τ is a rank-0 floating tracer: accepted, and a new
  value does not retrace."""
  traces = []

  def relaxed(tau):
    traces.append(1)
    return E.gumbel_softmax(KEY, jnp.zeros((2, 3)), tau)

  jitted = jax.jit(relaxed)
  for tau in (1.0, 0.5, 0.1):
    y = jitted(jnp.float32(tau))
  assert len(traces) == 1 and jitted._cache_size() == 1
  np.testing.assert_allclose(jnp.sum(y, -1), 1.0, rtol=1e-5)

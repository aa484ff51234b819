"""Invalid inputs to the public functions raise clear errors (issue 6 §5).

Each case calls one public function with a wrong rank, a wrong dtype or
mismatched shapes and checks that it raises ValueError (the library's one
convention, see gdm_jax/checks.py) whose message names the function, the
argument and the shape/dtype it got. Checks run at trace time only: a
jitted function still compiles once, and valid inputs give the same values.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import cfg as cfg_configs
from gdm_jax import distributions as D
from gdm_jax import divergences as V
from gdm_jax import gan_losses as G
from gdm_jax import nn as gnn
from gdm_jax.eval import evaluator
from gdm_jax.models import cfg as cfg_lib
from gdm_jax.nn import spectral
from gdm_jax.core import sharding
from tests.validation_cases import assert_raises_naming
from tests.validation_cases import f
from tests.validation_cases import i

KEY = jax.random.key(0)


CRITIC = lambda x: jnp.sum(x.reshape(x.shape[0], -1), axis=-1)   # [B]

# (id, call, substrings the message must contain)
CASES = [
    # ------------------------------------------------------ gan losses
    ("d_loss_per_example_shapes",
     lambda: G.discriminator_loss_per_example(f(4), f(3)),
     ["gan_losses.discriminator_loss_per_example", "one shape", "(4,)",
      "(3,)"]),
    ("d_loss_int", lambda: G.discriminator_loss(i(4), f(4)),
     ["gan_losses.discriminator_loss", "`real_logits`", "int32"]),
    ("g_loss_int", lambda: G.generator_loss_non_saturating(i(4)),
     ["gan_losses.generator_loss_non_saturating_per_example",
      "`fake_logits`", "int32"]),
    ("wgan_scores_int",
     lambda: G.wasserstein_critic_loss_per_example(f(4), i(4)),
     ["gan_losses.wasserstein_critic_loss_per_example", "`fake_scores`",
      "int32"]),
    ("gradient_penalty_int",
     lambda: G.gradient_penalty(CRITIC, i(4), i(4), KEY),
     ["gan_losses.gradient_penalty", "`real`", "floating", "int32",
      "(4,)"]),
    ("gradient_penalty_shapes",
     lambda: G.gradient_penalty(CRITIC, f(4, 2), f(3, 2), KEY),
     ["gradient_penalty", "one shape", "(4, 2)", "(3, 2)"]),
    ("gradient_norms_critic_output",
     lambda: G.gradient_norms(lambda x: x, f(4, 2)),
     ["gan_losses.gradient_norms", "`critic_fn`", "[B]", "(4, 2)"]),
    ("hinge_int", lambda: G.hinge_discriminator_loss(f(4), i(4)),
     ["gan_losses.hinge_discriminator_loss", "`fake_logits`", "int32"]),
    ("fgan_generator_div",
     lambda: G.fgan_generator_loss("gan", f(4)),
     ["gan_losses.fgan_generator_loss_per_example", "`div`", "str"]),
    ("fgan_critic_int",
     lambda: G.fgan_critic_loss(V.GAN, f(4), i(4)),
     ["gan_losses.fgan_critic_loss", "`fake_logits`", "int32"]),
    # ------------------------------------------------------ flows
    # ------------------------------------------------------ eval
    ("make_eval_fn_not_callable",
     lambda: evaluator.make_eval_fn({"nll": 1}, None),
     ["evaluator.make_eval_fn", "`fn`", "callable", "dict"]),
    ("make_eval_fn_per_example_shape",
     lambda: evaluator.make_eval_fn(
         lambda p, b, r: {"nll": b["x"]}, sharding.make_mesh())(
             None, {"x": f(4, 2)}, f(4), KEY),
     ["evaluator.make_eval_fn", "fn(...)['nll']", "(4,)", "(4, 2)"]),
    ("evaluate_split_batch_size",
     lambda: evaluator.evaluate_split(None, None, None, "test", 0, KEY, None),
     ["evaluator.evaluate_split", "`batch_size`", "0"]),
    # ------------------------------------------------------ nn
    ("mlp_generator_rank",
     lambda: gnn.MLPGenerator((2,), (4,)).init(KEY, f(3), train=False),
     ["MLPGenerator.__call__", "`z`", "rank 2", "(3,)"]),
    ("dcgan_discriminator_rank",
     lambda: gnn.DCGANDiscriminator().init(KEY, f(2, 28, 28), train=False),
     ["DCGANDiscriminator.__call__", "`x`", "rank 4", "(2, 28, 28)"]),
    ("power_iteration_u",
     lambda: spectral.power_iteration(f(3, 4), f(1, 3), 1),
     ["nn.power_iteration", "`u`", "(1, 4)", "(1, 3)"]),
    ("spectral_dense_int",
     lambda: spectral.SpectralDense(3).init(KEY, i(2, 4), update_stats=False),
     ["SpectralDense.__call__", "`x`", "int32"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=name)
                          for name, c, e in CASES])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)


# ------------------------------------------------------------ models
# Tiny models, built once per module; every case fails before any compute.

@pytest.fixture(scope="module")
def toy_cfg():
  c = cfg_configs.get_config("smoke")
  c.model.output_activation = "linear"
  c.train.batch_size = (c.model.num_stages * c.model.discriminator_updates
                        * c.model.stage_batch_size)
  return cfg_lib.make(c, {"shape": (2,), "kind": "toy", "name": "ring8"})


@pytest.fixture(scope="module")
def toy_gan():
  from experiments.configs import gan as gan_configs
  from gdm_jax.models import gan as gan_lib
  c = gan_configs.get_config("ring8")
  c.model.critic_steps = 2
  return gan_lib.make(c, {"shape": (2,), "kind": "toy", "name": "ring8"})


MODEL_CASES = [
    ("gan", lambda m: m.evaluate({}, {"x": f(4, 3)}, KEY),
     ["gan.evaluate", "batch['x']", "(4, 3)"]),
    ("gan", lambda m: m.train_step(None, {"x": f(3, 2)}, KEY),
     ["gan.train_step", "batch size 3", "critic_steps = 2"]),
    ("gan", lambda m: m.sample({}, KEY, -2), ["gan.sample", "`n`", "-2"]),
    ("cfg", lambda m: m.critic({}, f(4, 3)),
     ["cfg.critic", "`x`", "(*, 2)", "(4, 3)"]),
    ("cfg", lambda m: m.evaluate({}, {"x": f(4)}, KEY),
     ["cfg.evaluate", "batch['x']", "(4,)"]),
    ("cfg", lambda m: m.sample({}, KEY, 0), ["cfg.sample", "`n`", "0"]),
    ("cfg", lambda m: m.interpolate({}, f(3), f(7)),
     ["cfg.interpolate", "`z_a`", "(3,)"]),
    ("cfg_fn", lambda m: cfg_lib.fit_loss_per_example(f(4, 2), f(3, 2)),
     ["cfg.fit_loss_per_example", "`prediction` (4, 2)", "`target` (3, 2)"]),
    ("cfg_fn",
     lambda m: cfg_lib.functional_gradient(lambda x: x, f(4, 2)),
     ["cfg.functional_gradient", "`d_fn`", "(4, 2)"]),
]


@pytest.mark.parametrize("family, call, expected",
                         [pytest.param(fam, c, e, id=f"{fam}-{k}")
                          for k, (fam, c, e) in enumerate(MODEL_CASES)])
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    family, call, expected, request):
  fixture = {"gan": "toy_gan", "cfg": "toy_cfg", "cfg_fn": None}[family]
  model = request.getfixturevalue(fixture) if fixture else None
  assert_raises_naming(lambda: call(model), expected)


# ------------------------------------------------------------ no cost in jit


def test_checks_run_at_trace_time_and_do_not_recompile():
  """A jitted function with checks traces once per input signature; invalid
  shapes fail while tracing, before anything is compiled or run."""
  traces = []

  def loss(x, y):
    traces.append(1)
    return (V.mmd_unbiased(x, y, V.rbf_kernel(1.0))
            + jnp.mean(G.discriminator_loss_per_example(x[:, 0], y[:, 0]))
            + jnp.mean(D.gaussian_log_prob(x, 0.0, 0.0)))

  jitted = jax.jit(loss)
  rng = np.random.default_rng(0)
  values = [jitted(jnp.asarray(rng.normal(size=(4, 2)), jnp.float32),
                   jnp.asarray(rng.normal(size=(4, 2)), jnp.float32))
            for _ in range(3)]
  assert len(traces) == 1 and jitted._cache_size() == 1
  assert len({float(v) for v in values}) == 3     # the values did change
  with pytest.raises(ValueError, match="gan_losses.discriminator_loss_per"):
    jitted(f(4, 2), f(3, 2))


def test_validated_functions_keep_their_values_on_valid_inputs():
  """The checks do not touch values: spot checks against closed forms."""
  x = jnp.asarray([0.0, 1.0, -2.0], jnp.float32)
  np.testing.assert_allclose(D.standard_normal_log_prob(x),
                             -0.5 * (x * x + np.log(2 * np.pi)), rtol=1e-6)
  np.testing.assert_allclose(G.discriminator_loss(f(4) * 0.0, f(4) * 0.0),
                             2.0 * np.log(2.0), rtol=1e-6)

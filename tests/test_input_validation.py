"""Invalid inputs to the public functions raise clear errors (issue 6 §5).

Each case calls one public function with a wrong rank, a wrong dtype or
mismatched shapes and checks that it raises ValueError (the library's one
convention, see gdm_jax/checks.py) whose message names the function, the
argument and the shape/dtype it got. Checks run at trace time only: a
jitted function still compiles once, and valid inputs give the same values.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import cfg as cfg_configs
from experiments.configs import flow_base
from experiments.configs import pixelcnn as pixelcnn_config
from gdm_jax import distributions as D
from gdm_jax import divergences as V
from gdm_jax import flows
from gdm_jax import gan_losses as G
from gdm_jax import nn as gnn
from gdm_jax.eval import evaluator
from gdm_jax.models import cfg as cfg_lib
from gdm_jax.models import flow as flow_lib
from gdm_jax.models import pixelcnn
from gdm_jax.nn import masked
from gdm_jax.nn import spectral
from gdm_jax.core import sharding
from tests.validation_cases import assert_raises_naming
from tests.validation_cases import f
from tests.validation_cases import i
from tests.validation_cases import u8

KEY = jax.random.key(0)


# Variables of layers built for 3 (ActNorm) and 4 (1x1 conv) channels, as
# `init` makes them (written out: initialising costs seconds of dispatch).
ACTNORM_3 = {"params": {"log_scale": np.zeros(3, np.float32),
                        "bias": np.zeros(3, np.float32)}}
CONV1X1_4 = {"params": {"lower": np.eye(4, dtype=np.float32),
                        "upper": np.zeros((4, 4), np.float32),
                        "log_s": np.zeros(4, np.float32)},
             "constants": {"permutation": np.eye(4, dtype=np.float32),
                           "sign_s": np.ones(4, np.float32)}}


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
    ("coupling_rank3",
     lambda: flows.AffineCoupling("half").init(KEY, f(2, 4, 4)),
     ["AffineCoupling.forward", "`x`", "[B, H, W, C] or [B, D]",
      "(2, 4, 4)"]),
    ("coupling_inverse_int",
     lambda: flows.AdditiveCoupling("half").init(KEY, i(2, 4),
                                                 method="inverse"),
     ["AdditiveCoupling.inverse", "`y`", "floating", "int32"]),
    ("actnorm_channels",
     lambda: flows.ActNorm().apply(ACTNORM_3, f(8, 1)),
     ["ActNorm.forward", "`x`", "3 channels", "(8, 1)"]),
    ("actnorm_rank1", lambda: flows.ActNorm().init(KEY, f(8)),
     ["ActNorm.forward", "`x`", "rank >= 2", "(8,)"]),
    ("conv1x1_channels_inverse",
     lambda: flows.InvertibleConv1x1().apply(CONV1X1_4, f(2, 3, 3, 2),
                                             method="inverse"),
     ["InvertibleConv1x1.inverse", "`y`", "4 channels", "(2, 3, 3, 2)"]),
    ("chain_int",
     lambda: flows.Chain([flows.ActNorm()]).init(KEY, i(4, 2)),
     ["Chain.forward", "`x`", "int32"]),
    ("logit_int", lambda: flows.Logit().init(KEY, i(2, 3)),
     ["Logit.forward", "`x`", "int32"]),
    ("sinh_arcsinh_rank1", lambda: flows.SinhArcsinh().init(KEY, f(5)),
     ["SinhArcsinh.forward", "`x`", "rank >= 2", "(5,)"]),
    ("planar_int", lambda: flows.Planar().init(KEY, i(2, 3)),
     ["Planar", "`x`", "int32"]),
    ("made_int", lambda: flows.MADE((4,)).init(KEY, i(2, 3)),
     ["MADE.__call__", "`x`", "int32"]),
    ("iaf_rank", lambda: flows.IAF((4,)).init(KEY, f(2, 3, 1)),
     ["IAF.forward", "`x`", "rank 2", "(2, 3, 1)"]),
    ("masked_dense_fan_in",
     lambda: flows.MaskedDense(2, np.ones((3, 2), np.float32)).init(
         KEY, f(2, 4)),
     ["MaskedDense.__call__", "`x`", "fan_in = 3", "(2, 4)"]),
    ("conditional_coupling_context",
     lambda: flows.ConditionalAffineCoupling("half").init(KEY, f(2, 4),
                                                          f(3, 5)),
     ["ConditionalAffineCoupling.forward", "`context` (3, 5)", "(2, 4)"]),
    ("conditional_affine_int_context",
     lambda: flows.ConditionalAffine().init(KEY, f(2, 4), i(2, 5)),
     ["ConditionalAffine.forward", "`context`", "int32"]),
    ("multiscale_latent_batches",
     lambda: flows.MultiscaleFlow([flows.ActNorm(), flows.ActNorm()]).apply(
         {}, (f(2, 4), f(3, 4)), method="inverse"),
     ["MultiscaleFlow.inverse", "batch size", "(2,)", "(3,)"]),
    ("merge_channels_shapes",
     lambda: flows.merge_channels(f(2, 4, 4, 2), f(2, 2, 2, 2)),
     ["flows.merge_channels", "`kept` (2, 4, 4, 2)",
      "`factored` (2, 2, 2, 2)"]),
    ("flatten_latents_batches",
     lambda: flows.flatten_latents([f(2, 3), f(4, 3)]),
     ["flows.flatten_latents", "`latents[1]`", "(4,)"]),
    ("bounded_log_scale_int", lambda: flows.bounded_log_scale(i(3)),
     ["flows.bounded_log_scale", "`raw`", "int32"]),
    ("conv_conditioner_rank",
     lambda: flows.ConvConditioner(4).init(KEY, f(2, 3), 2),
     ["ConvConditioner.__call__", "`x`", "rank 4", "(2, 3)"]),
    ("random_rotation_n", lambda: flows.random_rotation(KEY, 0),
     ["flows.random_rotation", "`n`", "positive", "0"]),
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
    ("masked_conv_int",
     lambda: masked.MaskedConv2D(4).init(KEY, i(1, 4, 4, 1)),
     ["MaskedConv2D.__call__", "`x`", "int32"]),
    ("pixelcnn_net_rank", lambda: masked.PixelCNN(4, 1, 8).init(KEY, f(4, 4, 1)),
     ["PixelCNN.__call__", "`x`", "rank 4", "(4, 4, 1)"]),
    ("gate_odd", lambda: masked.gate(f(2, 3)),
     ["nn.gate", "even", "(2, 3)"]),
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
def toy_flow():
  c = flow_base.base_config()
  c.model.toy_num_layers = 1
  c.model.toy_hidden = 4
  return flow_lib.make(c, {"kind": "toy", "shape": (2,), "name": "t"})


@pytest.fixture(scope="module")
def small_pixelcnn():
  c = pixelcnn_config.get_config("smoke")
  c.model.channels = 6
  return pixelcnn.make(c, {"shape": (5, 5, 1)})


@pytest.fixture(scope="module")
def toy_cfg():
  c = cfg_configs.get_config("smoke")
  c.model.output_activation = "linear"
  c.train.batch_size = (c.model.num_stages * c.model.discriminator_updates
                        * c.model.stage_batch_size)
  return cfg_lib.make(c, {"shape": (2,), "kind": "toy", "name": "ring8"})


@pytest.fixture(scope="module")
def small_vae():
  from experiments.configs import vae as vae_configs
  from gdm_jax.models import vae as vae_lib
  return vae_lib.make(vae_configs.get_config("smoke"), {"shape": (28, 28, 1)})


@pytest.fixture(scope="module")
def toy_gan():
  from experiments.configs import gan as gan_configs
  from gdm_jax.models import gan as gan_lib
  c = gan_configs.get_config("ring8")
  c.model.critic_steps = 2
  return gan_lib.make(c, {"shape": (2,), "kind": "toy", "name": "ring8"})


MODEL_CASES = [
    ("vae", lambda m: m.evaluate({}, {"image": u8(2, 32, 32, 1)}, KEY),
     ["vae.evaluate", "batch['image']", "(*, 28, 28, 1)", "(2, 32, 32, 1)"]),
    ("vae", lambda m: m.train_step(None, {"x": f(2, 2)}, KEY),
     ["vae.train_step", "key 'image'", "['x']"]),
    ("vae", lambda m: m.elbo({}, f(2, 784), KEY),
     ["vae.elbo", "`x`", "(2, 784)"]),
    ("vae", lambda m: m.importance_log_weights({}, f(2, 28, 28, 1), KEY, 0),
     ["vae.importance_log_weights", "`k`", "0"]),
    ("vae", lambda m: m.sample({}, KEY, 0), ["vae.sample", "`n`", "0"]),
    ("gan", lambda m: m.evaluate({}, {"x": f(4, 3)}, KEY),
     ["gan.evaluate", "batch['x']", "(4, 3)"]),
    ("gan", lambda m: m.train_step(None, {"x": f(3, 2)}, KEY),
     ["gan.train_step", "batch size 3", "critic_steps = 2"]),
    ("gan", lambda m: m.sample({}, KEY, -2), ["gan.sample", "`n`", "-2"]),
    ("flow", lambda m: m.log_prob({}, f(4, 3)),
     ["flow.log_prob", "`x`", "(*, 2)", "[B, 2]", "(4, 3)"]),
    ("flow", lambda m: m.evaluate({}, {"x": f(4, 3)}, KEY),
     ["flow.evaluate", "batch['x']", "(4, 3)"]),
    ("flow", lambda m: m.evaluate({}, {"image": u8(4, 2)}, KEY),
     ["flow.evaluate", "key 'x'", "['image']"]),
    ("flow", lambda m: m.sample({}, KEY, 0),
     ["flow.sample", "`n`", "positive", "0"]),
    ("flow", lambda m: m.sample({}, KEY, 2.0),
     ["flow.sample", "`n`", "float"]),
    ("flow", lambda m: m.inverse({}, f(3, 5)),
     ["flow.inverse", "`z`", "(3, 5)"]),
    ("flow", lambda m: m.sample_with_temperature({}, KEY, 4, f(3)),
     ["flow.sample_with_temperature", "`temperature`", "(3,)"]),
    ("flow_bpd", lambda m: flow_lib.bits_per_dim(f(4), f(4), 0),
     ["flow.bits_per_dim", "`num_dims`", "0"]),
    ("flow_bpd", lambda m: flow_lib.bits_per_dim(i(4), f(4), 3),
     ["flow.bits_per_dim", "`log_prob_unit`", "int32"]),
    ("pixelcnn", lambda m: m.evaluate({}, {"image": u8(2, 4, 4, 1)}, KEY),
     ["pixelcnn.evaluate", "batch['image']", "(*, 5, 5, 1)",
      "(2, 4, 4, 1)"]),
    ("pixelcnn", lambda m: m.log_prob({}, jnp.zeros((2, 5, 5, 1), bool)),
     ["pixelcnn.log_prob", "`image`", "numeric", "bool"]),
    ("pixelcnn", lambda m: m.sample({}, KEY, -1),
     ["pixelcnn.sample", "`n`", "-1"]),
    ("pixelcnn", lambda m: m.complete({}, KEY, u8(1, 5, 5, 1), 5),
     ["pixelcnn.complete", "`start_row`", "[0, 5)", "5"]),
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
  fixture = {"vae": "small_vae", "gan": "toy_gan",
             "flow": "toy_flow", "flow_bpd": None, "pixelcnn":
             "small_pixelcnn", "cfg": "toy_cfg", "cfg_fn": None}[family]
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

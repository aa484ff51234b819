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

from experiments.configs import flow_base
from experiments.configs import pixelcnn as pixelcnn_config
from gdm_jax import checks
from gdm_jax import distributions as D
from gdm_jax import divergences as V
from gdm_jax import flows
from gdm_jax import gan_losses as G
from gdm_jax import nn as gnn
from gdm_jax.data import preprocess as P
from gdm_jax.eval import classifier as C
from gdm_jax.eval import evaluator
from gdm_jax.eval import images as I
from gdm_jax.eval import plots
from gdm_jax.eval import sample_quality as SQ
from gdm_jax.eval import toy_metrics as T
from gdm_jax.models import flow as flow_lib
from gdm_jax.models import pixelcnn
from gdm_jax.nn import conv as gconv
from gdm_jax.nn import masked
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


# (id, call, substrings the message must contain)
CASES = [
    # ------------------------------------------------------ distributions
    ("bernoulli_int_logits", lambda: D.bernoulli_log_prob(i(4), f(4)),
     ["distributions.bernoulli_log_prob", "`logits`", "floating", "int32",
      "(4,)"]),
    ("bernoulli_no_broadcast", lambda: D.bernoulli_log_prob(f(4, 3), f(4, 2)),
     ["distributions.bernoulli_log_prob", "broadcast", "(4, 3)", "(4, 2)"]),
    ("gaussian_int_log_scale",
     lambda: D.gaussian_log_prob(f(3), f(3), i(3)),
     ["distributions.gaussian_log_prob", "`log_scale`", "int32"]),
    ("gaussian_no_broadcast",
     lambda: D.gaussian_log_prob(f(2, 3), f(2, 4), f(3)),
     ["distributions.gaussian_log_prob", "`mean` (2, 4)"]),
    ("standard_normal_bool",
     lambda: D.standard_normal_log_prob(jnp.zeros(3, bool)),
     ["distributions.standard_normal_log_prob", "`x`", "numeric", "bool"]),
    ("kl_scalar_mean",
     lambda: D.kl_divergence_diagonal_gaussian(f(), f()),
     ["distributions.kl_divergence_diagonal_gaussian", "`mean`", "rank >= 1",
      "[..., D]", "shape ()"]),
    ("kl_no_broadcast",
     lambda: D.kl_divergence_diagonal_gaussian(f(2, 3), f(2, 4)),
     ["distributions.kl_divergence_diagonal_gaussian", "`log_scale` (2, 4)"]),
    ("categorical_float_x",
     lambda: D.categorical_log_prob(f(2, 5), f(2)),
     ["distributions.categorical_log_prob", "`x`", "integer", "float32"]),
    ("categorical_x_rank",
     lambda: D.categorical_log_prob(f(2, 5), i(2, 5)),
     ["distributions.categorical_log_prob", "`x`", "rank 1", "(2, 5)"]),
    ("logistic_num_bins",
     lambda: D.discretized_logistic_log_prob(f(3), f(3), f(3), num_bins=1),
     ["distributions.discretized_logistic_log_prob", "`num_bins`", ">= 2"]),
    ("mixture_means_components",
     lambda: D.discretized_logistic_mixture_log_prob(
         f(2, 3), f(2, 4), f(2, 3, 5), f(2, 3, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "`means`",
      "[..., 3, 4]", "(2, 3, 5)"]),
    ("mixture_int_x",
     lambda: D.discretized_logistic_mixture_log_prob(
         i(2, 1), f(2, 4), f(2, 1, 4), f(2, 1, 4)),
     ["distributions.discretized_logistic_mixture_log_prob", "`x`",
      "int32"]),
    ("sum_except_batch_rank",
     lambda: D.sum_except_batch(f(), batch_ndims=1),
     ["distributions.sum_except_batch", "`x`", "rank >= 1", "shape ()"]),
    # ------------------------------------------------------ divergences
    ("mmd_int_samples",
     lambda: V.mmd_unbiased(i(4, 2), f(4, 2), V.rbf_kernel(1.0)),
     ["divergences.mmd_unbiased", "`x`", "floating", "int32", "(4, 2)"]),
    ("mmd_event_shapes",
     lambda: V.mmd_unbiased(f(4, 2), f(4, 3), V.rbf_kernel(1.0)),
     ["mmd_unbiased", "event shapes", "(2,)", "(3,)"]),
    ("energy_scalar",
     lambda: V.energy_distance(f(), f(4)),
     ["divergences.energy_distance", "`x`", "rank >= 1", "shape ()"]),
    ("squared_distances_event",
     lambda: V.squared_distances(f(3, 2), f(4, 5)),
     ["divergences.squared_distances", "`x` (3, 2)", "`y` (4, 5)"]),
    ("variational_bound_int_logits",
     lambda: V.variational_lower_bound(V.GAN, i(4), f(4)),
     ["divergences.variational_lower_bound", "`real_logits`", "int32"]),
    ("variational_bound_not_a_divergence",
     lambda: V.variational_lower_bound("gan", f(4), f(4)),
     ["divergences.variational_lower_bound", "`div`", "FDivergence", "str"]),
    ("variational_per_example_shapes",
     lambda: V.variational_lower_bound_per_example(V.GAN, f(4), f(3)),
     ["variational_lower_bound_per_example", "(4,)", "(3,)"]),
    ("discrete_f_divergence_int",
     lambda: V.discrete_f_divergence(V.FORWARD_KL, i(3), f(3)),
     ["divergences.discrete_f_divergence", "`p`", "int32"]),
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
    # ------------------------------------------------------ preprocessing
    ("binarize_bool", lambda: P.binarize_static(jnp.zeros((2, 4, 4, 1), bool)),
     ["preprocess.binarize_static", "`image`", "numeric", "bool"]),
    ("dequantize_rank1",
     lambda: P.dequantize_uniform(KEY, u8(16)),
     ["preprocess.dequantize_uniform", "`image`", "rank >= 2", "(16,)"]),
    ("preprocessing_apply_rank",
     lambda: P.make_preprocessing("none", "uniform").apply(KEY, u8(5)),
     ["Preprocessing.apply", "`image`", "(5,)"]),
    # ------------------------------------------------------ eval
    ("fid_feature_widths",
     lambda: SQ.fid(np.ones((5, 3)), np.ones((5, 4))),
     ["sample_quality.fid", "feature widths", "(5, 3)", "(5, 4)"]),
    ("fid_rank", lambda: SQ.fid(np.ones(5), np.ones((5, 4))),
     ["sample_quality.fid", "`features_a`", "rank 2", "[N, F]", "(5,)"]),
    ("kid_dtype", lambda: SQ.kid(np.ones((5, 3), bool), np.ones((5, 3))),
     ["sample_quality.kid", "`features_a`", "numeric", "bool"]),
    ("kid_widths", lambda: SQ.kid(np.ones((5, 3)), np.ones((5, 2))),
     ["sample_quality.kid", "feature widths", "(5, 3)", "(5, 2)"]),
    ("precision_recall_widths",
     lambda: SQ.precision_recall(np.ones((6, 3)), np.ones((6, 2))),
     ["sample_quality.precision_recall", "feature widths", "(6, 3)",
      "(6, 2)"]),
    ("mmd2_rank", lambda: SQ.mmd2_unbiased(np.ones((4, 2, 1)), np.ones((4, 2))),
     ["sample_quality.mmd2_unbiased", "`x`", "rank 2", "(4, 2, 1)"]),
    ("inception_score_int",
     lambda: SQ.inception_score(np.eye(3, dtype=np.int64), 1),
     ["sample_quality.inception_score", "`probs`", "floating", "int64"]),
    ("wasserstein1_dims",
     lambda: T.wasserstein1(np.ones((5, 2)), np.ones((5, 3))),
     ["toy_metrics.wasserstein1", "same dimension", "(5, 2)", "(5, 3)"]),
    ("wasserstein1_rank", lambda: T.wasserstein1(np.ones(5), np.ones((5, 1))),
     ["toy_metrics.wasserstein1", "`x`", "[N, D]", "(5,)"]),
    ("modes_covered_dims",
     lambda: T.modes_covered(np.ones((5, 2)), np.ones((8, 3)), 0.1),
     ["toy_metrics.modes_covered", "`samples`", "`modes`", "(5, 2)",
      "(8, 3)"]),
    ("modes_covered_dtype",
     lambda: T.modes_covered(np.ones((5, 2), bool), np.ones((8, 2)), 0.1),
     ["toy_metrics.modes_covered", "`samples`", "numeric", "bool"]),
    ("evaluate_toy_samples_dims",
     lambda: T.evaluate_toy_samples(np.ones((5, 2)), np.ones((5, 1)), {}),
     ["toy_metrics.evaluate_toy_samples", "`reference`", "(5, 1)"]),
    ("image_grid_rank", lambda: I.image_grid(np.ones((4, 4, 1))),
     ["images.image_grid", "`images`", "rank 4", "(4, 4, 1)"]),
    ("image_grid_channels", lambda: I.image_grid(np.ones((2, 4, 4, 2))),
     ["images.image_grid", "C in (1, 3)", "(2, 4, 4, 2)"]),
    ("save_png_float",
     lambda: I.save_png(np.ones((4, 4, 1), np.float32), "/tmp/never.png"),
     ["images.save_png", "`grid`", "uint8", "float32"]),
    ("toy_scatter_dtype",
     lambda: plots.toy_scatter(np.ones((5, 2), bool)),
     ["plots.toy_scatter", "`samples`", "bool"]),
    ("classifier_cnn_shape",
     lambda: C.FashionMnistCNN().init(KEY, f(2, 14, 14, 1)),
     ["FashionMnistCNN.__call__", "`x`", "(*, 28, 28, 1)", "(2, 14, 14, 1)"]),
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
    ("mlp_int", lambda: gnn.MLP((3,)).init(KEY, i(2, 4)),
     ["MLP.__call__", "`x`", "int32"]),
    ("conv_encoder_rank", lambda: gnn.ConvEncoder().init(KEY, f(2, 28, 28)),
     ["ConvEncoder.__call__", "`x`", "rank 4", "(2, 28, 28)"]),
    ("conv_decoder_rank", lambda: gnn.ConvDecoder().init(KEY, f(2, 4, 4)),
     ["ConvDecoder.__call__", "`z`", "rank 2", "(2, 4, 4)"]),
    ("depth_to_space_rank", lambda: gnn.depth_to_space(f(2, 4, 8), 2),
     ["nn.depth_to_space", "`x`", "rank 4", "(2, 4, 8)"]),
    ("im2col_channels",
     lambda: gconv.im2col_conv(f(1, 4, 4, 3), f(3, 3, 2, 5), (2, 2), "SAME"),
     ["nn.im2col_conv", "3 channels", "expects 2"]),
    ("masked_conv_int",
     lambda: masked.MaskedConv2D(4).init(KEY, i(1, 4, 4, 1)),
     ["MaskedConv2D.__call__", "`x`", "int32"]),
    ("pixelcnn_net_rank", lambda: masked.PixelCNN(4, 1, 8).init(KEY, f(4, 4, 1)),
     ["PixelCNN.__call__", "`x`", "rank 4", "(4, 4, 1)"]),
    ("gate_odd", lambda: masked.gate(f(2, 3)),
     ["nn.gate", "even", "(2, 3)"]),
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
def small_vae():
  from experiments.configs import vae as vae_configs
  from gdm_jax.models import vae as vae_lib
  return vae_lib.make(vae_configs.get_config("smoke"), {"shape": (28, 28, 1)})


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
]


@pytest.mark.parametrize("family, call, expected",
                         [pytest.param(fam, c, e, id=f"{fam}-{k}")
                          for k, (fam, c, e) in enumerate(MODEL_CASES)])
def test_model_functions_reject_inputs_that_do_not_fit_the_model(
    family, call, expected, request):
  fixture = {"vae": "small_vae", "flow": "toy_flow", "flow_bpd": None,
             "pixelcnn": "small_pixelcnn"}[family]
  model = request.getfixturevalue(fixture) if fixture else None
  assert_raises_naming(lambda: call(model), expected)


# ------------------------------------------------------------ checks.py


def test_broadcasts_to_keeps_the_target_shape():
  assert checks.broadcasts_to((3,), (2, 3))
  assert checks.broadcasts_to((2, 1), (2, 3))
  assert checks.broadcasts_to((), (2, 3))
  assert not checks.broadcasts_to((2, 3), (3,))      # would grow the target
  assert not checks.broadcasts_to((4,), (2, 3))      # incompatible


def test_dtype_categories():
  assert checks.is_dtype(jnp.bfloat16, "floating")
  assert checks.is_dtype(np.float64, "floating")
  assert not checks.is_dtype(np.int32, "floating")
  assert checks.is_dtype(np.uint8, "integer")
  assert checks.is_dtype(np.uint8, "numeric")
  assert not checks.is_dtype(np.bool_, "numeric")
  assert checks.is_dtype(np.bool_, None)
  with pytest.raises(ValueError, match="category"):
    checks.is_dtype(np.float32, "float")


def test_check_array_accepts_python_scalars_and_wildcard_shapes():
  checks.check_array("fn", "a", 0.5)                       # Python float
  checks.check_array("fn", "a", 0)                         # weakly typed int
  with pytest.raises(ValueError, match="got bool"):
    checks.check_array("fn", "a", True)
  checks.check_array("fn", "a", [[1.0, 2.0]], rank=2)      # nested list
  checks.check_array("fn", "a", f(7, 28, 28, 1), shape=(None, 28, 28, 1))
  with pytest.raises(ValueError, match=r"`a` must be an integer array; got "
                     r"float64 with shape \(\)"):
    checks.check_array("fn", "a", 0.5, dtype="integer")


@pytest.mark.parametrize("n, ok", [(1, True), (np.int64(3), True), (0, False),
                                   (-2, False), (True, False), (2.0, False),
                                   ("4", False)])
def test_check_positive_int(n, ok):
  if ok:
    checks.check_positive_int("fn", "n", n)
  else:
    with pytest.raises(ValueError, match="fn: `n` must be a positive"):
      checks.check_positive_int("fn", "n", n)


def test_check_same_batch_and_broadcastable():
  checks.check_same_batch("fn", [("a", f(3, 2)), ("b", i(3))])
  with pytest.raises(ValueError, match="batch size"):
    checks.check_same_batch("fn", [("a", f(3, 2)), ("b", i(2))])
  with pytest.raises(ValueError, match="leading batch axis"):
    checks.check_same_batch("fn", [("a", f())])
  checks.check_broadcastable("fn", [("a", f(3, 1)), ("b", f(4))])
  with pytest.raises(ValueError, match=r"`a` \(3, 2\), `b` \(4,\)"):
    checks.check_broadcastable("fn", [("a", f(3, 2)), ("b", f(4))])


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

"""The flow family: bits/dim, whole-model change of variables and invertibility
(NICE, RealNVP, Glow on tiny images, odd sizes included), dequantisation,
the importance-weighted bound, toy densities that integrate to 1,
temperature, frozen 1x1-conv constants; the module-level functions equal
the model's members; invalid inputs name the function and argument."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import flow_base
from gdm_jax import distributions
from gdm_jax import flows
from gdm_jax.data.preprocess import dequantize_uniform
from gdm_jax.models import flow as flow_lib
from tests import helpers
from tests.helpers import f
from tests.helpers import invalid_input_test
from tests.helpers import perturb
from tests.helpers import u8

B = 2


def _config(architecture, **model):
  c = helpers.smoke_config("realnvp.py")
  c.model.architecture = architecture
  c.model.hidden = 4
  if architecture == "glow":
    c.model.logit_alpha = 0.0
    c.model.scale_fn = "sigmoid"
  for k, v in model.items():
    if k == "dequantization":
      c.data.dequantization = v
    else:
      c.model[k] = v
  return c


def _images(shape, seed=0, n=B):
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.integers(0, 256, (n,) + shape), jnp.uint8)


def _perturb_model_params(params, seed=1, scale=0.1):
  return {k: perturb(v, seed=seed, scale=scale) for k, v in params.items()}


# ----------------------------------------------------------- bits per dim

def _bpd(log_p, log_q, d):
  """The flow's bits/dim of the dequantisation bound."""
  return distributions.bits_per_dim(log_q - log_p, d, flow_lib.LOG_256)


def test_bits_per_dim_of_the_uniform_model_is_exactly_8():
  d = 784
  zeros = jnp.zeros((3,), jnp.float32)
  np.testing.assert_array_equal(_bpd(zeros, zeros, d), 8.0)


def test_bits_per_dim_of_uniform_density_through_the_logit_jacobian():
  """Density 1 on [0, 1)^D written as a logistic base density through
  h = logit(x) (Logit with α = 0): log p(x) = log logistic(h) + log|dh/dx|
  = 0 exactly, so the logit's Jacobian terms must make bits/dim 8."""
  image = _images((4, 4, 1), seed=3, n=5)
  x = dequantize_uniform(jax.random.PRNGKey(0), image)
  h, log_det = flows.Logit(0.0).apply({}, x)
  log_logistic = jnp.sum(jax.nn.log_sigmoid(h) + jax.nn.log_sigmoid(-h),
                         axis=(1, 2, 3))
  bpd = _bpd(log_logistic + log_det, jnp.zeros(5), 16)
  np.testing.assert_allclose(bpd, 8.0, atol=1e-5)


def test_bits_per_dim_counts_log_q_and_scaling():
  # Density 2^D (e.g. uniform on [0, 1/2)^D): 7 bits/dim; log q = D ln 2
  # adds 1 bit/dim back.
  d = 10
  lp = jnp.full((1,), d * math.log(2.0))
  np.testing.assert_allclose(_bpd(lp, jnp.zeros(1), d), 7.0, rtol=1e-6)
  np.testing.assert_allclose(_bpd(lp, lp, d), 8.0, rtol=1e-6)


# ----------------------------------------------------------- whole models

MODELS = {
    # 6x6x1 with 3 levels: 6 -> 3 (odd): squeeze only at level 0.
    "realnvp_odd": (_config("realnvp", num_levels=3, num_couplings=1),
                    (6, 6, 1)),
    "glow_odd": (_config("glow", num_levels=2, num_steps=1), (6, 6, 1)),
    "nice": (_config("nice", nice_num_couplings=3), (4, 4, 1)),
}
# Same flow as realnvp_odd; its dequantiser is checked on its own below.
VARIATIONAL = (_config("realnvp", num_levels=2, num_couplings=1,
                       dequantization="variational"), (4, 4, 1))


@functools.lru_cache(maxsize=None)
def _model(name):
  config, shape = VARIATIONAL if name == "realnvp_variational" else (
      MODELS[name])
  model = flow_lib.make(config, {"shape": shape})
  batch = {"image": _images(shape, seed=0, n=8)}
  state = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
  params = _perturb_model_params(state.params)
  return model, state, params, shape


@functools.lru_cache(maxsize=None)
def _model_results(name):
  model, _, params, shape = _model(name)
  x = flows.Logit(0.0).apply(  # any points of (0, 1)^D
      {}, jnp.asarray(np.random.default_rng(1).normal(size=(B,) + shape),
                      jnp.float32), method="inverse")[0]

  def flat_forward(v):  # [D] -> [D]: x -> all latents
    z, _ = model.forward(params, v.reshape((1,) + shape))
    z = flows.flatten_latents(z) if isinstance(z, tuple) else z.reshape(1, -1)
    return z[0]

  @jax.jit
  def compute(x):
    z, _ = model.forward(params, x)
    x_back, _ = model.inverse(params, z)
    zf = flows.flatten_latents(z) if isinstance(z, tuple) else (
        z.reshape(B, -1))
    _, logdet = jax.vmap(lambda v: jnp.linalg.slogdet(
        jax.jacfwd(flat_forward)(v)))(x.reshape(B, -1))
    direct = -0.5 * jnp.sum(zf ** 2 + math.log(2 * math.pi), -1) + logdet
    return dict(log_prob=model.log_prob(params, x), direct=direct,
                x_back=x_back, num_latents=zf.shape[-1])

  return x, compute(x)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_log_prob_is_the_change_of_variables(name):
  """log_prob = log N(z) + slogdet(∂z/∂x), the Jacobian of the whole map
  (logit or shift, couplings, squeezes, factor-outs) from jax.jacfwd."""
  x, r = _model_results(name)
  assert int(r["num_latents"]) == x[0].size
  np.testing.assert_allclose(r["log_prob"], r["direct"], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_inverse_of_forward_is_identity(name):
  x, r = _model_results(name)
  np.testing.assert_allclose(r["x_back"], x, atol=1e-5, rtol=0)


def test_evaluate_and_samples():
  model, _, params, shape = _model("glow_odd")
  batch = {"image": _images(shape, seed=4, n=4)}
  out = jax.jit(model.evaluate_final)(params, batch, jax.random.PRNGKey(2))
  # bits/dim from the model-space NLL: + D ln 256, / (D ln 2).
  d = math.prod(shape)
  np.testing.assert_allclose(
      out["bits_per_dim"], (out["nll"] + d * math.log(256)) / (d * math.log(2)),
      rtol=1e-6)
  images = jax.jit(model.images)(params, batch, jax.random.PRNGKey(3))
  for v in images.values():
    assert v.shape == (64,) + shape
    assert float(v.min()) >= 0.0 and float(v.max()) <= 1.0
  # T = 0 is a single point: every sample equal.
  t0 = images["samples_t0.0"]
  np.testing.assert_allclose(t0, jnp.broadcast_to(t0[:1], t0.shape),
                             atol=1e-6)


def test_dequantisation_stays_in_the_pixel_bin_and_log_q_is_exact():
  """x = (k + u)/256 with floor(256 x) = k; for the variational dequantiser,
  log q(u|k) = log N(ε) - log|det ∂u/∂ε| with the Jacobian from jax.jacfwd."""
  model, _, params, shape = _model("realnvp_variational")
  image = _images(shape, seed=5, n=3)
  x, log_q = jax.jit(model.dequantize)(params, image, jax.random.PRNGKey(4))
  np.testing.assert_array_equal(np.floor(np.asarray(x) * 256), image)
  deq = flow_lib.VariationalDequantizer(4, 1)
  eps = jnp.asarray(np.random.default_rng(6).normal(size=(3,) + shape),
                    jnp.float32)
  ctx = image.astype(jnp.float32) / 255.0
  u, log_q = deq.apply(params["dequant"], eps, ctx)
  assert float(u.min()) > 0.0 and float(u.max()) < 1.0

  def one(e, c):
    f = lambda v: deq.apply(params["dequant"], v.reshape((1,) + shape),
                            c[None])[0].reshape(-1)
    return jnp.linalg.slogdet(jax.jacfwd(f)(e.reshape(-1)))[1]

  logdet = jax.jit(jax.vmap(one))(eps, ctx)
  log_n = -0.5 * jnp.sum(eps ** 2 + math.log(2 * math.pi), axis=(1, 2, 3))
  np.testing.assert_allclose(log_q, log_n - logdet, rtol=1e-5, atol=1e-3)
  # Uniform dequantisation: log q = 0.
  model_u, _, params_u, _ = _model("nice")
  x, log_q = jax.jit(model_u.dequantize)(params_u, _images((4, 4, 1), n=3),
                                jax.random.PRNGKey(5))
  np.testing.assert_array_equal(log_q, 0.0)


def test_glow_train_step_leaves_conv1x1_constants_alone():
  model, state, _, shape = _model("glow_odd")
  batch = {"image": _images(shape, seed=8, n=8)}
  step = jax.jit(model.train_step)
  new = state
  for i in range(2):   # the warm-up's learning rate is 0 at step 0
    new, metrics = step(new, batch, jax.random.PRNGKey(i))
    assert np.isfinite(float(metrics["loss"]))
  jax.tree.map(np.testing.assert_array_equal,
               state.params["flow"]["constants"],
               new.params["flow"]["constants"])
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))),
                       state.params["flow"]["params"],
                       new.params["flow"]["params"])
  assert max(jax.tree.leaves(moved)) > 0


# ----------------------------------------------------------- toy flows

def _toy(dim, **model):
  c = flow_base.base_config()
  c.model.toy_num_layers = model.get("layers", 4)
  c.model.toy_hidden = 16
  m = flow_lib.make(c, {"kind": "toy", "shape": (dim,), "name": "t"})
  x = jnp.asarray(np.random.default_rng(0).normal(size=(256, dim)) * 1.5 + 0.3,
                  jnp.float32)
  state = jax.jit(m.init)(jax.random.PRNGKey(0), {"x": x})
  return m, _perturb_model_params(state.params, seed=2,
                                  scale=model.get("scale", 0.3))


def test_toy_1d_density_integrates_to_one():
  model, params = _toy(1)
  grid = jnp.linspace(-30.0, 30.0, 60001)[:, None]
  p = jnp.exp(jax.jit(model.log_prob)(params, grid))
  total = float(np.trapezoid(np.asarray(p), np.asarray(grid[:, 0])))
  assert abs(total - 1.0) < 2e-3, total
  # The perturbed flow is not a Gaussian: its density differs from the
  # moment-matched normal somewhere by a visible amount.
  xs, ps = np.asarray(grid[:, 0]), np.asarray(p)
  mean = np.trapezoid(xs * ps, xs)
  std = math.sqrt(np.trapezoid((xs - mean) ** 2 * ps, xs))
  normal = np.exp(-0.5 * ((xs - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
  assert np.max(np.abs(ps - normal)) > 0.01


def test_toy_2d_density_integrates_to_one():
  model, params = _toy(2, scale=0.1)
  axis = jnp.linspace(-12.0, 12.0, 481)
  xx, yy = jnp.meshgrid(axis, axis, indexing="ij")
  pts = jnp.stack([xx.ravel(), yy.ravel()], -1)
  p = np.asarray(jnp.exp(jax.jit(model.log_prob)(params, pts))).reshape(
      xx.shape)
  a = np.asarray(axis)
  total = float(np.trapezoid(np.trapezoid(p, a, axis=1), a))
  assert abs(total - 1.0) < 2e-3, total


@pytest.mark.parametrize("dim", [1, 2])
def test_toy_samples_have_the_temperature(dim):
  """x = f⁻¹(z), z ~ N(0, T² I): mapping samples back gives std T."""
  model, params = _toy(dim)
  x = jax.jit(model.sample_with_temperature, static_argnums=2)(
      params, jax.random.PRNGKey(3), 4000, 0.5)
  z, _ = model.forward(params, x)
  np.testing.assert_allclose(jnp.std(z, 0), 0.5, atol=0.03)
  assert x.shape == (4000, dim)
  assert model.images(params, {"x": x}, jax.random.PRNGKey(0)) == {}


def test_config_errors_name_the_field():
  c = _config("realnvp")
  c.model.architecture = "maf"
  with pytest.raises(ValueError, match="model.architecture"):
    flow_lib.make(c, {"shape": (4, 4, 1)})
  c = _config("realnvp")
  c.data.dequantization = "none"
  with pytest.raises(ValueError, match="data.dequantization"):
    flow_lib.make(c, {"shape": (4, 4, 1)})
  with pytest.raises(ValueError, match="cannot be squeezed"):
    flow_lib.realnvp_flow((5, 5, 1), num_levels=2)


# ----------------------------------------------------------- module functions

def test_module_functions_on_rebuilt_networks_equal_the_model():
  """A notebook's route: `build_networks(config.model, shape)` and the
  module-level functions on the params give the model's own numbers."""
  model, _, params, shape = _model("realnvp_variational")
  config, _ = VARIATIONAL
  net = flow_lib.build_networks(config.model, shape,
                                dequantization="variational")
  image = _images(shape, seed=9, n=3)
  rng = jax.random.PRNGKey(7)
  out = jax.jit(model.evaluate)(params, {"image": image}, rng)
  direct = jax.jit(functools.partial(flow_lib.metrics, net))(params, image,
                                                             rng)
  chex.assert_trees_all_close(out, direct, rtol=1e-6)
  chex.assert_shape([direct["nll"], direct["bits_per_dim"]], (3,))
  loss, aux = jax.jit(functools.partial(flow_lib.image_loss, net))(
      params, image, rng)
  np.testing.assert_allclose(loss, jnp.mean(direct["bits_per_dim"]),
                             rtol=1e-6)
  np.testing.assert_allclose(aux["nll"], jnp.mean(direct["nll"]), rtol=1e-6)
  lp, log_q = flow_lib.dequantized_log_prob(net, params, image, rng)
  np.testing.assert_allclose(direct["nll"], -lp, rtol=1e-6)
  np.testing.assert_allclose(aux["log_q"], jnp.mean(log_q), rtol=1e-5)


def test_importance_weighted_bound_is_the_log_mean_of_the_weights():
  """L_K = log (1/K) Σ_i p(x_i)/q(u_i|k) with the keys split(rng, K); it
  lies between the mean and the max of the K log-weights (Jensen)."""
  model, _, params, shape = _model("realnvp_variational")
  net, k = model.net, 4
  image = _images(shape, seed=10, n=3)
  rng = jax.random.PRNGKey(3)
  bound = jax.jit(functools.partial(
      flow_lib.importance_weighted_log_prob, net, num_samples=k))(
          params, image, rng)
  one = jax.jit(functools.partial(flow_lib.dequantized_log_prob, net))
  log_w = jnp.stack([lp - lq for lp, lq in (
      one(params, image, key) for key in jax.random.split(rng, k))])
  chex.assert_shape(bound, (3,))
  np.testing.assert_allclose(
      bound, jax.nn.logsumexp(log_w, 0) - math.log(k), rtol=1e-5, atol=1e-3)
  assert (bound >= jnp.mean(log_w, 0) - 1e-3).all()
  assert (bound <= jnp.max(log_w, 0) + 1e-3).all()
  # evaluate_final reports its bits/dim with the keys of fold_in(rng, 1).
  final = flow_lib.metrics(net, params, image, rng, num_samples=k)
  expected = flow_lib.importance_weighted_log_prob(
      net, params, image, jax.random.fold_in(rng, 1), k)
  np.testing.assert_allclose(
      final["iw_bits_per_dim"],
      distributions.bits_per_dim(-expected, math.prod(shape),
                                 flow_lib.LOG_256), rtol=1e-6)


def test_zero_temperature_sample_is_the_inverse_of_zero_latents():
  model, _, params, _ = _model("realnvp_odd")
  net = model.net
  x = flow_lib.sample(net, params, jax.random.PRNGKey(0), 2, 0.0)
  zeros = tuple(jnp.zeros((2,) + s) for s in net.latent_shapes)
  x0, _ = flow_lib.inverse(net, params, zeros if len(zeros) > 1 else
                           zeros[0])
  np.testing.assert_allclose(x, jnp.clip(x0, 0.0, 1.0), atol=1e-6)


class LogProbJitTest(chex.TestCase):
  """`flow.log_prob` gives the change of variables with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_log_prob_is_the_change_of_variables(self):
    model, _, params, _ = _model("nice")
    x, r = _model_results("nice")
    log_prob = self.variant(functools.partial(flow_lib.log_prob, model.net))
    np.testing.assert_allclose(log_prob(params, x), r["direct"], rtol=1e-5,
                               atol=1e-3)


# ----------------------------------------------------------- invalid inputs

@functools.lru_cache(maxsize=None)
def _toy_model():
  c = flow_base.base_config()
  c.model.toy_num_layers = 1
  c.model.toy_hidden = 4
  return flow_lib.make(c, {"kind": "toy", "shape": (2,), "name": "t"})


KEY = jax.random.key(0)

# (id, call on the toy model, substrings the ValueError's message must contain)
INVALID_INPUTS = [
    ("log_prob_shape", lambda m: m.log_prob({}, f(4, 3)),
     ["flow.log_prob", "`x`", "(*, 2)", "[B, 2]", "(4, 3)"]),
    ("evaluate_shape", lambda m: m.evaluate({}, {"x": f(4, 3)}, KEY),
     ["flow.evaluate", "batch['x']", "(4, 3)"]),
    ("evaluate_key", lambda m: m.evaluate({}, {"image": u8(4, 2)}, KEY),
     ["flow.evaluate", "key 'x'", "['image']"]),
    ("sample_n_zero", lambda m: m.sample({}, KEY, 0),
     ["flow.sample", "`n`", "positive", "0"]),
    ("sample_n_float", lambda m: m.sample({}, KEY, 2.0),
     ["flow.sample", "`n`", "float"]),
    ("inverse_latent_shape", lambda m: m.inverse({}, f(3, 5)),
     ["flow.inverse", "`z`", "(3, 5)"]),
    ("temperature_shape",
     lambda m: m.sample_with_temperature({}, KEY, 4, f(3)),
     ["flow.sample", "`temperature`", "(3,)"]),
    ("dequantize_toy", lambda m: m.dequantize({}, u8(4, 2), KEY),
     ["flow.dequantize", "toy data"]),
    ("iw_num_samples", lambda m: flow_lib.importance_weighted_log_prob(
        m.net, {}, u8(4, 2), KEY, 0),
     ["flow.importance_weighted_log_prob", "`num_samples`", "0"]),
]


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS, _toy_model))

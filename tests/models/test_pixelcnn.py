"""PixelCNN family: exact likelihood bookkeeping and the compiled sampler.

- A uniform model (all parameters 0) scores exactly 8 bits/dim, and
  bits/dim = nll / (D ln 2) with nll the sum of per-pixel conditionals.
- The likelihood is normalised over whole images (a 2x2 binary-free check:
  log p summed over all 256^2 images of a 2x1 one-colour image is 0).
- The compiled sampler draws exactly what the definition p(x) = Π p(x_i |
  x_<i) prescribes: it equals a reference sampler that re-runs the whole
  network at every pixel (and colour) with the same keys; a peaked model
  samples the argmax of its own conditionals; the first pixel of the
  logistic mixture follows its exact discretised marginal.
- One compilation: sampling traces to a fixed-size program for any image
  size (loops, not unrolled), and the train step does not recompile.
- The module-level functions, on a network rebuilt from the config, give
  the model's numbers; invalid inputs name the function and argument.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import distributions
from gdm_jax.models import pixelcnn
from tests import helpers
from tests.helpers import invalid_input_test
from tests.helpers import u8


def _config(**model):
  c = helpers.smoke_config("pixelcnn.py")
  c.model.channels = 6
  for key, value in model.items():
    c.model[key] = value
  return c


def _model(shape, **model):
  m = pixelcnn.make(_config(**model), {"shape": shape})
  return m, m.init(jax.random.PRNGKey(0), None).params


def _images(shape, n=3, seed=0):
  return jnp.asarray(np.random.default_rng(seed).integers(0, 256, (n,) + shape),
                     jnp.uint8)


@pytest.mark.parametrize("likelihood", ["categorical", "logistic_mixture"])
def test_nll_is_the_sum_of_conditionals_and_bits_per_dim(likelihood):
  shape = (4, 5, 1)
  m, params = _model(shape, likelihood=likelihood)
  image = _images(shape)
  out = jax.jit(m.evaluate)(params, {"image": image}, jax.random.PRNGKey(0))
  per_pixel = jax.jit(m.pixel_log_probs)(params, image)
  assert per_pixel.shape == (3, 4, 5)
  assert (per_pixel <= 1e-6).all()       # discrete: probabilities <= 1
  np.testing.assert_allclose(out["nll"], -per_pixel.sum((1, 2)), rtol=1e-6)
  np.testing.assert_allclose(out["bits_per_dim"],
                             out["nll"] / (20 * math.log(2)), rtol=1e-6)
  final = jax.jit(m.evaluate_final)(params, {"image": image}, None)
  np.testing.assert_allclose(final["nll"], out["nll"], rtol=1e-6)


@pytest.mark.parametrize("likelihood", ["categorical", "logistic_mixture"])
def test_likelihood_sums_to_one_over_all_images(likelihood):
  # A 1x2 one-colour image has 65536 values; p(x1) p(x2 | x1) must sum to 1.
  shape = (1, 2, 1)
  m, params = _model(shape, likelihood=likelihood)
  v = jnp.arange(256, dtype=jnp.uint8)
  a, b = jnp.meshgrid(v, v, indexing="ij")
  images = jnp.stack([a, b], -1).reshape(-1, 1, 2, 1)
  lp = jax.jit(m.log_prob)(params, images)
  np.testing.assert_allclose(float(jnp.sum(jnp.exp(lp))), 1.0, atol=1e-4)


def test_uniform_categorical_model_scores_exactly_8_bits_per_dim():
  shape = (28, 28, 1)
  m, params = _model(shape)
  zeros = jax.tree.map(jnp.zeros_like, params)     # all logits 0: uniform
  out = jax.jit(m.evaluate)(zeros, {"image": _images(shape, n=2)}, None)
  np.testing.assert_allclose(out["bits_per_dim"], 8.0, rtol=1e-6)
  np.testing.assert_allclose(out["nll"], 784 * math.log(256), rtol=1e-6)


def _reference_sample(m, params, rng, n, shape):
  """The definition: re-run the whole network at every pixel and colour."""
  h, w, _ = shape
  outputs, draw = jax.jit(m.outputs), jax.jit(m.draw, static_argnums=3)
  canvas = jnp.zeros((n,) + shape)
  for t in range(h * w):
    i, j = divmod(t, w)
    key = jax.random.fold_in(rng, t)
    for c in range(m.num_passes):
      out = outputs(params, canvas)[:, i, j]
      canvas = canvas.at[:, i, j].set(draw(key, out, canvas[:, i, j], c))
  return canvas


@pytest.mark.parametrize("architecture, likelihood, colours", [
    ("gated", "categorical", 3),
    ("gated", "logistic_mixture", 3),
    ("plain", "categorical", 1),
])
def test_sampler_equals_the_pixel_by_pixel_definition(architecture, likelihood,
                                                      colours):
  # 2 layers of 3x3 reach 2 rows/columns: 6x7 images exercise the sampler's
  # row and column windows away from the border.
  shape = (6, 7, colours)
  m, params = _model(shape, architecture=architecture, likelihood=likelihood,
                     num_layers=2, first_kernel_size=3)
  rng = jax.random.PRNGKey(5)
  fast = jax.jit(m.sample, static_argnums=2)(params, rng, 3)
  ref = _reference_sample(m, params, rng, 3, shape)
  np.testing.assert_array_equal(np.round(np.asarray(fast) * 255.0), np.asarray(ref))
  assert float(fast.min()) >= 0.0 and float(fast.max()) <= 1.0


def test_peaked_model_samples_the_argmax_of_its_own_conditionals():
  # Random biases, and the last layer scaled by 1e5, make every conditional
  # a point mass (zero-initialised biases would leave the first pixel's
  # logits all equal), so a sampler that respects the order must reproduce
  # argmax_v p(v | x_<i) at every pixel and colour (R -> G -> B) of its own
  # samples.
  shape = (5, 5, 3)
  m, params = _model(shape, num_layers=3, first_kernel_size=3)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
  params = jax.tree.unflatten(tree, [
      p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
  params = jax.tree_util.tree_map_with_path(
      lambda path, p: p * 1e5 if "head_1" in jax.tree_util.keystr(path) else p,
      params)
  x = jnp.round(jax.jit(m.sample, static_argnums=2)(params, jax.random.PRNGKey(1), 4) * 255)
  logits = m.distribution(jax.jit(m.outputs)(params, x))   # [4, 5, 5, 3, 256]
  np.testing.assert_array_equal(np.asarray(jnp.argmax(logits, -1)),
                                np.asarray(x).astype(int))
  assert len(np.unique(np.asarray(x))) > 3          # not a constant image


def test_first_pixel_of_the_mixture_follows_its_exact_marginal():
  # p(x_00) does not depend on the image: compare the empirical CDF of 4000
  # sampled first pixels with the discretised mixture's (Kolmogorov-Smirnov;
  # the 1% critical value is 1.63 / sqrt(4000) = 0.026).
  shape = (2, 2, 1)
  m, params = _model(shape, likelihood="logistic_mixture", num_mixtures=3)
  x = jax.jit(m.sample, static_argnums=2)(params, jax.random.PRNGKey(2), 4000)
  values = np.round(np.asarray(x[:, 0, 0, 0]) * 255).astype(int)
  out = m.outputs(params, jnp.zeros((1,) + shape))[0, 0, 0]
  grid = jnp.arange(256) / 127.5 - 1.0
  logit_w, means, log_s, _ = m.distribution(out)
  p = np.exp(np.asarray(distributions.discretized_logistic_mixture_log_prob(
      grid[:, None], logit_w, means, log_s)))
  assert p[0] > 0.01 or p[255] > 0.01 or p.max() < 0.5   # a spread marginal
  ks = np.abs(np.cumsum(np.bincount(values, minlength=256)) / 4000 - np.cumsum(p))
  assert ks.max() < 0.026, ks.max()


def test_sampler_is_a_loop_compiled_once():
  sizes = []
  for shape in [(5, 5, 1), (9, 9, 1)]:
    m, params = _model(shape)
    jaxpr = jax.make_jaxpr(m.sample, static_argnums=2)(params,
                                                       jax.random.PRNGKey(0), 2)
    text = str(jaxpr)
    assert "while" in text or "scan" in text
    sizes.append(len(text.splitlines()))
  # Unrolled pixels would grow with H W (25 -> 81); a loop does not.
  assert sizes[0] == sizes[1], sizes
  sample = jax.jit(m.sample, static_argnums=2)
  a = sample(params, jax.random.PRNGKey(0), 2)
  b = sample(params, jax.random.PRNGKey(1), 2)
  assert sample._cache_size() == 1   # pylint: disable=protected-access
  assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_completion_keeps_the_given_rows():
  shape = (6, 5, 1)
  m, params = _model(shape, num_layers=2, first_kernel_size=3)
  image = _images(shape, n=2)
  done = jax.jit(m.complete, static_argnums=3)(params, jax.random.PRNGKey(0),
                                               image, 3)
  np.testing.assert_array_equal(np.asarray(done[:, :3]), np.asarray(image[:, :3]))
  pics = m.images(params, {"image": image}, jax.random.PRNGKey(1))
  assert pics["samples"].shape == (16,) + shape
  assert pics["completions"].shape == (8,) + shape   # hidden, 2x completed, real


def test_train_steps_lower_the_nll_without_recompiling():
  shape = (6, 6, 1)
  c = _config()
  c.optimizer.learning_rate = 3e-3
  c.train.num_steps = 100       # the smoke run's 3 would end the cosine decay
  m = pixelcnn.make(c, {"shape": shape})
  state = m.init(jax.random.PRNGKey(0), None)
  batch = {"image": _images(shape, n=8)}
  step = jax.jit(m.train_step)
  losses = []
  for t in range(8):
    state, metrics = step(state, batch, jax.random.PRNGKey(t))
    losses.append(float(metrics["loss"]))
  assert step._cache_size() == 1   # pylint: disable=protected-access
  assert int(state.step) == 8
  assert losses[-1] < losses[0] - 1.0, losses
  np.testing.assert_allclose(metrics["bits_per_dim"],
                             metrics["loss"] / (36 * math.log(2)), rtol=1e-6)


def test_invalid_settings_are_rejected_with_the_field_name():
  with pytest.raises(ValueError, match="model.likelihood"):
    pixelcnn.make(_config(likelihood="gaussian"), {"shape": (5, 5, 1)})
  with pytest.raises(ValueError, match="model.kernel_size"):
    pixelcnn.make(_config(kernel_size=4), {"shape": (5, 5, 1)})
  with pytest.raises(ValueError, match="model.channels"):
    pixelcnn.make(_config(channels=8), {"shape": (5, 5, 3)})
  c = _config()
  c.data.binarization = "dynamic"
  with pytest.raises(ValueError, match="binarization"):
    pixelcnn.make(c, {"shape": (5, 5, 1)})
  with pytest.raises(ValueError, match="8-bit images"):
    pixelcnn.make(_config(), {"name": "ring8", "kind": "toy", "shape": (2,)})


# ----------------------------------------------------------- module functions

def test_module_functions_on_a_rebuilt_network_equal_the_model():
  """A notebook's route: `build_network(config.model, shape, value_range)`
  and the module-level functions on the params."""
  shape = (4, 5, 3)
  config = _config(likelihood="logistic_mixture")
  m = pixelcnn.make(config, {"shape": shape})
  params = m.init(jax.random.PRNGKey(0), None).params
  net = pixelcnn.build_network(config.model, shape, config.data.value_range)
  image = _images(shape)
  out = jax.jit(m.evaluate)(params, {"image": image}, None)
  direct = jax.jit(functools.partial(pixelcnn.metrics, net))(params, image)
  chex.assert_trees_all_close(out, direct, rtol=1e-6)
  chex.assert_shape([direct["nll"], direct["bits_per_dim"]], (3,))
  loss, aux = pixelcnn.nll_loss(net, params, image)
  np.testing.assert_allclose(loss, jnp.mean(direct["nll"]), rtol=1e-6)
  np.testing.assert_allclose(aux["bits_per_dim"],
                             jnp.mean(direct["bits_per_dim"]), rtol=1e-6)
  assert net.num_passes == m.num_passes == 1
  np.testing.assert_array_equal(
      jax.jit(m.sample, static_argnums=2)(params, jax.random.PRNGKey(1), 2),
      jax.jit(functools.partial(pixelcnn.sample, net), static_argnums=2)(
          params, jax.random.PRNGKey(1), 2))


class LogProbJitTest(chex.TestCase):
  """`pixelcnn.log_prob` is the sum of the per-pixel conditionals, with and
  without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_log_prob_sums_the_conditionals(self):
    shape = (3, 4, 1)
    m, params = _model(shape)
    image = _images(shape)
    log_prob = self.variant(functools.partial(pixelcnn.log_prob, m.net))
    per_pixel = jax.jit(m.pixel_log_probs)(params, image)
    np.testing.assert_allclose(log_prob(params, image),
                               per_pixel.sum((1, 2)), rtol=1e-6)


# ----------------------------------------------------------- invalid inputs

KEY = jax.random.key(0)

# (id, call on a 5x5x1 model, substrings the ValueError's message must contain)
INVALID_INPUTS = [
    ("evaluate_shape", lambda m: m.evaluate({}, {"image": u8(2, 4, 4, 1)}, KEY),
     ["pixelcnn.evaluate", "batch['image']", "(*, 5, 5, 1)",
      "(2, 4, 4, 1)"]),
    ("log_prob_bool", lambda m: m.log_prob({}, jnp.zeros((2, 5, 5, 1), bool)),
     ["pixelcnn.log_prob", "`image`", "numeric", "bool"]),
    ("sample_n", lambda m: m.sample({}, KEY, -1),
     ["pixelcnn.sample", "`n`", "-1"]),
    ("complete_start_row", lambda m: m.complete({}, KEY, u8(1, 5, 5, 1), 5),
     ["pixelcnn.complete", "`start_row`", "[0, 5)", "5"]),
    ("train_step_key", lambda m: m.train_step(None, {"x": u8(2, 5, 5, 1)}, KEY),
     ["pixelcnn.train_step", "key 'image'", "['x']"]),
]


@functools.lru_cache(maxsize=None)
def _small_model():
  return pixelcnn.make(_config(), {"shape": (5, 5, 1)})


test_invalid_inputs_raise_naming_function_argument_and_input = (
    invalid_input_test(INVALID_INPUTS, _small_model))

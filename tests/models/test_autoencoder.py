"""The autoencoder module shared by the AAE and the WAE: the reconstruction
cost against closed forms, the discriminator's objective and the encoder's
loss, the members bound by `shared_members`, the evaluation's batch-level
MMD over a padded batch (issue 14), and input checks."""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import divergences
from gdm_jax.models import aae
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import wae
from tests import helpers
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i
from tests.helpers import u8

SHAPE = (28, 28, 1)
KEY = jax.random.key(0)


def _images(n, seed=0):
  return jax.random.randint(jax.random.PRNGKey(seed), (n,) + SHAPE, 0,
                            256).astype(jnp.uint8)


MODELS = {"aae": (aae, "aae.py"), "wae": (wae, "wae.py"),
          "wae_gan": (wae, "wae.py:gan")}


@functools.lru_cache(maxsize=None)
def _model(name):
  module, spec = MODELS[name]
  m = module.make(helpers.smoke_config(spec), {"shape": SHAPE})
  return m, m.init(jax.random.PRNGKey(0), None)


def test_reconstruction_cost_closed_forms():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 2, 2, 1)).astype(np.float32)
  x = (rng.uniform(size=(3, 2, 2, 1)) > 0.5).astype(np.float32)
  want = np.sum(np.log1p(np.exp(logits)) - x * logits, axis=(1, 2, 3))
  np.testing.assert_allclose(ae.reconstruction_cost(logits, x, "bernoulli"),
                             want, rtol=1e-5)
  grey = rng.uniform(size=(3, 2, 2, 1)).astype(np.float32)
  want = np.sum((grey - 1.0 / (1.0 + np.exp(-logits))) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(ae.reconstruction_cost(logits, grey, "l2"), want,
                             rtol=1e-5)


class DiscriminatorJit(chex.TestCase):
  """discriminator_objective: the logistic loss with prior samples real,
  λ-scaled, with its accuracy; the same with and without jit."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_objective(self):
    disc = ae.latent_discriminator((8,))
    d_vars = disc.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
    zp = jax.random.normal(jax.random.PRNGKey(1), (6, 3))
    zq = 2.0 + jax.random.normal(jax.random.PRNGKey(2), (6, 3))
    loss, aux = self.variant(functools.partial(
        ae.discriminator_objective, disc, weight=3.0))(d_vars, zp, zq)
    l_p, l_q = disc.apply(d_vars, zp)[:, 0], disc.apply(d_vars, zq)[:, 0]
    sig = jax.nn.sigmoid
    want = np.mean(-np.log(sig(l_p)) - np.log(1.0 - sig(l_q)))
    chex.assert_trees_all_close(aux["d_loss"], want, rtol=1e-5)
    chex.assert_trees_all_close(loss, 3.0 * want, rtol=1e-5)
    chex.assert_trees_all_close(
        aux["d_accuracy"], 0.5 * (np.mean(l_p > 0) + np.mean(l_q < 0)))
    chex.assert_trees_all_close(
        ae.generator_loss(disc, d_vars, zq), np.mean(-np.log(sig(l_q))),
        rtol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bound_members_are_the_module_functions(name):
  m, state = _model(name)
  x = m.preprocessing.apply(jax.random.PRNGKey(1), _images(5))
  z = ae.encode(m.net, state.params, x)
  chex.assert_shape(z, (5, 8))
  np.testing.assert_array_equal(m.encode(state.params, x), z)
  np.testing.assert_array_equal(m.reconstruct(state.params, x),
                                ae.decode_mean(m.net, state.params, z))
  s = m.sample(state.params, jax.random.PRNGKey(2), 3)
  np.testing.assert_array_equal(
      s, ae.decode_mean(m.net, state.params,
                        m.prior.sample(jax.random.PRNGKey(2), 3)))
  assert (m.critic is None) == (name == "wae")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padded_evaluation_batch_mmd_sees_only_real_rows(name):
  """The evaluator's last batch: 16 real images and 240 copies of the last,
  mask 1 on the real rows. `mmd` is the statistic of the 16 real codes
  against 16 prior samples; the per-example metrics are unchanged."""
  m, state = _model(name)
  real = _images(16, seed=3)
  image = jnp.concatenate([real, jnp.broadcast_to(real[-1:], (240,) + SHAPE)])
  mask = (jnp.arange(256) < 16).astype(jnp.float32)
  rng = jax.random.PRNGKey(4)
  evaluate = jax.jit(m.evaluate)
  ev = evaluate(state.params, {"image": image, "mask": mask}, rng)
  x, z_prior = ae.prepare(m.preprocessing, m.prior, image, rng)
  z = m.encode(state.params, x)
  want = divergences.mmd_unbiased(z[:16], z_prior[:16],
                                  wae.make_kernel("imq", m.prior.sigma2))
  chex.assert_shape(ev["mmd"], ())
  np.testing.assert_allclose(ev["mmd"], want, rtol=1e-4, atol=1e-6)
  unmasked = evaluate(state.params, {"image": image}, rng)
  assert abs(float(unmasked["mmd"]) - float(want)) > 1e-3
  for k, v in ev.items():
    if k != "mmd":
      chex.assert_shape(v, (256,))
      np.testing.assert_array_equal(v, unmasked[k])


def test_init_state_gives_each_player_its_optimiser():
  _, state = _model("aae")
  assert set(state.params) == {"encoder", "decoder", "discriminator"}
  assert set(state.opt_state) == {"autoencoder", "discriminator", "generator"}
  assert set(state.opt_state["generator"][0].mu) == set(state.params["encoder"])
  assert set(state.opt_state["autoencoder"][0].mu) == {"encoder", "decoder"}
  assert set(_model("wae")[1].opt_state) == {"autoencoder"}


def test_check_model_config_is_table_driven():
  c = helpers.smoke_config("wae.py")
  ae.check_model_config(c.model, {"kernel": wae.KERNELS}, ("hidden",))
  c.model.hidden = (16, 0)
  with pytest.raises(ValueError, match=r"model.hidden needs >= 1 layer"):
    ae.check_model_config(c.model, {}, ("hidden",))
  c.model.rbf_bandwidth = "median"
  with pytest.raises(ValueError, match="model.rbf_bandwidth must be one of"):
    ae.check_model_config(c.model, {"rbf_bandwidth": ("fixed",)}, ())
  del c.model["rbf_bandwidth"]       # a missing field takes its default
  ae.check_model_config(c.model, {"rbf_bandwidth": ("fixed",)}, (),
                        defaults={"rbf_bandwidth": "fixed"})


# ------------------------------------------------------ input checks -------
# Built for (4, 4, 1) images and 8-D codes; every case fails before compute.

SMALL = (4, 4, 1)


@functools.lru_cache(maxsize=None)
def _small(name):
  module, spec = MODELS[name]
  return module.make(helpers.smoke_config(spec), {"shape": SMALL})


_aae, _wae = functools.partial(_small, "aae"), functools.partial(_small, "wae")


# (id, call, substrings the message must contain)
CASES = [
    # ------------------------------------------------------------ aae
    ("aae", lambda: _aae().evaluate({}, {"image": u8(2, 5, 5, 1)}, KEY),
     ["aae.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 5, 5, 1)"]),
    ("aae", lambda: _aae().train_step(None, {"x": f(2, 2)}, KEY),
     ["aae.train_step", "key 'image'", "['x']"]),
    ("aae", lambda: _aae().init(KEY, {"image": u8(2, 16)}),
     ["aae.init", "batch['image']", "(2, 16)"]),
    ("aae", lambda: _aae().images(
        {}, {"image": jnp.zeros((2, 4, 4, 1), bool)}, KEY),
     ["aae.images", "batch['image']", "numeric", "bool"]),
    ("aae", lambda: _aae().encode({}, f(2, 16)),
     ["autoencoder.encode", "`x`", "[B, 4, 4, 1]", "(2, 16)"]),
    ("aae", lambda: _aae().decode_mean({}, f(2, 3)),
     ["autoencoder.decode_mean", "`z`", "[B, 8]", "(2, 3)"]),
    ("aae", lambda: _aae().critic({}, i(2, 8)),
     ["autoencoder.critic", "`z`", "floating", "int32"]),
    ("aae", lambda: _aae().discriminator_loss({}, f(4, 8), f(3, 8)),
     ["autoencoder.discriminator_loss", "batch size", "`z_codes` (3, 8)"]),
    ("aae", lambda: _aae().generator_loss({}, f(4)),
     ["autoencoder.generator_loss", "`z_codes`", "rank 2", "(4,)"]),
    ("aae", lambda: _aae().reconstruction_loss({}, i(2, 4, 4, 1)),
     ["autoencoder.reconstruction_loss", "`x`", "floating", "int32"]),
    ("aae", lambda: _aae().sample({}, KEY, 0),
     ["autoencoder.sample", "`n`", "0"]),
    ("aae", lambda: _aae().sample_prior(KEY, -1),
     ["latent_priors.gaussian.sample", "`n`", "-1"]),
    # ------------------------------------------------------------ wae
    ("wae", lambda: _wae().evaluate_final({}, {"image": u8(2, 4, 4, 3)},
                                          KEY),
     ["wae.evaluate", "batch['image']", "(*, 4, 4, 1)", "(2, 4, 4, 3)"]),
    ("wae", lambda: _wae().train_step(None, {"image": u8(2, 4, 4)}, KEY),
     ["wae.train_step", "batch['image']", "(2, 4, 4)"]),
    ("wae", lambda: _wae().cost({}, i(2, 4, 4, 1)),
     ["autoencoder.reconstruction_loss", "`x`", "floating", "int32"]),
    ("wae", lambda: _wae().mmd(f(4, 8), f(4, 2)),
     ["wae.mmd_penalty", "`z_prior` (4, 2)", "code dimension"]),
    ("wae", lambda: _wae().mmd(i(4, 8), f(4, 8)),
     ["wae.mmd_penalty", "`z_codes`", "floating", "int32"]),
    ("wae", lambda: _wae().sample({}, KEY, 1.5),
     ["autoencoder.sample", "`n`", "float", "1.5"]),
    ("wae", lambda: wae.median_rbf_mmd_penalty(f(4, 8), f(4)),
     ["wae.median_rbf_mmd_penalty", "`z_prior`", "rank 2", "(4,)"]),
]


@pytest.mark.parametrize("call, expected",
                         [pytest.param(c, e, id=f"{name}-{k}")
                          for k, (name, c, e) in enumerate(CASES)])
def test_invalid_input_raises_naming_function_argument_and_input(call,
                                                                 expected):
  assert_raises_naming(call, expected)


def test_evaluation_accepts_the_evaluators_mask_key():
  m, state = _model("wae")
  ev = m.evaluate(state.params, {"image": _images(4), "mask": jnp.ones(4),
                                 "label": jnp.zeros(4, jnp.int32)}, KEY)
  assert math.isfinite(float(ev["mmd"]))

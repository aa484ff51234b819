"""Mixed precision (train.compute_dtype='bfloat16'): the networks compute in
bfloat16, the parameters, optimizer state and losses stay float32, and the
loss and gradient agree with float32 to bfloat16's precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import gan as gan_configs
from gdm_jax import models
from gdm_jax.core import precision
from gdm_jax.train import loop
from gdm_jax.train import options
from tests import helpers as h


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  h.patch_data_cache(monkeypatch)


def _vae(dtype):
  config = h.smoke_config("vae.py")
  config.train.compute_dtype = dtype
  dataset = h.cached_load(config.data)
  batch = jax.tree.map(jnp.asarray, dataset.train_batch(0, 32, 0, 0, 1))
  return models.make(config, dataset.info), batch


def test_bfloat16_vae_step_keeps_float32_parameters_and_matches():
  f32, batch = _vae("float32")
  bf16, _ = _vae("bfloat16")
  state = f32.init(jax.random.PRNGKey(0), batch)
  rng = jax.random.PRNGKey(1)
  new32, m32 = jax.jit(f32.train_step)(state, batch, rng)
  new16, m16 = jax.jit(bf16.train_step)(state, batch, rng)
  for leaf in jax.tree.leaves((new16.params, new16.opt_state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  for k in ("loss", "elbo", "kl", "reconstruction"):
    assert m16[k].dtype == jnp.float32
  assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=2e-2)
  # Adam's first update is ~lr * sign(g): the updates agree in direction.
  u32 = jax.tree.leaves(jax.tree.map(jnp.subtract, new32.params, state.params))
  u16 = jax.tree.leaves(jax.tree.map(jnp.subtract, new16.params, state.params))
  a, b = (jnp.concatenate([x.ravel() for x in u]) for u in (u32, u16))
  assert float(a @ b / jnp.linalg.norm(a) / jnp.linalg.norm(b)) > 0.9


def test_bfloat16_dots_in_the_compiled_step():
  """The matmuls of the bf16 step take bf16 operands; float32's do not."""
  def dot_dtypes(model, batch):
    state = model.init(jax.random.PRNGKey(0), batch)
    text = jax.jit(model.train_step).lower(state, batch,
                                           jax.random.PRNGKey(1)).as_text()
    return [line for line in text.splitlines() if "dot_general" in line]
  f32, batch = _vae("float32")
  bf16, _ = _vae("bfloat16")
  assert not any("bf16" in l for l in dot_dtypes(f32, batch))
  dots = dot_dtypes(bf16, batch)
  assert dots and all("bf16" in l for l in dots)


def test_apply_in_and_cast_floating():
  tree = {"w": jnp.ones((2,), jnp.float32), "i": jnp.arange(3), "s": "name"}
  cast = precision.cast_floating(tree, jnp.bfloat16)
  assert cast["w"].dtype == jnp.bfloat16 and cast["i"].dtype == tree["i"].dtype
  assert cast["s"] == "name"
  fn = lambda p, x: {"y": p["w"] * x, "dtype_in": jnp.zeros((), x.dtype)}
  out = precision.apply_in(jnp.bfloat16, fn, tree, jnp.full((2,), 1.5))
  assert out["y"].dtype == jnp.float32 and out["dtype_in"].dtype == jnp.float32
  assert precision.apply_in(jnp.float32, fn, tree, jnp.ones(2))["y"].dtype == jnp.float32


@pytest.mark.parametrize("dtype,match", [
    ("float16", "float16 needs loss scaling"),
    ("int8", "must be one of"),
])
def test_compute_dtype_errors(dtype, match):
  config = h.smoke_config("vae.py")
  config.train.compute_dtype = dtype
  with pytest.raises(ValueError, match=match):
    precision.compute_dtype(config)


@pytest.mark.parametrize("config_name", ["realnvp", "avb"])
def test_trainer_refuses_bfloat16_for_families_that_do_not_declare_it(config_name):
  """The family's Model declares `supports_bfloat16`; the trainer refuses
  bfloat16 for the others instead of silently computing in float32."""
  config = h.smoke_config(f"{config_name}.py")
  config.train.compute_dtype = "bfloat16"
  dataset = h.cached_load(config.data)
  assert not models.make(config, dataset.info).supports_bfloat16
  with pytest.raises(ValueError, match="not supported by the"):
    loop.make_model(config, dataset.info)
  config.train.compute_dtype = "float32"
  model, family = loop.make_model(config, dataset.info)
  assert model is family


def test_cli_adds_trainer_options_to_every_config():
  """--config.train.num_seeds / steps_per_dispatch / compute_dtype exist for
  configs whose files do not set them; a misspelt field stays an error."""
  config = options.with_trainer_defaults(h.smoke_config("gan.py"))
  for section, fields in options.TRAINER_DEFAULTS.items():
    for field in fields:
      assert field in config[section]
  config.lock()
  with pytest.raises((AttributeError, KeyError)):
    config.train.num_seed = 2


def _smoke_steps(config_name):
  """{dtype: ((new state, metrics), compiled step's HLO text)} of one step of
  experiments/configs/<config_name>.py shrunk by `h.smoke_config`, in float32
  and in bfloat16, from the same state, batch and key."""
  out = {}
  for dtype in ("float32", "bfloat16"):
    config = h.smoke_config(f"{config_name}.py")
    config.train.compute_dtype = dtype
    # Small batches: bfloat16 is emulated (slowly) on the CPU.
    config.train.batch_size = 2 * gan_configs.minibatches(config) if (
        config.model.name == "gan") else 4
    dataset = h.cached_load(config.data)
    model = models.make(config, dataset.info)
    batch = jax.tree.map(jnp.asarray, dataset.train_batch(
        0, config.train.batch_size, 0, 0, 1))
    state = model.init(jax.random.PRNGKey(0), batch)
    step = jax.jit(model.train_step)
    text = step.lower(state, batch, jax.random.PRNGKey(1)).as_text()
    out[dtype] = (step(state, batch, jax.random.PRNGKey(1)), text)
  return out


@pytest.mark.parametrize("config_name", ["gan", "dcgan"])
def test_bfloat16_gan_step(config_name):
  """Both players' networks in bf16 (DCGAN: batch statistics too); all
  parameters, batch statistics and optimizer states stay float32."""
  runs = {k: v[0] for k, v in _smoke_steps(config_name).items()}
  new16, m16 = runs["bfloat16"]
  _, m32 = runs["float32"]
  for leaf in jax.tree.leaves((new16.params, new16.opt_state, new16.extra)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  for k, v in m16.items():
    assert np.isfinite(float(v)), k
  for k in ("d_loss", "g_loss"):
    if k in m32:
      assert float(m16[k]) == pytest.approx(float(m32[k]), rel=5e-2, abs=5e-2)


def test_bfloat16_pixelcnn_step_keeps_float32_and_matches():
  """The PixelCNN's convolutions in bf16, its logits, log-softmax, loss,
  parameters and Adam state in float32; the NLL within bf16's precision."""
  steps = _smoke_steps("pixelcnn")
  runs = {k: v[0] for k, v in steps.items()}
  convs = {k: [l for l in v[1].splitlines() if "convolution" in l]
           for k, v in steps.items()}
  assert convs["float32"] and not any("bf16" in l for l in convs["float32"])
  assert convs["bfloat16"] and all("bf16" in l for l in convs["bfloat16"])
  new16, m16 = runs["bfloat16"]
  _, m32 = runs["float32"]
  for leaf in jax.tree.leaves((new16.params, new16.opt_state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  assert m16["loss"].dtype == jnp.float32
  assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=2e-2)

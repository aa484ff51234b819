"""The `paper` recipes of the config files (sized for a GPU/TPU): at full
size each builds, initialises and traces its train step on Fashion-MNIST
shapes (no XLA compilation of the full network: `jax.eval_shape` and
`lower`); a copy with narrower networks, but the recipe's depth, objective,
optimiser and batch structure, trains 40 steps on the CPU with a falling
loss."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import models
from tests import helpers

# Per recipe: the narrower copy's fields (depth kept) and the training metric
# that must fall (a GAN's critic loss falls as the critic learns).
NARROW_GAN = {"model.generator_channels": (16, 8),
              "model.discriminator_channels": (8, 16, 32)}
RECIPES = {
    "dcgan.py:paper": (NARROW_GAN, "d_loss"),
    "wgan.py:paper": (NARROW_GAN, "d_loss"),
    "wgan_gp.py:paper": (NARROW_GAN, "d_loss"),
    "realnvp.py:paper": ({"model.hidden": 8, "model.num_blocks": 2}, "loss"),
    "glow.py:paper": ({"model.hidden": 16, "model.num_steps": 2}, "loss"),
    "pixelcnn.py:paper": ({"model.num_layers": 4, "model.channels": 16},
                          "loss"),
    "pixelcnn.py:pp_paper": ({"model.num_layers": 4, "model.channels": 16},
                             "loss"),
}
STEPS = 40
METRIC = {spec: metric for spec, (_, metric) in RECIPES.items()}


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  helpers.patch_data_cache(monkeypatch)


@pytest.mark.parametrize("spec", sorted(RECIPES))
def test_full_size_recipe_builds_and_traces(spec):
  config = helpers.production_config(spec)
  dataset = helpers.cached_load(config.data)
  model = models.make(config, dataset.info)
  batch = jax.tree.map(jnp.asarray, dataset.train_batch(
      0, helpers.batch_of_minibatches(config, 2), 0, 0, 1))
  key = jax.random.PRNGKey(0)
  state = jax.eval_shape(model.init, key, batch)
  num_params = sum(np.prod(x.shape) for x in jax.tree.leaves(state.params))
  assert num_params > 1e6, (spec, num_params)   # paper-sized networks
  new_state, metrics = jax.eval_shape(model.train_step, state, batch, key)
  chex.assert_trees_all_equal_shapes_and_dtypes(new_state.params, state.params)
  assert metrics[METRIC[spec]].shape == ()
  jax.jit(model.train_step).lower(state, batch, key)   # lowers to StableHLO


@pytest.mark.parametrize("spec", sorted(RECIPES))
def test_narrow_copy_trains_with_a_falling_loss(spec, tmp_path):
  narrow, metric = RECIPES[spec]
  config = helpers.production_config(spec)
  fields = narrow | {
      "train.batch_size": helpers.batch_of_minibatches(config, 16),
      "train.num_steps": STEPS, "train.log_every": 4,
      "train.eval_every": STEPS, "train.checkpoint_every": STEPS,
      "train.eval_batch_size": 100, "train.eval_examples": 100,
      "train.final_eval_examples": 100, "train.final_eval_batch_size": 100,
      "eval.sample_metrics": False}
  for chain in helpers.optimizer_chains(config).values():
    if "warmup_steps" in chain:
      chain.warmup_steps = min(chain.warmup_steps, 5)
  config.update_from_flattened_dict(fields)
  done = helpers.run_in_process(config, tmp_path, spec)
  assert done.returncode == 0, helpers.describe(done)
  records = helpers.train_records(helpers.read_metrics(tmp_path))
  values = [records[s][metric] for s in sorted(records)]
  assert np.all(np.isfinite(values)), values
  first, last = np.mean(values[:2]), np.mean(values[-3:])
  assert last < first, (spec, metric, values)

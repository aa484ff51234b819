"""The evaluator's split averages under a padded last batch (issue 14 §1):
per-example metrics see only real rows, and batch-level metrics see the
mask in the batch, so a split that does not divide into batches gives the
same numbers as one that does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.core import sharding
from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.eval import evaluator
from gdm_jax.models import base
from tests.helpers import f
from tests.helpers import invalid_input_test

N = 23   # examples; batches of 8 leave a last batch of 7 copies of row 22


@pytest.fixture(scope="module")
def dataset():
  x = np.random.default_rng(0).normal(size=(N, 3)).astype(np.float32)
  return ArrayDataset({"test": {"x": x}}, {"name": "rows", "kind": "toy"})


def _weighted_mean_norm(params, batch, rng):
  """A batch-level metric: the mask-weighted mean of ‖x‖² over the batch
  (a scalar), next to the per-example ‖x‖² [B]."""
  del params, rng
  sq = jnp.sum(batch["x"] ** 2, -1)
  w = base.eval_mask(batch, sq.shape[0])
  return {"per_example": sq, "batch_level": jnp.sum(w * sq) / jnp.sum(w)}


@pytest.mark.parametrize("batch_size", [8, 23, 1])
def test_padded_last_batch_is_invisible(dataset, batch_size):
  mesh = sharding.make_mesh(jax.devices()[:1])
  fn = evaluator.make_eval_fn(_weighted_mean_norm, mesh)
  out = evaluator.evaluate_split(fn, None, dataset, "test", batch_size,
                                 jax.random.key(0), mesh)
  want = float(np.mean(np.sum(dataset.splits["test"]["x"] ** 2, -1)))
  np.testing.assert_allclose(out["per_example"], want, rtol=1e-5)
  # Each batch's weighted mean, weighted by its real rows, is the split mean.
  np.testing.assert_allclose(out["batch_level"], want, rtol=1e-5)


def test_batch_level_metric_without_the_mask_would_see_the_padding(dataset):
  """The same metric ignoring the mask is skewed by the 7 copies of the last
  row: the test above can fail."""
  def unmasked(params, batch, rng):
    del params, rng
    return {"batch_level": jnp.mean(jnp.sum(batch["x"] ** 2, -1))}
  mesh = sharding.make_mesh(jax.devices()[:1])
  out = evaluator.evaluate_split(evaluator.make_eval_fn(unmasked, mesh), None,
                                 dataset, "test", 8, jax.random.key(0), mesh)
  want = float(np.mean(np.sum(dataset.splits["test"]["x"] ** 2, -1)))
  assert abs(out["batch_level"] - want) > 1e-3


def test_eval_mask_defaults_to_ones_without_a_mask():
  np.testing.assert_array_equal(base.eval_mask({"x": jnp.zeros((4, 2))}, 4),
                                np.ones(4, np.float32))
  mask = jnp.array([1.0, 1.0, 0.0])
  np.testing.assert_array_equal(base.eval_mask({"mask": mask}, 3), mask)


KEY = jax.random.key(0)
INVALID = [
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
]
test_invalid_inputs = invalid_input_test(INVALID)

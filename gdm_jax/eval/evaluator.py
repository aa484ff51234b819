"""Data-set averages of a model's per-example metrics.

A model's `evaluate` / `evaluate_final` returns {name: float [B] or []}; this
module runs it over every example of a split exactly once and returns the
means. The last batch is padded (its final example repeated) to the static
batch size; the padding is masked:
  - per-example metrics [B] are summed over the real rows only;
  - the model sees batch['mask'] (float32 [B], 1 = real row, 0 = padding),
    so a metric computed over the whole batch (an MMD, an energy distance)
    can weight its rows and return a scalar; a scalar counts once per real
    row, so the split's value is the mean of the batches' values weighted
    by their numbers of real rows.
Batch i uses the key fold_in(key, i), so results do not depend on the device
count or on anything before the call.
"""

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gdm_jax import checks
from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.core import sharding


def make_eval_fn(fn: Callable, mesh) -> Callable:
  """jit of `fn(params, batch, rng) -> {name: [B] or []}` returning the
  masked sums {name: scalar} on device (no host transfer per batch); `fn`
  sees batch['mask'] (module docstring).

  Raises:
    ValueError: fn is not callable; (at trace time) fn returns something
      other than a dict of numeric [B] arrays (or scalars), B = the mask's
      length.
  """
  if not callable(fn):
    raise ValueError(f"evaluator.make_eval_fn: `fn` must be callable; got "
                     f"{type(fn).__name__}.")
  repl, shard = sharding.replicated(mesh), sharding.batch_sharded(mesh)

  def summed(params, batch, mask, rng):
    out = fn(params, {**batch, "mask": mask}, rng)
    if not isinstance(out, dict):
      raise ValueError(f"evaluator.make_eval_fn: `fn` must return a dict "
                       f"{{name: [B]}}; got {type(out).__name__}.")
    for name, value in out.items():
      checks.check_array("evaluator.make_eval_fn", f"fn(...)['{name}']",
                         value, dtype="numeric")
      if checks.shape_of(value) not in (mask.shape, ()):
        raise ValueError(f"evaluator.make_eval_fn: `fn(...)['{name}']` must "
                         f"be [B] = {mask.shape} (one value per example) or "
                         f"a scalar; got shape {checks.shape_of(value)}.")
    return {k: jnp.sum(v * mask) for k, v in out.items()}

  return jax.jit(summed, in_shardings=(repl, shard, shard, repl),
                 out_shardings=repl)


def evaluate_split(eval_fn: Callable, params, dataset: ArrayDataset, split: str,
                   batch_size: int, rng: jax.Array, mesh,
                   limit: int | None = None, log_every_seconds: float = 30.0
                   ) -> dict[str, float]:
  """Means of per-example metrics over `split` (first `limit` examples).

  Args:
    eval_fn: from `make_eval_fn`.
    params: replicated parameters.
    dataset, split: what to evaluate on.
    batch_size: global eval batch size.
    rng: evaluation key; batch i uses fold_in(rng, i).
    mesh: the device mesh.
    limit: evaluate only the first `limit` examples (None = all).
    log_every_seconds: progress line interval for long evaluations.

  Returns:
    {name: float} averaged over the real (unpadded) examples.

  Raises:
    ValueError: batch_size not a positive int, limit neither None nor a
      positive int, or a batch size the mesh cannot split.
  """
  checks.check_positive_int("evaluator.evaluate_split", "batch_size",
                            batch_size)
  if limit is not None and limit != 0:
    checks.check_positive_int("evaluator.evaluate_split", "limit", limit)
  sharding.check_batch_size(batch_size, mesh, "eval batch size")
  totals = None
  t0 = last = time.perf_counter()
  n = dataset.num_examples(split) if not limit else min(limit, dataset.num_examples(split))
  num_batches = -(-n // batch_size)
  for i, (batch, mask) in enumerate(dataset.eval_batches(
      split, batch_size, jax.process_index(), jax.process_count(), limit)):
    gbatch = sharding.global_batch(batch, mesh)
    gmask = sharding.global_batch({"m": mask}, mesh)["m"]
    sums = eval_fn(params, gbatch, gmask, jax.random.fold_in(rng, i))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    now = time.perf_counter()
    if now - last > log_every_seconds and jax.process_index() == 0:
      jax.block_until_ready(totals)
      last = time.perf_counter()
      done = i + 1
      logging.info("evaluating %s: batch %d/%d, %.0fs elapsed, ETA %.0fs", split,
                   done, num_batches, last - t0, (last - t0) / done * (num_batches - done))
  totals = jax.device_get(totals)
  return {k: float(np.asarray(v)) / n for k, v in totals.items()}

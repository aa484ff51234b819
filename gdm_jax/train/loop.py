"""The generic sharded train loop, for every model of the interface.

train_and_evaluate(config, workdir):
  1. loads the data and builds the model named by the config;
  2. initialises the TrainState, or restores the newest checkpoint in
     WORKDIR/checkpoints (params, optimizer state, step, RNG; the data
     position follows from the step), so a restarted run resumes exactly;
  3. runs the jit-compiled step over a device Mesh (batch sharded on 'data',
     state replicated and donated), step t using fold_in(state.rng, t);
  4. logs train metrics, evaluates on validation (writing PNG grids), and
     checkpoints at the configured intervals;
  5. stops with NonFiniteError, naming the step and metric, as soon as a
     non-finite metric is seen; no checkpoint is written after it, so the
     last good one stays the newest;
  6. evaluates the final metrics on the test split and writes
     WORKDIR/final_metrics.json: {"metrics": {...}, "protocol": {...}};
  7. scores the model's samples when `config.eval.sample_metrics` is set
     (classifier FID/KID/IS/precision/recall on image sets, mode coverage
     and W1 on toy sets; gdm_jax.eval.generated), also at every evaluation
     with `config.eval.periodic_num_samples` > 0, and draws the loss curves
     (WORKDIR/curves.png).

`config.train.steps_per_dispatch` (optional, default 1) runs that many
steps in one compiled call (`lax.scan` over stacked batches) for small
models whose steps are shorter than the dispatch overhead; the result is the
same as one step per call, and the logging, evaluation and checkpoint
intervals must be multiples of it.

`config.train.num_seeds` (optional, default 1) trains that many seeds at
once (gdm_jax/train/multi_seed.py: vmap over keys, shared data order); every
final metric is then reported as the mean over seeds, its standard deviation
('NAME_std') and each seed's value ('NAME/seedS').

`config.train.compute_dtype` (optional, 'float32' or 'bfloat16') runs the
networks of the families that support it in bfloat16 with float32
parameters (gdm_jax/core/precision.py).

The optional `config.eval` section (absent = no sample metrics):
  sample_metrics (bool), num_samples (N at the final evaluation),
  periodic_num_samples (0 = off), reference_split (final; periodic ones use
  'validation').
"""

import json
import math
import os
import signal
import threading
import time
from typing import Any, NamedTuple

import jax
import numpy as np
from absl import logging

from gdm_jax import data as data_lib
from gdm_jax import models
from gdm_jax.eval import evaluator
from gdm_jax.eval import generated
from gdm_jax.train import multi_seed
from gdm_jax.core import precision
from gdm_jax.core import sharding
from gdm_jax.train.checkpoint import CheckpointError
from gdm_jax.train.checkpoint import Checkpointer
from gdm_jax.train.logging import MetricWriter
from gdm_jax.train.logging import Progress


class NonFiniteError(RuntimeError):
  """A train metric became NaN or infinite."""


def validate_config(config) -> None:
  """Checks the trainer's own settings; raises ValueError naming the field."""
  t = config.train
  for field in ("batch_size", "num_steps", "log_every", "eval_every",
                "checkpoint_every", "keep_checkpoints", "eval_batch_size",
                "final_eval_batch_size"):
    value = t[field]
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"train.{field} must be a positive integer; got {value!r}.")
  for field in ("eval_examples", "final_eval_examples"):
    if t[field] < 0:
      raise ValueError(f"train.{field} must be >= 0 (0 = all); got {t[field]}.")
  if t.final_eval_split not in ("train", "validation", "test"):
    raise ValueError("train.final_eval_split must be train, validation or "
                     f"test; got '{t.final_eval_split}'.")
  k = t.get("steps_per_dispatch", 1)
  if not isinstance(k, int) or k < 1:
    raise ValueError(f"train.steps_per_dispatch must be a positive integer; got {k!r}.")
  for field in ("num_steps", "log_every", "eval_every", "checkpoint_every"):
    if t[field] % k:
      raise ValueError(f"train.{field} ({t[field]}) must be a multiple of "
                       f"train.steps_per_dispatch ({k}).")
  s = t.get("num_seeds", 1)
  if not isinstance(s, int) or s < 1:
    raise ValueError(f"train.num_seeds must be a positive integer; got {s!r}.")
  precision.compute_dtype(config)  # Raises for an unknown or unsupported dtype.
  e = eval_settings(config)
  if not isinstance(e["sample_metrics"], bool):
    raise ValueError("eval.sample_metrics must be True or False; got "
                     f"{e['sample_metrics']!r}.")
  for field in ("num_samples", "periodic_num_samples"):
    if not isinstance(e[field], int) or e[field] < 0:
      raise ValueError(f"eval.{field} must be an integer >= 0; got {e[field]!r}.")
  if e["sample_metrics"] and e["num_samples"] < 1:
    raise ValueError("eval.num_samples must be >= 1 when eval.sample_metrics "
                     "is True.")
  if e["reference_split"] not in ("train", "validation", "test"):
    raise ValueError("eval.reference_split must be train, validation or test; "
                     f"got '{e['reference_split']}'.")


def eval_settings(config) -> dict:
  """`config.eval` with defaults (sample metrics off when it is absent)."""
  e = config.get("eval") or {}
  return {"sample_metrics": e.get("sample_metrics", False),
          "num_samples": e.get("num_samples", 10000),
          "periodic_num_samples": e.get("periodic_num_samples", 0),
          "reference_split": e.get("reference_split", "test")}


def make_model(config, dataset_info: dict):
  """The model of `config`, wrapped to train `train.num_seeds` seeds at once
  when that is > 1 (multi_seed.vmap_seeds)."""
  model = models.make(config, dataset_info)
  num_seeds = config.train.get("num_seeds", 1)
  return multi_seed.vmap_seeds(model, num_seeds) if num_seeds > 1 else model


def _check_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test_{os.getpid()}")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(f"workdir {workdir} is not writable: {e.strerror}.") from e


class _PreemptionNotice:
  """SIGTERM sets a flag that the loop reads at the next step boundary.

  Installed only in single-process runs on the main thread; multi-process
  runs use JAX's preemption sync point instead (orbax's
  `reached_preemption`), which makes every process stop at the same step.
  """

  def __init__(self):
    self.signal = None
    self._previous = None

  def __enter__(self):
    if (jax.process_count() == 1
        and threading.current_thread() is threading.main_thread()):
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.signal = signum
    logging.warning("received SIGTERM: saving a checkpoint at the next step "
                    "boundary, then stopping.")

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
    return False


def _first_non_finite(pending: list) -> tuple[int, str, float] | None:
  """The first (step, metric, value) among pending device metrics that is
  not finite, or None. Transfers the pending metrics to the host.

  `pending` holds (last step, metrics) per dispatch; with several steps per
  dispatch each metric is a [steps] array ending at that step."""
  for last_step, metrics in pending:
    host = {k: np.atleast_1d(np.asarray(v)) for k, v in jax.device_get(metrics).items()}
    num = len(next(iter(host.values())))
    for i in range(num):
      for name, values in sorted(host.items()):
        if not math.isfinite(float(values[i])):
          return last_step - num + 1 + i, name, float(values[i])
  return None


def _mean_metrics(pending: list) -> dict[str, float]:
  host = jax.device_get([m for _, m in pending])
  return {k: float(np.mean(np.concatenate([np.atleast_1d(h[k]) for h in host])))
          for k in host[0]}


def _write_pictures(writer, step, model, params, dataset, p_images, p_sample,
                    rng, toy):
  """The model's images at an evaluation; for toy data, a scatter figure."""
  if toy:
    writer.write_images(step, {"samples": generated.toy_figure(
        model, p_sample, params, dataset, rng)})
    return
  first = next(dataset.eval_batches("validation", 32))[0]
  writer.write_images(step, jax.device_get(p_images(params, first, rng)))


def _periodic_sample_metrics(writer, step, p_sample, params, dataset,
                             num_samples, rng) -> None:
  """Sample metrics against the validation split at an evaluation; a
  failure (e.g. NaN samples) is logged and training goes on."""
  try:
    scores, _ = generated.evaluate_generated(p_sample, params, dataset,
                                             num_samples, rng, "validation")
  except ValueError as e:
    logging.error("sample metrics at step %d failed: %s", step, e)
    return
  writer.write_scalars(step, "samples", scores)
  logging.info("sample metrics at step %d (%d samples vs validation): %s",
               step, num_samples,
               " ".join(f"{k}={v:.4g}" for k, v in sorted(scores.items())))


def _write_curves(workdir: str) -> None:
  """WORKDIR/curves.png from metrics.jsonl; a plotting failure only warns."""
  try:
    from gdm_jax.eval import plots  # pylint: disable=g-import-not-at-top
    plots.plot_curves(os.path.join(workdir, "metrics.jsonl"),
                      os.path.join(workdir, "curves.png"))
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("could not draw the loss curves: %s", e)


def train_and_evaluate(config, workdir: str, *,
                       stop_at_step: int | None = None) -> dict:
  """Trains `config` in `workdir`, resuming from its newest checkpoint.

  Args:
    config: experiment ConfigDict (see experiments/configs/).
    workdir: output folder: checkpoints/, metrics.jsonl, tensorboard/,
      images/, final_metrics.json.
    stop_at_step: stop after this step (and its checkpoint), as a preempted
      job would; the final evaluation is then skipped. For tests and for
      splitting a run into pieces.

  A SIGTERM (preemption) is handled at the next step boundary: the state
  of that step is checkpointed and the call returns {"preempted_at": step};
  calling again in the same workdir resumes exactly.

  Returns:
    {"metrics": {...}, "protocol": {...}} as written to final_metrics.json,
    plus "train_step_compilations" (1 when nothing recompiled) when this
    call trained to the end; when stopped early, {"stopped_at": step} or
    {"preempted_at": step}.

  Raises:
    ValueError: an invalid config value or unwritable workdir.
    DataError: the data set is missing or corrupt.
    NonFiniteError: a train metric became NaN/inf.
    CheckpointError: the workdir has checkpoints but none restores, or a
      checkpoint could not be written.
  """
  validate_config(config)
  _check_workdir(workdir)
  t = config.train
  if stop_at_step is not None and stop_at_step % t.get("steps_per_dispatch", 1):
    raise ValueError(f"stop_at_step ({stop_at_step}) must be a multiple of "
                     "train.steps_per_dispatch.")
  mesh = sharding.make_mesh()
  for field in ("batch_size", "eval_batch_size", "final_eval_batch_size"):
    sharding.check_batch_size(t[field], mesh, f"train.{field}")
  dataset = data_lib.load(config.data)
  model = make_model(config, dataset.info)
  dataset.steps_per_epoch(t.batch_size)  # Raises if the batch is too large.
  repl, shard = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  pid, nproc = jax.process_index(), jax.process_count()

  root = jax.random.PRNGKey(config.seed)
  init_rng, eval_rng, image_rng, final_rng = jax.random.split(root, 4)
  data_seed = int(config.seed)

  def local_batch(step):
    return dataset.train_batch(step, t.batch_size, data_seed, pid, nproc)

  example = sharding.global_batch(local_batch(0), mesh)
  state = jax.jit(model.init, out_shardings=repl)(init_rng, example)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), t.keep_checkpoints)
  restored, restored_step, skipped = ckpt.restore_newest_good(state)
  if restored is not None:
    state = restored
    logging.info("resumed from the checkpoint of step %d in %s%s",
                 restored_step, ckpt.directory,
                 f" (skipped unreadable newer checkpoints {[s for s, _ in skipped]})"
                 if skipped else "")
  start = int(jax.device_get(state.step))
  final_path = os.path.join(workdir, "final_metrics.json")
  if start >= t.num_steps and os.path.exists(final_path):
    ckpt.close()
    with open(final_path) as f:
      result = json.load(f)
    logging.info("run already finished at step %d; final metrics from %s: %s",
                 start, final_path, json.dumps(result["metrics"]))
    return result
  param_count = sum(x.size for x in jax.tree.leaves(state.params))
  logging.info("model %s, %d parameters, %d devices (%s), %d processes, "
               "steps %d..%d", config.model.name, param_count,
               mesh.devices.size, jax.default_backend(), nproc, start,
               t.num_steps)

  def step_fn(state, batch):
    return model.train_step(state, batch, jax.random.fold_in(state.rng, state.step))

  per_dispatch = t.get("steps_per_dispatch", 1)
  if per_dispatch == 1:
    p_step = jax.jit(step_fn, in_shardings=(repl, shard),
                     out_shardings=(repl, repl), donate_argnums=0)

    def dispatch_batch(step):
      return sharding.global_batch(local_batch(step), mesh)
  else:
    # Several steps per dispatch: a scan over a [steps, B, ...] batch, for
    # small models whose steps are shorter than the dispatch overhead.
    p_step = jax.jit(lambda state, batches: jax.lax.scan(step_fn, state, batches),
                     in_shardings=(repl, sharding.stacked_batch_sharded(mesh)),
                     out_shardings=(repl, repl), donate_argnums=0)

    def dispatch_batch(step):
      batches = [local_batch(step + i) for i in range(per_dispatch)]
      return sharding.global_batch(
          {k: np.stack([b[k] for b in batches]) for k in batches[0]}, mesh,
          stacked=True)
  p_eval = evaluator.make_eval_fn(model.evaluate, mesh)
  p_images = jax.jit(model.images, in_shardings=(repl, repl, repl),
                     out_shardings=repl)
  p_sample = jax.jit(model.sample, static_argnums=2)
  sample_cfg = eval_settings(config)
  toy = dataset.info.get("kind") == "toy"
  if sample_cfg["sample_metrics"] and not generated.applies(dataset.info):
    logging.warning("eval.sample_metrics is set but no sample metric is "
                    "defined for data set %s (needs 28x28x1 images or toy "
                    "data): skipped.", config.data.name)
  if pid == 0:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = MetricWriter(workdir)
  progress = Progress(start, t.num_steps)
  block_each_step = sharding.blocks_each_step(mesh)
  pending, last_saved = [], restored_step
  run_t0 = time.perf_counter()  # Wall time of this process's training.

  def check_pending():
    bad = _first_non_finite(pending)
    if bad is not None:
      step, name, value = bad
      kept = (f"the last good checkpoint (step {last_saved}) in "
              f"{ckpt.directory} is untouched" if last_saved is not None
              else "no checkpoint had been written yet")
      raise NonFiniteError(
          f"non-finite train metric '{name}' = {value} at step {step}; "
          f"stopping: {kept}. Lower optimizer.learning_rate or set "
          f"optimizer.grad_clip_norm, then rerun in this workdir to resume.")

  def save(state):
    """Checkpoints `state`; a failed write (full disk, lost mount) stops the
    run with the previous checkpoint intact (orbax commits a step only once
    it is completely written)."""
    try:
      return ckpt.save(state)
    except OSError as e:  # Also a failed asynchronous write of an earlier save.
      raise CheckpointError(
          f"writing a checkpoint failed at step {int(jax.device_get(state.step))} "
          f"({e.strerror or e}); the newest complete one (step {last_saved}) "
          f"in {ckpt.directory} is intact. Free space or fix the folder, "
          "then rerun in this workdir to resume from it.") from e

  with _PreemptionNotice() as notice:
    try:
      for step in range(start, t.num_steps, per_dispatch):
        state, metrics = p_step(state, dispatch_batch(step))
        if block_each_step:
          jax.block_until_ready(metrics)
        done = step + per_dispatch
        pending.append((done, metrics))
        last = done == t.num_steps or done == stop_at_step
        if done % t.log_every == 0 or last:
          check_pending()
          means = _mean_metrics(pending)
          means["wall_time_s"] = time.perf_counter() - run_t0
          writer.write_scalars(done, "train", means)
          progress.log(done, means)
          pending = []
        if done % t.eval_every == 0 or last:
          check_pending()
          val = evaluator.evaluate_split(
              p_eval, state.params, dataset, "validation", t.eval_batch_size,
              eval_rng, mesh, t.eval_examples or None)
          writer.write_scalars(done, "validation",
                               {**val, "wall_time_s": time.perf_counter() - run_t0})
          logging.info("validation at step %d: %s", done,
                       " ".join(f"{k}={v:.4f}" for k, v in sorted(val.items())))
          _write_pictures(writer, done, model, state.params, dataset, p_images,
                          p_sample, jax.random.fold_in(image_rng, done), toy)
          if (sample_cfg["sample_metrics"] and sample_cfg["periodic_num_samples"]
              and generated.applies(dataset.info)):
            _periodic_sample_metrics(writer, done, p_sample, state.params, dataset,
                                     sample_cfg["periodic_num_samples"],
                                     jax.random.fold_in(image_rng, done))
          writer.flush()
        if done % t.checkpoint_every == 0 or last:
          check_pending()
          last_saved = save(state)
        if done == stop_at_step:
          ckpt.close()
          writer.close()
          return {"stopped_at": done}
        if notice.signal is not None or (nproc > 1 and ckpt.reached_preemption(done)):
          check_pending()
          if last_saved != done:
            last_saved = save(state)
          ckpt.close()
          writer.close()
          logging.warning("preempted: stopped after step %d with its checkpoint "
                          "in %s; run again in this workdir to resume.", done,
                          ckpt.directory)
          return {"preempted_at": done}
      check_pending()
    except BaseException:
      ckpt.close()
      writer.close()
      raise
  ckpt.close()

  compilations = p_step._cache_size()  # pylint: disable=protected-access
  if compilations > 1:
    logging.warning("the train step compiled %d times (expected 1)", compilations)
  # The step of the evaluated parameters: a workdir checkpointed beyond
  # num_steps (e.g. rerun with a smaller num_steps) is evaluated as it is.
  trained_steps = int(jax.device_get(state.step))
  if trained_steps != t.num_steps:
    logging.warning("evaluating the parameters of step %d (train.num_steps is "
                    "%d): the workdir's newest checkpoint is beyond it.",
                    trained_steps, t.num_steps)
  split = t.final_eval_split
  logging.info("final evaluation on %s ...", split)
  t0 = time.perf_counter()
  p_final = evaluator.make_eval_fn(model.evaluate_final, mesh)
  final = evaluator.evaluate_split(
      p_final, state.params, dataset, split, t.final_eval_batch_size,
      final_rng, mesh, t.final_eval_examples or None)
  num_seeds = t.get("num_seeds", 1)
  if num_seeds > 1:
    final = multi_seed.seed_statistics(final)
  n = dataset.num_examples(split)
  n = min(n, t.final_eval_examples) if t.final_eval_examples else n
  result = {
      "metrics": {f"{split}/{k}": v for k, v in sorted(final.items())},
      "protocol": {"dataset": config.data.name, "split": split,
                   "num_examples": n, "seed": config.seed,
                   "train_steps": trained_steps, "batch_size": t.batch_size,
                   "compute_dtype": t.get("compute_dtype", "float32"),
                   **model.protocol()},
  }
  if sample_cfg["sample_metrics"] and generated.applies(dataset.info):
    t1 = time.perf_counter()
    ref = sample_cfg["reference_split"]
    logging.info("sample metrics: %d samples against the %s split ...",
                 sample_cfg["num_samples"], ref)
    try:
      if num_seeds == 1:
        scores, sample_protocol = generated.evaluate_generated(
            p_sample, state.params, dataset, sample_cfg["num_samples"],
            jax.random.fold_in(final_rng, 1), ref)
      else:  # Every seed's samples are scored; mean, std and per seed.
        p_inner = jax.jit(model.inner.sample, static_argnums=2)
        scores = {}
        for s in range(num_seeds):
          seed_scores, sample_protocol = generated.evaluate_generated(
              p_inner, multi_seed.seed_params(state.params, s), dataset,
              sample_cfg["num_samples"], jax.random.fold_in(final_rng, 1), ref)
          scores.update({f"{k}/seed{s}": v for k, v in seed_scores.items()})
        scores = multi_seed.seed_statistics(scores)
    except ValueError as e:  # e.g. NaN samples of a diverged generator
      logging.error("sample metrics failed: %s", e)
      result["sample_metrics_error"] = str(e)
    else:
      result["metrics"].update({f"samples/{k}": v for k, v in sorted(scores.items())})
      result["sample_protocol"] = sample_protocol
      logging.info("sample metrics (%.0fs): %s", time.perf_counter() - t1,
                   json.dumps(scores))
  logging.info("final metrics (%.0fs): %s", time.perf_counter() - t0,
               json.dumps(result["metrics"]))
  if pid == 0:
    with open(final_path, "w") as f:
      json.dump(result, f, indent=2)
    writer.write_scalars(trained_steps, split, final)
    if toy:
      writer.write_images(t.num_steps, {"final_samples": generated.toy_figure(
          model, p_sample, state.params, dataset, image_rng, split=split)})
    else:
      writer.write_images(t.num_steps, {"final_samples": jax.device_get(
          p_sample(state.params, image_rng, 100))})
  writer.close()
  if pid == 0:
    _write_curves(workdir)
  return {**result, "train_step_compilations": compilations}


class Run(NamedTuple):
  """A trained run, rebuilt from its workdir (see `load_run`)."""
  config: Any
  dataset: Any
  model: Any
  state: Any
  step: int


def load_run(workdir: str, step: int | None = None) -> Run:
  """Rebuilds a run from WORKDIR/config.json and a checkpoint, for notebooks
  and offline evaluation: `run.model.sample(run.state.params, key, 16)`.

  Args:
    workdir: a workdir written by `train_and_evaluate`.
    step: checkpoint step to restore (default: the newest readable one).

  Returns:
    Run(config, dataset, model, state, step), state on the default device.

  Raises:
    FileNotFoundError: no config.json (runs from before it was written:
      pass the config to `train_and_evaluate` instead) or no checkpoint.
    CheckpointError: checkpoints exist but none restores.
  """
  import ml_collections  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} does not exist: is {workdir} a workdir "
                            "of experiments.train?")
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  dataset = data_lib.load(config.data)
  model = make_model(config, dataset.info)
  example = dataset.train_batch(0, config.train.batch_size, int(config.seed))
  init_rng = jax.random.split(jax.random.PRNGKey(config.seed), 4)[0]
  like = jax.jit(model.init)(init_rng, example)
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    if step is None:
      state, step, _ = ckpt.restore_newest_good(like)
      if state is None:
        raise FileNotFoundError(f"no checkpoint in {ckpt.directory}.")
    else:
      state = ckpt.restore(like, step)
  finally:
    ckpt.close()
  return Run(config, dataset, model, state, int(step))

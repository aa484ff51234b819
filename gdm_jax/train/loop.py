"""The generic sharded train loop, for every model of the interface.

train_and_evaluate(config, workdir) runs four stages:
  1. `_set_up`: validates the trainer settings (train/options.py), loads the
     data, builds the model named by the config (wrapped to train several
     seeds at once when train.num_seeds > 1, train/multi_seed.py), compiles
     the step over a device Mesh (batch sharded on 'data', state replicated
     and donated; step t uses fold_in(state.rng, t)), and initialises the
     TrainState or restores the newest good checkpoint in
     WORKDIR/checkpoints (params, optimizer state, step, RNG; the data
     position follows from the step), so a restarted run resumes exactly;
  2. `_train`: the step loop; logs train metrics, evaluates on validation
     (PNG grids, periodic sample metrics), checkpoints at the configured
     intervals, and stops with NonFiniteError, naming the step and metric,
     as soon as a non-finite metric is seen (no checkpoint is written after
     it, so the last good one stays the newest); SIGTERM checkpoints and
     returns;
  3. `_final_metrics`: the final metrics on the test split, and the sample
     metrics when `eval.sample_metrics` is set (classifier FID/KID/IS/
     precision/recall on image sets, mode coverage and W1 on toy sets;
     gdm_jax.eval.generated), per seed with several seeds;
  4. `_write_results`: WORKDIR/final_metrics.json {"metrics", "protocol"},
     the final sample grid and the loss curves (WORKDIR/curves.png).

`config.train.steps_per_dispatch` runs that many steps in one compiled call
(`lax.scan` over stacked batches) for small models whose steps are shorter
than the dispatch overhead; the result is the same as one step per call.
Every optional trainer field and its default is in train/options.py.
"""

import dataclasses
import json
import math
import os
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gdm_jax import data as data_lib
from gdm_jax import models
from gdm_jax.core import precision
from gdm_jax.core import sharding
from gdm_jax.eval import evaluator
from gdm_jax.eval import generated
from gdm_jax.models import base
from gdm_jax.train import multi_seed
from gdm_jax.train import options
from gdm_jax.train.checkpoint import CheckpointError
from gdm_jax.train.checkpoint import Checkpointer
from gdm_jax.train.logging import MetricWriter
from gdm_jax.train.logging import Progress


class NonFiniteError(RuntimeError):
  """A train metric became NaN or infinite."""


def make_model(config, dataset_info: dict) -> tuple[base.Model, base.Model]:
  """(model, family_model): the family's model of `config`, and the model
  the trainer steps, which is it wrapped to train `train.num_seeds` seeds at
  once when that is > 1 (multi_seed.vmap_seeds), else the same object.

  Raises:
    ValueError: an invalid config value, or train.compute_dtype='bfloat16'
      for a family that does not declare `supports_bfloat16`.
  """
  s = options.settings(config)
  family = models.make(config, dataset_info)
  if precision.compute_dtype(config) != jnp.float32 and not family.supports_bfloat16:
    raise ValueError(f"train.compute_dtype={s.compute_dtype!r} is not "
                     f"supported by the '{config.model.name}' family (use "
                     "float32).")
  model = (multi_seed.vmap_seeds(family, s.num_seeds) if s.num_seeds > 1
           else family)
  return model, family


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


@dataclasses.dataclass
class _Session:
  """What the stages of one run share."""
  config: Any
  settings: options.Settings
  workdir: str
  mesh: Any
  dataset: Any
  model: base.Model          # what the trainer steps (multi-seed wrapped)
  family: base.Model         # the family's single-seed model
  keys: dict                 # 'init', 'eval', 'image', 'final'
  ckpt: Checkpointer
  writer: MetricWriter | None = None

  @property
  def toy(self) -> bool:
    return self.dataset.info.get("kind") == "toy"

  def local_batch(self, step: int) -> dict:
    """This process's slice of the train batch of `step` (data seed =
    config.seed, so the data order follows the step)."""
    return self.dataset.train_batch(step, self.settings.batch_size,
                                    int(self.config.seed), jax.process_index(),
                                    jax.process_count())


class _Compiled(NamedTuple):
  """The run's jitted functions."""
  step: Callable           # (state, dispatch batch) -> (state, metrics)
  dispatch_batch: Callable  # step -> the global batch of one dispatch
  evaluate: Callable       # evaluator.make_eval_fn(model.evaluate)
  images: Callable
  sample: Callable          # (params, rng, n static) -> samples


def _set_up(config, s: options.Settings, workdir: str
            ) -> tuple[_Session, Any, int | None]:
  """Stage 1: data, model, and the initial or restored state.

  Returns (session, state, step of the restored checkpoint or None)."""
  _check_workdir(workdir)
  mesh = sharding.make_mesh()
  for field in ("batch_size", "eval_batch_size", "final_eval_batch_size"):
    sharding.check_batch_size(getattr(s, field), mesh, f"train.{field}")
  dataset = data_lib.load(config.data)
  model, family = make_model(config, dataset.info)
  dataset.steps_per_epoch(s.batch_size)  # Raises if the batch is too large.
  keys = dict(zip(("init", "eval", "image", "final"),
                  jax.random.split(jax.random.PRNGKey(config.seed), 4)))
  session = _Session(config, s, workdir, mesh, dataset, model, family, keys,
                     Checkpointer(os.path.join(workdir, "checkpoints"),
                                  s.keep_checkpoints))
  example = sharding.global_batch(session.local_batch(0), mesh)
  state = jax.jit(model.init, out_shardings=sharding.replicated(mesh))(
      keys["init"], example)
  restored, restored_step, skipped = session.ckpt.restore_newest_good(state)
  if restored is not None:
    state = restored
    logging.info("resumed from the checkpoint of step %d in %s%s",
                 restored_step, session.ckpt.directory,
                 f" (skipped unreadable newer checkpoints {[k for k, _ in skipped]})"
                 if skipped else "")
  return session, state, restored_step


def _compile(session: _Session) -> _Compiled:
  """The jitted step (one or `steps_per_dispatch` steps per call), the
  evaluator's function, and the image and sample functions."""
  mesh, model, s = session.mesh, session.model, session.settings
  repl = sharding.replicated(mesh)

  def step_fn(state, batch):
    return model.train_step(state, batch, jax.random.fold_in(state.rng, state.step))

  if s.steps_per_dispatch == 1:
    step = jax.jit(step_fn, in_shardings=(repl, sharding.batch_sharded(mesh)),
                   out_shardings=(repl, repl), donate_argnums=0)

    def dispatch_batch(t):
      return sharding.global_batch(session.local_batch(t), mesh)
  else:  # A scan over a [steps, B, ...] batch.
    step = jax.jit(lambda state, batches: jax.lax.scan(step_fn, state, batches),
                   in_shardings=(repl, sharding.stacked_batch_sharded(mesh)),
                   out_shardings=(repl, repl), donate_argnums=0)

    def dispatch_batch(t):
      batches = [session.local_batch(t + i) for i in range(s.steps_per_dispatch)]
      return sharding.global_batch(
          {k: np.stack([b[k] for b in batches]) for k in batches[0]}, mesh,
          stacked=True)
  return _Compiled(step, dispatch_batch,
                   evaluator.make_eval_fn(model.evaluate, mesh),
                   jax.jit(model.images, in_shardings=(repl, repl, repl),
                           out_shardings=repl),
                   jax.jit(model.sample, static_argnums=2))


class _Guard:
  """The pending train metrics and the newest checkpoint: stops the run on a
  non-finite metric, and turns a failed checkpoint write into a clear
  error, both with the last good checkpoint named and intact."""

  def __init__(self, ckpt: Checkpointer, last_saved: int | None):
    self.ckpt, self.last_saved, self.pending = ckpt, last_saved, []

  def check(self) -> None:
    """Raises NonFiniteError at the first non-finite pending metric."""
    bad = _first_non_finite(self.pending)
    if bad is not None:
      step, name, value = bad
      kept = (f"the last good checkpoint (step {self.last_saved}) in "
              f"{self.ckpt.directory} is untouched" if self.last_saved is not None
              else "no checkpoint had been written yet")
      raise NonFiniteError(
          f"non-finite train metric '{name}' = {value} at step {step}; "
          f"stopping: {kept}. Lower optimizer.learning_rate or set "
          f"optimizer.grad_clip_norm, then rerun in this workdir to resume.")

  def take_means(self) -> dict[str, float]:
    self.check()
    means, self.pending = _mean_metrics(self.pending), []
    return means

  def save(self, state) -> None:
    """Checkpoints `state` after checking the pending metrics; a failed
    write (full disk, lost mount) stops the run with the previous checkpoint
    intact (orbax commits a step only once it is completely written)."""
    self.check()
    try:
      self.last_saved = self.ckpt.save(state)
    except OSError as e:  # Also a failed asynchronous write of an earlier save.
      raise CheckpointError(
          f"writing a checkpoint failed at step {int(jax.device_get(state.step))} "
          f"({e.strerror or e}); the newest complete one (step {self.last_saved}) "
          f"in {self.ckpt.directory} is intact. Free space or fix the folder, "
          "then rerun in this workdir to resume from it.") from e


def _evaluate_validation(session: _Session, compiled: _Compiled, params,
                         step: int, elapsed: float) -> None:
  """The periodic evaluation: validation metrics, pictures, and sample
  metrics when `eval.periodic_num_samples` > 0."""
  s, writer = session.settings, session.writer
  val = evaluator.evaluate_split(
      compiled.evaluate, params, session.dataset, "validation",
      s.eval_batch_size, session.keys["eval"], session.mesh,
      s.eval_examples or None)
  writer.write_scalars(step, "validation", {**val, "wall_time_s": elapsed})
  logging.info("validation at step %d: %s", step,
               " ".join(f"{k}={v:.4f}" for k, v in sorted(val.items())))
  rng = jax.random.fold_in(session.keys["image"], step)
  _write_pictures(writer, step, session.model, params, session.dataset,
                  compiled.images, compiled.sample, rng, session.toy)
  if (s.sample_metrics and s.periodic_num_samples
      and generated.applies(session.dataset.info)):
    _periodic_sample_metrics(writer, step, compiled.sample, params,
                             session.dataset, s.periodic_num_samples, rng)
  writer.flush()


class _Outcome(NamedTuple):
  state: Any
  stopped: dict | None        # {"stopped_at": t} / {"preempted_at": t}
  compilations: int           # of the train step (1 = no recompilation)


def _train(session: _Session, compiled: _Compiled, state,
           restored_step: int | None, stop_at_step: int | None) -> _Outcome:
  """Stage 2: the step loop from the state's step to train.num_steps."""
  s, writer = session.settings, session.writer
  guard = _Guard(session.ckpt, restored_step)
  progress = Progress(int(jax.device_get(state.step)), s.num_steps)
  block_each_step = sharding.blocks_each_step(session.mesh)
  t0 = time.perf_counter()  # Wall time of this process's training.
  with _PreemptionNotice() as notice:
    for step in range(int(jax.device_get(state.step)), s.num_steps,
                      s.steps_per_dispatch):
      state, metrics = compiled.step(state, compiled.dispatch_batch(step))
      if block_each_step:
        jax.block_until_ready(metrics)
      done = step + s.steps_per_dispatch
      guard.pending.append((done, metrics))
      last = done in (s.num_steps, stop_at_step)
      if done % s.log_every == 0 or last:
        means = {**guard.take_means(), "wall_time_s": time.perf_counter() - t0}
        writer.write_scalars(done, "train", means)
        progress.log(done, means)
      if done % s.eval_every == 0 or last:
        guard.check()
        _evaluate_validation(session, compiled, state.params, done,
                             time.perf_counter() - t0)
      if done % s.checkpoint_every == 0 or last:
        guard.save(state)
      if done == stop_at_step:
        return _Outcome(state, {"stopped_at": done}, 0)
      if notice.signal is not None or (jax.process_count() > 1
                                       and session.ckpt.reached_preemption(done)):
        if guard.last_saved != done:
          guard.save(state)
        logging.warning("preempted: stopped after step %d with its checkpoint "
                        "in %s; run again in this workdir to resume.", done,
                        session.ckpt.directory)
        return _Outcome(state, {"preempted_at": done}, 0)
    guard.check()
  compilations = compiled.step._cache_size()  # pylint: disable=protected-access
  if compilations > 1:
    logging.warning("the train step compiled %d times (expected 1)", compilations)
  return _Outcome(state, None, compilations)


def _sample_metrics(session: _Session, compiled: _Compiled, params, rng
                    ) -> tuple[dict, dict]:
  """Sample metrics against eval.reference_split: (scores, protocol); with
  several seeds every seed's samples are scored (mean, std, per seed)."""
  s = session.settings
  if s.num_seeds == 1:
    return generated.evaluate_generated(
        compiled.sample, params, session.dataset, s.num_samples, rng,
        s.reference_split)
  sample = jax.jit(session.family.sample, static_argnums=2)
  scores = {}
  for seed in range(s.num_seeds):
    seed_scores, protocol = generated.evaluate_generated(
        sample, multi_seed.seed_params(params, seed), session.dataset,
        s.num_samples, rng, s.reference_split)
    scores.update({f"{k}/seed{seed}": v for k, v in seed_scores.items()})
  return multi_seed.seed_statistics(scores), protocol


def _final_metrics(session: _Session, compiled: _Compiled, state) -> dict:
  """Stage 3: {"metrics", "protocol"[, "sample_protocol" |
  "sample_metrics_error"]} of the trained state."""
  s, config = session.settings, session.config
  # The step of the evaluated parameters: a workdir checkpointed beyond
  # num_steps (e.g. rerun with a smaller num_steps) is evaluated as it is.
  trained_steps = int(jax.device_get(state.step))
  if trained_steps != s.num_steps:
    logging.warning("evaluating the parameters of step %d (train.num_steps is "
                    "%d): the workdir's newest checkpoint is beyond it.",
                    trained_steps, s.num_steps)
  split = s.final_eval_split
  logging.info("final evaluation on %s ...", split)
  t0 = time.perf_counter()
  final = evaluator.evaluate_split(
      evaluator.make_eval_fn(session.model.evaluate_final, session.mesh),
      state.params, session.dataset, split, s.final_eval_batch_size,
      session.keys["final"], session.mesh, s.final_eval_examples or None)
  if s.num_seeds > 1:
    final = multi_seed.seed_statistics(final)
  n = session.dataset.num_examples(split)
  result = {
      "metrics": {f"{split}/{k}": v for k, v in sorted(final.items())},
      "protocol": {"dataset": config.data.name, "split": split,
                   "num_examples": min(n, s.final_eval_examples or n),
                   "seed": config.seed, "train_steps": trained_steps,
                   "batch_size": s.batch_size,
                   "compute_dtype": s.compute_dtype,
                   **session.model.protocol()},
  }
  if s.sample_metrics and generated.applies(session.dataset.info):
    t1 = time.perf_counter()
    logging.info("sample metrics: %d samples against the %s split ...",
                 s.num_samples, s.reference_split)
    try:
      scores, sample_protocol = _sample_metrics(
          session, compiled, state.params,
          jax.random.fold_in(session.keys["final"], 1))
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
  return result


def _write_results(session: _Session, compiled: _Compiled, state,
                   result: dict) -> None:
  """Stage 4 (process 0): final_metrics.json, the final samples, curves."""
  if jax.process_index() != 0:
    return
  s, writer = session.settings, session.writer
  with open(os.path.join(session.workdir, "final_metrics.json"), "w") as f:
    json.dump(result, f, indent=2)
  split = s.final_eval_split
  writer.write_scalars(result["protocol"]["train_steps"], split,
                       {k.split("/", 1)[1]: v for k, v in result["metrics"].items()
                        if k.startswith(f"{split}/")})
  rng = session.keys["image"]
  if session.toy:
    writer.write_images(s.num_steps, {"final_samples": generated.toy_figure(
        session.model, compiled.sample, state.params, session.dataset, rng,
        split=split)})
  else:
    writer.write_images(s.num_steps, {"final_samples": jax.device_get(
        compiled.sample(state.params, rng, 100))})


def train_and_evaluate(config, workdir: str, *,
                       stop_at_step: int | None = None) -> dict:
  """Trains `config` in `workdir`, resuming from its newest checkpoint.

  Args:
    config: experiment ConfigDict (see experiments/configs/).
    workdir: output folder: checkpoints/, metrics.jsonl, tensorboard/,
      images/, config.json, final_metrics.json, curves.png.
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
  s = options.settings(config)
  if stop_at_step is not None and stop_at_step % s.steps_per_dispatch:
    raise ValueError(f"stop_at_step ({stop_at_step}) must be a multiple of "
                     "train.steps_per_dispatch.")
  session, state, restored_step = _set_up(config, s, workdir)
  start = int(jax.device_get(state.step))
  final_path = os.path.join(workdir, "final_metrics.json")
  if start >= s.num_steps and os.path.exists(final_path):
    session.ckpt.close()
    with open(final_path) as f:
      result = json.load(f)
    logging.info("run already finished at step %d; final metrics from %s: %s",
                 start, final_path, json.dumps(result["metrics"]))
    return result
  logging.info("model %s, %d parameters, %d devices (%s), %d processes, "
               "steps %d..%d", config.model.name,
               sum(x.size for x in jax.tree.leaves(state.params)),
               session.mesh.devices.size, jax.default_backend(),
               jax.process_count(), start, s.num_steps)
  if s.sample_metrics and not generated.applies(session.dataset.info):
    logging.warning("eval.sample_metrics is set but no sample metric is "
                    "defined for data set %s (needs 28x28x1 images or toy "
                    "data): skipped.", config.data.name)
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
  compiled = _compile(session)
  session.writer = MetricWriter(workdir)
  try:
    outcome = _train(session, compiled, state, restored_step, stop_at_step)
  except BaseException:
    session.writer.close()
    raise
  finally:
    session.ckpt.close()
  if outcome.stopped is not None:
    session.writer.close()
    return outcome.stopped
  try:
    result = _final_metrics(session, compiled, outcome.state)
    _write_results(session, compiled, outcome.state, result)
  finally:
    session.writer.close()
  if jax.process_index() == 0:
    _write_curves(workdir)
  return {**result, "train_step_compilations": outcome.compilations}


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
  model, _ = make_model(config, dataset.info)
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

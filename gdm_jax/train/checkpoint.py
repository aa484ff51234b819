"""Orbax checkpoints of the whole TrainState (params, optimizer, step, RNG).

The data position is a function of the step (see data/pipeline.py), so the
state alone resumes a run exactly.
"""

import os
import shutil

import jax
import orbax.checkpoint as ocp
from absl import logging

from gdm_jax.core.state import TrainState


class CheckpointError(RuntimeError):
  """Checkpoints exist in the workdir but none of them can be restored."""


class Checkpointer:
  """A `CheckpointManager` in WORKDIR/checkpoints keeping the newest `keep`."""

  def __init__(self, directory: str, keep: int = 3):
    self.directory = os.path.abspath(directory)
    self._keep = keep
    self.manager = self._new_manager()

  def _new_manager(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self._keep, create=True))

  def latest_step(self) -> int | None:
    """The newest checkpoint's step, or None when there is none."""
    return self.manager.latest_step()

  def save(self, state: TrainState) -> int:
    """Saves `state` under its own step (asynchronously); returns the step."""
    step = int(jax.device_get(state.step))
    self.manager.save(step, args=ocp.args.StandardSave(state))
    return step

  def restore(self, like: TrainState, step: int | None = None) -> TrainState:
    """Restores `step` (default: latest) into the structure, dtypes and
    shardings of `like`."""
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))

  def restore_newest_good(self, like: TrainState
                          ) -> tuple[TrainState | None, int | None, list]:
    """The newest checkpoint that restores, skipping unreadable ones.

    A checkpoint cut short (a full disk, a killed save, a corrupted file)
    fails to restore; it is reported and the next older one is tried, so a
    run resumes from its last good state instead of stopping.

    Returns:
      (state, step, skipped): the restored state and its step, or
      (None, None, skipped) when there is no checkpoint; `skipped` lists
      (step, error message) of the newer checkpoints that failed.

    Raises:
      CheckpointError: checkpoints exist but none of them restores.
    """
    skipped = []
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        state = self.restore(like, step)
      except Exception as e:  # pylint: disable=broad-except
        message = " ".join(str(e).split())[:300]
        logging.error("checkpoint of step %d in %s does not restore (%s: %s); "
                      "trying the previous one.", step, self.directory,
                      type(e).__name__, message)
        skipped.append((step, f"{type(e).__name__}: {message}"))
        # A damaged step can leave the manager's view of the checkpoint's
        # items wrong for every other step: try the next with a fresh one.
        self.manager.close()
        self.manager = self._new_manager()
        continue
      if skipped:
        self._set_aside([s for s, _ in skipped])
      return state, step, skipped
    if skipped:
      raise CheckpointError(
          f"none of the checkpoints in {self.directory} restores (steps "
          f"{[s for s, _ in skipped]}); the newest failed with "
          f"{skipped[0][1]}. Move the folder away to start afresh.")
    return None, None, skipped

  def _set_aside(self, steps: list[int]) -> None:
    """Moves unreadable step folders to checkpoints_unreadable/ (kept for
    inspection, out of orbax's way so their steps can be saved again)."""
    aside = self.directory + "_unreadable"
    if jax.process_index() == 0:
      os.makedirs(aside, exist_ok=True)
      for step in steps:
        src = os.path.join(self.directory, str(step))
        if os.path.exists(src):
          shutil.move(src, os.path.join(aside, str(step)))
          logging.warning("moved the unreadable checkpoint of step %d to %s",
                          step, aside)
    self.manager.reload()

  def reached_preemption(self, step: int) -> bool:
    """Whether all processes agreed to stop at `step` after a preemption
    notice (JAX's preemption sync point; multi-process runs only)."""
    return self.manager.reached_preemption(step)

  def wait(self):
    """Blocks until every asynchronous save has been written."""
    self.manager.wait_until_finished()

  def close(self):
    """Waits for pending saves, then releases the manager."""
    self.manager.wait_until_finished()
    self.manager.close()

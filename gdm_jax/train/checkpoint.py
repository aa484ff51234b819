"""Orbax checkpoints of the whole TrainState (params, optimizer, step, RNG).

The data position is a function of the step (see data/pipeline.py), so the
state alone resumes a run exactly.
"""

import os

import jax
import orbax.checkpoint as ocp

from gdm_jax.train.state import TrainState


class Checkpointer:
  """A `CheckpointManager` in WORKDIR/checkpoints keeping the newest `keep`."""

  def __init__(self, directory: str, keep: int = 3):
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

  def latest_step(self) -> int | None:
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

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.wait_until_finished()
    self.manager.close()

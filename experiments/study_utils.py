"""The plumbing shared by the studies (experiments/*_study.py).

The mathematics the studies use lives in gdm_jax (`gdm_jax.quadrature`,
`gdm_jax.critics`, the 1-D mixtures of `gdm_jax.data.toy`); here are only

  * `main`: the command line of every study,
      python -m experiments.NAME --config=experiments/configs/NAME.py[:variant] \
          --workdir=DIR
    which runs `run(config, workdir)`, prints `format_table` of its result
    and names the files it wrote (WORKDIR/NAME.json and WORKDIR/NAME.png);
  * `write_json` for numpy/JAX values, `pyplot` (the Agg backend) and
    `save_figure`;
  * `train_step`: a model's `train_step` with the trainer's step keys, for
    the studies that train a whole gdm_jax model.
"""

import json
import math
import os
from typing import Any, Callable

import jax
import numpy as np


def to_jsonable(value):
  """Nested dicts/lists of numpy/JAX arrays and scalars -> JSON types
  (non-finite floats become the strings 'inf', '-inf', 'nan')."""
  if isinstance(value, dict):
    return {str(k): to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if isinstance(value, (jax.Array, np.ndarray)):
    return to_jsonable(np.asarray(value).tolist())
  if isinstance(value, (np.floating, float)):
    v = float(value)
    return v if math.isfinite(v) else str(v)
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.bool_,)):
    return bool(value)
  return value


def write_json(obj, path: str, indent: int | None = 1) -> None:
  """Writes `to_jsonable(obj)` to `path`."""
  with open(path, "w") as f:
    json.dump(to_jsonable(obj), f, indent=indent)


def pyplot():
  """matplotlib.pyplot with the Agg backend."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def save_figure(fig, path: str, dpi: int, grid: bool = False) -> None:
  """Lays out, writes and closes `fig` (a light grid on every axis first
  when `grid`)."""
  if grid:
    for ax in fig.axes:
      ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=dpi)
  pyplot().close(fig)


def train_step(model) -> Callable:
  """(state, batch) -> (state, metrics): `model.train_step` with the
  trainer's step key fold_in(state.rng, state.step) (unjitted)."""
  return lambda state, batch: model.train_step(
      state, batch, jax.random.fold_in(state.rng, state.step))


def main(name: str, run: Callable[[Any, str], dict],
         format_table: Callable[[dict], str]) -> None:
  """Runs study `name` (experiments/NAME.py) as an absl program.

  Defines --config (experiments/configs/NAME.py) and --workdir only when a
  study runs as a program, so several studies can be imported into one
  process, as the tests do.
  """
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.DEFINE_config_file(
      "config", None, f"Study config (experiments/configs/{name}.py).",
      lock_config=True)
  flags.DEFINE_string("workdir", None, "Output folder.")
  flags.mark_flags_as_required(["config", "workdir"])

  def program(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    workdir = flags.FLAGS.workdir
    print(format_table(run(flags.FLAGS.config, workdir)))
    print("wrote " + " and ".join(os.path.join(workdir, name + ext)
                                  for ext in (".json", ".png")))

  app.run(program)

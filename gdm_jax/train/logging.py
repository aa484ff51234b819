"""Metric and image writers (process 0 only) and the progress line.

Scalars go to TensorBoard event files (tensorboardX, no TensorFlow needed)
and to WORKDIR/metrics.jsonl, one JSON object per logged step:
  {"step": 1000, "split": "train", "loss": 97.1, ...}
Images go to WORKDIR/images/<name>_<step>.png and to TensorBoard.
"""

import json
import math
import os
import time

import jax
import numpy as np
from absl import logging

from gdm_jax.eval.images import image_grid
from gdm_jax.eval.images import save_png


class MetricWriter:
  """Writes scalars and images of one run; a no-op off process 0."""

  def __init__(self, workdir: str, enabled: bool | None = None):
    self.enabled = jax.process_index() == 0 if enabled is None else enabled
    self.workdir = workdir
    self._tb = None
    if self.enabled:
      os.makedirs(os.path.join(workdir, "images"), exist_ok=True)
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
      self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")

  def write_scalars(self, step: int, split: str, metrics: dict) -> None:
    """One metrics.jsonl line {"step", "split", **metrics} and the same
    scalars as TensorBoard events under '<split>/<name>'."""
    if not self.enabled:
      return
    metrics = {k: float(v) for k, v in metrics.items()}
    self._jsonl.write(json.dumps({"step": int(step), "split": split, **metrics}) + "\n")
    self._jsonl.flush()
    for k, v in metrics.items():
      self._tb.add_scalar(f"{split}/{k}", v, step)

  def write_images(self, step: int, images: dict) -> dict[str, str]:
    """images: {name: float [N, H, W, C] in [0, 1]}; returns {name: png path}."""
    paths = {}
    if not self.enabled:
      return paths
    for name, batch in images.items():
      grid = image_grid(np.asarray(batch))
      path = os.path.join(self.workdir, "images", f"{name}_{step:07d}.png")
      save_png(grid, path)
      self._tb.add_image(name, grid, step, dataformats="HWC")
      paths[name] = path
    return paths

  def flush(self):
    """Flushes the TensorBoard events."""
    if self.enabled:
      self._tb.flush()

  def close(self):
    """Closes the event and metrics files."""
    if self.enabled:
      self._tb.close()
      self._jsonl.close()


def _duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
  """Step rate and ETA since the run (or the resume) began."""

  def __init__(self, start_step: int, total_steps: int):
    self.start_step, self.total = start_step, total_steps
    self.t0 = time.perf_counter()

  def line(self, step: int, metrics: dict) -> str:
    """'step t/T (p%) | r steps/s | ETA | name=value ...' for `step`."""
    dt = time.perf_counter() - self.t0
    rate = (step - self.start_step) / dt if dt > 0 else float("nan")
    eta = (self.total - step) / rate if rate > 0 else float("inf")
    shown = " ".join(f"{k}={float(v):.4g}" for k, v in sorted(metrics.items()))
    return (f"step {step}/{self.total} ({100 * step / self.total:.1f}%) | "
            f"{rate:.1f} steps/s | ETA {_duration(eta)} | {shown}")

  def log(self, step: int, metrics: dict) -> None:
    """Logs `line(step, metrics)` from process 0."""
    if jax.process_index() == 0:
      logging.info(self.line(step, metrics))

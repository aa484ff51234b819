"""Helpers for the trainer tests: configs, a cached data set, checkpoint
restore, metrics.jsonl reading, and a test-only model family ('nan_vae').

The 'nan_vae' family is the VAE whose train step reports loss = NaN once
`state.step >= NAN_FROM_STEP` (the state *before* the update), i.e. from the
trainer's step NAN_FROM_STEP + 1 on. Params stay finite. Register it with
  monkeypatch.setitem(gdm_jax.models.FAMILIES, "nan_vae", __name__)
and set config.model.name = "nan_vae".
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import vae as vae_configs
from gdm_jax import data as data_lib
from gdm_jax import models
from gdm_jax.models import vae
from gdm_jax.train.checkpoint import Checkpointer

NAN_FROM_STEP = 12
NAN_FAMILY = "nan_vae"

_ORIGINAL_LOAD = data_lib.load
_DATA_CACHE = {}


def smoke_config(**train_overrides):
  """experiments/configs/vae.py:smoke with `config.train` fields overridden."""
  config = vae_configs.get_config("smoke")
  for key, value in train_overrides.items():
    if key not in config.train:
      raise KeyError(f"no field train.{key}")
    config.train[key] = value
  return config


def cached_load(data_config):
  """`gdm_jax.data.load`, memoised on the data config (loading Fashion-MNIST
  through TFDS costs ~10 s; the arrays are read-only for the trainer)."""
  key = json.dumps(data_config.to_dict(), sort_keys=True)
  if key not in _DATA_CACHE:
    _DATA_CACHE[key] = _ORIGINAL_LOAD(data_config)
  return _DATA_CACHE[key]


def patch_data_cache(monkeypatch) -> None:
  monkeypatch.setattr(data_lib, "load", cached_load)


def restore_checkpoint(workdir: str, config, step: int | None = None):
  """(latest_step, restored TrainState) of WORKDIR/checkpoints."""
  dataset = cached_load(config.data)
  model = models.make(config, dataset.info)
  example = dataset.train_batch(0, config.train.batch_size, int(config.seed), 0, 1)
  like = model.init(jax.random.PRNGKey(0), jax.tree.map(jnp.asarray, example))
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    latest = ckpt.latest_step()
    assert latest is not None, f"no checkpoint in {ckpt.directory}"
    return latest, ckpt.restore(like, step)
  finally:
    ckpt.close()


def read_metrics(workdir: str) -> list[dict]:
  """WORKDIR/metrics.jsonl, one dict per line (fails on invalid JSON)."""
  path = os.path.join(workdir, "metrics.jsonl")
  with open(path) as f:
    lines = [line for line in f.read().splitlines() if line.strip()]
  records = []
  for i, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError as e:
      raise AssertionError(f"{path}:{i + 1} is not JSON: {line!r}") from e
  return records


def train_records(records: list[dict]) -> dict[int, dict]:
  """{step: record} of the 'train' records; fails on a step logged twice."""
  out = {}
  for r in records:
    if r["split"] == "train":
      assert r["step"] not in out, f"train step {r['step']} logged twice"
      out[r["step"]] = r
  return out


def train_losses(records: list[dict]) -> dict[int, float]:
  """{step: loss} of the 'train' records."""
  return {step: r["loss"] for step, r in train_records(records).items()}


def all_finite(tree) -> bool:
  return all(bool(np.all(np.isfinite(np.asarray(x))))
             for x in jax.tree.leaves(tree)
             if np.issubdtype(np.asarray(x).dtype, np.floating))


def make(config, dataset_info):
  """The 'nan_vae' test family (see module docstring)."""
  model = vae.make(config, dataset_info)

  def train_step(state, batch, rng):
    new_state, metrics = model.train_step(state, batch, rng)
    loss = jnp.where(state.step >= NAN_FROM_STEP, jnp.nan, metrics["loss"])
    return new_state, {**metrics, "loss": loss}

  return model._replace(train_step=train_step)

"""The one interface every model family exposes to the trainer and evaluators.

A family module provides `make(config, dataset_info) -> Model` (or a
subclass of `Model` that adds the family's own bound functions and
networks, e.g. a VAE's `net`). The trainer, the evaluators and the
multi-seed wrapper call only the members declared here; optional members
default to None / False and are tested as such, never probed with getattr.

Required (pure functions; `batch` is the raw host batch {'image': uint8
[B, H, W, C], ...} or {'x': float32 [B, D]} for toy data, and the model
applies its preprocessing with its own keys inside the jitted step):

  init(rng, batch) -> TrainState
      params and optimizer states from a PRNG key and an example batch.
  train_step(state, batch, rng) -> (state, metrics)
      one update (a GAN's k critic steps and its generator step included);
      metrics are scalars, e.g. {'loss': ...}; state.step is incremented.
  evaluate(params, batch, rng) -> {name: float [B] or []}
      cheap per-example metrics for periodic validation; eval/ averages
      them over a split. The evaluator adds batch['mask'] (float32 [B], 1
      for real rows, 0 for the padding of a split's last batch): a metric
      computed over the whole batch (an MMD, an energy distance) must
      weight its rows by it and is returned as a scalar.
  evaluate_final(params, batch, rng) -> {name: float [B] or []}
      the (possibly expensive) test metrics, e.g. the IWAE NLL; same rules.
  sample(params, rng, n) -> float [n, H, W, C] in [0, 1] (or [n, D] toy)
  images(params, batch, rng) -> {name: float [N, H, W, C] in [0, 1]}
      the pictures of one evaluation (samples, reconstructions, ...).
  protocol() -> dict
      how the final metrics were computed (for final_metrics.json).

Optional:
  critic(params, x [N, ...]) -> [N]      a critic / discriminator value
  log_prob(params, x [N, ...]) -> [N]    an exact log-density, nats
      (either draws the contours of the toy-data figures);
  supports_bfloat16: whether the family honours
      train.compute_dtype='bfloat16' (gdm_jax/core/precision.py).
"""

import dataclasses
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp

from gdm_jax.core.state import TrainState

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Model:
  """The interface (module docstring); families subclass it to add their own
  members, which the trainer never calls."""
  init: Callable[[jax.Array, Batch], TrainState]
  train_step: Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]
  evaluate: Callable[[Any, Batch, jax.Array], Metrics]
  evaluate_final: Callable[[Any, Batch, jax.Array], Metrics]
  sample: Callable[[Any, jax.Array, int], jax.Array]
  images: Callable[[Any, Batch, jax.Array], dict[str, jax.Array]]
  protocol: Callable[[], dict]
  critic: Optional[Callable[[Any, jax.Array], jax.Array]] = None
  log_prob: Optional[Callable[[Any, jax.Array], jax.Array]] = None
  supports_bfloat16: bool = False


def eval_mask(batch: Batch, num_rows: int) -> jax.Array:
  """The evaluator's row weights: batch['mask'] (float32 [B]: 1 real, 0
  padding) or, for a batch without one (a notebook's), ones [num_rows]."""
  mask = batch.get("mask") if hasattr(batch, "get") else None
  if mask is None:
    return jnp.ones((num_rows,), jnp.float32)
  return mask.astype(jnp.float32)

"""The small interface every model family exposes to the trainer.

A family module provides `make(config, dataset_info) -> model`, where the
model is any object with these pure functions (typically a NamedTuple that
also carries the family's own functions, e.g. a VAE's `elbo`):

  init(rng, batch) -> TrainState
      params and optimizer states from a PRNG key and an example batch.
  train_step(state, batch, rng) -> (state, metrics)
      one update (a GAN's k critic steps and its generator step included);
      metrics are scalars, e.g. {'loss': ...}; state.step is incremented.
  evaluate(params, batch, rng) -> {name: float [B]}
      cheap per-example metrics for periodic validation; eval/ averages them.
  evaluate_final(params, batch, rng) -> {name: float [B]}
      the (possibly expensive) per-example test metrics, e.g. the IWAE NLL.
  sample(params, rng, n) -> float [n, H, W, C]
      samples in [0, 1] for display.
  protocol() -> dict
      how the final metrics were computed (for final_metrics.json).

`batch` is the raw host batch {'image': uint8 [B, H, W, C], ...}: the model
applies its preprocessing (with its own keys) inside the jitted step.
"""

from typing import Any, Callable, Protocol

import jax

from gdm_jax.train.state import TrainState

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


class Model(Protocol):
  init: Callable[[jax.Array, Batch], TrainState]
  train_step: Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]
  evaluate: Callable[[Any, Batch, jax.Array], Metrics]
  evaluate_final: Callable[[Any, Batch, jax.Array], Metrics]
  sample: Callable[[Any, jax.Array, int], jax.Array]
  protocol: Callable[[], dict]

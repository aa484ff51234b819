"""What the model families and the trainer share, below both of them.

  state:       TrainState (the explicit train-state pytree), apply_gradients
  optimizers:  optax chains built from a `config.optimizer` block
  transforms:  custom optax transforms (WGAN weight clipping)
  steps:       the one gradient-step skeleton every family composes
  precision:   float32 parameters with bfloat16 computation
  sharding:    the device Mesh and batch shardings

Nothing here imports `gdm_jax.models`, `gdm_jax.train` or `gdm_jax.eval`.
"""

from gdm_jax.core.state import apply_gradients
from gdm_jax.core.state import TrainState

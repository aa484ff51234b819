"""Train state, optimizers, the generic sharded loop, checkpoints and logging."""

from gdm_jax.train.state import apply_gradients
from gdm_jax.train.state import TrainState

"""The explicit train-state pytree shared by every model family."""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue exactly, as one pytree.

  Attributes:
    step: int32 scalar, number of train steps taken.
    rng: uint32 [2] base PRNG key; step t uses fold_in(rng, t).
    params: the model's parameters (for multi-player models a dict per
      player, e.g. {'generator': ..., 'discriminator': ...}).
    opt_state: optax state(s), mirroring `params`' top-level structure.
    extra: anything else the family carries (batch statistics, EMA ...).
  """
  step: jax.Array
  rng: jax.Array
  params: Any
  opt_state: Any
  extra: Any = None

  @classmethod
  def create(cls, rng: jax.Array, params: Any, opt_state: Any,
             extra: Any = None) -> "TrainState":
    return cls(step=jnp.zeros((), jnp.int32), rng=rng, params=params,
               opt_state=opt_state, extra=extra)


def apply_gradients(state: TrainState, grads: Any,
                    tx: optax.GradientTransformation) -> TrainState:
  """One optimizer update of `state.params`, and step + 1."""
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state)

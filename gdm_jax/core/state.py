"""The explicit train-state pytree shared by every model family."""

from typing import Any, Mapping

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
    """The state at step 0 (int32) with these parameters and optimiser
    state(s); `rng` is the run's base key."""
    return cls(step=jnp.zeros((), jnp.int32), rng=rng, params=params,
               opt_state=opt_state, extra=extra)

  @classmethod
  def create_players(cls, rng: jax.Array, params: dict,
                     txs: Mapping[str, optax.GradientTransformation], *,
                     players: Mapping[str, str | tuple[str, ...]] | None = None,
                     collection: str | None = None,
                     extra: Any = None) -> "TrainState":
    """The step-0 state of a multi-player model: one optimiser state per
    player, opt_state[name] = txs[name].init(the params it updates).

    Player `name` updates params[name], or params[players[name]] when
    `players` names another entry, or {k: params[k] for k in keys} for a
    tuple of entries (e.g. an autoencoder player over ('encoder',
    'decoder')). With `collection` (e.g. 'params', for flax variables that
    also hold batch statistics) each entry contributes only
    params[k][collection]. Entries of `params` that no player names (e.g.
    a derived generator) get no optimiser state.

    Args:
      rng: the run's base key.
      params: {entry: parameters}, e.g. {'generator': ..., 'discriminator':
        ...}.
      txs: {player: optax chain}; opt_state has these keys.
      players: {player: entry or tuple of entries}; a player not listed
        updates params[player].
      collection: the flax collection each entry's optimiser sees, or None
        for the whole entry.
      extra: as in `create`.
    """
    players = players or {}

    def entry(k):
      return params[k] if collection is None else params[k][collection]

    def owned(name):
      keys = players.get(name, name)
      return ({k: entry(k) for k in keys} if isinstance(keys, tuple)
              else entry(keys))

    return cls.create(rng, params,
                      {name: tx.init(owned(name)) for name, tx in txs.items()},
                      extra)


def apply_gradients(state: TrainState, grads: Any,
                    tx: optax.GradientTransformation) -> TrainState:
  """One optimizer update of `state.params`, and step + 1."""
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state)

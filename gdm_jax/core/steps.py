"""The one gradient-step skeleton that every family composes.

  gradient_update   one player's update: value_and_grad of a loss, the optax
                    update, and the gradient's global norm;
  gradient_step     the train step of a single-player family: preprocess the
                    batch with the step's key, then `gradient_update`.

Multi-player families (GANs, AVB, AAE, WAE-GAN, wake-sleep) call
`gradient_update` once per player inside their own step.
"""

from typing import Any, Callable, NamedTuple

import jax
import optax

from gdm_jax.core.state import TrainState

# loss_fn(params, *args) -> (scalar loss, {name: scalar} aux metrics)
LossFn = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]


class Update(NamedTuple):
  """The result of `gradient_update`."""
  params: Any
  opt_state: Any
  loss: jax.Array          # [] the loss at the old parameters
  aux: dict                # the loss function's aux output
  grad_norm: jax.Array     # [] global L2 norm of the gradient


def gradient_update(loss_fn: LossFn, tx: optax.GradientTransformation,
                    params: Any, opt_state: Any, *args: Any) -> Update:
  """One optimiser step on `loss_fn(params, *args) -> (loss, aux)`.

    g = ∇_params loss(params, *args);  (u, s') = tx.update(g, s, params);
    params' = params + u.

  Args:
    loss_fn: scalar loss and an aux pytree (usually {name: scalar}).
    tx: the player's optax chain.
    params, opt_state: the player's parameters and optimiser state.
    *args: the loss function's other arguments (inputs, keys, step ...).

  Returns:
    Update(params', opt_state', loss, aux, grad_norm = ‖g‖₂).
  """
  (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, *args)
  updates, opt_state = tx.update(grads, opt_state, params)
  return Update(optax.apply_updates(params, updates), opt_state, loss, aux,
                optax.global_norm(grads))


def gradient_step(loss_fn: LossFn, tx: optax.GradientTransformation,
                  inputs: Callable[[jax.Array, dict], Any]
                  ) -> Callable[[TrainState, dict, jax.Array],
                                tuple[TrainState, dict]]:
  """The train step of a single-player family, `train_step(state, batch,
  rng) -> (state, metrics)`:

    pre_rng, loss_rng = split(rng)
    x = inputs(pre_rng, batch)                  # checks and preprocessing
    loss, aux = loss_fn(params, x, loss_rng, state.step)
    params <- optax update;  step <- step + 1

  Args:
    loss_fn: `(params, x, rng, step) -> (loss, {name: scalar})`; `step` is
      the int32 step before the update (for schedules such as KL warm-up).
    tx: the optax chain.
    inputs: `(rng, batch) -> x`, the family's batch check and
      preprocessing (dynamic binarisation, dequantisation ...).

  Returns:
    train_step with metrics {'loss', 'grad_norm', **aux}.
  """
  def train_step(state: TrainState, batch: dict, rng: jax.Array):
    pre_rng, loss_rng = jax.random.split(rng)
    x = inputs(pre_rng, batch)
    u = gradient_update(loss_fn, tx, state.params, state.opt_state, x,
                        loss_rng, state.step)
    state = state.replace(step=state.step + 1, params=u.params,
                          opt_state=u.opt_state)
    return state, {"loss": u.loss, "grad_norm": u.grad_norm, **u.aux}
  return train_step

"""Optax chains built from a `config.optimizer` ConfigDict.

Fields: name ('adam', 'adamw', 'rmsprop', 'sgd'), learning_rate, schedule
('constant', 'cosine'), warmup_steps, b1, b2, eps, weight_decay,
grad_clip_norm (0 = off).
"""

import optax

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine")


def learning_rate_schedule(config, num_steps: int) -> optax.Schedule:
  """Linear warm-up to `learning_rate`, then constant or cosine decay to 0."""
  lr, warmup = config.learning_rate, config.get("warmup_steps", 0)
  schedule = config.get("schedule", "constant")
  if schedule not in SCHEDULES:
    raise ValueError(f"optimizer.schedule must be one of {SCHEDULES}; got "
                     f"'{schedule}'.")
  if schedule == "constant":
    after = optax.constant_schedule(lr)
  else:
    after = optax.cosine_decay_schedule(lr, max(num_steps - warmup, 1))
  if warmup:
    return optax.join_schedules(
        [optax.linear_schedule(0.0, lr, warmup), after], [warmup])
  return after


def make_optimizer(config, num_steps: int) -> optax.GradientTransformation:
  """The optax chain of `config` (see module docstring).

  Raises:
    ValueError: unknown optimizer or schedule name.
  """
  name = config.name
  if name not in OPTIMIZERS:
    raise ValueError(f"optimizer.name must be one of {OPTIMIZERS}; got "
                     f"'{name}'.")
  lr = learning_rate_schedule(config, num_steps)
  b1, b2 = config.get("b1", 0.9), config.get("b2", 0.999)
  eps = config.get("eps", 1e-8)
  if name == "adam":
    opt = optax.adam(lr, b1=b1, b2=b2, eps=eps)
  elif name == "adamw":
    opt = optax.adamw(lr, b1=b1, b2=b2, eps=eps,
                      weight_decay=config.get("weight_decay", 0.0))
  elif name == "rmsprop":
    opt = optax.rmsprop(lr, decay=config.get("decay", 0.9), eps=eps)
  else:
    opt = optax.sgd(lr, momentum=config.get("momentum", 0.0) or None)
  clip = config.get("grad_clip_norm", 0.0)
  return optax.chain(optax.clip_by_global_norm(clip), opt) if clip else opt

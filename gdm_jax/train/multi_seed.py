"""Several seeds of one model trained at once: `jax.vmap` over PRNG keys.

`config.train.num_seeds = S` (> 1) makes the trainer wrap the model with
`vmap_seeds(model, S)`: one compiled step updates S independent copies of
the model (stacked parameters and optimizer states, leading axis [S]) that
differ in their initialisation and noise keys and share the data order (the
batches of `config.seed`). Small models use the device better this way than
S separate runs, and the final metrics come with their spread over seeds:

  final_metrics.json:  'test/nll'          mean over seeds
                       'test/nll_std'      standard deviation over seeds (ddof=1)
                       'test/nll/seed3'    seed 3's value

Seed s's keys: init fold_in(init_key, s); step t fold_in(step_key_t, s),
where init_key and step_key_t are the single-seed run's keys. Train metrics
are means over seeds (a NaN in any seed makes the mean NaN, so the trainer's
non-finite guard still stops the run), plus each seed's loss. Images and
the trainer's sample figures show seed 0; sample metrics are computed per
seed (`seed_params`).
"""

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax.core.state import TrainState
from gdm_jax.models import base

_SEED_KEY = re.compile(r"^(.*)/seed(\d+)$")


def seed_params(params: Any, seed: int) -> Any:
  """Seed `seed`'s parameters from a stacked [S, ...] parameter tree."""
  return jax.tree.map(lambda x: x[seed], params)


def seed_statistics(metrics: dict[str, float]) -> dict[str, float]:
  """Adds 'NAME_std' (over seeds, ddof=1) for every 'NAME' that has per-seed
  values 'NAME/seed0', 'NAME/seed1', ...; returns a new dict."""
  per_seed: dict[str, list[tuple[int, float]]] = {}
  for key, value in metrics.items():
    m = _SEED_KEY.match(key)
    if m:
      per_seed.setdefault(m.group(1), []).append((int(m.group(2)), value))
  out = dict(metrics)
  for name, values in per_seed.items():
    v = np.array([x for _, x in sorted(values)], np.float64)
    out[f"{name}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    out.setdefault(name, float(np.mean(v)))
  return dict(sorted(out.items()))


def vmap_seeds(model: base.Model, num_seeds: int) -> base.Model:
  """Wraps `model` so that one call trains `num_seeds` seeds (vmap).

  The wrapped TrainState keeps a scalar `step` and the run's `rng` (so the
  trainer's fold_in(state.rng, state.step) and checkpoints work unchanged);
  `params`, `opt_state` and `extra` hold the inner states' leaves with a
  leading [S] axis, `extra` as {'rng': [S, 2] inner keys, 'extra': ...}.

  Raises:
    ValueError: num_seeds < 2.
  """
  if not isinstance(num_seeds, int) or num_seeds < 2:
    raise ValueError(f"vmap_seeds: num_seeds must be an integer >= 2; got {num_seeds!r}.")
  seeds = jnp.arange(num_seeds)

  def keys(rng):
    return jax.vmap(lambda s: jax.random.fold_in(rng, s))(seeds)

  def inner_states(state):
    return TrainState(step=jnp.broadcast_to(state.step, (num_seeds,)),
                      rng=state.extra["rng"], params=state.params,
                      opt_state=state.opt_state, extra=state.extra["extra"])

  def init(rng, batch):
    inner = jax.vmap(model.init, in_axes=(0, None))(keys(rng), batch)
    return TrainState(step=jnp.zeros((), jnp.int32), rng=rng,
                      params=inner.params, opt_state=inner.opt_state,
                      extra={"rng": inner.rng, "extra": inner.extra})

  def train_step(state, batch, rng):
    new, metrics = jax.vmap(model.train_step, in_axes=(0, None, 0))(
        inner_states(state), batch, keys(rng))
    out = {k: jnp.mean(v) for k, v in metrics.items()}
    if "loss" in metrics:
      out.update({f"loss/seed{s}": metrics["loss"][s] for s in range(num_seeds)})
    state = state.replace(step=state.step + 1, params=new.params,
                          opt_state=new.opt_state,
                          extra={"rng": new.rng, "extra": new.extra})
    return state, out

  def per_seed_eval(fn):
    def evaluate(params, batch, rng):
      metrics = jax.vmap(fn, in_axes=(0, None, 0))(params, batch, keys(rng))
      out = {k: jnp.mean(v, axis=0) for k, v in metrics.items()}   # [B]
      for k, v in metrics.items():
        out.update({f"{k}/seed{s}": v[s] for s in range(num_seeds)})
      return out
    return evaluate

  def sample(params, rng, n):
    return model.sample(seed_params(params, 0), rng, n)

  def images(params, batch, rng):
    return model.images(seed_params(params, 0), batch, rng)

  def protocol():
    return {**model.protocol(), "num_seeds": num_seeds,
            "seeds": "init and noise keys fold_in(key, s), s < num_seeds; "
                     "shared data order"}

  def seed0(fn):
    if fn is None:
      return None
    return lambda params, x: fn(seed_params(params, 0), x)

  return base.Model(
      init=init, train_step=train_step,
      evaluate=per_seed_eval(model.evaluate),
      evaluate_final=per_seed_eval(model.evaluate_final), sample=sample,
      images=images, protocol=protocol, critic=seed0(model.critic),
      log_prob=seed0(model.log_prob),
      supports_bfloat16=model.supports_bfloat16)

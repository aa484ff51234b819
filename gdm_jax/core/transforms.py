"""Custom optax transformations: `(init, update)` with a NamedTuple state.

References:
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (Algorithm 1:
    RMSProp, learning rate 5e-5, weights clipped to [-0.01, 0.01]).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


def _clip_update(u: jax.Array, p: jax.Array, c: float) -> jax.Array:
  """u' with fl(p + u') = clip(p + u, -c, c), or a few ulps inside the box.

  d = clip(p + u) - p is rounded when |d| is not small against |p| (e.g. p on
  one face, clipped to the other), and p + d can then overshoot the face by
  an ulp. `optax.apply_updates` computes p + u' in p's dtype, so the overshoot
  is predictable; one step of d towards zero (nextafter) removes it, because
  a step of ulp(d) then exceeds the rounding error of d. A second pass is a
  safeguard. Coordinates that land in the box are left alone.
  """
  d = jnp.clip(p + u, -c, c) - p
  for _ in range(2):
    r = p + d
    d = jnp.where(r > c, jnp.nextafter(d, jnp.array(-jnp.inf, d.dtype)), d)
    d = jnp.where(r < -c, jnp.nextafter(d, jnp.array(jnp.inf, d.dtype)), d)
  return d.astype(u.dtype)


class ClipParamsState(NamedTuple):
  """`clip_params` keeps no state."""


def clip_params(c: float) -> optax.GradientTransformation:
  """Weight clipping as the last link of an optax chain.

  Turns the incoming update u into
    u' = clip(θ + u, -c, c) - θ,
  so that `optax.apply_updates(θ, u')` = clip(θ + u, -c, c): every parameter
  lands in the box [-c, c] (the WGAN critic's crude Lipschitz constraint,
  Arjovsky et al. 2017, Algorithm 1, line 7). In floating point: coordinates
  that θ + u leaves inside the box are updated exactly as without this
  transform (θ + ((θ + u) - θ) rounds back to θ + u), and clipped ones land
  on the face ±c or, where rounding of θ + u' would overshoot it, a few ulps
  inside; never outside. It must come after
  the optimizer, e.g. `optax.chain(optax.rmsprop(5e-5), clip_params(0.01))`,
  and `update` must be given the parameters. Works on any pytree (unlike
  `optax.projections.projection_box` in optax 0.2.8, which fails on trees
  with several leaves); parameters that start outside the box are pulled in
  on the first step. Parameters and updates are assumed to share a dtype
  (the usual case); otherwise the final cast in `apply_updates` can round
  again.

  Args:
    c: half-width of the box, > 0.

  Returns:
    optax.GradientTransformation with state `ClipParamsState()`.

  Raises:
    ValueError: c <= 0 (at construction), or `update` called without params.
  """
  if not c > 0:
    raise ValueError(f"clip_params: c must be > 0; got {c}.")

  def init_fn(params):
    del params
    return ClipParamsState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(
          "clip_params needs the current parameters to clip θ + u: call "
          "`optimizer.update(grads, opt_state, params)`.")

    return jax.tree.map(functools.partial(_clip_update, c=c), updates,
                        params), state

  return optax.GradientTransformation(init_fn, update_fn)

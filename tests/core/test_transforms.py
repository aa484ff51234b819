"""gdm_jax.core.transforms.clip_params: WGAN weight clipping in optax."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gdm_jax.core import transforms

C = 0.01


class _Critic(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(8)(x))
    x = nn.relu(nn.Dense(8)(x))
    return nn.Dense(1)(x)[..., 0]


@jax.jit
def _init_params(key):
  """A multi-leaf flax param tree: 3 kernels + 3 biases (jitted: eager flax
  init costs seconds of op-by-op compilation)."""
  return _Critic().init(key, jnp.zeros((1, 3)))["params"]


@functools.partial(jax.jit, static_argnums=0)
def _params_in_box(seed=0):
  """`_init_params` values replaced by uniform draws inside [-0.9 C, 0.9 C]."""
  params = _init_params(jax.random.PRNGKey(seed))
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
  leaves = [jax.random.uniform(k, p.shape, minval=-0.9 * C, maxval=0.9 * C)
            for k, p in zip(keys, leaves)]
  return jax.tree.unflatten(treedef, leaves)


def _grads_like(params, key, scale):
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, len(leaves))
  return jax.tree.unflatten(treedef, [
      scale * jax.random.normal(k, p.shape) for k, p in zip(keys, leaves)])


@pytest.mark.parametrize("base,fused", [(optax.rmsprop(2e-3), False),
                                        (optax.rmsprop(2e-3), True),
                                        (optax.adam(2e-3), True)],
                         ids=["rmsprop-staged", "rmsprop-fused", "adam-fused"])
def test_clipped_updates_stay_in_box_and_match_unclipped_inside(base, fused):
  """Staged (optimizer, clip and apply compiled separately): bit-exact where
  unclipped. Fused (one jitted chain + apply): XLA may contract p - lr * x
  into an FMA differently in the two programs, so 'exact' there means within
  4 ulps of c (absolute)."""
  params = _params_in_box()
  assert len(jax.tree.leaves(params)) == 6
  clip = transforms.clip_params(C)
  opt = optax.chain(base, clip)
  state = opt.init(params)
  base_state = base.init(params)
  apply = jax.jit(optax.apply_updates)

  if fused:
    @jax.jit
    def step(params, state, base_state, key):
      grads = _grads_like(params, key, 1e3)  # large, sign-random gradients
      u_clip, state = opt.update(grads, state, params)
      u_plain, base_state = base.update(grads, base_state, params)
      return (optax.apply_updates(params, u_clip),
              optax.apply_updates(params, u_plain), state, base_state)
    atol = 4.0 * float(np.spacing(np.float32(C)))
  else:
    base_update, clip_update = jax.jit(base.update), jax.jit(clip.update)
    grads_like = jax.jit(_grads_like, static_argnums=2)
    def step(params, state, base_state, key):
      grads = grads_like(params, key, 1e3)
      u_plain, base_state = base_update(grads, base_state, params)
      u_clip, _ = clip_update(u_plain, state[1], params)
      state = (base_state, state[1])
      return (apply(params, u_clip), apply(params, u_plain), state,
              base_state)
    atol = 0.0

  n_inside = n_clipped = 0
  for i in range(25):
    new, unclipped, state, base_state = step(params, state, base_state,
                                             jax.random.PRNGKey(100 + i))
    p_new = np.concatenate([np.ravel(a) for a in jax.tree.leaves(new)])
    p_free = np.concatenate([np.ravel(a) for a in jax.tree.leaves(unclipped)])
    assert np.all(np.abs(p_new) <= C), i
    inside = np.abs(p_free) <= C
    # Exactly the unclipped update where it stays in the box ...
    assert np.all(np.abs(p_new[inside] - p_free[inside]) <= atol), i
    # ... and the box's face (up to rounding, never outside) elsewhere.
    np.testing.assert_allclose(p_new[~inside], np.sign(p_free[~inside]) * C,
                               rtol=1e-6)
    n_inside += inside.sum()
    n_clipped += (~inside).sum()
    params = new
  # Both cases were exercised many times.
  assert n_inside > 300 and n_clipped > 300, (n_inside, n_clipped)


def test_matches_linf_projection_and_pulls_params_into_box():
  params = _init_params(jax.random.PRNGKey(3))
  assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree.leaves(params)) > C
  opt = optax.chain(optax.sgd(0.1), transforms.clip_params(C))
  state = opt.init(params)
  grads = _grads_like(params, jax.random.PRNGKey(4), 1.0)

  @jax.jit
  def both(params, state, grads):
    updates, state = opt.update(grads, state, params)
    sgd_step = optax.apply_updates(params,
                                   jax.tree.map(lambda g: -0.1 * g, grads))
    return (optax.apply_updates(params, updates), state,
            optax.projections.projection_linf_ball(sgd_step, C))
  new, state, expected = both(params, state, grads)
  for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(expected)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert bool(jnp.all(jnp.abs(a) <= C))
  assert state[1] == transforms.ClipParamsState()


def test_errors():
  with pytest.raises(ValueError, match="c must be > 0"):
    transforms.clip_params(0.0)
  opt = transforms.clip_params(C)
  params = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
  state = opt.init(params)
  with pytest.raises(ValueError, match="needs the current parameters"):
    opt.update(params, state)

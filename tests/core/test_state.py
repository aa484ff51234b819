"""gdm_jax/core/state.py: TrainState.create_players gives each player the
optimiser state of exactly the parameters it updates."""

import chex
import jax
import jax.numpy as jnp
import optax

from gdm_jax.core.state import TrainState


def _params():
  k = jax.random.split(jax.random.PRNGKey(0), 3)
  return {"encoder": {"w": jax.random.normal(k[0], (3, 2))},
          "decoder": {"w": jax.random.normal(k[1], (2, 3))},
          "discriminator": {"params": {"w": jax.random.normal(k[2], (2,))},
                            "batch_stats": {"mean": jnp.zeros(2)}}}


def test_create_players_matches_each_optimiser_init():
  params, rng = _params(), jax.random.PRNGKey(1)
  txs = {"autoencoder": optax.adam(1e-3), "generator": optax.sgd(0.1, 0.9),
         "discriminator": optax.adam(2e-4)}
  state = TrainState.create_players(
      rng, params, txs, players={"autoencoder": ("encoder", "decoder"),
                                 "generator": "encoder"})
  assert int(state.step) == 0 and state.params is params
  chex.assert_trees_all_equal(state.rng, rng)
  chex.assert_trees_all_equal(state.opt_state, {
      "autoencoder": txs["autoencoder"].init(
          {"encoder": params["encoder"], "decoder": params["decoder"]}),
      "generator": txs["generator"].init(params["encoder"]),
      "discriminator": txs["discriminator"].init(params["discriminator"])})


def test_create_players_with_a_collection():
  """collection='params': batch statistics get no optimiser state; entries
  without a player (here 'decoder') get none at all."""
  params = _params()
  params = {"generator": {"params": params["encoder"]},
            "discriminator": params["discriminator"], "decoder": {}}
  tx = optax.adam(1e-3)
  state = TrainState.create_players(
      jax.random.PRNGKey(0), params, {"generator": tx, "discriminator": tx},
      collection="params")
  assert set(state.opt_state) == {"generator", "discriminator"}
  chex.assert_trees_all_equal(state.opt_state["discriminator"],
                              tx.init(params["discriminator"]["params"]))
  chex.assert_trees_all_equal(state.opt_state["generator"],
                              tx.init(params["generator"]["params"]))

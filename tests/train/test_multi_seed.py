"""`train.num_seeds`: S seeds in one vmapped step. Each seed equals the
unwrapped model run with that seed's keys; the trainer reports mean, std and
per-seed values of every final metric, compiling the step once."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import models
from gdm_jax.train import loop
from gdm_jax.train import multi_seed
from tests import helpers as h


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  h.patch_data_cache(monkeypatch)


def _setup(num_seeds=3):
  config = h.smoke_config("vae.py")
  dataset = h.cached_load(config.data)
  inner = models.make(config, dataset.info)
  batch = jax.tree.map(jnp.asarray, dataset.train_batch(0, 16, 0, 0, 1))
  return inner, multi_seed.vmap_seeds(inner, num_seeds), batch


def _assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_each_seed_equals_the_unwrapped_model():
  inner, wrapped, batch = _setup()
  rng, step_rng = jax.random.PRNGKey(3), jax.random.PRNGKey(7)
  state = wrapped.init(rng, batch)
  new, metrics = jax.jit(wrapped.train_step)(state, batch, step_rng)
  assert int(new.step) == 1 and new.rng.shape == rng.shape
  losses = []
  for s in range(3):
    own = inner.init(jax.random.fold_in(rng, s), batch)
    _assert_trees_close(multi_seed.seed_params(state.params, s), own.params)
    own_new, own_metrics = jax.jit(inner.train_step)(
        own, batch, jax.random.fold_in(step_rng, s))
    _assert_trees_close(multi_seed.seed_params(new.params, s), own_new.params)
    assert float(metrics[f"loss/seed{s}"]) == pytest.approx(
        float(own_metrics["loss"]), rel=1e-5)
    losses.append(float(own_metrics["loss"]))
  assert float(metrics["loss"]) == pytest.approx(np.mean(losses), rel=1e-5)
  assert len(set(np.round(losses, 3))) == 3   # The seeds really differ.

  ev = wrapped.evaluate(new.params, batch, jax.random.PRNGKey(1))
  own_ev = inner.evaluate(multi_seed.seed_params(new.params, 1), batch,
                          jax.random.fold_in(jax.random.PRNGKey(1), 1))
  np.testing.assert_allclose(ev["elbo/seed1"], own_ev["elbo"], rtol=1e-5)
  np.testing.assert_allclose(
      ev["elbo"], np.mean([ev[f"elbo/seed{s}"] for s in range(3)], 0), rtol=1e-5)


def test_seed_statistics():
  stats = multi_seed.seed_statistics(
      {"test/nll/seed0": 1.0, "test/nll/seed1": 2.0, "test/nll/seed2": 4.0,
       "test/nll": 7 / 3, "other": 5.0})
  assert stats["test/nll_std"] == pytest.approx(np.std([1, 2, 4], ddof=1))
  assert stats["test/nll"] == pytest.approx(7 / 3) and stats["other"] == 5.0
  assert "other_std" not in stats
  with pytest.raises(ValueError, match="num_seeds must be an integer >= 2"):
    multi_seed.vmap_seeds(None, 1)


@pytest.mark.slow
def test_trainer_reports_mean_std_and_seeds(tmp_path):
  config = h.smoke_config("vae.py", num_steps=10, eval_every=10,
                          checkpoint_every=10, log_every=5)
  config.train.num_seeds = 2
  result = loop.train_and_evaluate(config, str(tmp_path))
  m = result["metrics"]
  assert result["train_step_compilations"] == 1
  assert result["protocol"]["num_seeds"] == 2
  for name in ("test/nll", "test/elbo"):
    a, b = m[f"{name}/seed0"], m[f"{name}/seed1"]
    assert a != b
    assert m[name] == pytest.approx((a + b) / 2, rel=1e-6)
    assert m[f"{name}_std"] == pytest.approx(abs(a - b) / np.sqrt(2), rel=1e-6)
  # Resuming the finished run reads the same report.
  assert loop.train_and_evaluate(config, str(tmp_path))["metrics"] == m

"""gdm_jax/eval/generated.py: sample metrics of any model's `sample`.

A "model" whose sampler draws from the data distribution itself must score
as the data does (all modes, small W1, FID near the real-vs-real value),
and a collapsed sampler must score clearly worse.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax.data import toy
from gdm_jax.eval import generated


@pytest.fixture(scope="module")
def ring():
  return toy.load_toy_dataset("ring8", num_train=2000, num_validation=2000,
                              num_test=2000, seed=0)


def test_draw_samples_chunks_and_keys():
  calls = []

  def sample(params, rng, n):
    calls.append(n)
    return jnp.full((n, 2), jax.random.uniform(rng)) + params

  out = generated.draw_samples(sample, 0.0, jax.random.PRNGKey(0), 1200, chunk=500)
  assert out.shape == (1200, 2) and out.dtype == np.float32
  assert calls == [500, 500, 500]
  # Each chunk its own key: three distinct values.
  assert len(np.unique(out[:, 0])) == 3
  with pytest.raises(ValueError, match="num_samples"):
    generated.draw_samples(sample, 0.0, jax.random.PRNGKey(0), 0)


def test_toy_sampler_of_the_data_covers_every_mode(ring):
  dist = toy.get_toy("ring8")
  sample = jax.jit(lambda params, rng, n: dist.sample(rng, n), static_argnums=2)
  metrics, protocol = generated.evaluate_generated(
      sample, None, ring, 2000, jax.random.PRNGKey(1), "test")
  assert metrics["modes_covered"] == metrics["num_modes"] == 8
  # Within 3 std of its 2-D Gaussian mode: chi-2 with 2 dof, 1 - exp(-9/2).
  assert abs(metrics["high_quality_fraction"] - (1 - np.exp(-4.5))) < 0.01
  # Two samples of one distribution: W1 shrinks with N; 2000 points on a
  # ring of radius 2 with 8 modes of std 0.02 give a few hundredths.
  assert metrics["w1"] < 0.1
  # The data's own finite-sample W1 floor: of the same size as the model's.
  assert 0 < metrics["w1_data_baseline"] < 0.1
  assert abs(metrics["w1"] - metrics["w1_data_baseline"]) < 0.03
  # The true log-density of ring8 samples: log(1/8) + 2-D Gaussian entropy
  # term, about log(1/8) - log(2 pi 0.02^2) - 1 = 3.29 nats.
  expected = np.log(1 / 8) - np.log(2 * np.pi * 0.02 ** 2) - 1
  assert abs(metrics["true_log_prob"] - expected) < 0.1
  assert protocol["reference_split"] == "test" and protocol["num_generated"] == 2000

  collapsed = jax.jit(lambda params, rng, n: jnp.broadcast_to(
      jnp.asarray(ring.info["modes"][0]), (n, 2)), static_argnums=2)
  bad, _ = generated.evaluate_generated(collapsed, None, ring, 2000,
                                        jax.random.PRNGKey(1), "test")
  assert bad["modes_covered"] == 1
  assert bad["w1"] > 1.0


def test_unsupported_image_shape_gives_none():
  from gdm_jax.data.pipeline import ArrayDataset
  ds = ArrayDataset({"test": {"image": np.zeros((4, 32, 32, 3), np.uint8)}},
                    {"name": "cifar10", "shape": (32, 32, 3)})
  assert not generated.applies(ds.info)
  assert generated.evaluate_generated(None, None, ds, 10, jax.random.PRNGKey(0)) is None

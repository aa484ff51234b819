"""Tests of gdm_jax/data/pipeline.py: seeded, resumable, per-process batching."""

import chex
import numpy as np
import pytest

from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.data.pipeline import split_validation

N_TRAIN, N_TEST, BATCH = 103, 37, 10


def make_dataset():
  """Each example carries its own index, so batches can be traced back."""
  def split(n, offset):
    idx = np.arange(n)
    image = ((idx + offset) % 256).astype(np.uint8)[:, None, None, None]
    return {"image": np.broadcast_to(image, (n, 4, 4, 1)).copy(),
            "label": (idx % 10).astype(np.int32), "index": idx.astype(np.int64)}
  return ArrayDataset({"train": split(N_TRAIN, 0), "test": split(N_TEST, 7)},
                      {"name": "toy", "shape": (4, 4, 1)})


def test_train_batches_static_shapes_and_dtypes():
  ds = make_dataset()
  assert ds.steps_per_epoch(BATCH) == N_TRAIN // BATCH
  for step in range(3 * ds.steps_per_epoch(BATCH) + 1):   # several epochs
    batch = ds.train_batch(step, BATCH, seed=0)
    chex.assert_shape([batch["image"], batch["label"]], [(BATCH, 4, 4, 1), (BATCH,)])
    chex.assert_type([batch["image"], batch["label"]], [np.uint8, np.int32])
    # Features stay aligned: the example's image and label match its index.
    np.testing.assert_array_equal(batch["image"][:, 0, 0, 0], batch["index"] % 256)
    np.testing.assert_array_equal(batch["label"], batch["index"] % 10)


def test_batch_is_a_pure_function_of_seed_and_step():
  ds = make_dataset()
  spe = ds.steps_per_epoch(BATCH)
  steps = [0, 5, 2 * spe + 3, 1, spe, 5]
  first = {s: ds.train_batch(s, BATCH, seed=3)["index"] for s in steps}
  # Revisit in another order, on a fresh object (cold cache) and a warm one.
  fresh = make_dataset()
  for s in reversed(steps):
    np.testing.assert_array_equal(fresh.train_batch(s, BATCH, seed=3)["index"], first[s])
    np.testing.assert_array_equal(ds.train_batch(s, BATCH, seed=3)["index"], first[s])
  # Another seed gives another batch.
  assert not np.array_equal(ds.train_batch(0, BATCH, seed=4)["index"], first[0])


def test_one_epoch_visits_every_index_once_and_epochs_differ():
  ds = make_dataset()
  spe = ds.steps_per_epoch(BATCH)
  orders = []
  for epoch in range(3):
    idx = np.concatenate([ds.batch_indices(epoch * spe + i, BATCH, seed=0)
                          for i in range(spe)])
    assert len(idx) == spe * BATCH == N_TRAIN - N_TRAIN % BATCH
    assert len(np.unique(idx)) == len(idx)                 # no repeats
    assert idx.min() >= 0 and idx.max() < N_TRAIN
    orders.append(idx)
  assert not np.array_equal(orders[0], orders[1])
  assert not np.array_equal(orders[1], orders[2])
  # Shuffled, not in storage order, and the dropped remainder changes per epoch.
  assert not np.array_equal(orders[0], np.sort(orders[0]))
  dropped = [set(range(N_TRAIN)) - set(o.tolist()) for o in orders]
  assert all(len(d) == N_TRAIN % BATCH for d in dropped)
  assert len(set.union(*dropped)) > N_TRAIN % BATCH
  # train_batch returns the examples of batch_indices.
  np.testing.assert_array_equal(np.sort(ds.train_batch(spe + 2, BATCH, 0)["index"]),
                                np.sort(ds.batch_indices(spe + 2, BATCH, 0)))


def test_process_slices_make_up_the_global_batch():
  ds = make_dataset()
  for step in (0, 4, 17):
    global_batch = ds.train_batch(step, BATCH, seed=1)
    parts = [ds.train_batch(step, BATCH, seed=1, process_index=p, process_count=2)
             for p in range(2)]
    for part in parts:
      chex.assert_shape(part["image"], (BATCH // 2, 4, 4, 1))
    joined = np.concatenate([p["index"] for p in parts])
    assert len(np.unique(joined)) == BATCH                 # disjoint halves
    # In the same order as one process's batch: the per-example noise drawn
    # inside the step then lands on the same examples for any process count.
    np.testing.assert_array_equal(joined, global_batch["index"])


@pytest.mark.parametrize("batch_size,limit", [(10, None), (8, None), (37, None),
                                              (10, 25), (8, 100)])
def test_eval_batches_cover_every_example_once(batch_size, limit):
  ds = make_dataset()
  n = N_TEST if limit is None else min(limit, N_TEST)
  seen, num_batches = [], 0
  for batch, mask in ds.eval_batches("test", batch_size, limit=limit):
    num_batches += 1
    chex.assert_shape([batch["image"], mask], [(batch_size, 4, 4, 1),   # static,
                                               (batch_size,)])          # padded
    chex.assert_type(mask, np.float32)
    assert set(np.unique(mask).tolist()) <= {0.0, 1.0}
    seen.append(batch["index"][mask == 1])
    np.testing.assert_array_equal(batch["image"][:, 0, 0, 0], (batch["index"] + 7) % 256)
  seen = np.concatenate(seen)
  np.testing.assert_array_equal(np.sort(seen), np.arange(n))  # each exactly once
  assert num_batches == -(-n // batch_size)
  # The mask's zeros are exactly the padding.
  assert num_batches * batch_size - len(seen) == (-n) % batch_size


def test_eval_batches_per_process():
  ds = make_dataset()
  streams = [list(ds.eval_batches("test", 8, process_index=p, process_count=2))
             for p in range(2)]
  assert len(streams[0]) == len(streams[1]) == 5           # same number of steps
  real = []
  for (b0, m0), (b1, m1) in zip(*streams):
    chex.assert_shape([b0["image"], b1["image"]], (4, 4, 4, 1))
    real += [b0["index"][m0 == 1], b1["index"][m1 == 1]]
  np.testing.assert_array_equal(np.sort(np.concatenate(real)), np.arange(N_TEST))


def test_split_validation_disjoint_and_seeded():
  train = make_dataset().splits["train"]
  tr, val = split_validation(train, 20, seed=0)
  assert len(val["index"]) == 20 and len(tr["index"]) == N_TRAIN - 20
  assert not set(tr["index"].tolist()) & set(val["index"].tolist())
  assert set(tr["index"].tolist()) | set(val["index"].tolist()) == set(range(N_TRAIN))
  np.testing.assert_array_equal(val["label"], val["index"] % 10)  # aligned features
  # Seeded: the same seed gives the same split, another seed another one.
  np.testing.assert_array_equal(split_validation(train, 20, seed=0)[1]["index"],
                                val["index"])
  assert not np.array_equal(split_validation(train, 20, seed=1)[1]["index"],
                            val["index"])
  # A random subset, not the first or last examples.
  assert not np.array_equal(val["index"], np.arange(20))
  assert not np.array_equal(val["index"], np.arange(N_TRAIN - 20, N_TRAIN))
  # Size zero is allowed; the whole set is not.
  assert len(split_validation(train, 0, seed=0)[1]["index"]) == 0
  with pytest.raises(ValueError, match="validation_size"):
    split_validation(train, N_TRAIN, seed=0)


def test_errors():
  ds = make_dataset()
  assert ds.num_examples("train") == N_TRAIN and ds.num_examples("test") == N_TEST
  with pytest.raises(ValueError, match="batch size"):
    ds.steps_per_epoch(N_TRAIN + 1)
  with pytest.raises(KeyError, match="validation"):
    ds.num_examples("validation")

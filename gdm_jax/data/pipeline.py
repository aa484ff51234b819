"""In-memory data sets with seeded, resumable, per-process batching.

A data set is a dict of splits, each a dict of numpy arrays sharing their
leading axis (images `{'image': uint8 [N, H, W, C], 'label': int32 [N]}`,
toy data `{'x': float32 [N, D]}`). The batch of global step `t` is a pure
function of (seed, t): epoch e = t // steps_per_epoch is shuffled by a
permutation seeded with (seed, e), so a resumed run reads exactly the batches
an uninterrupted one would. Each process takes its contiguous slice of the
global batch (for `jax.make_array_from_process_local_data`).
"""

import dataclasses
from typing import Any, Iterator

import numpy as np

Batch = dict[str, np.ndarray]


@dataclasses.dataclass
class ArrayDataset:
  """Splits of equally long arrays plus metadata.

  Attributes:
    splits: split name ('train', 'validation', 'test') -> {feature: array}.
    info: metadata, e.g. {'name': 'fashion_mnist', 'shape': (28, 28, 1)}.
  """
  splits: dict[str, Batch]
  info: dict[str, Any]
  _perm_key: tuple | None = dataclasses.field(default=None, repr=False)
  _perm: np.ndarray | None = dataclasses.field(default=None, repr=False)

  def num_examples(self, split: str) -> int:
    """The number of examples of `split` (its arrays' leading size).

    Raises:
      KeyError: no such split.
    """
    self._check_split(split)
    return len(next(iter(self.splits[split].values())))

  def steps_per_epoch(self, batch_size: int, split: str = "train") -> int:
    """Full batches per epoch (the remainder is dropped: static shapes).

    Raises:
      ValueError: batch_size is larger than the split.
      KeyError: no such split.
    """
    n = self.num_examples(split)
    if batch_size > n:
      raise ValueError(f"batch size {batch_size} exceeds the {n} examples of "
                       f"split '{split}'.")
    return n // batch_size

  def _check_split(self, split: str):
    if split not in self.splits:
      raise KeyError(f"split '{split}' not in data set "
                     f"{self.info.get('name')}; have {sorted(self.splits)}.")

  def _permutation(self, split: str, seed: int, epoch: int) -> np.ndarray:
    key = (split, seed, epoch)
    if self._perm_key != key:  # One epoch's permutation is cached.
      rng = np.random.Generator(np.random.PCG64([seed, epoch]))
      self._perm = rng.permutation(self.num_examples(split))
      self._perm_key = key
    return self._perm

  def batch_indices(self, step: int, batch_size: int, seed: int,
                    split: str = "train") -> np.ndarray:
    """Global example indices of training step `step`: int [batch_size].

    Raises:
      ValueError, KeyError: see `steps_per_epoch`.
    """
    epoch, i = divmod(step, self.steps_per_epoch(batch_size, split))
    return self._permutation(split, seed, epoch)[i * batch_size:
                                                 (i + 1) * batch_size]

  def train_batch(self, step: int, batch_size: int, seed: int,
                  process_index: int = 0, process_count: int = 1,
                  split: str = "train") -> Batch:
    """This process's slice of the global batch of `step`.

    Args:
      step: global training step (0-based).
      batch_size: global batch size, divisible by `process_count`.
      seed: shuffling seed.
      process_index, process_count: from `jax.process_index()/count()`.

    Returns:
      {feature: array [batch_size // process_count, ...]}, the split's
      dtypes (uint8 images, int32 labels, float32 toy points).

    Raises:
      ValueError, KeyError: see `steps_per_epoch`.
    """
    local = batch_size // process_count
    idx = self.batch_indices(step, batch_size, seed, split)
    # Sorted before slicing, so the global batch (and the noise each example
    # receives inside the step) is the same for any number of processes.
    idx = np.sort(idx)[process_index * local:(process_index + 1) * local]
    return {k: v[idx] for k, v in self.splits[split].items()}

  def eval_batches(self, split: str, batch_size: int, process_index: int = 0,
                   process_count: int = 1, limit: int | None = None
                   ) -> Iterator[tuple[Batch, np.ndarray]]:
    """Every example of `split` once, in order, in static-shape batches.

    The last batch is padded by repeating the final example; the returned
    mask (float32 [local batch], 1 for real examples) marks real ones.

    Args:
      split: the split's name.
      batch_size: global batch size, divisible by `process_count`.
      process_index, process_count: from `jax.process_index()/count()`.
      limit: read only the first `limit` examples (None: all).

    Yields:
      (batch, mask): this process's slice of each global batch,
      {feature: array [batch_size // process_count, ...]} and float32
      [batch_size // process_count].

    Raises:
      KeyError: no such split.
    """
    n = self.num_examples(split) if limit is None else min(
        limit, self.num_examples(split))
    local = batch_size // process_count
    for start in range(0, n, batch_size):
      idx = np.arange(start, start + batch_size)
      mask = (idx < n).astype(np.float32)
      idx = np.minimum(idx, n - 1)
      sl = slice(process_index * local, (process_index + 1) * local)
      yield ({k: v[idx[sl]] for k, v in self.splits[split].items()}, mask[sl])


def split_validation(train: Batch, validation_size: int,
                     seed: int) -> tuple[Batch, Batch]:
  """Carves a seeded random validation subset out of a training split.

  Args:
    train: {feature: array [N, ...]}.
    validation_size: examples moved to the validation split, in [0, N).
    seed: seed of the subset (numpy PCG64 seeded with (seed, 2**31)).

  Returns:
    (train [N - validation_size, ...], validation [validation_size, ...]),
    each in the original order.

  Raises:
    ValueError: validation_size outside [0, N).
  """
  n = len(next(iter(train.values())))
  if not 0 <= validation_size < n:
    raise ValueError(f"validation_size must be in [0, {n}); got "
                     f"{validation_size}.")
  perm = np.random.Generator(np.random.PCG64([seed, 2**31])).permutation(n)
  val, tr = np.sort(perm[:validation_size]), np.sort(perm[validation_size:])
  return ({k: v[tr] for k, v in train.items()},
          {k: v[val] for k, v in train.items()})

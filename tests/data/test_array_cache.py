"""The decoded-split cache of gdm_jax/data/images.py: a hit equals TFDS's
decode and needs no TensorFlow; any change to the prepared files, or a cache
file that cannot be read, falls back to TFDS; an unwritable folder only warns.
"""

import os

import numpy as np
import pytest

from gdm_jax.data import images


def _fake_prepared(data_dir, name="toyset", version="1.0.0"):
  """DATA_DIR/NAME/VERSION with TFDS's dataset_info.json and one shard."""
  folder = data_dir / name / version
  folder.mkdir(parents=True)
  (folder / "dataset_info.json").write_text("{}")
  (folder / f"{name}-train.tfrecord-00000-of-00001").write_bytes(b"x" * 10)
  return folder


def _arrays():
  rng = np.random.default_rng(0)
  return {"image": rng.integers(0, 256, (5, 4, 4, 1), dtype=np.uint8),
          "label": np.arange(5, dtype=np.int32)}


def test_round_trip_and_invalidation_by_the_prepared_files(tmp_path):
  folder = _fake_prepared(tmp_path)
  assert images.read_array_cache(str(tmp_path), "toyset", "train", None) is None
  arrays = _arrays()
  images.write_array_cache(str(tmp_path), "toyset", "train", None, arrays)
  back = images.read_array_cache(str(tmp_path), "toyset", "train", None)
  assert sorted(back) == ["image", "label"]
  for k, v in arrays.items():
    np.testing.assert_array_equal(back[k], v)
    assert back[k].dtype == v.dtype
  # Another split, another size: other files.
  assert images.read_array_cache(str(tmp_path), "toyset", "test", None) is None
  assert images.read_array_cache(str(tmp_path), "toyset", "train", 8) is None
  # The prepared shard rewritten (TFDS prepared the set again): a miss.
  (folder / "toyset-train.tfrecord-00000-of-00001").write_bytes(b"y" * 11)
  assert images.read_array_cache(str(tmp_path), "toyset", "train", None) is None


def test_torn_cache_file_is_ignored_and_rewritten(tmp_path):
  _fake_prepared(tmp_path)
  images.write_array_cache(str(tmp_path), "toyset", "train", None, _arrays())
  path = images.array_cache_path(str(tmp_path), "toyset", "train", None)
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)
  assert images.read_array_cache(str(tmp_path), "toyset", "train", None) is None
  images.write_array_cache(str(tmp_path), "toyset", "train", None, _arrays())
  assert images.read_array_cache(str(tmp_path), "toyset", "train",
                                 None) is not None
  assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]


def test_unwritable_folder_only_warns(tmp_path, monkeypatch):
  _fake_prepared(tmp_path)
  def refuse(*args, **kwargs):
    raise PermissionError("read-only file system")
  monkeypatch.setattr(images.os, "makedirs", refuse)
  images.write_array_cache(str(tmp_path), "toyset", "train", None, _arrays())
  assert images.read_array_cache(str(tmp_path), "toyset", "train", None) is None


def test_no_cache_without_exactly_one_prepared_version(tmp_path):
  assert images.array_cache_path(str(tmp_path), "toyset", "train", None) is None
  _fake_prepared(tmp_path, version="1.0.0")
  _fake_prepared(tmp_path, version="2.0.0")
  assert images.array_cache_path(str(tmp_path), "toyset", "train", None) is None


def test_fashion_mnist_hit_equals_the_tfds_decode_without_tensorflow(
    tmp_path, monkeypatch, fashion_mnist):
  """Through a data folder holding (a link to) the prepared Fashion-MNIST and
  no cache: the first load decodes with TFDS and writes the cache, the second
  reads it with TFDS made unavailable, and both are equal."""
  del fashion_mnist   # the session fixture: the set is prepared
  prepared = images._prepared_folder(images.default_data_dir(),  # pylint: disable=protected-access
                                     "fashion_mnist")
  (tmp_path / "fashion_mnist").mkdir()
  os.symlink(prepared, tmp_path / "fashion_mnist" / os.path.basename(prepared))
  decoded = images.load_tfds_arrays("fashion_mnist", "test", str(tmp_path))
  def no_tfds():
    raise AssertionError("TFDS imported although the split is cached")
  monkeypatch.setattr(images, "_tfds", no_tfds)
  cached = images.load_tfds_arrays("fashion_mnist", "test", str(tmp_path))
  assert cached["image"].shape == (10000, 28, 28, 1)
  for k in ("image", "label"):
    np.testing.assert_array_equal(cached[k], decoded[k])
    assert cached[k].dtype == decoded[k].dtype
  with pytest.raises(AssertionError, match="TFDS imported"):
    images.load_tfds_arrays("fashion_mnist", "test[:10]", str(tmp_path))

"""Tests of the offline Fashion-MNIST (gdm_jax/data/fashion_mnist.py, images.py).

Uses the session fixture `fashion_mnist` (tests/conftest.py) and Debian's IDX
files in /usr/share/datasets/fashion-mnist; nothing may touch the network.
"""

import gzip
import hashlib
import os
import shutil
import socket

import chex
import numpy as np
import pytest

from gdm_jax.data import fashion_mnist as fm
from gdm_jax.data import images
from gdm_jax.data.fashion_mnist import DataError


@pytest.fixture
def no_network(monkeypatch):
  """Refuses (and records) every attempt to reach the network from Python;
  the test fails if there was any, even if the caller swallowed the error."""
  attempts = []
  def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network access is disabled in this test")
  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket.socket, "connect_ex", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket, "getaddrinfo", refuse)
  yield attempts
  assert not attempts, f"network access attempted: {attempts}"


def _example_digests(image, label):
  """Sorted per-example hashes: compares two sets of examples regardless of order."""
  return sorted(hashlib.md5(im.tobytes() + bytes([lb])).hexdigest()
                for im, lb in zip(image, label))


# ------------------------------------------------------------- the data set


def test_splits_sizes_dtypes_and_ranges(fashion_mnist):
  ds = fashion_mnist
  sizes = {"train": 55000, "validation": 5000, "test": 10000}
  for split, n in sizes.items():
    data = ds.splits[split]
    assert ds.num_examples(split) == n
    chex.assert_shape([data["image"], data["label"]], [(n, 28, 28, 1), (n,)])
    chex.assert_type(data["image"], np.uint8)
    assert np.issubdtype(data["label"].dtype, np.integer)
    assert set(np.unique(data["label"]).tolist()) == set(range(10))
    assert data["image"].min() == 0 and data["image"].max() == 255
  assert ds.info["shape"] == (28, 28, 1)
  assert ds.info["num_classes"] == 10
  assert ds.info["name"] == "fashion_mnist"
  # Balanced classes: 6000 per class in train+validation, 1000 in test.
  tv = np.concatenate([ds.splits["train"]["label"], ds.splits["validation"]["label"]])
  np.testing.assert_array_equal(np.bincount(tv), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(ds.splits["test"]["label"]), [1000] * 10)


def test_splits_match_the_debian_files(fashion_mnist):
  """Train + validation is exactly Debian's training file, test its test file."""
  raw = fm.read_local(fm.DEBIAN_DIR)
  ds = fashion_mnist.splits
  assert _example_digests(ds["test"]["image"], ds["test"]["label"]) == (
      _example_digests(raw["test_images"], raw["test_labels"]))
  train_val_image = np.concatenate([ds["train"]["image"], ds["validation"]["image"]])
  train_val_label = np.concatenate([ds["train"]["label"], ds["validation"]["label"]])
  assert _example_digests(train_val_image, train_val_label) == (
      _example_digests(raw["train_images"], raw["train_labels"]))


def test_stock_tfds_load_works_offline(fashion_mnist, no_network):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = images.default_data_dir()    # $TFDS_DATA_DIR or ~/tensorflow_datasets
  test = tfds.as_numpy(tfds.load("fashion_mnist", split="test", data_dir=data_dir,
                                 batch_size=-1, download=False))
  chex.assert_shape(test["image"], (10000, 28, 28, 1))
  chex.assert_type(test["image"], np.uint8)
  ours = fashion_mnist.splits["test"]
  # The same examples, in the same order.
  np.testing.assert_array_equal(test["image"], ours["image"])
  np.testing.assert_array_equal(test["label"], ours["label"])


# ------------------------------------------------------- the local IDX files


def test_read_idx_reads_valid_files():
  name, magic, count = fm.FILES["test_labels"]
  labels = fm.read_idx(os.path.join(fm.DEBIAN_DIR, name), magic, count)
  chex.assert_shape(labels, (10000,))
  chex.assert_type(labels, np.uint8)
  assert labels.max() == 9


def test_missing_files_raise_with_install_hint(tmp_path, monkeypatch):
  monkeypatch.setenv("GDM_JAX_FASHION_MNIST_DIR", str(tmp_path))
  assert fm.local_dir() == str(tmp_path)
  with pytest.raises(DataError) as err:
    fm.read_local()
  message = str(err.value)
  assert str(tmp_path / "train-images-idx3-ubyte.gz") in message
  assert "apt-get install -y dataset-fashion-mnist" in message


LABELS = "t10k-labels-idx1-ubyte.gz"


def _corrupt(path, corruption):
  real = open(os.path.join(fm.DEBIAN_DIR, LABELS), "rb").read()
  if corruption == "truncated_gzip":       # a real .gz cut in half
    path.write_bytes(real[:len(real) // 2])
  elif corruption == "garbage":
    path.write_bytes(b"this is not a gzip file" * 10)
  elif corruption == "bad_header":         # valid gzip, image magic in a label file
    raw = gzip.decompress(real)
    path.write_bytes(gzip.compress((2051).to_bytes(4, "big") + raw[4:]))
  elif corruption == "short_data":         # valid gzip, header fine, data cut
    path.write_bytes(gzip.compress(gzip.decompress(real)[:5000]))
  else:
    path.write_bytes(b"")


@pytest.mark.parametrize("corruption", ["truncated_gzip", "garbage", "bad_header",
                                        "short_data", "empty"])
def test_corrupt_file_raises_naming_it(tmp_path, corruption):
  path = tmp_path / LABELS
  _corrupt(path, corruption)
  _, magic, count = fm.FILES["test_labels"]
  with pytest.raises(DataError, match="dataset-fashion-mnist") as err:
    fm.read_idx(str(path), magic, count)
  assert str(path) in str(err.value)


def test_read_local_reports_the_corrupt_file(tmp_path, monkeypatch):
  for name, _, _ in fm.FILES.values():     # the real files, but one
    if name != LABELS:
      os.symlink(os.path.join(fm.DEBIAN_DIR, name), tmp_path / name)
  _corrupt(tmp_path / LABELS, "truncated_gzip")
  monkeypatch.setenv("GDM_JAX_FASHION_MNIST_DIR", str(tmp_path))
  with pytest.raises(DataError, match="corrupt") as err:
    fm.read_local()
  assert str(tmp_path / LABELS) in str(err.value)
  assert "apt-get install -y dataset-fashion-mnist" in str(err.value)


def test_wrong_count_is_a_header_mismatch(tmp_path):
  shutil.copy(os.path.join(fm.DEBIAN_DIR, LABELS), tmp_path / "copy.gz")
  labels = fm.read_idx(str(tmp_path / "copy.gz"), 2049, 10000)
  chex.assert_shape(labels, (10000,))
  with pytest.raises(DataError, match="header"):
    fm.read_idx(str(tmp_path / "copy.gz"), 2049, 60000)


# -------------------------------------------------------- other TFDS sets


def test_preparing_without_local_files_raises(tmp_path, monkeypatch, no_network):
  """On a machine without the Debian package, loading Fashion-MNIST into a new
  TFDS folder says which file is missing and how to install it."""
  monkeypatch.setenv("GDM_JAX_FASHION_MNIST_DIR", str(tmp_path / "empty"))
  data_dir = str(tmp_path / "tfds")
  with pytest.raises(DataError) as err:
    images.load_tfds_arrays("fashion_mnist", "test", data_dir=data_dir)
  assert str(tmp_path / "empty" / "train-images-idx3-ubyte.gz") in str(err.value)
  assert "apt-get install -y dataset-fashion-mnist" in str(err.value)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  assert not tfds.builder("fashion_mnist", data_dir=data_dir).is_prepared()


def test_unprepared_tfds_set_raises_with_fix(tmp_path, no_network):
  with pytest.raises(DataError) as err:
    images.load_tfds_arrays("mnist", "test", data_dir=str(tmp_path), download=False)
  message = str(err.value)
  assert "mnist" in message and str(tmp_path) in message
  assert "not prepared" in message
  assert "download" in message and "data_dir" in message     # how to fix it
  assert not list(tmp_path.rglob("*.tfrecord*"))

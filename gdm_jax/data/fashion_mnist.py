"""Fashion-MNIST from Debian's `dataset-fashion-mnist`, served through TFDS.

Debian ships the upstream IDX files re-gzipped, so TFDS's recorded checksums
reject them. `LocalFashionMnist` subclasses TFDS's own builder and reads the
local files instead of downloading, keeping the stock name and version
(`fashion_mnist:3.0.1`), so after `prepare(data_dir)` the stock call
`tfds.load('fashion_mnist', data_dir=data_dir)` works offline.
"""

import gzip
import os
import zlib

import numpy as np

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_HINT = "apt-get install -y dataset-fashion-mnist"
FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", 2051, 60000),
    "train_labels": ("train-labels-idx1-ubyte.gz", 2049, 60000),
    "test_images": ("t10k-images-idx3-ubyte.gz", 2051, 10000),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", 2049, 10000),
}


class DataError(RuntimeError):
  """A data set is missing, corrupt or unavailable; the message says how to fix it."""


def local_dir() -> str:
  """The folder with the IDX files: $GDM_JAX_FASHION_MNIST_DIR or Debian's."""
  return os.environ.get("GDM_JAX_FASHION_MNIST_DIR", DEBIAN_DIR)


def read_idx(path: str, magic: int, count: int) -> np.ndarray:
  """Reads and validates one gzipped IDX file.

  Args:
    path: path of an `*-idx{1,3}-ubyte.gz` file.
    magic: expected IDX magic number (2051 images, 2049 labels).
    count: expected number of items.

  Returns:
    uint8 array [count, 28, 28, 1] for images, [count] for labels.

  Raises:
    DataError: the file is missing, not gzip, truncated, or has the wrong
      header; the message names the file and the install command.
  """
  fix = f"Reinstall it with: {INSTALL_HINT} --reinstall"
  if not os.path.exists(path):
    raise DataError(f"Fashion-MNIST file {path} is missing. Install it with: "
                    f"{INSTALL_HINT}")
  try:
    with gzip.open(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(f"Fashion-MNIST file {path} is corrupt ({e}). {fix}") from e
  ndim = 3 if magic == 2051 else 1
  header = 4 * (1 + ndim)
  if len(raw) < header:
    raise DataError(f"Fashion-MNIST file {path} is truncated. {fix}")
  dims = np.frombuffer(raw[:header], dtype=">u4")
  expected = [magic, count] + ([28, 28] if ndim == 3 else [])
  if list(dims) != expected:
    raise DataError(f"Fashion-MNIST file {path} has header {list(dims)}, "
                    f"expected {expected}. {fix}")
  size = count * (784 if ndim == 3 else 1)
  if len(raw) != header + size:
    raise DataError(f"Fashion-MNIST file {path} holds {len(raw) - header} "
                    f"bytes of data, expected {size}. {fix}")
  data = np.frombuffer(raw, dtype=np.uint8, offset=header)
  return data.reshape(count, 28, 28, 1) if ndim == 3 else data


def read_local(directory: str | None = None) -> dict[str, np.ndarray]:
  """Reads and validates all four files of `directory` (default `local_dir()`).

  Returns:
    {'train_images': uint8 [60000, 28, 28, 1], 'train_labels': uint8
    [60000], 'test_images': uint8 [10000, 28, 28, 1], 'test_labels': uint8
    [10000]}.

  Raises:
    DataError: see `read_idx`.
  """
  directory = directory or local_dir()
  return {k: read_idx(os.path.join(directory, name), magic, count)
          for k, (name, magic, count) in FILES.items()}


def _builder_class():
  """Defined lazily so that importing gdm_jax does not import TFDS."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.image_classification import mnist  # pylint: disable=g-import-not-at-top

  class LocalFashionMnist(mnist.FashionMNIST, skip_registration=True):
    """TFDS `fashion_mnist` built from local IDX files instead of a download."""
    name = "fashion_mnist"

    def _split_generators(self, dl_manager):
      del dl_manager  # Nothing is downloaded.
      arrays = read_local()
      return [
          tfds.core.SplitGenerator(
              name=split, gen_kwargs=dict(images=arrays[f"{prefix}_images"],
                                          labels=arrays[f"{prefix}_labels"]))
          for split, prefix in ((tfds.Split.TRAIN, "train"),
                                (tfds.Split.TEST, "test"))]

    def _generate_examples(self, images, labels):  # pylint: disable=arguments-differ
      for i, (image, label) in enumerate(zip(images, labels)):
        yield i, {"image": image, "label": int(label)}

  return LocalFashionMnist


def prepare(data_dir: str | None) -> None:
  """Writes TFDS's `fashion_mnist` into `data_dir` from the local files.

  Idempotent: a prepared data set is left as it is.

  Raises:
    DataError: a local file is missing or corrupt.
  """
  builder = _builder_class()(data_dir=data_dir)
  builder.download_and_prepare(
      download_config=_download_config())


def _download_config():
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.download.DownloadConfig(try_download_gcs=False)

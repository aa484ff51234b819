"""Named TFDS image data sets, loaded into memory as uint8 arrays.

`fashion_mnist` is prepared offline from Debian's files (see
`fashion_mnist.py`); every other TFDS image set (mnist, cifar10, celeb_a ...)
is read from `data_dir`, and downloaded only when `download=True`.
"""

import os

import numpy as np

from gdm_jax.data import fashion_mnist
from gdm_jax.data.fashion_mnist import DataError
from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.data.pipeline import split_validation


def default_data_dir() -> str:
  """TFDS's data folder: $TFDS_DATA_DIR or ~/tensorflow_datasets."""
  return os.environ.get("TFDS_DATA_DIR",
                        os.path.expanduser("~/tensorflow_datasets"))


def _tfds():
  """Imports TFDS with TensorFlow kept off any accelerator JAX uses."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.set_visible_devices([], "GPU")
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds


def load_tfds_arrays(name: str, split: str, data_dir: str | None = None,
                     download: bool = False,
                     image_size: int | None = None) -> dict[str, np.ndarray]:
  """Reads one TFDS split into memory.

  Args:
    name: TFDS name, e.g. 'fashion_mnist', 'mnist', 'cifar10', 'celeb_a'.
    split: TFDS split string, e.g. 'train', 'test'.
    data_dir: TFDS data folder (default $TFDS_DATA_DIR or ~/tensorflow_datasets).
    download: allow TFDS to download a missing set (off by default: runs must
      not touch the network unless asked).
    image_size: if given, images are resized (area) to image_size² first.

  Returns:
    {'image': uint8 [N, H, W, C], 'label': int32 [N]} ('label' only if the
    set has one).

  Raises:
    DataError: the set is not prepared and may not or cannot be downloaded,
      or the local Fashion-MNIST files are missing or corrupt.
  """
  data_dir = data_dir or default_data_dir()
  tfds = _tfds()
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    if name == "fashion_mnist" and not download:
      fashion_mnist.prepare(data_dir)
      builder = tfds.builder(name, data_dir=data_dir)
    elif download:
      try:
        builder.download_and_prepare()
      except Exception as e:  # pylint: disable=broad-except
        raise DataError(f"TFDS could not download and prepare '{name}' into "
                        f"{data_dir}: {e}") from e
    else:
      raise DataError(
          f"TFDS data set '{name}' is not prepared under {data_dir}. Prepare "
          f"it where the internet is reachable (set --config.data.download="
          f"True), or point --config.data.data_dir at a prepared copy.")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  ds = builder.as_dataset(split=split, shuffle_files=False)
  features = builder.info.features
  has_label = "label" in features
  image_key = "image"

  def convert(ex):
    image = ex[image_key]
    if image_size is not None:
      image = tf.cast(tf.image.resize(image, (image_size, image_size),
                                      method="area", antialias=True), tf.uint8)
    out = {"image": image}
    if has_label:
      out["label"] = tf.cast(ex["label"], tf.int32)
    return out

  ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
  chunks = list(tfds.as_numpy(ds))
  return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def load_image_dataset(name: str = "fashion_mnist", data_dir: str | None = None,
                       validation_size: int = 5000, split_seed: int = 0,
                       download: bool = False,
                       image_size: int | None = None) -> ArrayDataset:
  """Train / validation / test splits of a TFDS image set, in memory.

  The validation split is a seeded random subset of TFDS's 'train' split of
  `validation_size` examples (TFDS's own 'validation' split is not used, so
  every set is treated alike); 'test' is TFDS's 'test'.

  Returns:
    ArrayDataset of {'image': uint8 [N, H, W, C], 'label': int32 [N]} splits
    with info {'name', 'shape': (H, W, C), 'num_classes'}.

  Raises:
    DataError: see `load_tfds_arrays`.
    ValueError: validation_size outside [0, N_train).
  """
  train = load_tfds_arrays(name, "train", data_dir, download, image_size)
  test = load_tfds_arrays(name, "test", data_dir, download, image_size)
  train, validation = split_validation(train, validation_size, split_seed)
  labels = train.get("label")
  info = {"name": name, "shape": tuple(train["image"].shape[1:]),
          "num_classes": int(labels.max()) + 1 if labels is not None else 0}
  return ArrayDataset({"train": train, "validation": validation,
                       "test": test}, info)

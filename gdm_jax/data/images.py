"""Named TFDS image data sets, loaded into memory as uint8 arrays.

`fashion_mnist` is prepared offline from Debian's files (see
`fashion_mnist.py`); every other TFDS image set (mnist, cifar10, celeb_a ...)
is read from `data_dir`, and downloaded only when `download=True`.

A split, once decoded by TFDS, is kept as a `.npz` file under
DATA_DIR/gdm_jax_arrays/ together with a fingerprint of TFDS's prepared files
(names, sizes, modification times): later runs read it in a fraction of a
second without importing TensorFlow, and any change to the prepared set, or a
cache file that cannot be read, sends the load back through TFDS.
"""

import glob
import hashlib
import json
import os
import re
import tempfile

from absl import logging
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
    set has one), from the split's array cache when it matches the prepared
    files (see the module docstring), else decoded by TFDS and cached.

  Raises:
    DataError: the set is not prepared and may not or cannot be downloaded,
      or the local Fashion-MNIST files are missing or corrupt.
  """
  data_dir = data_dir or default_data_dir()
  cached = read_array_cache(data_dir, name, split, image_size)
  if cached is not None:
    return cached
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
  arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
  write_array_cache(data_dir, name, split, image_size, arrays)
  return arrays


def _prepared_folder(data_dir: str, name: str) -> str | None:
  """DATA_DIR/NAME/VERSION when exactly one prepared version exists."""
  infos = glob.glob(os.path.join(glob.escape(data_dir), glob.escape(name), "*",
                                 "dataset_info.json"))
  return os.path.dirname(infos[0]) if len(infos) == 1 else None


def _fingerprint(folder: str) -> str:
  """Names, sizes and modification times of the files TFDS prepared."""
  entries = []
  for entry in sorted(os.scandir(folder), key=lambda e: e.name):
    if entry.is_file():
      stat = entry.stat()
      entries.append([entry.name, stat.st_size, stat.st_mtime_ns])
  return json.dumps(entries)


def _cache_location(data_dir: str, name: str, split: str,
                    image_size: int | None) -> tuple[str, str] | None:
  """(cache file, prepared folder) of a split; None when the set is not
  prepared (or several versions are, so that TFDS must choose)."""
  folder = _prepared_folder(data_dir, name)
  if folder is None:
    return None
  label = f"{split}|{image_size or 'native'}"
  digest = hashlib.sha1(label.encode()).hexdigest()[:10]
  stem = re.sub(r"[^\w.-]", "_", f"{split}_{image_size or 'native'}")
  return (os.path.join(data_dir, "gdm_jax_arrays", name,
                       os.path.basename(folder), f"{stem}_{digest}.npz"),
          folder)


def array_cache_path(data_dir: str, name: str, split: str,
                     image_size: int | None) -> str | None:
  """DATA_DIR/gdm_jax_arrays/NAME/VERSION/<split>_<size>_<hash>.npz, the cache
  file of one decoded split; None when the set is not prepared (or several
  versions are, so that TFDS must choose)."""
  location = _cache_location(data_dir, name, split, image_size)
  return None if location is None else location[0]


def read_array_cache(data_dir: str, name: str, split: str,
                     image_size: int | None) -> dict[str, np.ndarray] | None:
  """The cached arrays of a decoded split, or None when there is no cache
  file, it was written from other prepared files, or it cannot be read (a
  torn or corrupt file: the caller decodes again and rewrites it)."""
  location = _cache_location(data_dir, name, split, image_size)
  if location is None or not os.path.exists(location[0]):
    return None
  path, folder = location
  fingerprint = _fingerprint(folder)
  try:
    with np.load(path, allow_pickle=False) as f:
      if str(f["fingerprint"]) != fingerprint:
        return None
      return {k: f[k] for k in f.files if k != "fingerprint"}
  except Exception as e:  # pylint: disable=broad-except
    logging.warning("Ignoring the unreadable array cache %s (%s); decoding "
                    "the split through TFDS again.", path, e)
    return None


def write_array_cache(data_dir: str, name: str, split: str,
                      image_size: int | None,
                      arrays: dict[str, np.ndarray]) -> None:
  """Writes the cache file of a decoded split atomically (a temporary file,
  then a rename, so a concurrent reader sees the old file or the new one);
  a data folder that cannot be written only loses the speed-up (a warning)."""
  location = _cache_location(data_dir, name, split, image_size)
  if location is None:
    return
  path, folder = location
  fingerprint = _fingerprint(folder)
  temporary = None
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), suffix=".tmp",
                                     delete=False) as f:
      temporary = f.name
      np.savez(f, fingerprint=np.array(fingerprint), **arrays)
    os.chmod(temporary, 0o644)   # as readable as TFDS's own files
    os.replace(temporary, path)
  except OSError as e:
    if temporary is not None and os.path.exists(temporary):
      os.remove(temporary)
    logging.warning("Could not write the array cache %s (%s); every run will "
                    "decode the split through TFDS.", path, e)


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

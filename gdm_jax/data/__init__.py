"""Input pipelines: named TFDS image sets, local Fashion-MNIST, preprocessing."""

from gdm_jax.data.fashion_mnist import DataError
from gdm_jax.data.images import load_image_dataset
from gdm_jax.data.images import load_tfds_arrays
from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.data.pipeline import Batch
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing


def load(config) -> ArrayDataset:
  """The data set named by a `config.data` ConfigDict."""
  return load_image_dataset(
      name=config.name, data_dir=config.get("data_dir") or None,
      validation_size=config.validation_size, split_seed=config.split_seed,
      download=config.download, image_size=config.get("image_size") or None)

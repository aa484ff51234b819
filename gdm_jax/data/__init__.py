"""Input pipelines: named TFDS image sets, local Fashion-MNIST, toy 1-D/2-D
distributions, preprocessing."""

from gdm_jax.data.fashion_mnist import DataError
from gdm_jax.data.images import load_image_dataset
from gdm_jax.data.images import load_tfds_arrays
from gdm_jax.data.pipeline import ArrayDataset
from gdm_jax.data.pipeline import Batch
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.data.toy import get_toy
from gdm_jax.data.toy import is_toy
from gdm_jax.data.toy import load_toy_dataset
from gdm_jax.data.toy import TOY_DATASETS
from gdm_jax.data.toy import ToyDistribution


def load(config) -> ArrayDataset:
  """The data set named by a `config.data` ConfigDict.

  Toy names (`TOY_DATASETS`) read `name`, `split_seed` (the data seed, default
  0) and the optional `toy_num_train` (100,000), `toy_num_validation`
  (10,000), `toy_num_test` (10,000) and `toy_params` (overrides of the set's
  parameters, e.g. {'std': 0.05}); every other name is a TFDS image set.

  Returns:
    ArrayDataset: toy splits {'x': float32 [N, D]}, image splits
    {'image': uint8 [N, H, W, C], 'label': int32 [N]}.

  Raises:
    DataError: an image set is missing and may not or cannot be downloaded.
    ValueError: an unknown toy set or parameter, or split sizes out of range.
  """
  if is_toy(config.name):
    params = config.get("toy_params", None)
    if params is not None and hasattr(params, "to_dict"):
      params = params.to_dict()
    return load_toy_dataset(
        config.name, num_train=config.get("toy_num_train", 100_000),
        num_validation=config.get("toy_num_validation", 10_000),
        num_test=config.get("toy_num_test", 10_000),
        seed=config.get("split_seed", 0), params=params)
  return load_image_dataset(
      name=config.name, data_dir=config.get("data_dir") or None,
      validation_size=config.validation_size, split_seed=config.split_seed,
      download=config.download, image_size=config.get("image_size") or None)

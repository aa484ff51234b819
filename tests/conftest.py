"""Shared fixtures: the prepared Fashion-MNIST (offline).

Importing tests/helpers.py first sets the suite's XLA flags
(helpers.TEST_XLA_FLAGS) before anything imports jax.
"""

import pytest

from tests import helpers  # pylint: disable=unused-import


@pytest.fixture(scope="session")
def fashion_mnist():
  """The in-memory Fashion-MNIST data set (prepared once into TFDS's folder)."""
  from gdm_jax.data import load_image_dataset
  return load_image_dataset("fashion_mnist")

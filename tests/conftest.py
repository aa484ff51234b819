"""Shared fixtures: the prepared Fashion-MNIST (offline) and small helpers."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def fashion_mnist():
  """The in-memory Fashion-MNIST data set (prepared once into TFDS's folder)."""
  from gdm_jax.data import load_image_dataset
  return load_image_dataset("fashion_mnist")

"""Shared fixtures: the prepared Fashion-MNIST (offline) and small helpers."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Tests compile many small programs once each: XLA:CPU's backend at -O0
# compiles ~35% faster and the programs are too small for its optimisations
# to matter. Set before jax is imported; subprocesses get it through
# `subprocess_xla_flags` (tests/test_cli.py's _env and the multi-process tests).
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def subprocess_xla_flags(extra: str = "") -> str:
  """XLA_FLAGS for a test's subprocess: the suite's flags plus `extra`."""
  return f"{TEST_XLA_FLAGS} {extra}".strip()


if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()


@pytest.fixture(scope="session")
def fashion_mnist():
  """The in-memory Fashion-MNIST data set (prepared once into TFDS's folder)."""
  from gdm_jax.data import load_image_dataset
  return load_image_dataset("fashion_mnist")

"""The project's Fashion-MNIST classifier: the feature network of FID/KID/IS.

Sample-quality numbers are only comparable when every run scores its samples
with the same network, so the project trains one small CNN once
(`experiments/train_classifier.py`) and commits its weights here
(`gdm_jax/eval/weights/fashion_mnist_classifier.msgpack`, float16 msgpack,
with a JSON record of its test accuracy, seed, command and sha256). Inception
features, the usual choice, describe 299x299 natural images; for 28x28
grey-scale clothes a classifier of the data set itself is the standard
substitute (as in the MNIST/Fashion-MNIST experiments of Binkowski et al.
2018 and Johnson & Zhang 2018).

The network maps x float32 [N, 28, 28, 1] in [0, 1] to

  features = ReLU(W_f h(x) + b_f)       # [N, 128], the penultimate layer
  logits   = W_y features + b_y         # [N, 10]
  p(y | x) = softmax(logits)

where h is two conv(3x3)-ReLU-maxpool(2x2) blocks (16 and 32 channels) on
the standardised image. `features` plays the role of Inception's pool3
activations and `p(y | x)` of its softmax.

References:
  Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge
    to a Local Nash Equilibrium" (FID), arXiv:1706.08500.
  Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST", arXiv:1708.07747.
"""

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from gdm_jax import checks

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "fashion_mnist_classifier.msgpack"
# Run from the repository root; writes DEFAULT_WEIGHTS and its JSON record.
REGENERATE_COMMAND = "nice -n 10 python -m experiments.train_classifier"
NAME = "fashion_mnist_cnn_f128"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# Pixel mean and standard deviation of the Fashion-MNIST training images in
# [0, 1] (Xiao et al. 2017's data; fixed constants, not learned).
_PIXEL_MEAN = 0.2860
_PIXEL_STD = 0.3530


class FashionMnistCNN(nn.Module):
  """Small CNN returning (features [N, F], logits [N, num_classes]).

  Attributes:
    channels: output channels of the conv-ReLU-maxpool blocks.
    feature_dim: width F of the penultimate (feature) layer.
    num_classes: number of logits.
    dropout_rate: dropout on the features during training only.
  """
  channels: tuple[int, ...] = (16, 32)
  feature_dim: int = 128
  num_classes: int = NUM_CLASSES
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, train: bool = False):
    """Float [N, 28, 28, 1] in [0, 1] -> (features [N, feature_dim],
    logits [N, num_classes]), float32 for float32 input.

    Raises:
      ValueError: x is not a floating [N, 28, 28, 1] array.
    """
    checks.check_arg("FashionMnistCNN.__call__", "x", x,
                     "floating [N, 28, 28, 1]")
    x = (x - _PIXEL_MEAN) / _PIXEL_STD                  # [N, 28, 28, 1]
    for c in self.channels:
      x = nn.relu(nn.Conv(c, (3, 3), padding="SAME")(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))        # [N, 14, 14, 16] ...
    x = x.reshape((x.shape[0], -1))                      # [N, 7 * 7 * 32]
    features = nn.relu(nn.Dense(self.feature_dim, name="features")(x))
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    logits = nn.Dense(self.num_classes, name="logits")(h)
    return features, logits


class Classifier(NamedTuple):
  """A loaded feature network.

  Attributes:
    params: float32 parameter tree of `net`.
    net: the flax module.
    apply: jitted (params, images float32 [B, 28, 28, 1]) ->
      (features float32 [B, F], logits float32 [B, 10]).
    weights_sha256: hex sha256 of the weights file the params came from.
    name: the architecture's name, reported in every metric's protocol.
  """
  params: Any
  net: nn.Module
  apply: Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]
  weights_sha256: str
  name: str


@functools.lru_cache(maxsize=None)
def _jitted_apply(net: nn.Module) -> Callable:
  """One compiled forward pass per architecture (cached across loads)."""
  return jax.jit(lambda params, x: net.apply({"params": params}, x))


@functools.lru_cache(maxsize=None)
def _features_probs(apply: Callable) -> Callable:
  def fn(params, x):
    features, logits = apply(params, x)
    return features, jax.nn.softmax(logits, axis=-1)
  return jax.jit(fn)


def init_params(net: nn.Module, rng: jax.Array) -> Any:
  """Random float32 parameters of `net` (flax's initialisers, from `rng`)
  for [N, 28, 28, 1] inputs: the 'params' collection."""
  return net.init(rng, jnp.zeros((1,) + IMAGE_SHAPE, jnp.float32))["params"]


def sha256_of_file(path: str | os.PathLike) -> str:
  """The hex sha256 of a file's bytes (read in 1 MiB chunks).

  Raises:
    OSError: the file cannot be read.
  """
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def record_path(weights_path: str | os.PathLike) -> Path:
  """The JSON record written next to a weights file (same stem, .json)."""
  return Path(weights_path).with_suffix(".json")


def save_params(params: Any, path: str | os.PathLike) -> str:
  """Writes params as float16 msgpack (flax.serialization); returns sha256.

  The file is written to `path`.tmp first and renamed, so a reader never
  sees half a file.

  Raises:
    OSError: the folder or file cannot be written.
  """
  half = jax.tree.map(lambda a: np.asarray(a, np.float16), params)
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_bytes(serialization.to_bytes(half))
  os.replace(tmp, path)
  return sha256_of_file(path)


def load_classifier(path: str | os.PathLike | None = None) -> Classifier:
  """Loads the committed classifier (or the weights file at `path`).

  Args:
    path: a msgpack file written by `experiments/train_classifier.py`
      (default: gdm_jax/eval/weights/fashion_mnist_classifier.msgpack).

  Returns:
    Classifier with float32 params.

  Raises:
    FileNotFoundError: the weights file does not exist.
    ValueError: the file is not a valid weights file of this architecture
      (corrupt, truncated, another network), or its sha256 differs from the
      one recorded in the JSON next to it.
    Both messages name the file and the command that regenerates it.
  """
  path = Path(path) if path is not None else DEFAULT_WEIGHTS
  command = REGENERATE_COMMAND
  if path.resolve() != DEFAULT_WEIGHTS:
    command += f" --output={path}"
  fix = f"Regenerate it with `{command}` (29 minutes on a shared, loaded 2-core CPU)"
  if not path.is_file():
    raise FileNotFoundError(f"classifier weights file {path} not found. {fix}.")
  sha = sha256_of_file(path)
  record = record_path(path)
  if record.is_file():
    try:
      expected = json.loads(record.read_text()).get("sha256")
    except (json.JSONDecodeError, AttributeError) as e:
      raise ValueError(f"classifier record {record} is not valid JSON ({e}). "
                       f"{fix}.") from e
    if expected and expected != sha:
      raise ValueError(
          f"classifier weights file {path} has sha256 {sha}, but {record} "
          f"records {expected}: the file is corrupt or was replaced without "
          f"its record. {fix}.")
  net = FashionMnistCNN()
  template = jax.eval_shape(lambda: init_params(net, jax.random.PRNGKey(0)))
  try:
    raw = serialization.msgpack_restore(path.read_bytes())
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"classifier weights file {path} is not a readable "
                     f"msgpack file ({type(e).__name__}: {e}). {fix}.") from e
  try:
    loaded = serialization.from_state_dict(template, raw)
    jax.tree.map(_check_leaf, template, loaded)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"classifier weights file {path} does not hold the "
                     f"parameters of {NAME} ({e}). {fix}.") from e
  params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), loaded)
  return Classifier(params=params, net=net, apply=_jitted_apply(net),
                    weights_sha256=sha, name=NAME)


def _check_leaf(spec, value):
  value = np.asarray(value)
  if value.shape != spec.shape:
    raise ValueError(f"a parameter has shape {value.shape}, expected "
                     f"{spec.shape}")
  if not np.all(np.isfinite(value)):
    raise ValueError("a parameter is not finite")


def check_images(images, what: str = "images", atol: float = 1e-3) -> np.ndarray:
  """Validates images for the classifier; returns float32 [N, 28, 28, 1].

  uint8 images (0..255) are accepted and divided by 255. Float images must lie
  in [0, 1]; values within `atol` outside are clipped (rounding), anything
  further out is an error, since it usually means the [-1, 1] or [0, 255]
  convention.

  Raises:
    ValueError: wrong rank/shape, a non-numeric or non-finite array, or float
      values outside [-atol, 1 + atol].
  """
  x = np.asarray(images)
  if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE or x.shape[0] == 0:
    raise ValueError(f"{what} must have shape [N, 28, 28, 1] with N >= 1; got "
                     f"{x.shape}.")
  if x.dtype == np.uint8:
    return x.astype(np.float32) / 255.0
  if not jnp.issubdtype(x.dtype, jnp.floating):  # bfloat16 included
    raise ValueError(f"{what} must be float in [0, 1] or uint8 in [0, 255]; "
                     f"got dtype {x.dtype}.")
  x = x.astype(np.float32)
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{what} contain NaN or infinite values.")
  lo, hi = float(x.min()), float(x.max())
  if lo < -atol or hi > 1.0 + atol:
    raise ValueError(
        f"{what} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}] (map "
        f"[-1, 1] data with (x + 1) / 2, [0, 255] data with x / 255, or clip).")
  return np.clip(x, 0.0, 1.0)


def features_and_probs(classifier: Classifier, images, batch_size: int = 500
                       ) -> tuple[np.ndarray, np.ndarray]:
  """Penultimate features and class probabilities of images.

  Runs in batches of a static shape [batch_size, 28, 28, 1] (the last batch
  padded by repeating its final image, the padding dropped), so one compiled
  function serves every N.

  Args:
    classifier: from `load_classifier`.
    images: float [N, 28, 28, 1] in [0, 1], or uint8 [N, 28, 28, 1] in
      [0, 255] (divided by 255).
    batch_size: images per forward pass.

  Returns:
    (features float32 [N, F], probs float32 [N, 10]), probs = softmax(logits).

  Raises:
    ValueError: see `check_images`; batch_size not a positive int.
  """
  checks.check_positive_int("classifier.features_and_probs", "batch_size",
                            batch_size)
  x = check_images(images)
  n = x.shape[0]
  feats, probs = [], []
  for start in range(0, n, batch_size):
    idx = np.minimum(np.arange(start, start + batch_size), n - 1)
    f, p = _features_probs(classifier.apply)(classifier.params, x[idx])
    k = min(batch_size, n - start)
    feats.append(np.asarray(f)[:k])
    probs.append(np.asarray(p)[:k])
  return (np.concatenate(feats).astype(np.float32),
          np.concatenate(probs).astype(np.float32))


def accuracy(classifier: Classifier, images, labels, batch_size: int = 1000
             ) -> float:
  """Fraction of images whose most probable class equals its label.

  Args:
    classifier: from `load_classifier`.
    images: as in `features_and_probs`, [N, 28, 28, 1].
    labels: int [N].
    batch_size: images per forward pass.

  Raises:
    ValueError: see `check_images`; labels not an integer [N] array.
  """
  n = (checks.shape_of(images) or (None,))[0]
  checks.check_array("classifier.accuracy", "labels", labels,
                     shape=(n,), dtype="integer", layout="[N] (N = images)")
  _, probs = features_and_probs(classifier, images, batch_size)
  return float(np.mean(np.argmax(probs, -1) == np.asarray(labels)))

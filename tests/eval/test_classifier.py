"""The committed Fashion-MNIST classifier and `evaluate_samples` on it: test
accuracy >= 90% on the 10k test set, the protocol's sha256, real-vs-real
against noise, input validation, clear errors for missing or corrupt weights,
and a smoke run of `experiments/train_classifier.py`.
"""

import hashlib
import json
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

from gdm_jax.eval import classifier as clf
from gdm_jax.eval import sample_quality as sq
from tests import helpers
from tests.helpers import f
from tests.helpers import i
from tests.helpers import invalid_input_test

WEIGHTS = clf.DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def classifier():
  return clf.load_classifier()


@pytest.fixture(scope="module")
def test_split(fashion_mnist):
  return fashion_mnist.splits["test"]


def test_committed_weights_reach_90_percent_test_accuracy(classifier, test_split):
  assert len(test_split["label"]) == 10_000
  acc = clf.accuracy(classifier, test_split["image"], test_split["label"],
                     batch_size=1000)
  assert acc >= 0.90
  record = json.loads(clf.record_path(WEIGHTS).read_text())
  assert abs(record["test_accuracy"] - acc) < 2e-3   # the record reproduces
  assert record["sha256"] == classifier.weights_sha256
  assert WEIGHTS.stat().st_size < 1_000_000


def test_protocol_names_the_weights_and_real_beats_noise(classifier, test_split):
  sha = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
  images, labels = test_split["image"], test_split["label"]
  small = dict(kid_subsets=10, kid_subset_size=200)
  # The same 400 images as samples (float) and reference (uint8): FID 0,
  # precision = recall = 1.
  same, protocol = sq.evaluate_samples(
      images[:400].astype(np.float32) / 255.0, images[:400], labels[:400],
      reference_split="test", **small)   # default classifier: loads the file
  assert protocol["weights_sha256"] == sha
  assert protocol["feature_network"] == clf.NAME
  assert protocol["num_generated"] == protocol["num_reference"] == 400
  assert protocol["reference_split"] == "test"
  assert protocol["pr_k"] == 3 and protocol["kid_subsets"] == 10
  assert set(same) == {"fid", "kid", "kid_std", "inception_score",
                       "inception_score_std", "diversity_score", "precision",
                       "recall"}
  assert abs(same["fid"]) < 1e-6 * np.trace(np.cov(
      clf.features_and_probs(classifier, images[:400])[0], rowvar=False))
  assert same["precision"] == 1.0 and same["recall"] == 1.0
  # Other real images against noise images (N = 100, the smallest the
  # trainer asks for).
  real, _ = sq.evaluate_samples(images[400:500], images[500:1500],
                                labels[500:1500], classifier, **small)
  rng = np.random.default_rng(0)
  noise, _ = sq.evaluate_samples(rng.uniform(size=(100, 28, 28, 1)),
                                 images[500:1500], labels[500:1500],
                                 classifier, **small)
  assert real["fid"] < 0.1 * noise["fid"]
  assert real["kid"] < 0.1 * noise["kid"]
  # Noise images land in one small region among the real features (mostly
  # classified as bags), so k-NN precision does not flag them with this
  # feature network; recall does (no real image is near them).
  assert real["precision"] > 0.5 and real["recall"] > 0.5
  assert noise["recall"] < 0.05
  assert real["diversity_score"] > noise["diversity_score"]
  assert real["diversity_score"] > 0.8
  assert 1.0 < real["inception_score"] <= 10.0


def test_features_and_probs_batching_dtypes_and_errors(classifier, test_split):
  images = test_split["image"][:130]
  f1, p1 = clf.features_and_probs(classifier, images, batch_size=500)
  f2, p2 = clf.features_and_probs(classifier, images.astype(np.float32) / 255,
                                  batch_size=64)   # padded last batch
  chex.assert_shape([f1, p1], [(130, 128), (130, 10)])
  chex.assert_type([f1, p1], np.float32)
  np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(p1.sum(-1), 1.0, rtol=1e-5)
  x = images.astype(np.float32) / 255
  with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
    clf.features_and_probs(classifier, x[..., 0])
  with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
    clf.features_and_probs(classifier, 2 * x - 1)
  with pytest.raises(ValueError, match="dtype int32"):
    clf.features_and_probs(classifier, images.astype(np.int32))
  with pytest.raises(ValueError, match="NaN"):
    clf.features_and_probs(classifier, np.full((2, 28, 28, 1), np.nan))


def test_missing_corrupt_and_mismatched_weights_fail_clearly(tmp_path):
  missing = tmp_path / "none.msgpack"
  with pytest.raises(FileNotFoundError, match="experiments.train_classifier") as e:
    clf.load_classifier(missing)
  assert str(missing) in str(e.value)
  data = WEIGHTS.read_bytes()
  truncated = tmp_path / "truncated.msgpack"
  truncated.write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError, match="experiments.train_classifier") as e:
    clf.load_classifier(truncated)
  assert str(truncated) in str(e.value)
  # Another network's parameters.
  other = tmp_path / "other.msgpack"
  params = clf.FashionMnistCNN(feature_dim=16).init(
      jax.random.PRNGKey(0), np.zeros((1, 28, 28, 1), np.float32))["params"]
  clf.save_params(params, other)
  with pytest.raises(ValueError, match="does not hold the parameters"):
    clf.load_classifier(other)
  # A valid file whose record names another sha256 (replaced or bit-flipped).
  copy = tmp_path / "copy.msgpack"
  copy.write_bytes(data)
  clf.record_path(copy).write_text(json.dumps({"sha256": "0" * 64}))
  with pytest.raises(ValueError, match="sha256"):
    clf.load_classifier(copy)


def test_train_classifier_smoke_run(tmp_path):
  out = tmp_path / "w" / "clf.msgpack"
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train_classifier", "--epochs=1",
       "--steps_per_epoch=3", "--seed=1", f"--output={out}",
       f"--workdir={tmp_path / 'wd'}"],
      cwd=helpers.REPO, env=helpers.env(), capture_output=True, text=True,
      timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "test accuracy" in proc.stdout
  record = json.loads(clf.record_path(out).read_text())
  assert record["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
  assert record["epochs"] == 1 and record["seed"] == 1
  assert "--steps_per_epoch=3" in record["command"]
  assert 0.0 <= record["test_accuracy"] <= 1.0
  loaded = clf.load_classifier(out)
  assert loaded.weights_sha256 == record["sha256"]
  assert (tmp_path / "wd" / "classifier_log.jsonl").is_file()


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("cnn_shape",
     lambda: clf.FashionMnistCNN().init(jax.random.key(0), f(2, 14, 14, 1)),
     ["FashionMnistCNN.__call__", "`x`", "(*, 28, 28, 1)", "(2, 14, 14, 1)"]),
    ("features_batch_size",
     lambda: clf.features_and_probs(None, np.zeros((2, 28, 28, 1)), 0),
     ["classifier.features_and_probs", "`batch_size`", "positive", "0"]),
    ("accuracy_labels",
     lambda: clf.accuracy(None, np.zeros((2, 28, 28, 1)), f(2)),
     ["classifier.accuracy", "`labels`", "integer", "float32"]),
    ("accuracy_labels_count",
     lambda: clf.accuracy(None, np.zeros((2, 28, 28, 1)), i(3)),
     ["classifier.accuracy", "`labels`", "(2)", "(3,)"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

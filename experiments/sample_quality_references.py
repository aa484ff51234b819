r"""Reference points for the sample-quality metrics on Fashion-MNIST.

  nice -n 10 python -m experiments.sample_quality_references [--output=FILE.json]

Scores, with `gdm_jax.eval.sample_quality.evaluate_samples` and the committed
classifier, "generators" whose quality is known, so a model's FID/KID/IS/
precision/recall can be read against them:

  train_vs_test_10k   10,000 training images against the test split (the
                      trainer's protocol; a perfect model's expected scores)
  train_vs_test_1k    the same with 1,000 images (FID's small-N bias)
  test_vs_train       the 10,000 test images against the 55,000 training ones
  half_classes        10,000 training images of classes 0-4 only (mode
                      dropping: diversity and recall fall, precision stays)
  noise               10,000 images of uniform noise
  one_image           one test image repeated 10,000 times (total collapse)

Prints a markdown table and writes every metric with its protocol as JSON.
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app
from absl import flags
import numpy as np

from gdm_jax.data import load_image_dataset
from gdm_jax.eval import classifier as clf
from gdm_jax.eval import sample_quality as sq

_OUTPUT = flags.DEFINE_string("output", None, "Optional JSON output file.")
_WEIGHTS = flags.DEFINE_string("weights", None, "Classifier weights (default: "
                               "the committed ones).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the image subsets and noise.")

_COLUMNS = ("fid", "kid", "inception_score", "diversity_score", "precision",
            "recall")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  data = load_image_dataset("fashion_mnist")
  train, test = data.splits["train"], data.splits["test"]
  classifier = clf.load_classifier(_WEIGHTS.value)
  rng = np.random.Generator(np.random.PCG64(_SEED.value))

  def subset(split, n, mask=None):
    idx = np.arange(len(split["label"])) if mask is None else np.flatnonzero(mask)
    return split["image"][np.sort(rng.choice(idx, n, replace=False))]

  cases = {
      "train_vs_test_10k": (subset(train, 10_000), test, "test"),
      "train_vs_test_1k": (subset(train, 1_000), test, "test"),
      "test_vs_train": (test["image"], train, "train"),
      "half_classes": (subset(train, 10_000, train["label"] < 5), test, "test"),
      "noise": (rng.uniform(size=(10_000, 28, 28, 1)).astype(np.float32),
                test, "test"),
      "one_image": (np.repeat(test["image"][:1], 10_000, axis=0), test, "test"),
  }
  results = {}
  print("| case | N | M | " + " | ".join(_COLUMNS) + " | seconds |")
  print("|---" * (len(_COLUMNS) + 4) + "|")
  for name, (samples, ref, split) in cases.items():
    t0 = time.time()
    metrics, protocol = sq.evaluate_samples(
        samples, ref["image"], ref["label"], classifier, reference_split=split,
        seed=_SEED.value)
    seconds = time.time() - t0
    results[name] = {"metrics": metrics, "protocol": protocol,
                     "seconds": seconds}
    cells = [f"{metrics[c]:.4g}" for c in _COLUMNS]
    cells[1] = f"{metrics['kid']:.3g} ± {metrics['kid_std']:.2g}"
    cells[2] = (f"{metrics['inception_score']:.3f} ± "
                f"{metrics['inception_score_std']:.2g}")
    print(f"| {name} | {protocol['num_generated']} | "
          f"{protocol['num_reference']} | " + " | ".join(cells) +
          f" | {seconds:.0f} |", flush=True)
  print(f"feature network {classifier.name}, weights sha256 "
        f"{classifier.weights_sha256}")
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as f:
      json.dump(results, f, indent=1)


if __name__ == "__main__":
  app.run(main)

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
The committed classifier's results (seed 0; also in
gdm_jax/eval/weights/sample_quality_references.json; KID in the polynomial
kernel's units, which depend on the feature scale, so not comparable with
Inception-based KIDs):

| case | N | M | FID | KID | IS | DS | precision | recall |
|---|---|---|---|---|---|---|---|---|
| train_vs_test_10k | 10000 | 10000 | 0.339 | -0.020 ± 0.063 | 8.01 ± 0.08 | 0.9998 | 0.856 | 0.859 |
| train_vs_test_1k | 1000 | 10000 | 2.27 | -0.010 ± 0.064 | 7.71 ± 0.29 | 0.9957 | 0.843 | 0.860 |
| test_vs_train | 10000 | 55000 | 0.199 | -0.004 ± 0.082 | 7.94 ± 0.07 | 0.9999 | 0.854 | 0.853 |
| half_classes | 10000 | 10000 | 158.6 | 8.35 ± 0.91 | 4.36 ± 0.04 | 0.575 | 0.859 | 0.495 |
| noise | 10000 | 10000 | 324.1 | 11.9 ± 0.42 | 1.16 ± 0.004 | 0.220 | 0.870 | 0.000 |
| one_image | 10000 | 10000 | 502.8 | 34.7 ± 0.94 | 1.00 ± 0.00 | 0.198 | 1.000 | 0.0001 |

Uniform noise keeps a high precision: the classifier maps noise images into
one small region inside the real feature cloud (mostly "bag"), so k-NN
precision on these features does not detect it; FID, KID, IS, DS and recall
do. The run took 8.5 minutes of wall time (85 s of CPU) on the shared,
loaded 2-core machine; a 10k-vs-10k evaluation took 60-115 s of wall time.
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

"""Metrics of a model's samples against a data split, for any model family.

`evaluate_generated` draws `num_samples` samples with the model's pure
`sample(params, rng, n)` (in fixed-size chunks, so one compilation) and
scores them against the examples of a reference split:
  - image sets the project's classifier supports (28x28x1: Fashion-MNIST,
    MNIST): FID, KID, Inception Score, diversity score, precision/recall on
    the classifier's features (gdm_jax.eval.sample_quality);
  - toy sets: modes covered, fraction of high-quality samples, exact W1
    (with `w1_data_baseline`, the W1 of as many training examples: the
    finite-sample floor),
    and the mean true log-density of the samples where it has a closed form
    (gdm_jax.eval.toy_metrics);
  - anything else: None (the caller logs that no sample metric applies).
Every result comes with its protocol (feature network and weight hash,
sample counts, reference split), because such numbers mean nothing without it.

`toy_figure` renders a toy run's samples over the data with the model's
critic (GANs) or log-density (flows) as contours, as an RGB image.
"""

from typing import Callable

import jax
import numpy as np

from gdm_jax.data.pipeline import ArrayDataset

# Image shape of the project's classifier (Fashion-MNIST, MNIST).
CLASSIFIER_SHAPE = (28, 28, 1)
# Samples are drawn this many at a time (one compiled shape for any N).
SAMPLE_CHUNK = 500


def draw_samples(sample_fn: Callable, params, rng: jax.Array, num_samples: int,
                 chunk: int = SAMPLE_CHUNK) -> np.ndarray:
  """`num_samples` samples as a host array, drawn `chunk` at a time.

  Args:
    sample_fn: jitted `sample(params, rng, n)` with n static.
    params: the model's parameters.
    rng: key; chunk i uses fold_in(rng, i).
    num_samples: N >= 1.
    chunk: samples per call.

  Returns:
    float32 [N, ...] (images [N, H, W, C] in [0, 1], toy points [N, D]).
  """
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1; got {num_samples}.")
  chunk = min(chunk, num_samples)
  parts = [np.asarray(jax.device_get(sample_fn(params, jax.random.fold_in(rng, i), chunk)))
           for i in range(-(-num_samples // chunk))]
  return np.concatenate(parts)[:num_samples].astype(np.float32)


def applies(info: dict) -> bool:
  """Whether sample metrics are defined for this data set."""
  if info.get("kind") == "toy":
    return True
  return tuple(info.get("shape", ())) == CLASSIFIER_SHAPE


def evaluate_generated(sample_fn: Callable, params, dataset: ArrayDataset,
                       num_samples: int, rng: jax.Array,
                       reference_split: str = "test"
                       ) -> tuple[dict[str, float], dict] | None:
  """Sample metrics of a model against `reference_split` of `dataset`.

  Args:
    sample_fn: jitted `model.sample(params, rng, n)` (n static).
    params: the model's parameters.
    dataset: the run's data set (its `info` decides which metrics apply).
    num_samples: number of generated samples N.
    rng: sampling key.
    reference_split: split whose examples are the reference (all of them).

  Returns:
    (metrics {name: float}, protocol dict), or None when no sample metric is
    defined for this data set.

  Raises:
    ValueError: num_samples < 1 or an unknown split.
  """
  info = dataset.info
  if not applies(info):
    return None
  samples = draw_samples(sample_fn, params, rng, num_samples)
  reference = dataset.splits[reference_split] if reference_split in dataset.splits else None
  if reference is None:
    raise ValueError(f"reference split '{reference_split}' not in the data set; "
                     f"have {sorted(dataset.splits)}.")
  if info.get("kind") == "toy":
    from gdm_jax.data import toy  # pylint: disable=g-import-not-at-top
    from gdm_jax.eval import toy_metrics  # pylint: disable=g-import-not-at-top
    true_log_prob = None
    if info.get("has_log_prob"):
      true_log_prob = jax.jit(toy.get_toy(info["name"], **info.get("params", {})).log_prob)
    metrics, protocol = toy_metrics.evaluate_toy_samples(
        samples, reference["x"], info, log_prob_fn=true_log_prob)
    # Empirical W1 is biased upwards at finite N: the same estimator between
    # N training examples and the reference is the floor a perfect model
    # would reach.
    train = dataset.splits.get("train", {}).get("x")
    if train is not None and len(train) >= num_samples:
      metrics["w1_data_baseline"] = toy_metrics.wasserstein1(
          train[:num_samples], reference["x"])
  else:
    from gdm_jax.eval import sample_quality  # pylint: disable=g-import-not-at-top
    # Display-space samples should lie in [0, 1]; a model's rounding (or a
    # flow's tails) may step outside, and the classifier refuses that.
    out_of_range = float(np.mean((samples < 0) | (samples > 1)))
    metrics, protocol = sample_quality.evaluate_samples(
        np.clip(samples, 0.0, 1.0), reference["image"], reference.get("label"),
        reference_split=reference_split)
    protocol = {**protocol, "samples_clipped_to_unit_interval": True}
    metrics = {**metrics, "out_of_range_fraction": out_of_range}
  protocol = {**protocol, "reference_split": reference_split,
              "num_generated": int(num_samples)}
  return metrics, protocol


def toy_figure(model, sample_fn: Callable, params, dataset: ArrayDataset,
               rng: jax.Array, num_samples: int = 2000,
               split: str = "validation") -> np.ndarray:
  """Scatter of samples over data with critic / log-density contours.

  Args:
    model: the model (its `critic(params, x)` or, failing that,
      `log_prob(params, x)` -> [N] draws the contours when declared).
    sample_fn: jitted `model.sample` (n static).
    params, dataset, rng: as for `evaluate_generated`.
    num_samples: points drawn (and data points shown).
    split: data split shown.

  Returns:
    float32 [1, H, W, 3] in [0, 1] (one image, for the metric writer).
  """
  from gdm_jax.eval import plots  # pylint: disable=g-import-not-at-top
  samples = draw_samples(sample_fn, params, rng, num_samples)
  data = dataset.splits[split]["x"][:num_samples]
  field, title = None, "samples (colour) over data (grey)"
  for name, fn in (("critic", model.critic), ("log_prob", model.log_prob)):
    if fn is not None:
      jitted = jax.jit(fn)
      field = lambda x: np.asarray(jitted(params, x))
      title += f"; contours: {name}"
      break
  return plots.toy_scatter(samples, data, field_fn=field, title=title)[None]

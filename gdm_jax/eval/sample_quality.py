r"""Sample-quality metrics on the project's classifier: FID, KID, IS, the
diversity score, and improved precision and recall.

Every metric compares generated images with reference images through the
features `f(x)` (float [N, F]) and class probabilities `p(y|x)` (float
[N, 10]) of the project's Fashion-MNIST classifier
(`gdm_jax.eval.classifier`). The metrics themselves are numpy/scipy functions
of those arrays, run on the host in float64 where sums cancel; a number is
only meaningful with its protocol (feature network and weights, sample
counts, reference split), which `evaluate_samples` returns with it.

  FID   = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})
  KID   = MMD_u^2(f(X_a), f(X_b)),  k(x, y) = (x.y / F + 1)^3
  IS    = exp(E_x KL(p(y|x) || p(y))),  p(y) = E_x p(y|x)
  DS    = exp(-KL(p(y) || p*(y)))
  P / R = fraction of generated (real) features inside the k-NN balls of the
          real (generated) ones

Lower is better for FID and KID; higher for IS (at most the number of
classes), DS (at most 1), precision and recall (at most 1). FID and KID are
in units of the classifier's features (FID in squared feature units, KID in
units of the kernel k), so they compare runs scored with the same weights only, never with
Inception-based numbers. Reference points (real against real, mode dropping,
noise, a single image) are in `experiments/sample_quality_references.py`; note
that uniform noise scores a high precision there (the classifier maps noise
into the real feature cloud), so read precision together with the others.

References:
  Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge
    to a Local Nash Equilibrium", arXiv:1706.08500, Sec. 3 (FID).
  Binkowski et al. 2018, "Demystifying MMD GANs", arXiv:1801.01401, Sec. 4
    and App. D (KID).
  Salimans et al. 2016, "Improved Techniques for Training GANs",
    arXiv:1606.03498, Sec. 4 (inception score).
  Johnson & Zhang 2018, "Composite Functional Gradient Learning of Generative
    Adversarial Models", arXiv:1801.06309 (diversity score; quoted in the
    project's source text ../shared/seeds/002, "quality / diversity").
  Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for
    Assessing Generative Models", arXiv:1904.06991, Sec. 2, eqs. 1-3.
"""

import collections
import hashlib
import warnings
from typing import Any

import numpy as np
import scipy.linalg
from scipy.special import xlogy

from gdm_jax import checks
from gdm_jax.eval import classifier as classifier_lib

# Sizes used unless the caller says otherwise (Binkowski et al. 2018 use 100
# subsets of 1000; Kynkaanniemi et al. 2019 use k = 3).
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3
IS_SPLITS = 10


def _features(fn: str, min_rows: int = 2, dtype: str = "numeric",
              layout: str = "[N, F]", **named) -> list[np.ndarray]:
  """`checks.host_arrays` for this module: float64 copies of [N, F] arrays
  of one width F, at least `min_rows` rows, finite."""
  return checks.host_arrays(f"sample_quality.{fn}", named, layout,
                            dtype=dtype, min_rows=min_rows,
                            what="feature width F")


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """Mean float64 [F] and unbiased covariance float64 [F, F] of [N, F].

  Raises:
    ValueError: not a finite numeric [N, F] array with N >= 2.
  """
  f, = _features("gaussian_statistics", features=features)
  return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
  r"""Squared Frechet (2-Wasserstein) distance between two Gaussians.

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})

  (S1 S2)^{1/2} is scipy's Schur-method `sqrtm`. If it fails (non-finite, or
  a relative residual ||X X - S1 S2||_F / ||S1 S2||_F above 1e-4, typical of
  singular covariances from fewer samples than features), eps * I is added to
  both covariances and it is computed again. A numerically imaginary part
  (|Im diag| <= 1e-3) is dropped.

  Args:
    mu1, mu2: means, float [F].
    sigma1, sigma2: covariances, float [F, F], symmetric positive
      semi-definite.
    eps: the diagonal offset of the fallback.

  Returns:
    The distance in squared feature units (a float, >= 0 up to rounding).

  Raises:
    ValueError: mismatched shapes, or a square root with a significant
      imaginary part (the inputs are not covariance matrices).

  References:
    Heusel et al. 2017, Sec. 3 (Dowson & Landau 1982 for the Gaussian case).
  """
  mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
  s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
  d = mu1.shape[0]
  if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
    raise ValueError(f"sample_quality.frechet_distance: shapes mu1 "
                     f"{mu1.shape}, sigma1 {s1.shape}, mu2 {mu2.shape}, "
                     f"sigma2 {s2.shape} do not match [F], [F, F].")
  diff = mu1 - mu2
  covmean = _sqrtm_product(s1, s2)
  if covmean is None:
    offset = np.eye(d) * eps
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
      covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
  if np.iscomplexobj(covmean):
    imag = np.max(np.abs(np.diagonal(covmean).imag))
    if imag > 1e-3:
      raise ValueError(f"sample_quality.frechet_distance: (S1 S2)^(1/2) has "
                       f"an imaginary component of {imag:.3g}; are the "
                       f"inputs covariance matrices?")
    covmean = covmean.real
  return float(diff @ diff + np.trace(s1) + np.trace(s2)
               - 2.0 * np.trace(covmean))


def _sqrtm_product(s1, s2):
  """sqrtm(s1 @ s2), or None where it is not finite or not accurate."""
  prod = s1 @ s2
  # Singular products (N <= F) warn; the residual check below decides.
  with np.errstate(all="ignore"), warnings.catch_warnings():
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    root = scipy.linalg.sqrtm(prod)
  if not np.all(np.isfinite(root)):
    return None
  scale = np.linalg.norm(prod)
  if scale > 0 and np.linalg.norm(root @ root - prod) > 1e-4 * scale:
    return None
  return root


def fid(features_a, features_b) -> float:
  """Frechet distance between Gaussians fitted to two feature sets [N, F].

  Raises:
    ValueError: not finite numeric [N, F] arrays with N >= 2, or different
      feature widths F.
  """
  a, b = _features("fid", features_a=features_a, features_b=features_b)
  mu_a, s_a = gaussian_statistics(a)
  mu_b, s_b = gaussian_statistics(b)
  return frechet_distance(mu_a, s_a, mu_b, s_b)


def polynomial_kernel(x, y) -> np.ndarray:
  """k(x, y) = (x.y / F + 1)^3 for x [N, F], y [M, F] -> [N, M] (float64).

  Raises:
    ValueError: non-numeric or non-[N, F] inputs, or different F.
  """
  x, y = _features("polynomial_kernel", 1, x=x, y=y)
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y) -> float:
  r"""Unbiased MMD^2 with the KID polynomial kernel.

    MMD_u^2 = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j}
              k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j)

  x: [m, F], y: [n, F] with m, n >= 2. Its expectation is MMD^2 >= 0, so
  single estimates can be negative.

  Raises:
    ValueError: non-numeric or non-[N, F] inputs, fewer than 2 rows, or
      different F.

  References:
    Gretton et al. 2012, "A Kernel Two-Sample Test", JMLR, Lemma 6 (eq. 3).
  """
  x, y = _features("mmd2_unbiased", x=x, y=y)
  m, n = len(x), len(y)
  kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
  syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
  return float(sxx + syy - 2.0 * kxy.mean())


def kid(features_a, features_b, num_subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE, seed: int = 0
        ) -> tuple[float, float]:
  """Kernel Inception Distance: unbiased MMD^2 averaged over random subsets.

  Each of `num_subsets` rounds draws min(subset_size, N_a, N_b) rows of
  each set without replacement (numpy Generator seeded with `seed`; no global
  randomness) and computes `mmd2_unbiased` with k(x, y) = (x.y / F + 1)^3.

  Args:
    features_a, features_b: float [N_a, F], [N_b, F].
    num_subsets: number of subset pairs.
    subset_size: rows per subset (capped at the smaller set).
    seed: seed of the subset draws.

  Returns:
    (mean, std) over subsets of MMD_u^2, in squared kernel units; the mean is
    an unbiased estimate of MMD^2 (0 for equal distributions).

  Raises:
    ValueError: non-numeric, non-finite or non-[N, F] inputs, fewer than 2
      rows, different F, or num_subsets < 1.

  References:
    Binkowski et al. 2018, Sec. 4 and App. D.
  """
  a, b = _features("kid", features_a=features_a, features_b=features_b)
  checks.check_positive_int("sample_quality.kid", "num_subsets", num_subsets)
  size = min(subset_size, len(a), len(b))
  rng = np.random.Generator(np.random.PCG64(seed))
  values = np.array([
      mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                    b[rng.choice(len(b), size, replace=False)])
      for _ in range(num_subsets)])
  return float(values.mean()), float(values.std())


def _check_probs(fn: str, probs) -> np.ndarray:
  p, = _features(fn, 1, "floating", "[N, K]", probs=probs)
  if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
    raise ValueError(f"sample_quality.{fn}: `probs` must hold probability "
                     f"vectors (rows >= 0 summing to 1).")
  return p / p.sum(axis=1, keepdims=True)


def _kl(p, q) -> np.ndarray:
  """KL(p || q) along the last axis, in nats (0 log 0 = 0)."""
  with np.errstate(divide="ignore"):
    return np.sum(xlogy(p, p) - xlogy(p, q), axis=-1)


def inception_score(probs, num_splits: int = IS_SPLITS) -> tuple[float, float]:
  r"""IS = exp(E_x KL(p(y|x) || p(y))), p(y) = E_x p(y|x), per split.

  The N rows are cut into `num_splits` consecutive parts (np.array_split);
  each part gives one score with its own marginal p(y).

  Args:
    probs: p(y|x), float [N, K] with N >= num_splits.
    num_splits: parts.

  Returns:
    (mean, std) over splits; 1 <= IS <= K (K for confident predictions spread
    evenly over the classes, 1 when every x gets the same p(y|x)).

  Raises:
    ValueError: probs not a floating [N, K] array of probability vectors,
      or num_splits outside [1, N].

  References:
    Salimans et al. 2016, Sec. 4.
  """
  p = _check_probs("inception_score", probs)
  if not 1 <= num_splits <= len(p):
    raise ValueError(f"sample_quality.inception_score: need 1 <= "
                     f"num_splits <= N; got num_splits={num_splits}, "
                     f"N={len(p)}.")
  scores = [np.exp(np.mean(_kl(part, part.mean(axis=0, keepdims=True))))
            for part in np.array_split(p, num_splits)]
  return float(np.mean(scores)), float(np.std(scores))


def diversity_score(probs, class_prior) -> float:
  r"""DS = exp(-KL(p(y) || p*(y))), p(y) = E_x p(y|x) over generated x.

  p*(y) is the class distribution of the real data (uniform for
  Fashion-MNIST). DS is in (0, 1] and equals 1 exactly when the generated
  images are classified into the classes as often as real ones are; a model
  that favours or drops classes scores less (generating only one of K
  equally likely classes gives exp(-log K) = 1/K).

  Args:
    probs: p(y|x) of generated images, float [N, K].
    class_prior: p*(y), float [K], non-negative (normalised here).

  Returns:
    The score, a float in (0, 1] (0 if p(y) puts mass where p* has none).

  References:
    Johnson & Zhang 2018 (arXiv:1801.06309); the project's source text
    ../shared/seeds/002 ("diversity score exp(-KL(Pr(y) || Pr_*(y)))").

  Raises:
    ValueError: probs not a floating [N, K] array of probability vectors,
      or a class_prior that is not non-negative of shape [K].
  """
  p = _check_probs("diversity_score", probs)
  prior = np.asarray(class_prior, dtype=np.float64)
  if prior.shape != (p.shape[1],) or prior.min() < 0 or prior.sum() <= 0:
    raise ValueError(f"sample_quality.diversity_score: `class_prior` must "
                     f"be non-negative, not all 0, of shape ({p.shape[1]},) "
                     f"(K of `probs`); got {prior.shape}.")
  prior = prior / prior.sum()
  return float(np.exp(-_kl(p.mean(axis=0), prior)))


def _sq_distances(a, b) -> np.ndarray:
  """Squared Euclidean distances [len(a), len(b)] (float64, >= 0)."""
  d2 = (np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None, :] - 2.0 * a @ b.T)
  return np.maximum(d2, 0.0)


def knn_radii(features, k: int = PR_K, block_size: int = 1000) -> np.ndarray:
  """Squared distance of each row to its k-th nearest other row: [N].

  Computed in row blocks of `block_size` (memory O(block_size * N)).

  Raises:
    ValueError: non-numeric or non-[N, F] features, k outside [1, N), or a
      non-positive block_size.
  """
  f, = _features("knn_radii", 1, features=features)
  checks.check_positive_int("sample_quality.knn_radii", "block_size",
                            block_size)
  if not 1 <= k < len(f):
    raise ValueError(f"sample_quality.knn_radii: k-NN radii need 1 <= k < N; "
                     f"got k={k}, N={len(f)}.")
  out = np.empty(len(f))
  for s in range(0, len(f), block_size):
    d2 = _sq_distances(f[s:s + block_size], f)
    # Index 0 of the sorted row is the point itself (distance 0).
    out[s:s + block_size] = np.partition(d2, k, axis=1)[:, k]
  return out


def _coverage(queries, support, radii2, block_size: int) -> float:
  """Fraction of queries inside at least one ball B(support_i, radius_i)."""
  inside = np.zeros(len(queries), bool)
  for s in range(0, len(queries), block_size):
    d2 = _sq_distances(queries[s:s + block_size], support)
    inside[s:s + block_size] = np.any(d2 <= radii2[None, :], axis=1)
  return float(inside.mean())


def precision_recall(real_features, fake_features, k: int = PR_K,
                     block_size: int = 1000) -> tuple[float, float]:
  r"""Improved precision and recall of k-NN manifolds.

    manifold(Phi) = union over phi in Phi of B(phi, ||phi - NN_k(phi)||)
    precision     = mean over fake phi_g of 1[phi_g in manifold(Phi_real)]
    recall        = mean over real phi_r of 1[phi_r in manifold(Phi_fake)]

  NN_k excludes the point itself. Distances are computed in blocks of
  `block_size` rows (memory O(block_size * N)). Both sets should have the
  same size: the radii shrink as a set grows.

  Args:
    real_features, fake_features: float [N_r, F], [N_g, F], N > k.
    k: neighbourhood size.

  Returns:
    (precision, recall), each in [0, 1].

  Raises:
    ValueError: non-numeric, non-finite or non-[N, F] features, N <= k, or
      different F.

  References:
    Kynkaanniemi et al. 2019, Sec. 2, eqs. 1-3.
  """
  checks.check_positive_int("sample_quality.precision_recall", "k", k)
  real, fake = _features("precision_recall", k + 1,
                         real_features=real_features,
                         fake_features=fake_features)
  center = real.mean(axis=0)  # Translation-invariant; keeps magnitudes small.
  real, fake = real - center, fake - center
  precision = _coverage(fake, real, knn_radii(real, k, block_size), block_size)
  recall = _coverage(real, fake, knn_radii(fake, k, block_size), block_size)
  return precision, recall


def supports(dataset_info: dict) -> bool:
  """Whether the classifier can score samples of this data set.

  True for 28x28x1 image sets (fashion_mnist, mnist); False for toy data and
  other shapes.
  """
  return (dataset_info.get("kind") != "toy"
          and tuple(dataset_info.get("shape", ())) == classifier_lib.IMAGE_SHAPE)


# Features of the last few reference sets, so periodic evaluation does not
# recompute 10,000 reference features each time.
_REFERENCE_CACHE: "collections.OrderedDict[tuple, tuple]" = collections.OrderedDict()
_CACHE_SIZE = 4


def _reference_features(classifier, images) -> tuple[np.ndarray, np.ndarray]:
  arr = np.ascontiguousarray(images)
  key = (classifier.weights_sha256, arr.shape, str(arr.dtype),
         hashlib.sha1(arr.tobytes()).hexdigest())
  if key in _REFERENCE_CACHE:
    _REFERENCE_CACHE.move_to_end(key)
    return _REFERENCE_CACHE[key]
  out = classifier_lib.features_and_probs(classifier, arr)
  _REFERENCE_CACHE[key] = out
  while len(_REFERENCE_CACHE) > _CACHE_SIZE:
    _REFERENCE_CACHE.popitem(last=False)
  return out


def evaluate_samples(samples, reference_images, reference_labels=None,
                     classifier: classifier_lib.Classifier | None = None,
                     reference_split: str = "test", *,
                     kid_subsets: int = KID_SUBSETS,
                     kid_subset_size: int = KID_SUBSET_SIZE,
                     pr_k: int = PR_K, is_splits: int = IS_SPLITS,
                     seed: int = 0) -> tuple[dict[str, float], dict[str, Any]]:
  """All sample-quality metrics of generated images against reference images.

  Precision and recall compare equally many real and generated features: the
  larger set is subsampled (seeded) to the size of the smaller one. FID and
  KID use all of both sets (FID is biased upwards for small N: compare only
  numbers with the same `num_generated`).

  Args:
    samples: generated images, float [N, 28, 28, 1] in [0, 1] (or uint8),
      N >= max(is_splits, pr_k + 1, 2); N in [100, 10000] is typical.
    reference_images: real images, uint8 [M, 28, 28, 1] or float in [0, 1].
    reference_labels: int [M] labels of the reference images, giving the
      class prior p*(y) of the diversity score (None: uniform).
    classifier: feature network (default: `load_classifier()`).
    reference_split: name of the split the reference images came from (for
      the protocol only).
    kid_subsets, kid_subset_size: KID's subsets.
    pr_k: k of the precision/recall k-NN manifolds.
    is_splits: splits of the inception score.
    seed: seed of the KID subsets and the precision/recall subsampling.

  Returns:
    (metrics, protocol). metrics: {'fid', 'kid', 'kid_std',
    'inception_score', 'inception_score_std', 'diversity_score', 'precision',
    'recall'} as floats. protocol: {'feature_network', 'weights_sha256',
    'num_generated', 'num_reference', 'reference_split', 'kid_subsets',
    'kid_subset_size', 'pr_k', 'pr_num_samples', 'is_splits', 'class_prior'}.

  Raises:
    ValueError: images of the wrong shape, dtype or range (see
      `classifier.check_images`), or too few samples.
    FileNotFoundError: the default classifier's weights are missing.
  """
  classifier = classifier or classifier_lib.load_classifier()
  fake_f, fake_p = classifier_lib.features_and_probs(classifier, samples)
  n = len(fake_f)
  if n < max(is_splits, pr_k + 1, 2):
    raise ValueError(f"sample_quality.evaluate_samples needs at least "
                     f"{max(is_splits, pr_k + 1, 2)} samples; got {n}.")
  classifier_lib.check_images(reference_images, "reference_images")
  real_f, _ = _reference_features(classifier, reference_images)
  m = len(real_f)
  if reference_labels is None:
    prior = np.full(classifier_lib.NUM_CLASSES, 1.0 / classifier_lib.NUM_CLASSES)
    prior_name = "uniform"
  else:
    labels = np.asarray(reference_labels).astype(np.int64)
    if labels.shape != (m,):
      raise ValueError(f"sample_quality.evaluate_samples: "
                       f"`reference_labels` must have shape ({m},) (M of "
                       f"`reference_images`); got {labels.shape}.")
    prior = np.bincount(labels, minlength=classifier_lib.NUM_CLASSES) / m
    prior_name = "reference label frequencies"
  kid_mean, kid_std = kid(fake_f, real_f, kid_subsets, kid_subset_size, seed)
  is_mean, is_std = inception_score(fake_p, is_splits)
  rng = np.random.Generator(np.random.PCG64([seed, 1]))
  pr_n = min(n, m)
  pr_real = real_f if m == pr_n else real_f[np.sort(rng.choice(m, pr_n, replace=False))]
  pr_fake = fake_f if n == pr_n else fake_f[np.sort(rng.choice(n, pr_n, replace=False))]
  precision, recall = precision_recall(pr_real, pr_fake, pr_k)
  metrics = {
      "fid": fid(fake_f, real_f),
      "kid": kid_mean,
      "kid_std": kid_std,
      "inception_score": is_mean,
      "inception_score_std": is_std,
      "diversity_score": diversity_score(fake_p, prior),
      "precision": precision,
      "recall": recall,
  }
  protocol = {
      "feature_network": classifier.name,
      "weights_sha256": classifier.weights_sha256,
      "num_generated": int(n),
      "num_reference": int(m),
      "reference_split": reference_split,
      "kid_subsets": int(kid_subsets),
      "kid_subset_size": int(min(kid_subset_size, n, m)),
      "pr_k": int(pr_k),
      "pr_num_samples": int(pr_n),
      "is_splits": int(is_splits),
      "class_prior": prior_name,
  }
  return metrics, protocol

"""The sample-quality metrics against closed forms and direct computations:
FID (Gaussian closed form, commuting and non-commuting covariances, Monte
Carlo convergence), KID (unbiasedness, a direct O(n^2) MMD), IS and the
diversity score (their extremes and a hand-computed case), improved
precision/recall (identical, disjoint, subset sets; brute-force radii);
input validation.
"""

import itertools

import numpy as np
import pytest

from gdm_jax.eval import sample_quality as sq
from tests.helpers import invalid_input_test


def _random_cov(rng, d, scale=1.0):
  a = rng.normal(size=(d, d))
  return scale * (a @ a.T / d + 0.1 * np.eye(d))


def _psd_sqrt(s):
  w, v = np.linalg.eigh(s)
  return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _fid_closed_form_eig(mu1, s1, mu2, s2):
  """Tr((S1 S2)^1/2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)), a symmetric PSD
  matrix similar to S1 S2: no non-symmetric square root involved."""
  r = _psd_sqrt(s1)
  w = np.linalg.eigvalsh(r @ s2 @ r)
  tr_sqrt = np.sum(np.sqrt(np.clip(w, 0, None)))
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt


def test_fid_of_a_set_with_itself_is_zero():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16)) + 3.0
  trace = np.trace(np.cov(x, rowvar=False))
  assert abs(sq.fid(x, x)) <= 1e-6 * trace


def test_frechet_distance_diagonal_closed_form():
  rng = np.random.default_rng(1)
  d = 6
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  v1, v2 = rng.uniform(0.2, 3.0, d), rng.uniform(0.2, 3.0, d)
  expected = (np.sum((mu1 - mu2) ** 2)
              + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2)))
  got = sq.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
  np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_frechet_distance_commuting_covariances():
  # S1 = Q D1 Q^T, S2 = Q D2 Q^T commute, so (S1 S2)^1/2 = Q sqrt(D1 D2) Q^T.
  rng = np.random.default_rng(2)
  d = 8
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  e1, e2 = rng.uniform(0.1, 4.0, d), rng.uniform(0.1, 4.0, d)
  s1, s2 = (q * e1) @ q.T, (q * e2) @ q.T
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  expected = (np.sum((mu1 - mu2) ** 2) + np.sum(e1 + e2 - 2 * np.sqrt(e1 * e2)))
  np.testing.assert_allclose(sq.frechet_distance(mu1, s1, mu2, s2), expected,
                             rtol=1e-9)


def test_frechet_distance_non_commuting_against_eigendecomposition():
  rng = np.random.default_rng(3)
  d = 10
  s1, s2 = _random_cov(rng, d), _random_cov(rng, d, 2.0)
  assert not np.allclose(s1 @ s2, s2 @ s1)
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  expected = _fid_closed_form_eig(mu1, s1, mu2, s2)
  np.testing.assert_allclose(sq.frechet_distance(mu1, s1, mu2, s2), expected,
                             rtol=1e-9)
  # Symmetric in its arguments.
  np.testing.assert_allclose(sq.frechet_distance(mu2, s2, mu1, s1), expected,
                             rtol=1e-9)


def test_frechet_distance_singular_covariances_fall_back_to_offset():
  # Fewer samples than features: singular covariances, still finite and
  # close to the (pseudo-)closed form.
  rng = np.random.default_rng(4)
  a, b = rng.normal(size=(20, 32)), rng.normal(size=(20, 32)) + 0.5
  mu1, s1 = sq.gaussian_statistics(a)
  mu2, s2 = sq.gaussian_statistics(b)
  got = sq.fid(a, b)
  assert np.isfinite(got)
  np.testing.assert_allclose(got, _fid_closed_form_eig(mu1, s1, mu2, s2),
                             rtol=1e-3)


def test_fid_from_samples_converges_to_closed_form():
  rng = np.random.default_rng(5)
  d = 4
  mu1, mu2 = np.zeros(d), np.full(d, 0.5)
  s1, s2 = _random_cov(rng, d), _random_cov(rng, d, 1.5)
  expected = _fid_closed_form_eig(mu1, s1, mu2, s2)
  errors = []
  for n in (500, 50_000):
    a = rng.multivariate_normal(mu1, s1, size=n)
    b = rng.multivariate_normal(mu2, s2, size=n)
    errors.append(abs(sq.fid(a, b) - expected))
  assert errors[1] < 0.03 * expected
  assert errors[1] < errors[0]


def _mmd2_direct(x, y):
  def k(a, b):
    return (sum(ai * bi for ai, bi in zip(a, b)) / len(a) + 1.0) ** 3
  m, n = len(x), len(y)
  sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
  syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2))
  sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
  return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_mmd2_matches_direct_double_sum():
  rng = np.random.default_rng(6)
  x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.3
  np.testing.assert_allclose(sq.mmd2_unbiased(x, y), _mmd2_direct(x, y),
                             rtol=1e-12)
  # One subset holding every row (in another order) is the same estimate.
  x6 = x[:5]
  mean, std = sq.kid(x6, y, num_subsets=3, subset_size=5)
  np.testing.assert_allclose(mean, _mmd2_direct(x6, y), rtol=1e-12)
  assert std < 1e-12


def test_mmd2_estimator_is_unbiased():
  # Average over independent draws of one distribution: 0 within 4 standard
  # errors (the biased V-statistic would be clearly positive: checked too).
  rng = np.random.default_rng(7)
  vals, biased = [], []
  for _ in range(400):
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    vals.append(sq.mmd2_unbiased(x, y))
    kxx, kyy = sq.polynomial_kernel(x, x), sq.polynomial_kernel(y, y)
    biased.append(kxx.mean() + kyy.mean() - 2 * sq.polynomial_kernel(x, y).mean())
  se = np.std(vals) / np.sqrt(len(vals))
  assert abs(np.mean(vals)) < 4 * se
  assert np.mean(biased) > 10 * np.std(biased) / np.sqrt(len(biased))


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
  rng = np.random.default_rng(8)
  a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
  c = rng.normal(size=(1000, 8)) * 1.3 + 0.3
  same_mean, same_std = sq.kid(a, b, num_subsets=20, subset_size=500, seed=1)
  diff_mean, diff_std = sq.kid(a, c, num_subsets=20, subset_size=500, seed=1)
  assert abs(same_mean) < 2 * same_std
  assert diff_mean > 10 * diff_std and diff_mean > 20 * abs(same_mean)
  # Seeded: same seed, same value; no global numpy randomness.
  np.random.seed(123)
  again = sq.kid(a, c, num_subsets=20, subset_size=500, seed=1)
  assert again == (diff_mean, diff_std)


def test_inception_score_extremes_and_hand_computed_case():
  k = 10
  confident = np.eye(k)[np.arange(100) % k]   # every split sees each class once
  mean, std = sq.inception_score(confident, num_splits=10)
  np.testing.assert_allclose(mean, k, rtol=1e-12)
  assert std < 1e-12
  same = np.tile(np.random.default_rng(0).dirichlet(np.ones(k)), (50, 1))
  np.testing.assert_allclose(sq.inception_score(same, 5)[0], 1.0, rtol=1e-12)
  # Two classes, half the images p = (0.9, 0.1), half (0.1, 0.9):
  # p(y) = (1/2, 1/2), KL = 0.9 ln 1.8 + 0.1 ln 0.2 for every image.
  two = np.array([[0.9, 0.1], [0.1, 0.9]] * 20)
  expected = np.exp(0.9 * np.log(1.8) + 0.1 * np.log(0.2))
  np.testing.assert_allclose(sq.inception_score(two, 1)[0], expected,
                             rtol=1e-12)
  random = np.random.default_rng(1).dirichlet(np.ones(k) * 0.3, size=200)
  score = sq.inception_score(random, 4)[0]
  assert 1.0 < score < k


def test_diversity_score():
  k = 10
  uniform = np.full(k, 1 / k)
  balanced = np.eye(k)[np.arange(50) % k]
  np.testing.assert_allclose(sq.diversity_score(balanced, uniform), 1.0,
                             rtol=1e-12)
  one_class = np.eye(k)[np.zeros(30, int)]
  np.testing.assert_allclose(sq.diversity_score(one_class, uniform), 1 / k,
                             rtol=1e-12)
  # Non-uniform prior: matching p(y) scores 1, anything else less.
  prior = np.array([0.5, 0.3, 0.2])
  probs = np.array([[0.5, 0.3, 0.2]] * 4)
  np.testing.assert_allclose(sq.diversity_score(probs, prior), 1.0, rtol=1e-12)
  other = np.random.default_rng(2).dirichlet(np.ones(3), size=40)
  expected = np.exp(-np.sum(other.mean(0) * np.log(other.mean(0) / prior)))
  np.testing.assert_allclose(sq.diversity_score(other, prior), expected,
                             rtol=1e-12)
  assert expected < 1.0


def test_knn_radii_match_brute_force():
  rng = np.random.default_rng(9)
  x = rng.normal(size=(57, 5))
  d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
  expected = np.sort(d, axis=1)[:, 3]        # column 0 is the point itself
  np.testing.assert_allclose(np.sqrt(sq.knn_radii(x, 3, block_size=10)),
                             expected, rtol=1e-9)


def test_precision_recall_identical_disjoint_and_subset():
  rng = np.random.default_rng(10)
  x = rng.normal(size=(300, 6))
  assert sq.precision_recall(x, x, k=3) == (1.0, 1.0)
  far = rng.normal(size=(300, 6)) + 100.0
  assert sq.precision_recall(x, far, k=3) == (0.0, 0.0)
  # Real: two far-apart clusters; fake: exactly the points of the first.
  # Every fake point is a real point (precision 1); the fake manifold holds
  # the first cluster and nothing near the second (recall 1/2).
  real = np.concatenate([x[:150], x[150:] + 100.0])
  fake = real[:150]
  p, r = sq.precision_recall(real, fake, k=3, block_size=64)
  assert p == 1.0
  assert r == 0.5
  # Block size does not change the answer.
  y = rng.normal(size=(200, 6)) * 1.5
  assert (sq.precision_recall(x, y, 3, block_size=7)
          == sq.precision_recall(x, y, 3, block_size=1000))


def test_supports_and_errors():
  assert sq.supports({"name": "fashion_mnist", "shape": (28, 28, 1)})
  assert sq.supports({"name": "mnist", "shape": (28, 28, 1)})
  assert not sq.supports({"name": "ring8", "kind": "toy", "shape": (2,),
                          "modes": None})
  assert not sq.supports({"name": "cifar10", "shape": (32, 32, 3)})
  with pytest.raises(ValueError, match="shape"):
    sq.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
  with pytest.raises(ValueError, match="probability"):
    sq.inception_score(np.ones((10, 3)))
  with pytest.raises(ValueError, match="NaN"):
    sq.fid(np.full((5, 2), np.nan), np.ones((5, 2)))
  with pytest.raises(ValueError, match="k-NN"):
    sq.knn_radii(np.ones((3, 2)), k=3)


# ------------------------------------------------------------ invalid input

# (id, call, substrings the message must contain)
INVALID = [
    ("fid_feature_widths",
     lambda: sq.fid(np.ones((5, 3)), np.ones((5, 4))),
     ["sample_quality.fid", "feature width", "(5, 3)", "(5, 4)"]),
    ("fid_rank", lambda: sq.fid(np.ones(5), np.ones((5, 4))),
     ["sample_quality.fid", "`features_a`", "rank 2", "[N, F]", "(5,)"]),
    ("fid_one_row", lambda: sq.fid(np.ones((1, 3)), np.ones((5, 3))),
     ["sample_quality.fid", "`features_a`", "N >= 2", "(1, 3)"]),
    ("kid_dtype", lambda: sq.kid(np.ones((5, 3), bool), np.ones((5, 3))),
     ["sample_quality.kid", "`features_a`", "numeric", "bool"]),
    ("kid_widths", lambda: sq.kid(np.ones((5, 3)), np.ones((5, 2))),
     ["sample_quality.kid", "feature width", "(5, 3)", "(5, 2)"]),
    ("kid_num_subsets",
     lambda: sq.kid(np.ones((5, 3)), np.ones((5, 3)), num_subsets=0),
     ["sample_quality.kid", "`num_subsets`", "positive", "0"]),
    ("precision_recall_widths",
     lambda: sq.precision_recall(np.ones((6, 3)), np.ones((6, 2))),
     ["sample_quality.precision_recall", "feature width", "(6, 3)",
      "(6, 2)"]),
    ("precision_recall_rows",
     lambda: sq.precision_recall(np.ones((3, 2)), np.ones((6, 2)), k=3),
     ["sample_quality.precision_recall", "`real_features`", "N >= 4",
      "(3, 2)"]),
    ("mmd2_rank",
     lambda: sq.mmd2_unbiased(np.ones((4, 2, 1)), np.ones((4, 2))),
     ["sample_quality.mmd2_unbiased", "`x`", "rank 2", "(4, 2, 1)"]),
    ("inception_score_int",
     lambda: sq.inception_score(np.eye(3, dtype=np.int64), 1),
     ["sample_quality.inception_score", "`probs`", "floating", "int64"]),
    ("inception_score_splits",
     lambda: sq.inception_score(np.eye(3), 4),
     ["sample_quality.inception_score", "num_splits=4", "N=3"]),
    ("diversity_score_prior",
     lambda: sq.diversity_score(np.eye(3), np.ones(4)),
     ["sample_quality.diversity_score", "`class_prior`", "(3,)", "(4,)"]),
    ("knn_radii_block_size",
     lambda: sq.knn_radii(np.ones((5, 2)), 1, block_size=0),
     ["sample_quality.knn_radii", "`block_size`", "0"]),
]

test_invalid_inputs = invalid_input_test(INVALID)

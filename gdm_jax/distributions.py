"""Log-likelihoods and closed-form KL divergences, in nats.

Conventions: "elementwise" functions return an array of the broadcast shape of
their inputs; functions named `*_sum` or taking `event_ndims` sum the trailing
event axes and return one value per example. Every value is a natural-log
density (nats); divide by `log(2)` for bits.

Inputs are validated at trace time by the `checks.inputs` table at the head
of each function: parameters (logits, means, log-scales) must be floating
arrays, data integer or floating as documented, and shapes must broadcast;
failures raise ValueError naming the function and the argument.
"""

import math

import jax
import jax.numpy as jnp

from gdm_jax import checks

LOG_2PI = math.log(2.0 * math.pi)


@checks.inputs(batch_ndims="int >= 0")
def sum_except_batch(x: jax.Array, batch_ndims: int = 1) -> jax.Array:
  """Sums all axes after the first `batch_ndims`: [B, ...] -> [B].

  Args:
    x: numeric [B_1, ..., B_n, ...] (n = batch_ndims), e.g. per-pixel
      log-probabilities in nats.
    batch_ndims: n, the number of leading axes kept.

  Returns:
    [B_1, ..., B_n], x's dtype, the sum over the other axes (same units).

  Raises:
    ValueError: x is not numeric or has fewer than `batch_ndims` axes;
      batch_ndims not an int >= 0.
  """
  checks.check_array("distributions.sum_except_batch", "x", x,
                     min_rank=batch_ndims, dtype="numeric")
  return jnp.sum(x, axis=tuple(range(batch_ndims, x.ndim)))


@checks.inputs(nll="floating", num_dims="int >= 1")
def bits_per_dim(nll: jax.Array, num_dims: int,
                 nats_offset_per_dim: float = 0.0) -> jax.Array:
  """Negative log-likelihood per example (nats) -> bits per dimension.

    bits/dim = (nll / D + offset) / ln 2.

  `offset` is the per-dimension log-Jacobian from the model's data space to
  the 8-bit grid: 0 for discrete models (PixelCNN) and binary data; log 256
  for a density on dequantised data x = (k + u) / 256 in [0, 1)^D (the
  density of y = 256 x is p(x) / 256^D); log 128 for data scaled to
  [-1, 1). For a dequantised model's `nll = -E_q[log p(x) - log q(u|k)]`
  (or an importance-sampled bound on it) the result is an upper bound on
  the discrete model's bits/dim (Theis et al. 2016, sec. 3.1).

  Args:
    nll: float [...] nats per example (an ELBO's negation, an IWAE NLL
      estimate, or an exact -log p).
    num_dims: D = H W C, a positive int.
    nats_offset_per_dim: the offset above (e.g.
      `Preprocessing.nats_offset_per_dim`).

  Returns:
    float [...], bits/dim.

  Raises:
    ValueError: `nll` not floating, or `num_dims` not a positive int.

  References:
    Theis, van den Oord and Bethge 2016, "A note on the evaluation of
      generative models", sec. 3.1; Dinh et al. 2017, sec. 4.1.
  """
  return (nll / num_dims + nats_offset_per_dim) / math.log(2.0)


@checks.inputs(logits="floating", x="any", broadcast=True)
def bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """Elementwise log Bernoulli(x | sigmoid(logits)), numerically stable.

  log p(x) = x * l - softplus(l), which is exact for |l| up to float range
  (no sigmoid is formed, so logits of +-100 give finite values).

  Args:
    logits: float array, any shape, e.g. a decoder's [B, H, W, C];
      l = log(p / (1 - p)).
    x: array of any dtype broadcastable with `logits`, values in [0, 1]
      (binary data; a fractional x gives the binary cross-entropy, which is
      not a normalised density over [0, 1]).

  Returns:
    float array of the broadcast shape, logits' dtype, in nats (<= 0).

  Raises:
    ValueError: non-floating logits, or shapes that do not broadcast.
  """
  return x * logits - jax.nn.softplus(logits)


@checks.inputs(x="numeric", mean="floating", log_scale="floating",
               broadcast=True)
def gaussian_log_prob(x: jax.Array, mean: jax.Array,
                      log_scale: jax.Array) -> jax.Array:
  """Elementwise log N(x | mean, exp(log_scale)^2), in nats.

    log p(x) = -((x - μ) / σ)² / 2 - log σ - log(2π) / 2,  σ = exp(log_scale).

  Args:
    x: numeric (int or float) array; mean, log_scale: float arrays; all
      three broadcastable together (e.g. x [B, D], mean [B, D], log_scale
      [D]). `log_scale` is log σ, the log of the standard deviation.

  Returns:
    float array of the broadcast shape, in nats (sum the event axes for a
    diagonal Gaussian's log-density).

  Raises:
    ValueError: non-floating mean or log_scale, non-numeric x, or shapes
      that do not broadcast.
  """
  z = (x - mean) * jnp.exp(-log_scale)
  return -0.5 * (z * z + LOG_2PI) - log_scale


@checks.inputs(x="numeric")
def standard_normal_log_prob(x: jax.Array) -> jax.Array:
  """Elementwise log N(x | 0, 1) = -x²/2 - log(2π)/2, in nats.

  Args:
    x: numeric array, any shape.

  Returns:
    float array of x's shape (float32 for integer x), in nats.

  Raises:
    ValueError: x is not numeric.
  """
  return -0.5 * (x * x + LOG_2PI)


@checks.inputs(mean="floating [..., D]", log_scale="floating [..., D]",
               prior_mean="floating", prior_log_scale="floating",
               broadcast=True)
def kl_divergence_diagonal_gaussian(mean: jax.Array, log_scale: jax.Array,
                                    prior_mean: jax.Array | float = 0.0,
                                    prior_log_scale: jax.Array | float = 0.0
                                    ) -> jax.Array:
  """KL(N(mean, diag σ²) || N(prior_mean, diag σ_p²)), summed over the last axis.

  Closed form per dimension (Kingma and Welling 2014, appendix B, for the
  standard-normal prior):
    KL = log σ_p - log σ + (σ² + (μ - μ_p)²) / (2 σ_p²) - 1/2.

  Args:
    mean, log_scale: float arrays [..., D]; `log_scale` = log σ.
    prior_mean, prior_log_scale: float arrays (or Python floats)
      broadcastable with [..., D]; `prior_log_scale` = log σ_p; default
      N(0, I).

  Returns:
    float array [...], in nats, >= 0.

  Raises:
    ValueError: non-floating or rank-0 mean/log_scale, non-floating
      prior parameters, or shapes that do not broadcast.

  References:
    Kingma and Welling 2014, "Auto-Encoding Variational Bayes" (ICLR),
    appendix B (the standard-normal prior case).
  """
  var_ratio = jnp.exp(2.0 * (log_scale - prior_log_scale))
  mean_term = jnp.square((mean - prior_mean) * jnp.exp(-prior_log_scale))
  per_dim = 0.5 * (var_ratio + mean_term - 1.0) - (log_scale - prior_log_scale)
  return jnp.sum(per_dim, axis=-1)


@checks.inputs(logits="floating [..., K]")
def categorical_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
  """log Categorical(x | softmax(logits)), e.g. the 256-way pixel softmax.

  log p(x = v) = l_v - logsumexp_u l_u  (van den Oord et al. 2016a,
  "Pixel Recurrent Neural Networks", section 5.3: each 8-bit value is one
  of 256 classes).

  Args:
    logits: float [..., K] unnormalised log-probabilities.
    x: int [...] in {0, ..., K-1}.

  Returns:
    float [...], in nats (<= 0); sum over the K values of exp(.) is 1.

  Raises:
    ValueError: non-floating logits or rank 0; non-integer x; x not of
      rank logits.ndim - 1 or not broadcastable to logits.shape[:-1].
  """
  fn = "distributions.categorical_log_prob"
  checks.check_array(fn, "x", x, rank=len(checks.shape_of(logits)) - 1,
                     dtype="integer", layout="[...] (logits without K)")
  checks.check_broadcastable(
      fn, [("logits[..., 0]", checks.Shape(logits.shape[:-1])), ("x", x)])
  log_p = jax.nn.log_softmax(logits, axis=-1)
  idx = jnp.asarray(x, jnp.int32)[..., None]
  return jnp.take_along_axis(log_p, idx, axis=-1)[..., 0]


@checks.inputs(x="floating", mean="floating", log_scale="floating",
               num_bins="int >= 2", broadcast=True)
def discretized_logistic_log_prob(x: jax.Array, mean: jax.Array,
                                  log_scale: jax.Array,
                                  num_bins: int = 256) -> jax.Array:
  """Elementwise log P(x) of a logistic discretised to `num_bins` values.

  The values v in {0, ..., n-1} (n = num_bins) sit at x = 2 v / (n-1) - 1 in
  [-1, 1], bins of half-width δ = 1 / (n-1); with σ(t) the sigmoid and
  s = exp(log_scale) (Salimans et al. 2017, PixelCNN++, eq. 2):
    P(x) = σ((x + δ - μ)/s) - σ((x - δ - μ)/s)   for 0 < v < n-1,
    P(x) = σ((x + δ - μ)/s)                      for v = 0   (CDF from -inf),
    P(x) = 1 - σ((x - δ - μ)/s)                  for v = n-1 (up to +inf),
  so the n probabilities sum to 1. Interior bins whose probability is below
  1e-5 (where the difference of sigmoids loses its precision and can
  underflow to 0) use the mid-bin density instead, as the paper's code does:
    log P(x) ≈ log p_logistic(x) + log(2δ),
    log p_logistic(x) = t - log s - 2 softplus(t),  t = (x - μ)/s.
  One departure that only adds precision: above the mean, the difference is
  taken of upper-tail probabilities, σ(-(x - δ - μ)/s) - σ(-(x + δ - μ)/s),
  which equals the above but does not cancel near 1.

  Args:
    x: float [...] on the grid 2 v / (n-1) - 1 (other values are read as the
      bin they fall in: edge tests use x < -1 + δ and x > 1 - δ).
    mean, log_scale: float, broadcastable to x; μ and log s.
    num_bins: n, 256 for 8-bit data.

  Returns:
    float [...] of the broadcast shape, in nats.

  Raises:
    ValueError: non-floating inputs, shapes that do not broadcast, or
      num_bins not an int >= 2.

  References:
    Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++: Improving the
    PixelCNN with Discretized Logistic Mixture Likelihood and Other
    Modifications" (ICLR), section 2.1; openai/pixel-cnn nn.py,
    discretized_mix_logistic_loss.
  """
  half = 1.0 / (num_bins - 1)
  centred = x - mean
  inv_s = jnp.exp(-log_scale)
  plus_in = inv_s * (centred + half)
  min_in = inv_s * (centred - half)
  log_cdf_plus = plus_in - jax.nn.softplus(plus_in)        # log σ(plus_in)
  log_one_minus_cdf_min = -jax.nn.softplus(min_in)         # log(1 - σ(min_in))
  cdf_delta = jnp.where(centred > 0,
                        jax.nn.sigmoid(-min_in) - jax.nn.sigmoid(-plus_in),
                        jax.nn.sigmoid(plus_in) - jax.nn.sigmoid(min_in))
  mid_in = inv_s * centred
  log_pdf_mid = mid_in - log_scale - 2.0 * jax.nn.softplus(mid_in)
  log_interior = jnp.where(cdf_delta > 1e-5,
                           jnp.log(jnp.maximum(cdf_delta, 1e-12)),
                           log_pdf_mid + math.log(2.0 * half))
  return jnp.where(x < -1.0 + half, log_cdf_plus,
                   jnp.where(x > 1.0 - half, log_one_minus_cdf_min,
                             log_interior))


@checks.inputs(x="floating [..., C]", logit_weights="floating [..., K]",
               means="floating [..., C, K]", log_scales="floating [..., C, K]",
               coeffs="floating [..., C(C-1)/2, K]", num_bins="int >= 2")
def discretized_logistic_mixture_log_prob(
    x: jax.Array, logit_weights: jax.Array, means: jax.Array,
    log_scales: jax.Array, coeffs: jax.Array | None = None,
    num_bins: int = 256) -> jax.Array:
  """log P(x) of a pixel under PixelCNN++'s discretised logistic mixture.

  For a pixel x = (x_1..x_C) on the grid of `discretized_logistic_log_prob`
  and K components with weights π = softmax(logit_weights):
    P(x) = Σ_k π_k Π_c P_dlogistic(x_c | μ_ck + Σ_{c'<c} α_{cc'k} x_c', s_ck)
  (Salimans et al. 2017, eq. 2-3: colour c's mean is linear in the earlier
  colours of the same pixel, so the C channels are autoregressive within one
  component). The coefficients α are ordered (1,0), (2,0), (2,1), ...

  Args:
    x: float [..., C] in [-1, 1] on the grid 2 v / (n-1) - 1.
    logit_weights: float [..., K].
    means, log_scales: float [..., C, K].
    coeffs: float [..., C(C-1)/2, K] (α), or None (no colour dependence;
      required to be None or empty for C = 1).
    num_bins: n, 256 for 8-bit data.

  Returns:
    float [...], log P(x) in nats; exp sums to 1 over the n^C pixel values.

  Raises:
    ValueError: non-floating inputs, wrong ranks, means/log_scales/coeffs
      whose C or K axes do not match x and logit_weights, leading shapes
      that do not broadcast, or coeffs of the wrong size.

  References:
    Salimans et al. 2017, "PixelCNN++", section 2.1-2.2.
  """
  fn = "distributions.discretized_logistic_mixture_log_prob"
  c, k = x.shape[-1], logit_weights.shape[-1]
  pairs = [(i, j) for i in range(c) for j in range(i)]     # (c, c') by row
  for name, arr, want in (("means", means, (c, k)),
                          ("log_scales", log_scales, (c, k)),
                          ("coeffs", coeffs, (len(pairs), k))):
    if arr is not None and arr.shape[-2:] != want:
      raise ValueError(f"{fn}: `{name}` must be [..., {want[0]}, {want[1]}] "
                       f"for x {x.shape} and logit_weights "
                       f"{logit_weights.shape} (C = {c}, K = {k}); got shape "
                       f"{arr.shape}.")
  checks.check_broadcastable(
      fn, [("x[..., 0]", checks.Shape(x.shape[:-1])),
           ("logit_weights[..., 0]", checks.Shape(logit_weights.shape[:-1])),
           ("means[..., 0, 0]", checks.Shape(means.shape[:-2])),
           ("log_scales[..., 0, 0]", checks.Shape(log_scales.shape[:-2]))])
  xk = x[..., None]                                            # [..., C, 1]
  if coeffs is not None and pairs:
    shift = [jnp.zeros(())] * c
    for p, (row, col) in enumerate(pairs):
      shift[row] = shift[row] + coeffs[..., p, :] * x[..., col, None]
    means = means + jnp.stack(jnp.broadcast_arrays(*shift), axis=-2)
  log_p = discretized_logistic_log_prob(xk, means, log_scales, num_bins)
  log_p = jnp.sum(log_p, axis=-2)                              # [..., K]
  return jax.nn.logsumexp(log_p + jax.nn.log_softmax(logit_weights, -1), -1)

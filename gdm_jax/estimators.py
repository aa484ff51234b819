"""Monte Carlo estimators: reparameterisation, importance weighting, the
score function (REINFORCE) and the Gumbel-softmax relaxation.

Every function here is pure, takes arrays and a PRNG key where it samples,
and raises ValueError (naming the function and the argument) on inputs of
the wrong dtype, rank or shape, at trace time (mostly by the
`checks.inputs` table at the function's head). Log-densities and bounds are
in nats. Shapes use B for the batch, D for a latent's size, K for the number
of importance samples (or of classes, for the categorical estimators).

  reparameterize                z = μ + σ ⊙ ε, ε ~ N(0, I) (pathwise);
  log_mean_exp, iwae_bound      L_K = log (1/K) Σ_k w_k from log-weights;
  chunked_log_weights           K log-weights drawn a chunk at a time;
  sample_gumbel, gumbel_softmax, log_gumbel_softmax
                                Gumbel-max and its Concrete relaxation
                                (relaxed, straight-through, or in log space);
  relaxed_categorical_log_prob  the Concrete / ExpConcrete log-density;
  score_function_surrogate, leave_one_out_baseline
                                REINFORCE with baselines.

References:
  Kingma and Welling 2014, "Auto-Encoding Variational Bayes", eq. 10 (the
    reparameterisation z = μ + σ ⊙ ε).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8 (the K-sample bound L_K).
  Williams 1992, "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning" (REINFORCE), eq. 4.
  Jang, Gu and Poole 2017, "Categorical Reparameterization with
    Gumbel-Softmax", eq. 1-3; Maddison, Mnih and Teh 2017, "The Concrete
    Distribution", definition 1 and appendix C (ExpConcrete).
"""

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks


@checks.inputs(mean="floating", log_scale="floating", num_samples="int >= 1")
def reparameterize(rng: jax.Array, mean: jax.Array, log_scale: jax.Array,
                   num_samples: int | None = None) -> jax.Array:
  """Draws z = mean + exp(log_scale) ⊙ ε, ε ~ N(0, I), differentiably.

  z ~ N(μ, diag σ²) with σ = exp(log_scale), written as a deterministic,
  differentiable function of (μ, log σ) and parameter-free noise ε, so
  ∇ E_q[f(z)] = E_ε[∇ f(μ + σ ε)] (the pathwise or reparameterisation
  gradient, Kingma and Welling 2014, sec. 2.4 and eq. 10). ε is drawn with
  `jax.random.normal(rng, shape, mean.dtype)`: the same key gives the same
  draw.

  Args:
    rng: a JAX PRNG key.
    mean: float [B, D] (any shape; the output takes it).
    log_scale: float, broadcastable to `mean`'s shape, log σ.
    num_samples: if given, K samples are drawn and stacked on a new leading
      axis.

  Returns:
    float [B, D] in `mean`'s dtype, or [K, B, D] when `num_samples` is given.

  Raises:
    ValueError: non-floating `mean`/`log_scale`, shapes that do not
      broadcast to `mean`'s, or `num_samples` not a positive int.

  References:
    Kingma and Welling 2014, "Auto-Encoding Variational Bayes", sec. 2.4,
      eq. 10.
  """
  _check_broadcasts_to("estimators.reparameterize", "log_scale", log_scale,
                       "mean", mean)
  shape = mean.shape if num_samples is None else (num_samples,) + mean.shape
  eps = jax.random.normal(rng, shape, mean.dtype)
  return mean + jnp.exp(log_scale) * eps


def log_mean_exp(x: jax.Array, axis: int = 0) -> jax.Array:
  """log((1/n) Σ_i exp(x_i)) along `axis`, stably: logsumexp(x) - log n.

  Args:
    x: numeric array [..., n, ...] (n entries along `axis`), e.g. log-weights
      in nats.
    axis: the axis averaged over (an int in [-rank, rank)).

  Returns:
    float array of `x`'s shape without `axis`.

  Raises:
    ValueError: `x` not a numeric array with a non-empty axis `axis`.
  """
  _check_axis("estimators.log_mean_exp", "x", x, axis, min_size=1)
  return jax.nn.logsumexp(x, axis=axis) - math.log(x.shape[axis])


def iwae_bound(log_weights: jax.Array) -> jax.Array:
  """The importance-weighted bound L_K from K log-weights (Burda et al., eq. 8).

  L_K = log (1/K) Σ_k w_k,   w_k = p(x, z_k) / q(z_k | x),  z_k ~ q(z | x).
  L_1 is the ELBO; E[L_K] is non-decreasing in K and tends to log p(x).

  Args:
    log_weights: float array [K, B] of log w_k, nats.

  Returns:
    float array [B], in nats.

  Raises:
    ValueError: `log_weights` not floating of rank >= 1 with K >= 1.

  References:
    Burda, Grosse and Salakhutdinov 2016, "Importance Weighted
      Autoencoders", eq. 8 and theorem 1.
  """
  fn = "estimators.iwae_bound"
  checks.check_array(fn, "log_weights", log_weights, min_rank=1,
                     layout="[K, B]")
  _check_axis(fn, "log_weights", log_weights, 0, min_size=1)
  return log_mean_exp(log_weights, axis=0)


def chunked_log_weights(log_weights_fn: Callable[[jax.Array, int], jax.Array],
                        rng: jax.Array, num_samples: int,
                        chunk_size: int | None = None, *,
                        fn: str = "estimators.chunked_log_weights"
                        ) -> jax.Array:
  """K importance log-weights, drawn `chunk_size` at a time.

    chunk_size None or >= K:  log_weights_fn(rng, K);
    otherwise:                keys = split(rng, K / chunk_size), and the
                              chunks log_weights_fn(key_j, chunk_size) of a
                              sequential `lax.map`, stacked into [K, B].

  Memory is then O(chunk_size · B) for any K (the test NLL of a VAE uses
  K = 1000, Burda et al. 2016, sec. 5.1). Every chunk has its own key, so
  no sample is reused; the chunked and unchunked draws have the same law
  but are not the same numbers.

  Args:
    log_weights_fn: `(rng, k) -> float [k, B]`, k i.i.d. log-weights
      log w = log p(x, z) - log q(z | x), z ~ q, in nats (k is a Python int).
    rng: a JAX PRNG key.
    num_samples: K, a positive int.
    chunk_size: a positive int dividing K (when < K), or None.
    fn: the public function the error messages name (a family's
      `importance_log_weights` passes its own name).

  Returns:
    float [K, B], nats.

  Raises:
    ValueError: K or chunk_size not a positive int, or K not a multiple of
      chunk_size.

  References:
    Burda, Grosse and Salakhutdinov 2016, eq. 8 and sec. 5.1.
  """
  checks.check_positive_int(fn, "num_samples", num_samples)
  if chunk_size is None or chunk_size >= num_samples:
    if chunk_size is not None:
      checks.check_positive_int(fn, "chunk_size", chunk_size)
    return log_weights_fn(rng, num_samples)
  checks.check_positive_int(fn, "chunk_size", chunk_size)
  if num_samples % chunk_size:
    raise ValueError(f"{fn}: K={num_samples} is not a multiple of "
                     f"chunk_size={chunk_size}.")
  keys = jax.random.split(rng, num_samples // chunk_size)
  chunks = jax.lax.map(lambda r: log_weights_fn(r, chunk_size), keys)
  return chunks.reshape((num_samples,) + chunks.shape[2:])


# ----------------------------------------------------- discrete latents


def sample_gumbel(rng: jax.Array, shape: tuple[int, ...],
                  dtype=jnp.float32) -> jax.Array:
  """Standard Gumbel noise g = -log(-log u), u ~ U(0, 1).

  The Gumbel-max trick: argmax_k (l_k + g_k) ~ Categorical(softmax(l))
  (Gumbel 1954; Maddison, Tarlow and Minka 2014; Jang et al. 2017, sec. 2).

  Args:
    rng: a JAX PRNG key.
    shape: output shape, e.g. [B, N, K].
    dtype: a float dtype.

  Returns:
    float array of `shape`, i.i.d. Gumbel(0, 1): mean = Euler's γ ≈ 0.5772,
    variance π²/6.

  Raises:
    ValueError: `shape` not a tuple of non-negative ints, or a non-floating
      `dtype`.

  References:
    Gumbel 1954, "Statistical theory of extreme values and some practical
      applications"; Maddison, Tarlow and Minka 2014, "A* Sampling", sec. 2;
      Jang, Gu and Poole 2017, sec. 2.
  """
  fn = "estimators.sample_gumbel"
  if (not isinstance(shape, (tuple, list)) or not all(
      isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0
      for d in shape)):
    raise ValueError(f"{fn}: `shape` must be a tuple of non-negative Python "
                     f"ints; got {type(shape).__name__} {shape!r}.")
  if not checks.is_dtype(dtype, "floating"):
    raise ValueError(f"{fn}: `dtype` must be a floating dtype; got "
                     f"{np.dtype(dtype).name}.")
  return jax.random.gumbel(rng, shape, dtype)


# The relaxed samplers' and the Concrete density's inputs.
_RELAXED = dict(logits="floating [..., K]", temperature="floating [] (scalar)")


def _relaxed_scores(rng: jax.Array, logits: jax.Array,
                    temperature) -> jax.Array:
  """(l + g) / τ with g ~ Gumbel(0, 1) [..., K]."""
  g = sample_gumbel(rng, logits.shape, logits.dtype)
  return (logits + g) / temperature


@checks.inputs(**_RELAXED)
def gumbel_softmax(rng: jax.Array, logits: jax.Array, temperature,
                   hard: bool = False) -> jax.Array:
  """A Gumbel-softmax (Concrete) sample, relaxed or straight-through.

    y_k = exp((l_k + g_k) / τ) / Σ_j exp((l_j + g_j) / τ),  g_k ~ Gumbel(0, 1)

  (Jang et al. 2017, eq. 1-2; Maddison et al. 2017, the Concrete
  distribution Concrete(α = exp(l), τ)). y lies in the open simplex and is a
  differentiable function of the logits; as τ -> 0 it tends to the one-hot
  vector of argmax_k (l_k + g_k), which is an exact Categorical(softmax(l))
  sample (the Gumbel-max trick); τ -> ∞ tends to the uniform vector 1/K.

  At small τ the small entries of y underflow: in float32 y_k = 0 as soon
  as (l_j + g_j - l_k - g_k) / τ > ~104 for the largest j. Such a y is on
  the simplex's boundary, where the Concrete density is 0 or infinite, so
  its log-density cannot be evaluated from y (log 0): draw the sample in
  log space with `log_gumbel_softmax` (same key, same noise) when a density
  is needed.

  hard=True is the straight-through Gumbel-softmax (Jang et al. 2017, sec.
  2.2): the forward value is the one-hot y_hard = onehot(argmax_k y_k), exact
  (computed as y_hard + (y - stop_gradient(y)), so no rounding touches it),
  and the backward pass uses ∂y/∂l of the relaxed sample (a biased gradient
  of the discrete objective).

  Args:
    rng: a JAX PRNG key.
    logits: float [..., K] unnormalised log-probabilities l (any shift of l
      gives the same distribution).
    temperature: τ > 0, a Python float or a scalar array (may be traced, e.g.
      an annealed τ; no recompilation when it changes).
    hard: straight-through (forward one-hot) if True.

  Returns:
    float [..., K], same dtype as `logits`, rows on the simplex.

  Raises:
    ValueError: `logits` not floating of rank >= 1, or `temperature` not a
      floating (or Python int) scalar.

  References:
    Jang, Gu and Poole 2017, "Categorical Reparameterization with
      Gumbel-Softmax" (ICLR), eq. 1-2 and sec. 2.2 (straight-through).
    Maddison, Mnih and Teh 2017, "The Concrete Distribution: A Continuous
      Relaxation of Discrete Random Variables" (ICLR), definition 1.
  """
  scores = _relaxed_scores(rng, logits, temperature)
  y = jax.nn.softmax(scores, axis=-1)
  if not hard:
    return y
  y_hard = jax.nn.one_hot(jnp.argmax(y, axis=-1), logits.shape[-1],
                          dtype=y.dtype)
  return y_hard + (y - jax.lax.stop_gradient(y))


@checks.inputs(**_RELAXED)
def log_gumbel_softmax(rng: jax.Array, logits: jax.Array,
                       temperature) -> jax.Array:
  """The log of a Gumbel-softmax sample, x = log y ~ ExpConcrete(α, τ).

    x_k = (l_k + g_k) / τ - logsumexp_j (l_j + g_j) / τ,  g ~ Gumbel(0, 1),

  computed by `log_softmax`, so x is finite where y = exp(x) underflows (at
  small τ in float32). With the same key it uses the same noise as
  `gumbel_softmax`: exp(log_gumbel_softmax(rng, l, τ)) equals
  gumbel_softmax(rng, l, τ) up to rounding. Pair it with
  `relaxed_categorical_log_prob(..., log_sample=True)` for the Concrete or
  ExpConcrete log-density (Maddison et al. 2017, appendix C, recommend the
  log-space variable for exactly this reason).

  Args:
    rng: a JAX PRNG key.
    logits: float [..., K], l = log α.
    temperature: τ > 0, a Python float or a scalar array (may be traced).

  Returns:
    float [..., K], same dtype as `logits`, each row with
    logsumexp_k x_k = 0 (x_k <= 0).

  Raises:
    ValueError: `logits` not floating of rank >= 1, or `temperature` not a
      floating (or Python int) scalar.

  References:
    Maddison, Mnih and Teh 2017, "The Concrete Distribution", appendix C
      (ExpConcrete); Jang, Gu and Poole 2017, eq. 2.
  """
  scores = _relaxed_scores(rng, logits, temperature)
  return jax.nn.log_softmax(scores, axis=-1)


@checks.inputs(**_RELAXED, sample="floating [..., K]",
               broadcast=("logits", "sample"))
def relaxed_categorical_log_prob(logits: jax.Array, sample: jax.Array,
                                 temperature, log_space: bool = False, *,
                                 log_sample: bool | None = None
                                 ) -> jax.Array:
  """Log-density of the Concrete (Gumbel-softmax) distribution, in nats.

  On the simplex, for y ~ Concrete(α, τ) with α = exp(l) (Maddison et al.
  2017, eq. (ConcreteDensity), definition 1; Jang et al. 2017, eq. 3):

    p(y) = (K-1)! τ^{K-1} Π_k [α_k y_k^{-τ-1} / Σ_i α_i y_i^{-τ}],

  a density with respect to Lebesgue measure on the first K-1 coordinates
  (y_K = 1 - Σ_{k<K} y_k). With x = log y (the ExpConcrete variable,
  Maddison et al. 2017, appendix C):

    log p_exp(x) = log (K-1)! + (K-1) log τ + Σ_k (l_k - τ x_k)
                   - K logsumexp_k (l_k - τ x_k),

  and log p(y) = log p_exp(log y) - Σ_k log y_k. p_exp is the paper's
  ExpConcrete density; as a density of the first K-1 coordinates of x it
  needs the factor 1/y_K (log p_exp(x) - x_K), which cancels in density
  ratios of two ExpConcrete densities at the same point (the relaxed KL of
  Maddison et al. 2017, sec. 5), so it is returned as the paper writes it.

  Two switches: `log_sample` says what `sample` holds (y, or x = log y),
  `log_space` which density is returned (p(y), or p_exp(x)). Both formulas
  use x only, so

    relaxed_categorical_log_prob(l, x, τ, log_sample=True)

  is the Concrete log-density of y = exp(x) computed without forming y: it
  stays finite where a float32 y has underflowed to 0 (small τ; a y with a
  zero entry is on the simplex's boundary, where p is 0 or infinite, and
  log_sample=False then gives NaN or ±inf). Draw x with
  `log_gumbel_softmax`.

  Args:
    logits: float [..., K]; l = log α (unnormalised).
    sample: float [..., K] (broadcastable with `logits`): a point y of the
      open simplex, or its log x = log y if `log_sample`.
    temperature: τ > 0, a Python float or a scalar array.
    log_space: return the ExpConcrete log-density of x = log y instead of
      the Concrete log-density of y.
    log_sample: `sample` is x = log y; defaults to `log_space` (so
      log_space=True alone means "x in, p_exp(x) out", as before).

  Returns:
    float [...], log-densities in nats.

  Raises:
    ValueError: non-floating `logits`/`sample`, rank 0, shapes that do not
      broadcast, or `temperature` not a floating (or Python int) scalar.

  References:
    Maddison, Mnih and Teh 2017, "The Concrete Distribution", definition 1,
      eq. (ConcreteDensity) and appendix C (ExpConcrete).
    Jang, Gu and Poole 2017, eq. 3.
  """
  if log_sample is None:
    log_sample = log_space
  k = logits.shape[-1]
  log_y = sample if log_sample else jnp.log(sample)
  tau = jnp.asarray(temperature, logits.dtype)
  scores = logits - tau * log_y                                   # [..., K]
  log_p = (math.lgamma(k) + (k - 1) * jnp.log(tau) + jnp.sum(scores, -1)
           - k * jax.nn.logsumexp(scores, axis=-1))
  if log_space:
    return log_p
  return log_p - jnp.sum(log_y, -1)


@checks.inputs(log_prob="floating", f_value="numeric", baseline="numeric",
               broadcast=True)
def score_function_surrogate(log_prob: jax.Array, f_value: jax.Array,
                             baseline=0.0) -> jax.Array:
  """The REINFORCE surrogate s = stop_gradient(f(z) - b) · log q_φ(z).

  For z ~ q_φ (z not differentiated: a discrete sample, or a continuous one
  under stop_gradient), ∇_φ s = (f(z) - b) ∇_φ log q_φ(z), an unbiased
  estimate of ∇_φ E_q[f(z)] because E_q[∇_φ log q_φ(z)] = 0, for any
  baseline b that does not depend on z (Williams 1992, eq. 4 and
  theorem 1): the baseline leaves the mean unchanged and, well chosen
  (b ≈ E_q[f]), reduces the variance. A leave-one-out mean of the other
  samples' f (`leave_one_out_baseline`) is such a b for each sample.

  The value of s is not an estimate of E_q[f] (only its gradient is
  meaningful); the sign is that of f, so minimise -s to maximise E_q[f].

  When f depends on the parameters too (f = f_φ, e.g. the ELBO's
  log p_θ(x, z) - log q_φ(z|x)),
    ∇_φ E_q[f_φ(z)] = E_q[∇_φ f_φ(z)] + E_q[f_φ(z) ∇_φ log q_φ(z)],
  so differentiate  f_φ(stop_gradient(z)) + score_function_surrogate(
  log q_φ(z), f_φ(z), b)  (the pathwise term plus this one). For the ELBO
  the pathwise term of -log q_φ has zero mean (E_q[∇_φ log q_φ] = 0) and
  can be dropped, at some cost in variance.

  Args:
    log_prob: float [...] log q_φ(z), differentiable in φ.
    f_value: float [...] f(z) (broadcastable); gradients through it are cut.
    baseline: float, broadcastable to f_value (gradients cut too).

  Returns:
    float [...], the per-sample surrogate; average it over samples and
    differentiate.

  Raises:
    ValueError: non-floating `log_prob`, non-numeric `f_value`/`baseline`,
      or shapes that do not broadcast together.

  References:
    Williams 1992, "Simple Statistical Gradient-Following Algorithms for
      Connectionist Reinforcement Learning", eq. 4 and sec. 4 (baselines).
    Mnih and Gregor 2014, "Neural Variational Inference and Learning in
      Belief Networks", sec. 3 (variance reduction).
  """
  return jax.lax.stop_gradient(f_value - baseline) * log_prob


@checks.inputs(f_values="floating")
def leave_one_out_baseline(f_values: jax.Array, axis: int = 0) -> jax.Array:
  """b_s = (Σ_{s'≠s} f_{s'}) / (S - 1), per sample s along `axis`.

  Each b_s is independent of sample s, so the score-function estimator
  (1/S) Σ_s (f_s - b_s) ∇ log q(z_s) stays unbiased (Kool, van Hoof and
  Welling 2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!", eq. 8;
  Mnih and Rezende 2016, VIMCO, uses the same idea).

  Args:
    f_values: float array [..., S, ...] with S >= 2 samples along `axis`
      (f's units, e.g. nats for an ELBO term).
    axis: the samples' axis.

  Returns:
    float array of the same shape and units.

  Raises:
    ValueError: `f_values` not floating, `axis` out of range, or fewer than
      2 samples.

  References:
    Kool, van Hoof and Welling 2019, "Buy 4 REINFORCE Samples, Get a
      Baseline for Free!" (ICLR workshop), eq. 8; Mnih and Rezende 2016,
      "Variational Inference for Monte Carlo Objectives", sec. 3.
  """
  fn = "estimators.leave_one_out_baseline"
  _check_axis(fn, "f_values", f_values, axis, min_size=1)
  s = f_values.shape[axis]
  if s < 2:
    raise ValueError(f"{fn}: needs >= 2 samples along axis {axis} of "
                     f"`f_values`; got {s} (shape {f_values.shape}).")
  total = jnp.sum(f_values, axis=axis, keepdims=True)
  return (total - f_values) / (s - 1)


def _check_axis(fn: str, name: str, x, axis: int, min_size: int) -> None:
  """x is a numeric array with `axis` in range and >= min_size entries."""
  checks.check_array(fn, name, x, min_rank=1, dtype="numeric")
  shape = checks.shape_of(x)
  if (not isinstance(axis, (int, np.integer)) or isinstance(axis, bool)
      or not -len(shape) <= axis < len(shape)):
    raise ValueError(f"{fn}: `axis` must be an int in [-{len(shape)}, "
                     f"{len(shape)}) for `{name}` with shape {shape}; got "
                     f"{axis!r}.")
  if shape[axis] < min_size:
    raise ValueError(f"{fn}: `{name}` needs >= {min_size} entries along "
                     f"axis {axis}; got shape {shape}.")


def _check_broadcasts_to(fn: str, name: str, x, ref_name: str, ref) -> None:
  """x broadcasts to ref's shape (the output keeps ref's shape)."""
  shape, ref_shape = checks.shape_of(x), checks.shape_of(ref)
  if not checks.broadcasts_to(shape, ref_shape):
    raise ValueError(f"{fn}: `{name}` must broadcast to the shape of "
                     f"`{ref_name}` {ref_shape}; got {shape}.")

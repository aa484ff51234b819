"""Monte Carlo estimators: reparameterisation, importance weighting, the
score function (REINFORCE) and the Gumbel-softmax relaxation.

References:
  Kingma and Welling 2014, "Auto-Encoding Variational Bayes", eq. 10 (the
    reparameterisation z = μ + σ ⊙ ε).
  Burda, Grosse and Salakhutdinov 2016, "Importance Weighted Autoencoders",
    eq. 8 (the K-sample bound L_K).
  Williams 1992, "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning" (REINFORCE), eq. 4.
  Jang, Gu and Poole 2017, "Categorical Reparameterization with
    Gumbel-Softmax", eq. 1-3; Maddison, Mnih and Teh 2017, "The Concrete
    Distribution".
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gdm_jax import checks


def reparameterize(rng: jax.Array, mean: jax.Array, log_scale: jax.Array,
                   num_samples: int | None = None) -> jax.Array:
  """Draws z = mean + exp(log_scale) * ε, ε ~ N(0, I), differentiably.

  Args:
    rng: a JAX PRNG key.
    mean, log_scale: float arrays [B, D].
    num_samples: if given, K samples are drawn and stacked on a new leading
      axis.

  Returns:
    [B, D] float array, or [K, B, D] when `num_samples` is given.

  Raises:
    ValueError: non-floating `mean`/`log_scale`, shapes that do not
      broadcast to `mean`'s, or `num_samples` not a positive int.
  """
  fn = "estimators.reparameterize"
  checks.check_array(fn, "mean", mean)
  checks.check_array(fn, "log_scale", log_scale)
  _check_broadcasts_to(fn, "log_scale", log_scale, "mean", mean)
  if num_samples is not None:
    checks.check_positive_int(fn, "num_samples", num_samples)
  shape = mean.shape if num_samples is None else (num_samples,) + mean.shape
  eps = jax.random.normal(rng, shape, mean.dtype)
  return mean + jnp.exp(log_scale) * eps


def log_mean_exp(x: jax.Array, axis: int = 0) -> jax.Array:
  """log(mean(exp(x), axis)), stable: logsumexp(x) - log(n).

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
    log_weights: float array [K, B] of log w_k.

  Returns:
    float array [B], in nats.

  Raises:
    ValueError: `log_weights` not floating of rank >= 1 with K >= 1.
  """
  fn = "estimators.iwae_bound"
  checks.check_array(fn, "log_weights", log_weights, min_rank=1,
                     layout="[K, B]")
  _check_axis(fn, "log_weights", log_weights, 0, min_size=1)
  return log_mean_exp(log_weights, axis=0)


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


def gumbel_softmax(rng: jax.Array, logits: jax.Array, temperature,
                   hard: bool = False) -> jax.Array:
  """A Gumbel-softmax (Concrete) sample, relaxed or straight-through.

    y_k = exp((l_k + g_k) / τ) / Σ_j exp((l_j + g_j) / τ),  g_k ~ Gumbel(0, 1)

  (Jang et al. 2017, eq. 1-2; Maddison et al. 2017, the Concrete
  distribution Concrete(α = exp(l), τ)). y lies in the open simplex and is a
  differentiable function of the logits; as τ -> 0 it tends to the one-hot
  vector of argmax_k (l_k + g_k), which is an exact Categorical(softmax(l))
  sample (the Gumbel-max trick); τ -> ∞ tends to the uniform vector 1/K.

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
  fn = "estimators.gumbel_softmax"
  checks.check_array(fn, "logits", logits, min_rank=1, layout="[..., K]")
  checks.check_array(fn, "temperature", temperature, rank=0)
  g = sample_gumbel(rng, logits.shape, logits.dtype)
  y = jax.nn.softmax((logits + g) / temperature, axis=-1)
  if not hard:
    return y
  y_hard = jax.nn.one_hot(jnp.argmax(y, axis=-1), logits.shape[-1],
                          dtype=y.dtype)
  return y_hard + (y - jax.lax.stop_gradient(y))


def relaxed_categorical_log_prob(logits: jax.Array, sample: jax.Array,
                                 temperature, log_space: bool = False
                                 ) -> jax.Array:
  """Log-density of the Concrete (Gumbel-softmax) distribution, in nats.

  On the simplex, for y ~ Concrete(α, τ) with α = exp(l) (Maddison et al.
  2017, eq. (ConcreteDensity), definition 1; Jang et al. 2017, eq. 3):

    p(y) = (K-1)! τ^{K-1} Π_k [α_k y_k^{-τ-1} / Σ_i α_i y_i^{-τ}],

  a density with respect to Lebesgue measure on the first K-1 coordinates
  (y_K = 1 - Σ_{k<K} y_k). With log_space=True, `sample` is x = log y
  (the ExpConcrete variable, Maddison et al. 2017, appendix C):

    log p_exp(x) = log (K-1)! + (K-1) log τ + Σ_k (l_k - τ x_k)
                   - K logsumexp_k (l_k - τ x_k),

  so log p(y) = log p_exp(log y) - Σ_k log y_k. p_exp is the paper's
  ExpConcrete density; as a density of the first K-1 coordinates of x it
  needs the factor 1/y_K (log p_exp(x) - x_K), which cancels in density
  ratios of two ExpConcrete densities at the same point (the relaxed KL of Maddison et
  al. 2017, sec. 5), so it is returned as the paper writes it.

  Args:
    logits: float [..., K]; l = log α (unnormalised).
    sample: float [..., K], a point of the open simplex (or its log).
    temperature: τ > 0.
    log_space: evaluate the ExpConcrete density of x = log y.

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
  fn = "estimators.relaxed_categorical_log_prob"
  checks.check_array(fn, "logits", logits, min_rank=1, layout="[..., K]")
  checks.check_array(fn, "sample", sample, min_rank=1, layout="[..., K]")
  checks.check_broadcastable(fn, [("logits", logits), ("sample", sample)])
  checks.check_array(fn, "temperature", temperature, rank=0)
  k = logits.shape[-1]
  log_y = sample if log_space else jnp.log(sample)
  tau = jnp.asarray(temperature, logits.dtype)
  scores = logits - tau * log_y                                   # [..., K]
  log_p = (math.lgamma(k) + (k - 1) * jnp.log(tau) + jnp.sum(scores, -1)
           - k * jax.nn.logsumexp(scores, axis=-1))
  if log_space:
    return log_p
  return log_p - jnp.sum(log_y, -1)


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
  fn = "estimators.score_function_surrogate"
  checks.check_array(fn, "log_prob", log_prob)
  checks.check_array(fn, "f_value", f_value, dtype="numeric")
  checks.check_array(fn, "baseline", baseline, dtype="numeric")
  checks.check_broadcastable(fn, [("log_prob", log_prob),
                                  ("f_value", f_value),
                                  ("baseline", baseline)])
  return jax.lax.stop_gradient(f_value - baseline) * log_prob


def leave_one_out_baseline(f_values: jax.Array, axis: int = 0) -> jax.Array:
  """b_s = (Σ_{s'≠s} f_{s'}) / (S - 1), per sample s along `axis`.

  Each b_s is independent of sample s, so the score-function estimator
  (1/S) Σ_s (f_s - b_s) ∇ log q(z_s) stays unbiased (Kool, van Hoof and
  Welling 2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!", eq. 8;
  Mnih and Rezende 2016, VIMCO, uses the same idea).

  Args:
    f_values: float array with S >= 2 samples along `axis`.

  Returns:
    float array of the same shape.

  Raises:
    ValueError: `f_values` not floating, `axis` out of range, or fewer than
      2 samples.
  """
  fn = "estimators.leave_one_out_baseline"
  checks.check_array(fn, "f_values", f_values, min_rank=1)
  _check_axis(fn, "f_values", f_values, axis, min_size=1)
  s = f_values.shape[axis]
  if s < 2:
    raise ValueError(f"{fn}: leave_one_out_baseline needs >= 2 samples "
                     f"along axis {axis} of `f_values`; got {s} (shape "
                     f"{checks.shape_of(f_values)}).")
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

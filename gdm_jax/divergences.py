"""f-divergences as data, their variational bound, MMD and energy distance.

All values are in nats. An f-divergence between distributions P and Q with
densities p, q is (Ali and Silvey 1966; Csiszár 1967)

  D_f(P || Q) = ∫ q(x) f(p(x) / q(x)) dx,

for a convex, lower-semicontinuous generator f: R_+ -> R with f(1) = 0. With
the Fenchel conjugate f*(t) = sup_u {u t - f(u)}, every critic
T: X -> dom f* gives the lower bound (Nguyen et al. 2010; Nowozin et al. 2016,
eq. 4)

  D_f(P || Q) >= E_P[T(x)] - E_Q[f*(T(x))],

tight at T*(x) = f'(p(x) / q(x)). f-GAN (Nowozin et al. 2016, eq. 6) writes
T = g_f(V) with an unconstrained network output V ("logits") and a
divergence-specific output activation g_f: R -> dom f*.

Each divergence below is an `FDivergence` record built from Nowozin et al.
2016, Tables 1 and 2. Two fields are added to the paper's:
`conjugate_of_activation` = f* ∘ g_f in a closed form that stays accurate
where composing the two does not: in float32 g_f(v) rounds onto the open end
of dom f* and the composition turns +inf (Jensen-Shannon, Neyman χ² and
squared Hellinger at v ≈ 18, GAN at v ≈ 88), while e.g. the GAN closed form
f*(log σ(v)) = softplus(v) is exact; and `inverse_activation` = g_f^{-1},
which turns a target critic value (e.g. T*) into logits. Use
`variational_terms` / `variational_lower_bound`, which take logits and use
the closed form, rather than composing `conjugate` with
`output_activation` yourself.

Inputs are validated at trace time (`gdm_jax.checks`): logits, samples and
probabilities must be floating arrays of the documented ranks and matching
shapes, and `div` an `FDivergence`; failures raise ValueError naming the
function and the argument.

Conventions worth knowing:
  * 'jensen_shannon' uses the paper's generator
    f(u) = u log u - (u + 1) log((u + 1) / 2), so D_f = 2 JSD(P || Q) with
    JSD = ½ KL(P || M) + ½ KL(Q || M), M = (P + Q) / 2; range [0, log 4].
    (The paper's Table 1 prints the divergence column with an extra ½.)
  * 'gan' uses f(u) = u log u - (u + 1) log(u + 1), so D_f = 2 JSD - log 4
    (range [-log 4, 0]; f(1) = -log 4 ≠ 0, the one exception to f(1) = 0).
    Its bound E_P[log D] + E_Q[log(1 - D)] with D = σ(V) is Goodfellow et al.
    2014's discriminator objective.
  * 'reverse_kl' is KL(Q || P) = ∫ q log(q / p). (The seed survey's table
    prints ∫ q log(p / q), with the sign flipped.)
  * 'squared_hellinger' is ∫ (√p - √q)², without the ½ some authors use.
  * 'total_variation' is ½ ∫ |p - q|; f is not differentiable at u = 1, its
    subdifferential there is [-½, ½], and `f_prime_at_one` = 0 is the paper's
    choice of subgradient.
  * 'pearson_chi2' and 'total_variation' use the paper's conjugates, which
    are those of f extended to u < 0; for t below f'(0) they exceed the
    conjugate over u >= 0, so the bound stays valid, only looser there.
  * `conjugate` follows the extended-value convention: +inf outside dom f*,
    with finite (zero) gradients there.
  * `mmd_unbiased` and `energy_distance` take optional row weights (an
    evaluation batch's mask): the U-statistics' means become weighted ones,
    so padding rows of weight 0 do not count; fewer than two weighted rows
    on a side give 0.
  * The kernels take explicit scales (`rbf_kernel(bandwidths)`,
    `imq_kernel(scales)`); a family's choice of scales (the WAE's
    C_s = 2 d σ_z² s) lives with the family (`gdm_jax.models.wae`).

References:
  Nowozin, Cseke and Tomioka 2016, "f-GAN: Training Generative Neural Samplers
    using Variational Divergence Minimization", NeurIPS (Tables 1 and 2).
  Nguyen, Wainwright and Jordan 2010, "Estimating divergence functionals and
    the likelihood ratio by convex risk minimization", IEEE Trans. Inf. Theory.
  Gretton et al. 2012, "A Kernel Two-Sample Test", JMLR 13 (eq. 3).
  Tolstikhin et al. 2018, "Wasserstein Auto-Encoders", ICLR (IMQ kernel).
  Székely and Rizzo 2013, "Energy statistics: A class of statistics based on
    distances", J. Stat. Plan. Inference.
  Bellemare et al. 2017, "The Cramer Distance as a Solution to Biased
    Wasserstein Gradients", arXiv:1705.10743.
"""

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy
import numpy as np

from gdm_jax import checks

LOG_2 = math.log(2.0)
LOG_4 = math.log(4.0)

Elementwise = Callable[[jax.Array], jax.Array]
Kernel = Callable[[jax.Array, jax.Array], jax.Array]


class Interval(NamedTuple):
  """A real interval; infinite ends are open whatever the flags say."""
  low: float
  high: float
  low_closed: bool = False
  high_closed: bool = False

  def contains(self, t: jax.Array) -> jax.Array:
    """Elementwise membership test, boolean array of t's shape."""
    above = (t >= self.low) if self.low_closed else (t > self.low)
    below = (t <= self.high) if self.high_closed else (t < self.high)
    return above & below


class FDivergence(NamedTuple):
  """One f-divergence, described by the functions f-GAN needs.

  All callables are elementwise on float arrays. A record is hashable but
  its leaves are functions: inside `jax.jit` close over it or mark it static
  (`static_argnums`); do not pass it as a traced argument.

  Attributes:
    name: key in `FDIVERGENCES`.
    f: generator f(u), u = p/q >= 0 (u = 0 allowed where the limit is finite).
    conjugate: Fenchel conjugate f*(t) = sup_u {u t - f(u)}; +inf outside
      `conjugate_domain`.
    output_activation: g_f: R -> dom f*, critic T = g_f(V) from logits V.
    f_prime_at_one: f'(1); T* = f'(1) where p = q, i.e. the critic's value
      (and g_f^{-1} of it, the logit) at which it cannot tell P from Q.
    optimal_critic: T*(u) = f'(u) as a function of the density ratio u = p/q.
    conjugate_domain: dom f* as an `Interval`.
    conjugate_of_activation: f*(g_f(v)) in a numerically stable closed form.
    inverse_activation: g_f^{-1}: dom f* -> R (logits of a given critic value).
  """
  name: str
  f: Elementwise
  conjugate: Elementwise
  output_activation: Elementwise
  f_prime_at_one: float
  optimal_critic: Elementwise
  conjugate_domain: Interval
  conjugate_of_activation: Elementwise
  inverse_activation: Elementwise


def _restrict(t: jax.Array, inside: jax.Array, fn: Elementwise,
              safe_value: float) -> jax.Array:
  """fn(t) where `inside`, +inf elsewhere, without NaN values or gradients.

  The double `where` keeps fn away from arguments outside its domain, so the
  unselected branch cannot poison gradients with NaN.
  """
  t_safe = jnp.where(inside, t, safe_value)
  return jnp.where(inside, fn(t_safe), jnp.inf)


def _conjugate_on(domain: Interval, fn: Elementwise,
                  safe_value: float) -> Elementwise:
  return lambda t: _restrict(t, domain.contains(t), fn, safe_value)


_REALS = Interval(-math.inf, math.inf)
_NEGATIVE = Interval(-math.inf, 0.0)
_BELOW_ONE = Interval(-math.inf, 1.0)
_BELOW_LOG2 = Interval(-math.inf, LOG_2)
_HALF_BOX = Interval(-0.5, 0.5, True, True)

FORWARD_KL = FDivergence(
    name="forward_kl",  # KL(P || Q) = ∫ p log(p / q)
    f=lambda u: xlogy(u, u),
    conjugate=lambda t: jnp.exp(t - 1.0),
    output_activation=lambda v: v,
    f_prime_at_one=1.0,
    optimal_critic=lambda u: 1.0 + jnp.log(u),
    conjugate_domain=_REALS,
    conjugate_of_activation=lambda v: jnp.exp(v - 1.0),
    inverse_activation=lambda t: t,
)

REVERSE_KL = FDivergence(
    name="reverse_kl",  # KL(Q || P) = ∫ q log(q / p)
    f=lambda u: -jnp.log(u),
    conjugate=_conjugate_on(_NEGATIVE, lambda t: -1.0 - jnp.log(-t), -1.0),
    output_activation=lambda v: -jnp.exp(-v),
    f_prime_at_one=-1.0,
    optimal_critic=lambda u: -1.0 / u,
    conjugate_domain=_NEGATIVE,
    conjugate_of_activation=lambda v: v - 1.0,
    inverse_activation=lambda t: -jnp.log(-t),
)

JENSEN_SHANNON = FDivergence(
    name="jensen_shannon",  # 2 JSD = KL(P || M) + KL(Q || M)
    f=lambda u: xlogy(u, u) - xlogy(u + 1.0, u + 1.0) + (u + 1.0) * LOG_2,
    conjugate=_conjugate_on(_BELOW_LOG2,
                            lambda t: -jnp.log(2.0 - jnp.exp(t)), 0.0),
    output_activation=lambda v: LOG_2 - jax.nn.softplus(-v),
    f_prime_at_one=0.0,
    optimal_critic=lambda u: LOG_2 + jnp.log(u) - jnp.log1p(u),
    conjugate_domain=_BELOW_LOG2,
    # 2 - exp(g_f(v)) = 2 σ(-v), so f*(g_f(v)) = softplus(v) - log 2.
    conjugate_of_activation=lambda v: jax.nn.softplus(v) - LOG_2,
    # σ(v) = exp(t) / 2.
    inverse_activation=lambda t: (t - LOG_2) - jnp.log1p(-jnp.exp(t - LOG_2)),
)

GAN = FDivergence(
    name="gan",  # 2 JSD - log 4
    f=lambda u: xlogy(u, u) - xlogy(u + 1.0, u + 1.0),
    conjugate=_conjugate_on(_NEGATIVE, lambda t: -jnp.log(-jnp.expm1(t)),
                            -1.0),
    output_activation=lambda v: -jax.nn.softplus(-v),  # log σ(v) = log D
    f_prime_at_one=-LOG_2,
    optimal_critic=lambda u: jnp.log(u) - jnp.log1p(u),  # log p / (p + q)
    conjugate_domain=_NEGATIVE,
    # 1 - exp(log σ(v)) = σ(-v), so f*(g_f(v)) = -log(1 - D) = softplus(v).
    conjugate_of_activation=jax.nn.softplus,
    inverse_activation=lambda t: t - jnp.log(-jnp.expm1(t)),  # logit(e^t)
)

PEARSON_CHI2 = FDivergence(
    name="pearson_chi2",  # ∫ (p - q)² / q
    f=lambda u: jnp.square(u - 1.0),
    conjugate=lambda t: 0.25 * t * t + t,
    output_activation=lambda v: v,
    f_prime_at_one=0.0,
    optimal_critic=lambda u: 2.0 * (u - 1.0),
    conjugate_domain=_REALS,
    conjugate_of_activation=lambda v: 0.25 * v * v + v,
    inverse_activation=lambda t: t,
)

NEYMAN_CHI2 = FDivergence(
    name="neyman_chi2",  # ∫ (p - q)² / p
    f=lambda u: jnp.square(1.0 - u) / u,
    conjugate=_conjugate_on(_BELOW_ONE,
                            lambda t: 2.0 - 2.0 * jnp.sqrt(1.0 - t), 0.0),
    output_activation=lambda v: -jnp.expm1(-v),  # 1 - exp(-v)
    f_prime_at_one=0.0,
    optimal_critic=lambda u: 1.0 - 1.0 / jnp.square(u),
    conjugate_domain=_BELOW_ONE,
    conjugate_of_activation=lambda v: 2.0 - 2.0 * jnp.exp(-0.5 * v),
    inverse_activation=lambda t: -jnp.log1p(-t),
)

SQUARED_HELLINGER = FDivergence(
    name="squared_hellinger",  # ∫ (√p - √q)²
    f=lambda u: jnp.square(jnp.sqrt(u) - 1.0),
    conjugate=_conjugate_on(_BELOW_ONE, lambda t: t / (1.0 - t), 0.0),
    output_activation=lambda v: -jnp.expm1(-v),  # 1 - exp(-v)
    f_prime_at_one=0.0,
    optimal_critic=lambda u: 1.0 - jax.lax.rsqrt(u),  # (√u - 1) / √u
    conjugate_domain=_BELOW_ONE,
    conjugate_of_activation=jnp.expm1,  # (1 - e^-v) / e^-v
    inverse_activation=lambda t: -jnp.log1p(-t),
)

TOTAL_VARIATION = FDivergence(
    name="total_variation",  # ½ ∫ |p - q|
    f=lambda u: 0.5 * jnp.abs(u - 1.0),
    conjugate=_conjugate_on(_HALF_BOX, lambda t: t, 0.0),
    output_activation=lambda v: 0.5 * jnp.tanh(v),
    f_prime_at_one=0.0,
    optimal_critic=lambda u: 0.5 * jnp.sign(u - 1.0),
    conjugate_domain=_HALF_BOX,
    conjugate_of_activation=lambda v: 0.5 * jnp.tanh(v),
    inverse_activation=lambda t: jnp.arctanh(2.0 * t),
)

FDIVERGENCES: dict[str, FDivergence] = {
    d.name: d for d in (FORWARD_KL, REVERSE_KL, JENSEN_SHANNON, GAN,
                        PEARSON_CHI2, NEYMAN_CHI2, SQUARED_HELLINGER,
                        TOTAL_VARIATION)
}


def get_f_divergence(name: str) -> FDivergence:
  """The `FDivergence` called `name`.

  Raises:
    ValueError: unknown name (the message lists the known ones).
  """
  if name not in FDIVERGENCES:
    raise ValueError(f"Unknown f-divergence '{name}'; known: "
                     f"{sorted(FDIVERGENCES)}.")
  return FDIVERGENCES[name]


@checks.inputs(p="floating", q="floating", broadcast=True)
def discrete_f_divergence(div: FDivergence, p: jax.Array, q: jax.Array,
                          axis: int = -1) -> jax.Array:
  """Exact D_f(P || Q) = Σ_k q_k f(p_k / q_k) for distributions on a finite set.

  Args:
    div: the divergence.
    p, q: probability vectors along `axis` (broadcastable); q must be > 0
      (p may be 0 where f(0) is finite).

  Returns:
    float array, the broadcast shape with `axis` removed, in nats.

  Raises:
    ValueError: div is not an FDivergence, p or q not floating, or shapes
      that do not broadcast.
  """
  check_div("divergences.discrete_f_divergence", div)
  return jnp.sum(q * div.f(p / q), axis=axis)


_LOGITS = dict(real_logits="floating", fake_logits="floating")


@checks.inputs(**_LOGITS)
def variational_terms(div: FDivergence, real_logits: jax.Array,
                      fake_logits: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The two per-example terms of the f-GAN objective.

  real_term = g_f(V(x)),        x ~ P (data)
  fake_term = f*(g_f(V(x))),    x ~ Q (model)
  so that F = mean(real_term) - mean(fake_term) (Nowozin et al. 2016, eq. 6).

  Args:
    div: the divergence.
    real_logits: critic outputs V on samples of P, e.g. [B_p].
    fake_logits: critic outputs V on samples of Q, e.g. [B_q].

  Returns:
    (real_term, fake_term), shaped like the corresponding logits, nats.

  Raises:
    ValueError: div is not an FDivergence, or non-floating logits.
  """
  check_div("divergences.variational_terms", div)
  return (div.output_activation(real_logits),
          div.conjugate_of_activation(fake_logits))


@checks.inputs(**_LOGITS, same_shape=True)
def variational_lower_bound_per_example(div: FDivergence,
                                        real_logits: jax.Array,
                                        fake_logits: jax.Array) -> jax.Array:
  """Per-pair bound g_f(V(x_i)) - f*(g_f(V(x̃_i))), x_i ~ P, x̃_i ~ Q.

  Its mean is `variational_lower_bound`; pairing the i-th real and i-th fake
  sample is only a bookkeeping choice (the two samples are independent).

  Args:
    div: the divergence.
    real_logits, fake_logits: critic outputs of equal shape, e.g. [B].

  Returns:
    float array of that shape, nats.

  Raises:
    ValueError: the shapes differ (`variational_lower_bound` takes unequal
      batches), div is not an FDivergence, or non-floating logits.
  """
  check_div("divergences.variational_lower_bound_per_example", div)
  real_term, fake_term = variational_terms(div, real_logits, fake_logits)
  return real_term - fake_term


@checks.inputs(**_LOGITS)
def variational_lower_bound(div: FDivergence, real_logits: jax.Array,
                            fake_logits: jax.Array) -> jax.Array:
  """Monte Carlo estimate of the f-GAN variational lower bound on D_f(P || Q).

  F(V) = E_{x~P}[g_f(V(x))] - E_{x~Q}[f*(g_f(V(x)))] <= D_f(P || Q),
  with equality when g_f(V) = T* = f'(p/q) (Nowozin et al. 2016, eqs. 4, 6).
  The critic maximises F; the generator (Q) minimises it.

  Args:
    div: the divergence.
    real_logits: critic outputs V on samples of P, any shape (e.g. [B_p]).
    fake_logits: critic outputs V on samples of Q, any shape (e.g. [B_q]).

  Returns:
    scalar, nats.

  Raises:
    ValueError: div is not an FDivergence, or non-floating logits.
  """
  check_div("divergences.variational_lower_bound", div)
  real_term, fake_term = variational_terms(div, real_logits, fake_logits)
  return jnp.mean(real_term) - jnp.mean(fake_term)


def check_div(fn: str, div) -> None:
  """Checks that `div` is an `FDivergence` (for the functions that take one).

  Raises:
    ValueError: naming `fn`, e.g. for a divergence's name given as a str.
  """
  if not isinstance(div, FDivergence):
    raise ValueError(f"{fn}: `div` must be a divergences.FDivergence (see "
                     f"divergences.get_f_divergence); got "
                     f"{type(div).__name__}.")


# ----------------------------------------------------------------- MMD ------


def _flatten(x: jax.Array) -> jax.Array:
  return x.reshape(x.shape[0], -1)


@checks.inputs(x="floating [N, ...]", y="floating [M, ...]")
def squared_distances(x: jax.Array, y: jax.Array) -> jax.Array:
  """Pairwise ||x_i - y_j||²: [N, ...], [M, ...] -> [N, M], clipped at 0.

  Raises:
    ValueError: non-floating or rank-0 inputs, or different event shapes.
  """
  checks.check_same_shape("divergences.squared_distances", [("x", x), ("y", y)],
                          slice(1, None), "event shape (axes after the first)")
  x, y = _flatten(x), _flatten(y)
  xx = jnp.sum(x * x, axis=-1)[:, None]
  yy = jnp.sum(y * y, axis=-1)[None, :]
  return jnp.maximum(xx + yy - 2.0 * x @ y.T, 0.0)


def rbf_kernel(bandwidths: float | Sequence[float]) -> Kernel:
  """Gaussian kernel k(x, y) = Σ_h exp(-||x - y||² / (2 h²)), summed over h.

  Args:
    bandwidths: one length scale h > 0 or several (a sum of RBF kernels is a
      characteristic kernel less sensitive to the choice of h).

  Returns:
    kernel: ([N, ...], [M, ...]) -> Gram matrix [N, M].

  Raises:
    ValueError: a bandwidth <= 0.
  """
  hs = tuple(float(h) for h in np.atleast_1d(bandwidths))
  if not hs or min(hs) <= 0:
    raise ValueError(f"rbf_kernel: bandwidths must be > 0; got {bandwidths}.")

  def kernel(x, y):
    d2 = squared_distances(x, y)
    return sum(jnp.exp(-d2 / (2.0 * h * h)) for h in hs)
  return kernel


def imq_kernel(scales: float | Sequence[float]) -> Kernel:
  """Inverse multiquadratics kernel, summed over scales.

  k(x, y) = Σ_c c / (c + ||x - y||²),   c > 0 the given scales,

  on the flattened event axes. Its heavy tails keep gradients alive for
  far-apart samples, where an RBF kernel's vanish (Tolstikhin et al. 2018,
  §4, who take c = 2 d σ_z² s over several multipliers s: see
  `gdm_jax.models.wae.make_kernel`).

  Args:
    scales: one constant c > 0 or several (squared-distance units).

  Returns:
    kernel: ([N, ...], [M, ...]) -> Gram matrix [N, M].

  Raises:
    ValueError: no scale, or a scale <= 0.
  """
  cs = tuple(float(c) for c in np.atleast_1d(scales))
  if not cs or min(cs) <= 0:
    raise ValueError(f"imq_kernel: scales must be > 0; got {scales}.")

  def kernel(x, y):
    d2 = squared_distances(x, y)
    out = 0.0
    for c in cs:
      out = out + c / (c + d2)
    return out
  return kernel


def _offdiag_mean(gram: jax.Array) -> jax.Array:
  n = gram.shape[0]
  return (jnp.sum(gram) - jnp.trace(gram)) / (n * (n - 1))


# Two samples [N, ...] and [M, ...] (their row weights: `_check_two_samples`).
_TWO_SAMPLES = dict(x="floating [N, ...]", y="floating [M, ...]")


def _check_two_samples(fn: str, x: jax.Array, y: jax.Array, x_weights,
                       y_weights) -> None:
  """N, M >= 2, one event shape, and weights that are numeric [N] / [M]."""
  if x.shape[0] < 2 or y.shape[0] < 2:
    raise ValueError(f"{fn}: needs at least 2 samples from each side; got "
                     f"{x.shape[0]} and {y.shape[0]}.")
  checks.check_same_shape(fn, [("x", x), ("y", y)], slice(1, None),
                          "event shape (axes after the first)")
  for name, w, n, axis in (("x_weights", x_weights, x.shape[0], "N"),
                           ("y_weights", y_weights, y.shape[0], "M")):
    if w is not None:
      checks.check_array(fn, name, w, shape=(n,), dtype="numeric",
                         layout=f"[{axis}] (row weights)")


def _u_statistic(kxx: jax.Array, kyy: jax.Array, kxy: jax.Array,
                 x_weights: jax.Array | None,
                 y_weights: jax.Array | None) -> jax.Array:
  """mean_{i≠j} kxx + mean_{i≠j} kyy - 2 mean_{i,j} kxy, the means weighted
  by w_i w_j (x_weights / y_weights; None = unweighted); 0 where a side has
  fewer than two rows of positive weight (see `mmd_unbiased`)."""
  if x_weights is None and y_weights is None:
    return _offdiag_mean(kxx) + _offdiag_mean(kyy) - 2.0 * jnp.mean(kxy)
  wx = (jnp.ones(kxx.shape[0], kxx.dtype) if x_weights is None
        else jnp.asarray(x_weights, kxx.dtype))
  wy = (jnp.ones(kyy.shape[0], kyy.dtype) if y_weights is None
        else jnp.asarray(y_weights, kyy.dtype))

  def pairs(w):             # Σ_{i≠j} w_i w_j
    return jnp.square(jnp.sum(w)) - jnp.sum(w * w)

  def within(gram, w):      # Σ_{i≠j} w_i w_j k_ij
    return w @ gram @ w - jnp.sum(w * w * jnp.diagonal(gram))

  ok = (pairs(wx) > 0) & (pairs(wy) > 0)
  safe = lambda den: jnp.where(ok, den, 1.0)
  value = (within(kxx, wx) / safe(pairs(wx)) + within(kyy, wy) / safe(pairs(wy))
           - 2.0 * (wx @ kxy @ wy) / safe(jnp.sum(wx) * jnp.sum(wy)))
  return jnp.where(ok, value, 0.0)


@checks.inputs(**_TWO_SAMPLES)
def mmd_unbiased(x: jax.Array, y: jax.Array, kernel: Kernel, *,
                 x_weights: jax.Array | None = None,
                 y_weights: jax.Array | None = None) -> jax.Array:
  """Unbiased U-statistic estimate of MMD²(P, Q) (Gretton et al. 2012, eq. 3).

  MMD²_u = 1/(N(N-1)) Σ_{i≠j} k(x_i, x_j) + 1/(M(M-1)) Σ_{i≠j} k(y_i, y_j)
           - 2/(NM) Σ_{i,j} k(x_i, y_j).

  Its expectation is exactly MMD² (0 iff P = Q for a characteristic kernel),
  so it can be negative on a finite sample. The biased V-statistic (which
  keeps the i = j terms) overestimates MMD² by O(1/N); WAE needs the unbiased
  one.

  Row weights (e.g. an evaluation batch's mask, 1 = real row, 0 = padding)
  turn each mean into a weighted one,

    Σ_{i≠j} w_i w_j k(x_i, x_j) / Σ_{i≠j} w_i w_j   (the same for y, v),
    Σ_{i,j} w_i v_j k(x_i, y_j) / (Σ_i w_i Σ_j v_j),

  so 0/1 weights give exactly the U-statistic of the selected rows, and any
  weights fixed independently of the samples' values keep it unbiased (each
  k(x_i, x_j), i ≠ j, has the same expectation). Rows of weight 0 must still
  hold finite values. With fewer than two rows of positive weight on a side
  the within-sample mean is undefined: the estimate is then 0 (with zero
  gradients), not NaN, so that a jitted evaluation of a padded batch with a
  single real row does not poison a data-set average.

  Args:
    x: [N, ...] samples of P.
    y: [M, ...] samples of Q (same event shape; event axes are flattened).
    kernel: ([N, ...], [M, ...]) -> [N, M], e.g. `rbf_kernel`, `imq_kernel`.
    x_weights: optional [N] weights w_i >= 0 of the rows of x (None = 1).
    y_weights: optional [M] weights v_j >= 0 of the rows of y (None = 1).

  Returns:
    scalar (squared MMD in the kernel's units).

  Raises:
    ValueError: fewer than 2 samples on a side, different event shapes,
      non-floating samples, or weights that are not numeric [N] / [M].
  """
  _check_two_samples("divergences.mmd_unbiased", x, y, x_weights, y_weights)
  return _u_statistic(kernel(x, x), kernel(y, y), kernel(x, y), x_weights,
                      y_weights)


def _safe_sqrt(d2: jax.Array) -> jax.Array:
  """sqrt with gradient 0 (not inf/NaN) at 0."""
  positive = d2 > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)


@checks.inputs(**_TWO_SAMPLES)
def energy_distance(x: jax.Array, y: jax.Array, *,
                    x_weights: jax.Array | None = None,
                    y_weights: jax.Array | None = None) -> jax.Array:
  """Unbiased estimate of the (squared) energy distance between P and Q.

  E(P, Q) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||,  X, X' ~ P, Y, Y' ~ Q,

  (Székely and Rizzo 2013), with the within-sample terms averaged over i ≠ j.
  E >= 0 with equality iff P = Q; in 1-D it equals 2 ∫ (F_P - F_Q)², twice
  the squared Cramér distance, which is the quantity Cramér GAN trains with
  (Bellemare et al. 2017, section 4; there x, y are critic features h(·)).
  It is MMD² under the distance-induced kernel, so it too can be negative on
  a finite sample. Gradients are finite even for coincident samples.
  Optional row weights (an evaluation mask) weight the three means as in
  `mmd_unbiased`, with the same rule for fewer than two weighted rows.

  Args:
    x: [N, ...] samples of P.
    y: [M, ...] samples of Q (same event shape; event axes are flattened).
    x_weights, y_weights: optional [N] / [M] row weights >= 0 (None = 1).

  Returns:
    scalar, in the units of x.

  Raises:
    ValueError: fewer than 2 samples on a side, different event shapes,
      non-floating samples, or weights that are not numeric [N] / [M].
  """
  _check_two_samples("divergences.energy_distance", x, y, x_weights,
                     y_weights)
  dist = lambda a, b: _safe_sqrt(squared_distances(a, b))
  return -_u_statistic(dist(x, x), dist(y, y), dist(x, y), x_weights,
                       y_weights)

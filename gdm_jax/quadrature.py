r"""Quadrature rules, and integrals of densities given at the nodes.

A rule is a pair (nodes x_i, weights w_i) with ∫_a^b g(x) dx ≈ Σ_i w_i g(x_i):

  gauss_legendre     composite Gauss-Legendre, float64 (host-side numpy):
                     exact for polynomials of degree 2·order - 1 on every
                     panel, and accurate to float64 for smooth g whose
                     features are wider than a panel;
  trapezoid_weights  the trapezoid rule on any sorted grid (second order).

The integrals below take LOG-densities at the nodes, never ratios, so that a
narrow density or a far tail costs no accuracy (p (log p - log q), not
p log(p / q)); terms with p = 0 count as 0 (0 log 0 = 0). They are jittable
and differentiable in the log-densities; shapes [..., N] over the N nodes
reduce to [...]. Units: nats. Precision: that of the inputs; float64 inputs
need `jax.enable_x64(True)` around the call (otherwise JAX computes in
float32).

  expectation       E_p[v] = ∫ p v ≈ Σ_i w_i p_i v_i;
  kl_divergence     KL(P || Q) = ∫ p (log p - log q);
  jensen_shannon    JSD(P || Q) = ½ KL(P || M) + ½ KL(Q || M), M = (P + Q)/2,
                    in [0, log 2];
  gan_value         V(D) = ∫ p_data log D + p_model log(1 - D), D = σ(l)
                    (Goodfellow et al. 2014, eq. 1).

References:
  Abramowitz and Stegun 1964, "Handbook of Mathematical Functions", 25.4.29
    (Gauss-Legendre) and 25.4.2 (trapezoid rule).
  Lin 1991, "Divergence measures based on the Shannon entropy", IEEE Trans.
    Inf. Theory (the Jensen-Shannon divergence).
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS (eq. 1,
    Proposition 1 and Theorem 1: V(D*) = 2 JSD - log 4).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

LOG_2 = math.log(2.0)


# ---------------------------------------------------------------- rules ----


def gauss_legendre(low: float, high: float, num_panels: int = 1,
                   order: int = 8) -> tuple[np.ndarray, np.ndarray]:
  """Composite Gauss-Legendre rule on [low, high].

  `num_panels` equal panels with an `order`-point rule each:
  ∫_low^high g(x) dx ≈ Σ_i w_i g(x_i), exact for polynomials of degree
  2·order - 1 on every panel.

  Args:
    low, high: the interval, low < high.
    num_panels: equal panels, >= 1.
    order: nodes per panel, >= 1.

  Returns:
    (nodes, weights), float64 [num_panels * order] each, panel by panel in
    increasing order; Σ weights = high - low.

  Raises:
    ValueError: high <= low, num_panels < 1 or order < 1.
  """
  if not high > low or num_panels < 1 or order < 1:
    raise ValueError(f"quadrature.gauss_legendre needs low < high, "
                     f"num_panels >= 1, order >= 1; got {low}, {high}, "
                     f"{num_panels}, {order}.")
  x, w = np.polynomial.legendre.leggauss(order)
  edges = np.linspace(low, high, num_panels + 1)
  half = 0.5 * np.diff(edges)[:, None]
  mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
  return (mid + half * x[None]).ravel(), (half * w[None]).ravel()


def trapezoid_weights(grid) -> np.ndarray:
  """Trapezoid-rule weights on a sorted grid: ∫ g ≈ Σ_i w_i g(x_i).

  w_0 = (x_1 - x_0)/2, w_i = (x_{i+1} - x_{i-1})/2, w_{N-1} = (x_{N-1} -
  x_{N-2})/2; exact for piecewise-linear g.

  Args:
    grid: [N] increasing points, N >= 2.

  Returns:
    float64 [N].

  Raises:
    ValueError: fewer than 2 points, or a grid that does not increase.
  """
  grid = np.asarray(grid, np.float64)
  if grid.ndim != 1 or len(grid) < 2 or np.any(np.diff(grid) <= 0):
    raise ValueError("quadrature.trapezoid_weights needs an increasing 1-D "
                     f"grid of >= 2 points; got shape {grid.shape}.")
  dx = np.diff(grid)
  w = np.zeros_like(grid)
  w[:-1] += 0.5 * dx
  w[1:] += 0.5 * dx
  return w


# ------------------------------------------- integrals of densities ----


def expectation(log_density: jax.Array, values: jax.Array,
                weights: jax.Array) -> jax.Array:
  """E_p[v] = ∫ p(x) v(x) dx ≈ Σ_i w_i p_i v_i, with p_i = exp(log p(x_i)).

  A node where p_i = 0 contributes 0 whatever v_i is (v may be ±inf there,
  e.g. a log-ratio outside p's support), with zero gradient.

  Args:
    log_density: [..., N] log p at the nodes (nats; -inf allowed).
    values: [..., N] v at the nodes (broadcastable with log_density).
    weights: [N] quadrature weights.

  Returns:
    [...], the broadcast shape without the node axis.
  """
  p = jnp.exp(log_density)
  positive = p > 0
  # The inner `where` keeps gradients finite where p = 0 and v = ±inf.
  safe = jnp.where(positive, values, 0.0)
  return jnp.sum(jnp.where(positive, weights * p * safe, 0.0), axis=-1)


def kl_divergence(log_p: jax.Array, log_q: jax.Array,
                  weights: jax.Array) -> jax.Array:
  """KL(P || Q) = ∫ p (log p - log q) dx by quadrature, nats.

  Args:
    log_p, log_q: [..., N] log-densities at the nodes (broadcastable).
    weights: [N] quadrature weights.

  Returns:
    [...] nats (>= 0 up to quadrature error; +inf where q = 0 < p).
  """
  return expectation(log_p, log_p - log_q, weights)


def jensen_shannon(log_p: jax.Array, log_q: jax.Array,
                   weights: jax.Array) -> jax.Array:
  """JSD(P || Q) = ½ KL(P || M) + ½ KL(Q || M), M = (P + Q)/2, nats.

  log m = logaddexp(log p, log q) - log 2, so disjoint supports give exactly
  log 2 (no ratio is formed). Symmetric; 0 <= JSD <= log 2.

  Args:
    log_p, log_q: [..., N] log-densities at the nodes (broadcastable).
    weights: [N] quadrature weights.

  Returns:
    [...] nats.

  References:
    Lin 1991 (definition); Goodfellow et al. 2014, Theorem 1.
  """
  # Where both densities are 0 the node is masked below; give logaddexp
  # finite inputs there so that its gradient is not NaN.
  both_zero = jnp.isneginf(log_p) & jnp.isneginf(log_q)
  log_m = jnp.logaddexp(jnp.where(both_zero, 0.0, log_p),
                        jnp.where(both_zero, 0.0, log_q)) - LOG_2
  return (0.5 * kl_divergence(log_p, log_m, weights)
          + 0.5 * kl_divergence(log_q, log_m, weights))


def gan_value(log_p_data: jax.Array, log_p_model: jax.Array,
              logits: jax.Array, weights: jax.Array) -> jax.Array:
  """The GAN game's value V(G, D) = ∫ p_data log D + p_model log(1 - D), nats.

  D = σ(l) with the discriminator's logits l at the nodes; log D =
  -softplus(-l) and log(1 - D) = -softplus(l) (no probability is formed).
  At the optimal discriminator l* = log p_data - log p_model
  (`critics.optimal_discriminator_logit`) V = 2 JSD(p_data || p_model) -
  log 4 (Goodfellow et al. 2014, Theorem 1); any other l gives less, since
  the integrand is maximised pointwise at l*.

  Args:
    log_p_data, log_p_model: [..., N] log-densities at the nodes.
    logits: [..., N] the discriminator's logits at the nodes.
    weights: [N] quadrature weights.

  Returns:
    [...] nats, <= 0.

  References:
    Goodfellow et al. 2014, eq. 1, Proposition 1 and Theorem 1.
  """
  return (expectation(log_p_data, -jax.nn.softplus(-logits), weights)
          + expectation(log_p_model, -jax.nn.softplus(logits), weights))

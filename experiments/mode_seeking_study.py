r"""Mode covering vs mode seeking: one Gaussian fitted to two Gaussians.

π is a fixed mixture of two 1-D Gaussians (default 0.5 N(-2, 0.5²) +
0.5 N(2, 0.5²), `gdm_jax.data.toy.mixture1d`), p = N(μ, σ²). The study fits
(μ, log σ) by gradient descent (Adam, cosine decay) to minimise, in nats,

  forward KL   KL(π || p) = ∫ π log(π / p)          (mode covering)
  reverse KL   KL(p || π) = ∫ p log(p / π)          (mode seeking)
  JSD          ½ KL(π || m) + ½ KL(p || m),  m = (π + p) / 2,  in [0, log 2]

from several initialisations. Each divergence is computed by composite
Gauss-Legendre quadrature on a wide interval (`gdm_jax.quadrature`: jitted
and differentiable, in log space, log π - log p, never the ratio, so that
the tails of a narrow p or of π cost no accuracy); and, as a second
estimate at every fit, by Monte Carlo (mean of the log-ratio under samples,
with its standard error). The fits are `gdm_jax.critics.train_critic`'s
optax loop on the quadrature loss.

The forward-KL optimum is moment matching: ∂/∂μ, ∂/∂σ of -E_π log p vanish
at μ = E_π x, σ² = Var_π x (for the default: μ = 0, σ = √4.25 = 2.0616), a
closed form the fits are checked against. The reverse KL has a local
minimum at each mode (μ ≈ ±2, σ ≈ 0.5, value ≈ log 2: p sees only half of
π's mass) and the fit lands on the mode nearest its start; a broad start
centred between the modes (μ = 0.3, σ = 3) instead settles in a third,
symmetric and much worse local minimum (μ = 0, σ ≈ 1.74, 1.87 nats), which
straddles the valley. The JSD is symmetric and bounded by log 2; it has
minima at the modes (0.216 nats) and a covering one (μ = 0, σ ≈ 2.04,
0.201 nats, the global minimum here): which it reaches depends on the
start.

Outputs: WORKDIR/mode_seeking_study.json (fits per divergence and start,
quadrature and Monte Carlo values, the landscapes) and
WORKDIR/mode_seeking_study.png: π with the fits, and each divergence over μ
at fixed σ (the component std) and minimised over σ.

Usage:
  python -m experiments.mode_seeking_study \
      --config=experiments/configs/mode_seeking_study.py --workdir=/tmp/ms

References:
  Bishop 2006, "Pattern Recognition and Machine Learning", section 10.1.2
    (Fig. 10.3: KL(p||q) vs KL(q||p) on a bimodal p).
  Minka 2005, "Divergence measures and message passing", MSR-TR-2005-173.
  Huszár 2015, "How (not) to train your generative model", arXiv:1511.05101
    (JSD between the two KLs).
  Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models", ICLR (Fig. 1).
"""

import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import study_utils
from gdm_jax import critics
from gdm_jax import distributions
from gdm_jax import quadrature
from gdm_jax.data import toy


NAME = "mode_seeking_study"
DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")
LABELS = {"forward_kl": "KL(π‖p) (forward, mode covering)",
          "reverse_kl": "KL(p‖π) (reverse, mode seeking)",
          "jsd": "JSD(π‖p)"}
LOG_2 = math.log(2.0)


class Problem:
  """π, the quadrature rule and p(x | μ, σ) of one study config."""

  def __init__(self, config):
    m = config.mixture
    self.target = toy.mixture1d(tuple(m.locs), m.scale, tuple(m.weights))
    self.mixture = toy.gaussian_mixture1d(m.locs, [m.scale] * len(m.locs),
                                          m.weights)
    q = config.quadrature
    x, w = quadrature.gauss_legendre(q.low, q.high, q.num_panels, q.order)
    self.nodes = jnp.asarray(x, jnp.float32)                      # [N]
    self.weights = jnp.asarray(w, jnp.float32)                    # [N]
    self.log_pi_nodes = self.log_pi(self.nodes)                    # [N]

  def log_pi(self, x: jax.Array) -> jax.Array:
    """log π(x), [N] -> [N]."""
    return self.target.log_prob(x[:, None])

  @staticmethod
  def log_p(x: jax.Array, mu: jax.Array, log_sigma: jax.Array) -> jax.Array:
    """log N(x; μ, σ²), broadcasting."""
    return distributions.gaussian_log_prob(x, mu, log_sigma)

  def divergences(self, mu: jax.Array, log_sigma: jax.Array
                  ) -> dict[str, jax.Array]:
    """KL(π||p), KL(p||π) and JSD(π||p) of p(μ, σ) by quadrature, nats;
    scalar μ, log σ."""
    log_pi, w = self.log_pi_nodes, self.weights
    log_p = self.log_p(self.nodes, mu, log_sigma)
    return {"forward_kl": quadrature.kl_divergence(log_pi, log_p, w),
            "reverse_kl": quadrature.kl_divergence(log_p, log_pi, w),
            "jsd": quadrature.jensen_shannon(log_pi, log_p, w)}


def fit(problem: Problem, divergence: str, init: jax.Array,
        config) -> tuple[jax.Array, jax.Array]:
  """Minimises one divergence over θ = (μ, log σ) from `init` [2].

  Adam with cosine decay for `fit.num_steps` steps, one `lax.scan`
  (`critics.train_critic` with a deterministic loss).

  Returns:
    (θ [2], loss curve [num_steps]).
  """
  opt = optax.adam(optax.cosine_decay_schedule(config.fit.learning_rate,
                                               config.fit.num_steps))
  loss_fn = lambda th: problem.divergences(th[0], th[1])[divergence]
  out = critics.train_critic(loss_fn, opt, init, lambda _: (),
                             jnp.arange(config.fit.num_steps))
  return out.params, out.losses


def monte_carlo(problem: Problem, mu: float, sigma: float, rng: jax.Array,
                n: int) -> dict[str, tuple[float, float]]:
  """Monte Carlo estimates (mean, standard error) of the three divergences.

  KL(π||p) = E_π[log π - log p];  KL(p||π) = E_p[log p - log π];
  JSD = ½ E_π[log π - log m] + ½ E_p[log p - log m];  n samples of each.
  """
  k_pi, k_p = jax.random.split(rng)
  x_pi = problem.target.sample(k_pi, n)[:, 0]
  x_p = mu + sigma * jax.random.normal(k_p, (n,))
  log_sigma = jnp.log(sigma)

  def terms(x):
    lpi, lp = problem.log_pi(x), problem.log_p(x, mu, log_sigma)
    return lpi, lp, jnp.logaddexp(lpi, lp) - LOG_2

  lpi_a, lp_a, lm_a = terms(x_pi)
  lpi_b, lp_b, lm_b = terms(x_p)
  est = lambda s: (float(jnp.mean(s)), float(jnp.std(s) / math.sqrt(n)))
  jsd_a, jsd_b = lpi_a - lm_a, lp_b - lm_b
  jsd_mean = 0.5 * (jnp.mean(jsd_a) + jnp.mean(jsd_b))
  jsd_se = 0.5 * jnp.sqrt(jnp.var(jsd_a) / n + jnp.var(jsd_b) / n)
  return {"forward_kl": est(lpi_a - lp_a), "reverse_kl": est(lp_b - lpi_b),
          "jsd": (float(jsd_mean), float(jsd_se))}


def landscapes(problem: Problem, config) -> dict[str, np.ndarray]:
  """Divergences over a μ grid at fixed σ, and minimised over a σ grid.

  Returns:
    {'mu' [M], 'log_sigma_grid' [S], 'fixed_sigma': {div: [M]},
     'profile': {div: [M]}, 'profile_sigma': {div: [M]} (the minimising σ)}.
  """
  ls = config.landscape
  mu = jnp.linspace(ls.mu_min, ls.mu_max, ls.num_mu)
  log_sig = jnp.linspace(math.log(ls.sigma_min), math.log(ls.sigma_max),
                         ls.num_sigma)
  fixed = jax.jit(jax.vmap(lambda m: problem.divergences(
      m, jnp.log(ls.fixed_sigma))))(mu)
  over_sigma = jax.vmap(lambda s, m: problem.divergences(m, s),
                        in_axes=(0, None))
  # {div: [M, S]}
  grid = jax.jit(lambda mu: jax.lax.map(lambda m: over_sigma(log_sig, m),
                                        mu))(mu)
  return {
      "mu": np.asarray(mu), "log_sigma_grid": np.asarray(log_sig),
      "fixed_sigma": {k: np.asarray(v) for k, v in fixed.items()},
      "profile": {k: np.asarray(jnp.min(v, axis=1)) for k, v in grid.items()},
      "profile_sigma": {k: np.asarray(jnp.exp(log_sig[jnp.argmin(v, axis=1)]))
                        for k, v in grid.items()},
  }


def run(config, workdir: str) -> dict:
  """Fits, Monte Carlo checks and landscapes; writes the JSON and the figure.

  Returns:
    {'closed_form', 'fits', 'landscape', 'protocol', 'wall_time_s'}; each fit
    {'divergence', 'init', 'mu', 'sigma', 'quadrature': {div: value},
    'monte_carlo': {div: [mean, se]}, 'final_loss'}.

  Raises:
    ValueError: a fit init with sigma <= 0, or fit.num_steps < 1.
  """
  t0 = time.perf_counter()
  if config.fit.num_steps < 1:
    raise ValueError(f"fit.num_steps must be >= 1; got {config.fit.num_steps}.")
  inits = np.asarray(config.fit.inits, np.float64)                # [I, 2]
  if inits.ndim != 2 or inits.shape[1] != 2 or np.any(inits[:, 1] <= 0):
    raise ValueError(f"fit.inits must be (mu, sigma > 0) pairs; got "
                     f"{config.fit.inits}.")
  os.makedirs(workdir, exist_ok=True)
  problem = Problem(config)
  mean, std = toy.mixture1d_moments(problem.mixture)
  init_theta = jnp.asarray(np.stack([inits[:, 0], np.log(inits[:, 1])], -1),
                           jnp.float32)
  rng = jax.random.PRNGKey(config.seed)
  fits = []
  for d_index, div in enumerate(DIVERGENCES):
    thetas, losses = jax.jit(jax.vmap(
        lambda th, div=div: fit(problem, div, th, config)))(init_theta)
    for i, (th, curve) in enumerate(zip(np.asarray(thetas),
                                        np.asarray(losses))):
      mu, sigma = float(th[0]), float(math.exp(th[1]))
      quad = {k: float(v) for k, v in
              problem.divergences(th[0], th[1]).items()}
      mc = monte_carlo(problem, mu, sigma, jax.random.fold_in(
          rng, d_index * len(inits) + i), config.monte_carlo.num_samples)
      fits.append({"divergence": div, "init": inits[i].tolist(), "mu": mu,
                   "sigma": sigma, "quadrature": quad, "monte_carlo": mc,
                   "final_loss": float(curve[-1])})
  land = landscapes(problem, config)
  out = {
      "closed_form": {"mixture_mean": mean, "mixture_std": std,
                      "forward_kl_optimum": {"mu": mean, "sigma": std},
                      "jsd_max": LOG_2},
      "fits": fits, "landscape": land,
      "protocol": {
          "target": problem.target.description,
          "model": "N(mu, sigma^2), parameters (mu, log sigma)",
          "quadrature": (f"composite Gauss-Legendre, {config.quadrature.order}"
                         f" nodes x {config.quadrature.num_panels} panels on "
                         f"[{config.quadrature.low}, {config.quadrature.high}]"
                         ", float32, log-space integrands"),
          "optimizer": (f"Adam, lr {config.fit.learning_rate} cosine-decayed "
                        f"over {config.fit.num_steps} steps"),
          "monte_carlo": (f"{config.monte_carlo.num_samples} samples of each "
                          "distribution; [mean, standard error]"),
          "units": "nats", "seed": config.seed},
  }
  out["wall_time_s"] = time.perf_counter() - t0
  study_utils.write_json(out, os.path.join(workdir, NAME + ".json"))
  write_figure(problem, out, os.path.join(workdir, NAME + ".png"),
               config.landscape.fixed_sigma)
  return out


def write_figure(problem: Problem, out: dict, path: str,
                 fixed_sigma: float) -> None:
  """π and the fits; the landscapes over μ (σ fixed, σ minimised)."""
  plt = study_utils.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
  x = np.linspace(-6, 6, 600)
  pi = np.exp(np.asarray(problem.log_pi(jnp.asarray(x, jnp.float32))))
  colors = {"forward_kl": "tab:red", "reverse_kl": "tab:blue",
            "jsd": "tab:green"}
  styles = {"forward_kl": "-", "reverse_kl": "--", "jsd": ":"}
  ax = axes[0]
  ax.fill_between(x, pi, color="0.8", label="π (mixture)")
  seen, labelled = set(), set()
  for f in out["fits"]:
    key = (f["divergence"], round(f["mu"], 2), round(f["sigma"], 2))
    if key in seen:
      continue
    seen.add(key)
    dens = np.exp(-0.5 * ((x - f["mu"]) / f["sigma"]) ** 2) / (
        f["sigma"] * math.sqrt(2 * math.pi))
    d = f["divergence"]
    ax.plot(x, dens, color=colors[d], linestyle=styles[d], linewidth=2,
            label=None if d in labelled else LABELS[d])
    labelled.add(d)
  ax.set_title("π and the fitted N(μ, σ²), all starts")
  ax.set_xlabel("x")
  ax.legend(fontsize=7)
  land = out["landscape"]
  for ax, key, title in (
      (axes[1], "fixed_sigma", f"divergence over μ, σ = {fixed_sigma}"),
      (axes[2], "profile", "divergence over μ, minimised over σ")):
    for div in DIVERGENCES:
      ax.plot(land["mu"], land[key][div], color=colors[div], label=LABELS[div])
    ax.axhline(LOG_2, color="0.5", linestyle=":", label="log 2")
    ax.set_yscale("log")
    ax.set_xlabel("μ")
    ax.set_ylabel("nats")
    ax.set_title(title)
    ax.legend(fontsize=7)
  for f in out["fits"]:
    axes[2].plot(f["mu"], f["quadrature"][f["divergence"]], "o",
                 color=colors[f["divergence"]], markersize=5)
  study_utils.save_figure(fig, path, dpi=90, grid=True)


def format_table(out: dict) -> str:
  head = (f"{'divergence':<11} {'init (mu, sigma)':>17} {'mu':>8} {'sigma':>7}"
          f" {'quadrature':>11} {'Monte Carlo':>19}")
  lines = [head, "-" * len(head)]
  for f in out["fits"]:
    d = f["divergence"]
    mc, se = f["monte_carlo"][d]
    lines.append(f"{d:<11} {tuple(f['init'])!s:>17} {f['mu']:>8.4f} "
                 f"{f['sigma']:>7.4f} {f['quadrature'][d]:>11.5f} "
                 f"{mc:>10.5f} ± {se:.5f}")
  cf = out["closed_form"]
  lines.append("closed-form forward-KL optimum: "
               f"mu = {cf['mixture_mean']:.4f}, "
               f"sigma = {cf['mixture_std']:.4f}")
  return "\n".join(lines)


if __name__ == "__main__":
  study_utils.main(NAME, run, format_table)

r"""Kantorovich-Rubinstein duality: primal, CDF and dual W1; WGAN critics.

(a) The earth mover's example of seed 000 (Weng 2019, "From GAN to WGAN"):
P = (3, 2, 1, 4) and Q = (1, 2, 4, 3) units of dirt at positions 1, 2, 3, 4.
Moving P onto Q costs W = 2 + 2 + 1 = 5 (units of mass x distance). The
study computes it three ways, which must agree:

  primal LP   min_{γ >= 0, γ1 = P, γ^T 1 = Q} Σ_ij γ_ij |i - j|
              (POT `ot.emd`, and scipy `linprog` as an independent solver);
  CDF formula W = Σ_k |F_P(k) - F_Q(k)| (unit spacing; 1-D only);
  dual LP     max_f Σ_k (P_k - Q_k) f_k  s.t. |f_i - f_j| <= |i - j|
              (Kantorovich-Rubinstein on four points, scipy `linprog`).

Convention: with the raw masses (total 10) W = 5, the seed's number; for
the normalised distributions P/10, Q/10, W1 = 0.5 per unit mass. Both are
reported; the transport plan is printed in raw units.

(b) 1-D continuous pairs (π, p) of Gaussian mixtures. Exact
W1 = ∫ |F_π(x) - F_p(x)| dx (quadrature, float64), against the WGAN critic's
estimate E_π f - E_p f after training f to convergence on fresh samples
(expectations of the trained f by quadrature against the densities, so no
Monte Carlo error), with
  * the gradient penalty (λ = 10; two-sided as in Gulrajani et al., and
    one-sided as in Petzka et al. 2018): the estimate approaches W1, or
    precisely W1 + W1²/(2λ), because the penalty is soft: the critics s·f*
    have loss -s W1 + λ (s - 1)², minimal at s = 1 + W1/(2λ)
    (`gdm_jax.critics.gp_critic_value`). In 1-D the two-sided penalty also has
    local optima: f' must pass through 0 (penalty λ) to change sign, so a
    critic initialised with the wrong slope in a region can stay there
    (seen with the tests' small budget on N(0,1) vs N(0,2²)); the one-sided
    penalty has no such barrier;
  * weight clipping to [-c, c] (c in config): f is K-Lipschitz for some
    K set by c and the widths, so by duality E_π f - E_p f <= K W1 for the
    critic's true K. The study reports K as max |f'| over a wide grid (exact
    for a ReLU critic whose linear pieces all hold a grid point) and the
    product of the layers' spectral norms (a guaranteed upper bound), and
    the normalised estimate (E_π f - E_p f) / max|f'|, which must be <= W1.
In 1-D the optimal critic is known: E_π f - E_p f = ∫ f'(x)(F_p - F_π) dx by
parts, maximised under |f'| <= 1 by f*' = sign(F_p - F_π), with value
∫ |F_p - F_π| = W1 (`gdm_jax.critics.optimal_critic_1d`). The figure shows
f* and the learned critics (shifted, the clipped ones divided by their
max |f'|) over the densities. The mixtures, their densities, CDFs and exact
W1 are `gdm_jax.data.toy`'s `Mixture1D` functions; the critics are trained
by `gdm_jax.critics.fit_critic`.

Outputs: WORKDIR/kantorovich_rubinstein_study.json and .png.

Usage:
  python -m experiments.kantorovich_rubinstein_study \
      --config=experiments/configs/kantorovich_rubinstein_study.py \
      --workdir=/tmp/kr

References:
  Villani 2008, "Optimal Transport: Old and New", Theorem 5.10 and
    Remark 6.5 (Kantorovich-Rubinstein); Vallender 1973 (the CDF formula).
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (eq. 3,
    Theorem 3, weight clipping).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (Proposition 1: the optimal critic has unit gradient norm on the
    transport segments).
  Weng 2019, "From GAN to WGAN", arXiv:1904.08994 (the discrete example).
"""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import study_utils
from gdm_jax import critics
from gdm_jax import quadrature
from gdm_jax.data import toy
from gdm_jax.eval import toy_metrics


NAME = "kantorovich_rubinstein_study"
EARTH_MOVER_P = (3.0, 2.0, 1.0, 4.0)
EARTH_MOVER_Q = (1.0, 2.0, 4.0, 3.0)


# ------------------------------------------------------ (a) discrete -----


def discrete_w1(p, q, positions=None) -> dict:
  """W1 between two equal-mass histograms on the line, three ways.

  Args:
    p, q: nonnegative masses [K] with equal totals (not necessarily 1).
    positions: increasing positions [K] (default 1..K).

  Returns:
    {'primal_pot', 'primal_linprog', 'cdf', 'dual_linprog' (raw mass units),
     'total_mass', 'per_unit_mass' (cdf / total), 'plan' [K, K] (POT's),
     'dual_potential' [K] (f with f_0 = 0)}.

  Raises:
    ValueError: shapes differ, negative masses, unequal totals, or
      positions not increasing.
  """
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
  k = len(p)
  x = (np.arange(1, k + 1, dtype=np.float64) if positions is None
       else np.asarray(positions, np.float64))
  if p.shape != q.shape or x.shape != p.shape or np.any(p < 0) or np.any(
      q < 0):
    raise ValueError(f"discrete_w1 needs nonnegative p, q and positions of "
                     f"one length; got {p}, {q}, {x}.")
  if abs(p.sum() - q.sum()) > 1e-9 * max(p.sum(), 1.0):
    raise ValueError(f"p and q must have equal total mass; got {p.sum()} and "
                     f"{q.sum()}.")
  if np.any(np.diff(x) <= 0):
    raise ValueError(f"positions must increase; got {x}.")
  cost = np.abs(x[:, None] - x[None, :])                          # [K, K]
  ot = toy_metrics._ot()  # pylint: disable=protected-access
  plan = ot.emd(p, q, cost)
  primal_pot = float(np.sum(plan * cost))
  # Primal LP: variables γ_ij (row-major), row sums p, column sums q.
  a_eq = np.concatenate([np.kron(np.eye(k), np.ones((1, k))),
                         np.kron(np.ones((1, k)), np.eye(k))])
  primal = optimize.linprog(cost.ravel(), A_eq=a_eq,
                            b_eq=np.concatenate([p, q]), bounds=(0, None),
                            method="highs")
  # Dual LP: max Σ (p - q) f  s.t. f_i - f_j <= |x_i - x_j| for all i ≠ j,
  # f_0 = 0 (the objective ignores constants since Σ (p - q) = 0).
  rows, rhs = [], []
  for i in range(k):
    for j in range(k):
      if i != j:
        r = np.zeros(k)
        r[i], r[j] = 1.0, -1.0
        rows.append(r)
        rhs.append(cost[i, j])
  bounds = [(0.0, 0.0)] + [(None, None)] * (k - 1)
  dual = optimize.linprog(-(p - q), A_ub=np.asarray(rows), b_ub=rhs,
                          bounds=bounds, method="highs")
  if primal.status != 0 or dual.status != 0:
    raise RuntimeError(f"linprog failed: {primal.message} / {dual.message}")
  cdf = float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))[:-1] * np.diff(x)))
  return {"primal_pot": primal_pot, "primal_linprog": float(primal.fun),
          "cdf": cdf, "dual_linprog": float(-dual.fun),
          "total_mass": float(p.sum()), "per_unit_mass": cdf / float(p.sum()),
          "plan": plan, "dual_potential": dual.x}


# ---------------------------------------------------- (b) continuous -----


def pair_mixtures(config) -> list[tuple[str, toy.Mixture1D, toy.Mixture1D]]:
  """The config's (name, π, p) pairs, padded to a common component count."""
  k = max(len(d.locs) for pair in config.pairs for d in (pair.real,
                                                            pair.fake))
  make = lambda d: toy.gaussian_mixture1d(d.locs, d.scales, d.weights, k)
  return [(pair.name, make(pair.real), make(pair.fake))
          for pair in config.pairs]


def optimal_critic(x: np.ndarray, real: toy.Mixture1D,
                   fake: toy.Mixture1D) -> np.ndarray:
  """f*(x) = ∫_{x_0}^x sign(F_p - F_π) dt on an increasing grid x [N],
  float64 [N] (`critics.optimal_critic_1d` of the mixtures' CDFs)."""
  xs = jnp.asarray(x)
  return critics.optimal_critic_1d(x, toy.mixture1d_cdf(xs, real),
                                   toy.mixture1d_cdf(xs, fake))


def _learned(cfg, real: toy.Mixture1D, fake: toy.Mixture1D,
             rng: jax.Array, nodes: jax.Array, weights: jax.Array,
             plot_x: jax.Array, lip_x: jax.Array) -> dict:
  """Trains one critic on (π, p); its exact estimate, K and shape."""
  critic = critics.build_critic(cfg)
  params, losses = critics.fit_critic(
      cfg, lambda k, n: toy.mixture1d_sample(k, n, real),
      lambda k, n: toy.mixture1d_sample(k, n, fake), rng, 1)
  f = critic.apply(params, nodes[:, None])                         # [N]
  dens = (jnp.exp(toy.mixture1d_log_prob(nodes, real))
          - jnp.exp(toy.mixture1d_log_prob(nodes, fake)))
  return {"estimate": jnp.sum(weights * f * dens),
          "lipschitz": critics.empirical_lipschitz(critic.apply, params,
                                                   lip_x[:, None]),
          "spectral_bound": critics.spectral_lipschitz_bound(params),
          "critic": critic.apply(params, plot_x[:, None]),
          "final_loss": jnp.mean(losses[-50:])}


def run(config, workdir: str) -> dict:
  """Part (a) and part (b); writes the JSON and the figure.

  Returns:
    {'discrete', 'pairs': [{'name', 'exact_w1', critic estimates ...}],
     'critics', 'protocol', 'wall_time_s'}.

  Raises:
    ValueError: no pairs, or an invalid mixture in a pair.
  """
  t0 = time.perf_counter()
  if not config.pairs:
    raise ValueError("config.pairs is empty.")
  os.makedirs(workdir, exist_ok=True)
  discrete = discrete_w1(EARTH_MOVER_P, EARTH_MOVER_Q)
  pairs = pair_mixtures(config)
  stack = lambda ms: jax.tree.map(lambda *a: jnp.stack(a), *ms)
  reals, fakes = stack([r for _, r, _ in pairs]), stack([f for *_, f in
                                                          pairs])
  q = config.quadrature
  x, w = quadrature.gauss_legendre(q.low, q.high, q.num_panels, q.order)
  nodes, weights = jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32)
  plot_x = jnp.linspace(config.plot_low, config.plot_high, 301)
  lip_x = jnp.linspace(q.low, q.high, 20001)
  rng = jax.random.PRNGKey(config.seed)
  exact = [toy.mixture1d_wasserstein1(r, f) for _, r, f in pairs]
  learned, timings = {}, {}
  for c_index, (name, cfg) in enumerate(config.critics.items()):
    t_c = time.perf_counter()
    keys = jax.vmap(lambda i, c=c_index: jax.random.fold_in(
        jax.random.fold_in(rng, c), i))(jnp.arange(len(pairs)))
    res = jax.jit(jax.vmap(lambda r, f, k, cfg=cfg: _learned(
        cfg, r, f, k, nodes, weights, plot_x, lip_x)))(reals, fakes, keys)
    learned[name] = {k: np.asarray(v, np.float64) for k, v in res.items()}
    timings[name] = time.perf_counter() - t_c

  rows = []
  px = np.asarray(plot_x, np.float64)
  lam = next((c.gp_weight for c in config.critics.values()
              if c.objective == "wasserstein_gp"), 10.0)
  for i, (name, real, fake) in enumerate(pairs):
    row = {"name": name, "exact_w1": exact[i],
           "gp_target": float(critics.gp_critic_value(exact[i], lam)),
           "optimal_critic": optimal_critic(px, real, fake)}
    for c in learned:
      est, lip = learned[c]["estimate"][i], learned[c]["lipschitz"][i]
      row[c] = {"estimate": est, "lipschitz": lip,
                "spectral_bound": learned[c]["spectral_bound"][i],
                "estimate_over_lipschitz": est / lip,
                "ratio_to_exact": est / exact[i],
                "final_loss": learned[c]["final_loss"][i],
                "critic": learned[c]["critic"][i]}
    rows.append(row)
  out = {
      "discrete": discrete, "pairs": rows, "plot_x": px, "gp_weight": lam,
      "critics": {name: cfg.to_dict() for name, cfg in config.critics.items()},
      "protocol": {
          "discrete": ("P = (3, 2, 1, 4), Q = (1, 2, 4, 3) at positions 1..4;"
                       " raw mass units (total 10) and per unit mass"),
          "exact_w1": "∫|F_pi - F_p| by composite Gauss-Legendre, float64",
          "critic_estimate": ("E_pi f - E_p f of the trained critic by "
                              "Gauss-Legendre against the densities "
                              f"({len(x)} nodes on [{q.low}, {q.high}])"),
          "lipschitz": (f"max |f'| on {lip_x.shape[0]} points of "
                        f"[{q.low}, {q.high}]; spectral bound = product of "
                        "the layers' spectral norms"),
          "train_wall_time_s": timings, "seed": config.seed},
  }
  out["wall_time_s"] = time.perf_counter() - t0
  study_utils.write_json(out, os.path.join(workdir, NAME + ".json"))
  write_figure(out, pairs, os.path.join(workdir, NAME + ".png"))
  return out


def write_figure(out: dict, pairs, path: str) -> None:
  """Row 0: the discrete example and estimates vs exact; then one row per
  pair: densities, and f* with the learned critics."""
  plt = study_utils.pyplot()
  n = len(pairs)
  names = list(out["critics"])
  fig = plt.figure(figsize=(13, 3.2 * (n + 1)))
  gs = fig.add_gridspec(n + 1, 3)
  d = out["discrete"]
  ax = fig.add_subplot(gs[0, 0])
  pos = np.arange(1, 5)
  ax.bar(pos - 0.2, EARTH_MOVER_P, 0.4, label="P")
  ax.bar(pos + 0.2, EARTH_MOVER_Q, 0.4, label="Q")
  ax.set_title(f"earth mover's example: W = {d['cdf']:g} "
               f"({d['per_unit_mass']:g} per unit mass)", fontsize=9)
  ax.legend(fontsize=8)
  ax = fig.add_subplot(gs[0, 1])
  ax.imshow(d["plan"], cmap="Blues")
  for i in range(4):
    for j in range(4):
      ax.text(j, i, f"{d['plan'][i][j]:g}", ha="center", va="center")
  ax.set_xticks(range(4), [str(k) for k in pos])
  ax.set_yticks(range(4), [str(k) for k in pos])
  ax.set_xlabel("to (Q)")
  ax.set_ylabel("from (P)")
  ax.set_title("optimal transport plan γ (POT)", fontsize=9)
  ax = fig.add_subplot(gs[0, 2])
  exact = np.array([r["exact_w1"] for r in out["pairs"]])
  line = np.linspace(0, exact.max() * 1.1, 50)
  ax.plot(line, line, "k:", label="y = x")
  lam = out["gp_weight"]
  ax.plot(line, critics.gp_critic_value(line, lam), "k--", linewidth=0.8,
          label=f"W1 + W1²/(2λ), λ = {lam:g} (GP optimum)")
  markers = dict(zip(names, "osd^v"))
  for c in names:
    ax.plot(exact, [r[c]["estimate_over_lipschitz"] if "clip" in c
                    else r[c]["estimate"] for r in out["pairs"]],
            markers[c], label=c + (" (÷ max|f'|)" if "clip" in c else ""))
  ax.set_xlabel("exact W1")
  ax.set_ylabel("critic estimate")
  ax.set_title("critic estimates vs exact W1", fontsize=9)
  ax.legend(fontsize=7)
  x = np.asarray(out["plot_x"])
  for i, ((name, real, fake), row) in enumerate(zip(pairs, out["pairs"])):
    ax = fig.add_subplot(gs[i + 1, 0])
    ax.plot(x, np.exp(toy.mixture1d_log_prob(jnp.asarray(x), real)),
            label="π (real)")
    ax.plot(x, np.exp(toy.mixture1d_log_prob(jnp.asarray(x), fake)),
            label="p (fake)")
    ax.set_title(f"{name}: exact W1 = {row['exact_w1']:.4f}", fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(gs[i + 1, 1:])
    fstar = row["optimal_critic"]
    ax.plot(x, fstar - fstar.mean(), "k", linewidth=2.5, alpha=0.4,
            label="f*: f*' = sign(F_p − F_π)")
    for c in names:
      f = row[c]["critic"] / (row[c]["lipschitz"] if "clip" in c else 1.0)
      ax.plot(x, f - f.mean(), label=(
          f"{c}: est {row[c]['estimate']:.4g}" + (
              f", ÷ max|f'| = {row[c]['estimate_over_lipschitz']:.4f}"
              if "clip" in c else "")))
    ax.set_title("critics (shifted to mean 0 on the plot; clipped ones "
                 "÷ max|f'|)", fontsize=9)
    ax.legend(fontsize=7)
  study_utils.save_figure(fig, path, dpi=70, grid=True)


def format_table(out: dict) -> str:
  d = out["discrete"]
  lines = [f"earth mover's example, P = {EARTH_MOVER_P}, Q = {EARTH_MOVER_Q}:",
           (f"  primal (POT) {d['primal_pot']:g}, primal (linprog) "
            f"{d['primal_linprog']:g}, CDF formula {d['cdf']:g}, dual "
            f"(linprog) {d['dual_linprog']:g}  [total mass "
            f"{d['total_mass']:g}; {d['per_unit_mass']:g} per unit mass]"),
           "  plan (rows: from P at 1..4, columns: to Q at 1..4):"]
  lines += ["    " + " ".join(f"{v:3g}" for v in r) for r in d["plan"]]
  lines.append(f"  dual potential f = {np.round(d['dual_potential'], 6)}")
  names = list(out["critics"])
  head = f"{'pair':<22} {'exact W1':>9} {'W1+W1²/2λ':>10} " + " ".join(
      f"{c:>12}" + (f" {'÷max|f′|':>9} {'max|f′|':>9}" if "clip" in c else "")
      for c in names)
  lines += ["", head, "-" * len(head)]
  for r in out["pairs"]:
    s = f"{r['name']:<22} {r['exact_w1']:>9.4f} {r['gp_target']:>10.4f} "
    for c in names:
      s += f"{r[c]['estimate']:>12.5g}"
      if "clip" in c:
        s += (f" {r[c]['estimate_over_lipschitz']:>9.4f} "
              f"{r[c]['lipschitz']:>9.3g}")
      s += " "
    lines.append(s)
  return "\n".join(lines)


if __name__ == "__main__":
  study_utils.main(NAME, run, format_table)

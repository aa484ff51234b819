r"""Disjoint supports: KL, JSD and W1 between parallel segments (WGAN Ex. 1).

π = (0, U[0, 1]) and p_θ = (θ, U[0, 1]) in 2-D: two vertical unit segments
a distance |θ| apart (Arjovsky, Chintala and Bottou 2017, Example 1). For
θ ≠ 0 their supports are disjoint, and in closed form

  KL(π || p_θ) = KL(p_θ || π) = +∞,   JSD(π || p_θ) = log 2,   W1 = |θ|,

while all four are 0 at θ = 0. So KL and JSD are not continuous in θ and
give θ no gradient (dJSD/dθ = 0 for θ ≠ 0), whereas W1 is continuous with
dW1/dθ = sign(θ): the reason for the Wasserstein GAN.

At every θ of a grid the study also ESTIMATES them from samples:
  * W1 between n samples of each (exact optimal transport, POT `emd2` via
    `gdm_jax.eval.toy_metrics.wasserstein1`);
  * JSD by the plug-in estimate of a logistic discriminator D trained to
    convergence (Goodfellow et al. 2014, Theorem 1: at the optimum
    D* = π / (π + p) and E_π log D* + E_p log(1 - D*) = 2 JSD - log 4), so
      JSD ≈ log 2 + ½ (E_π log D + E_p log(1 - D)) <= JSD;
  * W1 by WGAN critics f trained to convergence (Kantorovich-Rubinstein:
    W1 = sup_{||f||_L <= 1} E_π f - E_p f) with the gradient penalty
    (λ = 10; the estimate approaches W1) and with weight clipping (the
    critic is K-Lipschitz for some unknown K set by the clip value c, so the
    estimate is ≈ K·W1: the study fits K̂ = Σ est |θ| / Σ θ² and reports it,
    with the critic's empirical Lipschitz constant max ||∇f||). The GP
    penalty is soft: the best linear critic f = ∓s x₁ minimises
    -s|θ| + λ (s - 1)² at s = 1 + |θ|/(2λ), so the GP estimate converges to
    |θ| + θ²/(2λ), not |θ| (`gdm_jax.critics.gp_critic_value`).
The critics are trained by `gdm_jax.critics.fit_critic`. The expectations
under π and p of a trained critic are exact (`gdm_jax.quadrature`'s
Gauss-Legendre rule over the segment), so the learned estimates carry no
Monte Carlo error.
The gradients the learned objectives give θ, with the critic frozen:
    d/dθ (E_π f - E_p f) = -E_y ∂f/∂x₁(θ, y)                        (W1)
    d/dθ JSD-estimate     = ½ E_y ∂/∂x₁ log(1 - D(θ, y))            (JSD)
are computed too: the discriminator's is ~0 (D saturates), the critic's
~sign(θ).

Outputs: WORKDIR/disjoint_supports_study.json and .png (four panels: KL,
JSD, W1 against θ with the learned estimates as points, and the gradients).

Usage:
  python -m experiments.disjoint_supports_study \
      --config=experiments/configs/disjoint_supports_study.py --workdir=/tmp/ds

References:
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (Example 1,
    Theorems 1-3).
  Arjovsky and Bottou 2017, "Towards Principled Methods for Training
    Generative Adversarial Networks", ICLR (Theorems 2.4-2.6).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS.
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS.
"""

import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import study_utils
from gdm_jax import critics
from gdm_jax import quadrature
from gdm_jax.eval import toy_metrics


NAME = "disjoint_supports_study"
LOG_2 = math.log(2.0)
CRITICS = ("gp", "clip", "discriminator")


def segment(x1: jax.Array, y: jax.Array) -> jax.Array:
  """Points (x1, y_i) of a vertical segment: y [N] -> [N, 2]."""
  return jnp.stack([jnp.broadcast_to(x1, y.shape), y], axis=-1)


def sample_segment(rng: jax.Array, n: int, x1: jax.Array) -> jax.Array:
  """n samples [n, 2] of (x1, U[0, 1])."""
  return segment(x1, jax.random.uniform(rng, (n,), jnp.float32))


def closed_form(theta: np.ndarray) -> dict[str, np.ndarray]:
  """The divergences and their θ-derivatives in closed form, θ [T] -> [T].

  KL = +inf and JSD = log 2 for θ ≠ 0, both 0 at θ = 0; W1 = |θ|;
  dJSD/dθ = 0 for θ ≠ 0 (undefined at 0: reported as nan);
  dW1/dθ = sign(θ) (nan at 0, where |θ| has no derivative).
  """
  theta = np.asarray(theta, np.float64)
  zero = theta == 0
  return {"kl": np.where(zero, 0.0, np.inf),
          "jsd": np.where(zero, 0.0, LOG_2),
          "w1": np.abs(theta),
          "d_jsd_d_theta": np.where(zero, np.nan, 0.0),
          "d_w1_d_theta": np.where(zero, np.nan, np.sign(theta))}


def _learned(config, kind: str, theta: jax.Array, rng: jax.Array,
             y: jax.Array, wy: jax.Array, grid: jax.Array) -> dict:
  """Trains one critic at θ and returns its estimate and θ-gradient."""
  cfg = config.critics[kind]
  critic = critics.build_critic(cfg)
  params, losses = critics.fit_critic(
      cfg, lambda k, n: sample_segment(k, n, jnp.float32(0.0)),
      lambda k, n: sample_segment(k, n, theta), rng, 2)
  real, fake = segment(jnp.float32(0.0), y), segment(theta, y)    # [Q, 2]
  out_real = critic.apply(params, real)
  grad_fake = critics.input_gradients(critic.apply, params, fake)[:, 0]

  def estimate_at(t):
    return critic.apply(params, segment(t, y))

  if cfg.objective == "logistic":
    # log2 + ½ E_π log D + ½ E_p log(1 - D), D = σ(l).
    est = LOG_2 - 0.5 * (jnp.sum(wy * jax.nn.softplus(-out_real))
                         + jnp.sum(wy * jax.nn.softplus(estimate_at(theta))))
    # d/dθ ½ E_y log(1 - σ(l(θ, y))) = -½ E_y σ(l) ∂l/∂x₁.
    grad = -0.5 * jnp.sum(wy * jax.nn.sigmoid(estimate_at(theta)) * grad_fake)
  else:
    est = jnp.sum(wy * out_real) - jnp.sum(wy * estimate_at(theta))
    grad = -jnp.sum(wy * grad_fake)
  return {"estimate": est, "d_estimate_d_theta": grad,
          "lipschitz": critics.empirical_lipschitz(critic.apply, params, grid),
          "final_loss": jnp.mean(losses[-50:])}


def run(config, workdir: str) -> dict:
  """Closed forms, sample W1 and the learned estimates over the θ grid.

  Returns:
    {'theta', 'closed_form', 'sample_w1', 'learned': {kind: {...}},
     'clip_fit', 'protocol', 'wall_time_s'}.

  Raises:
    ValueError: fewer than 2 θ values or a non-positive theta_max.
  """
  t0 = time.perf_counter()
  if config.num_theta < 2 or not config.theta_max > 0:
    raise ValueError(f"need num_theta >= 2 and theta_max > 0; got "
                     f"{config.num_theta}, {config.theta_max}.")
  os.makedirs(workdir, exist_ok=True)
  theta = np.linspace(-config.theta_max, config.theta_max, config.num_theta)
  theta_j = jnp.asarray(theta, jnp.float32)
  rng = jax.random.PRNGKey(config.seed)
  y, wy = quadrature.gauss_legendre(0.0, 1.0, 1, config.quadrature_order)
  y, wy = jnp.asarray(y, jnp.float32), jnp.asarray(wy, jnp.float32)
  g = jnp.linspace(-1.5 * config.theta_max, 1.5 * config.theta_max, 41)
  grid = jnp.stack(jnp.meshgrid(g, jnp.linspace(-0.5, 1.5, 41)), -1
                   ).reshape(-1, 2)                                # [41², 2]

  # Exact W1 between n samples of each segment.
  n = config.w1_num_samples
  sample_w1 = []
  for i, t in enumerate(theta):
    k_a, k_b = jax.random.split(jax.random.fold_in(jax.random.fold_in(
        rng, 1000), i))
    sample_w1.append(toy_metrics.wasserstein1(
        np.asarray(sample_segment(k_a, n, jnp.float32(0.0))),
        np.asarray(sample_segment(k_b, n, jnp.float32(t))), max_points=None))

  learned = {}
  timings = {}
  for c_index, kind in enumerate(CRITICS):
    t_kind = time.perf_counter()
    keys = jax.vmap(lambda i, c=c_index: jax.random.fold_in(
        jax.random.fold_in(rng, c), i))(jnp.arange(len(theta)))
    res = jax.jit(jax.vmap(lambda t, k, kind=kind: _learned(
        config, kind, t, k, y, wy, grid)))(theta_j, keys)
    learned[kind] = {k: np.asarray(v, np.float64) for k, v in res.items()}
    timings[kind] = time.perf_counter() - t_kind

  est = learned["clip"]["estimate"]
  k_hat = float(np.sum(est * np.abs(theta)) / np.sum(theta ** 2))
  resid = est - k_hat * np.abs(theta)
  clip_fit = {
      "scale_k_hat": k_hat,
      "relative_rms_residual": float(np.sqrt(np.mean(resid ** 2))
                                     / np.sqrt(np.mean(est ** 2))),
      "estimate_over_k_hat": est / k_hat,
      "estimate_over_lipschitz": est / learned["clip"]["lipschitz"],
  }
  out = {
      "theta": theta, "closed_form": closed_form(theta),
      "sample_w1": np.asarray(sample_w1), "learned": learned,
      "clip_fit": clip_fit,
      "protocol": {
          "pi": "(0, U[0,1])", "p_theta": "(theta, U[0,1])",
          "sample_w1": f"POT emd2 (exact) between {n} and {n} samples",
          "learned_expectations": (f"Gauss-Legendre, {config.quadrature_order}"
                                   " nodes on the segment (exact for the "
                                   "trained critic)"),
          "critics": {k: config.critics[k].to_dict() for k in CRITICS},
          "lipschitz": ("max ||grad_x f|| on a 41x41 grid covering both "
                        "segments"),
          "train_wall_time_s": timings, "seed": config.seed, "units": "nats "
          "(KL, JSD); units of x (W1)"},
  }
  out["wall_time_s"] = time.perf_counter() - t0
  study_utils.write_json(out, os.path.join(workdir, NAME + ".json"))
  write_figure(out, os.path.join(workdir, NAME + ".png"))
  return out


def write_figure(out: dict, path: str) -> None:
  """KL, JSD, W1 against θ (closed form lines, learned points); gradients."""
  plt = study_utils.pyplot()
  theta, lr = out["theta"], out["learned"]
  dense = np.linspace(theta.min(), theta.max(), 401)
  fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
  ax = axes[0]
  nonzero = theta != 0
  ax.plot(theta[nonzero], np.full(nonzero.sum(), 1.0), "^", color="tab:red",
          label="KL(π‖p) = KL(p‖π) = +∞ (θ ≠ 0)")
  ax.plot([0.0], [0.0], "o", color="tab:red", label="0 at θ = 0")
  ax.set_ylim(-0.05, 1.1)
  ax.set_yticks([0.0, 1.0], ["0", "+∞"])
  ax.set_title("KL divergence (closed form)")
  ax = axes[1]
  ax.plot(dense, np.where(dense == 0, np.nan, LOG_2), color="tab:green",
          label="JSD closed form (log 2 for θ ≠ 0, 0 at θ = 0)")
  ax.plot([0.0], [0.0], "o", color="tab:green")
  ax.plot(theta, lr["discriminator"]["estimate"], "s", color="k",
          markersize=4, label="plug-in estimate, trained discriminator")
  ax.set_title("Jensen-Shannon divergence (nats)")
  ax = axes[2]
  ax.plot(dense, np.abs(dense), color="tab:blue", label="W1 = |θ|")
  lam = out["protocol"]["critics"]["gp"]["gp_weight"]
  ax.plot(dense, critics.gp_critic_value(dense, lam), ":", color="k",
          label=f"|θ| + θ²/(2λ): the penalised optimum, λ = {lam:g}")
  ax.plot(theta, out["sample_w1"], "x", color="0.4",
          label="exact OT between samples (POT)")
  ax.plot(theta, lr["gp"]["estimate"], "o", color="k", markersize=4,
          label="WGAN-GP critic E_π f − E_p f")
  k_hat = out["clip_fit"]["scale_k_hat"]
  ax.plot(theta, out["clip_fit"]["estimate_over_k_hat"], "d",
          color="tab:orange", markersize=4,
          label=f"clipped critic / K̂ (K̂ = {k_hat:.3g})")
  ax.set_title("Wasserstein-1 distance")
  ax = axes[3]
  ax.plot(dense, np.where(dense == 0, np.nan, np.sign(dense)),
          color="tab:blue", label="dW1/dθ = sign θ")
  ax.plot(dense, np.zeros_like(dense), color="tab:green",
          label="dJSD/dθ = 0 (θ ≠ 0)")
  ax.plot(theta, lr["gp"]["d_estimate_d_theta"], "o", color="tab:blue",
          markersize=4, label="from the GP critic")
  ax.plot(theta, lr["discriminator"]["d_estimate_d_theta"], "s",
          color="tab:green", markersize=4, label="from the discriminator")
  ax.set_title("gradient given to θ")
  for ax in axes:
    ax.set_xlabel("θ")
    ax.legend(fontsize=7)
  study_utils.save_figure(fig, path, dpi=85, grid=True)


def format_table(out: dict) -> str:
  lr = out["learned"]
  head = (f"{'theta':>6} {'W1=|θ|':>7} {'OT samp':>8} {'GP est':>8} "
          f"{'clip/K̂':>8} {'clip/Lip':>8} {'JSD est':>8} {'dW/dθ GP':>9} "
          f"{'dJSD/dθ D':>10}")
  lines = [head, "-" * len(head)]
  for i, t in enumerate(out["theta"]):
    lines.append(
        f"{t:>6.2f} {abs(t):>7.3f} {out['sample_w1'][i]:>8.4f} "
        f"{lr['gp']['estimate'][i]:>8.4f} "
        f"{out['clip_fit']['estimate_over_k_hat'][i]:>8.4f} "
        f"{out['clip_fit']['estimate_over_lipschitz'][i]:>8.4f} "
        f"{lr['discriminator']['estimate'][i]:>8.4f} "
        f"{lr['gp']['d_estimate_d_theta'][i]:>9.4f} "
        f"{lr['discriminator']['d_estimate_d_theta'][i]:>10.2e}")
  lines.append(f"clipped critic: K̂ = {out['clip_fit']['scale_k_hat']:.4g}, "
               f"relative RMS residual of est = K̂|θ|: "
               f"{out['clip_fit']['relative_rms_residual']:.3f}")
  return "\n".join(lines)


if __name__ == "__main__":
  study_utils.main(NAME, run, format_table)

r"""The optimal discriminator, the value of the game, and vanishing gradients.

On 1-D data with known densities, π (the toy set `study.data`, default the
mixture 0.5 N(-2, 0.5²) + 0.5 N(2, 0.5²)) against a generator with density
p_g = N(μ, σ²), i.e. G_θ(z) = μ + σ z, z ~ N(0, 1), θ = (μ, σ):

(a) Goodfellow et al. 2014, Proposition 1: for a fixed G the discriminator
    maximising V(G, D) = E_π[log D(x)] + E_{p_g}[log(1 - D(x))] is

      D*_G(x) = π(x) / (π(x) + p_g(x)),  logit D*_G = log π(x) - log p_g(x).

    A discriminator (MLP, logistic loss `gan_losses.discriminator_loss`,
    fresh samples of both every step, so no overfitting) is trained to
    convergence and compared with D* on a grid.
(b) Theorem 1: V(G, D*_G) = C(G) = -log 4 + 2 JSD(π || p_g). For each μ,
    V(G, D_trained) and C(G) are both computed by quadrature on the same
    grid (trapezoid rule), so V(G, D_trained) <= C(G) holds pointwise up to
    quadrature error: π log d + p_g log(1 - d) is maximised over d at d*;
    a Monte Carlo V on fresh samples is reported too.
(c) Arjovsky and Bottou 2017, Theorem 2.4 / Figure 2 and Theorem 2.6 /
    Figure 3: with p_g = N(`far_mu`, σ²) far from π, D is trained from
    scratch for t = 0..T steps; at every record the generator's gradient
    norm ||∇_θ E_z L_G(D(G_θ(z)))|| is taken on a fixed batch of z for the
    minimax loss L_G = log(1 - D(G(z))) (-> 0 as D improves: its derivative
    in D's logit l is -σ(l) -> 0) and for the non-saturating
    L_G = -log D(G(z)) (derivative -σ(-l) -> -1, so the norm stays of the
    order of ||∇_x l||, which grows as D sharpens). The same norms at D*
    itself (l* = log π - log p_g, fixed at the current θ) are the limits.

Writes WORKDIR/optimal_discriminator_study.json (every number) and
WORKDIR/optimal_discriminator_study.png (part (a) panels, V against C(G),
gradient norms on a log scale), and prints a short table.

Usage:
  python -m experiments.optimal_discriminator_study \
      --config=experiments/configs/optimal_discriminator_study.py \
      --workdir=/tmp/optimal_d     (variants :default, :smoke)

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS
    (Proposition 1, Theorem 1).
  Arjovsky and Bottou 2017, "Towards Principled Methods for Training
    Generative Adversarial Networks", ICLR (Theorems 2.4-2.6, Figures 2-3).
"""

import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import study_cli
from gdm_jax import gan_losses
from gdm_jax.data import toy
from gdm_jax.nn import gan_nets
from gdm_jax.core.optimizers import make_optimizer


JSON_NAME = "optimal_discriminator_study.json"
FIGURE_NAME = "optimal_discriminator_study.png"
LOG4 = math.log(4.0)
LOSSES = {"minimax": gan_losses.generator_loss_minimax_per_example,
          "non_saturating": gan_losses.generator_loss_non_saturating_per_example}
LABELS = {"minimax": "minimax  log(1 − D(G(z)))",
          "non_saturating": "non-saturating  −log D(G(z))"}


# ----------------------------------------------------------- closed forms ---


def gaussian_log_prob(x: jax.Array, mu, sigma) -> jax.Array:
  """log N(x; μ, σ²) = -((x - μ)/σ)²/2 - log σ - log(2π)/2, [N] -> [N], nats."""
  return (-0.5 * jnp.square((x - mu) / sigma) - jnp.log(sigma)
          - 0.5 * math.log(2.0 * math.pi))


def optimal_logit(log_p_data: jax.Array, log_p_model: jax.Array) -> jax.Array:
  """logit D*(x) = log π(x) - log p_g(x) (Goodfellow et al. 2014, Prop. 1)."""
  return log_p_data - log_p_model


def trapezoid_weights(grid: np.ndarray) -> np.ndarray:
  """Trapezoid-rule weights w [N] on a sorted grid: ∫ f ≈ Σ w_i f(x_i)."""
  dx = np.diff(grid)
  w = np.zeros_like(grid)
  w[:-1] += 0.5 * dx
  w[1:] += 0.5 * dx
  return w


def jensen_shannon(weights: np.ndarray, log_p: np.ndarray,
                   log_q: np.ndarray) -> float:
  """JSD(P || Q) = ½ KL(P || M) + ½ KL(Q || M), M = (P + Q)/2, in nats.

  By quadrature: Σ_i w_i [½ p_i log(p_i/m_i) + ½ q_i log(q_i/m_i)], in
  float64 from log-densities on the grid (0 log 0 = 0). 0 <= JSD <= log 2.
  """
  log_p, log_q = np.asarray(log_p, np.float64), np.asarray(log_q, np.float64)
  log_m = np.logaddexp(log_p, log_q) - math.log(2.0)
  p, q = np.exp(log_p), np.exp(log_q)
  integrand = 0.5 * (np.where(p > 0, p * (log_p - log_m), 0.0)
                     + np.where(q > 0, q * (log_q - log_m), 0.0))
  return float(np.sum(weights * integrand))


def value_by_quadrature(weights: np.ndarray, log_p: np.ndarray,
                        log_q: np.ndarray, logits: np.ndarray) -> float:
  """V(G, D) = ∫ π log σ(l) + p_g log σ(-l) dx (trapezoid rule), nats.

  With l = logit D*, V = 2 JSD(π || p_g) - log 4 (Goodfellow et al. 2014,
  Theorem 1); for any other l it is smaller (pointwise maximisation).
  """
  logits = np.asarray(logits, np.float64)
  log_d = -np.logaddexp(0.0, -logits)          # log σ(l)
  log_1md = -np.logaddexp(0.0, logits)         # log σ(-l) = log(1 - σ(l))
  integrand = (np.exp(np.asarray(log_p, np.float64)) * log_d
               + np.exp(np.asarray(log_q, np.float64)) * log_1md)
  return float(np.sum(weights * integrand))


# ------------------------------------------------------------- training -----


def make_discriminator(s) -> gan_nets.MLPDiscriminator:
  return gan_nets.MLPDiscriminator(tuple(s.discriminator_hidden), 1,
                                   activation=s.activation)


def logit_fn(net, params):
  """x [N] -> D's logit [N]."""
  return lambda x: net.apply(params, x[:, None], train=False)[:, 0]


def make_trainer(config, data_dist: toy.ToyDistribution, num_steps: int):
  """(init(rng) -> (params, opt_state), step(carry, rng, mu, sigma) -> carry).

  One step: the logistic discriminator loss on `s.batch_size` fresh samples
  of π and of N(μ, σ²) (`gan_losses.discriminator_loss`), one optimizer
  update of `config.optimizer`.
  """
  s = config.study
  net = make_discriminator(s)
  tx = make_optimizer(config.optimizer, num_steps)

  def init(rng):
    params = net.init(rng, jnp.zeros((2, 1), jnp.float32), train=False)
    return params, tx.init(params)

  def loss_fn(params, rng, mu, sigma):
    r_rng, f_rng = jax.random.split(rng)
    real = data_dist.sample(r_rng, s.batch_size)[:, 0]           # [B]
    fake = mu + sigma * jax.random.normal(f_rng, (s.batch_size,))  # [B]
    d = logit_fn(net, params)
    return gan_losses.discriminator_loss(d(real), d(fake))

  def step(carry, rng, mu, sigma):
    params, opt_state = carry
    grads = jax.grad(loss_fn)(params, rng, mu, sigma)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  return net, init, step


def train_discriminators(config, data_dist, mus: jax.Array, sigma: float,
                         rng: jax.Array):
  """D trained against each N(μ_j, σ²), vmapped over μ: stacked params."""
  s = config.study
  net, init, step = make_trainer(config, data_dist, s.num_steps)

  def train_one(rng, mu):
    init_rng, steps_rng = jax.random.split(rng)
    carry = init(init_rng)
    keys = jax.random.split(steps_rng, s.num_steps)
    carry, _ = jax.lax.scan(lambda c, k: (step(c, k, mu, sigma), None), carry,
                            keys)
    return carry[0]

  keys = jax.random.split(rng, mus.shape[0])
  return net, jax.jit(jax.vmap(train_one))(keys, mus)


def generator_gradient_norms(d_logit, theta: dict, z: jax.Array) -> dict:
  """||∇_θ mean_z L_G(d_logit(μ + σ z))|| for both generator losses."""
  out = {}
  for name, loss in LOSSES.items():
    fn = lambda th, loss=loss: jnp.mean(loss(d_logit(th["mu"] + th["sigma"] * z)))
    out[name] = optax.global_norm(jax.grad(fn)(theta))
  return out


def vanishing_gradients(config, data_dist, rng: jax.Array) -> dict:
  """Part (c): gradient norms of a fixed G while D trains from scratch.

  Returns {'steps' [R], 'minimax' [S, R], 'non_saturating' [S, R],
  'd_fake_logit' [S, R], 'd_real_logit' [S, R], 'at_optimum': {...}} with R
  records at t = 0, every, 2·every, ..., T and S seeds.
  """
  s = config.study
  every, records = s.gradient_record_every, s.gradient_steps // s.gradient_record_every
  mu, sigma = float(s.far_mu), float(s.sigma)
  theta = {"mu": jnp.asarray(mu), "sigma": jnp.asarray(sigma)}
  net, init, step = make_trainer(config, data_dist, s.gradient_steps)

  def one_seed(rng):
    init_rng, z_rng, x_rng, steps_rng = jax.random.split(rng, 4)
    z = jax.random.normal(z_rng, (s.gradient_batch,))
    x_real = data_dist.sample(x_rng, s.gradient_batch)[:, 0]

    def measure(params):
      d = logit_fn(net, params)
      out = generator_gradient_norms(d, theta, z)
      out["d_fake_logit"] = jnp.mean(d(mu + sigma * z))
      out["d_real_logit"] = jnp.mean(d(x_real))
      return out

    def record(carry, keys):
      carry = jax.lax.fori_loop(0, every,
                                lambda i, c: step(c, keys[i], mu, sigma), carry)
      return carry, measure(carry[0])

    carry = init(init_rng)
    keys = jax.random.split(steps_rng, records * every).reshape(records, every, -1)
    first = measure(carry[0])
    _, rest = jax.lax.scan(record, carry, keys)
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)

  seeds = jax.random.split(rng, s.gradient_seeds)
  out = jax.device_get(jax.jit(jax.vmap(one_seed))(seeds))
  # The limit: D = D* (its logit log π - log p_g with p_g fixed at θ).
  z = jax.random.normal(jax.random.fold_in(rng, 1), (s.gradient_batch,))
  star = lambda x: optimal_logit(data_dist.log_prob(x[:, None]),
                                 gaussian_log_prob(x, mu, sigma))
  at_star = jax.device_get(generator_gradient_norms(star, theta, z))
  result = {k: np.asarray(v).tolist() for k, v in out.items()}
  result["steps"] = list(range(0, records * every + 1, every))
  result["at_optimum"] = {k: float(v) for k, v in at_star.items()}
  return result


# --------------------------------------------------------------- study -----


def validate(config) -> None:
  """Raises ValueError naming the field for an invalid study setting."""
  s = config.study
  data_dist = toy.get_toy(s.data)
  if data_dist.dim != 1 or data_dist.log_prob is None:
    raise ValueError(f"study.data must be a 1-D toy set with a density; got "
                     f"'{s.data}'.")
  if not s.sigma > 0:
    raise ValueError(f"study.sigma must be > 0; got {s.sigma}.")
  missing = [m for m in s.plot_mus if m not in tuple(s.mus)]
  if missing:
    raise ValueError(f"study.plot_mus {missing} are not in study.mus {s.mus}.")
  if not 0 < s.d_error_density:
    raise ValueError(f"study.d_error_density must be > 0; got "
                     f"{s.d_error_density}.")
  for field in ("num_steps", "batch_size", "grid_points", "mc_samples",
                "gradient_seeds", "gradient_steps", "gradient_record_every",
                "gradient_batch"):
    if not isinstance(s[field], int) or s[field] < 1:
      raise ValueError(f"study.{field} must be an integer >= 1; got "
                       f"{s[field]!r}.")
  if s.gradient_steps % s.gradient_record_every:
    raise ValueError(f"study.gradient_steps ({s.gradient_steps}) must be a "
                     "multiple of study.gradient_record_every "
                     f"({s.gradient_record_every}).")


def run(config, workdir: str) -> dict:
  """Runs parts (a)-(c); writes the JSON and the figure to `workdir`.

  Returns:
    {'grid', 'mus', 'curves' (part (a)), 'value' (part (b)), 'gradients'
    (part (c)), 'protocol'} (every number of the JSON).

  Raises:
    ValueError: an invalid study setting (the message names the field).
  """
  validate(config)
  s = config.study
  os.makedirs(workdir, exist_ok=True)
  t0 = time.perf_counter()
  data_dist = toy.get_toy(s.data)
  root = jax.random.PRNGKey(config.seed)
  train_rng, mc_rng, grad_rng = jax.random.split(root, 3)
  mus = jnp.asarray(s.mus, jnp.float32)
  sigma = float(s.sigma)

  # (a), (b): D trained against every N(μ, σ²).
  net, params = train_discriminators(config, data_dist, mus, sigma, train_rng)
  grid = np.linspace(s.grid_min, s.grid_max, s.grid_points)
  weights = trapezoid_weights(grid)
  grid32 = jnp.asarray(grid, jnp.float32)
  log_pi = np.asarray(data_dist.log_prob(grid32[:, None]), np.float64)
  logits = np.asarray(jax.jit(jax.vmap(
      lambda p: logit_fn(net, p)(grid32)))(params), np.float64)   # [M, N]

  @jax.jit
  def mc_value(p, mu, rng):
    r_rng, f_rng = jax.random.split(rng)
    d = logit_fn(net, p)
    real = data_dist.sample(r_rng, s.mc_samples)[:, 0]
    fake = mu + sigma * jax.random.normal(f_rng, (s.mc_samples,))
    return -gan_losses.discriminator_loss(d(real), d(fake))

  value = {"mu": [], "jsd": [], "c_of_g": [], "v_trained": [], "v_mc": [],
           "gap": [], "max_abs_d_error": [], "weighted_abs_d_error": []}
  curves = {}
  for j, mu in enumerate(np.asarray(s.mus, np.float64)):
    log_pg = -0.5 * ((grid - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    jsd = jensen_shannon(weights, log_pi, log_pg)
    c_of_g = 2.0 * jsd - LOG4
    v_trained = value_by_quadrature(weights, log_pi, log_pg, logits[j])
    p_j = jax.tree.map(lambda a, j=j: a[j], params)
    v_mc = float(mc_value(p_j, jnp.float32(mu), jax.random.fold_in(mc_rng, j)))
    d_star = 1.0 / (1.0 + np.exp(-np.clip(log_pi - log_pg, -700, 700)))
    d_trained = 1.0 / (1.0 + np.exp(-logits[j]))
    # Where D* is determined by the data: the average density m = (π + p_g)/2
    # >= `d_error_density` (in the far tails D* is set by few samples), and
    # the m-weighted mean ∫ m |D - D*| dx over the whole grid.
    m = 0.5 * (np.exp(log_pi) + np.exp(log_pg))
    abs_err = np.abs(d_trained - d_star)
    err = abs_err[m >= s.d_error_density]
    weighted = float(np.sum(weights * m * abs_err))
    for key, v in (("mu", float(mu)), ("jsd", jsd), ("c_of_g", c_of_g),
                   ("v_trained", v_trained), ("v_mc", v_mc),
                   ("gap", c_of_g - v_trained),
                   ("max_abs_d_error", float(err.max())),
                   ("weighted_abs_d_error", weighted)):
      value[key].append(v)
    if mu in tuple(s.plot_mus):
      stride = max(1, s.grid_points // 600)
      curves[f"{mu:g}"] = {
          "x": grid[::stride].tolist(), "d_star": d_star[::stride].tolist(),
          "d_trained": d_trained[::stride].tolist(),
          "pi": np.exp(log_pi[::stride]).tolist(),
          "p_g": np.exp(log_pg[::stride]).tolist()}
  # The closed form on a fine μ grid, for the figure's curve.
  fine_mu = np.linspace(min(s.mus), max(s.mus), 121)
  c_curve = [2.0 * jensen_shannon(weights, log_pi, -0.5 * ((grid - m) / sigma) ** 2
                                  - math.log(sigma) - 0.5 * math.log(2 * math.pi))
             - LOG4 for m in fine_mu]

  # (c): vanishing gradients.
  gradients = vanishing_gradients(config, data_dist, grad_rng)

  out = {
      "curves": curves, "value": value,
      "closed_form_curve": {"mu": fine_mu.tolist(), "c_of_g": c_curve},
      "gradients": gradients,
      "summary": summarise(value, gradients),
      "protocol": {
          "data": data_dist.description, "p_g": f"N(mu, {sigma:g}^2)",
          "seed": config.seed,
          "discriminator": f"MLP {tuple(s.discriminator_hidden)} "
                           f"{s.activation}, logistic loss",
          "optimizer": dict(config.optimizer),
          "num_steps": s.num_steps, "batch_size": s.batch_size,
          "quadrature": f"trapezoid on {s.grid_points} points in "
                        f"[{s.grid_min}, {s.grid_max}]",
          "d_error": ("max |D - D*| where (π + p_g)/2 >= "
                      f"{s.d_error_density}; weighted: ∫ (π + p_g)/2 |D - D*|"),
          "mc_samples": s.mc_samples,
          "gradient_part": {"far_mu": s.far_mu, "seeds": s.gradient_seeds,
                            "steps": s.gradient_steps,
                            "z_batch": s.gradient_batch,
                            "theta": "(mu, sigma) of G(z) = mu + sigma z"},
          "wall_time_s": time.perf_counter() - t0},
  }
  with open(os.path.join(workdir, JSON_NAME), "w") as f:
    json.dump(out, f, indent=1)
  write_figure(out, os.path.join(workdir, FIGURE_NAME))
  return out


def summarise(value: dict, gradients: dict) -> dict:
  """Largest gaps of part (b) and part (c)'s final gradient norms."""
  final = {k: np.asarray(gradients[k])[:, -1] for k in LOSSES}
  first = {k: np.asarray(gradients[k])[:, 0] for k in LOSSES}
  return {
      "max_gap": float(np.max(value["gap"])),
      "min_gap": float(np.min(value["gap"])),
      "max_abs_d_error": float(np.max(value["max_abs_d_error"])),
      "max_weighted_abs_d_error": float(np.max(value["weighted_abs_d_error"])),
      "grad_norm_start": {k: float(np.mean(v)) for k, v in first.items()},
      "grad_norm_end_mean": {k: float(np.mean(v)) for k, v in final.items()},
      "grad_norm_end_std": {k: float(np.std(v)) for k, v in final.items()},
      "final_d_fake_logit": float(np.mean(np.asarray(
          gradients["d_fake_logit"])[:, -1])),
      "grad_norm_at_optimum": gradients["at_optimum"],
  }


def write_figure(out: dict, path: str) -> None:
  """Top: D vs D* per μ; bottom: V vs C(G) over μ, gradient norms (log)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  curves = out["curves"]
  ncol = max(len(curves), 2)
  fig = plt.figure(figsize=(4.2 * ncol, 8))
  gs = fig.add_gridspec(2, 2 * ncol)
  for i, (mu, cv) in enumerate(curves.items()):
    ax = fig.add_subplot(gs[0, 2 * i:2 * i + 2])
    ax.plot(cv["x"], cv["d_star"], "k-", lw=2, label="D* = π/(π + p_g)")
    ax.plot(cv["x"], cv["d_trained"], "tab:orange", ls="--", lw=1.5,
            label="trained D")
    top = max(max(cv["pi"]), max(cv["p_g"]))
    ax.fill_between(cv["x"], 0, np.asarray(cv["pi"]) / top, color="tab:blue",
                    alpha=0.2, label="π (scaled)")
    ax.fill_between(cv["x"], 0, np.asarray(cv["p_g"]) / top, color="tab:red",
                    alpha=0.2, label="p_g (scaled)")
    ax.set_xlim(min(-4.5, float(mu) - 3.5), max(4.5, float(mu) + 3.5))
    ax.set_title(f"(a) p_g = N({mu}, σ²)")
    ax.set_xlabel("x")
    if i == 0:
      ax.legend(fontsize=7, loc="center left")
  v = out["value"]
  ax = fig.add_subplot(gs[1, :ncol])
  ax.plot(out["closed_form_curve"]["mu"], out["closed_form_curve"]["c_of_g"],
          "k-", label="C(G) = 2 JSD(π || p_g) − log 4 (quadrature)")
  ax.plot(v["mu"], v["v_trained"], "o", color="tab:orange",
          label="V(G, D_trained) (quadrature)")
  ax.plot(v["mu"], v["v_mc"], "x", color="tab:green",
          label="V(G, D_trained) (Monte Carlo)")
  ax.axhline(-LOG4, color="gray", ls=":", lw=1)
  ax.set_xlabel("μ of p_g = N(μ, σ²)")
  ax.set_ylabel("nats")
  ax.set_title("(b) value of the game at the trained D")
  ax.legend(fontsize=7)
  g = out["gradients"]
  ax = fig.add_subplot(gs[1, ncol:])
  steps = np.asarray(g["steps"])
  bottom = min(float(np.min(np.maximum(np.asarray(g[n]), 1e-30)))
               for n in LOSSES) / 30
  for name, color in (("minimax", "tab:red"), ("non_saturating", "tab:blue")):
    a = np.maximum(np.asarray(g[name]), 1e-30)
    mean, lo, hi = (np.exp(np.mean(np.log(a), 0)), np.min(a, 0), np.max(a, 0))
    at_star = g["at_optimum"][name]
    ax.semilogy(steps, mean, color=color,
                label=f"{LABELS[name]}; at D*: {at_star:.2g}")
    ax.fill_between(steps, lo, hi, color=color, alpha=0.2)
    if at_star > bottom:
      ax.axhline(at_star, color=color, ls=":", lw=1)
  ax.set_ylim(bottom=bottom)
  ax.set_xlabel("discriminator training steps t")
  ax.set_ylabel("||∇θ E L_G||  (θ = (μ, σ))")
  far = out["protocol"]["gradient_part"]["far_mu"]
  ax.set_title(f"(c) generator gradient, G = N({far:g}, σ²) fixed\n"
               "geometric mean and range over seeds; dotted: at D*", fontsize=10)
  ax.legend(fontsize=7)
  for a in fig.axes:
    a.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def format_table(out: dict) -> str:
  v = out["value"]
  head = (f"{'mu':>5} {'JSD':>8} {'C(G)':>8} {'V(D) quad':>10} {'V(D) MC':>9} "
          f"{'gap':>8} {'max|D-D*|':>10} {'E_m|D-D*|':>10}")
  lines = [head, "-" * len(head)]
  for i, mu in enumerate(v["mu"]):
    lines.append(f"{mu:>5.1f} {v['jsd'][i]:>8.4f} {v['c_of_g'][i]:>8.4f} "
                 f"{v['v_trained'][i]:>10.4f} {v['v_mc'][i]:>9.4f} "
                 f"{v['gap'][i]:>8.4f} {v['max_abs_d_error'][i]:>10.4f} "
                 f"{v['weighted_abs_d_error'][i]:>10.4f}")
  s = out["summary"]
  lines.append("")
  lines.append("generator gradient norm (fixed far G), mean over seeds:")
  for name in LOSSES:
    lines.append(f"  {name:<15} t=0: {s['grad_norm_start'][name]:.3g}  "
                 f"t=T: {s['grad_norm_end_mean'][name]:.3g} ± "
                 f"{s['grad_norm_end_std'][name]:.2g}  at D*: "
                 f"{s['grad_norm_at_optimum'][name]:.3g}")
  lines.append(f"  final mean D logit on G(z): {s['final_d_fake_logit']:.2f}")
  return "\n".join(lines)


if __name__ == "__main__":
  study_cli.main(run, format_table,
                 "experiments/configs/optimal_discriminator_study.py", (JSON_NAME, FIGURE_NAME))

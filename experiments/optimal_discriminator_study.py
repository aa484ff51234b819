r"""The optimal discriminator, the value of the game, and vanishing gradients.

On 1-D data with known densities, π (the toy set `study.data`, default the
mixture 0.5 N(-2, 0.5²) + 0.5 N(2, 0.5²)) against a generator with density
p_g = N(μ, σ²), i.e. G_θ(z) = μ + σ z, z ~ N(0, 1), θ = (μ, σ):

(a) Goodfellow et al. 2014, Proposition 1: for a fixed G the discriminator
    maximising V(G, D) = E_π[log D(x)] + E_{p_g}[log(1 - D(x))] is

      D*_G(x) = π(x) / (π(x) + p_g(x)),  logit D*_G = log π(x) - log p_g(x).

    A discriminator (MLP, logistic loss `gan_losses.discriminator_loss`,
    fresh samples of both every step, so no overfitting; trained by
    `gdm_jax.critics.train_critic`) is trained to convergence and compared
    with D* on a grid.
(b) Theorem 1: V(G, D*_G) = C(G) = -log 4 + 2 JSD(π || p_g). For each μ,
    V(G, D_trained) and C(G) are both computed by quadrature on the same
    grid (`gdm_jax.quadrature`'s trapezoid rule, `gan_value` and
    `jensen_shannon` in float64), so V(G, D_trained) <= C(G) holds
    pointwise up to quadrature error: π log d + p_g log(1 - d) is maximised
    over d at d*; a Monte Carlo V on fresh samples is reported too.
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
      --workdir=/tmp/optimal_d

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS
    (Proposition 1, Theorem 1).
  Arjovsky and Bottou 2017, "Towards Principled Methods for Training
    Generative Adversarial Networks", ICLR (Theorems 2.4-2.6, Figures 2-3).
"""

import functools
import math
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import stats

from experiments import study_utils
from gdm_jax import critics
from gdm_jax import distributions
from gdm_jax import gan_losses
from gdm_jax import quadrature
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.data import toy
from gdm_jax.nn import gan_nets


NAME = "optimal_discriminator_study"
JSON_NAME, FIGURE_NAME = NAME + ".json", NAME + ".png"
LOG4 = math.log(4.0)
LOSSES = {"minimax": gan_losses.generator_loss_minimax_per_example,
          "non_saturating": gan_losses.generator_loss_non_saturating_per_example}
LABELS = {"minimax": "minimax  log(1 − D(G(z)))",
          "non_saturating": "non-saturating  −log D(G(z))"}


# ------------------------------------------------------------- training -----


def make_discriminator(s) -> gan_nets.MLPDiscriminator:
  """D's MLP (`study.discriminator_hidden`, `study.activation`), 1 logit."""
  return gan_nets.MLPDiscriminator(tuple(s.discriminator_hidden), 1,
                                   activation=s.activation)


def logit_fn(net, params):
  """x [N] -> D's logit [N]."""
  return lambda x: net.apply(params, x[:, None], train=False)[:, 0]


def init_discriminator(net, rng: jax.Array):
  """D's initial parameters for 1-D inputs."""
  return net.init(rng, jnp.zeros((2, 1), jnp.float32), train=False)


def discriminator_loss(net) -> Callable:
  """(params, real [B], fake [B]) -> the logistic loss of D
  (`critics.critic_loss`, objective 'logistic')."""
  return functools.partial(critics.critic_loss,
                           apply_fn=lambda p, x: logit_fn(net, p)(x),
                           objective="logistic")


def sampler(data_dist: toy.ToyDistribution, mu, sigma: float,
            n: int) -> Callable:
  """key -> (n points of π [n], n points of N(μ, σ²) [n])."""
  def sample(key):
    r_rng, f_rng = jax.random.split(key)
    return (data_dist.sample(r_rng, n)[:, 0],
            mu + sigma * jax.random.normal(f_rng, (n,)))
  return sample


def train_discriminators(config, data_dist, mus: jax.Array, sigma: float,
                         rng: jax.Array):
  """D trained against each N(μ_j, σ²), vmapped over μ: stacked params.

  Each D: `study.num_steps` updates of `config.optimizer` on the logistic
  loss of `study.batch_size` fresh samples of π and of N(μ, σ²)
  (`critics.train_critic`; step keys split(rng_steps, num_steps)).
  """
  s = config.study
  net = make_discriminator(s)
  tx = make_optimizer(config.optimizer, s.num_steps)

  def train_one(rng, mu):
    init_rng, steps_rng = jax.random.split(rng)
    return critics.train_critic(
        discriminator_loss(net), tx, init_discriminator(net, init_rng),
        sampler(data_dist, mu, sigma, s.batch_size),
        jax.random.split(steps_rng, s.num_steps)).params

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
  net = make_discriminator(s)
  tx = make_optimizer(config.optimizer, s.gradient_steps)
  loss, sample = discriminator_loss(net), sampler(data_dist, mu, sigma,
                                                  s.batch_size)

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
      fit = critics.train_critic(loss, tx, carry[0], sample, keys,
                                 opt_state=carry[1])
      return (fit.params, fit.opt_state), measure(fit.params)

    params = init_discriminator(net, init_rng)
    keys = jax.random.split(steps_rng, records * every).reshape(records, every, -1)
    first = measure(params)
    _, rest = jax.lax.scan(record, (params, tx.init(params)), keys)
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)

  seeds = jax.random.split(rng, s.gradient_seeds)
  out = jax.device_get(jax.jit(jax.vmap(one_seed))(seeds))
  # The limit: D = D* (its logit log π - log p_g with p_g fixed at θ).
  z = jax.random.normal(jax.random.fold_in(rng, 1), (s.gradient_batch,))
  star = lambda x: critics.optimal_discriminator_logit(
      data_dist.log_prob(x[:, None]),
      distributions.gaussian_log_prob(x, mu, jnp.log(sigma)))
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
  weights = quadrature.trapezoid_weights(grid)
  grid32 = jnp.asarray(grid, jnp.float32)
  log_pi = np.asarray(data_dist.log_prob(grid32[:, None]), np.float64)
  logits = np.asarray(jax.jit(jax.vmap(
      lambda p: logit_fn(net, p)(grid32)))(params), np.float64)   # [M, N]
  # The fine μ grid gives the figure's closed-form curve.
  fine_mu = np.linspace(min(s.mus), max(s.mus), 121)
  mu64 = np.asarray(s.mus, np.float64)
  log_pg = stats.norm.logpdf(grid[None], mu64[:, None], sigma)    # [M, N]
  with jax.enable_x64(True):                   # float64 quadrature
    jsd = np.asarray(quadrature.jensen_shannon(log_pi, log_pg, weights))
    v_trained = np.asarray(quadrature.gan_value(log_pi, log_pg, logits,
                                                weights))
    c_curve = 2.0 * np.asarray(quadrature.jensen_shannon(
        log_pi, stats.norm.logpdf(grid[None], fine_mu[:, None], sigma),
        weights)) - LOG4
  mc_value = jax.jit(lambda p, mu, rng: -discriminator_loss(net)(
      p, *sampler(data_dist, mu, sigma, s.mc_samples)(rng)))

  value = {"mu": [], "jsd": [], "c_of_g": [], "v_trained": [], "v_mc": [],
           "gap": [], "max_abs_d_error": [], "weighted_abs_d_error": []}
  curves = {}
  for j, mu in enumerate(mu64):
    c_of_g = 2.0 * float(jsd[j]) - LOG4
    p_j = jax.tree.map(lambda a, j=j: a[j], params)
    v_mc = float(mc_value(p_j, jnp.float32(mu), jax.random.fold_in(mc_rng, j)))
    l_star = critics.optimal_discriminator_logit(log_pi, log_pg[j])
    d_star = 1.0 / (1.0 + np.exp(-np.clip(l_star, -700, 700)))
    d_trained = 1.0 / (1.0 + np.exp(-logits[j]))
    # Where D* is determined by the data: the average density m = (π + p_g)/2
    # >= `d_error_density` (in the far tails D* is set by few samples), and
    # the m-weighted mean ∫ m |D - D*| dx over the whole grid.
    m = 0.5 * (np.exp(log_pi) + np.exp(log_pg[j]))
    abs_err = np.abs(d_trained - d_star)
    err = abs_err[m >= s.d_error_density]
    weighted = float(np.sum(weights * m * abs_err))
    for key, v in (("mu", float(mu)), ("jsd", float(jsd[j])),
                   ("c_of_g", c_of_g), ("v_trained", float(v_trained[j])),
                   ("v_mc", v_mc), ("gap", c_of_g - float(v_trained[j])),
                   ("max_abs_d_error", float(err.max())),
                   ("weighted_abs_d_error", weighted)):
      value[key].append(v)
    if mu in tuple(s.plot_mus):
      stride = max(1, s.grid_points // 600)
      curves[f"{mu:g}"] = {
          "x": grid[::stride].tolist(), "d_star": d_star[::stride].tolist(),
          "d_trained": d_trained[::stride].tolist(),
          "pi": np.exp(log_pi[::stride]).tolist(),
          "p_g": np.exp(log_pg[j, ::stride]).tolist()}

  # (c): vanishing gradients.
  gradients = vanishing_gradients(config, data_dist, grad_rng)

  out = {
      "curves": curves, "value": value,
      "closed_form_curve": {"mu": fine_mu.tolist(),
                            "c_of_g": c_curve.tolist()},
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
  study_utils.write_json(out, os.path.join(workdir, JSON_NAME))
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
  plt = study_utils.pyplot()
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
  study_utils.save_figure(fig, path, dpi=80, grid=True)


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
  study_utils.main(NAME, run, format_table)

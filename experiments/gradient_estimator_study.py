r"""Variance of gradient estimators against the number of samples S.

For a parameter θ of a sampling distribution q_θ and an objective
F(θ) = E_{q_θ}[f(z)], the study compares, at S = 1 ... 1000 samples per
estimate and over R independent repetitions of each estimate:

  reparam          (1/S) Σ_s ∇_θ f(g_θ(ε_s)),  z = g_θ(ε) (pathwise; Kingma
                   and Welling 2014, eq. 10);
  reinforce        (1/S) Σ_s f(z_s) ∇_θ log q_θ(z_s) (score function,
                   Williams 1992, eq. 4; `estimators.score_function_surrogate`);
  reinforce_mean   the same with a constant baseline b = the mean of f over
                   independent draws (`study.baseline_samples` of them; for
                   the VAE, per example, the reference draws below), so
                   unbiased;
  reinforce_loo    the same with the leave-one-out baseline b_s = mean of the
                   other S - 1 samples' f (`estimators.leave_one_out_baseline`;
                   Kool et al. 2019), S >= 2;
  gumbel_relaxed   (1/S) Σ_s ∇_l f(y_s), y_s a Gumbel-softmax sample at τ
                   (Jang et al. 2017, eq. 2), categorical objective only;
  gumbel_st        the straight-through version (forward one-hot).

For each S it records the total variance tr Cov[ĝ_S] (summed over the
parameters; the unbiased estimators' variance falls as 1/S, slope -1 on
the log-log plot) and the bias |E ĝ_S - ∇F| against the exact (or, for
the VAE, a high-precision reference) gradient, with its Monte Carlo noise
level sqrt(tr Cov / R). All S reuse prefixes of the same R x S_max draws.

Objectives:
  (a) gaussian     f(z) = (z - c)², z ~ N(μ, σ²), θ = (μ, σ):
                   ∇_μ F = 2(μ - c), ∇_σ F = 2σ exactly.
  (b) vae          the encoder gradient of a Bernoulli VAE's ELBO
                   (gdm_jax/models/vae.py, MLP, trained briefly on
                   Fashion-MNIST; the tests use random images and
                   an untrained VAE) on a batch of B binarised test images:
                   f(z) = Σ_b log p_θ(x_b | z_b), z_b ~ q_φ(z|x_b) =
                   N(μ_φ(x_b), σ_φ(x_b)²). The KL term's gradient is exact
                   (closed form) in every estimator and left out, so the
                   variances compare estimators of ∇_φ E_q[log p(x|z)]. The
                   per-sample gradients are taken with respect to (μ, log σ)
                   and mapped to all encoder parameters φ by the encoder's
                   vector-Jacobian product (a linear map, so means and
                   variances of the parameter gradient are exact). The
                   reference gradient is the reparameterised estimate from
                   study.vae_reference_reps x S_max independent draws.
  (c) categorical  f(z) = ‖z - t‖², z ~ Cat(softmax(l)) one-hot (K classes),
                   θ = l; exact ∇_l Σ_k softmax(l)_k f(e_k). The relaxed
                   estimators target ∇_l E[f(y)] of the relaxed objective,
                   so they are biased for the discrete one.

Writes WORKDIR/gradient_estimator_study.json (every number) and
WORKDIR/gradient_estimator_study.png (one log-log panel per objective), and
prints a table. Results: experiments/configs/gradient_estimator_study.py.

Usage:
  python -m experiments.gradient_estimator_study \
      --config=experiments/configs/gradient_estimator_study.py \
      --workdir=/tmp/grad_study

References:
  Williams 1992, "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning", eq. 4 (REINFORCE).
  Kingma and Welling 2014, "Auto-Encoding Variational Bayes", sec. 2.4.
  Jang, Gu and Poole 2017, "Categorical Reparameterization with
    Gumbel-Softmax", eq. 2 and sec. 2.2.
  Kool, van Hoof and Welling 2019, "Buy 4 REINFORCE Samples, Get a Baseline
    for Free!" (leave-one-out baseline).
  Mohamed, Rosca, Figurnov and Mnih 2020, "Monte Carlo Gradient Estimation
    in Machine Learning", JMLR, sec. 4-5 and 8.
"""

import copy
import math
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from experiments import study_utils
from gdm_jax import data as data_lib
from gdm_jax import distributions
from gdm_jax import estimators
from gdm_jax.models import vae


NAME = "gradient_estimator_study"
JSON_NAME, FIGURE_NAME = NAME + ".json", NAME + ".png"
OBJECTIVES = ("gaussian", "vae", "categorical")
STYLES = {"reparam": ("C0", "o"), "reinforce": ("C3", "s"),
          "reinforce_mean": ("C1", "^"), "reinforce_loo": ("C2", "v"),
          "gumbel_relaxed": ("C4", "D"), "gumbel_st": ("C5", "x")}


# ---------------------------------------------------- per-sample gradients


def score_function_terms(f: jax.Array, score: jax.Array, s: int,
                         baseline=None) -> dict[str, jax.Array]:
  """The REINFORCE estimates from the first `s` samples of each repetition.

  Each is the gradient of mean_s score_function_surrogate(log q(z_s), f_s,
  b_s), i.e. (1/S) Σ_s (f_s - b_s) ∇ log q(z_s), written with the
  per-sample scores ∇ log q (the surrogate's gradient; tested).

  Args:
    f: [R, S_max, ...] values f(z_s).
    score: [R, S_max, ..., P] per-sample ∇_θ log q_θ(z_s).
    s: number of samples S per estimate.
    baseline: None, or a constant b broadcastable to f[:, :s] (reinforce_mean).

  Returns:
    {'reinforce', 'reinforce_loo' (S >= 2), 'reinforce_mean' (with a
    baseline)}: [R, ..., P] each.
  """
  fs, gs = f[:, :s], score[:, :s]
  out = {"reinforce": jnp.mean(fs[..., None] * gs, axis=1)}
  if baseline is not None:
    out["reinforce_mean"] = jnp.mean((fs - baseline)[..., None] * gs, axis=1)
  if s >= 2:
    loo = estimators.leave_one_out_baseline(fs, axis=1)
    out["reinforce_loo"] = jnp.mean((fs - loo)[..., None] * gs, axis=1)
  return out


# Compiled once per S (eager jnp ops would compile each op separately).
_terms = jax.jit(score_function_terms, static_argnums=2)


@jax.jit
def _mean_first(x, s_mask):
  """Mean over axis 1 of the samples where s_mask [S_max] is 1."""
  w = s_mask / jnp.sum(s_mask)
  return jnp.einsum("s,rs...->r...", w, x)


def prefix_mean(x, s):
  """(1/s) Σ_{i<s} x[:, i]: [R, S_max, ...] -> [R, ...]."""
  return _mean_first(x, (jnp.arange(x.shape[1]) < s).astype(x.dtype))


def gaussian_samples(rng, mu, sigma, c, reps, s_max):
  """Per-sample terms of f(z) = (z - c)², z ~ N(μ, σ²), θ = (μ, σ).

  Returns:
    {'f': [R, S], 'score': [R, S, 2], 'reparam': [R, S, 2]}.
  """
  theta = jnp.asarray([mu, sigma], jnp.float32)
  eps = jax.random.normal(rng, (reps, s_max))

  def f(z):
    return (z - c) ** 2

  def log_q(t, z):
    return distributions.gaussian_log_prob(z, t[0], jnp.log(t[1]))

  per_sample = lambda fn: jax.vmap(jax.vmap(fn, (None, 0)), (None, 0))  # noqa: E731
  z = theta[0] + theta[1] * eps
  return {"f": f(z),
          "score": per_sample(jax.grad(log_q))(theta, z),
          "reparam": per_sample(jax.grad(lambda t, e: f(t[0] + t[1] * e)))(theta, eps)}


def categorical_samples(rng, logits, target, temperature, reps, s_max):
  """Per-sample terms of f(z) = ‖z - t‖², z ~ Cat(softmax(l)), θ = l.

  Returns:
    {'f': [R, S], 'score': [R, S, K], 'gumbel_relaxed': [R, S, K],
     'gumbel_st': [R, S, K]}; the straight-through forward one-hot is the
     categorical sample z_s of the same Gumbel noise.
  """
  def f(y):
    return jnp.sum((y - target) ** 2, -1)

  def one(key):
    z = jax.lax.stop_gradient(estimators.gumbel_softmax(key, logits, temperature,
                                                        hard=True))
    score = jax.grad(lambda l: jnp.sum(z * jax.nn.log_softmax(l)))(logits)
    relaxed = jax.grad(lambda l: f(estimators.gumbel_softmax(key, l, temperature)))(
        logits)
    st = jax.grad(lambda l: f(estimators.gumbel_softmax(key, l, temperature,
                                                        hard=True)))(logits)
    return f(z), score, relaxed, st

  keys = jax.random.split(rng, reps * s_max)
  fz, score, relaxed, st = jax.jit(jax.vmap(one))(keys)
  shape = (reps, s_max)
  return {"f": fz.reshape(shape), "score": score.reshape(shape + (-1,)),
          "gumbel_relaxed": relaxed.reshape(shape + (-1,)),
          "gumbel_st": st.reshape(shape + (-1,))}


def exact_categorical_gradient(logits, target):
  k = logits.shape[-1]
  f_k = jnp.sum((jnp.eye(k) - target) ** 2, -1)
  return jax.grad(lambda l: jnp.sum(jax.nn.softmax(l) * f_k))(logits)


# ---------------------------------------------------------- summaries


def summarise_estimates(estimates: dict, exact: np.ndarray) -> dict:
  """tr Cov, bias norm and noise level of each estimator's R estimates.

  Args:
    estimates: {name: [R, P]} (flattened gradients).
    exact: [P] the exact or reference gradient.
  """
  out = {}
  for name, est in estimates.items():
    est = np.asarray(est, np.float64)
    reps = est.shape[0]
    var = float(np.sum(est.var(0, ddof=1)))
    bias = est.mean(0) - exact
    se = est.std(0, ddof=1) / math.sqrt(reps)
    out[name] = {"variance": var, "bias_norm": float(np.linalg.norm(bias)),
                 "noise_norm": math.sqrt(var / reps),
                 "max_abs_z": float(np.max(np.abs(bias) / np.maximum(se, 1e-30))),
                 "mean": est.mean(0).tolist() if est.shape[1] <= 16 else None}
  return out


def slope(sizes, variances) -> float:
  """Least-squares slope of log variance against log S (S with a value)."""
  pts = [(math.log(s), math.log(v)) for s, v in zip(sizes, variances)
         if v is not None and v > 0]
  if len(pts) < 2:
    return float("nan")
  x, y = np.array(pts).T
  return float(np.polyfit(x, y, 1)[0])


def collect(per_s: dict, sizes) -> dict:
  """{estimator: {'variance': [..], 'bias_norm': [..], ..., 'slope'}}."""
  names = sorted({n for s in sizes for n in per_s[s]})
  out = {}
  for n in names:
    rows = [per_s[s].get(n) for s in sizes]
    rec = {key: [None if r is None else r[key] for r in rows]
           for key in ("variance", "bias_norm", "noise_norm", "max_abs_z")}
    rec["mean_at_max_s"] = rows[-1]["mean"] if rows[-1] else None
    rec["slope"] = slope(sizes, rec["variance"])
    out[n] = rec
  return out


# ----------------------------------------------------------- objectives


def run_gaussian(config, rng) -> dict:
  s = config.study
  sizes = list(s.sample_sizes)
  g = s.gaussian
  samples = gaussian_samples(rng, g.mu, g.sigma, g.c, s.gaussian_reps, max(sizes))
  exact = np.array([2 * (g.mu - g.c), 2 * g.sigma])
  # b = E[f] estimated from independent draws.
  z_b = g.mu + g.sigma * jax.random.normal(jax.random.fold_in(rng, 1),
                                           (s.baseline_samples,))
  baseline = float(jnp.mean((z_b - g.c) ** 2))
  per_s = {}
  for n in sizes:
    est = _terms(samples["f"], samples["score"], n, baseline)
    est["reparam"] = prefix_mean(samples["reparam"], n)
    per_s[n] = summarise_estimates(est, exact)
  return {"exact_gradient": exact.tolist(), "baseline": baseline,
          "sample_sizes": sizes, "estimators": collect(per_s, sizes),
          "reps": s.gaussian_reps}


def run_categorical(config, rng) -> dict:
  s = config.study
  sizes = list(s.sample_sizes)
  c = s.categorical
  k_logits, k_target, k_draw, k_base = jax.random.split(rng, 4)
  logits = jax.random.normal(k_logits, (c.num_classes,))
  target = jax.random.uniform(k_target, (c.num_classes,))
  samples = categorical_samples(k_draw, logits, target, c.temperature,
                                s.categorical_reps, max(sizes))
  exact = np.asarray(exact_categorical_gradient(logits, target), np.float64)
  zb = jax.nn.one_hot(jax.random.categorical(k_base, logits,
                                             shape=(s.baseline_samples,)),
                      c.num_classes)
  baseline = float(jnp.mean(jnp.sum((zb - target) ** 2, -1)))
  per_s = {}
  for n in sizes:
    est = _terms(samples["f"], samples["score"], n, baseline)
    for name in ("gumbel_relaxed", "gumbel_st"):
      est[name] = prefix_mean(samples[name], n)
    per_s[n] = summarise_estimates(est, exact)
  return {"exact_gradient": exact.tolist(), "logits": np.asarray(logits).tolist(),
          "target": np.asarray(target).tolist(), "temperature": c.temperature,
          "baseline": baseline, "sample_sizes": sizes,
          "estimators": collect(per_s, sizes), "reps": s.categorical_reps}


def train_vae(config, dataset, rng):
  """The VAE of config.model trained for study.vae_train_steps steps."""
  c = copy.deepcopy(config)
  with c.unlocked():
    c.train.num_steps = max(1, config.study.vae_train_steps)
  model = vae.make(c, dataset.info)
  state = jax.jit(model.init)(rng, dataset.train_batch(0, c.train.batch_size,
                                                       c.seed))
  step = jax.jit(study_utils.train_step(model))
  metrics = {}
  for t in range(config.study.vae_train_steps):
    state, metrics = step(state, dataset.train_batch(t, c.train.batch_size, c.seed))
  return model, state.params, {k: float(v) for k, v in metrics.items()}


def vae_samples(model, params, x, rng, reps, s_max):
  """Per-sample terms at the encoder's outputs u = (μ, log σ) [B, 2D]:
  {'f': [R, S, B], 'score': [R, S, B, 2D], 'reparam': [R, S, B, 2D]}."""
  mean, log_scale = model.encode(params, x)                     # [B, D]
  b, d = mean.shape

  def log_lik(z):                                      # [N, D] -> [N]
    logits, _ = model.net.apply(params, z, method=vae.VAENet.decode)
    xs = jnp.broadcast_to(x, (z.shape[0] // b,) + x.shape).reshape(
        (z.shape[0],) + x.shape[1:])
    return distributions.sum_except_batch(distributions.bernoulli_log_prob(logits, xs))

  def one_rep(key):
    eps = jax.random.normal(key, (s_max, b, d))
    z = mean + jnp.exp(log_scale) * eps                          # [S, B, D]
    f, vjp = jax.vjp(lambda zz: log_lik(zz.reshape(-1, d)).reshape(s_max, b), z)
    grad_z = vjp(jnp.ones_like(f))[0]                            # ∇_z f, [S, B, D]
    reparam = jnp.concatenate([grad_z, grad_z * jnp.exp(log_scale) * eps], -1)
    # Per-sample ∇_u log q(z_s | x) of the Gaussian (closed form, tested
    # against jax.grad): ((z - μ) / σ², (z - μ)² / σ² - 1).
    centred = (z - mean) * jnp.exp(-log_scale)
    sc = jnp.concatenate([centred * jnp.exp(-log_scale), centred ** 2 - 1.0], -1)
    return f, sc, reparam

  keys = jax.vmap(lambda r: jax.random.fold_in(rng, r))(jnp.arange(reps))
  f, sc, rp = jax.jit(lambda ks: jax.lax.map(one_rep, ks))(keys)  # sequential
  return {"f": f, "score": sc, "reparam": rp}


def run_vae(config, rng) -> dict:
  s = config.study
  sizes = list(s.sample_sizes)
  k_train, k_bin, k_draw = jax.random.split(rng, 3)
  t0 = time.time()
  if s.vae_data == "synthetic":
    # Random uint8 images and an untrained VAE: the tests' fast path (no
    # data set to load).
    if s.vae_train_steps:
      raise ValueError("study.vae_data='synthetic' trains nothing: set "
                       "study.vae_train_steps=0.")
    model = vae.make(config, {"shape": (28, 28, 1)})
    params = jax.jit(model.init)(k_train, None).params
    train_metrics = {}
    images = jax.random.randint(k_train, (s.vae_batch, 28, 28, 1), 0, 256
                                ).astype(jnp.uint8)
  elif s.vae_data == "dataset":
    dataset = data_lib.load(config.data)
    model, params, train_metrics = train_vae(config, dataset, k_train)
    images = next(dataset.eval_batches("test", s.vae_batch))[0]["image"]
  else:
    raise ValueError("study.vae_data must be 'dataset' or 'synthetic'; got "
                     f"'{s.vae_data}'.")
  train_s = time.time() - t0
  x = model.preprocessing.apply(k_bin, jnp.asarray(images))
  # One set of draws: the first vae_reps repetitions are the estimates; the
  # other vae_reference_reps, independent of them, give the reference
  # gradient and the per-example constant baseline b = mean of f.
  drawn = vae_samples(model, params, x, k_draw,
                      s.vae_reps + s.vae_reference_reps, max(sizes))
  samples = jax.tree_util.tree_map(lambda a: a[:s.vae_reps], drawn)
  ref = jax.tree_util.tree_map(lambda a: a[s.vae_reps:], drawn)
  del drawn
  baseline = jnp.mean(ref["f"], axis=(0, 1))                       # [B]
  d = model.encode(params, x)[0].shape[-1]

  def encode_u(p):
    mean, log_scale = model.encode(p, x)
    return jnp.concatenate([mean, log_scale], -1)                # [B, 2D]

  _, enc_vjp = jax.vjp(encode_u, params)
  to_params = jax.jit(jax.vmap(lambda g: jnp.concatenate([
      jnp.ravel(l) for l in jax.tree_util.tree_leaves(
          enc_vjp(g)[0]["params"]["encoder"])])))
  reference_u = jnp.mean(ref["reparam"], axis=(0, 1))              # [B, 2D]
  del ref
  reference = np.asarray(to_params(reference_u[None])[0], np.float64)
  per_s, per_s_out = {}, {}
  for n in sizes:
    est = _terms(samples["f"], samples["score"], n, baseline)
    est["reparam"] = prefix_mean(samples["reparam"], n)            # [R, B, 2D]
    per_s_out[n] = summarise_estimates(
        {k: v.reshape(v.shape[0], -1) for k, v in est.items()},
        np.asarray(reference_u, np.float64).ravel())
    per_s[n] = summarise_estimates({k: to_params(v) for k, v in est.items()},
                                   reference)
  return {"sample_sizes": sizes, "estimators": collect(per_s, sizes),
          "estimators_at_encoder_output": collect(per_s_out, sizes),
          "reference": (f"reparam mean over {s.vae_reference_reps} x "
                        f"{max(sizes)} independent draws"),
          "reference_norm": float(np.linalg.norm(reference)),
          "num_encoder_params": int(reference.size), "latent_dim": int(d),
          "batch": int(s.vae_batch), "reps": s.vae_reps,
          "data": (f"{config.data.name} test images" if s.vae_data == "dataset"
                   else "random uint8 images (untrained VAE)"),
          "vae_train_steps": s.vae_train_steps, "vae_train_metrics": train_metrics,
          "vae_train_s": train_s}


# ------------------------------------------------------- figure and table


TITLES = {"gaussian": "(a) Gaussian: ∇_{μ,σ} E[(z-c)²]",
          "vae": "(b) VAE encoder: ∇_φ E_q[log p(x|z)]",
          "categorical": "(c) categorical: ∇_l E[‖z-t‖²]"}


def write_figure(results: dict, path: str) -> None:
  plt = study_utils.pyplot()
  fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 3.8))
  axes = np.atleast_1d(axes)
  for ax, (obj, res) in zip(axes, results.items()):
    sizes = res["sample_sizes"]
    first = None
    for name, rec in res["estimators"].items():
      pts = [(n, v) for n, v in zip(sizes, rec["variance"]) if v]
      xs, ys = zip(*pts)
      color, marker = STYLES[name]
      ax.loglog(xs, ys, marker=marker, color=color, ms=4,
                label=f"{name} ({rec['slope']:.2f})")
      if name == "reinforce":
        first = (xs[0], ys[0])
    if first:
      s_arr = np.array(sizes, float)
      ax.loglog(s_arr, first[1] * first[0] / s_arr, "k:", lw=1, label="∝ 1/S")
    ax.set_title(TITLES.get(obj, obj), fontsize=9)
    ax.set_xlabel("samples per estimate S")
    ax.set_ylabel("total variance tr Cov[ĝ]")
    ax.legend(fontsize=7, title="estimator (slope)", title_fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
  study_utils.save_figure(fig, path, dpi=90)


def format_table(results: dict) -> str:
  lines = [f"{'objective':12s} {'estimator':15s} {'var(S_min)':>10s} "
           f"{'var(S=max)':>10s} {'slope':>6s} {'|bias|':>9s} {'noise':>9s}"]
  for obj, res in results.items():
    for name, rec in res["estimators"].items():
      v1 = next((v for v in rec["variance"] if v), float("nan"))
      lines.append(f"{obj:12s} {name:15s} {v1:10.4g} {rec['variance'][-1]:10.4g} "
                   f"{rec['slope']:6.2f} {rec['bias_norm'][-1]:9.3g} "
                   f"{rec['noise_norm'][-1]:9.3g}")
  return "\n".join(lines)


def run(config, workdir: str) -> dict:
  """Runs the objectives in config.study.objectives; writes JSON and figure.

  Returns:
    {'results': {objective: {...}}, 'protocol': {...}}.

  Raises:
    ValueError: an invalid study setting (the message names the field).
  """
  s = config.study
  sizes = list(s.sample_sizes)
  if not sizes or sorted(set(sizes)) != sizes or sizes[0] < 1:
    raise ValueError("study.sample_sizes must be increasing integers >= 1; got "
                     f"{sizes}.")
  for name in s.objectives:
    if name not in OBJECTIVES:
      raise ValueError(f"study.objectives: unknown '{name}'; choose from {OBJECTIVES}.")
  os.makedirs(workdir, exist_ok=True)
  root = jax.random.key(config.seed)
  runners = {"gaussian": run_gaussian, "vae": run_vae,
             "categorical": run_categorical}
  results, timings = {}, {}
  for i, name in enumerate(s.objectives):
    logging.info("objective %s ...", name)
    t0 = time.time()
    results[name] = runners[name](config, jax.random.fold_in(root, i))
    timings[name] = time.time() - t0
  out = {"results": results,
         "protocol": {"seed": config.seed, "sample_sizes": sizes,
                      "variance": "tr Cov over R repetitions (ddof 1), summed "
                                  "over all parameters",
                      "bias": "‖mean of R estimates - exact (or reference)‖; "
                              "noise = sqrt(variance / R)",
                      "draws": "the estimates at each S use the first S of "
                               "the same S_max draws per repetition",
                      "wall_s": timings}}
  study_utils.write_json(out, os.path.join(workdir, JSON_NAME))
  write_figure(results, os.path.join(workdir, FIGURE_NAME))
  return out


if __name__ == "__main__":
  study_utils.main(NAME, run, lambda out: format_table(out["results"]))

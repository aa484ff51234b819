r"""GAN0 (minimax) against GAN1 (log-D trick): the generator's weight s(G(z)).

Johnson and Zhang (2018, Algorithms 4 and 5; seed 002) write
both generator updates as a *weighted* functional gradient of D, with
logit D = V(x) and d = σ(D):

  GAN0, L_G = log(1 - σ(D(G(z)))):   ∇_θ L_G = -σ(D(G(z)))  ∇_θ D(G(z))
  GAN1, L_G = -log σ(D(G(z))):       ∇_θ L_G = -σ(-D(G(z))) ∇_θ D(G(z))

i.e. s(x) = σ(D(x)) for GAN0 and s(x) = σ(-D(x)) for GAN1 in
g(x) = s(x) ∇D(x). Early in training the discriminator rejects the
generated points confidently, D(G(z)) << 0, so GAN0's weight σ(D) ≈ e^{D}
vanishes and its generator barely moves, while GAN1's σ(-D) ≈ 1 keeps the
full gradient of D. This study trains both from the same seed, nets, data
order and optimizers (the gan family, `model.objective` = 'minimax' or
'non_saturating', via `gdm_jax.models.make` and `model.train_step`) and
records over the first N steps:

  s_gan0, s_gan1   mean σ(D(G(z))) and σ(-D(G(z))) on a fixed probe of z
                   (each arm's own weight is 's_own');
  d_fake_logit     mean D(G(z)) on the probe;
  g_grad_norm      global norm of the generator's loss gradient in the step
                   (the gan family's metric);
  mmd2             a sample-quality proxy: unbiased MMD² (Gretton et al.
                   2012) between generated samples and held-out test data in
                   model space, with a sum of RBF kernels at 0.5, 1 and 2
                   times the median distance between test examples.

Writes WORKDIR/gan_scaling_study.json (every number) and
WORKDIR/gan_scaling_study.png (four panels), and prints a short table. Both
arms start from identical parameters (same seed and nets) and see the same
batches and step keys.

Why Fashion-MNIST with the practical's MLPs: on image data a discriminator
with k = 5 updates per generator update separates the initial generator's
noise from real images within ~10 steps, which is exactly the regime of the
claim (D(G(z)) << 0), and both arms take ~5 min on a loaded 2-core CPU. The
default descends the generator's gradient with SGD, as Algorithms 4-5 do:
with Adam the weight s is a common scale of the gradient that Adam's
per-coordinate RMS normalisation largely divides out, so s and the gradient
norm still differ 3.5x and 20x but the samples do not (the `adam` variant);
with the practical's k = 1 and dropout 0.2 the discriminator never rejects
confidently and the regime does not arise (`practical`). Results of every
variant: experiments/configs/gan_scaling_study.py.

Usage:
  python -m experiments.gan_scaling_study \
      --config=experiments/configs/gan_scaling_study.py --workdir=/tmp/gan01
  (variants :sgd_fast, :adam, :practical)

References:
  Johnson and Zhang 2018, "Composite Functional Gradient Learning of
    Generative Adversarial Models", ICML (Algorithms 4-5).
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS (section 3,
    the log-D trick).
  Gretton et al. 2012, "A Kernel Two-Sample Test", JMLR (eq. 3).
"""

import copy
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from experiments import study_utils
from gdm_jax import data as data_lib
from gdm_jax import divergences
from gdm_jax import models

ARMS = {"minimax": "GAN0 (minimax)", "non_saturating": "GAN1 (log-D trick)"}
NAME = "gan_scaling_study"
JSON_NAME, FIGURE_NAME = NAME + ".json", NAME + ".png"


def generator_weights(logits: jax.Array) -> dict[str, jax.Array]:
  """s(x) of each generator loss at D's logits [N]: σ(D) (GAN0), σ(-D) (GAN1)."""
  return {"minimax": jax.nn.sigmoid(logits),
          "non_saturating": jax.nn.sigmoid(-logits)}


def _model_space(batch):
  """Test examples in the model's space ([-1, 1] images or toy points)."""
  if "x" in batch:
    return jnp.asarray(batch["x"], jnp.float32)
  # No dequantisation noise for the reference: pixel / 127.5 - 1.
  return jnp.asarray(batch["image"], jnp.float32) / 127.5 - 1.0


def _median_distance(x: jax.Array) -> float:
  d2 = divergences.squared_distances(x, x)
  n = x.shape[0]
  off = d2[~np.eye(n, dtype=bool)]
  return float(jnp.sqrt(jnp.median(off)))


def run_arm(config, objective: str, dataset, reference: jax.Array,
            kernel) -> dict:
  """Trains one arm for `study.num_steps` steps and records the numbers."""
  s = config.study
  c = copy.deepcopy(config)
  with c.unlocked():
    c.model.objective = objective
    c.train.num_steps = s.num_steps
  model = models.make(c, dataset.info)
  root = jax.random.PRNGKey(c.seed)
  init_rng, probe_rng, quality_rng = jax.random.split(root, 3)
  state = jax.jit(model.init)(init_rng, dataset.train_batch(
      0, c.train.batch_size, c.seed))
  z_probe = jax.random.normal(probe_rng, (s.probe_size, c.model.latent_dim))

  step_fn = jax.jit(study_utils.train_step(model))

  @jax.jit
  def probe(params):
    logits = model.critic(params, model.generate(params, z_probe))
    w = generator_weights(logits)
    return {"d_fake_logit": jnp.mean(logits),
            "s_gan0": jnp.mean(w["minimax"]),
            "s_gan1": jnp.mean(w["non_saturating"]),
            "fraction_rejected": jnp.mean((logits < -3.0).astype(jnp.float32))}

  @jax.jit
  def quality(params, rng):
    x = model.generate(params, jax.random.normal(
        rng, (s.quality_size, c.model.latent_dim)))
    return divergences.mmd_unbiased(x, reference, kernel)

  rec = {"steps": [], "d_fake_logit": [], "s_gan0": [], "s_gan1": [],
         "fraction_rejected": [], "g_grad_norm": [], "d_loss": [],
         "quality_steps": [], "mmd2": []}

  def record(step, params):
    p = jax.device_get(probe(params))
    rec["steps"].append(step)
    for k in ("d_fake_logit", "s_gan0", "s_gan1", "fraction_rejected"):
      rec[k].append(float(p[k]))
    if step % s.quality_every == 0 or step == s.num_steps:
      rec["quality_steps"].append(step)
      rec["mmd2"].append(float(quality(params, quality_rng)))

  t0 = time.perf_counter()
  record(0, state.params)
  for step in range(s.num_steps):
    batch = dataset.train_batch(step, c.train.batch_size, c.seed)
    state, metrics = step_fn(state, batch)
    m = jax.device_get(metrics)
    rec["g_grad_norm"].append(float(m["g_grad_norm"]))
    rec["d_loss"].append(float(m["d_loss"]))
    if (step + 1) % s.record_every == 0 or step + 1 == s.num_steps:
      record(step + 1, state.params)
  rec["s_own"] = rec["s_gan0" if objective == "minimax" else "s_gan1"]
  rec["wall_time_s"] = time.perf_counter() - t0
  rec["train_step_compilations"] = step_fn._cache_size()  # pylint: disable=protected-access
  return rec


def summarise(results: dict, early_steps: int) -> dict:
  """Per arm: means over the records of the first `early_steps` steps
  (step 0 excluded) and the final quality proxy."""
  out = {}
  for name, r in results.items():
    steps = np.asarray(r["steps"])
    early = (steps > 0) & (steps <= early_steps)
    out[name] = {
        "early_mean_s_own": float(np.mean(np.asarray(r["s_own"])[early])),
        "early_mean_d_fake_logit": float(np.mean(
            np.asarray(r["d_fake_logit"])[early])),
        "early_mean_g_grad_norm": float(np.mean(r["g_grad_norm"][:early_steps])),
        "final_d_fake_logit": r["d_fake_logit"][-1],
        "final_s_own": r["s_own"][-1],
        "final_mmd2": r["mmd2"][-1],
        "initial_mmd2": r["mmd2"][0],
    }
  return out


def write_figure(results: dict, path: str) -> None:
  """Four panels over training steps: s, D(G(z)), ||∇_θ L_G||, MMD²."""
  fig, axes = study_utils.pyplot().subplots(2, 2, figsize=(10, 7))
  for (objective, r), color in zip(results.items(), ("tab:red", "tab:blue")):
    label = ARMS[objective]
    axes[0, 0].plot(r["steps"], r["s_own"], color=color, label=label)
    axes[0, 1].plot(r["steps"], r["d_fake_logit"], color=color, label=label)
    axes[1, 0].semilogy(np.arange(1, len(r["g_grad_norm"]) + 1),
                        np.maximum(r["g_grad_norm"], 1e-12), color=color,
                        label=label, linewidth=0.8)
    axes[1, 1].plot(r["quality_steps"], r["mmd2"], "o-", color=color,
                    label=label)
  axes[0, 0].set_title("mean generator weight s(G(z))\n"
                       "GAN0: σ(D), GAN1: σ(−D)")
  axes[0, 0].set_ylim(-0.02, 1.02)
  axes[0, 1].set_title("mean discriminator logit D(G(z))")
  axes[1, 0].set_title("generator gradient norm ||∇θ L_G||")
  axes[1, 1].set_title("sample-quality proxy: MMD² to test data (lower is better)")
  for ax in axes.flat:
    ax.set_xlabel("train step")
    ax.legend(fontsize=8)
  study_utils.save_figure(fig, path, dpi=100, grid=True)


def format_table(summary: dict) -> str:
  head = (f"{'arm':<20} {'early s':>9} {'early D(G(z))':>14} "
          f"{'early |grad G|':>15} {'final D(G(z))':>14} {'MMD² start':>11} "
          f"{'MMD² end':>9}")
  lines = [head, "-" * len(head)]
  for objective, v in summary.items():
    lines.append(
        f"{ARMS[objective]:<20} {v['early_mean_s_own']:>9.4f} "
        f"{v['early_mean_d_fake_logit']:>14.3f} "
        f"{v['early_mean_g_grad_norm']:>15.4g} "
        f"{v['final_d_fake_logit']:>14.3f} {v['initial_mmd2']:>11.4f} "
        f"{v['final_mmd2']:>9.4f}")
  return "\n".join(lines)


def run_study(config, workdir: str) -> dict:
  """Runs both arms; writes the JSON and the figure to `workdir`.

  Returns:
    {'arms': {objective: records}, 'summary': {...}, 'protocol': {...}}.

  Raises:
    ValueError: an invalid study setting (the message names the field).
  """
  s = config.study
  for field in ("num_steps", "record_every", "probe_size", "quality_every",
                "quality_size", "early_steps"):
    if not isinstance(s[field], int) or s[field] < 1:
      raise ValueError(f"study.{field} must be an integer >= 1; got {s[field]!r}.")
  if s.quality_size < 2:
    raise ValueError("study.quality_size must be >= 2 (MMD² needs two samples "
                     f"per side); got {s.quality_size}.")
  os.makedirs(workdir, exist_ok=True)
  dataset = data_lib.load(config.data)
  ref_batch = next(dataset.eval_batches("test", s.quality_size))[0]
  reference = _model_space(ref_batch)[:s.quality_size]
  median = _median_distance(reference)
  kernel = divergences.rbf_kernel([0.5 * median, median, 2.0 * median])
  results = {}
  for objective in ARMS:
    logging.info("study arm %s ...", objective)
    results[objective] = run_arm(config, objective, dataset, reference, kernel)
  summary = summarise(results, s.early_steps)
  out = {
      "arms": results, "summary": summary,
      "protocol": {
          "dataset": config.data.name, "seed": config.seed,
          "num_steps": s.num_steps, "batch_size": config.train.batch_size,
          "critic_steps": config.model.critic_steps,
          "probe_size": s.probe_size, "early_steps": s.early_steps,
          "quality_proxy": (f"unbiased MMD² (sum of RBF kernels, bandwidths "
                            f"0.5/1/2 x median test distance {median:.4g}) "
                            f"between {s.quality_size} samples and "
                            f"{s.quality_size} test examples in model space"),
          "arms": ARMS},
  }
  study_utils.write_json(out, os.path.join(workdir, JSON_NAME))
  write_figure(results, os.path.join(workdir, FIGURE_NAME))
  return out


if __name__ == "__main__":
  study_utils.main(NAME, run_study, lambda out: format_table(out["summary"]))

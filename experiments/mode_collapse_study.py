r"""Mode collapse on the 8-Gaussian ring: GAN against WGAN-GP over training.

Data: gdm_jax's ring8, p = (1/8) Σ_k N(2 (cos 2πk/8, sin 2πk/8), 0.02² I)
(Metz et al. 2017's mixture-of-Gaussians experiment). Each arm (`arms.<name>`
in the config, a complete gan-family config) is built with
`gdm_jax.models.make` and trained with the family's own `train_step` (the
trainer's step keys fold_in(state.rng, step) and data order
`dataset.train_batch(step, ...)`), `study.record_every` steps per compiled
`lax.scan`. Every arm uses the same generator and discriminator MLPs. At
step 0 and every `record_every` steps, on `eval_samples` samples drawn with
a fixed key per step (`model.sample`), it records (gdm_jax.eval.toy_metrics):

  modes_covered          modes with >= min_count high-quality samples as
                         their nearest (min_count = max(1, ceil(0.01 N/8)));
  high_quality_fraction  samples within `num_std` (3) mode stds of a mode;
  w1                     exact W1 (POT network simplex) between
                         `w1_points` samples and as many test points;
  the data floor is the same W1 between training and test points.

Several model seeds (`study.seeds`; the data set is the same); the table
gives the mean ± std over seeds at the end. The figure: a row of sample
scatters per arm over training (seed 0) and the modes-covered, quality and
W1 curves (mean and range over seeds).

Writes WORKDIR/mode_collapse_study.json (every number, and the scatter
points) and WORKDIR/mode_collapse_study.png, and prints a short table. An
arm already in WORKDIR's JSON with the same arm config and study settings
is reused, not retrained (so an arm can be added to a finished study, or an
interrupted one resumed arm by arm).

Usage:
  python -m experiments.mode_collapse_study \
      --config=experiments/configs/mode_collapse_study.py \
      --workdir=/tmp/mode_collapse

References:
  Metz et al. 2017, "Unrolled Generative Adversarial Networks", ICLR (the
    2-D mixture of 8 Gaussians on a ring, Figure 2).
  Srivastava et al. 2017, "VEEGAN", NeurIPS (modes captured, high-quality
    samples within 3 standard deviations).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (Figure 1 and the toy code's settings: λ = 0.1, Adam(1e-4, β 0.5, 0.9)).
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS (§3, the
    non-saturating generator loss).
"""

import json
import os
import time

import jax
import numpy as np

from experiments import study_utils
from gdm_jax import data as data_lib
from gdm_jax import models
from gdm_jax.eval import toy_metrics


NAME = "mode_collapse_study"
JSON_NAME, FIGURE_NAME = NAME + ".json", NAME + ".png"
LABELS = {"gan": "GAN (non-saturating)", "wgan_gp": "WGAN-GP"}
COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple")


def arm_names(config) -> list[str]:
  """The arms to train: `study.run_arms` (default: every arm in `arms`)."""
  names = config.study.get("run_arms", None)
  return list(config.arms.keys()) if names is None else list(names)


def validate(config) -> None:
  """Raises ValueError naming the field for an invalid study setting."""
  s = config.study
  for field in ("num_steps", "record_every", "eval_samples", "w1_points",
                "scatter_points"):
    if not isinstance(s[field], int) or s[field] < 1:
      raise ValueError(f"study.{field} must be an integer >= 1; got "
                       f"{s[field]!r}.")
  if s.num_steps % s.record_every:
    raise ValueError(f"study.num_steps ({s.num_steps}) must be a multiple of "
                     f"study.record_every ({s.record_every}).")
  bad = [t for t in s.snapshot_steps if t % s.record_every or t > s.num_steps]
  if bad:
    raise ValueError(f"study.snapshot_steps {bad} must be multiples of "
                     f"study.record_every ({s.record_every}) up to "
                     f"study.num_steps ({s.num_steps}).")
  if s.w1_points > s.eval_samples or s.scatter_points > s.eval_samples:
    raise ValueError("study.w1_points and study.scatter_points must be <= "
                     f"study.eval_samples ({s.eval_samples}).")
  if not s.seeds:
    raise ValueError("study.seeds must name at least one seed.")
  arms = arm_names(config)
  if not arms:
    raise ValueError("study.run_arms must name at least one arm.")
  unknown = sorted(set(arms) - set(config.arms.keys()))
  if unknown:
    raise ValueError(f"study.run_arms names {unknown}, which are not in "
                     f"config.arms ({sorted(config.arms.keys())}).")
  first = config.arms[arms[0]]
  for name in arms:
    arm = config.arms[name]
    if arm.data.name != first.data.name:
      raise ValueError(f"arms.{name}.data.name ('{arm.data.name}') differs "
                       f"from arms.{arms[0]}'s ('{first.data.name}').")
    for field in ("generator_hidden", "latent_dim", "activation"):
      if tuple(np.atleast_1d(arm.model[field])) != tuple(
          np.atleast_1d(first.model[field])):
        raise ValueError(f"arms.{name}.model.{field} differs from "
                         f"arms.{arms[0]}'s: the study compares games with the "
                         "same generator.")


def record_metrics(samples: np.ndarray, reference: np.ndarray, info: dict,
                   s) -> dict:
  """Mode coverage, high-quality fraction and exact W1 of one sample set."""
  cov = toy_metrics.modes_covered(samples, info["modes"], info["mode_std"],
                                  num_std=s.num_std)
  w1 = toy_metrics.wasserstein1(samples[:s.w1_points],
                                reference[:s.w1_points], max_points=None)
  return {"modes_covered": cov["modes_covered"],
          "high_quality_fraction": cov["high_quality_fraction"],
          "min_count": cov["min_count"], "w1": w1}


def run_arm(name: str, arm_config, dataset, reference: np.ndarray,
            s) -> dict:
  """Trains one arm for every seed; returns its records.

  Returns:
    {'steps' [R], 'modes_covered' [S, R], 'high_quality_fraction' [S, R],
     'w1' [S, R], 'snapshots': {step: [P, 2] points of seed 0},
     'wall_time_s' [S], 'train_step_compilations', 'protocol'}.
  """
  model = models.make(arm_config, dataset.info)
  batch_size = arm_config.train.batch_size

  run_chunk = jax.jit(lambda state, batches: jax.lax.scan(
      study_utils.train_step(model), state, batches))
  draw = jax.jit(lambda params, rng: model.sample(params, rng, s.eval_samples))
  init = jax.jit(model.init)
  steps = list(range(0, s.num_steps + 1, s.record_every))
  rec = {"steps": steps, "modes_covered": [], "high_quality_fraction": [],
         "w1": [], "final_d_loss": [], "snapshots": {}, "wall_time_s": []}
  for i, seed in enumerate(s.seeds):
    t0 = time.perf_counter()
    root = jax.random.PRNGKey(seed)
    init_rng, sample_rng = jax.random.split(root)
    state = init(init_rng, dataset.train_batch(0, batch_size, seed))
    per_seed = {k: [] for k in ("modes_covered", "high_quality_fraction", "w1")}
    metrics = None
    for step in steps:
      if step > 0:
        batches = np.stack([dataset.train_batch(t, batch_size, seed)["x"]
                            for t in range(step - s.record_every, step)])
        state, metrics = run_chunk(state, {"x": batches})
      x = np.asarray(draw(state.params, jax.random.fold_in(sample_rng, step)))
      m = record_metrics(x, reference, dataset.info, s)
      for k in per_seed:
        per_seed[k].append(m[k])
      if i == 0 and step in tuple(s.snapshot_steps):
        rec["snapshots"][str(step)] = x[:s.scatter_points].tolist()
    for k, v in per_seed.items():
      rec[k].append(v)
    rec["final_d_loss"].append(float(np.mean(metrics["d_loss"])))
    rec["wall_time_s"].append(time.perf_counter() - t0)
    print(f"  {name} seed {seed}: modes {per_seed['modes_covered'][-1]}/"
          f"{len(dataset.info['modes'])}, high-quality "
          f"{per_seed['high_quality_fraction'][-1]:.3f}, W1 "
          f"{per_seed['w1'][-1]:.3f} ({rec['wall_time_s'][-1]:.0f} s)",
          flush=True)
  rec["min_count"] = m["min_count"]
  rec["train_step_compilations"] = run_chunk._cache_size()  # pylint: disable=protected-access
  rec["protocol"] = model.protocol()
  rec["config"] = {"model": arm_config.model.to_dict(),
                   "optimizer": arm_config.optimizer.to_dict(),
                   "batch_size": batch_size}
  return rec


def _arm_record_key(arm_config, s) -> str:
  """What a saved arm must match to be reused: its config and the study's
  recording settings."""
  study = {k: s[k] for k in ("num_steps", "record_every", "eval_samples",
                             "w1_points", "scatter_points", "num_std")}
  study["seeds"] = list(s.seeds)
  study["snapshot_steps"] = list(s.snapshot_steps)
  return json.dumps({"arm": arm_config.to_dict(), "study": study},
                    sort_keys=True, default=str)


def _saved_arms(path: str) -> dict:
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f).get("arms", {})


def summarise(results: dict, num_modes: int) -> dict:
  """Per arm: final metrics, mean ± std over seeds; first step at all modes."""
  out = {}
  for name, r in results.items():
    mc = np.asarray(r["modes_covered"], np.float64)          # [S, R]
    first_all = [int(np.asarray(r["steps"])[row >= num_modes][0])
                 if np.any(row >= num_modes) else None for row in mc]
    out[name] = {"seeds": len(mc)}
    for k in ("modes_covered", "high_quality_fraction", "w1"):
      final = np.asarray(r[k], np.float64)[:, -1]
      out[name][f"final_{k}_mean"] = float(final.mean())
      out[name][f"final_{k}_std"] = float(final.std())
      out[name][f"final_{k}"] = final.tolist()
    out[name]["first_step_all_modes"] = first_all
  return out


def run(config, workdir: str) -> dict:
  """Trains every arm for every seed; writes the JSON and the figure.

  Returns:
    {'arms': {name: records (see `run_arm`)}, 'summary', 'protocol'}.

  Raises:
    ValueError: an invalid study setting (the message names the field).
  """
  validate(config)
  s = config.study
  os.makedirs(workdir, exist_ok=True)
  first = config.arms[arm_names(config)[0]]
  dataset = data_lib.load(first.data)
  if dataset.info.get("modes") is None:
    raise ValueError(f"data set '{first.data.name}' has no modes to cover.")
  reference = np.asarray(dataset.splits["test"]["x"])
  if len(reference) < s.w1_points:
    raise ValueError(f"study.w1_points ({s.w1_points}) exceeds the test split "
                     f"({len(reference)} points).")
  train_points = np.asarray(dataset.splits["train"]["x"][:s.w1_points])
  floor = toy_metrics.wasserstein1(train_points, reference[:s.w1_points],
                                   max_points=None)
  json_path = os.path.join(workdir, JSON_NAME)
  saved = _saved_arms(json_path)
  results = {}
  for name in arm_names(config):
    key = _arm_record_key(config.arms[name], s)
    if saved.get(name, {}).get("record_key") == key:
      print(f"arm {name}: reusing the records in {json_path}", flush=True)
      results[name] = saved[name]
      continue
    print(f"arm {name} ...", flush=True)
    results[name] = run_arm(name, config.arms[name], dataset, reference, s)
    results[name]["record_key"] = key
  num_modes = len(dataset.info["modes"])
  out = {
      "arms": results, "summary": summarise(results, num_modes),
      "protocol": {
          "data": dataset.info.get("description", first.data.name),
          "modes": np.asarray(dataset.info["modes"]).tolist(),
          "mode_std": dataset.info["mode_std"], "num_std": s.num_std,
          "seeds": list(s.seeds), "num_steps": s.num_steps,
          "record_every": s.record_every, "eval_samples": s.eval_samples,
          "w1": f"exact (POT emd2) between {s.w1_points} samples and "
                f"{s.w1_points} test points",
          "w1_data_floor": floor,
          "sample_keys": "fold_in(split(PRNGKey(seed))[1], step)"},
  }
  study_utils.write_json(out, json_path, indent=None)
  write_figure(out, os.path.join(workdir, FIGURE_NAME))
  return out


def write_figure(out: dict, path: str) -> None:
  """Scatter rows per arm over training (seed 0) + the metric curves."""
  plt = study_utils.pyplot()
  arms = out["arms"]
  modes = np.asarray(out["protocol"]["modes"])
  dim = modes.shape[1]
  mode_xy = modes if dim == 2 else np.concatenate(
      [modes[:, :1], np.zeros((len(modes), 1))], axis=1)
  lim = float(np.max(np.abs(modes))) * 1.5
  snaps = sorted({int(t) for r in arms.values() for t in r["snapshots"]})
  ncol = max(len(snaps), 3)
  fig = plt.figure(figsize=(2.6 * ncol, 2.6 * (len(arms) + 1.2)))
  gs = fig.add_gridspec(len(arms) + 1, ncol * 2,
                        height_ratios=[1] * len(arms) + [1.2])
  for i, (name, r) in enumerate(arms.items()):
    for j, t in enumerate(snaps):
      ax = fig.add_subplot(gs[i, 2 * j:2 * j + 2])
      x = np.asarray(r["snapshots"].get(str(t), np.zeros((0, dim))))
      if dim == 1:   # 1-D data: points at a random height (a strip plot)
        x = np.concatenate([x, np.random.default_rng(0).uniform(
            -lim / 2, lim / 2, (len(x), 1))], axis=1)
      ax.scatter(mode_xy[:, 0], mode_xy[:, 1], s=40, marker="x", c="k", lw=1)
      if len(x):
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, c=COLORS[i % len(COLORS)])
      ax.set_xlim(-lim, lim)
      ax.set_ylim(-lim, lim)
      ax.set_aspect("equal")
      ax.set_xticks([])
      ax.set_yticks([])
      k = r["steps"].index(t)
      ax.set_title(f"step {t}: {r['modes_covered'][0][k]}/{len(modes)} modes",
                   fontsize=8)
      if j == 0:
        ax.set_ylabel(LABELS.get(name, name), fontsize=9)
  width = (2 * ncol) // 3
  panels = (("modes_covered", "modes covered (mean, range over seeds)"),
            ("high_quality_fraction", "high-quality fraction"),
            ("w1", "exact W1 to test points"))
  for p, (key, title) in enumerate(panels):
    ax = fig.add_subplot(gs[len(arms), p * width:(p + 1) * width])
    for i, (name, r) in enumerate(arms.items()):
      v = np.asarray(r[key], np.float64)
      c = COLORS[i % len(COLORS)]
      ax.plot(r["steps"], v.mean(0), color=c, label=LABELS.get(name, name))
      ax.fill_between(r["steps"], v.min(0), v.max(0), color=c, alpha=0.2)
    if key == "w1":
      ax.axhline(out["protocol"]["w1_data_floor"], color="gray", ls=":",
                 label="data floor")
      ax.set_yscale("log")
    if key == "modes_covered":
      ax.set_ylim(-0.3, len(modes) + 0.3)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generator step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  study_utils.save_figure(fig, path, dpi=70)


def format_table(out: dict) -> str:
  num_modes = len(out["protocol"]["modes"])
  head = (f"{'arm':<22} {'modes covered':>14} {'high-quality':>14} "
          f"{'W1':>14} {'all modes at step':>20}")
  lines = [head, "-" * len(head)]
  for name, v in out["summary"].items():
    lines.append(
        f"{LABELS.get(name, name):<22} "
        f"{v['final_modes_covered_mean']:>6.2f} ± {v['final_modes_covered_std']:<4.2f}/{num_modes} "
        f"{v['final_high_quality_fraction_mean']:>7.3f} ± {v['final_high_quality_fraction_std']:<5.3f}"
        f"{v['final_w1_mean']:>7.3f} ± {v['final_w1_std']:<5.3f} "
        f"{str(v['first_step_all_modes']):>20}")
  lines.append(f"W1 data floor: {out['protocol']['w1_data_floor']:.3f}")
  return "\n".join(lines)


if __name__ == "__main__":
  study_utils.main(NAME, run, format_table)

r"""Train-step throughput of every model family against PyTorch (CPU).

  python -m benchmarks.suite [--models mlp_vae,conv_vae,dcgan,wgan_gp,realnvp,pixelcnn]
      [--rounds 5] [--steps N] [--json out.json] [--variant VARIANT]

For each benchmark (`BENCHMARKS`): the steps/s of exactly the trainer's
jitted step for `gdm_jax.models.make(config, info)` with the model's default
experiment config as it is, the steps/s of a PyTorch-CPU eager
implementation of the same architecture, batch, loss and optimizer
(benchmarks/torch_*.py), their ratio from interleaved blocks, and the
achieved GFLOP/s against numpy's SGEMM (see benchmarks/harness.py for how
each figure is taken). A benchmark whose model or config is not in the tree
is listed as missing; one without a PyTorch implementation is timed alone.
The tests time it on smoke sizes by replacing `load_config` with
tests/helpers.py's `smoke_config`.

Like `python -m experiments.train`, the suite sets
--xla_cpu_copy_insertion_use_region_analysis=true in XLA_FLAGS before jax is
imported (unless XLA_FLAGS already mentions it), so the step compiled here is
the trainer's.
"""

import argparse
import importlib
import json
import os
import sys
from typing import NamedTuple

_XLA_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"
if "xla_cpu_copy_insertion_use_region_analysis" not in os.environ.get(
    "XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (f"{os.environ.get('XLA_FLAGS', '')} "
                             f"{_XLA_FLAG}").strip()

from benchmarks import harness  # pylint: disable=g-import-not-at-top

FASHION_MNIST = {"name": "fashion_mnist", "kind": "image", "shape": (28, 28, 1),
                 "num_classes": 10}


class Benchmark(NamedTuple):
  """One row of the suite.

  Attributes:
    config: 'module:variant' under experiments/configs (e.g. 'vae:conv').
    torch_module: the PyTorch implementation (a module with `TorchStep`).
    model_file: the model family's source, which must exist.
    description: what the row is, for the table's legend.
    model_overrides: config.model fields set after loading any variant
      (keeps e.g. the conv VAE a conv VAE under another --variant).
  """
  config: str
  torch_module: str | None
  model_file: str
  description: str
  model_overrides: dict | None = None


BENCHMARKS = {
    "mlp_vae": Benchmark("vae:default", "benchmarks.torch_vae",
                         "gdm_jax/models/vae.py",
                         "MLP VAE 784-512-512-z32, Bernoulli, batch 128"),
    "conv_vae": Benchmark("vae:conv", "benchmarks.torch_vae",
                          "gdm_jax/models/vae.py",
                          "conv VAE 16-32/256 (sub-pixel decoder), batch 128",
                          {"architecture": "conv"}),
    "dcgan": Benchmark("dcgan:default", "benchmarks.torch_gan",
                       "gdm_jax/models/gan.py",
                       "DCGAN G 64-32 / D 32-64 (BN), k=1, batch 64"),
    "wgan_gp": Benchmark("wgan_gp:default", "benchmarks.torch_gan",
                         "gdm_jax/models/gan.py",
                         "WGAN-GP conv critic 32-64 (layer norm), n_critic 5, "
                         "batch 5x64"),
    "realnvp": Benchmark("realnvp:default", "benchmarks.torch_flow",
                         "gdm_jax/models/flow.py", "RealNVP, batch 64"),
    "pixelcnn": Benchmark("pixelcnn:default", "benchmarks.torch_pixelcnn",
                          "gdm_jax/models/pixelcnn.py", "PixelCNN"),
}
DEFAULT_MODELS = tuple(BENCHMARKS)
# Old names of benchmarks.vae_throughput.
ALIASES = {"mlp": "mlp_vae", "conv": "conv_vae"}
# --extra rows: (label, benchmark, batch size): how efficiency scales.
EXTRA_ROWS = (("mlp_vae B=512 (extra)", "mlp_vae", 512),
              ("mlp_vae B=2048 (extra)", "mlp_vae", 2048))
# --proposed rows: the step with every flax conv rerouted through a
# benchmarks/fast_layers.py plan (same parameters, same function): the
# changes benchmarks/README.md proposes, measured, next to the step as it is.
PROPOSED = {"dcgan": "strided_im2col", "wgan_gp": "strided_im2col"}


def load_config(spec: str, variant: str | None = None):
  """experiments/configs/<module>.py's get_config(variant) for 'module:variant'
  (`variant`, if given, replaces the spec's)."""
  module, _, default_variant = spec.partition(":")
  mod = importlib.import_module(f"experiments.configs.{module}")
  return mod.get_config(variant or default_variant or "default")


def availability(name: str, variant: str | None = None):
  """(config, None) for a runnable benchmark, or (None, reason) when its
  model file, config file or variant is missing."""
  bench = BENCHMARKS[name]
  if not os.path.exists(os.path.join(harness.REPO, bench.model_file)):
    return None, f"{bench.model_file} not in the tree"
  module = bench.config.partition(":")[0]
  if not os.path.exists(os.path.join(harness.REPO, "experiments", "configs",
                                     f"{module}.py")):
    return None, f"experiments/configs/{module}.py not in the tree"
  try:
    config = load_config(bench.config, variant)
  except (ImportError, ValueError) as e:
    return None, f"{bench.config}: {type(e).__name__}: {e}"
  for field, value in (bench.model_overrides or {}).items():
    config.model[field] = value
  return config, None


def torch_module_available(name: str) -> bool:
  mod = BENCHMARKS[name].torch_module
  if not mod:
    return False
  path = os.path.join(harness.REPO, *mod.split(".")) + ".py"
  return os.path.exists(path)


def parse_models(text: str) -> list[str]:
  models = []
  for m in text.split(","):
    m = ALIASES.get(m.strip(), m.strip())
    if not m:
      continue
    if m not in BENCHMARKS:
      raise SystemExit(f"unknown model '{m}'; choose from {list(BENCHMARKS)}")
    models.append(m)
  return models


def parse_device_counts(text: str) -> list[int]:
  """'1,2' -> [1, 2]; raises SystemExit on anything but positive integers."""
  try:
    counts = [int(c) for c in text.split(",") if c.strip()]
  except ValueError:
    counts = []
  if not counts or min(counts) < 1:
    raise SystemExit(f"--cpu-devices must be positive integers separated by "
                     f"commas (e.g. '1,2'); got '{text}'")
  return counts


def parse_args(argv=None, prog="python -m benchmarks.suite",
               default_models=DEFAULT_MODELS):
  p = argparse.ArgumentParser(
      prog=prog, description="Train-step throughput of each model family "
      "against a PyTorch (CPU) implementation of the same step.")
  p.add_argument("--models", default=",".join(default_models),
                 help="comma-separated subset of " + ",".join(BENCHMARKS))
  p.add_argument("--steps", type=int, default=None,
                 help="steps per timed block for every implementation "
                 "(default: calibrated so a block lasts --block-seconds)")
  p.add_argument("--block-seconds", type=float, default=1.5,
                 help="target length of a timed block when --steps is not "
                 "given")
  p.add_argument("--rounds", type=int, default=5,
                 help="alternating timed blocks per implementation")
  p.add_argument("--warmup", type=int, default=3,
                 help="untimed steps after compilation")
  p.add_argument("--variant", "--config", dest="variant", default=None,
                 help="use this variant of every benchmark's config file "
                 "instead of its default")
  p.add_argument("--torch-threads", type=int, default=None,
                 help="torch.set_num_threads value (default: os.cpu_count())")
  p.add_argument("--omp-wait-policies", default="unset,PASSIVE",
                 help="comma-separated OMP_WAIT_POLICY values, one PyTorch "
                 "worker process each (unset = libgomp's default); the "
                 "fastest is reported. Spin-waiting (unset/ACTIVE) is "
                 "fastest on idle cores but ran 5-10x slower than PASSIVE "
                 "when other processes loaded the 2 cores")
  p.add_argument("--no-torch", action="store_true",
                 help="time our step only")
  p.add_argument("--extra", action="store_true",
                 help="also run the clearly labelled larger-batch MLP VAE "
                 "rows")
  p.add_argument("--proposed", action="store_true",
                 help="also time our step with the proposed convolution "
                 "formulations (PROPOSED; labelled rows)")
  p.add_argument("--cpu-devices", default="1",
                 help="comma-separated CPU device counts: one row of ours per "
                 "count, the trainer's step on a Mesh of that many host "
                 "devices with the batch split over them (python -m "
                 "experiments.train --cpu_devices=N), e.g. '1,2'")
  p.add_argument("--sgemm-n", type=int, default=2048,
                 help="size of the numpy float32 reference matmul")
  p.add_argument("--json", default=None, help="write all figures here")
  return p.parse_args(argv)


def run(args, argv=None, prog="python -m benchmarks.suite") -> dict:
  load_start = os.getloadavg()
  models = parse_models(args.models)
  with_torch = not args.no_torch and harness.torch_available()
  if not args.no_torch and not with_torch:
    print("torch is not installed (pip install -e .[benchmark]); timing "
          "our steps only.", file=sys.stderr)
  threads = args.torch_threads or os.cpu_count()
  policies = tuple(p.strip() for p in args.omp_wait_policies.split(",")
                   if p.strip()) if with_torch else ()
  for p in policies:
    if p not in harness.OMP_POLICIES:
      raise SystemExit(f"unknown OMP_WAIT_POLICY '{p}'; choose from "
                       f"{harness.OMP_POLICIES}")
  with_torch = with_torch and bool(policies)
  if with_torch:
    how = "--torch-threads" if args.torch_threads else "os.cpu_count()"
    print(f"PyTorch threads: torch.set_num_threads({how}) = {threads}; "
          f"OMP_WAIT_POLICY variants: {policies}", file=sys.stderr)

  device_counts = parse_device_counts(args.cpu_devices)
  if max(device_counts) > 1:
    # Before any JAX computation: the CPU backend reads it when it starts.
    from gdm_jax.train import distributed  # pylint: disable=g-import-not-at-top
    try:
      distributed.set_cpu_devices(max(device_counts))
    except ValueError:
      import jax  # pylint: disable=g-import-not-at-top
      if len(jax.devices()) < max(device_counts):   # JAX started with fewer
        raise
  sgemm_before = harness.sgemm_gflops(args.sgemm_n)
  plan = []
  for m in models:
    for k in device_counts:
      suffix = "" if k == 1 else f" ({k} CPU devices)"
      plan.append((m + suffix, m, None, None, k))
      if args.proposed and m in PROPOSED:
        plan.append((f"{m} + {PROPOSED[m]} (proposed){suffix}", m, None,
                     PROPOSED[m], k))
  if args.extra:
    plan += [e + (None, 1) for e in EXTRA_ROWS if e[1] in models]
  rows = []
  for label, name, batch_size, conv_plan, num_devices in plan:
    config, reason = availability(name, args.variant)
    if config is None:
      print(f"[{label}] missing: {reason}", file=sys.stderr)
      rows.append(harness.missing_row(label, reason))
      continue
    if (batch_size or config.train.batch_size) % num_devices:
      reason = (f"skipped: batch {batch_size or config.train.batch_size} does not "
                f"divide over {num_devices} devices")
      print(f"[{label}] {reason}", file=sys.stderr)
      rows.append(harness.missing_row(label, reason))
      continue
    torch_module = (BENCHMARKS[name].torch_module
                    if with_torch and torch_module_available(name) else None)
    rows.append(harness.benchmark_row(
        label, config, FASHION_MNIST, torch_module, steps=args.steps,
        block_seconds=args.block_seconds, rounds=args.rounds,
        warmup=args.warmup, torch_policies=policies, batch_size=batch_size,
        torch_threads=threads, conv_plan=conv_plan, num_devices=num_devices,
        description=BENCHMARKS[name].description if not args.variant else
        f"{BENCHMARKS[name].config.partition(':')[0]}:{args.variant}"))
  sgemm_after = harness.sgemm_gflops(args.sgemm_n)
  sgemm = max(sgemm_before, sgemm_after)
  sgemm_cpu = harness.sgemm_gflops_per_cpu_second(args.sgemm_n)
  for r in rows:
    if "missing" in r:
      continue
    r["ours_pct_sgemm"] = 100 * r["ours_gflops"] / sgemm
    r["ours_pct_sgemm_per_cpu_s"] = 100 * r["ours_gflops_per_cpu_s"] / sgemm_cpu
    if "torch_gflops" in r:
      r["torch_pct_sgemm"] = 100 * r["torch_gflops"] / sgemm
      r["torch_pct_sgemm_per_cpu_s"] = (100 * r["torch_gflops_per_cpu_s"]
                                        / sgemm_cpu)
  env = harness.environment(with_torch)
  if with_torch:
    env["torch_threads"] = threads
    env["omp_wait_policies"] = list(policies)
  env["loadavg_at_start"] = load_start
  env["loadavg_at_end"] = os.getloadavg()
  args_used = sys.argv[1:] if argv is None else list(argv)
  return {"command": " ".join([prog] + args_used), "environment": env,
          "sgemm_gflops": sgemm, "sgemm_gflops_before": sgemm_before,
          "sgemm_gflops_after": sgemm_after,
          "sgemm_gflops_per_cpu_s": sgemm_cpu, "rows": rows}


def report(result: dict, sgemm_n: int) -> str:
  """The printed report: environment line, SGEMM, legend and both tables."""
  env = result["environment"]
  lines = [
      f"jax {env['jax']} ({env['jax_backend']}), "
      + (f"torch {env['torch']} ({env['torch_threads']} threads, "
         f"OMP_WAIT_POLICY in {env['omp_wait_policies']}, best shown), "
         if "torch" in env else "")
      + f"{env['cpu_count']} CPUs ({env['cpus_usable']} usable), load avg "
      f"{env['loadavg_at_start'][0]:.1f} -> {env['loadavg_at_end'][0]:.1f}",
      f"SGEMM (numpy {sgemm_n}^2 float32, best of 8): "
      f"{result['sgemm_gflops']:.1f} GFLOP/s (before "
      f"{result['sgemm_gflops_before']:.1f}, after "
      f"{result['sgemm_gflops_after']:.1f}); "
      f"{result['sgemm_gflops_per_cpu_s']:.1f} GFLOP per CPU-second"]
  for r in result["rows"]:
    if "missing" not in r:
      lines.append(f"{r['model']}: {r['architecture']} (batch "
                   f"{r['batch_size']})")
  lines.append(harness.format_table(result["rows"], result["sgemm_gflops"]))
  lines.append("CPU-time view (CPU-seconds of each process per step):")
  lines.append(harness.format_cpu_table(result["rows"],
                                        result["sgemm_gflops_per_cpu_s"]))
  return "\n".join(lines)


def main(argv=None, prog="python -m benchmarks.suite",
         default_models=DEFAULT_MODELS):
  args = parse_args(argv, prog, default_models)
  result = run(args, argv, prog)
  print(report(result, args.sgemm_n))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == "__main__":
  main()

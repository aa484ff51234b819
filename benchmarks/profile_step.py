r"""Where the time of our train steps goes, and what faster formulations give.

  python -m benchmarks.profile_step [--models conv_vae,dcgan,...] [--ops]
      [--plans none,s2d,thin_im2col,im2col] [--rounds 5] [--json out.json]

--ops: the census of the step's convolutions and matmuls. The step's jaxpr
  (forward, backward and optimizer, inside scans counted once per
  iteration) is walked for `conv_general_dilated` and `dot_general`
  equations; each distinct (shapes, parameters) is compiled and timed alone
  (best of --repeats blocks, wall time), and multiplied by how often the
  step runs it. The sum against the step's own time says how much of the
  step the contractions take; the rest is elementwise work, copies,
  transposes and the optimizer.
--trace N: N steps under jax.profiler.trace with XLA:CPU's per-thunk
  trace events; the time of every HLO op (summed over the worker threads)
  by category (XLA/Eigen convolutions, YNNPACK fusions, elementwise
  fusions, copies) and the top ops with the jax operation they come from.
--layers: every flax conv layer of the step (recorded while tracing), its
  forward and backward timed alone under each formulation; the winners
  (>= 1.1x) form the plan 'best', compared on the whole step.
--plans: the whole step with every flax `nn.Conv` rerouted through a
  formulation of benchmarks/fast_layers.py (same parameters, same
  function), timed in interleaved blocks against the step as it is:
  'none' (as is), 's2d' (strided convs as stride-1 convs on space-to-depth
  inputs), 'thin_im2col' (s2d + one GEMM on explicit patches for convs with
  <= 16 input or output channels), 'im2col' (every conv as a GEMM).
"""

import argparse
import collections
import json
import math
import os
import re
import statistics
import sys
import time

if "--trace" in sys.argv:   # per-thunk trace events need this before jax
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                             + " --xla_cpu_enable_xprof_traceme=true").strip()

from benchmarks import suite  # sets the trainer's XLA flag before jax
from benchmarks import harness

import jax  # pylint: disable=g-import-not-at-top,g-bad-import-order
import jax.numpy as jnp
import numpy as np

from benchmarks import fast_layers

def time_fn(fn, args, repeats=5, min_block_s=0.2) -> float:
  """Best-of-`repeats` seconds per call of jitted fn(*args)."""
  jax.block_until_ready(fn(*args))
  n, t = 1, 0.0
  while True:   # calibrate the block length
    t0 = time.perf_counter()
    for _ in range(n):
      out = fn(*args)
    jax.block_until_ready(out)
    t = time.perf_counter() - t0
    if t > min_block_s or n >= 1000:
      break
    n *= 2
  best = t / n
  for _ in range(repeats - 1):
    t0 = time.perf_counter()
    for _ in range(n):
      out = fn(*args)
    jax.block_until_ready(out)
    best = min(best, (time.perf_counter() - t0) / n)
  return best


def op_census(name: str, variant=None, repeats=5) -> dict:
  """Times every distinct conv/dot of benchmark `name`'s step alone."""
  config, reason = suite.availability(name, variant)
  if config is None:
    return {"model": name, "missing": reason}
  batch = harness.synthetic_batch(suite.FASHION_MNIST, config.train.batch_size)
  bench = harness.JaxBench(config, suite.FASHION_MNIST, batch)
  # The step donates its state: time it in harness blocks.
  bench.run(2)
  n = max(2, int(1.0 / max(bench.timed(2)[0] / 2, 1e-4)))
  step_s = min(bench.timed(n)[0] / n for _ in range(repeats))
  fn = lambda s, b: bench.model.train_step(s, b, jax.random.fold_in(s.rng,
                                                                    s.step))
  jaxpr = jax.make_jaxpr(fn)(bench.state, bench.batch).jaxpr
  census = harness.contraction_census(jaxpr)
  rows = []
  rng = np.random.default_rng(0)
  for (prim, shapes, _), (count, eqn) in census.items():
    args = [jnp.asarray(rng.standard_normal(s).astype(np.float32))
            for s in shapes]
    op = jax.jit(lambda *a, e=eqn: e.primitive.bind(*a, **e.params))
    sec = time_fn(op, args, repeats)
    flops = harness.contraction_flops_of(eqn)
    rows.append({"op": prim, "shapes": [list(s) for s in shapes],
                 "out": list(eqn.outvars[0].aval.shape),
                 "params": _describe(eqn), "count": count,
                 "ms": 1e3 * sec, "ms_total": 1e3 * sec * count,
                 "gflops": flops / sec / 1e9, "flops": flops})
  rows.sort(key=lambda r: -r["ms_total"])
  conv_ms = sum(r["ms_total"] for r in rows if r["op"] != "dot_general")
  dot_ms = sum(r["ms_total"] for r in rows if r["op"] == "dot_general")
  return {"model": name, "step_ms": 1e3 * step_s, "conv_ms": conv_ms,
          "dot_ms": dot_ms, "ops": rows}


def _describe(eqn) -> str:
  if eqn.primitive.name == "dot_general":
    return f"dims={eqn.params['dimension_numbers']}"
  p = eqn.params
  return (f"strides={p['window_strides']} pad={p['padding']} "
          f"lhs_dil={p['lhs_dilation']} rhs_dil={p['rhs_dilation']} "
          f"dn={p['dimension_numbers'].lhs_spec}/"
          f"{p['dimension_numbers'].rhs_spec}/{p['dimension_numbers'].out_spec}"
          + (f" bgc={p['batch_group_count']}" if p['batch_group_count'] > 1
             else ""))


def format_census(c: dict, top: int = 12) -> str:
  if "missing" in c:
    return f"{c['model']}: missing ({c['missing']})"
  lines = [f"{c['model']}: step {c['step_ms']:.1f} ms; convolutions "
           f"{c['conv_ms']:.1f} ms ({100 * c['conv_ms'] / c['step_ms']:.0f}%),"
           f" matmuls {c['dot_ms']:.1f} ms "
           f"({100 * c['dot_ms'] / c['step_ms']:.0f}%) when timed alone"]
  table = []
  for r in c["ops"][:top]:
    table.append((r["op"].replace("conv_general_dilated", "conv"),
                  " x ".join("x".join(map(str, s)) for s in r["shapes"]),
                  "x".join(map(str, r["out"])), r["params"], str(r["count"]),
                  f"{r['ms']:.2f}", f"{r['ms_total']:.1f}",
                  f"{r['gflops']:.0f}"))
  lines.append(harness.markdown_table(
      ("op", "operands", "result", "params", "per step", "ms each",
       "ms/step", "GFLOP/s"), table))
  return "\n".join(lines)


def conv_layers(name: str, variant=None) -> list:
  """The flax conv layers of benchmark `name`'s step: [(x_shape, w_shape,
  strides, padding)] in call order, recorded while tracing the step."""
  config, reason = suite.availability(name, variant)
  if config is None:
    return []
  seen = []

  def record(x_shape, w_shape, strides):
    seen.append((x_shape, w_shape, strides))
    return "xla"

  conv = fast_layers.make_conv_general_dilated(record)
  batch = harness.synthetic_batch(suite.FASHION_MNIST, config.train.batch_size)
  from gdm_jax import models
  model = models.make(config, suite.FASHION_MNIST)
  jb = {k: jnp.asarray(v) for k, v in batch.items()}
  with fast_layers.patched_flax_conv(conv):
    state = jax.eval_shape(model.init, jax.random.PRNGKey(0), jb)
    seen.clear()
    jax.eval_shape(lambda s, b: model.train_step(s, b, jax.random.fold_in(
        s.rng, s.step)), state, jb)
  return list(dict.fromkeys(seen)), tuple(batch["image"].shape)


def layer_comparison(name: str, variant=None, repeats=5,
                     padding_of=None) -> dict:
  """Forward + backward time of each conv layer of the step under every
  formulation (XLA's, space-to-depth if strided, im2col, shifted matmuls):
  jit(grad of Σ conv(x, w) ⊙ g) w.r.t. w, and x unless x is the data."""
  found = conv_layers(name, variant)
  if not found:
    return {"model": name, "layers": []}
  layers, data_shape = found
  rng = np.random.default_rng(0)
  rows = []
  for x_shape, w_shape, strides in layers:
    k = w_shape[:2]
    # Flax calls convs with 'SAME' or explicit pads: recover them from the
    # output size used by the model (SAME for the square kernels here,
    # explicit one-sided pads for PixelCNN's cropped kernels).
    padding = "SAME"
    if k[0] != k[1]:
      padding = ((k[0] - 1, 0), (k[1] // 2, k[1] // 2)) if k[1] > 1 else (
          (0, 0), (0, 0))
      if k[0] == 1:
        padding = ((0, 0), (k[1] - 1, 0))
    x = jnp.asarray(rng.standard_normal(x_shape).astype(np.float32))
    w = jnp.asarray(rng.standard_normal(w_shape).astype(np.float32))
    ref = jax.eval_shape(lambda a, b: jax.lax.conv_general_dilated(
        a, b, strides, padding, dimension_numbers=fast_layers.NHWC), x, w)
    g = jnp.asarray(rng.standard_normal(ref.shape).astype(np.float32))
    wrt = (1,) if tuple(x_shape) == data_shape else (0, 1)
    forms = {"xla": lambda a, b: jax.lax.conv_general_dilated(
        a, b, strides, padding, dimension_numbers=fast_layers.NHWC)}
    for fname, f in fast_layers.FORMULATIONS.items():
      if fname == "s2d" and fast_layers.strided_to_s2d(
          x_shape, w_shape, strides) != "s2d":
        continue
      forms[fname] = (lambda a, b, f=f: f(a, b, strides, padding))
    times = {}
    for fname, f in forms.items():
      fb = jax.jit(jax.grad(lambda a, b, f=f: jnp.sum(f(a, b) * g), wrt))
      times[fname] = 1e3 * time_fn(fb, [x, w], repeats)
    best = min(times, key=times.get)
    rows.append({"x": list(x_shape), "w": list(w_shape),
                 "strides": list(strides), "padding": str(padding),
                 "grad_wrt": "w" if wrt == (1,) else "x,w", "ms": times,
                 "best": best, "speedup": times["xla"] / times[best]})
  return {"model": name, "layers": rows}


def format_layers(c: dict) -> str:
  table = []
  for r in c["layers"]:
    table.append(("x".join(map(str, r["x"])), "x".join(map(str, r["w"])),
                  str(tuple(r["strides"])), r["grad_wrt"],
                  " ".join(f"{k} {v:.1f}" for k, v in r["ms"].items()),
                  r["best"], f"{r['speedup']:.2f}x"))
  return f"{c['model']}: forward + backward per conv layer (ms)\n" + (
      harness.markdown_table(("x", "w", "strides", "grad", "ms by "
                              "formulation", "best", "best vs xla"), table))


def best_plan(layer_result: dict, min_speedup: float = 1.1):
  """fast_layers.table_plan of the formulations that beat XLA's by
  `min_speedup` in `layer_comparison`."""
  choices = {}
  for r in layer_result["layers"]:
    if r["best"] != "xla" and r["speedup"] >= min_speedup:
      choices[(tuple(r["x"]), tuple(r["w"]), tuple(r["strides"]))] = r["best"]
  return fast_layers.table_plan(choices), choices


def _hlo_op_names(hlo: str) -> dict:
  """{HLO instruction name: (op kind, jax op_name metadata)}."""
  out = {}
  pat = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = \S+ ([\w\-]+)\(", re.M)
  for line in hlo.splitlines():
    m = pat.match(line)
    if m:
      src = re.search(r'op_name="([^"]*)"', line)
      out[m.group(1)] = (m.group(2), src.group(1) if src else "")
  return out


def trace_profile(name: str, steps: int = 10, variant=None, plan=None,
                  top: int = 15) -> dict:
  """Per-HLO-op time of `steps` steps from a jax.profiler trace (XLA:CPU's
  thunk events, --xla_cpu_enable_xprof_traceme): ms per step summed over
  the worker threads, grouped by op and by category. Needs the XPlane
  protobuf of tensorflow (tensorflow-cpu) to read the trace."""
  import glob
  import tempfile
  from tensorflow.tsl.profiler.protobuf import xplane_pb2
  config, reason = suite.availability(name, variant)
  if config is None:
    return {"model": name, "missing": reason}
  batch = harness.synthetic_batch(suite.FASHION_MNIST, config.train.batch_size)
  if plan:
    conv = fast_layers.make_conv_general_dilated(fast_layers.PLANS[plan])
    with fast_layers.patched_flax_conv(conv):
      bench = harness.JaxBench(config, suite.FASHION_MNIST, batch)
      bench.run(3)
  else:
    bench = harness.JaxBench(config, suite.FASHION_MNIST, batch)
    bench.run(3)
  names = _hlo_op_names(bench.hlo)
  logdir = tempfile.mkdtemp(prefix=f"trace_{name}_")
  t0 = time.perf_counter()
  with jax.profiler.trace(logdir):
    bench.run(steps)
  wall = (time.perf_counter() - t0) / steps
  path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1]
  space = xplane_pb2.XSpace()
  with open(path, "rb") as f:
    space.ParseFromString(f.read())
  per_op = collections.Counter()
  for plane in space.planes:
    meta = {k: v.name for k, v in plane.event_metadata.items()}
    for line in plane.lines:
      if "XLAEigen" not in line.name:
        continue
      for ev in line.events:
        op = meta.get(ev.metadata_id, "?")
        if op in names:
          per_op[op] += ev.duration_ps / 1e9 / steps
  def category(op):
    kind, _ = names[op]
    if kind == "convolution":
      return "convolution (XLA/Eigen)"
    if op.startswith("ynn_fusion") or op.startswith("xnn_fusion"):
      return "YNNPACK fusion (dots, convs)"
    if kind in ("copy", "transpose") or "copy" in op or "transpose" in op:
      return "copies / transposes"
    if kind == "fusion":
      return "elementwise / reduction fusions"
    return kind
  cats = collections.Counter()
  for op, ms in per_op.items():
    cats[category(op)] += ms
  total = sum(per_op.values())
  return {"model": name, "plan": plan or "none", "steps": steps,
          "wall_ms_per_step": 1e3 * wall, "thread_ms_per_step": total,
          "categories": dict(cats.most_common()),
          "top": [{"op": op, "kind": names[op][0], "source": names[op][1],
                   "ms_per_step": ms} for op, ms in per_op.most_common(top)]}


def format_trace(t: dict) -> str:
  if "missing" in t:
    return f"{t['model']}: missing ({t['missing']})"
  total = t["thread_ms_per_step"]
  lines = [f"{t['model']} (plan {t['plan']}): {t['wall_ms_per_step']:.1f} ms"
           f" wall per step, {total:.1f} thread-ms in XLA ops: " + ", ".join(
               f"{k} {100 * v / total:.0f}%" for k, v in t["categories"].items())]
  rows = [(r["op"], r["kind"], "/".join(r["source"].split("/")[-3:]),
           f"{r['ms_per_step']:.1f}",
           f"{100 * r['ms_per_step'] / total:.0f}%") for r in t["top"]]
  lines.append(harness.markdown_table(("HLO op", "kind", "from", "ms/step",
                                       "share"), rows))
  return "\n".join(lines)


class _PlanBench(harness.JaxBench):
  """JaxBench with flax convs rerouted through a fast_layers plan."""

  def __init__(self, plan_name, config, info, batch, plans=None):
    self.name = plan_name
    if plan_name == "none":
      super().__init__(config, info, batch)
      self.run(2)
      return
    plan = (plans or {}).get(plan_name) or fast_layers.PLANS[plan_name]
    conv = fast_layers.make_conv_general_dilated(plan)
    with fast_layers.patched_flax_conv(conv):
      super().__init__(config, info, batch)
      self.run(2)      # trace and compile the called function inside too


def plan_comparison(name: str, plans, rounds=5, variant=None,
                    block_seconds=1.0, extra_plans=None) -> dict:
  """Interleaved steps/s of the step as it is and under each plan."""
  config, reason = suite.availability(name, variant)
  if config is None:
    return {"model": name, "missing": reason}
  batch = harness.synthetic_batch(suite.FASHION_MNIST, config.train.batch_size)
  benches = [_PlanBench(p, config, suite.FASHION_MNIST, batch, extra_plans)
             for p in plans]
  losses = {b.name: b.run(1) for b in benches}
  steps = {b.name: harness.calibrate_steps(b, block_seconds) for b in benches}
  rates, _ = harness.interleaved_rates(benches, steps, rounds)
  base = statistics.median(rates[plans[0]])
  return {"model": name, "rounds": rounds,
          "steps_per_s": {p: statistics.median(rates[p]) for p in plans},
          "speedup": {p: statistics.median(rates[p]) / base for p in plans},
          "rates": rates, "loss_after_warmup": losses}


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m benchmarks.profile_step")
  p.add_argument("--models", default="conv_vae,dcgan,wgan_gp,realnvp,pixelcnn")
  p.add_argument("--ops", action="store_true", help="conv/dot census")
  p.add_argument("--trace", type=int, default=0, metavar="STEPS",
                 help="profile STEPS steps with jax.profiler: time per HLO "
                 "op and per category (also under each --plans plan)")
  p.add_argument("--layers", action="store_true",
                 help="per conv layer: fwd+bwd under each formulation; adds "
                 "the plan 'best' (the winners) to --plans")
  p.add_argument("--plans", default="",
                 help="comma-separated fast_layers plans to compare with "
                 "'none' (as is), e.g. s2d,thin_im2col,im2col")
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--variant", default=None)
  p.add_argument("--json", default=None)
  args = p.parse_args(argv)
  result = {"command": " ".join(["python -m benchmarks.profile_step"]
                                + (sys.argv[1:] if argv is None else argv)),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
            "loadavg_at_start": os.getloadavg(), "census": [], "plans": []}
  for name in suite.parse_models(args.models):
    if args.ops:
      c = op_census(name, args.variant, args.repeats)
      result["census"].append(c)
      print(format_census(c), flush=True)
    if args.trace:
      for plan in [None] + [x for x in args.plans.split(",") if x]:
        t = trace_profile(name, args.trace, args.variant, plan)
        result.setdefault("traces", []).append(t)
        print(format_trace(t), flush=True)
    extra = {}
    if args.layers:
      lc = layer_comparison(name, args.variant, args.repeats)
      plan, choices = best_plan(lc)
      lc["best_plan"] = {str(k): v for k, v in choices.items()}
      result.setdefault("layers", []).append(lc)
      print(format_layers(lc), flush=True)
      if choices:
        extra["best"] = plan
    if args.plans or extra:
      plans = ["none"] + [x for x in args.plans.split(",") if x] + list(extra)
      r = plan_comparison(name, plans, args.rounds, args.variant,
                          extra_plans=extra)
      result["plans"].append(r)
      if "missing" in r:
        print(f"{name}: missing ({r['missing']})")
      else:
        print(f"{name}: " + ", ".join(
            f"{k} {v:.2f} steps/s ({r['speedup'][k]:.2f}x)"
            for k, v in r["steps_per_s"].items()), flush=True)
  result["loadavg_at_end"] = os.getloadavg()
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == "__main__":
  main()

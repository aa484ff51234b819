"""Timing machinery shared by the benchmarks: our jitted train step, PyTorch
steps in worker processes, interleaved rounds, flop counts and tables.

What is timed
  Ours: exactly the step the trainer runs,
    jax.jit(lambda s, b: model.train_step(s, b, fold_in(s.rng, s.step)),
            donate_argnums=0)
  with `model = gdm_jax.models.make(config, info)`, on a fixed synthetic
  batch built like the trainer's (`synthetic_batch`). A timed block
  dispatches N steps and then blocks on the final state and metrics (the
  trainer, too, only syncs on log steps).

  PyTorch (eager, CPU): a `TorchStep` of one of the benchmarks' torch_*
  modules, built from the same config and batch. It runs in worker
  processes, one per OMP_WAIT_POLICY: libgomp reads the policy once, at
  import, and with its default spin-waiting PyTorch's 2 threads ran 5-10x
  slower than with PASSIVE when other processes loaded the 2 cores, while on
  idle cores spinning was ~1.4x faster. The table shows the fastest policy;
  the JSON keeps all. The parent tells each worker when to run a block, and
  the worker times it itself.

  The implementations are timed in alternating blocks (R rounds; each
  block's step count is calibrated to ~1.5 s, or fixed; the order reverses
  every round). Reported: the median steps/s of each and the ratio of the
  medians (ours / PyTorch); the JSON also has every round, per-round ratios
  and the CPU time of each block.

Flops (per step; GFLOP/s = flops/step x steps/s, the same count for both
implementations, since they do the same work)
  `step_contraction_flops` (the table's figure): 2 x multiply-adds of every
  matmul and convolution in our step's jaxpr (padded taps included),
  forward, backward and double backward, every iteration of a scan
  counted (the k critic updates of a GAN step).
  `torch_flops` (in brackets): the same count by PyTorch's
  `torch.utils.flop_counter` formulas over one step of the PyTorch
  implementation, an independent check that both do the same work.
  `xla_flops` (in square brackets): XLA's cost analysis of the compiled step
  (`compiled.cost_analysis()['flops']`, a dict in jax 0.10.2). It counts
  elementwise ops too and skips padded taps, but counts the body of a while
  loop (lax.scan) once, so it undercounts GAN steps with k > 1 critic
  updates (measured: WGAN-GP at the tests' sizes, 13.9 MFLOP at k = 1, 15.8 at k = 5).
  % SGEMM relates GFLOP/s to the machine's float32 matmul rate measured with
  numpy (n x n, best of 8).
"""

import collections
import json
import math
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OMP_POLICIES = ("unset", "PASSIVE", "ACTIVE")


# ---------------------------------------------------------------------------
# Machine reference: float32 GEMM rate.


def sgemm_gflops(n: int = 2048, repeats: int = 8,
                 clock=time.perf_counter) -> float:
  """Best-of-`repeats` GFLOP/s of an n x n float32 numpy matmul (2 n^3 flops),
  per second of `clock` (wall time by default)."""
  rng = np.random.default_rng(0)
  a = rng.standard_normal((n, n), dtype=np.float32)
  b = rng.standard_normal((n, n), dtype=np.float32)
  a @ b  # warm-up (thread pool start)
  best = math.inf
  for _ in range(repeats):
    t0 = clock()
    a @ b
    best = min(best, clock() - t0)
  return 2 * n ** 3 / best / 1e9


def sgemm_gflops_per_cpu_second(n: int = 2048, repeats: int = 8) -> float:
  """Like `sgemm_gflops` but per second of this process's CPU time (user +
  system over all its threads): a load-independent view when the process is
  pinned to one core (taskset -c 0, OPENBLAS_NUM_THREADS=1)."""
  return sgemm_gflops(n, repeats, clock=time.process_time)


def _timed(fn):
  """(wall seconds, CPU seconds of this process) of fn()."""
  c0, t0 = time.process_time(), time.perf_counter()
  fn()
  t1, c1 = time.perf_counter(), time.process_time()
  return t1 - t0, c1 - c0


# ---------------------------------------------------------------------------
# Data.


def synthetic_batch(info: dict, batch_size: int, seed: int = 0) -> dict:
  """A host batch shaped like the trainer's for data set `info`.

  Images ({'kind': 'image'} or no kind): {'image': uint8 [B, H, W, C]
  uniform on 0..255, 'label': int32 [B] uniform on 0..num_classes-1}. Toy
  data ({'kind': 'toy'}): {'x': float32 [B, D] standard normal}.
  """
  rng = np.random.default_rng(seed)
  shape = tuple(info["shape"])
  if info.get("kind") == "toy":
    return {"x": rng.standard_normal((batch_size,) + shape).astype(np.float32)}
  return {"image": rng.integers(0, 256, (batch_size,) + shape, dtype=np.uint8),
          "label": rng.integers(0, info.get("num_classes", 10), (batch_size,),
                                dtype=np.int32)}


# ---------------------------------------------------------------------------
# Our side: the trainer's jitted step.


def xla_flops(compiled) -> float:
  """'flops' from a compiled executable's cost analysis (a dict in jax 0.10;
  older releases returned a list of dicts, one per computation)."""
  ca = compiled.cost_analysis()
  if ca is None:
    return float("nan")
  if isinstance(ca, dict):
    ca = [ca]
  return float(sum(d.get("flops", 0.0) for d in ca))


CONTRACTIONS = ("conv_general_dilated", "dot_general")


def _sub_jaxprs(eqn):
  """(closed or open jaxpr, multiplicity) of the sub-computations of eqn."""
  import jax.extend  # pylint: disable=g-import-not-at-top
  mult = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
  for v in eqn.params.values():
    for item in (v if isinstance(v, (tuple, list)) else [v]):
      if isinstance(item, jax.extend.core.ClosedJaxpr):
        yield item.jaxpr, mult
      elif isinstance(item, jax.extend.core.Jaxpr):
        yield item, mult


def contraction_census(jaxpr, mult=1, out=None):
  """{(primitive, in shapes, params repr): [count, eqn]} over the jaxpr and
  its sub-jaxprs (scan bodies counted `length` times)."""
  out = collections.OrderedDict() if out is None else out
  for eqn in jaxpr.eqns:
    if eqn.primitive.name in CONTRACTIONS:
      shapes = tuple(tuple(v.aval.shape) for v in eqn.invars)
      params = {k: v for k, v in eqn.params.items()
                if k not in ("precision", "preferred_element_type")}
      key = (eqn.primitive.name, shapes, repr(sorted(params.items())))
      if key in out:
        out[key][0] += mult
      else:
        out[key] = [mult, eqn]
    for sub, m in _sub_jaxprs(eqn):
      contraction_census(sub, mult * m, out)
  return out


def contraction_flops_of(eqn) -> float:
  """2 x multiply-adds of one conv / dot equation."""
  out = eqn.outvars[0].aval.shape
  if eqn.primitive.name == "dot_general":
    (lc, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return 2.0 * math.prod(out) * math.prod(lhs[d] for d in lc)
  rhs = eqn.invars[1].aval.shape
  dn = eqn.params["dimension_numbers"]
  # rhs spec: (out feature dim, in feature dim, spatial...)
  k_in = rhs[dn.rhs_spec[1]] * math.prod(rhs[d] for d in dn.rhs_spec[2:])
  return 2.0 * math.prod(out) * k_in


def step_contraction_flops(model, state, batch) -> float:
  """Matmul/conv flops (2 x multiply-adds, padded taps included) of one
  train step, from its jaxpr: forward, backward, double backward, and every
  iteration of a scan (k critic steps) counted."""
  import jax
  fn = lambda s, b: model.train_step(s, b, jax.random.fold_in(s.rng, s.step))
  census = contraction_census(jax.make_jaxpr(fn)(state, batch).jaxpr)
  return float(sum(count * contraction_flops_of(eqn)
                   for count, eqn in census.values()))


def trainer_step(model):
  """The trainer's step function, jitted with the state donated."""
  import jax
  return jax.jit(
      lambda s, batch: model.train_step(s, batch,
                                        jax.random.fold_in(s.rng, s.step)),
      donate_argnums=0)


class JaxBench:
  """Our train step on a fixed batch; `run(n)` takes n steps.

  Attributes after construction: model, state, step (the jitted function),
  compile_s (seconds to lower and compile), flops (matmul/conv flops per
  step from the jaxpr), xla_flops (XLA's cost analysis), hlo (the
  optimised HLO text, for profiling).
  """

  name = "jax"

  def __init__(self, config, info: dict, batch: dict, seed: int = 0,
               conv_plan: str | None = None, num_devices: int = 1):
    """conv_plan: a benchmarks.fast_layers.PLANS name; every flax nn.Conv of
    the step then uses that formulation (a proposed change, not the model
    as it is); None: the model as it is.

    num_devices: the first `num_devices` of jax.devices() as the trainer's
    Mesh (batch sharded on 'data', state replicated), as
    `python -m experiments.train --cpu_devices=N` runs it; on CPU with
    several devices every step is blocked on, like the trainer's."""
    import jax
    from gdm_jax import models

    self._jax = jax
    self.conv_plan = conv_plan
    if num_devices > len(jax.devices()):
      raise ValueError(f"num_devices={num_devices} but JAX has "
                       f"{len(jax.devices())} devices (set "
                       "jax_num_cpu_devices before the first computation).")
    self.num_devices = num_devices
    if conv_plan:
      from benchmarks import fast_layers
      conv = fast_layers.make_conv_general_dilated(
          fast_layers.PLANS[conv_plan])
      with fast_layers.patched_flax_conv(conv):
        self._build(jax, models, config, info, batch, seed)
        self.metrics = None
        self.run(1)     # the jitted call traces here, inside the patch
    else:
      self._build(jax, models, config, info, batch, seed)
    self.metrics = None

  def _build(self, jax, models, config, info, batch, seed):
    from gdm_jax.core import sharding
    self.model = models.make(config, info)
    mesh = sharding.make_mesh(jax.devices()[:self.num_devices])
    self.block_each_step = sharding.blocks_each_step(mesh)
    sharding.check_batch_size(next(iter(batch.values())).shape[0], mesh)
    self.batch = jax.device_put({k: jax.numpy.asarray(v)
                                 for k, v in batch.items()},
                                sharding.batch_sharded(mesh))
    # Jitted: eager init dispatches (and compiles) op by op, which is slow.
    self.state = jax.jit(self.model.init,
                         out_shardings=sharding.replicated(mesh))(
                             jax.random.PRNGKey(seed), self.batch)
    self.step = trainer_step(self.model)
    t0 = time.perf_counter()
    compiled = self.step.lower(self.state, self.batch).compile()
    self.compile_s = time.perf_counter() - t0
    self.xla_flops = xla_flops(compiled)
    self.flops = step_contraction_flops(self.model, self.state, self.batch)
    self.hlo = compiled.as_text()

  def run(self, n: int):
    state, metrics = self.state, self.metrics
    for _ in range(n):
      state, metrics = self.step(state, self.batch)
      if self.block_each_step:
        self._jax.block_until_ready(metrics)
    self._jax.block_until_ready((state, metrics))
    self.state, self.metrics = state, metrics
    return float(metrics["loss"]) if "loss" in metrics else None

  def timed(self, n: int):
    """(wall seconds, CPU seconds of this process) of n steps."""
    return _timed(lambda: self.run(n))

  def close(self):
    pass


# ---------------------------------------------------------------------------
# PyTorch side.


def torch_available() -> bool:
  import importlib.util
  return importlib.util.find_spec("torch") is not None


def torch_flops(torch_step) -> float:
  """Matmul/conv flops (2 x multiply-adds, forward and backward, double
  backward included) of one step of a TorchStep (the step is taken: the
  parameters move once).

  Uses the formulas of torch.utils.flop_counter (`flop_registry`) in a
  plain dispatch mode: FlopCounterMode itself also tracks modules with
  backward hooks, which fails inside torch.autograd.grad (WGAN-GP's
  gradient penalty).
  """
  from torch.utils._python_dispatch import TorchDispatchMode
  from torch.utils.flop_counter import flop_registry

  class _Counter(TorchDispatchMode):
    total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
      kwargs = kwargs or {}
      out = func(*args, **kwargs)
      count = flop_registry.get(func._overloadpacket)  # pylint: disable=protected-access
      if count is not None:
        self.total += count(*args, **kwargs, out_val=out)
      return out

  counter = _Counter()
  with counter:
    torch_step.step()
  return float(counter.total)


def make_torch_step(module_name: str, config, info: dict, batch: dict,
                    seed: int = 0):
  """`module_name`.TorchStep(config, info, batch, seed) (torch seeded)."""
  import importlib
  import torch
  torch.manual_seed(seed)
  return importlib.import_module(module_name).TorchStep(config, info, batch,
                                                        seed=seed)


class TorchWorker:
  """A TorchStep in a child process with its own OMP_WAIT_POLICY.

  libgomp reads OMP_WAIT_POLICY once, when torch is imported, and the best
  policy depends on the machine's load (spin-waiting is faster on idle
  cores and collapses when other processes hold them), so each policy gets
  its own process; the parent tells it when to run a block, so blocks stay
  interleaved with ours. Timing is taken inside the child. After setup the
  worker reports the step's FlopCounterMode count (`self.flops`).
  """

  def __init__(self, module_name: str, config, info: dict, batch: dict,
               threads: int, omp_wait_policy: str = "unset", seed: int = 0):
    import subprocess
    self.policy = omp_wait_policy
    self.name = f"torch[{omp_wait_policy}]"
    self.threads = threads
    fd, self._spec_path = tempfile.mkstemp(suffix=".pkl")
    with os.fdopen(fd, "wb") as f:
      pickle.dump({"module": module_name, "config": config.to_dict(),
                   "info": dict(info), "batch": batch, "threads": threads,
                   "seed": seed}, f)
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if omp_wait_policy != "unset":
      env["OMP_WAIT_POLICY"] = omp_wait_policy
    self._proc = subprocess.Popen(
        [sys.executable, "-c",
         "from benchmarks.harness import _worker_main; _worker_main()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        cwd=REPO)
    reply = self._request({"spec": self._spec_path})
    self.flops = reply["flops"]

  def _request(self, msg: dict) -> dict:
    self._proc.stdin.write(json.dumps(msg) + "\n")
    self._proc.stdin.flush()
    while True:
      line = self._proc.stdout.readline()
      if not line:
        raise RuntimeError(f"{self.name} worker exited "
                           f"(code {self._proc.poll()})")
      if line.startswith("@@"):
        reply = json.loads(line[2:])
        if "error" in reply:
          raise RuntimeError(f"{self.name} worker: {reply['error']}")
        return reply

  def run(self, n: int):
    return self._request({"run": n})["loss"]

  def timed(self, n: int):
    reply = self._request({"run": n})
    return reply["wall"], reply["cpu"]

  def close(self):
    try:
      self._request({"quit": True})
    except Exception:  # pylint: disable=broad-except
      pass
    try:
      self._proc.wait(timeout=30)
    finally:
      if os.path.exists(self._spec_path):
        os.unlink(self._spec_path)


def _worker_main():
  """The child side of TorchWorker: one JSON request per stdin line, one
  '@@'-prefixed JSON reply per line on stdout."""
  import ml_collections
  import torch
  step = None

  def run(n):
    loss = None
    for _ in range(n):
      loss = step.step()
    return float(loss.detach())   # eager CPU ops are synchronous anyway

  for line in sys.stdin:
    msg = json.loads(line)
    try:
      if "spec" in msg:
        with open(msg["spec"], "rb") as f:
          spec = pickle.load(f)
        torch.set_num_threads(spec["threads"])
        config = ml_collections.ConfigDict(spec["config"])
        step = make_torch_step(spec["module"], config, spec["info"],
                               spec["batch"], spec["seed"])
        reply = {"ok": True, "omp": os.environ.get("OMP_WAIT_POLICY"),
                 "flops": torch_flops(step)}
      elif "run" in msg:
        loss = []
        wall, cpu = _timed(lambda: loss.append(run(msg["run"])))
        reply = {"wall": wall, "cpu": cpu, "loss": loss[0]}
      else:
        print("@@" + json.dumps({"bye": True}), flush=True)
        return
    except Exception as e:  # pylint: disable=broad-except
      reply = {"error": f"{type(e).__name__}: {e}"}
    print("@@" + json.dumps(reply), flush=True)


# ---------------------------------------------------------------------------
# Interleaved timing.


def calibrate_steps(bench, block_seconds: float, max_steps: int = 400) -> int:
  """Steps that make a block last about `block_seconds` (at least 2)."""
  per_step = bench.timed(2)[0] / 2
  return int(min(max_steps, max(2, round(block_seconds / per_step))))


def interleaved_rates(benches, steps: dict, rounds: int):
  """steps/s and CPU-seconds/step of each bench per round, in alternating
  blocks of steps[name] steps.

  The order is reversed every round so neither side always runs right
  after the other (caches, background load). CPU time is the timing
  process's (all threads, user + system).
  """
  rates = {b.name: [] for b in benches}
  cpu = {b.name: [] for b in benches}
  for r in range(rounds):
    order = benches if r % 2 == 0 else list(reversed(benches))
    for b in order:
      n = steps[b.name]
      wall, cpu_s = b.timed(n)
      rates[b.name].append(n / wall)
      cpu[b.name].append(cpu_s / n)
  return rates, cpu


def benchmark_row(label: str, config, info: dict, torch_module: str | None,
                  *, steps=None, block_seconds=1.5, rounds=5, warmup=3,
                  torch_policies=("unset", "PASSIVE"), batch_size=None,
                  torch_threads=None, seed=0, description="",
                  conv_plan=None, num_devices=1) -> dict:
  """Times our step and PyTorch's `torch_module`.TorchStep (one worker
  process per OMP_WAIT_POLICY in `torch_policies`; none or no module: ours
  only) on the same synthetic batch; returns the row (a dict).

  The torch figures of the row are those of its fastest policy (by median
  steps/s); every policy's figures are kept under 'torch_variants'.
  """
  b = batch_size or config.train.batch_size
  if batch_size:
    config = config.copy_and_resolve_references()
    config.train.batch_size = b
  batch = synthetic_batch(info, b, seed)
  ours = JaxBench(config, info, batch, seed, conv_plan, num_devices)
  benches = [ours]
  threads = torch_threads or os.cpu_count()
  try:
    if torch_module:
      for policy in torch_policies:
        benches.append(TorchWorker(torch_module, config, info, batch, threads,
                                   policy, seed))
    for bench in benches:
      bench.run(warmup)
    if steps:
      n_steps = {bench.name: steps for bench in benches}
    else:
      n_steps = {bench.name: calibrate_steps(bench, block_seconds)
                 for bench in benches}
    print(f"[{label}] {rounds} rounds, steps per block: {n_steps}",
          file=sys.stderr, flush=True)
    rates, cpu = interleaved_rates(benches, n_steps, rounds)
  finally:
    for bench in benches[1:]:
      bench.close()
  row = {"model": label, "architecture": description, "conv_plan": conv_plan,
         "num_devices": num_devices,
         "model_config": config.model.to_dict(),
         "batch_size": b, "steps_per_block": n_steps, "rounds": rounds,
         "warmup_steps": warmup, "compile_s": ours.compile_s,
         "flops_per_step": ours.flops,
         "xla_flops_per_step": ours.xla_flops,
         "ours_steps_per_s_rounds": rates["jax"],
         "ours_steps_per_s": statistics.median(rates["jax"]),
         "ours_cpu_s_per_step": statistics.median(cpu["jax"])}
  row["ours_gflops"] = ours.flops * row["ours_steps_per_s"] / 1e9
  row["ours_gflops_per_cpu_s"] = ours.flops / 1e9 / row["ours_cpu_s_per_step"]
  if len(benches) > 1:
    variants = {t.name: {"omp_wait_policy": t.policy,
                         "steps_per_s_rounds": rates[t.name],
                         "steps_per_s": statistics.median(rates[t.name]),
                         "cpu_s_per_step_rounds": cpu[t.name],
                         "cpu_s_per_step": statistics.median(cpu[t.name])}
                for t in benches[1:]}
    best = max(variants, key=lambda k: variants[k]["steps_per_s"])
    least_cpu = min(variants, key=lambda k: variants[k]["cpu_s_per_step"])
    row["torch_module"] = torch_module
    row["torch_threads"] = threads
    row["torch_flops_per_step"] = benches[1].flops
    row["torch_variants"] = variants
    row["torch_best"] = best
    row["torch_steps_per_s_rounds"] = rates[best]
    row["torch_steps_per_s"] = variants[best]["steps_per_s"]
    row["ratio"] = row["ours_steps_per_s"] / row["torch_steps_per_s"]
    row["ratio_per_round"] = [a / t for a, t in zip(rates["jax"],
                                                   rates[best])]
    row["torch_gflops"] = ours.flops * row["torch_steps_per_s"] / 1e9
    # CPU-time view: the policy that spends the least CPU per step (spinning
    # policies also count their waiting).
    row["torch_least_cpu"] = least_cpu
    row["torch_cpu_s_per_step"] = variants[least_cpu]["cpu_s_per_step"]
    row["cpu_time_ratio"] = (row["torch_cpu_s_per_step"]
                             / row["ours_cpu_s_per_step"])
    row["torch_gflops_per_cpu_s"] = (ours.flops / 1e9
                                     / row["torch_cpu_s_per_step"])
  return row


def missing_row(label: str, reason: str) -> dict:
  """A row for a benchmark whose model (or config) does not exist."""
  return {"model": label, "missing": reason}


# ---------------------------------------------------------------------------
# Reporting.


def markdown_table(header, lines) -> str:
  """A GitHub-markdown table with columns padded to equal width."""
  widths = [max([len(h)] + [len(l[i]) for l in lines])
            for i, h in enumerate(header)]

  def fmt(cells):
    return "| " + " | ".join(c.ljust(wd) for c, wd in zip(cells, widths)) + " |"

  out = [fmt(header), "|" + "|".join("-" * (wd + 2) for wd in widths) + "|"]
  return "\n".join(out + [fmt(l) for l in lines])


def _gflop(x) -> str:
  return "-" if x is None or not math.isfinite(x) else f"{x / 1e9:.3f}"


def format_table(rows, sgemm: float) -> str:
  """The headline table: wall-clock medians of the interleaved blocks.

  Rows without a model ('missing') show the reason in the second column.
  """
  header = ("model", "ours steps/s", "torch steps/s [OMP policy]",
            "ratio ours/torch", "GFLOP/step ours (torch) [XLA]",
            "ours GFLOP/s", "torch GFLOP/s", "% SGEMM ours (torch)")
  lines = []
  for r in rows:
    if "missing" in r:
      note = r["missing"]
      note = note if note.startswith("skipped") else f"missing: {note}"
      lines.append((r["model"], note) + ("-",) * 6)
      continue
    has_torch = "torch_steps_per_s" in r
    pct = 100 * r["ours_gflops"] / sgemm
    pct_t = (f" ({100 * r['torch_gflops'] / sgemm:.0f}%)" if has_torch
             else "")
    lines.append((
        r["model"],
        f"{r['ours_steps_per_s']:.2f}",
        (f"{r['torch_steps_per_s']:.2f} "
         f"[{r['torch_variants'][r['torch_best']]['omp_wait_policy']}]"
         if has_torch else "-"),
        f"{r['ratio']:.2f}x" if has_torch else "-",
        f"{_gflop(r['flops_per_step'])} "
        f"({_gflop(r.get('torch_flops_per_step'))}) "
        f"[{_gflop(r.get('xla_flops_per_step'))}]",
        f"{r['ours_gflops']:.1f}",
        f"{r['torch_gflops']:.1f}" if has_torch else "-",
        f"{pct:.0f}%{pct_t}"))
  return markdown_table(header, lines)


def format_cpu_table(rows, sgemm_cpu: float) -> str:
  """The CPU-time view: CPU-seconds per step (all threads of the process).

  Pinned to one core (taskset -c 0, --torch-threads 1,
  OPENBLAS_NUM_THREADS=1) this is the work per step, nearly independent of
  other processes' load; with several threads it also counts spin-waiting.
  """
  header = ("model", "ours CPU ms/step", "torch CPU ms/step [policy]",
            "CPU-time ratio", "ours GFLOP/CPU-s", "torch GFLOP/CPU-s",
            "% SGEMM/CPU-s ours (torch)")
  lines = []
  for r in rows:
    if "missing" in r:
      continue
    has_torch = "torch_steps_per_s" in r
    pct = 100 * r["ours_gflops_per_cpu_s"] / sgemm_cpu
    pct_t = (f" ({100 * r['torch_gflops_per_cpu_s'] / sgemm_cpu:.0f}%)"
             if has_torch else "")
    lines.append((
        r["model"],
        f"{1e3 * r['ours_cpu_s_per_step']:.1f}",
        (f"{1e3 * r['torch_cpu_s_per_step']:.1f} "
         f"[{r['torch_variants'][r['torch_least_cpu']]['omp_wait_policy']}]"
         if has_torch else "-"),
        f"{r['cpu_time_ratio']:.2f}x" if has_torch else "-",
        f"{r['ours_gflops_per_cpu_s']:.1f}",
        f"{r['torch_gflops_per_cpu_s']:.1f}" if has_torch else "-",
        f"{pct:.0f}%{pct_t}"))
  return markdown_table(header, lines)


def environment(with_torch: bool) -> dict:
  import jax
  env = {"python": platform.python_version(), "jax": jax.__version__,
         "jax_backend": jax.default_backend(), "cpu_count": os.cpu_count(),
         "cpus_usable": len(os.sched_getaffinity(0)),
         "machine": platform.processor() or platform.machine(),
         "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
         "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "")}
  if with_torch:
    import importlib.metadata
    env["torch"] = importlib.metadata.version("torch")
  return env

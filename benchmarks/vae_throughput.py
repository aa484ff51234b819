"""Train-step throughput of the VAE (MLP and conv) against PyTorch on the CPU.

What is timed
  Ours: exactly the step the trainer runs,
    jax.jit(lambda s, b: model.train_step(s, b, fold_in(s.rng, s.step)),
            donate_argnums=0)
  with `model = gdm_jax.models.vae.make(config, {'shape': (28, 28, 1)})`,
  config = experiments/configs/vae.py:default (MLP) or :conv, on a synthetic
  uint8 batch {'image': [B, 28, 28, 1]}, B = config.train.batch_size (128).
  A timed block dispatches N steps and then blocks on the final state and
  metrics (the trainer, too, only syncs on log steps).

  PyTorch (eager, CPU, torch.set_num_threads(os.cpu_count()) unless
  --torch-threads): the same architecture built from the same config fields,
  the same batch, dynamic binarisation x ~ Bernoulli(pixel / 255) inside the
  step, the reparameterised one-sample ELBO with Bernoulli logits
  (BCE-with-logits summed over pixels) and the closed-form Gaussian KL, mean
  over the batch, Adam(lr=1e-3). The only differences from our step are
  immaterial to its cost: our learning rate follows the config's warm-up +
  cosine schedule (a scalar), our step also returns the gradient's global
  norm, and PyTorch lays images out as NCHW with its own pixel-shuffle
  channel order (a permutation of the same parameters).
  PyTorch runs in worker processes, one per OMP_WAIT_POLICY
  (--omp-wait-policies, default 'unset,PASSIVE'), and the table shows the
  fastest: libgomp reads the policy once, at import, and with its default
  spin-waiting PyTorch's 2 threads ran 5-10x slower than with PASSIVE when
  other processes loaded the 2 cores (which would flatter our ratio), while
  on idle cores spinning was ~1.5x faster than PASSIVE. The parent tells
  each worker when to run a block, and the worker times it itself.

  The two are timed in alternating blocks (R rounds; each block's step count
  is calibrated to last ~1.5 s, or --steps N; the order alternates every
  round), and the table shows the median steps/s of each and the ratio of
  the medians. The JSON also keeps every round, the per-round ratios and the
  CPU time of each block.

Flops
  GFLOP/step is XLA's cost analysis of our compiled step
  (`jitted.lower(state, batch).compile().cost_analysis()['flops']`, a dict in
  jax 0.10.2; it counts the matmuls and convolutions without padded taps,
  plus every elementwise op, Adam included), and in brackets an analytic
  count of the matmul/conv flops (2 x multiply-adds, padded taps included):
  forward F, weight gradients F, input gradients F less the first layer's
  (its input is data), i.e. about 3F. GFLOP/s = flops/step x steps/s with the
  same (XLA) count for both implementations. % SGEMM relates that to the
  machine's float32 matmul rate measured with numpy (2048 x 2048, best of 8,
  before and after the model rounds; the better is used).

  The second table is the CPU-time view: CPU-seconds of the process per step
  (all threads). It is robust to other processes' load (time spent
  descheduled is not counted), so the CPU-time ratio and GFLOP per CPU-second
  against numpy's SGEMM per CPU-second are the figures to compare across
  runs on a shared machine; pinned to one core (taskset -c 0
  --torch-threads 1, OPENBLAS_NUM_THREADS=1) it is the work per step.

Usage (from the repository root):
  python -m benchmarks.vae_throughput [--steps N] [--rounds R]
      [--models mlp,conv] [--json out.json] [--extra] [--torch-threads T]

`--extra` adds clearly labelled MLP rows at larger batches (not the configs
as they are) to show how the step's efficiency scales; the headline rows
never change.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

# Model key -> variant of experiments/configs/vae.py.
MODELS = {"mlp": "default", "conv": "conv"}
# Extra rows for --extra: (label, model key, batch size).
EXTRA_ROWS = (("mlp B=512 (extra)", "mlp", 512),
              ("mlp B=2048 (extra)", "mlp", 2048))
IMAGE_SHAPE = (28, 28, 1)


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


# ---------------------------------------------------------------------------
# Analytic flop count.


def analytic_flops(config, shape=IMAGE_SHAPE, batch_size=None) -> dict:
  """Matmul/conv flops (2 x multiply-adds) of one training step.

  Returns {'layers': [(name, forward flops)], 'forward': F,
  'train': 3F - (first layer's input-gradient flops)}; the first layer's
  input is data, so no gradient is formed for it.
  """
  mc = config.model
  b = batch_size or config.train.batch_size
  h, w, c = shape
  d, z = h * w * c, mc.latent_dim
  layers = []

  def dense(name, n_in, n_out):
    layers.append((name, 2 * b * n_in * n_out))

  def conv(name, h_out, w_out, c_in, c_out, k):
    layers.append((name, 2 * b * h_out * w_out * c_out * k * k * c_in))

  if mc.architecture == "mlp":
    enc = [d] + list(mc.hidden) + [2 * z]
    dec = [z] + list(reversed(mc.hidden)) + [d]
    for i in range(len(enc) - 1):
      dense(f"enc.dense{i}", enc[i], enc[i + 1])
    for i in range(len(dec) - 1):
      dense(f"dec.dense{i}", dec[i], dec[i + 1])
  else:
    chans = list(mc.conv_channels)
    hh, ww, cc = h, w, c
    for i, ch in enumerate(chans):        # 4x4 stride-2 SAME convs
      hh, ww = -(-hh // 2), -(-ww // 2)
      conv(f"enc.conv{i}", hh, ww, cc, ch, 4)
      cc = ch
    dense("enc.dense0", hh * ww * cc, mc.conv_hidden)
    dense("enc.dense1", mc.conv_hidden, 2 * z)
    dchans = list(reversed(chans))
    h0, w0 = h // 2 ** len(dchans), w // 2 ** len(dchans)
    dense("dec.dense0", z, mc.conv_hidden)
    dense("dec.dense1", mc.conv_hidden, h0 * w0 * dchans[0])
    hh, ww, cc = h0, w0, dchans[0]
    for i, ch in enumerate(dchans):       # 3x3 conv to 4*ch, pixel shuffle
      conv(f"dec.subpixel{i}", hh, ww, cc, 4 * ch, 3)
      hh, ww, cc = 2 * hh, 2 * ww, ch
    conv("dec.out", hh, ww, cc, c, 3)
  forward = sum(f for _, f in layers)
  return {"layers": layers, "forward": forward,
          "train": 3 * forward - layers[0][1]}


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


class JaxBench:
  """Our train step on a fixed synthetic batch; `run(n)` takes n steps."""

  name = "jax"

  def __init__(self, config, batch_size=None, shape=IMAGE_SHAPE, seed=0):
    import jax
    import jax.numpy as jnp
    from gdm_jax.models import vae

    self._jax = jax
    model = vae.make(config, {"shape": shape})
    b = batch_size or config.train.batch_size
    images = np.random.default_rng(seed).integers(0, 256, (b,) + tuple(shape),
                                                  dtype=np.uint8)
    self.images = images
    self.batch = {"image": jnp.asarray(images)}
    # Jitted: eager init dispatches (and compiles) op by op, which is slow.
    self.state = jax.jit(model.init)(jax.random.PRNGKey(seed), self.batch)
    self.step = jax.jit(
        lambda s, batch: model.train_step(s, batch,
                                          jax.random.fold_in(s.rng, s.step)),
        donate_argnums=0)
    t0 = time.perf_counter()
    compiled = self.step.lower(self.state, self.batch).compile()
    self.compile_s = time.perf_counter() - t0
    self.flops = xla_flops(compiled)
    self.metrics = None

  def run(self, n: int):
    state, metrics = self.state, self.metrics
    for _ in range(n):
      state, metrics = self.step(state, self.batch)
    self._jax.block_until_ready((state, metrics))
    self.state, self.metrics = state, metrics
    return metrics

  def timed(self, n: int):
    """(wall seconds, CPU seconds of this process) of n steps."""
    return _timed(lambda: self.run(n))

  def close(self):
    pass


def _timed(fn):
  c0, t0 = time.process_time(), time.perf_counter()
  fn()
  t1, c1 = time.perf_counter(), time.process_time()
  return t1 - t0, c1 - c0


# ---------------------------------------------------------------------------
# PyTorch side: the same architecture, objective and optimizer.


def torch_available() -> bool:
  import importlib.util
  return importlib.util.find_spec("torch") is not None


def build_torch_vae(config, shape=IMAGE_SHAPE):
  """The VAENet of `config` in PyTorch: returns nn.Module whose forward maps
  binary x [B, C, H, W] and noise to (logits [B, C, H, W], mean, log_scale)."""
  import torch
  from torch import nn

  mc = config.model
  h, w, c = shape
  d, z = h * w * c, mc.latent_dim

  def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
      layers.append(nn.Linear(sizes[i], sizes[i + 1]))
      if i < len(sizes) - 2:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)

  if mc.architecture == "mlp":
    encoder = nn.Sequential(nn.Flatten(),
                            mlp([d] + list(mc.hidden) + [2 * z]))
    decoder = mlp([z] + list(reversed(mc.hidden)) + [d])
  else:
    chans = list(mc.conv_channels)
    n = len(chans)
    if h % 2 ** n or w % 2 ** n:
      raise ValueError(f"image size {h}x{w} not divisible by 2**{n}")
    enc, c_in = [], c
    for ch in chans:
      # 4x4 stride-2 'SAME' on an even size pads 1 on each side.
      enc += [nn.Conv2d(c_in, ch, 4, stride=2, padding=1), nn.ReLU()]
      c_in = ch
    h0, w0 = h // 2 ** n, w // 2 ** n
    enc += [nn.Flatten(), nn.Linear(h0 * w0 * c_in, mc.conv_hidden), nn.ReLU(),
            nn.Linear(mc.conv_hidden, 2 * z)]
    encoder = nn.Sequential(*enc)
    dchans = list(reversed(chans))
    dec = [nn.Linear(z, mc.conv_hidden), nn.ReLU(),
           nn.Linear(mc.conv_hidden, h0 * w0 * dchans[0]), nn.ReLU(),
           nn.Unflatten(1, (dchans[0], h0, w0))]
    c_in = dchans[0]
    for ch in dchans:   # sub-pixel upsampling: 3x3 conv to 4*ch, shuffle
      dec += [nn.Conv2d(c_in, 4 * ch, 3, padding=1), nn.PixelShuffle(2),
              nn.ReLU()]
      c_in = ch
    dec += [nn.Conv2d(c_in, c, 3, padding=1)]
    decoder = nn.Sequential(*dec)

  class TorchVAE(nn.Module):

    def __init__(self):
      super().__init__()
      self.encoder, self.decoder = encoder, decoder

    def forward(self, x, eps):
      mean, log_scale = self.encoder(x).chunk(2, dim=-1)
      zz = mean + torch.exp(log_scale) * eps
      return self.decoder(zz).reshape(x.shape), mean, log_scale

  return TorchVAE()


class TorchBench:
  """The PyTorch step on the same batch; `run(n)` takes n steps."""

  name = "torch"

  def __init__(self, config, images: np.ndarray, shape=IMAGE_SHAPE, seed=0,
               threads=None):
    import torch
    import torch.nn.functional as F

    self.threads = threads or os.cpu_count()
    torch.set_num_threads(self.threads)
    torch.manual_seed(seed)
    self.model = build_torch_vae(config, shape)
    self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
    # The same uint8 batch, NHWC -> NCHW.
    self.images = torch.from_numpy(np.ascontiguousarray(
        images.transpose(0, 3, 1, 2)))
    z = config.model.latent_dim
    model, opt, imgs = self.model, self.opt, self.images

    def step():
      x = torch.bernoulli(imgs.float() / 255.0)        # dynamic binarisation
      eps = torch.randn(x.shape[0], z)
      logits, mean, log_scale = model(x, eps)
      rec = F.binary_cross_entropy_with_logits(
          logits, x, reduction="none").flatten(1).sum(1)
      kl = 0.5 * (mean ** 2 + torch.exp(2 * log_scale) - 1
                  - 2 * log_scale).sum(1)
      loss = (rec + kl).mean()
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
      return loss

    self._step = step

  def run(self, n: int):
    loss = None
    for _ in range(n):
      loss = self._step()
    return float(loss.detach())   # eager CPU ops are synchronous anyway

  def timed(self, n: int):
    return _timed(lambda: self.run(n))

  def close(self):
    pass


OMP_POLICIES = ("unset", "PASSIVE", "ACTIVE")


class TorchWorker:
  """TorchBench in a child process with its own OMP_WAIT_POLICY.

  libgomp reads OMP_WAIT_POLICY once, when torch is imported, and the best
  policy depends on the machine's load (spin-waiting is faster on idle
  cores and collapses when other processes hold them), so each policy gets
  its own process; the parent tells it when to run a block, so blocks stay
  interleaved with ours. Timing is taken inside the child.
  """

  def __init__(self, config, images: np.ndarray, threads: int,
               omp_wait_policy: str = "unset", workdir: str = "."):
    import subprocess
    import tempfile
    self.policy = omp_wait_policy
    self.name = f"torch[{omp_wait_policy}]"
    self.threads = threads
    fd, self._images_path = tempfile.mkstemp(suffix=".npy", dir=None)
    os.close(fd)
    np.save(self._images_path, images)
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if omp_wait_policy != "unset":
      env["OMP_WAIT_POLICY"] = omp_wait_policy
    spec = json.dumps({"config": config.to_dict(), "images": self._images_path,
                       "threads": threads})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    self._proc = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from benchmarks.vae_throughput import _worker_main; "
         "_worker_main()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        cwd=root)
    self._request({"spec": spec})

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
    self._proc.wait(timeout=30)
    os.unlink(self._images_path)


def _worker_main():
  """The child side of TorchWorker: one JSON request per stdin line, one
  '@@'-prefixed JSON reply per line on stdout."""
  import ml_collections
  bench = None
  for line in sys.stdin:
    msg = json.loads(line)
    try:
      if "spec" in msg:
        spec = json.loads(msg["spec"])
        config = ml_collections.ConfigDict(spec["config"])
        bench = TorchBench(config, np.load(spec["images"]),
                           threads=spec["threads"])
        reply = {"ok": True, "omp": os.environ.get("OMP_WAIT_POLICY")}
      elif "run" in msg:
        loss = []
        wall, cpu = _timed(lambda: loss.append(bench.run(msg["run"])))
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
  after the other (caches, background load). CPU time is this process's
  (all threads, user + system).
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


def benchmark_row(label, config, *, steps=None, block_seconds=1.5, rounds=5,
                  warmup=3, torch_policies=("unset", "PASSIVE"),
                  batch_size=None, torch_threads=None) -> dict:
  """Times our step and PyTorch's (one worker process per OMP_WAIT_POLICY
  in `torch_policies`; none: ours only) for one config; returns the row.

  The torch figures of the row are those of its fastest policy (by median
  steps/s); every policy's figures are kept under 'torch_variants'.
  """
  b = batch_size or config.train.batch_size
  ours = JaxBench(config, batch_size=b)
  benches = [ours]
  try:
    for policy in torch_policies:
      benches.append(TorchWorker(config, ours.images,
                                 torch_threads or os.cpu_count(), policy))
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
  ana = analytic_flops(config, IMAGE_SHAPE, b)
  mc = config.model
  arch = (f"MLP {'-'.join(map(str, mc.hidden))}, z={mc.latent_dim}"
          if mc.architecture == "mlp" else
          f"conv channels {'-'.join(map(str, mc.conv_channels))}, dense "
          f"{mc.conv_hidden}, z={mc.latent_dim}")
  row = {"model": label, "architecture": arch,
         "model_config": mc.to_dict(),
         "batch_size": b, "steps_per_block": n_steps, "rounds": rounds,
         "warmup_steps": warmup, "compile_s": ours.compile_s,
         "xla_flops_per_step": ours.flops,
         "analytic_flops_per_step": ana["train"],
         "analytic_forward_flops": ana["forward"],
         "analytic_layers": ana["layers"],
         "ours_steps_per_s_rounds": rates["jax"],
         "ours_steps_per_s": statistics.median(rates["jax"]),
         "ours_cpu_s_per_step": statistics.median(cpu["jax"])}
  row["ours_gflops"] = ours.flops * row["ours_steps_per_s"] / 1e9
  row["ours_gflops_analytic"] = ana["train"] * row["ours_steps_per_s"] / 1e9
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
    row["torch_threads"] = torch_threads or os.cpu_count()
    row["torch_variants"] = variants
    row["torch_best"] = best
    row["torch_steps_per_s_rounds"] = rates[best]
    row["torch_steps_per_s"] = variants[best]["steps_per_s"]
    row["ratio"] = row["ours_steps_per_s"] / row["torch_steps_per_s"]
    row["ratio_per_round"] = [a / t for a, t in zip(rates["jax"],
                                                   rates[best])]
    row["torch_gflops"] = ours.flops * row["torch_steps_per_s"] / 1e9
    row["torch_gflops_analytic"] = (ana["train"] * row["torch_steps_per_s"]
                                    / 1e9)
    # CPU-time view: the policy that spends the least CPU per step (spinning
    # policies also count their waiting).
    row["torch_least_cpu"] = least_cpu
    row["torch_cpu_s_per_step"] = variants[least_cpu]["cpu_s_per_step"]
    row["cpu_time_ratio"] = (row["torch_cpu_s_per_step"]
                             / row["ours_cpu_s_per_step"])
    row["torch_gflops_per_cpu_s"] = (ours.flops / 1e9
                                     / row["torch_cpu_s_per_step"])
  return row


# ---------------------------------------------------------------------------
# Reporting.


def _table(header, lines) -> str:
  widths = [max(len(h), *(len(l[i]) for l in lines))
            for i, h in enumerate(header)]

  def fmt(cells):
    return "| " + " | ".join(c.ljust(wd) for c, wd in zip(cells, widths)) + " |"

  out = [fmt(header), "|" + "|".join("-" * (wd + 2) for wd in widths) + "|"]
  return "\n".join(out + [fmt(l) for l in lines])


def format_table(rows, sgemm: float) -> str:
  """The headline table: wall-clock medians of the interleaved blocks."""
  header = ("model", "ours steps/s", "torch steps/s [OMP policy]", "ratio",
            "GFLOP/step XLA (analytic)", "ours GFLOP/s", "torch GFLOP/s",
            "% SGEMM ours (torch)")
  lines = []
  for r in rows:
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
        f"{r['xla_flops_per_step'] / 1e9:.3f} "
        f"({r['analytic_flops_per_step'] / 1e9:.3f})",
        f"{r['ours_gflops']:.1f}",
        f"{r['torch_gflops']:.1f}" if has_torch else "-",
        f"{pct:.0f}%{pct_t}"))
  return _table(header, lines)


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
  return _table(header, lines)


def environment(with_torch) -> dict:
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


def parse_args(argv=None):
  p = argparse.ArgumentParser(
      prog="python -m benchmarks.vae_throughput",
      description="Train-step throughput of the VAE against PyTorch (CPU).")
  p.add_argument("--steps", type=int, default=None,
                 help="steps per timed block for both implementations "
                 "(default: calibrated so a block lasts --block-seconds)")
  p.add_argument("--block-seconds", type=float, default=1.5,
                 help="target length of a timed block when --steps is not "
                 "given")
  p.add_argument("--rounds", type=int, default=5,
                 help="alternating timed blocks per implementation")
  p.add_argument("--warmup", type=int, default=3,
                 help="untimed steps after compilation")
  p.add_argument("--models", default="mlp,conv",
                 help="comma-separated subset of " + ",".join(MODELS))
  p.add_argument("--config", default=None,
                 help="use this variant of experiments/configs/vae.py for "
                 "every model instead (e.g. 'smoke', for tests)")
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
                 help="also run the clearly labelled larger-batch MLP rows")
  p.add_argument("--sgemm-n", type=int, default=2048,
                 help="size of the numpy float32 reference matmul")
  p.add_argument("--json", default=None, help="write all figures here")
  return p.parse_args(argv)


def run(args, argv=None) -> dict:
  from experiments.configs import vae as vae_configs

  load_start = os.getloadavg()
  models = [m.strip() for m in args.models.split(",") if m.strip()]
  for m in models:
    if m not in MODELS:
      raise SystemExit(f"unknown model '{m}'; choose from {list(MODELS)}")
  with_torch = not args.no_torch and torch_available()
  if not args.no_torch and not with_torch:
    print("torch is not installed (pip install -e .[benchmark]); timing "
          "our step only.", file=sys.stderr)
  torch_threads = args.torch_threads or os.cpu_count()
  policies = tuple(p.strip() for p in args.omp_wait_policies.split(",")
                   if p.strip()) if with_torch else ()
  for p in policies:
    if p not in OMP_POLICIES:
      raise SystemExit(f"unknown OMP_WAIT_POLICY '{p}'; choose from "
                       f"{OMP_POLICIES}")
  with_torch = with_torch and bool(policies)
  if with_torch:
    how = "--torch-threads" if args.torch_threads else "os.cpu_count()"
    print(f"PyTorch threads: torch.set_num_threads({how}) = "
          f"{torch_threads}; OMP_WAIT_POLICY variants: {policies}",
          file=sys.stderr)

  def config_for(m):
    c = vae_configs.get_config(args.config or MODELS[m])
    if args.config:
      c.model.architecture = m
    return c

  sgemm_before = sgemm_gflops(args.sgemm_n)
  plan = [(m, m, None) for m in models]
  if args.extra:
    plan += [e for e in EXTRA_ROWS if e[1] in models]
  rows = []
  for label, m, batch_size in plan:
    rows.append(benchmark_row(
        label, config_for(m), steps=args.steps,
        block_seconds=args.block_seconds, rounds=args.rounds,
        warmup=args.warmup, torch_policies=policies, batch_size=batch_size,
        torch_threads=torch_threads))
  sgemm_after = sgemm_gflops(args.sgemm_n)
  sgemm = max(sgemm_before, sgemm_after)
  sgemm_cpu = sgemm_gflops_per_cpu_second(args.sgemm_n)
  for r in rows:
    r["ours_pct_sgemm"] = 100 * r["ours_gflops"] / sgemm
    r["ours_pct_sgemm_per_cpu_s"] = 100 * r["ours_gflops_per_cpu_s"] / sgemm_cpu
    if with_torch:
      r["torch_pct_sgemm"] = 100 * r["torch_gflops"] / sgemm
      r["torch_pct_sgemm_per_cpu_s"] = (100 * r["torch_gflops_per_cpu_s"]
                                        / sgemm_cpu)
  env = environment(with_torch)
  if with_torch:
    env["torch_threads"] = torch_threads
    env["omp_wait_policies"] = list(policies)
  env["loadavg_at_start"] = load_start
  env["loadavg_at_end"] = os.getloadavg()
  args_used = sys.argv[1:] if argv is None else list(argv)
  return {"command": " ".join(["python -m benchmarks.vae_throughput"]
                              + args_used),
          "environment": env,
          "sgemm_gflops": sgemm, "sgemm_gflops_before": sgemm_before,
          "sgemm_gflops_after": sgemm_after,
          "sgemm_gflops_per_cpu_s": sgemm_cpu, "rows": rows}


def main(argv=None):
  args = parse_args(argv)
  result = run(args, argv)
  env = result["environment"]
  print(f"jax {env['jax']} ({env['jax_backend']}), "
        + (f"torch {env['torch']} ({env['torch_threads']} threads, "
           f"OMP_WAIT_POLICY in {env['omp_wait_policies']}, best shown), "
           if "torch" in env else "")
        + f"{env['cpu_count']} CPUs ({env['cpus_usable']} usable), load avg "
        f"{env['loadavg_at_start'][0]:.1f} -> {env['loadavg_at_end'][0]:.1f}")
  print(f"SGEMM (numpy {args.sgemm_n}^2 float32, best of 8): "
        f"{result['sgemm_gflops']:.1f} GFLOP/s "
        f"(before {result['sgemm_gflops_before']:.1f}, after "
        f"{result['sgemm_gflops_after']:.1f}); "
        f"{result['sgemm_gflops_per_cpu_s']:.1f} GFLOP per CPU-second")
  for r in result["rows"]:
    print(f"{r['model']}: {r['architecture']}, batch {r['batch_size']}")
  print(format_table(result["rows"], result["sgemm_gflops"]))
  print("CPU-time view (CPU-seconds of this process per step):")
  print(format_cpu_table(result["rows"], result["sgemm_gflops_per_cpu_s"]))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == "__main__":
  main()

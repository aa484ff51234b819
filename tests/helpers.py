"""Helpers shared by the test modules (no test module imports another).

Sections:
- XLA flags: the suite's flags, set here before jax is imported (tests/
  conftest.py imports this module first); `subprocess_xla_flags` for a
  test's subprocess.
- The CLI (`python -m experiments.train`) in a subprocess: `REPO`, `env`,
  `run_cli`, `describe`, `TIMEOUT_S`.
- Smoke sizes: `smoke_config(spec)` shrinks a production config (one table of
  per-family model sizes plus the generic train overrides, and one entry per
  study config); `smoke_flags` gives the same as CLI flags.
- Smoke runs of a config checked end to end: `Case`, `start_cli`,
  `run_in_process`, `check_run`, `smoke_runs_fixture`.
- The trainer: a cached data set, checkpoint restore, metrics.jsonl reading,
  and the test-only 'nan_vae' family (`register_nan_vae`).
- Flows and exact-likelihood models: perturbed parameters, flat Jacobians,
  keys and data.
- VAE family: `vae_config`, `synthetic_batch`.
- Input validation: array makers, `assert_raises_naming`,
  `invalid_input_test`.
"""

import os

# ---------------------------------------------------------------- XLA flags

# Tests compile many small programs once each: XLA:CPU's backend at -O0
# compiles ~35% faster and the programs are too small for its optimisations
# to matter. Set before jax is imported (below); subprocesses get it through
# `subprocess_xla_flags` (`env` and the multi-process tests).
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def subprocess_xla_flags(extra: str = "") -> str:
  """XLA_FLAGS for a test's subprocess: the suite's flags plus `extra`."""
  return f"{TEST_XLA_FLAGS} {extra}".strip()


# JAX's persistent compilation cache, shared by the test workers and their
# subprocesses: many tests build the same small models and compile the same
# programs (the CLI run and the in-process runs of a config, the trainer
# tests' VAE step); each is compiled once per suite run instead (~20% less
# CPU time). Keys include the program and the jax/XLA versions and flags.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(
    "/tmp", f"gdm_jax_test_xla_cache_{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (f"{os.environ.get('XLA_FLAGS', '')} "
                             f"{TEST_XLA_FLAGS}").strip()

# pylint: disable=g-import-not-at-top,wrong-import-position
import dataclasses
import importlib
import json
import math
import pathlib
import re
import subprocess
import sys
import traceback
import types
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import gan as gan_configs
from gdm_jax import data as data_lib
from gdm_jax import models
from gdm_jax.flows import flatten_latents
from gdm_jax.models import vae
# pylint: enable=g-import-not-at-top,wrong-import-position


# ------------------------------------------------------------------ the CLI

REPO = pathlib.Path(__file__).resolve().parents[1]
# Generous: a smoke run takes ~40 s alone on 2 cores, several times that when
# other jobs share the CPU. A hang must fail, not block the suite.
TIMEOUT_S = 300


def env(devices: int | None = None) -> dict:
  """The environment of a CLI subprocess: CPU only, the suite's XLA flags,
  `devices` simulated host devices if given."""
  e = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
  e["XLA_FLAGS"] = subprocess_xla_flags(
      f"--xla_force_host_platform_device_count={devices}" if devices else "")
  return e


def _text(out) -> str:
  if out is None:
    return ""
  return out.decode(errors="replace") if isinstance(out, bytes) else out


def run_cli(*args: str, devices: int | None = None,
            timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
  """Runs the entry point; fails the test (with the stderr tail) on timeout."""
  cmd = [sys.executable, "-m", "experiments.train", *args]
  try:
    return subprocess.run(cmd, cwd=REPO, env=env(devices), capture_output=True,
                          text=True, timeout=timeout, check=False)
  except subprocess.TimeoutExpired as e:
    hint = (f" (with {devices} simulated CPU devices: sharded steps may have "
            "deadlocked)" if devices and devices > 1 else "")
    pytest.fail(f"`{' '.join(cmd[1:])}` did not finish within {timeout:.0f} s"
                f"{hint}; it was killed. stderr tail:\n"
                f"{_text(e.stderr)[-3000:]}", pytrace=False)


def describe(proc: subprocess.CompletedProcess) -> str:
  """Exit status and the tails of stdout and stderr, for assertion messages."""
  return (f"{' '.join(map(str, proc.args))}\nexit status {proc.returncode}\n"
          f"--- stdout tail:\n{proc.stdout[-2000:]}\n--- stderr tail:\n"
          f"{proc.stderr[-4000:]}")


# -------------------------------------------------------------- smoke sizes

# Every smoke run: 3 steps, an evaluation and a checkpoint at the end, 100
# evaluation examples, no sample metrics, no learning-rate warm-up.
_TRAIN = dict(num_steps=3, log_every=1, eval_every=3, checkpoint_every=3,
              eval_batch_size=100, eval_examples=100, final_eval_examples=100,
              final_eval_batch_size=100)
_EVAL_200 = dict(eval_batch_size=200, eval_examples=200,
                 final_eval_examples=200, final_eval_batch_size=200)
_AUTOENCODER = dict(model=dict(hidden=(16,), discriminator_hidden=(16,)),
                    train=dict(batch_size=20), eval=dict(num_samples=100))
_GAN = dict(
    model=dict(generator_hidden=(16,), discriminator_hidden=(16,),
               generator_channels=(8, 4), discriminator_channels=(4, 8),
               cramer_dim=4, latent_dim=4),
    train=dict(batch_size=lambda c: batch_of_minibatches(c, 8), **_EVAL_200),
    eval=dict(num_samples=200, periodic_num_samples=0))
_FLOW = dict(
    model=dict(hidden=4, num_levels=2, num_couplings=1, num_steps=1,
               num_blocks=1, nice_num_couplings=2, nice_hidden_layers=1,
               toy_num_layers=2, toy_hidden=8, dequant_hidden=4,
               dequant_num_couplings=1),
    optimizer=dict(warmup_steps=2), train=dict(batch_size=16, log_every=3))

# Per family (`_family`): the sizes of its networks and what it changes of
# the generic overrides; a callable value is computed from the config after
# the other overrides.
SMOKE = {
    "aae": _AUTOENCODER,
    "wae": _AUTOENCODER,
    "avb": dict(
        model=dict(hidden=(32,), latent_dim=4, noise_dim=4,
                   discriminator_hidden=(16,), discriminator_embedding_dim=8,
                   discriminator_steps=2, contrast_samples=4,
                   eval_num_samples=20, eval_chunk_size=10,
                   eval_proposal_samples=8, eval_proposal_scales=(1.0, 2.0)),
        train=dict(batch_size=32), eval=dict(num_samples=100)),
    "cfg": dict(
        model=dict(latent_dim=4, approximator_hidden=(16,),
                   discriminator_hidden=(16,), num_stages=2,
                   stage_batch_size=8, pool_size=32, approximator_epochs=2,
                   approximator_batch_size=8),
        train=dict(eval_examples=200, final_eval_examples=200,
                   batch_size=lambda c: (c.model.num_stages
                                         * c.model.discriminator_updates
                                         * c.model.stage_batch_size))),
    "gan": _GAN,
    "gan_toy": _GAN | dict(data=dict(toy_num_train=1000,
                                     toy_num_validation=200,
                                     toy_num_test=200)),
    "flow": _FLOW,
    "flow_toy": _FLOW | dict(eval=dict(num_samples=200)),
    "gumbel_vae": dict(
        model=dict(hidden=(32, 16), num_latents=4, num_classes=3,
                   anneal_rate=0.1, anneal_every=2, eval_num_samples=20,
                   eval_chunk_size=10),
        train=dict(batch_size=32)),
    "helmholtz": dict(
        model=dict(latent_sizes=(8, 4), hidden=(16,), eval_num_samples=20,
                   eval_chunk_size=10),
        train=dict(batch_size=16), eval=dict(num_samples=100)),
    "pixelcnn": dict(model=dict(num_layers=2, channels=8, first_kernel_size=3),
                     train=dict(batch_size=16, **_EVAL_200)),
    # The plain VAE runs 20 steps (tests/test_cli.py compares curves).
    "vae": dict(
        model=dict(hidden=(64,), conv_channels=(8, 16), conv_hidden=32,
                   latent_dim=4, eval_num_samples=20, eval_chunk_size=10),
        train=dict(batch_size=32, num_steps=20, log_every=5, eval_every=10,
                   checkpoint_every=10, **_EVAL_200)),
    "vae_flow": dict(
        model=dict(hidden=(32,), latent_dim=4, posterior_flow_steps=2,
                   posterior_context_dim=8, posterior_flow_hidden=(8,),
                   prior_flow_steps=2, prior_flow_hidden=8,
                   eval_num_samples=20, eval_chunk_size=10),
        train=dict(batch_size=32, **_EVAL_200)),
}


def _disjoint_supports_smoke(c: ml_collections.ConfigDict) -> None:
  """5 θ values, small nets, 300 steps."""
  c.update(num_theta=5, quadrature_order=16, w1_num_samples=200)
  for critic in c.critics.values():
    critic.update(hidden=(32, 32), num_steps=300, batch_size=64)


def _kantorovich_rubinstein_smoke(c: ml_collections.ConfigDict) -> None:
  """Two pairs, the one-sided GP critic and c = 0.01 clipping, small nets,
  400 steps."""
  c.pairs = c.pairs[:2]
  c.quadrature.num_panels = 96
  del c.critics["clip_c01"]
  del c.critics["gp"]
  for critic in c.critics.values():
    critic.update(hidden=(32, 32), num_steps=400, batch_size=128)
  c.critics.gp_one_sided.optimizer.learning_rate = 1e-2


def _mode_collapse_smoke(c: ml_collections.ConfigDict) -> None:
  """Tiny nets, 6 steps, 1 seed, records every 3 steps, small toy sets."""
  c.study.update(num_steps=6, record_every=3, snapshot_steps=(0, 6),
                 seeds=(0,), eval_samples=200, w1_points=100,
                 scatter_points=200)
  for arm in c.arms.values():
    arm.model.update(generator_hidden=(16,), discriminator_hidden=(16,),
                     latent_dim=2)
    arm.train.update(num_steps=c.study.num_steps,
                     batch_size=16 * arm.model.critic_steps)
    arm.data.update(toy_num_train=1000, toy_num_validation=200,
                    toy_num_test=200)


# The studies (experiments/configs/*_study.py, not trained by the CLI): per
# config file, a table of the fields to set (as in SMOKE) or a function that
# shrinks the config in place.
STUDY_SMOKE = {
    "disjoint_supports_study": _disjoint_supports_smoke,
    # Tiny nets, 30 steps, with a fast discriminator (lr 1e-2, k = 5) so that
    # it rejects fakes confidently within seconds: the regime of the claim.
    "gan_scaling_study": dict(
        model=dict(generator_hidden=(32,), discriminator_hidden=(32,),
                   latent_dim=8, discriminator_dropout=0.0, critic_steps=5),
        train=dict(batch_size=5 * 16),
        optimizer=dict(discriminator=dict(learning_rate=1e-2)),
        study=dict(num_steps=30, record_every=5, probe_size=64,
                   quality_every=15, quality_size=50, early_steps=30)),
    # A 784-32-z4 VAE never trained, on synthetic images; S = 1, 4, 16.
    "gradient_estimator_study": dict(
        model=dict(hidden=(32,), latent_dim=4),
        train=dict(batch_size=32),
        study=dict(sample_sizes=(1, 4, 16), baseline_samples=200,
                   gaussian_reps=3000, categorical=dict(num_classes=4),
                   categorical_reps=3000, vae_train_steps=0,
                   vae_data="synthetic", vae_batch=4, vae_reps=200,
                   vae_reference_reps=400)),
    "kantorovich_rubinstein_study": _kantorovich_rubinstein_smoke,
    "mode_collapse_study": _mode_collapse_smoke,
    # Coarser grids, fewer steps, three starts.
    "mode_seeking_study": dict(
        quadrature=dict(num_panels=300),
        fit=dict(num_steps=1500,
                 inits=((-3.0, 1.0), (0.5, 1.0), (3.0, 1.0))),
        monte_carlo=dict(num_samples=20_000),
        landscape=dict(num_mu=41, num_sigma=30)),
    # 3 values of μ, 2 x 32 MLP, 1500 steps, 2 seeds x 300 steps of the
    # gradient part.
    "optimal_discriminator_study": dict(
        study=dict(mus=(-1.0, 0.0, 3.0), plot_mus=(0.0, 3.0),
                   discriminator_hidden=(32, 32), num_steps=1500,
                   batch_size=512, grid_points=4001, mc_samples=20_000,
                   gradient_seeds=2, gradient_steps=300,
                   gradient_record_every=30, gradient_batch=1024),
        optimizer=dict(learning_rate=3e-3)),
}


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
  """{'model': {'hidden': 4}} -> {'model.hidden': 4}."""
  fields = {}
  for key, value in table.items():
    if isinstance(value, dict):
      fields.update(_flatten(value, f"{prefix}{key}."))
    else:
      fields[prefix + key] = value
  return fields


def _stem(spec: str) -> str:
  return pathlib.Path(spec.partition(":")[0]).name.removesuffix(".py")


def _family(config: ml_collections.ConfigDict) -> str:
  """The SMOKE key of a config: its model name, with '_flow' for a VAE with a
  flow and '_toy' for a GAN or flow on a toy data set."""
  name, model = config.model.name, config.model
  if name == "vae" and (model.posterior_flow, model.prior_flow) != ("none",
                                                                   "none"):
    return "vae_flow"
  if name in ("gan", "flow") and "toy_num_train" in config.data:
    return f"{name}_toy"
  return name


def config_arg(spec: str) -> str:
  """'vae.py:planar', 'vae:planar' or 'experiments/configs/vae.py:planar'
  -> 'experiments/configs/vae.py:planar' (the CLI's --config value)."""
  path, _, variant = spec.partition(":")
  stem = pathlib.Path(path).name.removesuffix(".py")
  return f"experiments/configs/{stem}.py" + (f":{variant}" if variant else "")


def production_config(spec: str) -> ml_collections.ConfigDict:
  """The config file's `get_config(variant)` (its default without one)."""
  path, _, variant = config_arg(spec).partition(":")
  module = importlib.import_module(
      f"experiments.configs.{pathlib.Path(path).stem}")
  return module.get_config(variant) if variant else module.get_config()


def optimizer_chains(c: ml_collections.ConfigDict
                     ) -> dict[str, ml_collections.ConfigDict]:
  """{'optimizer': chain} of a one-optimizer config, {'optimizer.generator':
  ..., 'optimizer.discriminator': ...} (one per player) otherwise."""
  if "learning_rate" in c.optimizer:
    return {"optimizer": c.optimizer}
  return {f"optimizer.{k}": v for k, v in c.optimizer.items()}


def batch_of_minibatches(c: ml_collections.ConfigDict, minibatch: int) -> int:
  """The trainer batch holding `minibatch` examples per update: a GAN's
  holds one per critic update (and the Cramér generator's own)."""
  if c.model.name == "gan":
    return minibatch * gan_configs.minibatches(c)
  return minibatch


def smoke_overrides(spec: str) -> dict[str, Any]:
  """{'train.num_steps': 3, ...}: every field that `smoke_config(spec)` sets,
  with its value."""
  c = production_config(spec)
  fields = {f"train.{k}": v for k, v in _TRAIN.items()}
  fields["eval.sample_metrics"] = False
  for prefix, chain in optimizer_chains(c).items():
    if "warmup_steps" in chain:
      fields[f"{prefix}.warmup_steps"] = 0
  fields.update(_flatten(SMOKE[_family(c)]))
  static = {k: v for k, v in fields.items() if not callable(v)}
  _apply(c, static)
  computed = {k: v(c) for k, v in fields.items() if callable(v)}
  return static | computed


def _apply(c: ml_collections.ConfigDict, fields: dict[str, Any]) -> None:
  for path, value in fields.items():
    *parents, leaf = path.split(".")
    node = c
    for name in parents:
      node = node[name]
    if leaf not in node:
      raise KeyError(f"smoke override of a missing field {path}")
    node[leaf] = value


def smoke_config(spec: str, **train) -> ml_collections.ConfigDict:
  """The production config of `spec` ('vae.py:planar', 'gan', ...) shrunk to
  a smoke run: `SMOKE`'s sizes for its family and the generic overrides
  (3 steps, evaluation and checkpoint at step 3, 100 or 200 evaluation
  examples, no sample metrics, no warm-up); a study's (`STUDY_SMOKE`) for
  experiments/configs/*_study.py. Then the `config.train` fields `train`.

  Raises:
    KeyError: an override of a field that the config does not have.
  """
  c = production_config(spec)
  change = STUDY_SMOKE.get(_stem(spec))
  if change is None:
    _apply(c, smoke_overrides(spec))
  elif callable(change):
    change(c)
  else:
    _apply(c, _flatten(change))
  _apply(c, {f"train.{k}": v for k, v in train.items()})
  return c


def smoke_flags(spec: str) -> list[str]:
  """The CLI arguments of `smoke_config(spec)`: --config=FILE[:VARIANT] and
  one --config.FIELD=VALUE per override."""
  flags = [f"--config={config_arg(spec)}"]
  for path, value in smoke_overrides(spec).items():
    flags.append(f"--config.{path}="
                 f"{value if isinstance(value, str) else repr(value)}")
  return flags


# ---------------------------------------------------------- checked smoke runs

@dataclasses.dataclass(frozen=True)
class Case:
  """One config's smoke run and what it must produce.

  spec: 'FILE.py[:VARIANT]' (see `smoke_config`).
  protocol: entries final_metrics.json's protocol must have.
  final: final metrics that must be finite.
  train: train metrics that must be finite at every logged step.
  images: name prefixes of the PNGs the run must write.
  cli: run through `python -m experiments.train` (a subprocess) rather than
    `run_in_process`; each family has one CLI run.
  check: family checks, called as check(train_records, final_metrics_json,
    smoke_config).
  """
  spec: str
  protocol: dict
  final: tuple[str, ...]
  train: tuple[str, ...] = ("loss",)
  images: tuple[str, ...] = ("samples",)
  cli: bool = False
  check: Callable[[dict, dict, ml_collections.ConfigDict], None] | None = None

  def __str__(self):
    return self.spec


def start_cli(spec: str, workdir: pathlib.Path) -> subprocess.Popen:
  """Starts the smoke run of `spec` through the CLI; its stdout and stderr go
  to WORKDIR.stdout / WORKDIR.stderr (files: no pipe to fill)."""
  out = open(f"{workdir}.stdout", "w")   # pylint: disable=consider-using-with
  err = open(f"{workdir}.stderr", "w")   # pylint: disable=consider-using-with
  cmd = [sys.executable, "-m", "experiments.train", *smoke_flags(spec),
         f"--workdir={workdir}"]
  with out, err:
    return subprocess.Popen(cmd, cwd=REPO, env=env(), text=True, stdout=out,
                            stderr=err)


def wait_cli(proc: subprocess.Popen, workdir: pathlib.Path,
             timeout: float) -> subprocess.CompletedProcess:
  """Waits for a `start_cli` run (killed after `timeout` s, which stderr
  then says)."""
  note = ""
  try:
    proc.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    note = f"\n[killed after {timeout:.0f} s of waiting]"
  read = lambda suffix: pathlib.Path(f"{workdir}{suffix}").read_text()
  return subprocess.CompletedProcess(proc.args, proc.returncode,
                                     read(".stdout"), read(".stderr") + note)


def run_in_process(config: ml_collections.ConfigDict, workdir,
                   name: str = "") -> subprocess.CompletedProcess:
  """Trains `config` into `workdir` with this process's `train_and_evaluate`,
  like the CLI (trainer options added, config locked), sharing imports and
  loaded data with the rest of the tests; `name` labels it in messages.

  Returns CompletedProcess(args, returncode 0 or 1, stdout '', stderr = the
  traceback of a failure), so the CLI's checks apply unchanged.
  """
  from gdm_jax.train.options import with_trainer_defaults  # pylint: disable=g-import-not-at-top
  from gdm_jax.train import loop  # pylint: disable=g-import-not-at-top
  args = ["in-process", name, f"--workdir={workdir}"]
  try:
    config = with_trainer_defaults(config)
    config.lock()
    with pytest.MonkeyPatch.context() as mp:
      patch_data_cache(mp)
      loop.train_and_evaluate(config, str(workdir))
  except Exception:  # pylint: disable=broad-except
    return subprocess.CompletedProcess(args, 1, "", traceback.format_exc())
  return subprocess.CompletedProcess(args, 0, "", "")


def check_run(case: Case, proc: subprocess.CompletedProcess,
              workdir: pathlib.Path) -> None:
  """The checks every smoke run passes: exit 0 without a traceback, finite
  `case.train` metrics at every logged step, final_metrics.json with finite
  `case.final` metrics and `case.protocol`, the `case.images` PNGs; then
  `case.check`."""
  assert proc.returncode == 0, describe(proc)
  assert "Traceback" not in proc.stderr, describe(proc)
  config = smoke_config(case.spec)
  t = config.train
  train = train_records(read_metrics(workdir))
  assert sorted(train) == list(range(t.log_every, t.num_steps + 1,
                                     t.log_every)), sorted(train)
  for step, record in train.items():
    for key in case.train:
      assert math.isfinite(record[key]), (step, key, record)
  final = json.loads((workdir / "final_metrics.json").read_text())
  for key in case.final:
    assert math.isfinite(final["metrics"][key]), (key, final["metrics"])
  protocol = final["protocol"]
  expected = dict(case.protocol, num_examples=t.final_eval_examples)
  assert {k: protocol.get(k) for k in expected} == expected, protocol
  pngs = [p.name for p in (workdir / "images").rglob("*.png")]
  for prefix in case.images:
    assert any(p.startswith(prefix) for p in pngs), (prefix, sorted(pngs))
  if case.check:
    case.check(train, final, config)


def smoke_runs_fixture(cases: list[Case]):
  """A module fixture `smoke_runs` for a test module's `cases`.

  At set-up it starts the smoke runs of the selected CLI cases (subprocesses,
  concurrently); `smoke_runs(case)` then returns (CompletedProcess, workdir):
  an in-process case trains now, a CLI case is waited for. List the CLI
  cases last, so that they train while the in-process ones do.
  """
  @pytest.fixture(scope="module", name="smoke_runs")
  def fixture(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    workdir = lambda case: root / re.sub(r"\W", "_", case.spec)
    selected = set()   # the cases this session runs (-k may deselect some)
    for item in request.session.items:
      params = getattr(getattr(item, "callspec", None), "params", {})
      if item.module is request.module and "case" in params:
        selected.add(params["case"].spec)
    procs = {case.spec: start_cli(case.spec, workdir(case))
             for case in cases if case.cli and case.spec in selected}

    def run(case: Case):
      if case.cli:
        done = wait_cli(procs.pop(case.spec), workdir(case), 2 * TIMEOUT_S)
      else:
        done = run_in_process(smoke_config(case.spec), workdir(case),
                              case.spec)
      return done, workdir(case)

    yield run
    for proc in procs.values():   # not waited for (a failed set-up)
      proc.kill()
      proc.wait()
  return fixture


# ------------------------------------------------------------------ trainer

# The 'nan_vae' family (`register_nan_vae`): the VAE whose train step reports
# loss = NaN once `state.step >= NAN_FROM_STEP` (the state *before* the
# update), i.e. from the trainer's step NAN_FROM_STEP + 1 on. Params stay
# finite. Set config.model.name = NAN_FAMILY to use it.
NAN_FROM_STEP = 12
NAN_FAMILY = "nan_vae"

_ORIGINAL_LOAD = data_lib.load
_DATA_CACHE = {}


def cached_load(data_config):
  """`gdm_jax.data.load`, memoised on the data config (the decoded splits
  come from the data cache that scripts/test.sh warms; the arrays are
  read-only for the trainer)."""
  key = json.dumps(data_config.to_dict(), sort_keys=True)
  if key not in _DATA_CACHE:
    _DATA_CACHE[key] = _ORIGINAL_LOAD(data_config)
  return _DATA_CACHE[key]


def patch_data_cache(monkeypatch) -> None:
  monkeypatch.setattr(data_lib, "load", cached_load)


def restore_checkpoint(workdir: str, config, step: int | None = None):
  """(latest_step, restored TrainState) of WORKDIR/checkpoints."""
  from gdm_jax.train.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top
  dataset = cached_load(config.data)
  model = models.make(config, dataset.info)
  example = dataset.train_batch(0, config.train.batch_size, int(config.seed), 0, 1)
  like = model.init(jax.random.PRNGKey(0), jax.tree.map(jnp.asarray, example))
  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    latest = ckpt.latest_step()
    assert latest is not None, f"no checkpoint in {ckpt.directory}"
    return latest, ckpt.restore(like, step)
  finally:
    ckpt.close()


def read_metrics(workdir) -> list[dict]:
  """WORKDIR/metrics.jsonl, one dict per line (fails on invalid JSON)."""
  path = os.path.join(workdir, "metrics.jsonl")
  with open(path) as f:
    lines = [line for line in f.read().splitlines() if line.strip()]
  records = []
  for i, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError as e:
      raise AssertionError(f"{path}:{i + 1} is not JSON: {line!r}") from e
  return records


def train_records(records: list[dict]) -> dict[int, dict]:
  """{step: record} of the 'train' records; fails on a step logged twice."""
  out = {}
  for r in records:
    if r["split"] == "train":
      assert r["step"] not in out, f"train step {r['step']} logged twice"
      out[r["step"]] = r
  return out


def train_losses(records: list[dict]) -> dict[int, float]:
  """{step: loss} of the 'train' records."""
  return {step: r["loss"] for step, r in train_records(records).items()}


def all_finite(tree) -> bool:
  return all(bool(np.all(np.isfinite(np.asarray(x))))
             for x in jax.tree.leaves(tree)
             if np.issubdtype(np.asarray(x).dtype, np.floating))


def make_nan_vae(config, dataset_info):
  """The 'nan_vae' family's `make` (see NAN_FROM_STEP)."""
  model = vae.make(config, dataset_info)

  def train_step(state, batch, rng):
    new_state, metrics = model.train_step(state, batch, rng)
    loss = jnp.where(state.step >= NAN_FROM_STEP, jnp.nan, metrics["loss"])
    return new_state, {**metrics, "loss": loss}

  return dataclasses.replace(model, train_step=train_step)


def register_nan_vae(monkeypatch) -> None:
  """Makes `models.make` build NAN_FAMILY for the test: a module holding
  `make_nan_vae` as `make`, registered in models.FAMILIES."""
  module = types.ModuleType("tests._nan_vae_family")
  module.make = make_nan_vae
  monkeypatch.setitem(sys.modules, module.__name__, module)
  monkeypatch.setitem(models.FAMILIES, NAN_FAMILY, module.__name__)


# ------------------------------------------------- flows and exact likelihood

def perturb(variables, seed=0, scale=0.1):
  """Adds N(0, scale²) noise to every trainable parameter (not 'constants').

  Makes zero-initialised last layers non-zero, so the tests see non-trivial
  bijectors rather than the identity they start as. The noise comes from
  numpy: jax.random would compile a sampler per parameter shape (seconds).
  """
  if "params" not in variables:
    return variables
  rng = np.random.default_rng(seed)
  noisy = jax.tree.map(
      lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype),
      variables["params"])
  return {**variables, "params": noisy}


def flat(out):
  """An output (array or tuple of latents) as [B, D]."""
  if isinstance(out, (tuple, list)):
    return flatten_latents(out)
  return out.reshape(out.shape[0], -1)


def per_example_slogdet(fn, x):
  """log|det ∂fn/∂x| for each example of x [B, ...], from jax.jacfwd.

  fn maps a batch to (output, log_det); each example is run as a batch of
  one and its output flattened, so the Jacobian is [D, D].
  """
  shape = x.shape[1:]

  def flat_fn(x_flat):  # [D] -> [D]
    return flat(fn(x_flat.reshape((1,) + shape))[0])[0]

  def one(x_single):
    jac = jax.jacfwd(flat_fn)(x_single.reshape(-1))
    sign, logdet = jnp.linalg.slogdet(jac)
    return sign, logdet

  return jax.vmap(one)(x)


def key(seed=0):
  """A PRNG key for `init`. The RngBitGenerator implementation compiles in a
  fraction of threefry's time on CPU (5 s -> 1 s for the multiscale flow's
  init); the tests need random, not reproducible-across-backends, values."""
  return jax.random.key(seed, impl="unsafe_rbg")


def normal(shape, seed=0, dtype=np.float32):
  """Standard-normal test data from numpy (no per-shape jax compile)."""
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def uniform(shape, seed=0, dtype=np.float32):
  """U(0, 1) test data from numpy."""
  return jnp.asarray(np.random.default_rng(seed).uniform(size=shape), dtype)


# --------------------------------------------------------------- VAE family

def vae_config(variant: str = "", **model):
  """experiments/configs/vae.py shrunk by `smoke_config` (or, given a
  variant, that production variant) with a constant learning rate, no
  warm-up, and the given `config.model` fields."""
  cfg = (production_config(f"vae.py:{variant}") if variant
         else smoke_config("vae.py"))
  cfg.optimizer.schedule = "constant"
  cfg.optimizer.warmup_steps = 0
  for k, v in model.items():
    setattr(cfg.model, k, v)
  return cfg


def synthetic_batch(n=32, shape=(28, 28, 1)):
  """Four fixed binary patterns (stripes, blocks), repeated: {'image': uint8
  {0, 255} [n, H, W, 1], 'label': int32 [n]}."""
  h, w, _ = shape
  yy, xx = np.mgrid[:h, :w]
  patterns = [(yy // 4) % 2, (xx // 4) % 2, (yy < h // 2), ((yy + xx) // 7) % 2]
  images = np.stack([patterns[i % 4] for i in range(n)])[..., None]
  return {"image": jnp.asarray(images * 255, jnp.uint8),
          "label": jnp.asarray(np.arange(n) % 4, jnp.int32)}


# --------------------------------------------------------- input validation
#
# A module's test file lists its invalid calls and builds one parametrised
# test from them:
#
#   INVALID = [("id", lambda: fn(bad input), ["module.fn", "`arg`", "(4,)"]),
#              ...]
#   test_invalid_inputs = invalid_input_test(INVALID)

def f(*shape):
  """float32 ones of `shape`."""
  return jnp.ones(shape, jnp.float32)


def i(*shape):
  """int32 ones of `shape`."""
  return jnp.ones(shape, jnp.int32)


def u8(*shape):
  """uint8 zeros of `shape`."""
  return jnp.zeros(shape, jnp.uint8)


def assert_raises_naming(call, expected) -> None:
  """`call()` raises ValueError whose message contains every string of
  `expected` (the function, the argument, the shape/dtype it got)."""
  with pytest.raises(ValueError) as info:
    call()
  message = str(info.value)
  missing = [part for part in expected if part not in message]
  assert not missing, f"{missing} not in: {message}"


def invalid_input_test(cases, model=None):
  """A pytest test over `cases`, (id, call, substrings of the message)
  triples: each `call()` (or `call(model())` when a model factory is given)
  raises ValueError naming the function, the argument and the shape/dtype
  (or value) it got. Assign it to a module-level name that starts with
  `test_` for pytest to collect it."""

  @pytest.mark.parametrize("call, expected",
                           [pytest.param(c, e, id=name)
                            for name, c, e in cases])
  def test(call, expected):
    assert_raises_naming((lambda: call(model())) if model else call, expected)

  return test

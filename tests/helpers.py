"""Helpers shared by the test modules (no test module imports another).

- The CLI (`python -m experiments.train`) in a subprocess: `REPO`, `env`,
  `run_cli`, `describe`, `TIMEOUT_S`.
- Smoke sizes: `smoke_config(spec)` shrinks a production config (one table of
  per-family model sizes plus the generic train overrides); `smoke_flags`
  gives the same as CLI flags.
- Smoke runs of a config checked end to end: `Case`, `start_cli`,
  `run_in_process`, `check_run`.
"""

import dataclasses
import importlib
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import traceback
from typing import Any, Callable

import ml_collections
import pytest

from experiments.configs import gan as gan_configs
from tests.conftest import subprocess_xla_flags
from tests.train._helpers import read_metrics
from tests.train._helpers import train_records

REPO = pathlib.Path(__file__).resolve().parents[1]
# Generous: a smoke run takes ~40 s alone on 2 cores, several times that when
# other jobs share the CPU. A hang must fail, not block the suite.
TIMEOUT_S = 300


# ------------------------------------------------------------------ the CLI

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
    train=dict(batch_size=lambda c: 8 * gan_configs.minibatches(c), **_EVAL_200),
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


def smoke_overrides(spec: str) -> dict[str, Any]:
  """{'train.num_steps': 3, ...}: every field that `smoke_config(spec)` sets,
  with its value."""
  c = production_config(spec)
  flat = {f"train.{k}": v for k, v in _TRAIN.items()}
  flat["eval.sample_metrics"] = False
  chains = ({"optimizer": c.optimizer} if "learning_rate" in c.optimizer else
            {f"optimizer.{k}": v for k, v in c.optimizer.items()})  # players
  for prefix, chain in chains.items():
    if "warmup_steps" in chain:
      flat[f"{prefix}.warmup_steps"] = 0

  def walk(table, prefix):
    for key, value in table.items():
      if isinstance(value, dict):
        walk(value, f"{prefix}{key}.")
      else:
        flat[prefix + key] = value
  walk(SMOKE[_family(c)], "")
  static = {k: v for k, v in flat.items() if not callable(v)}
  _apply(c, static)
  computed = {k: v(c) for k, v in flat.items() if callable(v)}
  return static | computed


def _apply(c: ml_collections.ConfigDict, flat: dict[str, Any]) -> None:
  for path, value in flat.items():
    *parents, leaf = path.split(".")
    node = c
    for name in parents:
      node = node[name]
    if leaf not in node:
      raise KeyError(f"smoke override of a missing field {path}")
    node[leaf] = value


def smoke_config(spec: str) -> ml_collections.ConfigDict:
  """The production config of `spec` ('vae.py:planar', 'gan', ...) shrunk to
  a smoke run: `SMOKE`'s sizes for its family and the generic overrides
  (3 steps, evaluation and checkpoint at step 3, 100 or 200 evaluation
  examples, no sample metrics, no warm-up)."""
  c = production_config(spec)
  _apply(c, smoke_overrides(spec))
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
  from tests.train import _helpers as h  # pylint: disable=g-import-not-at-top
  args = ["in-process", name, f"--workdir={workdir}"]
  try:
    config = with_trainer_defaults(config)
    config.lock()
    with pytest.MonkeyPatch.context() as mp:
      h.patch_data_cache(mp)
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

r"""Trains and evaluates one experiment config.

  python -m experiments.train --config=experiments/configs/vae.py[:variant] \
      --workdir=DIR [--config.FIELD=VALUE ...]

Several processes (hosts): under SLURM, Open MPI or a multi-host TPU slice
the same command runs in every process and `jax.distributed` is initialised
from the launcher's environment; elsewhere pass --coordinator_address=HOST:PORT
--num_processes=N --process_id=I to each process (--cpu_collectives=gloo for
CPU devices).

Starting again in a workdir that has checkpoints resumes the run. A bad flag
or config value prints one line starting with 'error:' and exits with
status 2; a non-finite loss exits with status 3; missing data with status 4;
checkpoints that exist but none of which restores with status 5. SIGTERM
(preemption) checkpoints the current step and exits with status 143; running
the same command again resumes.
"""

import logging as py_logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Region-based copy insertion removes copies of the donated weight matrices
# from the CPU train step (+5% steps/s for the MLP VAE, benchmarks/README.md).
# Set before jax is imported; the flag only affects the CPU backend.
_XLA_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"
if "xla_cpu_copy_insertion_use_region_analysis" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_XLA_FLAG}".strip()

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags
from ml_collections.config_flags import config_flags as config_flags_lib

from gdm_jax.train.options import with_trainer_defaults  # noqa: E402


class _ConfigFileParser(config_flags_lib.ConfigFileFlagParser):
  """Loads a config file, adds the trainer's optional fields, then locks it
  (so --config.train.num_seeds=4 works for every config, and a misspelt
  field is still an error)."""

  def __init__(self, name):
    super().__init__(name=name, lock_config=False)

  def parse(self, path):
    config = with_trainer_defaults(super().parse(path))
    if hasattr(config, "lock"):
      config.lock()
    return config


flags.DEFINE_flag(config_flags_lib._ConfigFlag(  # pylint: disable=protected-access
    parser=_ConfigFileParser("config"), serializer=flags.ArgumentSerializer(),
    name="config", default=None,
    help_string="Experiment config file, e.g. experiments/configs/vae.py:conv."))
_CONFIG = flags.FlagHolder(flags.FLAGS, flags.FLAGS["config"])
_WORKDIR = flags.DEFINE_string("workdir", None, "Output folder; resumes if it "
                               "holds checkpoints.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "Multi-process runs without a cluster "
    "launcher: HOST:PORT of process 0's coordinator.")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Multi-process runs: number of processes.")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "Multi-process runs: index of this process.")
_CPU_COLLECTIVES = flags.DEFINE_enum(
    "cpu_collectives", None, ["gloo", "mpi"], "Cross-process collectives "
    "for CPU devices (multi-process CPU runs and tests).")
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices", 1, "On CPU: split each process's CPU into this many JAX "
    "devices and each batch over them (data parallelism across cores; "
    "XLA:CPU runs small convolutions mostly on one thread, so 2 on 2 cores "
    "ran the conv VAE 1.5-1.7x faster and the GANs slower, see "
    "benchmarks/README.md). The batch size must be divisible by the device "
    "count; the results match one device up to float rounding. No effect on "
    "GPU/TPU.", lower_bound=1)
flags.mark_flags_as_required(["config", "workdir"])


class _DropLibraryInfo(py_logging.Filter):
  """Keeps orbax's and TFDS's per-save INFO chatter out of the run's log."""

  def filter(self, record):
    noisy = ("orbax" in record.pathname or "tensorflow_datasets" in record.pathname)
    return record.levelno >= py_logging.WARNING or not noisy


def quiet_library_logs():
  logging.get_absl_handler().addFilter(_DropLibraryInfo())


def _one_line(error: Exception) -> str:
  """absl embeds a formatted traceback in some errors: keep the cause."""
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  if any(l.startswith("Traceback (most recent call last)") for l in lines):
    return f"{lines[0]} {lines[-1]}"
  return " ".join(lines)


def _parse_flags(argv):
  """absl's flag parsing with every flag or config error as one 'error:' line.

  ml_collections raises AttributeError/KeyError for an unknown field (absl
  does not catch them), wraps a variant's ValueError with its traceback, and
  defers a config file's OSError until the config is first read.
  """
  try:
    args = flags.FLAGS(argv)
    _CONFIG.value.get("train")  # Surfaces a deferred config-file error.
    return args
  except flags.Error as e:
    message = _one_line(e)
  except (AttributeError, KeyError) as e:
    text = str(e.args[0] if e.args else e)
    for escaped, plain in (("\\n", "\n"), ("\\'", "'"), ('\\"', '"')):
      text = text.replace(escaped, plain)
    lines = [l.strip().strip("'\"") for l in text.splitlines() if l.strip()]
    field, hint = lines[0].strip("'\""), " ".join(lines[1:])
    message = (f"unknown config field '{field}' ({hint or 'see the config file'}"
               ")")
  except OSError as e:
    message = f"cannot read the config file: {' '.join(str(e).split())}"
  print(f"error: {message}\nPass --helpshort or --helpfull to see help on "
        "flags.", file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 2
  # Imported here so that --help and flag errors are fast.
  from gdm_jax.data import DataError  # pylint: disable=g-import-not-at-top
  from gdm_jax.train.checkpoint import CheckpointError  # pylint: disable=g-import-not-at-top
  from gdm_jax.train.loop import NonFiniteError  # pylint: disable=g-import-not-at-top
  from gdm_jax.train.loop import train_and_evaluate  # pylint: disable=g-import-not-at-top
  from gdm_jax.train import distributed  # pylint: disable=g-import-not-at-top
  quiet_library_logs()
  try:
    distributed.set_cpu_devices(_CPU_DEVICES.value)
    distributed.maybe_initialize(_COORDINATOR.value, _NUM_PROCESSES.value,
                                 _PROCESS_ID.value, _CPU_COLLECTIVES.value)
    result = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except NonFiniteError as e:
    print(f"error: {e}", file=sys.stderr)
    return 3
  except DataError as e:
    print(f"error: {e}", file=sys.stderr)
    return 4
  except CheckpointError as e:
    print(f"error: {e}", file=sys.stderr)
    return 5
  if "preempted_at" in result:
    print(f"preempted: checkpoint of step {result['preempted_at']} saved; run "
          "the same command again to resume.", file=sys.stderr)
    return 143
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)), flags_parser=_parse_flags)

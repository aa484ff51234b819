"""Multi-host start-up through JAX's own runtime (`jax.distributed`).

`maybe_initialize` calls `jax.distributed.initialize` exactly when a run
spans several processes:
  - coordinator settings were given explicitly (the CLI's
    --coordinator_address / --num_processes / --process_id), or
  - a cluster launcher started several processes: SLURM (SLURM_NTASKS > 1),
    Open MPI (OMPI_COMM_WORLD_SIZE > 1), or a multi-host Cloud TPU slice
    (several hosts in TPU_WORKER_HOSTNAMES); JAX then reads the coordinator,
    process count and index from the launcher's environment itself.
On a plain machine (one process) it does nothing. It must run before the
first JAX computation. After it, `jax.devices()` lists the devices of every
process; the trainer's Mesh spans them, each process feeds its slice of the
global batch, only process 0 writes logs and images, and orbax coordinates
the checkpoints.
"""

import os

import jax
from absl import logging

CPU_COLLECTIVES = ("gloo", "mpi")


def _int_env(name: str) -> int:
  try:
    return int(os.environ.get(name, "1") or "1")
  except ValueError:
    return 1


def detected_cluster() -> str | None:
  """The multi-process launcher this process runs under, or None."""
  if _int_env("SLURM_NTASKS") > 1 and "SLURM_JOB_ID" in os.environ:
    return "slurm"
  if _int_env("OMPI_COMM_WORLD_SIZE") > 1:
    return "openmpi"
  hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")
  if len([h for h in hosts.split(",") if h.strip()]) > 1:
    return "tpu"
  return None


def set_cpu_devices(num_devices: int) -> None:
  """Splits the host CPU into `num_devices` JAX devices (data parallelism
  across cores); call it before the first JAX computation.

  XLA:CPU runs the small convolutions of these models mostly on one thread
  (a conv VAE step used ~1 core of 2), so on a multi-core CPU several host
  devices, each taking a slice of the batch on the trainer's Mesh, use the
  cores better: on the 2-core benchmark machine 2 devices made the conv VAE
  step 1.5-1.7x and the PixelCNN step 1.2x faster, and the GANs (batch
  statistics and critic updates reduced across devices inside the step) and
  the MLP VAE (whose matmuls already use both cores) slower
  (benchmarks/README.md).
  The computed function is unchanged (global batch statistics, the same
  random numbers: `jax_threefry_partitionable`), so results agree with one
  device to float rounding. Only the CPU backend is affected; on a GPU/TPU
  the Mesh uses the accelerators.

  Args:
    num_devices: CPU devices per process, >= 1; 1 leaves JAX's default.

  Raises:
    ValueError: `num_devices` is not a positive integer, or JAX's backends
      were already initialised with another count (in a notebook: call this
      right after `import jax`).
  """
  if (isinstance(num_devices, bool) or not isinstance(num_devices, int)
      or num_devices < 1):
    raise ValueError(f"cpu_devices must be a positive integer; got "
                     f"{num_devices!r}.")
  if num_devices == 1 and jax.config.jax_num_cpu_devices in (-1, 1):
    return
  try:
    jax.config.update("jax_num_cpu_devices", num_devices)
  except RuntimeError as e:
    raise ValueError(
        f"cpu_devices={num_devices} must be set before JAX's first "
        "computation (its CPU backend is already running); in a notebook "
        "call gdm_jax.train.distributed.set_cpu_devices right after "
        "`import jax`.") from e


def maybe_initialize(coordinator_address: str | None = None,
                     num_processes: int | None = None,
                     process_id: int | None = None,
                     cpu_collectives: str | None = None) -> bool:
  """Initialises the multi-process runtime when the run needs one.

  Args:
    coordinator_address: 'host:port' of process 0's coordinator; with it,
      `num_processes` and `process_id` are required.
    num_processes: total number of processes.
    process_id: this process's index in [0, num_processes).
    cpu_collectives: 'gloo' or 'mpi' for cross-process collectives on CPU
      devices (tests and CPU clusters); None leaves JAX's default.

  Returns:
    True when `jax.distributed.initialize` was called.

  Raises:
    ValueError: incomplete or inconsistent coordinator settings, or an
      unknown `cpu_collectives`.
  """
  explicit = [coordinator_address, num_processes, process_id]
  if any(v is not None for v in explicit) and any(v is None for v in explicit):
    raise ValueError(
        "multi-process settings need all three of --coordinator_address, "
        "--num_processes and --process_id (or none, to let a SLURM / Open "
        f"MPI / TPU launcher provide them); got {explicit}.")
  if num_processes is not None and not 0 <= process_id < num_processes:
    raise ValueError(f"--process_id must be in [0, {num_processes}); got "
                     f"{process_id}.")
  if cpu_collectives is not None:
    if cpu_collectives not in CPU_COLLECTIVES:
      raise ValueError(f"cpu_collectives must be one of {CPU_COLLECTIVES}; "
                       f"got '{cpu_collectives}'.")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
  if coordinator_address is not None:
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes,
                               process_id=process_id)
  else:
    cluster = detected_cluster()
    if cluster is None:
      return False
    logging.info("%s launcher detected: initialising jax.distributed", cluster)
    jax.distributed.initialize()
  logging.info("process %d of %d; %d local / %d global devices",
               jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())
  return True

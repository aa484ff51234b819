"""Data parallelism: one device Mesh, batches sharded on 'data', state replicated.

The same code runs on 1 CPU, N simulated CPU devices, a GPU, or many hosts:
each process passes its local slice of the global batch and
`jax.make_array_from_process_local_data` assembles the global array.
"""

import jax
import numpy as np
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh over all devices (of all processes), axis 'data'."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Every array whole on every device of `mesh` (the train state)."""
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data'."""
  return NamedSharding(mesh, P(DATA_AXIS))


def stacked_batch_sharded(mesh: Mesh) -> NamedSharding:
  """[steps, B, ...] batches: axis 1 (batch) split over 'data'."""
  return NamedSharding(mesh, P(None, DATA_AXIS))


def blocks_each_step(mesh: Mesh) -> bool:
  """Whether a train loop over `mesh` must wait for every step: sharded steps
  on several CPU devices can deadlock on small machines when many are in
  flight; on accelerators (or one CPU device) steps stay asynchronous."""
  return jax.default_backend() == "cpu" and mesh.devices.size > 1


def check_batch_size(batch_size: int, mesh: Mesh, name: str = "batch_size"):
  """Raises ValueError unless the global batch divides over devices and processes."""
  n, p = mesh.devices.size, jax.process_count()
  if batch_size <= 0 or batch_size % n or batch_size % p:
    hint = (" (--cpu_devices sets the CPU device count)"
            if jax.default_backend() == "cpu" and n > 1 else "")
    raise ValueError(f"{name}={batch_size} must be positive and divisible by "
                     f"the {n} devices and {p} processes{hint}.")


def global_batch(local_batch: dict, mesh: Mesh, stacked: bool = False) -> dict:
  """Host-local numpy arrays -> global jax.Arrays sharded on the batch axis
  (axis 0, or axis 1 of [steps, B, ...] arrays when `stacked`)."""
  sharding = stacked_batch_sharded(mesh) if stacked else batch_sharded(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v)
          for k, v in local_batch.items()}

"""The VAE throughput benchmark still runs: its JAX half for 2 steps on the
smoke config, and its PyTorch half (skipped where torch is not installed)."""

import math

import jax
import numpy as np
import pytest

from benchmarks import vae_throughput as vt
from experiments.configs import vae as vae_configs
from gdm_jax.models import vae


def test_cli_jax_half_on_the_smoke_config(tmp_path, capsys):
  out = tmp_path / "bench.json"
  result = vt.main(["--config", "smoke", "--models", "mlp", "--steps", "2",
                    "--rounds", "1", "--warmup", "1", "--no-torch",
                    "--sgemm-n", "256", "--json", str(out)])
  assert out.exists()
  row = result["rows"][0]
  assert row["ours_steps_per_s"] > 0 and "torch_steps_per_s" not in row
  # XLA also counts elementwise ops (Adam, the loss): same ballpark.
  assert 0.8 < row["xla_flops_per_step"] / row["analytic_flops_per_step"] < 2
  assert "| mlp" in capsys.readouterr().out


def test_analytic_flops_of_the_mlp_vae():
  config = vae_configs.get_config("default")
  fwd = 2 * 128 * (784 * 512 + 512 * 512 + 512 * 64
                   + 32 * 512 + 512 * 512 + 512 * 784)
  counted = vt.analytic_flops(config)
  assert counted["forward"] == fwd
  # No gradient is formed for the data (the first layer's input).
  assert counted["train"] == 3 * fwd - 2 * 128 * 784 * 512


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_torch_half_has_our_architecture_and_steps(architecture):
  pytest.importorskip("torch")
  config = vae_configs.get_config("smoke")
  config.model.architecture = architecture
  model = vae.make(config, {"shape": vt.IMAGE_SHAPE})
  images = np.zeros((config.train.batch_size,) + vt.IMAGE_SHAPE, np.uint8)
  state = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                         {"image": images})
  ours = sorted(x.size for x in jax.tree_util.tree_leaves(state.params))
  bench = vt.TorchBench(config, images)
  theirs = sorted(p.numel() for p in bench.model.parameters())
  assert theirs == ours
  assert math.isfinite(bench.run(2))


def test_torch_worker_process_runs_interleaved_blocks():
  pytest.importorskip("torch")
  config = vae_configs.get_config("smoke")
  images = np.zeros((config.train.batch_size,) + vt.IMAGE_SHAPE, np.uint8)
  worker = vt.TorchWorker(config, images, threads=1,
                          omp_wait_policy="PASSIVE")
  try:
    wall, cpu = worker.timed(2)
    assert wall > 0 and cpu > 0
  finally:
    worker.close()

"""The benchmark suite compares like with like, and runs.

* Each PyTorch implementation computes our loss and gradients for the same
  weights (copied JAX -> torch) and batch, to 1e-4 (one model per family,
  at small size), so the speed comparison is of the same architecture.
* The flop counts of our step (jaxpr) and of the PyTorch step are the
  closed form for the MLP VAE.
* The table formats figures and missing models; the suite runs end to end.
Tests needing torch (a benchmark-only extra) are skipped without it.
"""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import harness
from benchmarks import suite
from gdm_jax import gan_losses
from gdm_jax import models
from tests import helpers

SHAPE = (28, 28, 1)
INFO = suite.FASHION_MNIST
RTOL = 1e-4
# The suite on smoke sizes: `suite.load_config` replaced by tests/helpers'
# smoke_config of the benchmark's 'module:variant', in this process or, for a
# subprocess, in the `python -c` program _SMOKE_SUITE.
_smoke_load = lambda spec, variant=None: helpers.smoke_config(spec)
_SMOKE_SUITE = """import sys
from benchmarks import suite
from tests import helpers
suite.load_config = lambda spec, variant=None: helpers.smoke_config(spec)
suite.main(sys.argv[1:])
"""


@jax.jit
def _perturbed(params, scale=0.1):
  """params + scale * N(0, 1) on every leaf, so biases and norm scales are
  not at their (symmetric) init values and permutations show."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(0), len(leaves))
  return jax.tree.unflatten(tree, [
      x + scale * jax.random.normal(k, x.shape, x.dtype)
      for x, k in zip(leaves, keys)])


def _nchw(x):
  import torch
  return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def _close(ours, theirs, what):
  ours, theirs = np.asarray(ours), np.asarray(theirs)
  scale = max(1.0, float(np.max(np.abs(ours))))
  np.testing.assert_allclose(theirs, ours, rtol=RTOL, atol=RTOL * scale,
                             err_msg=what)


@pytest.mark.parametrize("architecture", ["conv"])
def test_torch_vae_computes_our_negative_elbo_and_gradients(architecture):
  torch = pytest.importorskip("torch")
  from benchmarks import torch_vae
  config = helpers.smoke_config("vae.py")
  config.model.architecture = architecture
  model = models.make(config, {"shape": SHAPE})
  b = 6
  state = jax.jit(model.init)(jax.random.PRNGKey(0),
                              {"image": jnp.zeros((b,) + SHAPE, jnp.uint8)})
  params = _perturbed(state.params)
  x = (np.random.default_rng(0).random((b,) + SHAPE) < 0.4).astype(np.float32)
  rng = jax.random.PRNGKey(1)
  ours = lambda p: -jnp.mean(model.elbo(p, jnp.asarray(x), rng)["elbo"])
  loss, grads = jax.jit(jax.value_and_grad(ours))(params)
  # model.elbo draws ε = normal(rng, [B, z]) (estimators.reparameterize).
  eps = np.asarray(jax.random.normal(rng, (b, config.model.latent_dim)))

  net = torch_vae.TorchVAE(config.model, SHAPE)
  torch_vae.load_jax_params(net, params)
  theirs = torch_vae.negative_elbo(net, _nchw(x), torch.from_numpy(np.array(eps))).mean()
  theirs.backward()
  _close(loss, theirs.item(), "loss")
  # First layer's kernel: [out, in(, kh, kw)] in torch.
  first = next(m for m in net.encoder.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
  g = grads["params"]["encoder"]
  g = g["dense_0"]["kernel"] if architecture == "mlp" else g["Conv_0"]["kernel"]
  if architecture == "mlp":
    _close(np.asarray(g).T, first.weight.grad.numpy(), "first kernel grad")
  else:
    _close(np.asarray(g).transpose(3, 2, 0, 1), first.weight.grad.numpy(),
           "first conv kernel grad")


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_torch_gan_computes_our_losses_and_gradients(name):
  torch = pytest.importorskip("torch")
  from benchmarks import torch_gan
  config = helpers.smoke_config(f"{name}.py")
  model = models.make(config, INFO)
  state = jax.jit(lambda k: model.init(k, None))(jax.random.PRNGKey(0))
  params = _perturbed(state.params)
  gen, disc = model.generator_net, model.discriminator_net
  g_vars, d_vars = params["generator"], params["discriminator"]
  m = config.train.batch_size // config.model.critic_steps
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(1), 3)
  real = jax.random.uniform(k1, (m,) + SHAPE, minval=-1.0, maxval=1.0)
  z = jax.random.normal(k2, (m, config.model.latent_dim))
  # Both networks in train mode, as in the step.
  fake, _ = jax.jit(lambda v, z: gen.apply(v, z, train=True, mutable=[
      "batch_stats"]))(g_vars, z)

  def d_out(d_params, x):
    out, _ = disc.apply({**d_vars, "params": d_params}, x, train=True,
                        mutable=["batch_stats"])
    return out[:, 0]

  def critic_loss(d_params):
    if name == "dcgan":   # batch norm: real and fake in separate calls
      return jnp.mean(gan_losses.discriminator_loss_per_example(
          d_out(d_params, real), d_out(d_params, fake)))
    both = d_out(d_params, jnp.concatenate([real, fake]))
    critic = lambda x: disc.apply({**d_vars, "params": d_params}, x,
                                  train=False)[:, 0]
    penalty = gan_losses.gradient_penalty(critic, real, fake, k3)
    return jnp.mean(gan_losses.wasserstein_critic_loss_per_example(
        both[:m], both[m:]) + config.model.gp_weight * penalty)

  def generator_loss(g_params):
    x, _ = gen.apply({**g_vars, "params": g_params}, z, train=True,
                     mutable=["batch_stats"])
    out = d_out(d_vars["params"], x)
    if name == "dcgan":
      return jnp.mean(gan_losses.generator_loss_non_saturating_per_example(out))
    return jnp.mean(gan_losses.wasserstein_generator_loss_per_example(out))

  d_loss, d_grads = jax.jit(jax.value_and_grad(critic_loss))(d_vars["params"])
  g_loss, g_grads = jax.jit(jax.value_and_grad(generator_loss))(
      g_vars["params"])

  batch = harness.synthetic_batch(INFO, config.train.batch_size)
  step = torch_gan.TorchStep(config, INFO, batch)
  torch_gan.load_jax_params(step, params)
  step.gen.train()
  step.disc.train()
  _close(np.asarray(fake).transpose(0, 3, 1, 2),
         step.gen(torch.from_numpy(np.array(z))).detach().numpy(), "G(z)")
  # gan_losses.interpolate draws ε = uniform(rng, [m, 1, 1, 1]).
  eps = torch.from_numpy(np.array(jax.random.uniform(k3, (m, 1, 1, 1))))
  theirs = step.critic_loss(_nchw(real), _nchw(fake), eps)
  theirs.backward()
  _close(d_loss, theirs.item(), "critic loss")
  _close(np.asarray(d_grads["conv_0"]["kernel"]).transpose(3, 2, 0, 1),
         step.disc.convs[0].weight.grad.numpy(), "critic conv_0 grad")
  theirs = step.generator_loss(torch.from_numpy(np.array(z)))
  step.gen.zero_grad()
  theirs.backward()
  _close(g_loss, theirs.item(), "generator loss")
  _close(np.asarray(g_grads["project"]["bias"])[
      torch_gan.nhwc_to_nchw_flat_permutation(*step.gen.base[1:],
                                              step.gen.base[0])],
         step.gen.project.bias.grad.numpy(), "generator projection grad")


def test_torch_realnvp_computes_our_log_density_and_gradients():
  torch = pytest.importorskip("torch")
  from benchmarks import torch_flow
  config = helpers.smoke_config("realnvp.py")
  model = models.make(config, INFO)
  images = harness.synthetic_batch(INFO, 4)["image"]
  state = jax.jit(model.init)(jax.random.PRNGKey(0),
                              {"image": jnp.asarray(images)})
  params = _perturbed(state.params, 0.05)
  x = (images.astype(np.float32) + 0.5) / 256.0
  loss, grads = jax.jit(jax.value_and_grad(
      lambda p: -jnp.mean(model.log_prob(p, jnp.asarray(x)))))(params)

  step = torch_flow.TorchStep(config, INFO, {"image": images})
  torch_flow.load_jax_params(step.net, params)
  theirs = -step.net(_nchw(x)).mean()
  theirs.backward()
  _close(loss, theirs.item(), "-log p(x)")
  # The first channel coupling of level 0 (after its squeeze).
  plan = step.net.plan[0]
  i = plan.index("s") + 1
  g = grads["flow"]["params"]["levels_0"][f"bijectors_{i}"]["conditioner"]
  conv = step.net.levels[0][plan[:i].count("c")].conditioner.conv_in
  _close(np.asarray(g["conv_in"]["kernel"]).transpose(3, 2, 0, 1),
         conv.weight.grad.numpy(), "channel coupling conv_in grad")


def test_torch_pixelcnn_computes_our_nll_and_gradients():
  pytest.importorskip("torch")
  from benchmarks import torch_pixelcnn
  config = helpers.smoke_config("pixelcnn.py")
  model = models.make(config, INFO)
  images = harness.synthetic_batch(INFO, 4)["image"]
  state = jax.jit(model.init)(jax.random.PRNGKey(0),
                              {"image": jnp.asarray(images)})
  params = _perturbed(state.params)
  loss, grads = jax.jit(jax.value_and_grad(
      lambda p: -jnp.mean(model.log_prob(p, jnp.asarray(images)))))(params)

  step = torch_pixelcnn.TorchStep(config, INFO, {"image": images})
  torch_pixelcnn.load_jax_params(step.net, params)
  theirs = step.nll(step.images).mean()
  theirs.backward()
  _close(loss, theirs.item(), "-log p(x)")
  # Mask A: the current pixel's column gets no gradient in either.
  g = np.asarray(grads["params"]["h_convs_0"]["conv"]["kernel"])
  _close(g.transpose(3, 2, 0, 1), step.net.h_convs[0].weight.grad.numpy(),
         "first horizontal kernel grad")
  assert not g[:, -1].any() and g[:, 0].any()
  _close(np.asarray(grads["params"]["v_convs_1"]["conv"]["kernel"]).transpose(
      3, 2, 0, 1), step.net.v_convs[1].weight.grad.numpy(),
         "second vertical kernel grad")


def test_flop_counts_are_the_closed_form_of_the_mlp_vae():
  pytest.importorskip("torch")
  config = helpers.smoke_config("vae.py")          # MLP 784-64-8 / 4-64-784
  b = config.train.batch_size
  batch = harness.synthetic_batch(INFO, b)
  step = harness.make_torch_step("benchmarks.torch_vae", config, INFO, batch)
  z = config.model.latent_dim
  layers = [(784, 64), (64, 2 * z), (z, 64), (64, 784)]
  forward = sum(2 * b * i * o for i, o in layers)
  # Forward F, weight gradients F, input gradients F less the first layer's
  # (its input is data).
  assert harness.torch_flops(step) == 3 * forward - 2 * b * 784 * 64
  # Our count, from the jaxpr of our step, is the same.
  model = models.make(config, INFO)
  jbatch = {k: jnp.asarray(v) for k, v in batch.items()}
  state = jax.jit(model.init)(jax.random.PRNGKey(0), jbatch)
  assert harness.step_contraction_flops(model, state, jbatch) == (
      3 * forward - 2 * b * 784 * 64)


def test_tables_format_rows_and_missing_models():
  row = {"model": "mlp_vae", "ours_steps_per_s": 120.0,
         "torch_steps_per_s": 80.0, "ratio": 1.5,
         "torch_variants": {"torch[unset]": {"omp_wait_policy": "unset"}},
         "torch_best": "torch[unset]", "torch_least_cpu": "torch[unset]",
         "flops_per_step": 1.0e9, "torch_flops_per_step": 0.95e9,
         "xla_flops_per_step": 1.1e9,
         "ours_gflops": 120.0, "torch_gflops": 80.0,
         "ours_cpu_s_per_step": 0.015, "torch_cpu_s_per_step": 0.02,
         "cpu_time_ratio": 20 / 15, "ours_gflops_per_cpu_s": 66.7,
         "torch_gflops_per_cpu_s": 50.0}
  rows = [row, harness.missing_row("pixelcnn", "not in the tree")]
  table = harness.format_table(rows, sgemm=200.0).splitlines()
  assert len(table) == 4 and len({len(l) for l in table}) == 1
  cells = [c.strip() for c in table[2].strip("|").split("|")]
  assert cells == ["mlp_vae", "120.00", "80.00 [unset]", "1.50x",
                   "1.000 (0.950) [1.100]", "120.0", "80.0", "60% (40%)"]
  assert "missing: not in the tree" in table[3]
  cpu = harness.format_cpu_table(rows, sgemm_cpu=100.0).splitlines()
  assert len(cpu) == 3   # missing rows are left out of the CPU view
  assert [c.strip() for c in cpu[2].strip("|").split("|")][1:4] == [
      "15.0", "20.0 [unset]", "1.33x"]


def test_suite_runs_end_to_end(tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(suite.BENCHMARKS, "absent", suite.Benchmark(
      "vae:default", None, "gdm_jax/models/absent.py", "not written"))
  monkeypatch.setattr(suite, "load_config", _smoke_load)
  out = tmp_path / "bench.json"
  argv = ["--models", "mlp_vae,absent",
          "--steps", "2", "--rounds", "1", "--warmup", "1",
          "--omp-wait-policies", "PASSIVE", "--torch-threads", "1",
          "--sgemm-n", "256", "--json", str(out)]
  result = suite.main(argv)
  assert out.exists()
  rows = {r["model"]: r for r in result["rows"]}
  assert "gdm_jax/models/absent.py" in rows["absent"]["missing"]
  for name in ("mlp_vae",):
    r = rows[name]
    assert r["ours_steps_per_s"] > 0 and r["flops_per_step"] > 0
    if harness.torch_available():
      assert r["torch_steps_per_s"] > 0
      assert r["ratio"] == pytest.approx(r["ours_steps_per_s"]
                                         / r["torch_steps_per_s"])
  printed = capsys.readouterr().out
  assert "| mlp_vae" in printed and "| absent" in printed


def test_suite_times_the_step_on_several_cpu_devices(tmp_path):
  """--cpu-devices 1,2: a row per device count, the second on a 2-device
  Mesh (its own process: the CPU device count is fixed when JAX starts)."""
  out = tmp_path / "bench.json"
  proc = subprocess.run(
      [sys.executable, "-c", _SMOKE_SUITE,
       "--models", "mlp_vae", "--cpu-devices", "1,2", "--no-torch",
       "--steps", "2", "--rounds", "1", "--warmup", "1", "--sgemm-n", "256",
       "--json", str(out)], cwd=helpers.REPO, env=helpers.env(),
      capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = {r["model"]: r for r in json.loads(out.read_text())["rows"]}
  assert rows["mlp_vae"]["num_devices"] == 1
  two = rows["mlp_vae (2 CPU devices)"]
  assert two["num_devices"] == 2 and two["ours_steps_per_s"] > 0
  # The same step: the same matmul work per step on either mesh.
  assert two["flops_per_step"] == rows["mlp_vae"]["flops_per_step"]
  assert "| mlp_vae (2 CPU devices)" in proc.stdout


def test_suite_rejects_bad_device_counts():
  for bad in ("0", "a", "", "1,-2"):
    with pytest.raises(SystemExit, match="--cpu-devices"):
      suite.parse_device_counts(bad)
  assert suite.parse_device_counts("1,2") == [1, 2]


@pytest.mark.parametrize("formulation", ["s2d", "im2col", "gemm_wgrad"])
def test_fast_conv_formulations_compute_xla_convolution(formulation):
  from benchmarks import fast_layers
  f = fast_layers.FORMULATIONS[formulation]
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  # Strided 'SAME' on an odd size (asymmetric padding) and a stride-1 conv.
  cases = [((2, 7, 7, 3), (4, 4, 3, 5), (2, 2)), ((2, 6, 6, 3), (3, 3, 3, 4),
                                                    (1, 1))]
  for x_shape, w_shape, strides in cases:
    if formulation == "s2d" and strides == (1, 1):
      continue
    x = jax.random.normal(k1, x_shape)
    w = jax.random.normal(k2, w_shape)
    ref = lambda a, b: jax.lax.conv_general_dilated(
        a, b, strides, "SAME", dimension_numbers=fast_layers.NHWC)
    ours = lambda a, b: f(a, b, strides, "SAME")
    np.testing.assert_allclose(ours(x, w), ref(x, w), rtol=1e-5, atol=1e-4)
    # First and second derivatives (a WGAN-GP critic differentiates twice).
    loss = lambda fn: lambda a, b: jnp.sum(jnp.sin(fn(a, b)))
    penalty = lambda fn: lambda b: jnp.sum(
        jax.grad(lambda a: jnp.sum(jnp.tanh(fn(a, b))))(x) ** 2)
    for g_ref, g in zip(jax.grad(loss(ref), (0, 1))(x, w),
                        jax.grad(loss(ours), (0, 1))(x, w)):
      np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(jax.grad(penalty(ours))(w),
                               jax.grad(penalty(ref))(w), rtol=1e-4, atol=1e-2)

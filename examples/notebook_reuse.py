# %% [markdown]
# # Reusing trained gdm_jax models in a notebook
#
# Every family's mathematics is a set of module-level functions of flax
# modules, a parameter pytree and arrays, so a notebook can load a run's
# checkpoint, rebuild the networks from the run's config and evaluate the
# family's objective directly, without `make`. This notebook does it for one
# model of each kind:
#
# | kind             | run                      | computed here               |
# |------------------|--------------------------|-----------------------------|
# | latent-variable  | VAE on Fashion-MNIST     | ELBO, IWAE bound; bits/dim  |
# | adversarial      | GAN on the 8-mode ring   | critic and generator losses |
# | exact likelihood | 2-D flow on two moons    | density on a grid, its mass |
# | hybrid           | adversarial autoencoder  | reconstruction, latent GAN  |
#
# It is a percent-format notebook (open it with jupytext or VS Code) and a
# script:
#
#   python examples/notebook_reuse.py --vae_workdir=/tmp/vae \
#       --gan_workdir=/tmp/ring8 --flow_workdir=/tmp/moons \
#       --aae_workdir=/tmp/aae --out=/tmp/reuse.png
#
# with workdirs from `python -m experiments.train`, e.g.
#   --config=experiments/configs/vae.py, gan.py:ring8, flow_toy.py:two_moons,
#   aae.py. A run whose flag is left out is trained here first, tiny (a few
#   minutes on a CPU for all four).

# %%
import argparse
import functools
import importlib
import math
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=wrong-import-position
from gdm_jax import distributions
from gdm_jax.core import precision
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.eval.images import image_grid
from gdm_jax.models import autoencoder
from gdm_jax.models import flow
from gdm_jax.models import gan
from gdm_jax.models import vae
from gdm_jax.models import wae
from gdm_jax.train import loop
# pylint: enable=wrong-import-position

parser = argparse.ArgumentParser(
    description="Evaluate four trained gdm_jax runs from module-level "
                "functions (see the file's first cell).")
for name in ("vae", "gan", "flow", "aae"):
  parser.add_argument(f"--{name}_workdir", default=None)
parser.add_argument("--out", default="notebook_reuse.png")
args, _ = parser.parse_known_args()
key = jax.random.PRNGKey(0)

# %% [markdown]
# ## The four runs
#
# Without a workdir, a run is trained here from its production config made
# **tiny, for a quick look**: a few hundred steps, small networks, a few
# hundred evaluation examples and no sample-quality metrics. Its numbers say
# little about the model; the point is the code below.

# %%
TINY_TRAIN = {"train.num_steps": 300, "train.log_every": 100,
              "train.eval_every": 300, "train.checkpoint_every": 300,
              "train.eval_examples": 500, "train.eval_batch_size": 250,
              "train.final_eval_examples": 500,
              "train.final_eval_batch_size": 250, "eval.sample_metrics": False}
TINY = {  # run: (config file, variant, its own overrides)
    "vae": ("vae", "default", {"model.hidden": (256,), "model.latent_dim": 8,
                               "model.eval_num_samples": 100,
                               "model.eval_chunk_size": 50}),
    "gan": ("gan", "ring8", {"model.generator_hidden": (64, 64),
                             "model.discriminator_hidden": (64, 64),
                             "data.toy_num_train": 20_000,
                             "eval.num_samples": 500,
                             "eval.periodic_num_samples": 0}),
    "flow": ("flow_toy", "two_moons", {"model.toy_num_layers": 4,
                                       "model.toy_hidden": 32,
                                       "eval.num_samples": 500}),
    "aae": ("aae", "default", {"model.hidden": (256,),
                               "model.discriminator_hidden": (64,)}),
}


def tiny_run(name: str) -> str:
  """Trains the tiny version of run `name` in a fresh folder; its path."""
  file, variant, own = TINY[name]
  config = importlib.import_module(f"experiments.configs.{file}").get_config(
      variant)
  config.lock()          # locked: overriding a field it lacks is an error
  config.update_from_flattened_dict(TINY_TRAIN | own)
  config.unlock()
  workdir = tempfile.mkdtemp(prefix=f"gdm_tiny_{name}_")
  loop.train_and_evaluate(config, workdir)
  return workdir


runs = {name: loop.load_run(getattr(args, f"{name}_workdir") or tiny_run(name))
        for name in TINY}
for name, run in runs.items():
  print(f"{name}: {run.config.model.name} on {run.config.data.name}, "
        f"step {run.step}")


def preprocessing(config):
  """The run's data preprocessing, from its `config.data` block."""
  return make_preprocessing(config.data.binarization,
                            config.data.dequantization,
                            config.data.value_range)


# %% [markdown]
# `load_run` gives `(config, dataset, model, state, step)`. Below we use only
# `config`, `dataset` and `state.params`: each family's public builder turns
# `config.model` into the networks, and its module-level functions do the
# rest. (`run.model` serves only for the cross-check at the end.)
#
# ## Latent-variable model: the VAE's ELBO and IWAE bound
#
# L(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) <= L_K(x) = E log (1/K) Σ_k
# p(x, z_k) / q(z_k|x) <= log p(x), per image in nats; bits/dim divides the
# negative by D ln 2 (with the dequantisation offset for continuous data).

# %%
run = runs["vae"]
mc, params = run.config.model, run.state.params
vae_net = vae.build_networks(mc, run.dataset.info["shape"])
vae_pre = preprocessing(run.config)
dtype = precision.compute_dtype(run.config)   # float32 unless trained in bf16

vae_batch, _ = next(run.dataset.eval_batches("test", 64))
x_vae = vae.preprocess(vae_net, vae_pre, key, vae_batch)   # [64, 28, 28, 1]
elbo_key, iwae_key = jax.random.split(jax.random.fold_in(key, 1))
terms = vae.elbo(vae_net, params, x_vae, elbo_key, compute_dtype=dtype)
k, chunk = mc.eval_num_samples, mc.eval_chunk_size   # the run's test-NLL K
bound = vae.iwae_bound(vae_net, params, x_vae, iwae_key, k, chunk,
                       compute_dtype=dtype)                     # [64]

num_dims = math.prod(x_vae.shape[1:])
bpd = lambda nats: float(jnp.mean(distributions.bits_per_dim(
    -nats, num_dims, vae_pre.nats_offset_per_dim)))
elbo, iwae = float(jnp.mean(terms["elbo"])), float(jnp.mean(bound))
print(f"VAE: ELBO {elbo:.2f} nats/image ({bpd(terms['elbo']):.4f} bits/dim; "
      f"reconstruction {float(jnp.mean(terms['reconstruction'])):.2f}, "
      f"KL {float(jnp.mean(terms['kl'])):.2f})")
print(f"VAE: IWAE bound (K={k}) {iwae:.2f} nats/image "
      f"({bpd(bound):.4f} bits/dim), {iwae - elbo:.2f} nats above the ELBO")

vae_samples = vae.sample(vae_net, params, jax.random.fold_in(key, 2), 16,
                         to_unit=vae_pre.to_unit)          # [16, 28, 28, 1]
vae_path = vae.interpolate(vae_net, params, x_vae[0], x_vae[1], 8,
                           to_unit=vae_pre.to_unit)        # [8, 28, 28, 1]

# %% [markdown]
# ## Adversarial model: the GAN's two losses on a batch
#
# The critic's loss on a real batch and as many generated points, and the
# generator's loss, as one train step computes them (`gan.critic_loss`,
# `gan.generator_loss`: the game of `config.model.objective`, penalty
# included, networks in train mode). The ring's MLPs have no batch norm or
# dropout, so train mode and evaluation mode agree.

# %%
run = runs["gan"]
mc, params = run.config.model, run.state.params
shape = run.dataset.info["shape"]
toy = run.dataset.info.get("kind") == "toy"
game = gan.game_from_config(mc, precision.compute_dtype(run.config))
generator, critic = gan.build_networks(
    mc, shape, mc.cramer_dim if game.objective == "cramer" else 1)
gan_pre = None if toy else preprocessing(run.config)
g_vars, d_vars = params["generator"], params["discriminator"]

gan_batch, _ = next(run.dataset.eval_batches("test", 256))
pre_key, fake_key, loss_key = jax.random.split(key, 3)
inputs = functools.partial(gan.model_inputs, preprocessing=gan_pre,
                           data_shape=shape)      # host batch -> model space
real = inputs("notebook", gan_batch, pre_key)
fakes, _ = gan.draw_fakes(generator, g_vars, real.shape[0], fake_key,
                          game=game, train=False)
d_loss, (d_metrics, _) = gan.critic_loss(critic, d_vars["params"], d_vars,
                                         real, fakes, loss_key, game=game)
g_loss, _ = gan.generator_loss(generator, critic, g_vars["params"], g_vars,
                               d_vars, real, loss_key, game=game)
print(f"GAN ({game.objective}): critic loss {float(d_loss):.4f}, "
      f"generator loss {float(g_loss):.4f}; "
      + ", ".join(f"{n} {float(v):.3f}" for n, v in d_metrics.items()))

gan_samples = gan.sample(generator, params, jax.random.fold_in(key, 3), 1000,
                         game=game,
                         to_data=lambda v: gan.to_data_space(v, gan_pre))

# %% [markdown]
# ## Exact likelihood: a 2-D flow's density on a grid
#
# log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x| is exact, so the density
# summed over a grid that holds the model's mass times the cell area should
# be ~1: the grid spans the test points padded by 1.5 on each side.

# %%
run = runs["flow"]
params = run.state.params
flow_net = flow.build_networks(run.config.model, run.dataset.info["shape"],
                               toy=True)
points = np.asarray(next(run.dataset.eval_batches("test", 1000))[0]["x"])
lo, hi = points.min(0) - 1.5, points.max(0) + 1.5
n = 200
gx, gy = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2).astype(np.float32)
log_p = np.asarray(flow.log_prob(flow_net, params, grid)).reshape(n, n)
mass = float(np.exp(log_p).sum() * (gx[1] - gx[0]) * (gy[1] - gy[0]))
test_nll = -float(jnp.mean(flow.log_prob(flow_net, params, points)))
print(f"flow: test NLL {test_nll:.3f} nats/point; density mass on the grid: "
      f"{mass:.3f}")
flow_samples = flow.sample(flow_net, params, jax.random.fold_in(key, 4), 1000)

# %% [markdown]
# ## Hybrid: the adversarial autoencoder's two phases
#
# Reconstruction -log p(x | E(x)) (nats per image), and the latent GAN that
# pushes the codes ẑ = E(x) towards the prior: the discriminator's loss
# L_D = mean -log D(z) - log(1 - D(ẑ)) (prior samples z real, codes fake) and
# the encoder's adversarial loss L_E = mean -log D(ẑ). The encoder's objective
# is reconstruction + L_E. The code-vs-prior MMD² shows how far the codes are
# from the prior on a kernel scale the WAE shares.

# %%
run = runs["aae"]
mc, params = run.config.model, run.state.params
ae_net, latent_critic = autoencoder.build_networks(mc,
                                                   run.dataset.info["shape"])
prior = autoencoder.make_prior(mc)
aae_pre = preprocessing(run.config)

aae_batch, _ = next(run.dataset.eval_batches("test", 100))
x_aae, z_prior = autoencoder.prepare(aae_pre, prior, aae_batch["image"], key)
reconstruction = autoencoder.reconstruction_loss(ae_net, params, x_aae,
                                                 likelihood=mc.likelihood)
codes = autoencoder.encode(ae_net, params, x_aae)                # [100, d]
aae_terms = {
    "reconstruction": reconstruction,                           # [100]
    "d_loss": autoencoder.discriminator_loss(
        latent_critic, params["discriminator"], z_prior, codes),
    "g_loss": autoencoder.generator_loss(latent_critic,
                                         params["discriminator"], codes),
    "mmd": autoencoder.latent_mmd(codes, z_prior,
                                  wae.make_kernel("imq", prior.sigma2),
                                  jnp.ones(codes.shape[0])),
}
rec = float(jnp.mean(reconstruction))
print(f"AAE: reconstruction {rec:.2f} nats/image, discriminator loss "
      f"{float(aae_terms['d_loss']):.4f}, encoder adversarial loss "
      f"{float(aae_terms['g_loss']):.4f}, encoder objective "
      f"{rec + float(aae_terms['g_loss']):.2f}, code-vs-prior MMD² "
      f"{float(aae_terms['mmd']):.4f}")
aae_pictures = jnp.concatenate([
    aae_pre.to_unit(x_aae[:8]),
    autoencoder.reconstruct(ae_net, params, x_aae[:8]),
    autoencoder.sample(ae_net, prior, params, jax.random.fold_in(key, 5), 8)])

# %% [markdown]
# ## Cross-check: the same numbers from the Model members
#
# `make` binds these same functions into `run.model`; with the same keys the
# members give the same numbers.

# %%
def same(what: str, ours, members) -> None:
  a = [np.asarray(v, np.float64) for v in jax.tree.leaves(ours)]
  b = [np.asarray(v, np.float64) for v in jax.tree.leaves(members)]
  ok = len(a) == len(b) and all(
      u.shape == v.shape and np.allclose(u, v, rtol=1e-5, atol=1e-5)
      for u, v in zip(a, b))
  diff = max((float(np.max(np.abs(u - v))) for u, v in zip(a, b)
              if u.shape == v.shape), default=float("nan"))
  print(f"{what}: {'same as' if ok else 'DIFFERENT from'} the Model member "
        f"(largest difference {diff:.1e})")


vae_model, p = runs["vae"].model, runs["vae"].state.params
same("VAE elbo", terms, vae_model.elbo(p, x_vae, elbo_key))
same("VAE iwae_bound", bound, vae_model.iwae_bound(p, x_vae, iwae_key, k,
                                                    chunk))

member = runs["gan"].model.evaluate(runs["gan"].state.params, gan_batch, key)
same("GAN critic loss vs evaluate's d_loss", d_loss,
     jnp.mean(member["d_loss"]))
same("GAN evaluate", gan.evaluate(
    generator, critic, runs["gan"].state.params, gan_batch, key, game=game,
    inputs=inputs), member)

same("flow log_prob", log_p.reshape(-1),
     runs["flow"].model.log_prob(runs["flow"].state.params, grid))

aae_model, p = runs["aae"].model, runs["aae"].state.params
same("AAE reconstruction_loss, discriminator_loss, generator_loss",
     [reconstruction, aae_terms["d_loss"], aae_terms["g_loss"]],
     [aae_model.reconstruction_loss(p, x_aae),
      aae_model.discriminator_loss(p["discriminator"], z_prior, codes),
      aae_model.generator_loss(p["discriminator"], codes)])
member = aae_model.evaluate(p, aae_batch, key)
same("AAE evaluate", aae_terms, {"reconstruction": member["reconstruction"],
                                 "d_loss": jnp.mean(member["d_loss"]),
                                 "g_loss": jnp.mean(member["g_loss"]),
                                 "mmd": member["mmd"]})

# %% [markdown]
# ## One figure

# %%
import matplotlib  # pylint: disable=g-import-not-at-top,wrong-import-position
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

fig, axes = plt.subplots(2, 3, figsize=(14, 9))
grey = lambda images, ncols: image_grid(np.asarray(images), ncols).squeeze()
axes[0, 0].imshow(grey(vae_samples, 4), cmap="gray")
axes[0, 0].set_title(f"VAE samples (ELBO {elbo:.1f} nats)")
axes[0, 1].imshow(grey(vae_path, 4), cmap="gray")
axes[0, 1].set_title("VAE latent interpolation")
if toy:
  axes[0, 2].scatter(*np.asarray(real).T, s=4, alpha=0.4, label="data")
  axes[0, 2].scatter(*np.asarray(gan_samples).T, s=4, alpha=0.4,
                     label="generator")
  axes[0, 2].set_aspect("equal")
  axes[0, 2].legend(loc="upper right")
else:
  axes[0, 2].imshow(grey(gan_samples[:16], 4), cmap="gray")
axes[0, 2].set_title(f"GAN samples (critic loss {float(d_loss):.2f})")
im = axes[1, 0].imshow(np.exp(log_p), origin="lower",
                       extent=(lo[0], hi[0], lo[1], hi[1]))
axes[1, 0].set_title(f"flow density ({runs['flow'].config.data.name}), "
                     f"mass {mass:.2f}")
fig.colorbar(im, ax=axes[1, 0])
axes[1, 1].scatter(*points.T, s=4, alpha=0.4, label="data")
axes[1, 1].scatter(*np.asarray(flow_samples).T, s=4, alpha=0.4, label="flow")
axes[1, 1].set_title("flow samples")
axes[1, 1].legend(loc="upper right")
axes[1, 2].imshow(grey(aae_pictures, 8), cmap="gray")
axes[1, 2].set_title("AAE: inputs, reconstructions, samples")
for ax in (axes[0, 0], axes[0, 1], axes[1, 2]):
  ax.axis("off")
fig.tight_layout()
fig.savefig(args.out, dpi=80)
print(f"wrote {args.out}")

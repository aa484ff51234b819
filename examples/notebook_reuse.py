# %% [markdown]
# # Reusing trained gdm_jax models in a notebook
#
# Every model is a handful of pure functions over an explicit parameter
# pytree, so a notebook can load a run's checkpoint and call them directly:
# the ELBO of a batch, samples, latent interpolations, a flow's exact
# log-density. This file is a percent-format notebook (open it in Jupyter
# with jupytext, or in VS Code) and also a script:
#
#   python examples/notebook_reuse.py --vae_workdir=/tmp/vae \
#       --flow_workdir=/tmp/flow_moons --out=/tmp/reuse.png
#
# where the workdirs come from
#   python -m experiments.train --config=experiments/configs/vae.py --workdir=/tmp/vae
#   python -m experiments.train --config=experiments/configs/flow_toy.py:two_moons --workdir=/tmp/flow_moons
# Without workdirs it first trains the two smoke configs (a minute on a CPU).

# %%
import argparse
import math
import os
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gdm_jax.eval.images import image_grid  # pylint: disable=g-import-not-at-top,wrong-import-position
from gdm_jax.train import loop  # pylint: disable=wrong-import-position

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--vae_workdir", default=None)
parser.add_argument("--flow_workdir", default=None)
parser.add_argument("--out", default="notebook_reuse.png")
args, _ = parser.parse_known_args()

# %% [markdown]
# ## Load (or make) the two runs

# %%
def smoke_run(config_module: str, variant: str) -> str:
  import importlib  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(config_module).get_config(variant)
  workdir = tempfile.mkdtemp(prefix=f"gdm_{variant}_")
  loop.train_and_evaluate(config, workdir)
  return workdir

vae_dir = args.vae_workdir or smoke_run("experiments.configs.vae", "smoke")
flow_dir = args.flow_workdir or smoke_run("experiments.configs.flow_toy", "smoke")
vae = loop.load_run(vae_dir)
flow = loop.load_run(flow_dir)
print(f"VAE: {vae.config.model.name} at step {vae.step}; "
      f"flow: {flow.config.model.name} on {flow.config.data.name} at step {flow.step}")

# %% [markdown]
# ## The ELBO of a test batch (nats per image, and bits/dim)

# %%
key = jax.random.PRNGKey(0)
batch, _ = next(vae.dataset.eval_batches("test", 64))
x = vae.model.preprocessing.apply(key, jnp.asarray(batch["image"]))   # [64, 28, 28, 1]
terms = vae.model.elbo(vae.state.params, x, jax.random.fold_in(key, 1))
elbo = float(jnp.mean(terms["elbo"]))
num_dims = math.prod(x.shape[1:])
print(f"ELBO {elbo:.2f} nats/image = {-elbo / (num_dims * math.log(2)):.4f} "
      f"bits/dim (reconstruction {float(jnp.mean(terms['reconstruction'])):.2f}, "
      f"KL {float(jnp.mean(terms['kl'])):.2f})")

# %% [markdown]
# ## Samples and a latent interpolation

# %%
samples = vae.model.sample(vae.state.params, jax.random.fold_in(key, 2), 16)   # [16, 28, 28, 1]
path = vae.model.interpolate(vae.state.params, x[0], x[1], 8)                 # [8, 28, 28, 1]

# %% [markdown]
# ## A flow's exact log-density on a grid (it integrates to ~1)

# %%
lo, hi, n = -2.5, 3.5, 200
g = np.linspace(lo, hi, n, dtype=np.float32)
grid = np.stack(np.meshgrid(g, g - 0.75), -1).reshape(-1, 2)
log_p = np.asarray(jax.jit(flow.model.log_prob)(flow.state.params, grid)).reshape(n, n)
mass = float(np.exp(log_p).sum() * ((hi - lo) / (n - 1)) ** 2)
print(f"flow density mass on the grid: {mass:.3f}")

# %% [markdown]
# ## One figure

# %%
import matplotlib  # pylint: disable=g-import-not-at-top,wrong-import-position
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
axes[0].imshow(image_grid(np.asarray(samples), ncols=4).squeeze(), cmap="gray")
axes[0].set_title(f"VAE samples (ELBO {elbo:.1f} nats)")
axes[1].imshow(image_grid(np.asarray(path), ncols=8).squeeze(), cmap="gray")
axes[1].set_title("latent interpolation")
im = axes[2].imshow(np.exp(log_p), origin="lower", extent=(lo, hi, lo - 0.75, hi - 0.75))
axes[2].set_title(f"flow density ({flow.config.data.name}), mass {mass:.2f}")
fig.colorbar(im, ax=axes[2])
for ax in axes[:2]:
  ax.axis("off")
fig.tight_layout()
fig.savefig(args.out, dpi=90)
print(f"wrote {args.out}")

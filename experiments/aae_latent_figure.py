r"""The latent scatter of a trained 2-D AAE / WAE: test codes over the prior.

  python -m experiments.aae_latent_figure --workdir=/tmp/aae_mix \
      --out=docs/aae_latent_mixture.png [--num_examples=10000]

Rebuilds the model from WORKDIR (config.json + newest checkpoint,
`gdm_jax.train.loop.load_run`), encodes the first `num_examples` test images
with the deterministic encoder, and draws them coloured by class over the
prior's density (`gdm_jax.eval.plots.latent_scatter_figure`). Also prints
the fraction of codes inside the prior's 99% highest-density region
(`gdm_jax.models.latent_priors.hdr_fraction`: the density level exceeded
by 99% of prior samples), a number for how well q(z) fills the prior (0.99
for a perfect match).
"""

import os

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

_WORKDIR = flags.DEFINE_string("workdir", None, "A finished 2-D AAE/WAE run.")
_OUT = flags.DEFINE_string("out", None, "PNG path (default WORKDIR/latent.png).")
_NUM = flags.DEFINE_integer("num_examples", 10000, "Test images to encode.")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def latent_codes(model, params, dataset, num_examples: int, split="test"):
  """(codes [N, d], labels [N]) of the first num_examples of `split`."""
  encode = jax.jit(lambda p, img: model.encode(
      p, model.preprocessing.apply(jax.random.PRNGKey(0), img)))
  zs, ys = [], []
  for batch, mask in dataset.eval_batches(split, 500, 0, 1, num_examples):
    keep = np.asarray(mask).astype(bool)
    zs.append(np.asarray(encode(params, jnp.asarray(batch["image"])))[keep])
    ys.append(np.asarray(batch["label"])[keep])
  return np.concatenate(zs), np.concatenate(ys)


def main(argv):
  del argv
  from gdm_jax.eval.images import image_grid  # pylint: disable=g-import-not-at-top
  from gdm_jax.eval.images import save_png  # pylint: disable=g-import-not-at-top
  from gdm_jax.eval.plots import latent_scatter_figure  # pylint: disable=g-import-not-at-top
  from gdm_jax.models.latent_priors import hdr_fraction  # pylint: disable=g-import-not-at-top
  from gdm_jax.train.loop import load_run  # pylint: disable=g-import-not-at-top
  config, dataset, model, state, step = load_run(_WORKDIR.value)
  if config.model.latent_dim != 2:
    raise app.UsageError(f"the run has latent_dim {config.model.latent_dim}; "
                         "the scatter needs 2.")
  z, y = latent_codes(model, state.params, dataset, _NUM.value)
  frac = hdr_fraction(model.prior, z)
  title = (f"{config.model.name.upper()}, {model.prior.name} prior: "
           f"{len(z)} test codes, step {step}"
           + (f"\n{100 * frac:.1f}% of the codes in the prior's 99% "
              "highest-density region" if frac is not None else ""))
  img = latent_scatter_figure(z, y, model.prior, title=title,
                              class_names=FASHION_MNIST_CLASSES)
  out = _OUT.value or os.path.join(_WORKDIR.value, "latent.png")
  save_png(image_grid(img[None], pad=0), out)
  print(f"{out}: {len(z)} codes; fraction in the prior's 99% HDR: {frac}")


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(main)

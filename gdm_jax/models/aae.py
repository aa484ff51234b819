"""Adversarial autoencoder (AAE): an autoencoder whose code distribution q(z)
is matched to a prior p(z) by a GAN in latent space.

Model: deterministic encoder z = E(x) (an MLP), decoder p(x | z) Bernoulli
(logits, binarised data) or "l2" (sigmoid mean G(z) on [0, 1] data, cost
||x - G(z)||², i.e. a Gaussian of variance 1/2 up to a constant), and a
latent discriminator D(z) = σ(V(z)) (an MLP). The aggregated posterior
q(z) = E_x[δ(z - E(x))] is pushed towards p(z) (`latent_priors`: Gaussian,
the paper's 2-D mixture of 10 Gaussians, a ring, the swiss roll).

One compiled `train_step` runs the paper's two phases on one minibatch
(Makhzani et al. 2015, §2), each player with its own optax chain:
  1. reconstruction  encoder + decoder descend
                       L_rec = (1/B) Σ_i -log p(x_i | E(x_i))
                     (`config.optimizer.autoencoder`);
  2. discriminator   D descends (prior samples = real, codes = fake)
                       L_D = (1/B) Σ_i [-log D(z_i) - log(1 - D(E(x_i)))],
                       z_i ~ p(z)   (`config.optimizer.discriminator`);
  3. generator       the encoder descends the non-saturating loss
                       L_E = (1/B) Σ_i -log D(E(x_i))
                     (`config.optimizer.generator`), with the updated D.
At the optimum of step 2, D*(z) = p(z) / (p(z) + q(z)), i.e. V*(z) =
log p(z) - log q(z) (Goodfellow et al. 2014, Prop. 1), and step 3 then
lowers the Jensen-Shannon divergence between q(z) and p(z).

State: `state.params = {'encoder', 'decoder', 'discriminator'}` (flax
variables of each network); `state.opt_state = {'autoencoder': over
{'encoder', 'decoder'}, 'discriminator': over D, 'generator': over the
encoder}`: the encoder has two optimiser states, as in the paper, where the
two phases use different learning rates.

Metrics (train step, means): reconstruction (nats for Bernoulli, squared
error for l2), d_loss, d_accuracy ((1[V(z) > 0] + 1[V(E(x)) < 0]) / 2),
g_loss (the encoder's adversarial loss), grad norms. `evaluate` adds the
squared error ||x̄ - x̂||² of the decoded mean x̂ against the grey-level image
x̄ = pixel / 255 (comparable across families and likelihoods) and `mmd`, the
unbiased MMD² (IMQ kernel with the prior's scale, `divergences.imq_kernel`)
between the batch's codes and as many prior samples (a batch-level value
repeated per example).

Config (`config.model`): hidden (encoder MLP sizes; the decoder uses them
reversed), latent_dim, likelihood ('bernoulli' | 'l2'), prior (see
`latent_priors.PRIORS`), prior_scale (σ of the Gaussian prior),
discriminator_hidden.

References:
  Makhzani, Shlens, Jaitly, Goodfellow and Frey 2015, "Adversarial
    Autoencoders", arXiv:1511.05644, §2 (training in two phases), Fig. 1-4.
  Goodfellow et al. 2014, "Generative Adversarial Nets" (Prop. 1, the
    optimal discriminator; §3, the non-saturating loss).
"""

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import latent_priors
from gdm_jax.nn import MLP
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState

LIKELIHOODS = ("bernoulli", "l2")
# Size [px] of the latent scatter image drawn inside `images` (2-D codes).
LATENT_IMAGE_SIZE = 160
# tab10 colours (one per class label).
TAB10 = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                  [148, 103, 189], [140, 86, 75], [227, 119, 194],
                  [127, 127, 127], [188, 189, 34], [23, 190, 207]],
                 np.float32) / 255.0


# ------------------------------------------------------------- networks ----


class Autoencoder(nn.Module):
  """Deterministic MLP encoder x -> z and MLP decoder z -> logits / means.

  encode: [B, H, W, C] -> [B, latent_dim]; decode: [N, latent_dim] ->
  [N, H, W, C] pre-activation outputs (Bernoulli logits, or the logits of a
  sigmoid mean).
  """
  image_shape: Sequence[int]
  latent_dim: int
  hidden: Sequence[int] = (512, 512)

  def setup(self):
    d = math.prod(self.image_shape)
    self.encoder = MLP(tuple(self.hidden) + (self.latent_dim,))
    self.decoder = MLP(tuple(reversed(tuple(self.hidden))) + (d,))

  def encode(self, x):
    return self.encoder(x.reshape(x.shape[0], -1))

  def decode(self, z):
    return self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))

  def __call__(self, x):
    return self.decode(self.encode(x))


def latent_discriminator(hidden: Sequence[int]) -> nn.Module:
  """D's logit V(z): an MLP [N, d] -> [N, 1] (ReLU hidden layers)."""
  return MLP(tuple(hidden) + (1,))


def reconstruction_cost(outputs: jax.Array, x: jax.Array,
                        likelihood: str) -> jax.Array:
  """Per-example reconstruction loss [B] from decoder outputs [B, H, W, C].

  bernoulli: -log p(x | z) = Σ_pixels softplus(l) - x l (nats);
  l2: ||x - σ(l)||² summed over pixels (the WAE cost c(x, y) = ||x - y||²).
  """
  if likelihood == "bernoulli":
    return -distributions.sum_except_batch(
        distributions.bernoulli_log_prob(outputs, x))
  return distributions.sum_except_batch(jnp.square(x - jax.nn.sigmoid(outputs)))


# ----------------------------------------------------------- latent plot ----


def latent_raster(z: jax.Array, labels: jax.Array | None,
                  prior: latent_priors.LatentPrior,
                  size: int = LATENT_IMAGE_SIZE) -> jax.Array:
  """A jittable picture of 2-D codes over the prior's density.

  Background: exp(log p) on a size x size grid over `prior.extent`,
  normalised to its maximum, as grey levels (white = 0, dark = peak); the
  swiss roll (no density) draws 4000 prior samples instead. Codes: 3x3-pixel
  dots coloured by label (tab10), black without labels; codes outside the
  extent are clipped to its border.

  Args:
    z: [N, 2] codes; labels: int [N] or None.

  Returns:
    float32 [1, size, size, 3] in [0, 1] (one image for an image grid).
  """
  xmin, xmax, ymin, ymax = prior.extent
  if prior.log_prob is not None:
    xs = jnp.linspace(xmin, xmax, size)
    ys = jnp.linspace(ymax, ymin, size)                     # row 0 = top
    gx, gy = jnp.meshgrid(xs, ys)
    lp = prior.log_prob(jnp.stack([gx.ravel(), gy.ravel()], -1)).reshape(size, size)
    dens = jnp.exp(lp - jnp.max(lp))
  else:
    pts = prior.sample(jax.random.PRNGKey(0), 4000)
    dens = jnp.zeros((size, size)).at[_pixels(pts, prior.extent, size)].add(1.0)
    dens = jnp.minimum(dens, 1.0)
  img = jnp.broadcast_to((1.0 - 0.6 * dens)[..., None], (size, size, 3))
  colours = (jnp.zeros((z.shape[0], 3)) if labels is None
             else jnp.asarray(TAB10)[labels % 10])
  rows, cols = _pixels(z, prior.extent, size)
  for dr in (-1, 0, 1):
    for dc in (-1, 0, 1):
      img = img.at[jnp.clip(rows + dr, 0, size - 1),
                   jnp.clip(cols + dc, 0, size - 1)].set(colours)
  return img[None]


def _pixels(z, extent, size):
  xmin, xmax, ymin, ymax = extent
  col = jnp.clip(((z[:, 0] - xmin) / (xmax - xmin) * size).astype(jnp.int32),
                 0, size - 1)
  row = jnp.clip(((ymax - z[:, 1]) / (ymax - ymin) * size).astype(jnp.int32),
                 0, size - 1)
  return row, col


def latent_scatter_figure(z, labels, prior: latent_priors.LatentPrior,
                          title: str = "", class_names=None,
                          max_points: int = 10000) -> np.ndarray:
  """Codes coloured by label over the prior's density contours (matplotlib).

  Args:
    z: [N, 2] codes (e.g. the encoded test set); labels: int [N] or None.
    prior: a 2-D `LatentPrior` (density contours where it has a density,
      else 5000 prior samples in grey).
    title: axes title; class_names: legend names per label.
    max_points: at most this many codes are drawn.

  Returns:
    float32 [H, W, 3] RGB in [0, 1].

  Raises:
    ValueError: z not [N, 2].
  """
  from gdm_jax.eval import plots  # pylint: disable=g-import-not-at-top
  z = np.asarray(z, np.float64)[:max_points]
  if z.ndim != 2 or z.shape[1] != 2:
    raise ValueError(f"latent_scatter_figure draws [N, 2] codes; got {z.shape}.")
  fig = plots.new_figure(560, 480)
  ax = fig.add_subplot(1, 1, 1)
  xmin, xmax, ymin, ymax = prior.extent
  if prior.log_prob is not None:
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200))
    grid = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float32)
    dens = np.exp(np.asarray(prior.log_prob(jnp.asarray(grid)), np.float64))
    ax.contourf(gx, gy, dens.reshape(gx.shape), levels=12, cmap="Greys",
                alpha=0.6)
  else:
    pts = np.asarray(prior.sample(jax.random.PRNGKey(0), 5000))
    ax.scatter(pts[:, 0], pts[:, 1], s=1, c="0.6", linewidths=0)
  if labels is None:
    ax.scatter(z[:, 0], z[:, 1], s=2, c="k", alpha=0.6, linewidths=0)
  else:
    labels = np.asarray(labels)[:len(z)]
    for k in np.unique(labels):
      sel = labels == k
      name = class_names[k] if class_names is not None else str(k)
      ax.scatter(z[sel, 0], z[sel, 1], s=2, color=TAB10[k % 10], alpha=0.7,
                 linewidths=0, label=name)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7,
              markerscale=5, frameon=False)
  ax.set_xlim(xmin, xmax)
  ax.set_ylim(ymin, ymax)
  ax.set_aspect("equal", adjustable="box")
  ax.tick_params(labelsize=7)
  if title:
    ax.set_title(title, fontsize=9)
  fig.tight_layout(pad=0.4)
  return plots.figure_to_rgb(fig)


# --------------------------------------------------------------- family ----


class AAE(NamedTuple):
  """The model interface (models/base.py) plus the AAE's own functions.

  Extra pure functions (`params` = `state.params`; x in model space, i.e.
  preprocessed, float [B, H, W, C]):
    encode(params, x) -> z [B, latent_dim]
    decode_mean(params, z) -> [N, H, W, C] in [0, 1]
    reconstruct(params, x) -> [B, H, W, C] in [0, 1]
    reconstruction_loss(params, x) -> [B] (nats, or squared error for l2)
    critic(params, z) -> D's logit V(z) [N]
    discriminator_loss(d_params, z_prior, z_codes) -> scalar L_D
    generator_loss(d_params, z_codes) -> scalar L_E
    sample_prior(rng, n) -> [n, latent_dim]
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  encode: Callable
  decode_mean: Callable
  reconstruct: Callable
  reconstruction_loss: Callable
  critic: Callable
  discriminator_loss: Callable
  generator_loss: Callable
  sample_prior: Callable
  prior: latent_priors.LatentPrior
  preprocessing: Preprocessing
  net: Autoencoder
  discriminator_net: nn.Module


def make_prior(mc) -> latent_priors.LatentPrior:
  """The prior of `config.model` (prior, prior_scale for the Gaussian)."""
  name = mc.get("prior", "gaussian")
  kw = {"scale": mc.get("prior_scale", 1.0)} if name == "gaussian" else {}
  return latent_priors.get_prior(name, mc.latent_dim, **kw)


def check_data(config, likelihood: str) -> Preprocessing:
  """The preprocessing, checked against the likelihood.

  Raises:
    ValueError: Bernoulli on continuous data, l2 on binary or non-[0, 1] data.
  """
  pre = make_preprocessing(config.data.binarization, config.data.dequantization,
                           config.data.value_range)
  if likelihood == "bernoulli" and not pre.binary:
    raise ValueError("model.likelihood='bernoulli' needs binarised data "
                     "(data.binarization='dynamic' or 'static').")
  if likelihood == "l2" and (pre.binary or config.data.value_range != "0_1"):
    raise ValueError("model.likelihood='l2' (sigmoid mean on [0, 1]) needs "
                     "data.binarization='none' and data.value_range='0_1'.")
  return pre


def validate_config(mc) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  if mc.likelihood not in LIKELIHOODS:
    raise ValueError(f"model.likelihood must be one of {LIKELIHOODS}; got "
                     f"'{mc.likelihood}'.")
  if mc.latent_dim < 1:
    raise ValueError(f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  for field in ("hidden", "discriminator_hidden"):
    sizes = tuple(mc[field])
    if not sizes or min(sizes) < 1:
      raise ValueError(f"model.{field} needs >= 1 layer of sizes >= 1; got "
                       f"{sizes}.")


def make(config, dataset_info: dict) -> AAE:
  """Builds the AAE's functions from `config` (see module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.autoencoder,
      .optimizer.discriminator, .optimizer.generator, .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  validate_config(mc)
  prior = make_prior(mc)
  pre = check_data(config, mc.likelihood)
  shape = tuple(dataset_info["shape"])
  d = mc.latent_dim
  net = Autoencoder(shape, d, tuple(mc.hidden))
  disc = latent_discriminator(tuple(mc.discriminator_hidden))
  num_steps = config.train.num_steps
  tx_ae = make_optimizer(config.optimizer.autoencoder, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator, num_steps)
  tx_g = make_optimizer(config.optimizer.generator, num_steps)
  mmd_kernel = divergences.imq_kernel(prior.sigma2)

  # Input checks at trace time (the batch fits the data set the model was
  # built for; codes are [B, d]).
  check_batch, check_x, check_z = checks.autoencoder_checks("aae", shape,
                                                            d)

  def _ae_vars(params):
    return {"params": {"encoder": params["encoder"],
                       "decoder": params["decoder"]}}

  def encode(params, x):
    check_x("encode", x)
    return net.apply(_ae_vars(params), x, method=Autoencoder.encode)

  def _decode(params, z):
    return net.apply(_ae_vars(params), z, method=Autoencoder.decode)

  def decode_mean(params, z):
    check_z("decode_mean", "z", z)
    return jax.nn.sigmoid(_decode(params, z))

  def reconstruct(params, x):
    check_x("reconstruct", x)
    return decode_mean(params, encode(params, x))

  def reconstruction_loss(params, x):
    check_x("reconstruction_loss", x)
    return reconstruction_cost(_decode(params, encode(params, x)), x,
                               mc.likelihood)

  def critic(params, z):
    check_z("critic", "z", z)
    return disc.apply(params["discriminator"], z)[:, 0]

  def discriminator_loss(d_vars, z_prior, z_codes):
    """L_D = mean -log D(z_prior) - log(1 - D(z_codes)) (prior = real)."""
    check_z("discriminator_loss", "z_prior", z_prior)
    check_z("discriminator_loss", "z_codes", z_codes)
    checks.check_same_batch("aae.discriminator_loss",
                            [("z_prior", z_prior), ("z_codes", z_codes)])
    logits = disc.apply(d_vars, jnp.concatenate([z_prior, z_codes]))[:, 0]
    l_p, l_q = jnp.split(logits, 2)
    return jnp.mean(gan_losses.discriminator_loss_per_example(l_p, l_q)), (l_p, l_q)

  def generator_loss(d_vars, z_codes):
    """L_E = mean -log D(z_codes) (non-saturating)."""
    check_z("generator_loss", "z_codes", z_codes)
    l_q = disc.apply(d_vars, z_codes)[:, 0]
    return jnp.mean(gan_losses.generator_loss_non_saturating_per_example(l_q))

  def sample_prior(rng, n):
    checks.check_positive_int("aae.sample_prior", "n", n)
    return prior.sample(rng, n)

  # --------------------------------------------------------- train step ----

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    pre_rng, prior_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    params, opt = state.params, state.opt_state
    b = x.shape[0]

    # 1. Reconstruction phase: encoder + decoder.
    ae = {"encoder": params["encoder"], "decoder": params["decoder"]}
    rec_fn = lambda p: jnp.mean(reconstruction_loss(p, x))
    rec, ae_grads = jax.value_and_grad(rec_fn)(ae)
    updates, opt_ae = tx_ae.update(ae_grads, opt["autoencoder"], ae)
    ae = optax.apply_updates(ae, updates)

    # 2. Regularisation phase, discriminator: prior samples real, codes fake.
    z_codes = jax.lax.stop_gradient(encode(ae, x))
    z_prior = prior.sample(prior_rng, b)
    (d_loss, (l_p, l_q)), d_grads = jax.value_and_grad(
        discriminator_loss, has_aux=True)(params["discriminator"], z_prior, z_codes)
    updates, opt_d = tx_d.update(d_grads, opt["discriminator"],
                                 params["discriminator"])
    d_vars = optax.apply_updates(params["discriminator"], updates)

    # 3. Regularisation phase, generator: the encoder fools the new D.
    g_fn = lambda enc: generator_loss(
        d_vars, encode({"encoder": enc, "decoder": ae["decoder"]}, x))
    g_loss, e_grads = jax.value_and_grad(g_fn)(ae["encoder"])
    updates, opt_g = tx_g.update(e_grads, opt["generator"], ae["encoder"])
    encoder = optax.apply_updates(ae["encoder"], updates)

    d_acc = 0.5 * (jnp.mean((l_p > 0).astype(jnp.float32))
                   + jnp.mean((l_q < 0).astype(jnp.float32)))
    new_state = state.replace(
        step=state.step + 1,
        params={"encoder": encoder, "decoder": ae["decoder"],
                "discriminator": d_vars},
        opt_state={"autoencoder": opt_ae, "discriminator": opt_d,
                   "generator": opt_g})
    return new_state, {
        "reconstruction": rec, "d_loss": d_loss, "d_accuracy": d_acc,
        "g_loss": g_loss, "loss": rec + g_loss,
        "ae_grad_norm": optax.global_norm(ae_grads),
        "d_grad_norm": optax.global_norm(d_grads),
        "g_grad_norm": optax.global_norm(e_grads)}

  def init(rng, batch):
    if batch is not None:
      check_batch("init", batch)
    del batch
    ae_rng, d_rng, state_rng = jax.random.split(rng, 3)
    ae_vars = net.init(ae_rng, jnp.zeros((1,) + shape, jnp.float32))["params"]
    d_vars = disc.init(d_rng, jnp.zeros((1, d), jnp.float32))
    params = {"encoder": ae_vars["encoder"], "decoder": ae_vars["decoder"],
              "discriminator": d_vars}
    opt_state = {
        "autoencoder": tx_ae.init({"encoder": params["encoder"],
                                   "decoder": params["decoder"]}),
        "discriminator": tx_d.init(d_vars),
        "generator": tx_g.init(params["encoder"])}
    return TrainState.create(state_rng, params, opt_state)

  # --------------------------------------------------------- evaluation ----

  def evaluate(params, batch, rng):
    """Per-example [B]: reconstruction, squared_error (decoded mean vs the
    grey-level image pixel/255), d_loss, d_accuracy, g_loss (against B prior
    samples), and the batch's code-vs-prior MMD² repeated per example."""
    check_batch("evaluate", batch)
    pre_rng, prior_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    grey = batch["image"].astype(jnp.float32) / 255.0
    z = encode(params, x)
    out = _decode(params, z)
    z_prior = prior.sample(prior_rng, x.shape[0])
    l_p, l_q = critic(params, z_prior), critic(params, z)
    b = x.shape[0]
    return {
        "reconstruction": reconstruction_cost(out, x, mc.likelihood),
        "squared_error": distributions.sum_except_batch(
            jnp.square(grey - jax.nn.sigmoid(out))),
        "d_loss": gan_losses.discriminator_loss_per_example(l_p, l_q),
        "d_accuracy": 0.5 * ((l_p > 0).astype(jnp.float32)
                             + (l_q < 0).astype(jnp.float32)),
        "g_loss": gan_losses.generator_loss_non_saturating_per_example(l_q),
        "mmd": jnp.full((b,), divergences.mmd_unbiased(z, z_prior, mmd_kernel)),
    }

  def sample(params, rng, n):
    """x̂ = mean of p(x | z), z ~ p(z): [n, H, W, C] in [0, 1]."""
    checks.check_positive_int("aae.sample", "n", n)
    return decode_mean(params, prior.sample(rng, n))

  def images(params, batch, rng):
    """{'samples': [64, ...], 'reconstructions': [2n, ...] (inputs, then
    their reconstructions)}, and for latent_dim = 2 'latent': the batch's
    codes coloured by label over the prior's density (`latent_raster`)."""
    check_batch("images", batch)
    pre_rng, s_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"][:32])
    out = {"samples": sample(params, s_rng, 64),
           "reconstructions": jnp.concatenate([pre.to_unit(x),
                                               reconstruct(params, x)])}
    if d == 2:
      labels = batch.get("label")
      out["latent"] = latent_raster(encode(params, x), None if labels is None
                                    else labels[:32], prior)
    return out

  def protocol():
    return {"model": "aae", "likelihood": mc.likelihood, "latent_dim": d,
            "prior": prior.description, "preprocessing": pre.description,
            "encoder": "deterministic MLP " + str(tuple(mc.hidden)),
            "squared_error": "sum over pixels of (pixel/255 - decoded mean)^2",
            "mmd": "unbiased MMD^2 between a batch's codes and as many prior "
                   "samples, IMQ kernel, C = 2 d sigma_z^2 x "
                   f"{divergences.WAE_IMQ_SCALES}, mean over batches"}

  return AAE(init, train_step, evaluate, evaluate, sample, protocol, images,
             encode, decode_mean, reconstruct, reconstruction_loss, critic,
             lambda d_vars, zp, zq: discriminator_loss(d_vars, zp, zq)[0],
             generator_loss, sample_prior, prior, pre, net, disc)

"""The deterministic autoencoder that the AAE and the WAE share, and the
pieces of mathematics both families use.

Networks (`build_networks(model_config, shape)`):
  Autoencoder           encoder MLP x -> z = E(x) [B, d] (deterministic) and
                        decoder MLP z -> pre-activation outputs [N, H, W, C]
                        (Bernoulli logits, or the logits of a sigmoid mean
                        G(z) = σ(outputs) on [0, 1] data);
  latent_discriminator  an MLP V: [N, d] -> [N, 1], D(z) = σ(V(z)).

Parameters: `params = {'encoder', 'decoder'}` (flax params of the two
halves) plus `'discriminator'` (the discriminator's flax variables) where
the family has one; `autoencoder_params(params)` selects the first two.

Mathematics (module-level functions, usable on a checkpoint's params):
  reconstruction_cost   -log p(x | z) (bernoulli, nats) or ||x - G(z)||² (l2)
  discriminator_loss    L_D = mean -log D(z_prior) - log(1 - D(ẑ))
                        (prior samples real, codes fake; Goodfellow et al.
                        2014, eq. 1), at the optimum V*(z) = log p(z)/q(z)
  generator_loss        L_E = mean -log D(ẑ), the non-saturating encoder term
  evaluation_terms      per-example reconstruction / squared error, the
                        code-vs-prior MMD² over the batch's real rows only,
                        and the discriminator's metrics.

Input checks run at trace time (`check_batch`, `check_x`, `check_z`, also
AVB's); the array-level functions' messages name 'autoencoder.<function>',
the batch-level ones '<family>.<function>'.

References:
  Makhzani, Shlens, Jaitly, Goodfellow and Frey 2015, "Adversarial
    Autoencoders", arXiv:1511.05644, §2.
  Tolstikhin, Bousquet, Gelly and Schölkopf 2018, "Wasserstein
    Auto-Encoders", ICLR, Algorithms 1-2.
  Goodfellow et al. 2014, "Generative Adversarial Nets" (eq. 1, Prop. 1;
    §3, the non-saturating loss).
"""

import dataclasses
import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax import rasters
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.models import latent_priors
from gdm_jax.nn import MLP

LIKELIHOODS = ("bernoulli", "l2")
AUTOENCODER = ("encoder", "decoder")     # the autoencoder's entries of params
# The discriminator's per-example evaluation metrics.
ADVERSARIAL_METRICS = ("d_loss", "d_accuracy", "g_loss")

Kernel = Callable[[jax.Array, jax.Array], jax.Array]


# ------------------------------------------------------------- networks ----


class Autoencoder(nn.Module):
  """Deterministic MLP encoder x -> z and MLP decoder z -> logits / means.

  encode: [B, H, W, C] -> [B, latent_dim]; decode: [N, latent_dim] ->
  [N, H, W, C] pre-activation outputs (Bernoulli logits, or the logits of a
  sigmoid mean). The decoder's hidden sizes are the encoder's reversed.
  """
  image_shape: Sequence[int]
  latent_dim: int
  hidden: Sequence[int] = (512, 512)

  def setup(self):
    """The encoder MLP (hidden + (latent_dim,)) and the decoder MLP (hidden
    reversed + (H·W·C,))."""
    d = math.prod(self.image_shape)
    self.encoder = MLP(tuple(self.hidden) + (self.latent_dim,))
    self.decoder = MLP(tuple(reversed(tuple(self.hidden))) + (d,))

  def encode(self, x):
    """x [B, H, W, C] -> z [B, latent_dim]."""
    return self.encoder(x.reshape(x.shape[0], -1))

  def decode(self, z):
    """z [N, latent_dim] -> pre-activation outputs [N, H, W, C]."""
    return self.decoder(z).reshape((z.shape[0],) + tuple(self.image_shape))

  def __call__(self, x):
    """decode(encode(x)): [B, H, W, C] -> [B, H, W, C] (for `init`)."""
    return self.decode(self.encode(x))


def latent_discriminator(hidden: Sequence[int]) -> nn.Module:
  """D's logit V(z): an MLP [N, d] -> [N, 1] (ReLU hidden layers)."""
  return MLP(tuple(hidden) + (1,))


def build_networks(model_config, shape: Sequence[int], *,
                   discriminator: bool = True
                   ) -> tuple[Autoencoder, nn.Module | None]:
  """(Autoencoder, latent discriminator or None) of `config.model`
  (hidden, latent_dim, discriminator_hidden) for images of `shape` (H, W, C).
  """
  mc = model_config
  net = Autoencoder(tuple(shape), mc.latent_dim, tuple(mc.hidden))
  disc = (latent_discriminator(tuple(mc.discriminator_hidden))
          if discriminator else None)
  return net, disc


def make_prior(model_config) -> latent_priors.LatentPrior:
  """The prior of `config.model` (prior, prior_scale for the Gaussian)."""
  name = model_config.get("prior", "gaussian")
  kw = ({"scale": model_config.get("prior_scale", 1.0)}
        if name == "gaussian" else {})
  return latent_priors.get_prior(name, model_config.latent_dim, **kw)


def check_data(config, likelihood: str) -> Preprocessing:
  """The preprocessing of `config.data`, checked against the likelihood.

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


def build(config, dataset_info: dict, players: Sequence[str], *,
          likelihood: str, discriminator: bool = True) -> tuple:
  """What an AAE's or a WAE's `make` builds from its (validated) config:
  (prior, preprocessing, net, disc, txs) from `make_prior`, `check_data`,
  `build_networks` (disc None without a discriminator) and one optax chain
  per player, txs[p] = make_optimizer(config.optimizer[p],
  config.train.num_steps).

  Raises:
    ValueError: data that do not suit the likelihood, or an invalid prior
      or optimiser setting.
  """
  mc = config.model
  prior = make_prior(mc)
  pre = check_data(config, likelihood)
  net, disc = build_networks(mc, dataset_info["shape"],
                             discriminator=discriminator)
  txs = {p: make_optimizer(config.optimizer[p], config.train.num_steps)
         for p in players}
  return prior, pre, net, disc, txs


def check_model_config(mc, choices: dict[str, tuple[str, ...]],
                       layers: Sequence[str],
                       defaults: dict[str, str] | None = None) -> None:
  """Validates `config.model`: each field of `choices` is one of its values
  (a missing field takes `defaults[field]`), latent_dim >= 1, and each
  field of `layers` is a non-empty tuple of sizes >= 1.

  Raises:
    ValueError: the first invalid field (the message names it).
  """
  defaults = defaults or {}
  for field, allowed in choices.items():
    value = mc.get(field, defaults.get(field))
    if value not in allowed:
      raise ValueError(f"model.{field} must be one of {allowed}; got "
                       f"'{value}'.")
  if mc.latent_dim < 1:
    raise ValueError(f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  for field in layers:
    sizes = tuple(mc[field])
    if not sizes or min(sizes) < 1:
      raise ValueError(f"model.{field} needs >= 1 layer of sizes >= 1; got "
                       f"{sizes}.")


# --------------------------------------------------------- input checks ----


def check_batch(net: Any, fn: str, batch: Any) -> None:
  """batch['image'] is a numeric [B, *net.image_shape] array (the data set
  the model was built for); the message names `fn`, e.g. 'aae.train_step'.

  Raises:
    ValueError: no 'image' key, or an array of another shape or dtype.
  """
  checks.check_batch(fn, batch, "image", net.image_shape, "numeric")


def check_x(net: Any, fn: str, x: Any) -> None:
  """x is a floating [B, *net.image_shape] batch (model space).

  Raises:
    ValueError: naming `fn` and `x`.
  """
  checks.check_example_batch(fn, "x", x, net.image_shape, "floating")


def check_z(net: Any, fn: str, name: str, z: Any) -> None:
  """z is a floating [B, net.latent_dim] array of latent codes.

  Raises:
    ValueError: naming `fn` and the argument `name`.
  """
  d = net.latent_dim
  checks.check_array(fn, name, z, shape=(None, d),
                     layout=f"[B, {d}] (latent codes)")


# ----------------------------------------------------------- parameters ----


def autoencoder_params(params: dict) -> dict:
  """{'encoder', 'decoder'} of `params` (the autoencoder player's tree)."""
  return {k: params[k] for k in AUTOENCODER}


def init_state(net: Autoencoder, disc: nn.Module | None,
               txs: dict[str, optax.GradientTransformation],
               players: dict[str, str | tuple[str, ...]], rng: jax.Array,
               batch: dict | None = None, *, family: str) -> TrainState:
  """Fresh parameters and one optimiser state per player.

  ae_key, d_key, state_key = split(rng, 3); the autoencoder is initialised
  on zeros [1, H, W, C], the discriminator (if any) on zeros [1, d].
  `players[name]` names the params entry (or tuple of entries, as a dict)
  that the optimiser txs[name] updates, e.g. {'autoencoder': ('encoder',
  'decoder'), 'generator': 'encoder'} (`TrainState.create_players`).

  Raises:
    ValueError: an example batch (optional) that does not fit the data set.
  """
  if batch is not None:
    check_batch(net, f"{family}.init", batch)
  ae_rng, d_rng, state_rng = jax.random.split(rng, 3)
  params = dict(net.init(ae_rng, jnp.zeros((1,) + tuple(net.image_shape),
                                           jnp.float32))["params"])
  if disc is not None:
    params["discriminator"] = disc.init(
        d_rng, jnp.zeros((1, net.latent_dim), jnp.float32))
  return TrainState.create_players(state_rng, params, txs, players=players)


# ---------------------------------------------------------- autoencoder ----


def encode(net: Autoencoder, params: dict, x: jax.Array) -> jax.Array:
  """z = E(x): x [B, H, W, C] (model space) -> codes [B, d].

  Raises:
    ValueError: x is not a floating [B, H, W, C] batch of the net's shape.
  """
  check_x(net, "autoencoder.encode", x)
  return net.apply({"params": autoencoder_params(params)}, x,
                   method=Autoencoder.encode)


def decode(net: Autoencoder, params: dict, z: jax.Array) -> jax.Array:
  """Decoder outputs (logits) [N, H, W, C] of codes z [N, d].

  Raises:
    ValueError: z is not a floating [N, d] array.
  """
  check_z(net, "autoencoder.decode", "z", z)
  return net.apply({"params": autoencoder_params(params)}, z,
                   method=Autoencoder.decode)


def decode_mean(net: Autoencoder, params: dict, z: jax.Array) -> jax.Array:
  """The decoded mean σ(decode(z)) [N, H, W, C] in [0, 1] (G(z) of a WAE)."""
  check_z(net, "autoencoder.decode_mean", "z", z)
  return jax.nn.sigmoid(decode(net, params, z))


def reconstruct(net: Autoencoder, params: dict, x: jax.Array) -> jax.Array:
  """σ(decode(encode(x))) [B, H, W, C] in [0, 1]."""
  check_x(net, "autoencoder.reconstruct", x)
  return decode_mean(net, params, encode(net, params, x))


def reconstruction_cost(outputs: jax.Array, x: jax.Array,
                        likelihood: str) -> jax.Array:
  """Per-example reconstruction loss [B] from decoder outputs [B, H, W, C].

    bernoulli: -log p(x | z) = Σ_pixels softplus(l) - x l   (nats);
    l2:        ||x - σ(l)||² summed over pixels (squared-error units; the
               WAE cost c(x, y) = ||x - y||², Tolstikhin et al. §4, and a
               Gaussian of variance 1/2 up to a constant).
  """
  if likelihood == "bernoulli":
    return -distributions.sum_except_batch(
        distributions.bernoulli_log_prob(outputs, x))
  return distributions.sum_except_batch(jnp.square(x - jax.nn.sigmoid(outputs)))


def reconstruction_loss(net: Autoencoder, params: dict, x: jax.Array, *,
                        likelihood: str) -> jax.Array:
  """reconstruction_cost(decode(encode(x)), x) [B]: nats (bernoulli) or
  squared error (l2, the WAE's c(x, G(Q(x))))."""
  check_x(net, "autoencoder.reconstruction_loss", x)
  return reconstruction_cost(decode(net, params, encode(net, params, x)), x,
                             likelihood)


def sample(net: Autoencoder, prior: latent_priors.LatentPrior, params: dict,
           rng: jax.Array, n: int) -> jax.Array:
  """x̂ = σ(decode(z)), z ~ p(z): [n, H, W, C] in [0, 1].

  Raises:
    ValueError: n is not a positive Python int.
  """
  checks.check_positive_int("autoencoder.sample", "n", n)
  return decode_mean(net, params, prior.sample(rng, n))


# -------------------------------------------------------- discriminator ----


def critic(disc: nn.Module, params: dict, z: jax.Array) -> jax.Array:
  """D's logit V(z) [N] of codes z [N, d]; params = the state's params
  (with 'discriminator').

  Raises:
    ValueError: z is not a floating [N, d] array.
  """
  checks.check_arg("autoencoder.critic", "z", z,
                   "floating [N, d] (latent codes)")
  return disc.apply(params["discriminator"], z)[:, 0]


def discriminator_accuracy(l_p: jax.Array, l_q: jax.Array) -> jax.Array:
  """(1[V(z_i) > 0] + 1[V(ẑ_i) < 0]) / 2 per pair [B]: prior samples called
  real and codes called fake."""
  return 0.5 * ((l_p > 0).astype(jnp.float32) + (l_q < 0).astype(jnp.float32))


# Prior samples and codes of one batch, as the discriminator's losses take them.
_CODE_PAIR = dict(z_prior="floating [B, d] (latent codes)",
                  z_codes="floating [B, d] (latent codes)", same_batch=True)


@checks.inputs(**_CODE_PAIR)
def discriminator_objective(disc: nn.Module, d_vars: Any, z_prior: jax.Array,
                            z_codes: jax.Array, *, weight: float = 1.0
                            ) -> tuple[jax.Array, dict]:
  """weight · L_D and its metrics, for `core.steps.gradient_update`.

    L_D = (1/B) Σ_i [-log D(z_i) - log(1 - D(ẑ_i))],  z_i ~ p(z), ẑ_i codes,

  the logistic loss with prior samples as the real class (Goodfellow et al.
  2014, eq. 1; the AAE's discriminator, Makhzani et al. §2; WAE-GAN's D
  ascends λ[log D(z) + log(1 - D(ẑ))], i.e. descends λ L_D, Tolstikhin et
  al. Algorithm 1). At the optimum V*(z) = log p(z) - log q(z).

  Args:
    disc: the latent discriminator; d_vars: its flax variables.
    z_prior, z_codes: [B, d] prior samples and (stop-gradient) codes.
    weight: λ (1 for the AAE).

  Returns:
    (weight · L_D, {'d_loss': L_D, 'd_accuracy': mean accuracy}).

  Raises:
    ValueError: codes that are not floating [B, d] arrays of one shape.
  """
  logits = disc.apply(d_vars, jnp.concatenate([z_prior, z_codes]))[:, 0]
  l_p, l_q = jnp.split(logits, 2)
  loss = jnp.mean(gan_losses.discriminator_loss_per_example(l_p, l_q))
  return weight * loss, {"d_loss": loss,
                         "d_accuracy": jnp.mean(discriminator_accuracy(l_p, l_q))}


@checks.inputs(**_CODE_PAIR)
def discriminator_loss(disc: nn.Module, d_vars: Any, z_prior: jax.Array,
                       z_codes: jax.Array) -> jax.Array:
  """L_D (scalar, nats) of `discriminator_objective`.

  Raises:
    ValueError: codes that are not floating [B, d] arrays of one batch size.
  """
  return discriminator_objective(disc, d_vars, z_prior, z_codes)[0]


def generator_loss(disc: nn.Module, d_vars: Any, z_codes: jax.Array
                   ) -> jax.Array:
  """L_E = (1/B) Σ_i -log D(ẑ_i) (scalar, nats): the encoder's
  non-saturating adversarial loss (Goodfellow et al. 2014, §3); codes
  z_codes [B, d] carry the encoder's gradient.

  Raises:
    ValueError: z_codes is not a floating [B, d] array.
  """
  checks.check_arg("autoencoder.generator_loss", "z_codes", z_codes,
                   "floating [B, d] (latent codes)")
  l_q = disc.apply(d_vars, z_codes)[:, 0]
  return jnp.mean(gan_losses.generator_loss_non_saturating_per_example(l_q))


# ----------------------------------------------------------- evaluation ----


def prepare(pre: Preprocessing, prior: latent_priors.LatentPrior,
            image: jax.Array, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(x, z_prior): the preprocessed batch [B, H, W, C] and B prior samples
  [B, d], from pre_key, prior_key = split(rng)."""
  pre_rng, prior_rng = jax.random.split(rng)
  x = pre.apply(pre_rng, image)
  return x, prior.sample(prior_rng, x.shape[0])


def batch_inputs(net: Autoencoder, pre: Preprocessing,
                 prior: latent_priors.LatentPrior, batch: dict,
                 rng: jax.Array, *, family: str, fn: str
                 ) -> tuple[jax.Array, jax.Array]:
  """`prepare` of batch['image'] after checking the batch fits the data
  set (the message names '<family>.<fn>').

  Raises:
    ValueError: batch['image'] is not a numeric [B, H, W, C] array.
  """
  check_batch(net, f"{family}.{fn}", batch)
  return prepare(pre, prior, batch["image"], rng)


def latent_mmd(z_codes: jax.Array, z_prior: jax.Array, kernel: Kernel,
               mask: jax.Array) -> jax.Array:
  """MMD²_u between the real rows of codes [B, d] and as many prior samples
  [B, d] (scalar): `divergences.mmd_unbiased` with the row weights `mask`
  [B] (1 real, 0 padding) on both samples, so a padded evaluation batch
  gives the statistic of its real rows alone (0 with fewer than two)."""
  return divergences.mmd_unbiased(z_codes, z_prior, kernel, x_weights=mask,
                                  y_weights=mask)


def evaluation_terms(net: Autoencoder, disc: nn.Module | None,
                     prior: latent_priors.LatentPrior, pre: Preprocessing,
                     params: dict, batch: dict, rng: jax.Array, *,
                     family: str, likelihood: str, kernel: Kernel,
                     adversarial: Sequence[str] = ()) -> dict:
  """An evaluation batch's metrics.

  Per example [B]: reconstruction (`reconstruction_cost`), squared_error
  ||x̄ - x̂||² of the decoded mean x̂ against the grey-level image x̄ =
  pixel / 255 (comparable across families and likelihoods), and the
  `adversarial` subset of d_loss, d_accuracy, g_loss against B prior
  samples. Scalar: mmd, MMD²_u of the codes against B prior samples over
  the batch's real rows (`base.eval_mask`, `latent_mmd`).

  Args:
    batch: {'image': uint8 [B, H, W, C], optional 'mask': float [B]}.
    family: names the function in input-check messages ('<family>.evaluate').
    kernel: the MMD kernel of the `mmd` metric.

  Raises:
    ValueError: batch['image'] does not fit the data set.
  """
  x, z_prior = batch_inputs(net, pre, prior, batch, rng, family=family,
                            fn="evaluate")
  grey = batch["image"].astype(jnp.float32) / 255.0
  z = encode(net, params, x)
  out = decode(net, params, z)
  mask = base.eval_mask(batch, x.shape[0])
  metrics = {"reconstruction": reconstruction_cost(out, x, likelihood),
             "squared_error": distributions.sum_except_batch(
                 jnp.square(grey - jax.nn.sigmoid(out))),
             "mmd": latent_mmd(z, z_prior, kernel, mask)}
  if adversarial:
    l_p, l_q = critic(disc, params, z_prior), critic(disc, params, z)
    every = {"d_loss": gan_losses.discriminator_loss_per_example(l_p, l_q),
             "d_accuracy": discriminator_accuracy(l_p, l_q),
             "g_loss": gan_losses.generator_loss_non_saturating_per_example(l_q)}
    metrics.update({k: every[k] for k in adversarial})
  return metrics


def images(net: Autoencoder, prior: latent_priors.LatentPrior,
           pre: Preprocessing, params: dict, batch: dict, rng: jax.Array, *,
           family: str) -> dict:
  """The pictures of one evaluation: {'samples': [64, H, W, C],
  'reconstructions': [2n, H, W, C] (n <= 32 inputs, then their
  reconstructions)}, and for 2-D codes 'latent': the inputs' codes coloured
  by label over the prior's density (`rasters.latent_raster`, [1, S, S, 3]);
  all in [0, 1]. Keys: pre_key, sample_key = split(rng).

  Raises:
    ValueError: batch['image'] does not fit the data set.
  """
  check_batch(net, f"{family}.images", batch)
  pre_rng, s_rng = jax.random.split(rng)
  x = pre.apply(pre_rng, batch["image"][:32])
  out = {"samples": sample(net, prior, params, s_rng, 64),
         "reconstructions": jnp.concatenate([pre.to_unit(x),
                                             reconstruct(net, params, x)])}
  if net.latent_dim == 2:
    labels = batch.get("label")
    out["latent"] = rasters.latent_raster(
        encode(net, params, x), None if labels is None else labels[:32], prior)
  return out


# ------------------------------------------------------------ the model ----


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatentAutoencoder(base.Model):
  """The model interface (models/base.py) plus what the AAE and the WAE
  share (`params` = `state.params`; x preprocessed, float [B, H, W, C]):

    encode(params, x) -> z [B, d]
    decode_mean(params, z) -> [N, H, W, C] in [0, 1]
    reconstruct(params, x) -> [B, H, W, C] in [0, 1]
    sample_prior(rng, n) -> [n, d]
    critic(params, z) -> D's logit V(z) [N] (None without a discriminator)
    prior, preprocessing, net (Autoencoder), discriminator_net (or None).
  """
  encode: Callable
  decode_mean: Callable
  reconstruct: Callable
  sample_prior: Callable
  prior: latent_priors.LatentPrior
  preprocessing: Preprocessing
  net: Autoencoder
  discriminator_net: nn.Module | None


def shared_members(net: Autoencoder, disc: nn.Module | None,
                   prior: latent_priors.LatentPrior, pre: Preprocessing, *,
                   family: str) -> dict:
  """The `LatentAutoencoder` members bound to these networks, and the
  interface's sample / images / critic."""
  bind = functools.partial
  return dict(
      encode=bind(encode, net), decode_mean=bind(decode_mean, net),
      reconstruct=bind(reconstruct, net), sample_prior=prior.sample,
      sample=bind(sample, net, prior),
      images=bind(images, net, prior, pre, family=family),
      critic=None if disc is None else bind(critic, disc),
      prior=prior, preprocessing=pre, net=net, discriminator_net=disc)

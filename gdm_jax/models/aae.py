"""Adversarial autoencoder (AAE): an autoencoder whose code distribution q(z)
is matched to a prior p(z) by a GAN in latent space.

Model: deterministic encoder z = E(x) (an MLP), decoder p(x | z) Bernoulli
(logits, binarised data) or "l2" (sigmoid mean G(z) on [0, 1] data, cost
||x - G(z)||², i.e. a Gaussian of variance 1/2 up to a constant), and a
latent discriminator D(z) = σ(V(z)) (an MLP); the networks and the shared
losses are `gdm_jax.models.autoencoder`'s (also the WAE's). The aggregated
posterior q(z) = E_x[δ(z - E(x))] is pushed towards p(z) (`latent_priors`:
Gaussian, the paper's 2-D mixture of 10 Gaussians, a ring, the swiss roll).

One compiled `train_step` runs the paper's two phases on one minibatch
(Makhzani et al. 2015, §2), each player with its own optax chain and one
`core.steps.gradient_update`:
  1. reconstruction  encoder + decoder descend (`reconstruction_objective`)
                       L_rec = (1/B) Σ_i -log p(x_i | E(x_i))
                     (`config.optimizer.autoencoder`);
  2. regularisation, discriminator: D descends (prior samples = real, codes
                     = fake; `autoencoder.discriminator_objective`)
                       L_D = (1/B) Σ_i [-log D(z_i) - log(1 - D(E(x_i)))],
                       z_i ~ p(z)   (`config.optimizer.discriminator`);
  3. regularisation, generator: the encoder descends the non-saturating
                     loss, with the updated D (`regularisation_objective`)
                       L_E = (1/B) Σ_i -log D(E(x_i))
                     (`config.optimizer.generator`).
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
unbiased MMD² (the WAE's IMQ kernel with the prior's scale,
`wae.make_kernel`) between the batch's real codes and as many prior samples
(a scalar; `autoencoder.evaluation_terms`).

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

import dataclasses
import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax.core import steps
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import wae

# Optimiser name -> the params entries it updates.
PLAYERS = {"autoencoder": ae.AUTOENCODER, "discriminator": "discriminator",
           "generator": "encoder"}


def reconstruction_objective(net: ae.Autoencoder, ae_params: dict,
                             x: jax.Array, *, likelihood: str
                             ) -> tuple[jax.Array, dict]:
  """Phase 1's loss L_rec = (1/B) Σ_i reconstruction_cost(x_i) over
  ae_params = {'encoder', 'decoder'} (nats, or squared error for l2), for
  `core.steps.gradient_update`: (L_rec, {})."""
  return jnp.mean(ae.reconstruction_loss(
      net, ae_params, x, likelihood=likelihood)), {}


def regularisation_objective(net: ae.Autoencoder, disc: nn.Module,
                             encoder_params, decoder_params, d_vars,
                             x: jax.Array) -> tuple[jax.Array, dict]:
  """Phase 3's loss over the encoder's params: L_E = (1/B) Σ_i -log D(E(x_i))
  (`autoencoder.generator_loss`) against the discriminator variables d_vars;
  (L_E, {})."""
  params = {"encoder": encoder_params, "decoder": decoder_params}
  return ae.generator_loss(disc, d_vars, ae.encode(net, params, x)), {}


def train_step(net: ae.Autoencoder, disc: nn.Module, prior, pre, txs: dict,
               state, batch, rng, *, likelihood: str):
  """One AAE step: the reconstruction phase, then the regularisation phase's
  discriminator and encoder updates (Makhzani et al. §2; module docstring).

  x, z = `autoencoder.batch_inputs(...)` (checks and `prepare`); the
  discriminator sees the codes of the updated encoder (stop-gradient), the
  encoder's adversarial update sees the updated discriminator.

  Returns:
    (state, {reconstruction, d_loss, d_accuracy, g_loss, loss =
    reconstruction + g_loss, ae_grad_norm, d_grad_norm, g_grad_norm}).

  Raises:
    ValueError: batch['image'] does not fit the data set.
  """
  x, z_prior = ae.batch_inputs(net, pre, prior, batch, rng, family="aae",
                               fn="train_step")
  params, opt = state.params, state.opt_state
  rec = steps.gradient_update(
      functools.partial(reconstruction_objective, net, likelihood=likelihood),
      txs["autoencoder"], ae.autoencoder_params(params), opt["autoencoder"], x)
  z_codes = jax.lax.stop_gradient(ae.encode(net, rec.params, x))
  dis = steps.gradient_update(
      functools.partial(ae.discriminator_objective, disc),
      txs["discriminator"], params["discriminator"], opt["discriminator"],
      z_prior, z_codes)
  gen = steps.gradient_update(
      functools.partial(regularisation_objective, net, disc),
      txs["generator"], rec.params["encoder"], opt["generator"],
      rec.params["decoder"], dis.params, x)
  state = state.replace(
      step=state.step + 1,
      params={"encoder": gen.params, "decoder": rec.params["decoder"],
              "discriminator": dis.params},
      opt_state={"autoencoder": rec.opt_state, "discriminator": dis.opt_state,
                 "generator": gen.opt_state})
  return state, {"reconstruction": rec.loss, "d_loss": dis.loss,
                 "d_accuracy": dis.aux["d_accuracy"], "g_loss": gen.loss,
                 "loss": rec.loss + gen.loss, "ae_grad_norm": rec.grad_norm,
                 "d_grad_norm": dis.grad_norm, "g_grad_norm": gen.grad_norm}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AAE(ae.LatentAutoencoder):
  """`autoencoder.LatentAutoencoder` plus the AAE's own functions:

    reconstruction_loss(params, x) -> [B] (nats, or squared error for l2)
    discriminator_loss(d_vars, z_prior, z_codes) -> scalar L_D
    generator_loss(d_vars, z_codes) -> scalar L_E
  """
  reconstruction_loss: Callable
  discriminator_loss: Callable
  generator_loss: Callable


def validate_config(mc) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  ae.check_model_config(mc, {"likelihood": ae.LIKELIHOODS},
                        ("hidden", "discriminator_hidden"))


def protocol(mc, prior, pre) -> dict:
  """How the AAE's final metrics were computed (final_metrics.json)."""
  return {"model": "aae", "likelihood": mc.likelihood,
          "latent_dim": mc.latent_dim, "prior": prior.description,
          "preprocessing": pre.description,
          "encoder": "deterministic MLP " + str(tuple(mc.hidden)),
          "squared_error": "sum over pixels of (pixel/255 - decoded mean)^2",
          "mmd": "unbiased MMD^2 between a batch's real codes and as many "
                 "prior samples, IMQ kernel, C = 2 d sigma_z^2 x "
                 f"{wae.IMQ_SCALES}, mean over batches"}


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
  prior, pre, net, disc, txs = ae.build(config, dataset_info, PLAYERS,
                                        likelihood=mc.likelihood)
  evaluate = functools.partial(
      ae.evaluation_terms, net, disc, prior, pre, family="aae",
      likelihood=mc.likelihood, kernel=wae.make_kernel("imq", prior.sigma2),
      adversarial=ae.ADVERSARIAL_METRICS)
  return AAE(
      **ae.shared_members(net, disc, prior, pre, family="aae"),
      init=functools.partial(ae.init_state, net, disc, txs, PLAYERS,
                             family="aae"),
      train_step=functools.partial(train_step, net, disc, prior, pre, txs,
                                   likelihood=mc.likelihood),
      evaluate=evaluate, evaluate_final=evaluate,
      protocol=functools.partial(protocol, mc, prior, pre),
      reconstruction_loss=functools.partial(ae.reconstruction_loss, net,
                                            likelihood=mc.likelihood),
      discriminator_loss=functools.partial(ae.discriminator_loss, disc),
      generator_loss=functools.partial(ae.generator_loss, disc))

"""The adversarial family: GAN, DCGAN, f-GAN, WGAN, WGAN-GP, hinge, Cramér GAN.

A generator G: z ~ N(0, I_latent_dim) -> x and a discriminator / critic D
play one of these games (`config.model.objective`); every loss below is
minimised by the player it names, per example, then averaged once:

  minimax         L_D = -log D(x) - log(1 - D(G(z))),  L_G = log(1 - D(G(z)))
                  with D = σ(V) (Goodfellow et al. 2014, eq. 1, Algorithm 1);
  non_saturating  same L_D, L_G = -log D(G(z)) (Goodfellow et al. 2014, §3,
                  the "log D trick");
  fgan            L_T = -(g_f(V(x)) - f*(g_f(V(G(z))))), L_G = -g_f(V(G(z)))
                  (Nowozin et al. 2016, eq. 6 and §3.2's alternative generator
                  loss; `fgan_non_saturating=False` gives the saddle-point
                  L_G = -f*(g_f(V(G(z))))) for `model.divergence` from
                  `divergences.get_f_divergence`, updated with the paper's
                  single-step gradient method (Algorithm 1): both players'
                  gradients at the same point, from one batch, k = 1
                  (`fgan_update='single_step'`, the default), or like the
                  other games (`fgan_update='alternating'`: k critic
                  updates, then the generator at the updated critic);
  wgan            L_f = f(G(z)) - f(x), L_G = -f(G(z)); the critic's optimiser
                  chain ends in weight clipping to [-c, c] (Arjovsky et al.
                  2017, Algorithm 1: RMSProp 5e-5, c = 0.01, n_critic = 5);
  wgan_gp         L_f = f(G(z)) - f(x) + λ (||∇f(x̂)||₂ - 1)², x̂ = εx +
                  (1-ε)G(z), norm per example over all non-batch axes
                  (Gulrajani et al. 2017, Algorithm 1: λ = 10, n_critic = 5,
                  Adam(1e-4, β1 = 0, β2 = 0.9), no batch norm in the critic);
  hinge           L_D = max(0, 1 - V(x)) + max(0, 1 + V(G(z))), L_G =
                  -V(G(z)) (Lim and Ye 2017; Miyato et al. 2018, eq. 16);
  cramer          critic h: X -> R^k, f(x) = ||h(x) - h(x'_g)|| - ||h(x)||,
                  L_critic = -(f(x_r) - f(x_g)) + λ (||∇f(x̂)||₂ - 1)²,
                  L_G = ||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)||
                        - ||h(x_g) - h(x'_g)||
                  with x_g, x'_g two independent generated batches
                  (Bellemare et al. 2017, §5 and Algorithm 1 "Cramér GAN").
                  E[L_G] = E(P_h, Q_h) + E||h(x_r) - h(x'_r)||, where E is
                  the energy distance of the critic's features
                  (`divergences.energy_distance`); the last term does not
                  depend on G, so L_G is the energy-distance surrogate.

One compiled train step for both players (`train_step`): k =
`model.critic_steps` critic updates (`lax.scan`) then one generator update.
**Data convention**: the trainer's batch holds k·m examples
(`train.batch_size` must be a multiple of k); critic update j uses real
examples [j·m, (j+1)·m) with fresh z; the generator update draws fresh z (m
samples; Cramér GAN's generator loss also needs real data and reuses the
last critic minibatch). f-GAN uses its single-step method instead (k = 1)
unless `model.fgan_update='alternating'`.

**State**: `state.params = {'generator': vars_G, 'discriminator': vars_D}`,
where each is the network's flax variables: {'params': ...} plus
'batch_stats' (batch-norm running averages, spectral-norm vectors u and σ)
when the network has them. They live with the parameters, not in
`state.extra`, because the interface hands `sample` and `evaluate` only
`params`, and sampling needs the running averages. The two optimisers see
only the 'params' collections: `state.opt_state = {'generator': ...,
'discriminator': ...}`, built by `train.optimizers.make_optimizer` from
`config.optimizer.generator` / `config.optimizer.discriminator`; the
discriminator's schedule spans k · num_steps updates.

**Modes**: in the train step both networks run in train mode (batch
statistics, dropout, one power iteration). The critic update keeps D's new
state and discards G's; the generator update keeps G's and discards D's (as
a PyTorch DCGAN in train mode would, except that G's running averages are
updated once per iteration). Batch-norm discriminators see real and fake
batches in separate calls (separate batch statistics, as in DCGAN); other
discriminators see one concatenated batch, so a spectral-norm layer does one
power iteration per critic update. A gradient penalty calls the critic in
eval mode (no dropout; spectral norm from the stored u gives the same σ as
the train call). `sample`, `critic`, `evaluate` use eval mode: running
averages of batch norm, no dropout.

Data: images ({'image': uint8}) through `data.preprocess.make_preprocessing`
with `data.binarization='none'` and `data.value_range='-1_1'` (the
generator's tanh range); toy sets ({'x': float32 [B, D]}) are used as is
with `model.architecture='toy'` (linear output).

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS.
  Radford, Metz and Chintala 2016, "Unsupervised Representation Learning
    with Deep Convolutional GANs", ICLR.
  Nowozin, Cseke and Tomioka 2016, "f-GAN", NeurIPS (Tables 1-2, Alg. 1).
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (Alg. 1).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS.
  Bellemare et al. 2017, "The Cramer Distance as a Solution to Biased
    Wasserstein Gradients", arXiv:1705.10743 (§5, Algorithm 1).
  Miyato et al. 2018, "Spectral Normalization for GANs", ICLR.
"""

import math
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn import gan_nets
from gdm_jax.core import precision
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.core.transforms import clip_params

# f-GAN updates: Nowozin et al.'s single-step gradient method (Algorithm 1),
# or alternating updates as in the other games.
FGAN_UPDATES = ("single_step", "alternating")
OBJECTIVES = ("minimax", "non_saturating", "fgan", "wgan", "wgan_gp", "hinge",
              "cramer")
ARCHITECTURES = ("mlp", "dcgan", "toy")
LOGISTIC = ("minimax", "non_saturating")
GRADIENT_PENALTY = ("wgan_gp", "cramer")
# Short names accepted for model.divergence.
DIVERGENCE_ALIASES = {"pearson": "pearson_chi2", "neyman": "neyman_chi2",
                      "js": "jensen_shannon", "kl": "forward_kl"}
INTERPOLATION_PAIRS = 4
INTERPOLATION_STEPS = 8
# Generated samples averaged over in the Cramér critic f(x) for `critic`.
CRAMER_CRITIC_SAMPLES = 256

Variables = dict[str, Any]


class GAN(NamedTuple):
  """The model interface (models/base.py) plus the family's own functions.

  Extra pure functions (`params` = `state.params`):
    generate(params, z) -> x in model space ([-1, 1] images or toy points),
      generator in eval mode; z float32 [N, latent_dim].
    critic(params, x) -> [N]: D's logit / critic value in eval mode on model-
      space x (Cramér: f(x) = mean_j ||h(x) - h(G(z_j))|| - ||h(x)|| over
      256 generated samples from a fixed key).
    interpolate(params, rng, steps) -> [4·steps, ...] in [0, 1]: decodes
      `steps` points on the segment between each of 4 pairs z_a, z_b.
    discriminator_output(params, x) -> [N, output_dim], eval mode.
    split_batch(x) -> [k, m, ...]: the critic minibatches of a step.
    gradient_penalty(params, real, fakes, rng) -> [B]: the WGAN-GP / Cramér
      penalty (||∇_x̂ f(x̂)||₂ - 1)² per example at x̂ =
      `gan_losses.interpolate(real, fakes[0], rng)`, critic in eval mode;
      fakes = (x_g,) or, for Cramér GAN, (x_g, x'_g) (f uses h(x'_g)).
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  generate: Callable
  critic: Callable
  interpolate: Callable
  discriminator_output: Callable
  split_batch: Callable
  gradient_penalty: Callable
  preprocessing: Preprocessing | None
  generator_net: nn.Module
  discriminator_net: nn.Module
  generator_optimizer: optax.GradientTransformation
  discriminator_optimizer: optax.GradientTransformation


def _divergence_name(mc) -> str:
  name = mc.get("divergence", "gan")
  return DIVERGENCE_ALIASES.get(name, name)


def validate_config(config, dataset_info: dict) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  mc = config.model

  def check(cond, msg):
    if not cond:
      raise ValueError(msg)

  check(mc.objective in OBJECTIVES,
        f"model.objective must be one of {OBJECTIVES}; got '{mc.objective}'.")
  check(mc.architecture in ARCHITECTURES, "model.architecture must be one of "
        f"{ARCHITECTURES}; got '{mc.architecture}'.")
  norm = mc.discriminator_norm
  check(norm in gan_nets.NORMALIZATIONS, "model.discriminator_norm must be one"
        f" of {gan_nets.NORMALIZATIONS}; got '{norm}'.")
  check(mc.generator_norm in gan_nets.GENERATOR_NORMALIZATIONS,
        "model.generator_norm must be one of "
        f"{gan_nets.GENERATOR_NORMALIZATIONS}; got '{mc.generator_norm}'.")
  if mc.objective == "fgan":
    name = _divergence_name(mc)
    check(name in divergences.FDIVERGENCES, "model.divergence must be one of "
          f"{sorted(divergences.FDIVERGENCES)} (or an alias in "
          f"{sorted(DIVERGENCE_ALIASES)}); got '{mc.divergence}'.")
    update = mc.get("fgan_update", "single_step")
    check(update in FGAN_UPDATES, f"model.fgan_update must be one of "
          f"{FGAN_UPDATES}; got '{update}'.")
    check(update == "alternating" or mc.critic_steps == 1,
          "model.critic_steps must be 1 for objective='fgan' with "
          "fgan_update='single_step' (Nowozin et al. 2016 Algorithm 1); got "
          f"{mc.critic_steps}. Set model.fgan_update='alternating' for k "
          "critic updates per generator update.")
  check(isinstance(mc.critic_steps, int) and mc.critic_steps >= 1,
        f"model.critic_steps must be an integer >= 1; got {mc.critic_steps}.")
  check(config.train.batch_size % mc.critic_steps == 0,
        f"train.batch_size ({config.train.batch_size}) must be a multiple of "
        f"model.critic_steps ({mc.critic_steps}): each critic update takes "
        "batch_size / critic_steps real examples.")
  check(mc.latent_dim >= 1, f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  if mc.objective in GRADIENT_PENALTY:
    check(norm != "batch", f"model.discriminator_norm='batch' cannot be used "
          f"with objective='{mc.objective}': the gradient penalty needs "
          "per-example critic gradients, which batch norm couples (Gulrajani "
          "et al. 2017, §4); use 'layer', 'spectral' or 'none'.")
    check(mc.gp_weight >= 0, f"model.gp_weight must be >= 0; got {mc.gp_weight}.")
  if mc.objective == "wgan":
    check(mc.clip_value > 0, "model.clip_value must be > 0 for objective="
          f"'wgan'; got {mc.clip_value}.")
  if mc.objective == "cramer":
    check(mc.cramer_dim >= 1, f"model.cramer_dim must be >= 1; got {mc.cramer_dim}.")
  check(0.0 < mc.get("real_label", 1.0) <= 1.0,
        f"model.real_label must be in (0, 1]; got {mc.get('real_label')}.")
  toy = dataset_info.get("kind") == "toy"
  if toy:
    check(mc.architecture == "toy", "model.architecture must be 'toy' on toy "
          f"data ({dataset_info.get('name')}); got '{mc.architecture}'.")
  else:
    check(mc.architecture != "toy", "model.architecture='toy' needs toy data "
          f"(data.name in the toy sets); got data.name='{config.data.name}'.")
    check(config.data.binarization == "none", "data.binarization must be "
          f"'none' for a GAN; got '{config.data.binarization}'.")
    check(config.data.value_range == "-1_1", "data.value_range must be '-1_1' "
          "(the generator's tanh range) for a GAN; got "
          f"'{config.data.value_range}'.")


def build_networks(mc, data_shape, output_dim: int = 1):
  """(generator, discriminator) flax modules for `config.model`.

  Args:
    mc: `config.model` (architecture, generator_hidden, discriminator_hidden,
      generator_channels, discriminator_channels, activation, generator_norm,
      discriminator_norm, generator_dropout, discriminator_dropout).
    data_shape: (H, W, C) or (D,).
    output_dim: discriminator outputs (1, or k for a Cramér critic).
  """
  data_shape = tuple(data_shape)
  if mc.architecture == "dcgan":
    gen = gan_nets.DCGANGenerator(
        data_shape, tuple(mc.generator_channels),
        normalization=mc.generator_norm)
    disc = gan_nets.DCGANDiscriminator(
        tuple(mc.discriminator_channels), output_dim,
        normalization=mc.discriminator_norm)
    return gen, disc
  toy = mc.architecture == "toy"
  gen = gan_nets.MLPGenerator(
      data_shape, tuple(mc.generator_hidden), activation=mc.activation,
      normalization=mc.generator_norm, dropout=mc.generator_dropout,
      output_activation="linear" if toy else "tanh")
  disc = gan_nets.MLPDiscriminator(
      tuple(mc.discriminator_hidden), output_dim, activation=mc.activation,
      normalization=mc.discriminator_norm, dropout=mc.discriminator_dropout)
  return gen, disc


def _apply(net: nn.Module, variables: Variables, x: jax.Array, train: bool,
           rng: jax.Array | None = None, dtype=jnp.float32
           ) -> tuple[jax.Array, Variables]:
  """Runs `net` (in `dtype`, outputs float32: gdm_jax/core/precision.py); in train
  mode returns the variables with updated state."""
  rngs = {"dropout": rng} if rng is not None else None
  if train and "batch_stats" in variables:
    out, new = precision.apply_in(dtype, net.apply, variables, x, train=True,
                                  rngs=rngs, mutable=["batch_stats"])
    return out, {**variables, "batch_stats": new["batch_stats"]}
  return precision.apply_in(dtype, net.apply, variables, x, train=train,
                            rngs=rngs), variables


def _norm(v: jax.Array) -> jax.Array:
  """Euclidean norm over the last axis, with gradient 0 (not NaN) at 0."""
  sq = jnp.sum(jnp.square(v), axis=-1)
  positive = sq > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def make(config, dataset_info: dict) -> GAN:
  """Builds the GAN family's functions from `config` (module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.generator,
      .optimizer.discriminator, .train.num_steps, .train.batch_size).
    dataset_info: {'shape': (H, W, C) or (D,), 'kind': 'toy'?, ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  validate_config(config, dataset_info)
  mc = config.model
  objective = mc.objective
  k = mc.critic_steps
  single_step = (objective == "fgan"
                 and mc.get("fgan_update", "single_step") == "single_step")
  toy = dataset_info.get("kind") == "toy"
  shape = tuple(dataset_info["shape"])
  latent_dim = mc.latent_dim
  real_label = float(mc.get("real_label", 1.0))
  output_dim = mc.cramer_dim if objective == "cramer" else 1
  gen, disc = build_networks(mc, shape, output_dim)
  div = (divergences.get_f_divergence(_divergence_name(mc))
         if objective == "fgan" else None)
  pre = None if toy else make_preprocessing(
      config.data.binarization, config.data.dequantization,
      config.data.value_range)
  num_steps = config.train.num_steps
  tx_g = make_optimizer(config.optimizer.generator, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator, num_steps * k)
  if objective == "wgan":
    tx_d = optax.chain(tx_d, clip_params(mc.clip_value))
  separate_calls = mc.discriminator_norm == "batch"
  dtype = precision.compute_dtype(config)   # Mixed precision: networks only.

  # ----------------------------------------------------------- networks ----

  def generate_train(g_vars, z, rng):
    return _apply(gen, g_vars, z, True, rng, dtype)

  def discriminate(d_vars, xs, train, rng):
    """D on a list of equal-shape batches: ([[B, out]...], new d_vars)."""
    if separate_calls and train:
      outs = []
      for i, x in enumerate(xs):
        out, d_vars = _apply(disc, d_vars, x, True, jax.random.fold_in(rng, i),
                             dtype)
        outs.append(out)
      return outs, d_vars
    out, d_vars = _apply(disc, d_vars, jnp.concatenate(xs), train, rng, dtype)
    return jnp.split(out, len(xs)), d_vars

  def generate(params, z):
    return precision.apply_in(dtype, gen.apply, params["generator"], z,
                              train=False)

  def discriminator_output(params, x):
    return precision.apply_in(dtype, disc.apply, params["discriminator"], x,
                              train=False)

  # ------------------------------------------------------------- losses ----

  def cramer_f(h_x, h_ref):
    """f(x) = ||h(x) - h(x'_g)|| - ||h(x)||, per example: [B, k] -> [B]."""
    return _norm(h_x - h_ref) - _norm(h_x)

  def critic_terms(d_vars, real, fakes, train, rng):
    """Per-example critic loss and metrics on real [B] and generated batches.

    fakes: (x_g,) or, for Cramér GAN, (x_g, x'_g). Returns
    (loss [B], metrics {name: [B]}, new d_vars).
    """
    d_rng, gp_rng = jax.random.split(rng)
    outs, new_d = discriminate(d_vars, [real, *fakes], train, d_rng)
    metrics = {}
    if objective == "cramer":
      h_r, h_g, h_g2 = outs
      surrogate = cramer_f(h_r, h_g2) - cramer_f(h_g, h_g2)
      loss = -surrogate
      metrics["critic_surrogate"] = surrogate
    else:
      l_r, l_f = outs[0][:, 0], outs[1][:, 0]
      if objective in LOGISTIC:
        loss = gan_losses.discriminator_loss_per_example(l_r, l_f, real_label)
        metrics["d_real"] = jax.nn.sigmoid(l_r)
        metrics["d_fake"] = jax.nn.sigmoid(l_f)
      elif objective == "fgan":
        bound = divergences.variational_lower_bound_per_example(div, l_r, l_f)
        loss = -bound
        metrics["variational_bound"] = bound
        metrics["t_real"] = div.output_activation(l_r)
        metrics["t_fake"] = div.output_activation(l_f)
      elif objective == "hinge":
        loss = gan_losses.hinge_discriminator_loss_per_example(l_r, l_f)
        metrics["critic_real"], metrics["critic_fake"] = l_r, l_f
      else:  # wgan, wgan_gp
        loss = gan_losses.wasserstein_critic_loss_per_example(l_r, l_f)
        metrics["critic_real"], metrics["critic_fake"] = l_r, l_f
        metrics["wasserstein_estimate"] = l_r - l_f
    if objective in GRADIENT_PENALTY:
      penalty = gradient_penalty_per_example(d_vars, real, fakes, gp_rng)
      loss = loss + mc.gp_weight * penalty
      metrics["gradient_penalty"] = penalty
    return loss, metrics, new_d

  def gradient_penalty_per_example(d_vars, real, fakes, rng):
    """(||∇_x̂ f(x̂)||₂ - 1)² per example [B], critic in eval mode."""
    if objective == "cramer":
      h_ref = precision.apply_in(dtype, disc.apply, d_vars, fakes[1], train=False)
      fn = lambda x: cramer_f(
          precision.apply_in(dtype, disc.apply, d_vars, x, train=False), h_ref)
    else:
      fn = lambda x: precision.apply_in(dtype, disc.apply, d_vars, x,
                                        train=False)[:, 0]
    return gan_losses.gradient_penalty(fn, real, fakes[0], rng)

  def generator_terms(d_vars, fakes, real, train, rng):
    """Per-example generator loss [B] (real used by Cramér GAN only)."""
    if objective == "cramer":
      (h_r, h_g, h_g2), _ = discriminate(d_vars, [real, *fakes], train, rng)
      return _norm(h_r - h_g) + _norm(h_r - h_g2) - _norm(h_g - h_g2)
    (l_f,), _ = discriminate(d_vars, [fakes[0]], train, rng)
    l_f = l_f[:, 0]
    if objective == "minimax":
      return gan_losses.generator_loss_minimax_per_example(l_f)
    if objective == "non_saturating":
      return gan_losses.generator_loss_non_saturating_per_example(l_f)
    if objective == "fgan":
      return gan_losses.fgan_generator_loss_per_example(
          div, l_f, mc.get("fgan_non_saturating", True))
    return gan_losses.wasserstein_generator_loss_per_example(l_f)

  num_fakes = 2 if objective == "cramer" else 1

  def draw_fakes(g_vars, m, rng, train=True):
    """num_fakes generated batches of m (train mode); and G's new state."""
    outs = []
    for i in range(num_fakes):
      z_rng, drop_rng = jax.random.split(jax.random.fold_in(rng, i))
      z = jax.random.normal(z_rng, (m, latent_dim))
      if train:
        x, g_vars = generate_train(g_vars, z, drop_rng)
      else:
        x = precision.apply_in(dtype, gen.apply, g_vars, z, train=False)
      outs.append(x)
    return outs, g_vars

  # --------------------------------------------------------- train step ----

  def d_loss_fn(d_params, d_vars, g_vars, real, rng):
    fake_rng, loss_rng = jax.random.split(rng)
    fakes, _ = draw_fakes(g_vars, real.shape[0], fake_rng)  # G's state dropped
    fakes = [jax.lax.stop_gradient(f) for f in fakes]
    loss, metrics, new_d = critic_terms({**d_vars, "params": d_params}, real,
                                        fakes, True, loss_rng)
    return jnp.mean(loss), ({n: jnp.mean(v) for n, v in metrics.items()},
                            new_d)

  def g_loss_fn(g_params, g_vars, d_vars, real, rng):
    fake_rng, d_rng = jax.random.split(rng)
    fakes, new_g = draw_fakes({**g_vars, "params": g_params}, real.shape[0],
                              fake_rng)
    loss = generator_terms(d_vars, fakes, real, True, d_rng)  # D's state dropped
    return jnp.mean(loss), new_g

  def critic_update(carry, inputs):
    params, opt_d = carry
    real, rng = inputs
    d_vars = params["discriminator"]
    (loss, (metrics, new_d)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
        d_vars["params"], d_vars, params["generator"], real, rng)
    updates, opt_d = tx_d.update(grads, opt_d, d_vars["params"])
    new_d = {**new_d, "params": optax.apply_updates(d_vars["params"], updates)}
    metrics = {"d_loss": loss, "d_grad_norm": optax.global_norm(grads),
               **metrics}
    return ({**params, "discriminator": new_d}, opt_d), metrics

  def generator_update(params, opt_g, real, rng):
    g_vars = params["generator"]
    (loss, new_g), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        g_vars["params"], g_vars, params["discriminator"], real, rng)
    updates, opt_g = tx_g.update(grads, opt_g, g_vars["params"])
    new_g = {**new_g, "params": optax.apply_updates(g_vars["params"], updates)}
    return new_g, opt_g, {"g_loss": loss,
                          "g_grad_norm": optax.global_norm(grads)}

  def split_batch(x):
    """[k·m, ...] -> [k, m, ...] (critic minibatch j = rows j·m..(j+1)·m)."""
    return x.reshape((k, x.shape[0] // k) + x.shape[1:])

  def check_batch(fn, batch):
    """The batch fits the data set the model was built for (trace time)."""
    checks.check_batch(f"gan.{fn}", batch, "x" if toy else "image", shape,
                       "floating" if toy else "numeric")

  def model_inputs(batch, rng):
    if toy:
      return batch["x"].astype(jnp.float32)
    return pre.apply(rng, batch["image"])

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    if batch["x" if toy else "image"].shape[0] % k:
      raise ValueError(f"gan.train_step: the batch size "
                       f"{batch['x' if toy else 'image'].shape[0]} is not a "
                       f"multiple of model.critic_steps = {k}.")
    pre_rng, d_rng, g_rng = jax.random.split(rng, 3)
    reals = split_batch(model_inputs(batch, pre_rng))        # [k, m, ...]
    params, opt = state.params, state.opt_state
    if single_step:
      # Single-step gradient method: both gradients at (θ_t, ω_t), one batch.
      (new_params, opt_d), d_metrics = critic_update(
          (params, opt["discriminator"]), (reals[0], d_rng))
      d_metrics = {n: v[None] for n, v in d_metrics.items()}
      new_g, opt_g, g_metrics = generator_update(
          params, opt["generator"], reals[0], g_rng)
    else:
      (new_params, opt_d), d_metrics = jax.lax.scan(
          critic_update, (params, opt["discriminator"]),
          (reals, jax.random.split(d_rng, k)))
      new_g, opt_g, g_metrics = generator_update(
          new_params, opt["generator"], reals[-1], g_rng)
    metrics = {n: jnp.mean(v) for n, v in d_metrics.items()}
    metrics["d_loss_last"] = d_metrics["d_loss"][-1]
    metrics.update(g_metrics)
    new_state = state.replace(
        step=state.step + 1,
        params={"generator": new_g,
                "discriminator": new_params["discriminator"]},
        opt_state={"generator": opt_g, "discriminator": opt_d})
    return new_state, metrics

  def init(rng, batch):
    del batch
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    z = jnp.zeros((2, latent_dim), jnp.float32)
    g_vars = dict(gen.init(g_rng, z, train=False))
    d_vars = dict(disc.init(d_rng, jnp.zeros((2,) + shape, jnp.float32),
                            train=False))
    params = {"generator": g_vars, "discriminator": d_vars}
    opt_state = {"generator": tx_g.init(g_vars["params"]),
                 "discriminator": tx_d.init(d_vars["params"])}
    return TrainState.create(state_rng, params, opt_state)

  # ---------------------------------------------------------- evaluation ---

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    """Per-example [B] metrics on real data and B fresh samples (eval mode).

    Logistic objectives: d_real = D(x_i), d_fake = D(G(z_i)), d_loss, g_loss,
    d_accuracy; f-GAN: the bound's per-pair term g_f(V(x_i)) -
    f*(g_f(V(G(z_i)))) (its mean is the critic's estimate of D_f); WGAN,
    WGAN-GP, hinge: critic values and f(x_i) - f(G(z_i)) (mean = the critic's
    estimate of W_1, up to its Lipschitz constant); Cramér: the surrogate
    f(x_i) - f(x_g,i) and `energy_distance`, the per-example term
    ||h_r - h_g|| + ||h_r - h'_g|| - ||h_g - h'_g|| - ||h_r - h'_r|| whose
    mean is an unbiased estimate of the energy distance between the critic's
    features of data and model (h'_r: the next real example, cyclically).
    """
    pre_rng, fake_rng, gp_rng = jax.random.split(rng, 3)
    real = model_inputs(batch, pre_rng)
    fakes, _ = draw_fakes(params["generator"], real.shape[0], fake_rng,
                          train=False)
    loss, metrics, _ = critic_terms(params["discriminator"], real, fakes,
                                    False, gp_rng)
    out = {"d_loss": loss, **metrics}
    g = generator_terms(params["discriminator"], fakes, real, False, gp_rng)
    out["g_loss"] = g
    if objective in LOGISTIC:
      out["d_accuracy"] = 0.5 * ((metrics["d_real"] > 0.5).astype(jnp.float32)
                                 + (metrics["d_fake"] < 0.5).astype(jnp.float32))
    if objective == "cramer":
      h_r = discriminator_output(params, real)
      out["energy_distance"] = g - _norm(h_r - jnp.roll(h_r, 1, axis=0))
    return out

  # ----------------------------------------------------------- sampling ----

  def to_data_space(x):
    return x if toy else pre.to_unit(x)

  def sample(params, rng, n):
    """n samples: [n, H, W, C] in [0, 1] (images) or [n, D] (toy data);
    generator in eval mode (batch-norm running averages)."""
    checks.check_positive_int("gan.sample", "n", n)
    return to_data_space(generate(params, jax.random.normal(rng, (n, latent_dim))))

  def critic(params, x):
    """D's logit / critic value per point, [N, ...] -> [N] (eval mode)."""
    out = discriminator_output(params, x)
    if objective != "cramer":
      return out[:, 0]
    z = jax.random.normal(jax.random.PRNGKey(0),
                          (CRAMER_CRITIC_SAMPLES, latent_dim))
    h_g = discriminator_output(params, generate(params, z))    # [S, k]
    dist = _norm(out[:, None, :] - h_g[None, :, :])             # [N, S]
    return jnp.mean(dist, axis=1) - _norm(out)

  def interpolate(params, rng, steps=INTERPOLATION_STEPS):
    """Linear latent interpolations between 4 pairs (seeds 001/002):
    [4·steps, ...] in data space, pair by pair."""
    z = jax.random.normal(rng, (INTERPOLATION_PAIRS, 2, latent_dim))
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    path = (1 - t) * z[:, :1] + t * z[:, 1:]                    # [P, steps, D]
    return to_data_space(generate(params, path.reshape(-1, latent_dim)))

  def images(params, batch, rng):
    """{'samples': [64, H, W, C], 'interpolations': [32, H, W, C]} in [0, 1];
    {} on toy data (the trainer draws scatter plots itself)."""
    del batch
    if toy:
      return {}
    s_rng, i_rng = jax.random.split(rng)
    return {"samples": sample(params, s_rng, 64),
            "interpolations": interpolate(params, i_rng)}

  def protocol():
    out = {"model": "gan", "objective": objective,
           "architecture": mc.architecture, "latent_dim": latent_dim,
           "critic_steps": k, "discriminator_norm": mc.discriminator_norm,
           "generator_norm": mc.generator_norm,
           "preprocessing": "toy data as is" if toy else pre.description,
           "evaluation": "per-example metrics on real data and as many fresh "
                         "samples; networks in eval mode (batch-norm running "
                         "averages, no dropout)"}
    if objective == "fgan":
      out["divergence"] = div.name
      out["fgan_update"] = "single_step" if single_step else "alternating"
    if objective in GRADIENT_PENALTY:
      out["gp_weight"] = mc.gp_weight
    if objective == "wgan":
      out["clip_value"] = mc.clip_value
    return out

  return GAN(init, train_step, evaluate, evaluate, sample, protocol, images,
             generate, critic, interpolate, discriminator_output, split_batch,
             lambda params, real, fakes, rng: gradient_penalty_per_example(
                 params["discriminator"], real, tuple(fakes), rng),
             pre, gen, disc, tx_g, tx_d)

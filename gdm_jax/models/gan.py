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

One compiled train step for both players (`train_step`, through
`alternating_updates`): k = `model.critic_steps` critic updates
(`critic_updates`, a `lax.scan` of `critic_update`) then one generator
update (`generator_update`); both compose `core.steps.gradient_update`.

**Data convention**: the trainer's batch holds k·m examples
(`train.batch_size` must be a multiple of k), split in order into k
minibatches of m (`split_batch`); critic update j uses real examples
[j·m, (j+1)·m) with fresh z; the generator update draws fresh z (m samples).
Cramér GAN's generator loss also needs real data, and Bellemare et al.
(2017, Algorithm 1) draw a fresh data batch for it: its batch holds (k + 1)·m
examples, critic minibatches 0..k-1 and the generator's own minibatch k
(`train.batch_size` a multiple of k + 1). f-GAN uses its single-step method
instead (k = 1, `single_step_updates`) unless
`model.fgan_update='alternating'`.

The functions below take the flax modules (`build_networks`), their
variables, arrays and a `Game` (the objective and its hyperparameters), so a
notebook can call them on a loaded checkpoint's params without `make`;
`make` only wires them.

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

import dataclasses
import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax.core import precision
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.core.transforms import clip_params
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.nn import gan_nets

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
Inputs = Callable[[str, dict, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Game:
  """The static description of one game, what the functions below need
  besides networks, variables and arrays (`game_from_config` reads it from
  `config.model`).

  Attributes:
    objective: one of OBJECTIVES (module docstring).
    latent_dim: size of z ~ N(0, I).
    critic_steps: k critic updates per generator update.
    single_step: f-GAN's single-step gradient method (Nowozin et al. 2016,
      Algorithm 1; k = 1): both players' gradients at the same point.
    divergence: the f-divergence of objective='fgan'.
    fgan_non_saturating: f-GAN generator loss -g_f(V) (else -f*(g_f(V))).
    gp_weight: λ of the gradient penalty (wgan_gp, cramer).
    real_label: target for real data in the logistic loss (< 1: one-sided
      label smoothing).
    separate_calls: D sees each batch in its own train-mode call (batch
      norm: separate batch statistics, as in DCGAN); else one concatenated
      call (one spectral-norm power iteration per update).
    compute_dtype: the networks' compute dtype (gdm_jax/core/precision.py).
  """
  objective: str = "non_saturating"
  latent_dim: int = 100
  critic_steps: int = 1
  single_step: bool = False
  divergence: divergences.FDivergence | None = None
  fgan_non_saturating: bool = True
  gp_weight: float = 10.0
  real_label: float = 1.0
  separate_calls: bool = False
  compute_dtype: Any = jnp.float32

  @property
  def num_fakes(self) -> int:
    """Generated batches per loss: 2 for Cramér GAN (x_g, x'_g), else 1."""
    return 2 if self.objective == "cramer" else 1

  @property
  def num_minibatches(self) -> int:
    """Minibatches of m in a train batch: k, plus the generator's own for
    Cramér GAN (Bellemare et al. 2017, Algorithm 1)."""
    return self.critic_steps + (self.objective == "cramer")


def _divergence_name(mc) -> str:
  name = mc.get("divergence", "gan")
  return DIVERGENCE_ALIASES.get(name, name)


def game_from_config(mc, compute_dtype: Any = jnp.float32) -> Game:
  """The `Game` of `config.model` (validated by `validate_config`)."""
  fgan = mc.objective == "fgan"
  return Game(
      objective=mc.objective, latent_dim=mc.latent_dim,
      critic_steps=mc.critic_steps,
      single_step=fgan and mc.get("fgan_update", "single_step") == "single_step",
      divergence=(divergences.get_f_divergence(_divergence_name(mc))
                  if fgan else None),
      fgan_non_saturating=mc.get("fgan_non_saturating", True),
      gp_weight=mc.get("gp_weight", 10.0), real_label=float(mc.get("real_label", 1.0)),
      separate_calls=mc.discriminator_norm == "batch",
      compute_dtype=compute_dtype)


def _config_rules(config, dataset_info: dict):
  """(condition thunk, message) pairs of `validate_config`, in order."""
  mc, data = config.model, config.data
  obj, norm, k = mc.objective, mc.discriminator_norm, mc.critic_steps
  update = mc.get("fgan_update", "single_step")
  n = k + 1 if obj == "cramer" and isinstance(k, int) else k
  toy = dataset_info.get("kind") == "toy"
  choices = [("objective", OBJECTIVES),
             ("architecture", ARCHITECTURES),
             ("discriminator_norm", gan_nets.NORMALIZATIONS),
             ("generator_norm", gan_nets.GENERATOR_NORMALIZATIONS)]
  rules = [(lambda f=f, a=a: mc[f] in a,
            f"model.{f} must be one of {a}; got '{mc[f]}'.")
           for f, a in choices]
  if obj == "fgan":
    rules += [
        (lambda: _divergence_name(mc) in divergences.FDIVERGENCES,
         f"model.divergence must be one of {sorted(divergences.FDIVERGENCES)}"
         f" (or an alias in {sorted(DIVERGENCE_ALIASES)}); got "
         f"'{mc.divergence}'."),
        (lambda: update in FGAN_UPDATES,
         f"model.fgan_update must be one of {FGAN_UPDATES}; got '{update}'."),
        (lambda: update == "alternating" or k == 1,
         "model.critic_steps must be 1 for objective='fgan' with "
         "fgan_update='single_step' (Nowozin et al. 2016 Algorithm 1); got "
         f"{k}. Set model.fgan_update='alternating' for k critic updates "
         "per generator update.")]
  per = ("critic_steps + 1", "(k critic minibatches and the generator's "
         "own, Bellemare et al. 2017 Algorithm 1)") if obj == "cramer" else (
             "critic_steps", "(each critic update takes batch_size / "
             "critic_steps real examples)")
  rules += [
      (lambda: isinstance(k, int) and k >= 1,
       f"model.critic_steps must be an integer >= 1; got {k}."),
      (lambda: config.train.batch_size % n == 0,
       f"train.batch_size ({config.train.batch_size}) must be a multiple of "
       f"model.{per[0]} ({n}) {per[1]}."),
      (lambda: mc.latent_dim >= 1,
       f"model.latent_dim must be >= 1; got {mc.latent_dim}.")]
  if obj in GRADIENT_PENALTY:
    rules += [
        (lambda: norm != "batch", f"model.discriminator_norm='batch' cannot "
         f"be used with objective='{obj}': the gradient penalty needs "
         "per-example critic gradients, which batch norm couples (Gulrajani "
         "et al. 2017, §4); use 'layer', 'spectral' or 'none'."),
        (lambda: mc.gp_weight >= 0,
         f"model.gp_weight must be >= 0; got {mc.gp_weight}.")]
  if obj == "wgan":
    rules.append((lambda: mc.clip_value > 0, "model.clip_value must be > 0 "
                  f"for objective='wgan'; got {mc.clip_value}."))
  if obj == "cramer":
    rules.append((lambda: mc.cramer_dim >= 1,
                  f"model.cramer_dim must be >= 1; got {mc.cramer_dim}."))
  rules.append((lambda: 0.0 < mc.get("real_label", 1.0) <= 1.0,
                f"model.real_label must be in (0, 1]; got "
                f"{mc.get('real_label')}."))
  if toy:
    return rules + [(lambda: mc.architecture == "toy", "model.architecture "
                     f"must be 'toy' on toy data ({dataset_info.get('name')});"
                     f" got '{mc.architecture}'.")]
  return rules + [
      (lambda: mc.architecture != "toy", "model.architecture='toy' needs toy "
       f"data (data.name in the toy sets); got data.name='{data.name}'."),
      (lambda: data.binarization == "none", "data.binarization must be "
       f"'none' for a GAN; got '{data.binarization}'."),
      (lambda: data.value_range == "-1_1", "data.value_range must be '-1_1' "
       "(the generator's tanh range) for a GAN; got "
       f"'{data.value_range}'.")]


def validate_config(config, dataset_info: dict) -> None:
  """Raises ValueError naming the field for an invalid model setting (the
  first failing rule of `_config_rules`)."""
  for ok, message in _config_rules(config, dataset_info):
    if not ok():
      raise ValueError(message)


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


def build_optimizers(config, game: Game):
  """(tx_generator, tx_discriminator) from `config.optimizer.generator` /
  `.discriminator`; the critic's schedule spans k · num_steps updates and,
  for WGAN, its chain ends in weight clipping to [-c, c] (Arjovsky et al.
  2017, Algorithm 1 line 7; `core.transforms.clip_params`)."""
  num_steps = config.train.num_steps
  tx_g = make_optimizer(config.optimizer.generator, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator,
                        num_steps * game.critic_steps)
  if game.objective == "wgan":
    tx_d = optax.chain(tx_d, clip_params(config.model.clip_value))
  return tx_g, tx_d


# --------------------------------------------------------------- networks ---


def apply_network(net: nn.Module, variables: Variables, x: jax.Array, *,
                  train: bool, rng: jax.Array | None = None,
                  compute_dtype: Any = jnp.float32
                  ) -> tuple[jax.Array, Variables]:
  """`net(x)` in `compute_dtype` (outputs float32), and its variables: in
  train mode with the updated 'batch_stats' (batch-norm running averages,
  spectral-norm u and σ) when it has any; `rng` feeds dropout."""
  rngs = {"dropout": rng} if rng is not None else None
  if train and "batch_stats" in variables:
    out, new = precision.apply_in(compute_dtype, net.apply, variables, x,
                                  train=True, rngs=rngs,
                                  mutable=["batch_stats"])
    return out, {**variables, "batch_stats": new["batch_stats"]}
  return precision.apply_in(compute_dtype, net.apply, variables, x,
                            train=train, rngs=rngs), variables


def generate(generator: nn.Module, g_vars: Variables, z: jax.Array, *,
             compute_dtype: Any = jnp.float32) -> jax.Array:
  """G(z) in eval mode (batch-norm running averages, no dropout): z float32
  [N, latent_dim] -> model space ([-1, 1] images or toy points)."""
  return apply_network(generator, g_vars, z, train=False,
                       compute_dtype=compute_dtype)[0]


def discriminator_output(discriminator: nn.Module, d_vars: Variables,
                         x: jax.Array, *, compute_dtype: Any = jnp.float32
                         ) -> jax.Array:
  """D(x) in eval mode: [N, ...] -> [N, output_dim] (logits, critic values
  or Cramér features h(x))."""
  return apply_network(discriminator, d_vars, x, train=False,
                       compute_dtype=compute_dtype)[0]


def discriminate(discriminator: nn.Module, d_vars: Variables,
                 xs: Sequence[jax.Array], rng: jax.Array, *, train: bool,
                 game: Game) -> tuple[list[jax.Array], Variables]:
  """D on equal-shape batches: ([D(x) [B, out] for x in xs], D's variables).

  In train mode with `game.separate_calls` (batch norm) each batch gets its
  own call (key fold_in(rng, i)) and the state is threaded through them;
  otherwise one call on the concatenation (key rng).
  """
  if game.separate_calls and train:
    outs = []
    for i, x in enumerate(xs):
      out, d_vars = apply_network(discriminator, d_vars, x, train=True,
                                  rng=jax.random.fold_in(rng, i),
                                  compute_dtype=game.compute_dtype)
      outs.append(out)
    return outs, d_vars
  out, d_vars = apply_network(discriminator, d_vars, jnp.concatenate(xs),
                              train=train, rng=rng,
                              compute_dtype=game.compute_dtype)
  return jnp.split(out, len(xs)), d_vars


def draw_fakes(generator: nn.Module, g_vars: Variables, m: int,
               rng: jax.Array, *, game: Game, train: bool = True
               ) -> tuple[list[jax.Array], Variables]:
  """`game.num_fakes` generated batches of m, and G's (train-mode) state.

  Batch i: (z_key, dropout_key) = split(fold_in(rng, i)), z ~ N(0, I)
  [m, latent_dim]; G in train mode (state threaded) or eval mode.
  """
  outs = []
  for i in range(game.num_fakes):
    z_rng, drop_rng = jax.random.split(jax.random.fold_in(rng, i))
    z = jax.random.normal(z_rng, (m, game.latent_dim))
    x, g_vars = apply_network(generator, g_vars, z, train=train,
                              rng=drop_rng if train else None,
                              compute_dtype=game.compute_dtype)
    outs.append(x)
  return outs, g_vars


# ----------------------------------------------------------------- losses ---


def critic_loss_per_example(outs: Sequence[jax.Array], *, game: Game
                            ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The critic's loss per example, without a penalty, and its metrics.

    minimax, non_saturating  -α log D(x) - (1-α) log(1 - D(x))
                             - log(1 - D(G(z)))   (Goodfellow et al. 2014,
                             Algorithm 1; α = real_label)
    fgan    -(g_f(V(x)) - f*(g_f(V(G(z)))))        (Nowozin et al. 2016, eq. 6)
    wgan, wgan_gp  f(G(z)) - f(x)                  (Arjovsky et al. 2017, Alg. 1)
    hinge   max(0, 1 - V(x)) + max(0, 1 + V(G(z))) (Miyato et al. 2018, eq. 16)
    cramer  -(f(x_r) - f(x_g)), f(x) = ||h(x) - h(x'_g)|| - ||h(x)||
                                                   (Bellemare et al. 2017, Alg. 1)

  Args:
    outs: D's outputs [D(x), D(x_g)] (+ D(x'_g) for Cramér), each
      [B, output_dim] float32.
    game: the objective and its hyperparameters.

  Returns:
    (loss [B], {name: [B]}): nats for the logistic and f-GAN games, the
    critic's units otherwise.
  """
  obj = game.objective
  if obj == "cramer":
    loss = gan_losses.cramer_critic_loss_per_example(*outs)
    return loss, {"critic_surrogate": -loss}
  l_r, l_f = outs[0][:, 0], outs[1][:, 0]
  if obj in LOGISTIC:
    loss = gan_losses.discriminator_loss_per_example(l_r, l_f, game.real_label)
    return loss, {"d_real": jax.nn.sigmoid(l_r), "d_fake": jax.nn.sigmoid(l_f)}
  if obj == "fgan":
    div = game.divergence
    bound = divergences.variational_lower_bound_per_example(div, l_r, l_f)
    return -bound, {"variational_bound": bound,
                    "t_real": div.output_activation(l_r),
                    "t_fake": div.output_activation(l_f)}
  scores = {"critic_real": l_r, "critic_fake": l_f}
  if obj == "hinge":
    return gan_losses.hinge_discriminator_loss_per_example(l_r, l_f), scores
  return (gan_losses.wasserstein_critic_loss_per_example(l_r, l_f),
          {**scores, "wasserstein_estimate": l_r - l_f})


def generator_loss_per_example(fake_outs: Sequence[jax.Array],
                               real_out: jax.Array | None = None, *,
                               game: Game) -> jax.Array:
  """The generator's loss per example [B] from D's outputs.

    minimax         log(1 - D(G(z)))    (Goodfellow et al. 2014, eq. 1)
    non_saturating  -log D(G(z))        (Goodfellow et al. 2014, §3)
    fgan            -g_f(V(G(z))) or -f*(g_f(V(G(z))))  (Nowozin et al. 2016,
                    §3.2 / eq. 6)
    wgan, wgan_gp, hinge  -f(G(z))      (Arjovsky et al. 2017, Algorithm 1)
    cramer  ||h_r - h_g|| + ||h_r - h'_g|| - ||h_g - h'_g||  (Bellemare et
            al. 2017, Algorithm 1)

  Args:
    fake_outs: [D(x_g)] (+ D(x'_g) for Cramér), each [B, output_dim].
    real_out: D(x) [B, k] on a data minibatch (Cramér only).
    game: the objective.
  """
  obj = game.objective
  if obj == "cramer":
    return gan_losses.cramer_generator_loss_per_example(real_out, *fake_outs)
  l_f = fake_outs[0][:, 0]
  if obj == "minimax":
    return gan_losses.generator_loss_minimax_per_example(l_f)
  if obj == "non_saturating":
    return gan_losses.generator_loss_non_saturating_per_example(l_f)
  if obj == "fgan":
    return gan_losses.fgan_generator_loss_per_example(
        game.divergence, l_f, game.fgan_non_saturating)
  return gan_losses.wasserstein_generator_loss_per_example(l_f)


def gradient_penalty(discriminator: nn.Module, d_vars: Variables,
                     real: jax.Array, fakes: Sequence[jax.Array],
                     rng: jax.Array, *, game: Game) -> jax.Array:
  """(||∇_x̂ f(x̂)||₂ - 1)² per example [B], critic in eval mode.

  x̂ = ε x + (1 - ε) x_g, ε ~ U[0, 1] per example (`gan_losses.interpolate`
  with `rng`), the norm over all non-batch axes (Gulrajani et al. 2017,
  Algorithm 1 lines 6-7). f is D's scalar output, or for Cramér GAN f(x) =
  ||h(x) - h(x'_g)|| - ||h(x)|| with h(x'_g) from fakes[1] (Bellemare et al.
  2017, Algorithm 1).

  Args:
    real: [B, ...]; fakes: (x_g,) or, for Cramér GAN, (x_g, x'_g).
  """
  h = functools.partial(discriminator_output, discriminator, d_vars,
                        compute_dtype=game.compute_dtype)
  if game.objective == "cramer":
    h_ref = h(fakes[1])
    f = lambda x: gan_losses.cramer_critic_per_example(h(x), h_ref)
  else:
    f = lambda x: h(x)[:, 0]
  return gan_losses.gradient_penalty(f, real, fakes[0], rng)


def penalised_critic_loss(discriminator: nn.Module, d_vars: Variables,
                          outs: Sequence[jax.Array], real: jax.Array,
                          fakes: Sequence[jax.Array], rng: jax.Array, *,
                          game: Game) -> tuple[jax.Array, dict]:
  """`critic_loss_per_example` plus, for wgan_gp and cramer, λ times
  `gradient_penalty` (metric 'gradient_penalty'): (loss [B], {name: [B]})."""
  loss, metrics = critic_loss_per_example(outs, game=game)
  if game.objective in GRADIENT_PENALTY:
    penalty = gradient_penalty(discriminator, d_vars, real, fakes, rng,
                               game=game)
    loss = loss + game.gp_weight * penalty
    metrics = {**metrics, "gradient_penalty": penalty}
  return loss, metrics


def critic_loss(discriminator: nn.Module, d_params: Any, d_vars: Variables,
                real: jax.Array, fakes: Sequence[jax.Array], rng: jax.Array,
                *, game: Game) -> tuple[jax.Array, tuple[dict, Variables]]:
  """The critic's minibatch loss in train mode, for `steps.gradient_update`.

  (d_key, penalty_key) = split(rng); D (params `d_params`, state from
  d_vars) on [real, *fakes], then `penalised_critic_loss` (the penalty at
  d_params with the stored state).

  Returns:
    (mean loss, ({name: mean}, D's variables with the new state)).
  """
  d_rng, gp_rng = jax.random.split(rng)
  d_vars = {**d_vars, "params": d_params}
  outs, new_d = discriminate(discriminator, d_vars, [real, *fakes], d_rng,
                             train=True, game=game)
  loss, metrics = penalised_critic_loss(discriminator, d_vars, outs, real,
                                        fakes, gp_rng, game=game)
  return jnp.mean(loss), ({n: jnp.mean(v) for n, v in metrics.items()}, new_d)


def generator_loss(generator: nn.Module, discriminator: nn.Module,
                   g_params: Any, g_vars: Variables, d_vars: Variables,
                   real: jax.Array, rng: jax.Array, *, game: Game
                   ) -> tuple[jax.Array, Variables]:
  """The generator's minibatch loss in train mode, for `gradient_update`.

  (fake_key, d_key) = split(rng); `draw_fakes` with m = real.shape[0] at
  g_params, D in train mode on the fakes (Cramér: on [real, x_g, x'_g]);
  D's new state is discarded.

  Args:
    real: [m, ...] data (Cramér GAN's loss uses it; the others its size).

  Returns:
    (mean `generator_loss_per_example`, G's variables with the new state).
  """
  fake_rng, d_rng = jax.random.split(rng)
  fakes, new_g = draw_fakes(generator, {**g_vars, "params": g_params},
                            real.shape[0], fake_rng, game=game)
  if game.objective == "cramer":
    (h_r, *h_fakes), _ = discriminate(discriminator, d_vars, [real, *fakes],
                                      d_rng, train=True, game=game)
    loss = generator_loss_per_example(h_fakes, h_r, game=game)
  else:
    outs, _ = discriminate(discriminator, d_vars, fakes, d_rng, train=True,
                           game=game)
    loss = generator_loss_per_example(outs, game=game)
  return jnp.mean(loss), new_g


# ---------------------------------------------------------------- updates ---


def critic_update(generator: nn.Module, discriminator: nn.Module,
                  tx: optax.GradientTransformation, params: dict,
                  opt_state: Any, real: jax.Array, rng: jax.Array, *,
                  game: Game) -> tuple[Variables, Any, dict]:
  """One critic update on a minibatch (Goodfellow et al. 2014, Algorithm 1
  lines 3-5; Arjovsky et al. 2017, Algorithm 1 lines 3-7; Gulrajani et al.
  2017, Algorithm 1 lines 3-10; Bellemare et al. 2017, Algorithm 1).

  (fake_key, loss_key) = split(rng); fresh fakes from G in train mode (G's
  state discarded, no gradient into G), then `critic_loss` through
  `core.steps.gradient_update`.

  Args:
    params: {'generator': vars_G, 'discriminator': vars_D}.
    opt_state: the critic's optimiser state.
    real: [m, ...] model-space data.

  Returns:
    (D's new variables, opt_state, {'d_loss', 'd_grad_norm', metrics}).
  """
  fake_rng, loss_rng = jax.random.split(rng)
  fakes, _ = draw_fakes(generator, params["generator"], real.shape[0],
                        fake_rng, game=game)
  fakes = [jax.lax.stop_gradient(f) for f in fakes]
  d_vars = params["discriminator"]
  u = steps.gradient_update(
      functools.partial(critic_loss, discriminator, game=game), tx,
      d_vars["params"], opt_state, d_vars, real, fakes, loss_rng)
  metrics, new_d = u.aux
  return ({**new_d, "params": u.params}, u.opt_state,
          {"d_loss": u.loss, "d_grad_norm": u.grad_norm, **metrics})


def critic_updates(generator: nn.Module, discriminator: nn.Module,
                   tx: optax.GradientTransformation, params: dict,
                   opt_state: Any, reals: jax.Array, rng: jax.Array, *,
                   game: Game) -> tuple[dict, Any, dict]:
  """k critic updates by `lax.scan` over reals [k, m, ...], update j with
  key split(rng, k)[j] (the inner loop of Arjovsky et al. 2017 and
  Gulrajani et al. 2017, Algorithm 1).

  Returns:
    (params with D updated, opt_state, {name: [k]} per update).
  """
  def update(carry, inputs):
    params, opt_state = carry
    d_vars, opt_state, metrics = critic_update(
        generator, discriminator, tx, params, opt_state, *inputs, game=game)
    return ({**params, "discriminator": d_vars}, opt_state), metrics

  (params, opt_state), metrics = jax.lax.scan(
      update, (params, opt_state),
      (reals, jax.random.split(rng, reals.shape[0])))
  return params, opt_state, metrics


def generator_update(generator: nn.Module, discriminator: nn.Module,
                     tx: optax.GradientTransformation, params: dict,
                     opt_state: Any, real: jax.Array, rng: jax.Array, *,
                     game: Game) -> tuple[Variables, Any, dict]:
  """One generator update against the current critic (Goodfellow et al.
  2014, Algorithm 1 lines 6-7; Arjovsky et al. 2017 lines 9-10; Gulrajani
  et al. 2017 lines 11-12; Bellemare et al. 2017, Algorithm 1, with its own
  data minibatch `real`): `generator_loss` through `gradient_update`.

  Returns:
    (G's new variables, opt_state, {'g_loss', 'g_grad_norm'}).
  """
  g_vars = params["generator"]
  u = steps.gradient_update(
      functools.partial(generator_loss, generator, discriminator, game=game),
      tx, g_vars["params"], opt_state, g_vars, params["discriminator"], real,
      rng)
  return ({**u.aux, "params": u.params}, u.opt_state,
          {"g_loss": u.loss, "g_grad_norm": u.grad_norm})


def split_batch(x: jax.Array, num_minibatches: int) -> jax.Array:
  """[n·m, ...] -> [n, m, ...]: minibatch j = rows j·m..(j+1)·m - 1."""
  return x.reshape((num_minibatches, x.shape[0] // num_minibatches)
                   + x.shape[1:])


def alternating_updates(generator: nn.Module, discriminator: nn.Module,
                        tx_g: optax.GradientTransformation,
                        tx_d: optax.GradientTransformation, params: dict,
                        opt_state: dict, reals: jax.Array, d_rng: jax.Array,
                        g_rng: jax.Array, *, game: Game
                        ) -> tuple[dict, dict, dict]:
  """k critic updates on reals[0..k-1] (`critic_updates`, key d_rng), then
  one generator update at the updated critic (`generator_update`, key
  g_rng) on reals[-1]: Cramér GAN's own minibatch k; the other games use
  only its size m (Goodfellow et al. 2014, Arjovsky et al. 2017, Gulrajani
  et al. 2017, Bellemare et al. 2017, each Algorithm 1).

  Args:
    params, opt_state: {'generator', 'discriminator'} each.
    reals: [game.num_minibatches, m, ...] model-space data.

  Returns:
    (params, opt_state, {critic metrics [k], 'g_loss', 'g_grad_norm'}).
  """
  params, opt_d, d_metrics = critic_updates(
      generator, discriminator, tx_d, params, opt_state["discriminator"],
      reals[:game.critic_steps], d_rng, game=game)
  g_vars, opt_g, g_metrics = generator_update(
      generator, discriminator, tx_g, params, opt_state["generator"],
      reals[-1], g_rng, game=game)
  return ({**params, "generator": g_vars},
          {"generator": opt_g, "discriminator": opt_d},
          {**d_metrics, **g_metrics})


def single_step_updates(generator: nn.Module, discriminator: nn.Module,
                        tx_g: optax.GradientTransformation,
                        tx_d: optax.GradientTransformation, params: dict,
                        opt_state: dict, reals: jax.Array, d_rng: jax.Array,
                        g_rng: jax.Array, *, game: Game
                        ) -> tuple[dict, dict, dict]:
  """f-GAN's single-step gradient method (Nowozin et al. 2016, Algorithm 1):
  both players' gradients at the same point (θ_t, ω_t) from minibatch
  reals[0], then both updates. Arguments and results as
  `alternating_updates` (critic metrics [1])."""
  d_vars, opt_d, d_metrics = critic_update(
      generator, discriminator, tx_d, params, opt_state["discriminator"],
      reals[0], d_rng, game=game)
  g_vars, opt_g, g_metrics = generator_update(
      generator, discriminator, tx_g, params, opt_state["generator"],
      reals[0], g_rng, game=game)
  return ({"generator": g_vars, "discriminator": d_vars},
          {"generator": opt_g, "discriminator": opt_d},
          {**{n: v[None] for n, v in d_metrics.items()}, **g_metrics})


def train_step(generator: nn.Module, discriminator: nn.Module,
               tx_g: optax.GradientTransformation,
               tx_d: optax.GradientTransformation, state: TrainState,
               batch: dict, rng: jax.Array, *, game: Game, inputs: Inputs
               ) -> tuple[TrainState, dict]:
  """One step of the game, both players inside one compiled function.

  (pre_key, d_key, g_key) = split(rng, 3); the batch (`inputs`, model
  space) is split into `game.num_minibatches` minibatches of m
  (`split_batch`), then `alternating_updates` (k critic updates, then the
  generator) or, for f-GAN's single-step method, `single_step_updates`.

  Args:
    state: params {'generator', 'discriminator'} (flax variables), opt_state
      {'generator', 'discriminator'}.
    batch: the host batch ([n·m, ...]); inputs(fn, batch, key) -> model-space
      x (checks and preprocessing; `model_inputs`).

  Returns:
    (state, {critic metrics averaged over the k updates, 'd_loss_last',
    'g_loss', 'g_grad_norm'}).

  Raises:
    ValueError: a batch that does not fit (trace time).
  """
  pre_rng, d_rng, g_rng = jax.random.split(rng, 3)
  x = inputs("gan.train_step", batch, pre_rng)
  n, k = game.num_minibatches, game.critic_steps
  if x.shape[0] % n:
    what = (f"model.critic_steps + 1 = {n}" if n > k
            else f"model.critic_steps = {k}")
    raise ValueError(f"gan.train_step: the batch size {x.shape[0]} is not a "
                     f"multiple of {what}.")
  updates = single_step_updates if game.single_step else alternating_updates
  params, opt_state, m = updates(
      generator, discriminator, tx_g, tx_d, state.params, state.opt_state,
      split_batch(x, n), d_rng, g_rng, game=game)
  metrics = {name: jnp.mean(v) for name, v in m.items()}
  metrics["d_loss_last"] = m["d_loss"][-1]
  return state.replace(step=state.step + 1, params=params,
                       opt_state=opt_state), metrics


def init(generator: nn.Module, discriminator: nn.Module,
         tx_g: optax.GradientTransformation,
         tx_d: optax.GradientTransformation, rng: jax.Array, batch: Any, *,
         game: Game, data_shape: Sequence[int]) -> TrainState:
  """Both players' variables and optimiser states; (g_key, d_key, state_key)
  = split(rng, 3). The batch is not used."""
  del batch
  g_rng, d_rng, state_rng = jax.random.split(rng, 3)
  g_vars = dict(generator.init(g_rng, jnp.zeros((2, game.latent_dim)),
                               train=False))
  d_vars = dict(discriminator.init(
      d_rng, jnp.zeros((2,) + tuple(data_shape)), train=False))
  return TrainState.create_players(
      state_rng, {"generator": g_vars, "discriminator": d_vars},
      {"generator": tx_g, "discriminator": tx_d}, collection="params")


# ------------------------------------------------------------- evaluation ---


def model_inputs(fn: str, batch: dict, rng: jax.Array, *,
                 preprocessing: Preprocessing | None,
                 data_shape: Sequence[int], toy_dtype: str = "floating"
                 ) -> jax.Array:
  """A host batch in model space: toy {'x': [B, D]} as float32, or images
  {'image': [B, H, W, C]} through `preprocessing` (key `rng`). Extra keys
  (the evaluator's 'mask', labels) are ignored.

  Raises:
    ValueError: naming `fn`, a batch without the key or of another shape.
  """
  if preprocessing is None:
    checks.check_batch(fn, batch, "x", data_shape, toy_dtype)
    return batch["x"].astype(jnp.float32)
  checks.check_batch(fn, batch, "image", data_shape, "numeric")
  return preprocessing.apply(rng, batch["image"])


def to_data_space(x: jax.Array, preprocessing: Preprocessing | None
                  ) -> jax.Array:
  """Model space to data space: images to [0, 1]; toy points unchanged."""
  return x if preprocessing is None else preprocessing.to_unit(x)


def weighted_energy_distance(x: jax.Array, y: jax.Array,
                             x_weights: jax.Array, y_weights: jax.Array
                             ) -> jax.Array:
  """Energy distance of two weighted samples, a weighted U-statistic:

    E = 2 Σ_ij a_i b_j d(x_i, y_j) / (A B)
        - Σ_{i≠j} a_i a_j d(x_i, x_j) / (A² - Σ a_i²)
        - Σ_{i≠j} b_i b_j d(y_i, y_j) / (B² - Σ b_i²),

  d the Euclidean distance, A = Σ a_i, B = Σ b_j. With 0/1 weights it is
  `divergences.energy_distance` of the rows of weight 1 (Székely and Rizzo
  2013; unbiased for E(P, Q) = 2E||X - Y|| - E||X - X'|| - E||Y - Y'||), so
  an evaluation batch's padding (weight 0) does not enter. A within-sample
  term with fewer than two rows of weight 1 is taken as 0.

  Args:
    x: [N, ...], y: [M, ...] (one event shape, flattened).
    x_weights: [N] >= 0; y_weights: [M] >= 0.

  Returns:
    scalar float32, in the units of x.
  """
  def within(v, w):
    d = jnp.sqrt(divergences.squared_distances(v, v))
    num = w @ d @ w - jnp.sum(w * w * jnp.diagonal(d))
    den = jnp.sum(w) ** 2 - jnp.sum(w * w)
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)

  cross = x_weights @ jnp.sqrt(divergences.squared_distances(x, y)) @ y_weights
  cross = cross / (jnp.sum(x_weights) * jnp.sum(y_weights))
  return 2.0 * cross - within(x, x_weights) - within(y, y_weights)


def evaluate(generator: nn.Module, discriminator: nn.Module, params: dict,
             batch: dict, rng: jax.Array, *, game: Game, inputs: Inputs
             ) -> dict[str, jax.Array]:
  """Metrics on a real batch [B] and B fresh samples, eval mode.

  (pre_key, fake_key, loss_key) = split(rng, 3). Per example [B]: d_loss
  (the critic's loss, penalty included) and g_loss, and the objective's
  metrics: logistic: d_real = D(x_i), d_fake = D(G(z_i)), d_accuracy;
  f-GAN: the bound's per-pair term g_f(V(x_i)) - f*(g_f(V(G(z_i)))) (mean =
  the critic's estimate of D_f); WGAN, WGAN-GP, hinge: critic values and
  f(x_i) - f(G(z_i)) (mean = the critic's estimate of W_1, up to its
  Lipschitz constant); Cramér: the surrogate f(x_i) - f(x_g,i). Cramér's
  `energy_distance` is a batch-level scalar: `weighted_energy_distance`
  between the critic features of the real rows (weights
  `base.eval_mask(batch, B)`) and of both generated batches of those rows.
  """
  pre_rng, fake_rng, loss_rng = jax.random.split(rng, 3)
  real = inputs("gan.evaluate", batch, pre_rng)
  fakes, _ = draw_fakes(generator, params["generator"], real.shape[0],
                        fake_rng, game=game, train=False)
  d_vars = params["discriminator"]
  d_rng, gp_rng = jax.random.split(loss_rng)
  outs, _ = discriminate(discriminator, d_vars, [real, *fakes], d_rng,
                         train=False, game=game)
  loss, metrics = penalised_critic_loss(discriminator, d_vars, outs, real,
                                        fakes, gp_rng, game=game)
  out = {"d_loss": loss, **metrics,
         "g_loss": generator_loss_per_example(outs[1:], outs[0], game=game)}
  if game.objective in LOGISTIC:
    out["d_accuracy"] = 0.5 * ((metrics["d_real"] > 0.5).astype(jnp.float32)
                               + (metrics["d_fake"] < 0.5).astype(jnp.float32))
  if game.objective == "cramer":
    mask = base.eval_mask(batch, real.shape[0])
    out["energy_distance"] = weighted_energy_distance(
        outs[0], jnp.concatenate(outs[1:]), mask, jnp.tile(mask, 2))
  return out


def critic_value(generator: nn.Module, discriminator: nn.Module,
                 params: dict, x: jax.Array, *, game: Game) -> jax.Array:
  """D's logit / critic value per point in eval mode, [N, ...] -> [N]; for
  Cramér GAN f(x) = mean_j ||h(x) - h(G(z_j))|| - ||h(x)|| over
  CRAMER_CRITIC_SAMPLES generated samples from the fixed key 0."""
  h = functools.partial(discriminator_output, discriminator,
                        params["discriminator"],
                        compute_dtype=game.compute_dtype)
  if game.objective != "cramer":
    return h(x)[:, 0]
  z = jax.random.normal(jax.random.PRNGKey(0),
                        (CRAMER_CRITIC_SAMPLES, game.latent_dim))
  h_g = h(generate(generator, params["generator"], z,
                   compute_dtype=game.compute_dtype))            # [S, k]
  return jnp.mean(gan_losses.cramer_critic_per_example(
      h(x)[:, None, :], h_g[None, :, :]), axis=1)


# ---------------------------------------------------------------- samples ---


def sample(generator: nn.Module, params: dict, rng: jax.Array, n: int, *,
           game: Game, to_data: Callable = lambda x: x) -> jax.Array:
  """n samples G(z), z = normal(rng, [n, latent_dim]), generator in eval
  mode: [n, H, W, C] in [0, 1] (`to_data`) or [n, D] toy points."""
  checks.check_positive_int("gan.sample", "n", n)
  z = jax.random.normal(rng, (n, game.latent_dim))
  return to_data(generate(generator, params["generator"], z,
                          compute_dtype=game.compute_dtype))


def latent_interpolations(generate_fn: Callable[[jax.Array], jax.Array],
                          rng: jax.Array, latent_dim: int, steps: int,
                          pairs: int = INTERPOLATION_PAIRS) -> jax.Array:
  """G on straight latent segments: z = normal(rng, [pairs, 2, latent_dim]),
  `steps` points (1 - t) z_a + t z_b, t = 0..1, per pair, decoded by
  `generate_fn`: [pairs·steps, ...], pair by pair (seeds 001/002)."""
  z = jax.random.normal(rng, (pairs, 2, latent_dim))
  t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
  path = (1 - t) * z[:, :1] + t * z[:, 1:]                 # [P, steps, D]
  return generate_fn(path.reshape(-1, latent_dim))


def interpolate(generator: nn.Module, params: dict, rng: jax.Array,
                steps: int = INTERPOLATION_STEPS, *, game: Game,
                to_data: Callable = lambda x: x) -> jax.Array:
  """`latent_interpolations` of 4 pairs in data space: [4·steps, ...]."""
  return to_data(latent_interpolations(
      functools.partial(generate, generator, params["generator"],
                        compute_dtype=game.compute_dtype),
      rng, game.latent_dim, steps))


def image_grids(sample_fn: Callable, interpolate_fn: Callable, params: Any,
                batch: Any, rng: jax.Array, *, toy: bool
                ) -> dict[str, jax.Array]:
  """{'samples': sample_fn(params, key_s, 64), 'interpolations':
  interpolate_fn(params, key_i)}, (key_s, key_i) = split(rng); {} on toy
  data (the trainer draws scatter plots itself). The batch is not used."""
  del batch
  if toy:
    return {}
  s_rng, i_rng = jax.random.split(rng)
  return {"samples": sample_fn(params, s_rng, 64),
          "interpolations": interpolate_fn(params, i_rng)}


def protocol(mc, game: Game, preprocessing: Preprocessing | None) -> dict:
  """How the metrics were computed (final_metrics.json)."""
  out = {"model": "gan", "objective": game.objective,
         "architecture": mc.architecture, "latent_dim": game.latent_dim,
         "critic_steps": game.critic_steps,
         "discriminator_norm": mc.discriminator_norm,
         "generator_norm": mc.generator_norm,
         "preprocessing": ("toy data as is" if preprocessing is None
                           else preprocessing.description),
         "evaluation": "per-example metrics on real data and as many fresh "
                       "samples; networks in eval mode (batch-norm running "
                       "averages, no dropout)"}
  if game.objective == "fgan":
    out["divergence"] = game.divergence.name
    out["fgan_update"] = "single_step" if game.single_step else "alternating"
  if game.objective in GRADIENT_PENALTY:
    out["gp_weight"] = game.gp_weight
  if game.objective == "wgan":
    out["clip_value"] = mc.clip_value
  if game.objective == "cramer":
    out["energy_distance"] = ("batch-level weighted U-statistic over the "
                              "real rows (padding excluded)")
  return out


# ------------------------------------------------------------------ model ---


def bind_players(init_fn: Callable, train_step_fn: Callable,
                 evaluate_fn: Callable, players: Sequence[nn.Module],
                 optimizers: Sequence[optax.GradientTransformation], *,
                 inputs: Inputs, data_shape: Sequence[int], **hyper) -> dict:
  """The interface members an adversarial family's `make` binds alike (GAN
  and CFG): {'init', 'train_step', 'evaluate', 'evaluate_final'}, the
  family's module-level functions with their players (networks) and
  optimizers first, and `inputs`, `data_shape` and the hyperparameters
  (`hyper`: game=... or spec=...) as keywords."""
  evaluate_bound = functools.partial(evaluate_fn, *players, inputs=inputs,
                                     **hyper)
  return {"init": functools.partial(init_fn, *players, *optimizers,
                                    data_shape=data_shape, **hyper),
          "train_step": functools.partial(train_step_fn, *players,
                                          *optimizers, inputs=inputs, **hyper),
          "evaluate": evaluate_bound, "evaluate_final": evaluate_bound}


@dataclasses.dataclass(frozen=True, kw_only=True)
class GAN(base.Model):
  """The model interface (models/base.py) plus the family's own members
  (`params` = `state.params`), each a bound module-level function:

    game: the `Game`.
    generate(params, z) -> x in model space, generator in eval mode.
    interpolate(params, rng, steps=8) -> [4·steps, ...] in data space.
    discriminator_output(params, x) -> [N, output_dim], eval mode.
    split_batch(x) -> [n, m, ...]: the minibatches of a train step.
    gradient_penalty(params, real, fakes, rng) -> [B] (`gradient_penalty`).
    preprocessing, generator_net, discriminator_net, generator_optimizer,
    discriminator_optimizer: what `make` built.
  """
  game: Game
  generate: Callable
  interpolate: Callable
  discriminator_output: Callable
  split_batch: Callable
  gradient_penalty: Callable
  preprocessing: Preprocessing | None
  generator_net: nn.Module
  discriminator_net: nn.Module
  generator_optimizer: optax.GradientTransformation
  discriminator_optimizer: optax.GradientTransformation


def make(config, dataset_info: dict) -> GAN:
  """Builds the GAN family's model from `config` (module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.generator,
      .optimizer.discriminator, .train.num_steps, .train.batch_size,
      .train.compute_dtype).
    dataset_info: {'shape': (H, W, C) or (D,), 'kind': 'toy'?, ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  validate_config(config, dataset_info)
  mc, shape = config.model, tuple(dataset_info["shape"])
  toy = dataset_info.get("kind") == "toy"
  game = game_from_config(mc, precision.compute_dtype(config))
  gen, disc = build_networks(mc, shape,
                             mc.cramer_dim if game.objective == "cramer" else 1)
  pre = None if toy else make_preprocessing(
      config.data.binarization, config.data.dequantization,
      config.data.value_range)
  tx_g, tx_d = build_optimizers(config, game)
  inputs = functools.partial(model_inputs, preprocessing=pre,
                             data_shape=shape)
  to_data = functools.partial(to_data_space, preprocessing=pre)
  sample_fn = functools.partial(sample, gen, game=game, to_data=to_data)
  interpolate_fn = functools.partial(interpolate, gen, game=game,
                                     to_data=to_data)
  return GAN(
      **bind_players(init, train_step, evaluate, (gen, disc), (tx_g, tx_d),
                     inputs=inputs, data_shape=shape, game=game),
      sample=sample_fn,
      images=functools.partial(image_grids, sample_fn, interpolate_fn,
                               toy=toy),
      protocol=functools.partial(protocol, mc, game, pre),
      critic=functools.partial(critic_value, gen, disc, game=game),
      supports_bfloat16=True, game=game,
      generate=lambda params, z: generate(
          gen, params["generator"], z, compute_dtype=game.compute_dtype),
      interpolate=interpolate_fn,
      discriminator_output=lambda params, x: discriminator_output(
          disc, params["discriminator"], x, compute_dtype=game.compute_dtype),
      split_batch=functools.partial(split_batch,
                                    num_minibatches=game.num_minibatches),
      gradient_penalty=lambda params, real, fakes, rng: gradient_penalty(
          disc, params["discriminator"], real, tuple(fakes), rng, game=game),
      preprocessing=pre, generator_net=gen, discriminator_net=disc,
      generator_optimizer=tx_g, discriminator_optimizer=tx_d)

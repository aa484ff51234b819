"""Composite functional gradient learning: CFG, ICFG and xICFG, as pure functions.

Johnson and Zhang (2018) learn a generator by gradient descent in function
space rather than in the generator's parameters. A discriminator trained with
the logistic loss (real label +1, generated label -1)

  D(x) ~ argmin_D E_{p*}[ln(1 + e^{-D(x)})] + E_{p}[ln(1 + e^{D(x)})]
       ~ ln p*(x) / p(x)                                         (1)

tells which way to move each generated point: the functional gradient

  g(x) = s(x) ∇_x D(x),   s(x) > 0                                    (2)

(the paper: s = 1; here s = `model.step_scale`, optionally capped, see
`functional_gradient`)

and the composite update of the generator

  G_t(z) = G_{t-1}(z) + η g_t(G_{t-1}(z))                               (3)

decrease KL(p* || p_{G_t}) by η ∫ p* s ||∇D||² dx - O(η²) per step (their
main theorem, quoted in seed 002). Algorithms (numbers as in the paper
and seed 002):

  Algorithm 1 (CFG): D_t = the argmin of (1) against G_{t-1}; then (3).
  Algorithm 2 (ICFG): each stage t makes U SGD updates of one persistent D on
    minibatches of b real and b generated examples (line 4), then appends one
    functional step (3) to the generator with that stage's D (lines 6-7).
  Algorithm 3 (xICFG): the generator of ICFG grows by one step per stage, so
    it is restarted from a fixed-size *approximator* G~: each outer iteration
    draws an input pool S_z (line 2), runs T stages of ICFG with G_0 = G~ and
    the prior q_z = uniform over S_z (line 4), then refits G~ to minimise
    1/2 Σ_{z∈S_z} ||G~(z) - G_T(z)||² (line 8).

What one `train_step` is: one outer iteration of Algorithm 3 (lines 2-8), all
inside one compiled function with static shapes:
  1. S_z: `pool_size` latents z ~ N(0, I) from the step's key;
     x_pool = G~(S_z)                                     # [P, *data_shape]
  2. `lax.scan` over the T stages: `lax.scan` over the U discriminator updates
     (each: b real examples from the trainer's batch, b pool indices drawn
     uniformly with replacement, i.e. z ~ q_z, fakes = x_pool[idx]); then
     x_pool <- x_pool + η s ∇D(x_pool). The pool's points are exactly
     G_t(S_z), kept incrementally, so ICFG never re-runs earlier stages.
  3. G~ is refitted to G_T(S_z) by `approximator_epochs` epochs of minibatch
     updates (batch `approximator_batch_size`, a fresh permutation per epoch).
The trainer's batch feeds the T·U discriminator updates: `train.batch_size`
must equal T·U·b, and the batch is reshaped to [T, U, b, ...] in order (the
data pipeline has already shuffled it), so every real example is used once.

The generator that Algorithm 3 returns (line 6) is G = (G~ as it was when the
outer iteration started) followed by the T functional steps. Those steps need
the discriminator of each stage, so the parameters keep, with static shapes:
  params['generator'] = {
    'base':                  G~ before the refit (the G_0 of the last ICFG),
    'stage_discriminators':  the T stage discriminators, stacked [T, ...]
                             (D after the U updates of stage t, as ICFG uses),
    'step_sizes':            float32 [T], η_t of each stage (all η here)},
  params['approximator'] = G~ after the refit (≈ G; the next iteration's G_0),
  params['discriminator'] = the latest D (= the last stage's).
At `init` the step sizes are 0, so G = G~ until the first train step. The
cost is T copies of D in the parameters (T·|D| floats).

Data space and output range: images are scaled to [-1, 1] (`data.value_range
= '-1_1'`); G~ ends in tanh, but the functional steps may leave [-1, 1], and
D sees G(z) unclipped (as in the paper). `sample` clips to [-1, 1] and maps to
[0, 1] for display and the sample metrics; toy data are returned unchanged
([n, D]). Latents are standard normal.

Defaults of the paper (its experiments section) as we recall them, not checked against the
text offline: b = 64, U = 1, |S_z| = 10 b, T = 25, RMSprop, and the
approximator refitted with minibatches of b over the pool for 10 epochs; η
was tuned per data set (in {0.1, 0.25, 0.5, 1, 2.5}, as we recall). Our
configs shrink T and the epochs to fit a 2-core CPU (experiments/configs/
cfg.py). The paper's approximator is a fully-connected net with shortcut
connections; ours is the project's plain MLP generator (nn/gan_nets.py).

Config (`config.model`): name 'cfg', latent_dim, approximator_hidden,
discriminator_hidden, activation, output_activation ('tanh' | 'linear';
default tanh for images, linear for toy data), num_stages (T),
discriminator_updates (U), stage_batch_size (b), pool_size (|S_z|), eta,
step_scale (s), max_gradient_norm (0 = off: a cap c on ||g(x)||, i.e.
s(x) = s min(1, c / (s ||∇D(x)||)), our addition, used on toy data),
approximator_epochs, approximator_batch_size. Optimizers:
`config.optimizer.discriminator` and `config.optimizer.approximator`, each an
optax chain of gdm_jax/core/optimizers.py; their schedules count their own updates
(T·U resp. epochs·⌊P / batch⌋ per train step).

References:
  Johnson and Zhang 2018, "Composite Functional Gradient Learning of
    Generative Adversarial Models", ICML (arXiv:1801.06309): the KL-decrease theorem,
    Algorithms 1-3 (and 4-5, GAN with/without the log-D trick, for which
    see experiments/gan_scaling_study.py).
  Seed 002 (HKUST lecture notes), the CFG/ICFG/xICFG slides.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import gan_losses
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.models import gan
from gdm_jax.nn.gan_nets import MLPDiscriminator
from gdm_jax.nn.gan_nets import MLPGenerator

Critic = Callable[[jax.Array], jax.Array]
INTERPOLATION_STEPS = 10


@dataclasses.dataclass(frozen=True, kw_only=True)
class XICFG:
  """xICFG's hyperparameters (module docstring; `hyperparameters` reads
  them from `config.model`).

  Attributes:
    latent_dim: size of z ~ N(0, I).
    num_stages: T, functional steps per outer iteration.
    discriminator_updates: U, D updates per stage.
    stage_batch_size: b, real and generated examples per D update.
    pool_size: |S_z|.
    eta: η, the functional step size.
    step_scale: s > 0 in g(x) = s ∇D(x).
    max_gradient_norm: cap c on ||g(x)|| (0 = none).
    approximator_epochs: epochs of the refit of G~ over the pool.
    approximator_batch_size: minibatch of the refit.
  """
  latent_dim: int
  num_stages: int
  discriminator_updates: int
  stage_batch_size: int
  pool_size: int
  eta: float
  step_scale: float = 1.0
  max_gradient_norm: float = 0.0
  approximator_epochs: int = 10
  approximator_batch_size: int = 64

  @property
  def fit_batches(self) -> int:
    """Refit minibatches per epoch, ⌊P / batch⌋."""
    return self.pool_size // self.approximator_batch_size


# ------------------------------------------------- functional gradient ------


def functional_gradient(d_fn: Critic, x: jax.Array, scale: float = 1.0,
                        max_norm: float = 0.0) -> jax.Array:
  """g(x) = s(x) ∇_x D(x) per example (eq. 2; Algorithm 1 line 3).

  s(x) = scale, or with `max_norm` c > 0, s(x) = scale · min(1, c / (scale
  ||∇D(x)||)), which caps ||g(x)|| at c. Any s(x) > 0 keeps the first-order
  KL decrease η ∫ p* s ||∇D||² of the theory; the cap only shortens the steps
  where D is steep (see `model.max_gradient_norm`).

  Args:
    d_fn: the discriminator, [N, ...] -> logits [N]; it must act on each
      example separately (no batch statistics), so that the gradient of
      Σ_n D(x_n) is ∇D(x_n) in row n (`gan_losses.input_gradient`).
    x: points, float32 [N, ...].
    scale: the constant s > 0.
    max_norm: cap c on ||g(x)|| (0 = no cap, s(x) = s as in the paper).

  Returns:
    float32 [N, ...], the shape of x.

  Raises:
    ValueError: non-floating or rank-0 x, or a d_fn whose output is not [N]
      (or [N, 1]).
  """
  _check_points("cfg.functional_gradient", x)
  g = scale * gan_losses.input_gradient(d_fn, x, fn="cfg.functional_gradient",
                                        arg="d_fn")
  if max_norm:
    norm = jnp.sqrt(jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), -1))
    factor = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
    g = g * factor.reshape((-1,) + (1,) * (g.ndim - 1))
  return g


def functional_step(d_fn: Critic, x: jax.Array, eta: jax.Array | float,
                    scale: float = 1.0, max_norm: float = 0.0) -> jax.Array:
  """x + η g(x): one composite step G_t = G_{t-1} + η g_t ∘ G_{t-1} (eq. 3;
  Algorithm 1 line 4, Algorithm 2 line 7). Shapes as `functional_gradient`.

  To first order D(x + η g) = D(x) + η s(x) ||∇D(x)||², so a small step
  raises D, i.e. moves the point towards where real data are more likely.

  Raises:
    ValueError: see `functional_gradient`; a non-scalar or non-floating eta.
  """
  _check_points("cfg.functional_step", x)
  checks.check_array("cfg.functional_step", "eta", eta, shape=())
  return x + eta * functional_gradient(d_fn, x, scale, max_norm)


def fit_loss_per_example(prediction: jax.Array, target: jax.Array) -> jax.Array:
  """1/2 ||G~(z) - G(z)||² per example (Algorithm 3 line 8): [N, ...] -> [N].

  Raises:
    ValueError: non-floating or rank-0 inputs, or different shapes.
  """
  fn = "cfg.fit_loss_per_example"
  _check_points(fn, prediction, "prediction")
  _check_points(fn, target, "target")
  checks.check_same_shape(fn, [("prediction", prediction),
                               ("target", target)])
  diff = (prediction - target).reshape(prediction.shape[0], -1)
  return 0.5 * jnp.sum(jnp.square(diff), axis=-1)


def _check_points(fn: str, x, name: str = "x") -> None:
  checks.check_arg(fn, name, x, "floating [N, ...]")


def _check_z(fn: str, z, latent_dim: int | None, name: str = "z") -> None:
  if latent_dim is not None:
    checks.check_array(fn, name, z, shape=(None, latent_dim),
                       layout="[N, latent_dim]")


def _check_x(fn: str, x, data_shape: Sequence[int] | None) -> None:
  if data_shape is not None:
    checks.check_example_batch(fn, "x", x, data_shape)


# ----------------------------------------------------------- the players ----


def discriminator_logits(discriminator: nn.Module, d_params: Any,
                         x: jax.Array, *,
                         data_shape: Sequence[int] | None = None) -> jax.Array:
  """D(x), logits [N] (eval mode); x [N, *data_shape] in model space,
  checked against `data_shape` when given."""
  _check_x("cfg.discriminator", x, data_shape)
  return discriminator.apply(d_params, x, train=False)[:, 0]


def approximate(approximator: nn.Module, g_params: Any, z: jax.Array, *,
                latent_dim: int | None = None) -> jax.Array:
  """G~(z): z [N, latent_dim] (checked when latent_dim is given) -> x."""
  _check_z("cfg.approximator", z, latent_dim)
  return approximator.apply(g_params, z, train=False)


def generate(approximator: nn.Module, discriminator: nn.Module,
             gen_params: dict, z: jax.Array, *, spec: XICFG) -> jax.Array:
  """G(z) = G~(z) followed by the T stored functional steps (Algorithm 3,
  line 6): x <- x + η_t g_t(x), g_t from stage discriminator t, by
  `lax.scan` over gen_params['stage_discriminators'] [T, ...] and
  gen_params['step_sizes'] [T]. z [N, latent_dim] -> [N, ...] model space.
  """
  _check_z("cfg.generate", z, spec.latent_dim)
  x = approximate(approximator, gen_params["base"], z)

  def stage(x, inputs):
    d_params, eta = inputs
    d_fn = functools.partial(discriminator_logits, discriminator, d_params)
    return functional_step(d_fn, x, eta, spec.step_scale,
                           spec.max_gradient_norm), None

  x, _ = jax.lax.scan(stage, x, (gen_params["stage_discriminators"],
                                 gen_params["step_sizes"]))
  return x


def discriminator_loss(discriminator: nn.Module, d_params: Any,
                       real: jax.Array, fake: jax.Array
                       ) -> tuple[jax.Array, dict]:
  """Algorithm 2 line 4: the mean logistic loss, real label +1, generated
  -1 (eq. 1; `gan_losses.discriminator_loss`), nats.

  Returns:
    (loss, {'d_real', 'd_fake'}: mean logits), for `gradient_update`.
  """
  l_real = discriminator_logits(discriminator, d_params, real)
  l_fake = discriminator_logits(discriminator, d_params, fake)
  return gan_losses.discriminator_loss(l_real, l_fake), {
      "d_real": jnp.mean(l_real), "d_fake": jnp.mean(l_fake)}


def icfg(discriminator: nn.Module, tx: optax.GradientTransformation,
         d_params: Any, d_opt_state: Any, x_pool: jax.Array, real: jax.Array,
         rng: jax.Array, *, spec: XICFG):
  """T stages of ICFG (Algorithm 2) with q_z = uniform over the pool.

  Stage t (key split(rng, T)[t]): U updates of D (`lax.scan`; update u with
  key split(key_t, U)[u] draws b pool indices uniformly with replacement,
  i.e. z ~ q_z, and takes `discriminator_loss` through
  `core.steps.gradient_update`), then x_pool <- x_pool + η g(x_pool) with
  that stage's D (lines 6-7).

  Args:
    x_pool: G_0(S_z), [P, ...]; real: [T, U, b, ...] model-space data.

  Returns:
    (d_params, d_opt_state, G_T(S_z) [P, ...], stacked stage discriminators
    [T, ...], metrics {d_loss, d_real, d_fake: [T, U]; grad_norm: [T], the
    pool's mean ||g||}).
  """
  num_pool = x_pool.shape[0]
  loss_fn = functools.partial(discriminator_loss, discriminator)

  def d_update(x_pool, carry, inputs):
    real_b, key = inputs
    fake = x_pool[jax.random.randint(key, (real_b.shape[0],), 0, num_pool)]
    u = steps.gradient_update(loss_fn, tx, *carry, real_b, fake)
    return (u.params, u.opt_state), {"d_loss": u.loss, **u.aux}

  def stage(carry, inputs):
    d_params, d_opt_state, x_pool = carry
    real_t, key = inputs
    (d_params, d_opt_state), metrics = jax.lax.scan(
        functools.partial(d_update, x_pool), (d_params, d_opt_state),
        (real_t, jax.random.split(key, real_t.shape[0])))
    g = functional_gradient(
        functools.partial(discriminator_logits, discriminator, d_params),
        x_pool, spec.step_scale, spec.max_gradient_norm)
    metrics["grad_norm"] = jnp.mean(jnp.sqrt(jnp.sum(jnp.square(
        g.reshape(num_pool, -1)), axis=-1)))
    return (d_params, d_opt_state, x_pool + spec.eta * g), (d_params, metrics)

  (d_params, d_opt_state, x_pool), (stages, metrics) = jax.lax.scan(
      stage, (d_params, d_opt_state, x_pool),
      (real, jax.random.split(rng, real.shape[0])))
  return d_params, d_opt_state, x_pool, stages, metrics


def fit_loss(approximator: nn.Module, g_params: Any, z: jax.Array,
             target: jax.Array) -> tuple[jax.Array, dict]:
  """(mean 1/2 ||G~(z) - target||², {}) (Algorithm 3 line 8), for
  `gradient_update`."""
  return jnp.mean(fit_loss_per_example(
      approximate(approximator, g_params, z), target)), {}


def fit_approximator(approximator: nn.Module,
                     tx: optax.GradientTransformation, g_params: Any,
                     g_opt_state: Any, z_pool: jax.Array, targets: jax.Array,
                     rng: jax.Array, *, spec: XICFG):
  """Algorithm 3 line 8 by minibatch updates over the pool: per epoch (key
  split(rng, epochs)[e]) a permutation of the pool cut into ⌊P / batch⌋
  minibatches, each a `gradient_update` of `fit_loss`.

  Args:
    z_pool: S_z [P, latent_dim]; targets: G(S_z) [P, ...].

  Returns:
    (g_params, g_opt_state, {'fit_loss_before', 'fit_loss_after'}: the
    pool's mean 1/2 ||G~(z) - G(z)||² before and after, scalars).
  """
  loss_fn = functools.partial(fit_loss, approximator)
  nb, b = spec.fit_batches, spec.approximator_batch_size

  def update(carry, idx):
    u = steps.gradient_update(loss_fn, tx, *carry, z_pool[idx], targets[idx])
    return (u.params, u.opt_state), None

  def epoch(carry, key):
    perm = jax.random.permutation(key, z_pool.shape[0])
    return jax.lax.scan(update, carry, perm[:nb * b].reshape(nb, b))[0], None

  before = loss_fn(g_params, z_pool, targets)[0]
  (g_params, g_opt_state), _ = jax.lax.scan(
      epoch, (g_params, g_opt_state),
      jax.random.split(rng, spec.approximator_epochs))
  return g_params, g_opt_state, {
      "fit_loss_before": before,
      "fit_loss_after": loss_fn(g_params, z_pool, targets)[0]}


# ------------------------------------------------------- the train step -----


def train_step(approximator: nn.Module, discriminator: nn.Module,
               d_tx: optax.GradientTransformation,
               g_tx: optax.GradientTransformation, state: TrainState,
               batch: dict, rng: jax.Array, *, spec: XICFG,
               inputs: gan.Inputs) -> tuple[TrainState, dict]:
  """One outer iteration of xICFG (Algorithm 3, lines 2-8).

  (pool_key, pre_key, d_key, fit_key) = split(rng, 4); S_z = normal(pool_key,
  [P, latent_dim]); x_pool = G~(S_z); `icfg` on the batch reshaped to
  [T, U, b, ...] (in order); `fit_approximator` of G~ to G_T(S_z). The new
  generator is G~ as it was at the start followed by the T stages.

  Returns:
    (state, {'d_loss', 'd_loss_last_stage', 'd_real', 'd_fake',
    'grad_norm', 'pool_displacement', 'fit_loss_before', 'fit_loss_after'}).

  Raises:
    ValueError: a batch that does not hold T·U·b examples (trace time).
  """
  pool_rng, pre_rng, d_rng, fit_rng = jax.random.split(rng, 4)
  t, u, b = (spec.num_stages, spec.discriminator_updates,
             spec.stage_batch_size)
  real = inputs("cfg.train_step", batch, pre_rng)
  if real.shape[0] != t * u * b:
    raise ValueError(f"cfg.train_step: the batch must hold num_stages * "
                     f"discriminator_updates * stage_batch_size = {t * u * b}"
                     f" examples; got {real.shape[0]}.")
  real = real.reshape((t, u, b) + real.shape[1:])
  params, opt_state = state.params, state.opt_state
  g_params = params["approximator"]
  z_pool = jax.random.normal(pool_rng, (spec.pool_size, spec.latent_dim))
  x_pool = approximate(approximator, g_params, z_pool)             # G_0(S_z)
  d_params, d_opt_state, targets, stages, m = icfg(
      discriminator, d_tx, params["discriminator"],
      opt_state["discriminator"], x_pool, real, d_rng, spec=spec)
  new_g, g_opt_state, fit = fit_approximator(
      approximator, g_tx, g_params, opt_state["approximator"], z_pool,
      targets, fit_rng, spec=spec)
  generator = {"base": g_params, "stage_discriminators": stages,
               "step_sizes": jnp.full((t,), spec.eta, jnp.float32)}
  state = state.replace(
      step=state.step + 1,
      params={"discriminator": d_params, "approximator": new_g,
              "generator": generator},
      opt_state={"discriminator": d_opt_state, "approximator": g_opt_state})
  return state, {
      "d_loss": jnp.mean(m["d_loss"]),
      "d_loss_last_stage": jnp.mean(m["d_loss"][-1]),
      "d_real": jnp.mean(m["d_real"]), "d_fake": jnp.mean(m["d_fake"]),
      "grad_norm": jnp.mean(m["grad_norm"]),
      "pool_displacement": jnp.mean(fit_loss_per_example(x_pool, targets)),
      **fit}


def init(approximator: nn.Module, discriminator: nn.Module,
         d_tx: optax.GradientTransformation,
         g_tx: optax.GradientTransformation, rng: jax.Array, batch: Any, *,
         spec: XICFG, data_shape: Sequence[int]) -> TrainState:
  """(g_key, d_key, state_key) = split(rng, 3); G~ and D initialised, the T
  stage discriminators copies of D and the step sizes 0 (G = G~)."""
  del batch
  g_rng, d_rng, state_rng = jax.random.split(rng, 3)
  g_params = approximator.init(g_rng, jnp.zeros((1, spec.latent_dim)),
                               train=False)
  d_params = discriminator.init(d_rng, jnp.zeros((1,) + tuple(data_shape)),
                                train=False)
  t = spec.num_stages
  stages = jax.tree.map(lambda p: jnp.broadcast_to(p, (t,) + p.shape),
                        d_params)
  params = {"discriminator": d_params, "approximator": g_params,
            "generator": {"base": g_params, "stage_discriminators": stages,
                          "step_sizes": jnp.zeros((t,), jnp.float32)}}
  return TrainState.create_players(
      state_rng, params, {"discriminator": d_tx, "approximator": g_tx})


# ------------------------------------------------------------ evaluation ----


def critic(discriminator: nn.Module, params: dict, x: jax.Array, *,
           data_shape: Sequence[int] | None = None) -> jax.Array:
  """The latest discriminator's logit D(x) [N]."""
  _check_x("cfg.critic", x, data_shape)
  return discriminator_logits(discriminator, params["discriminator"], x)


def evaluate(approximator: nn.Module, discriminator: nn.Module, params: dict,
             batch: dict, rng: jax.Array, *, spec: XICFG, inputs: gan.Inputs
             ) -> dict[str, jax.Array]:
  """Per example [B]: D(real) and D(G(z)) logits, the logistic loss (nats)
  and the approximator's error 1/2 ||G~(z) - G(z)||²; (pre_key, z_key) =
  split(rng)."""
  pre_rng, z_rng = jax.random.split(rng)
  x = inputs("cfg.evaluate", batch, pre_rng)
  z = jax.random.normal(z_rng, (x.shape[0], spec.latent_dim))
  fake = generate(approximator, discriminator, params["generator"], z,
                  spec=spec)
  l_real = critic(discriminator, params, x)
  l_fake = critic(discriminator, params, fake)
  return {"d_real": l_real, "d_fake": l_fake,
          "d_loss": gan_losses.discriminator_loss_per_example(l_real, l_fake),
          "approximator_error": fit_loss_per_example(
              approximate(approximator, params["approximator"], z), fake)}


def sample(approximator: nn.Module, discriminator: nn.Module, params: dict,
           rng: jax.Array, n: int, *, spec: XICFG,
           to_data: Callable = lambda x: x) -> jax.Array:
  """n samples G(z), z = normal(rng, [n, latent_dim]), in data space
  (`to_data`: images clipped to [-1, 1] and mapped to [0, 1]; toy points
  as is): [n, H, W, C] or [n, D]."""
  checks.check_positive_int("cfg.sample", "n", n)
  z = jax.random.normal(rng, (n, spec.latent_dim))
  return to_data(generate(approximator, discriminator, params["generator"],
                          z, spec=spec))


def interpolate(approximator: nn.Module, discriminator: nn.Module,
                params: dict, z_a: jax.Array, z_b: jax.Array,
                steps: int = INTERPOLATION_STEPS, *, spec: XICFG,
                to_data: Callable = lambda x: x) -> jax.Array:
  """G on the segment from z_a to z_b [latent_dim]: [steps, ...] in data
  space."""
  checks.check_positive_int("cfg.interpolate", "steps", steps)
  for name, z in (("z_a", z_a), ("z_b", z_b)):
    checks.check_array("cfg.interpolate", name, z, shape=(spec.latent_dim,),
                       layout="[latent_dim]")
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  return to_data(generate(approximator, discriminator, params["generator"],
                          (1 - t) * z_a + t * z_b, spec=spec))


def interpolation_grid(approximator: nn.Module, discriminator: nn.Module,
                       params: dict, rng: jax.Array, *, spec: XICFG,
                       to_data: Callable = lambda x: x) -> jax.Array:
  """`gan.latent_interpolations` of G, 4 pairs of 10 steps: [40, ...]."""
  return to_data(gan.latent_interpolations(
      functools.partial(generate, approximator, discriminator,
                        params["generator"], spec=spec),
      rng, spec.latent_dim, INTERPOLATION_STEPS))


# ------------------------------------------------------------- the model ----


def validate_config(config) -> None:
  """Raises ValueError naming the field for any invalid xICFG setting."""
  mc = config.model
  for field in ("latent_dim", "num_stages", "discriminator_updates",
                "stage_batch_size", "pool_size", "approximator_epochs",
                "approximator_batch_size"):
    if not (isinstance(mc[field], int) and mc[field] >= 1):
      raise ValueError(f"model.{field} must be an integer >= 1; got "
                       f"{mc[field]!r}.")
  need = mc.num_stages * mc.discriminator_updates * mc.stage_batch_size
  rules = [
      (mc.eta >= 0, f"model.eta must be >= 0; got {mc.eta}."),
      (mc.step_scale > 0,
       f"model.step_scale must be > 0; got {mc.step_scale}."),
      (mc.get("max_gradient_norm", 0.0) >= 0, "model.max_gradient_norm must "
       f"be >= 0 (0 = no cap); got {mc.get('max_gradient_norm')}."),
      (mc.approximator_batch_size <= mc.pool_size,
       f"model.approximator_batch_size ({mc.approximator_batch_size}) must "
       f"be <= model.pool_size ({mc.pool_size})."),
      (mc.get("output_activation", "tanh") in ("tanh", "linear"),
       "model.output_activation must be 'tanh' or 'linear'; got "
       f"'{mc.get('output_activation')}'."),
      (config.train.batch_size == need,
       f"train.batch_size must be num_stages * discriminator_updates * "
       f"stage_batch_size = {mc.num_stages} * {mc.discriminator_updates} * "
       f"{mc.stage_batch_size} = {need} (each train step is one xICFG outer "
       f"iteration); got {config.train.batch_size}.")]
  rules += [(player in config.optimizer,
             f"config.optimizer.{player} is missing: xICFG has one optimizer "
             "per player (optimizer.discriminator, optimizer.approximator).")
            for player in ("discriminator", "approximator")]
  for ok, message in rules:
    if not ok:
      raise ValueError(message)


def hyperparameters(mc) -> XICFG:
  """The `XICFG` of `config.model`."""
  return XICFG(
      latent_dim=mc.latent_dim, num_stages=mc.num_stages,
      discriminator_updates=mc.discriminator_updates,
      stage_batch_size=mc.stage_batch_size, pool_size=mc.pool_size,
      eta=mc.eta, step_scale=float(mc.step_scale),
      max_gradient_norm=float(mc.get("max_gradient_norm", 0.0)),
      approximator_epochs=mc.approximator_epochs,
      approximator_batch_size=mc.approximator_batch_size)


def build_networks(mc, data_shape: Sequence[int], toy: bool):
  """(approximator G~, discriminator D) for `config.model`: the project's
  MLP generator (output tanh for images, linear for toy data unless
  `output_activation` says) and MLP discriminator with one logit."""
  act = mc.get("activation", "leaky_relu")
  out_act = mc.get("output_activation", "linear" if toy else "tanh")
  return (MLPGenerator(tuple(data_shape), tuple(mc.approximator_hidden), act,
                       output_activation=out_act),
          MLPDiscriminator(tuple(mc.discriminator_hidden), 1, act))


def build_optimizers(config, spec: XICFG):
  """(discriminator tx, approximator tx); schedules count their own updates
  (T·U resp. epochs·⌊P / batch⌋ per train step)."""
  n = config.train.num_steps
  return (make_optimizer(config.optimizer.discriminator,
                         n * spec.num_stages * spec.discriminator_updates),
          make_optimizer(config.optimizer.approximator,
                         n * spec.approximator_epochs * spec.fit_batches))


def protocol(spec: XICFG, preprocessing: Preprocessing | None) -> dict:
  """How the metrics were computed (final_metrics.json)."""
  return {"model": "cfg",
          "algorithm": "xICFG (Johnson and Zhang 2018, Algorithm 3); one "
                       "train step = one outer iteration",
          "num_stages": spec.num_stages,
          "discriminator_updates": spec.discriminator_updates,
          "stage_batch_size": spec.stage_batch_size,
          "pool_size": spec.pool_size, "eta": spec.eta,
          "step_scale": spec.step_scale,
          "max_gradient_norm": spec.max_gradient_norm,
          "approximator_epochs": spec.approximator_epochs,
          "generator": "approximator then T functional-gradient steps",
          "preprocessing": ("toy points" if preprocessing is None
                            else preprocessing.description),
          "evaluate": "per example: D(real), D(G(z)) logits, logistic loss "
                      "(nats), 1/2||G~(z) - G(z)||^2"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CFG(base.Model):
  """The model interface (models/base.py) plus xICFG's own members, bound
  module-level functions (x in model space: [-1, 1] images or toy points):

    spec: the `XICFG` hyperparameters.
    discriminator(d_params, x) -> [N]; approximator(g_params, z) -> x.
    generate(gen_params, z) -> G(z): G~ then the T stored functional steps.
    icfg(d_params, d_opt_state, x_pool, real, rng) -> (d_params, d_opt_state,
      x_pool_T, stage_discriminators [T, ...], metrics): Algorithm 2 on a
      pool, real [T, U, b, ...].
    fit_approximator(g_params, g_opt_state, z_pool, targets, rng) ->
      (g_params, g_opt_state, metrics): Algorithm 3 line 8.
    interpolate(params, z_a, z_b, steps) -> G on the segment [steps, ...].

  They check their inputs at trace time (`gdm_jax.checks`): x must be
  floating [N, *dataset_info['shape']], z floating [N, latent_dim], batches
  [B, *shape] ('image' numeric, 'x' numeric) with B = the train batch size
  in train_step, n and steps positive ints; else ValueError naming e.g.
  "cfg.critic".
  """
  spec: XICFG
  preprocessing: Preprocessing | None
  discriminator: Callable
  approximator: Callable
  generate: Callable
  icfg: Callable
  fit_approximator: Callable
  interpolate: Callable


def make(config, dataset_info: dict) -> CFG:
  """Builds xICFG's model from `config` (see module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer,
      .train.batch_size/.num_steps).
    dataset_info: {'shape': ..., 'kind': 'toy' for toy data, ...}.

  Raises:
    ValueError: an invalid config value (the message names the field), or
      binarised image data (xICFG needs continuous inputs).
  """
  validate_config(config)
  toy = dataset_info.get("kind") == "toy"
  shape = tuple(dataset_info["shape"])
  pre = None if toy else make_preprocessing(
      config.data.get("binarization", "none"),
      config.data.get("dequantization", "none"),
      config.data.get("value_range", "-1_1"))
  if pre is not None and pre.binary:
    raise ValueError("xICFG moves points along ∇D, so it needs continuous "
                     "data: set data.binarization='none'.")
  spec = hyperparameters(config.model)
  g_net, d_net = build_networks(config.model, shape, toy)
  d_tx, g_tx = build_optimizers(config, spec)
  inputs = functools.partial(gan.model_inputs, preprocessing=pre,
                             data_shape=shape, toy_dtype="numeric")
  to_data = functools.partial(gan.to_data_space, preprocessing=pre)
  sample_fn = functools.partial(sample, g_net, d_net, spec=spec,
                                to_data=to_data)
  return CFG(
      **gan.bind_players(init, train_step, evaluate, (g_net, d_net),
                         (d_tx, g_tx), inputs=inputs, data_shape=shape,
                         spec=spec),
      sample=sample_fn,
      images=functools.partial(
          gan.image_grids, sample_fn, functools.partial(
              interpolation_grid, g_net, d_net, spec=spec, to_data=to_data),
          toy=toy),
      protocol=functools.partial(protocol, spec, pre),
      critic=functools.partial(critic, d_net, data_shape=shape),
      spec=spec, preprocessing=pre,
      discriminator=functools.partial(discriminator_logits, d_net,
                                      data_shape=shape),
      approximator=functools.partial(approximate, g_net,
                                     latent_dim=spec.latent_dim),
      generate=functools.partial(generate, g_net, d_net, spec=spec),
      icfg=functools.partial(icfg, d_net, d_tx, spec=spec),
      fit_approximator=functools.partial(fit_approximator, g_net, g_tx,
                                         spec=spec),
      interpolate=functools.partial(interpolate, g_net, d_net, spec=spec,
                                    to_data=to_data))

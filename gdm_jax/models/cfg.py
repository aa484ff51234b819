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

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import gan_losses
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.nn.gan_nets import MLPDiscriminator
from gdm_jax.nn.gan_nets import MLPGenerator
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState

Critic = Callable[[jax.Array], jax.Array]


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
      Σ_n D(x_n) is ∇D(x_n) in row n.
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

  def total(y):
    out = d_fn(y)
    if checks.shape_of(out) not in ((x.shape[0],), (x.shape[0], 1)):
      raise ValueError(f"cfg.functional_gradient: `d_fn` must map [N, ...] "
                       f"to logits [N] (N = {x.shape[0]}); got shape "
                       f"{checks.shape_of(out)}.")
    return jnp.sum(out)

  g = scale * jax.grad(total)(x)
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
  checks.check_array(fn, name, x, min_rank=1, layout="[N, ...]")


# ------------------------------------------------------------- the model ----


class CFG(NamedTuple):
  """The model interface (models/base.py) plus xICFG's own pure functions.

  Extra functions (x in model space: [-1, 1] images or toy points):
    critic(params, x) -> [N]: the latest discriminator's logit D(x).
    discriminator(d_params, x) -> [N]; approximator(g_params, z) -> x.
    generate(gen_params, z) -> G(z): G~ then the T stored functional steps.
    icfg(d_params, d_opt_state, x_pool, real, rng) -> (d_params, d_opt_state,
      x_pool_T, stage_discriminators [T, ...], metrics): Algorithm 2 on a
      pool, real [T, U, b, ...].
    fit_approximator(g_params, g_opt_state, z_pool, targets, rng) ->
      (g_params, g_opt_state, metrics): Algorithm 3 line 8.
    interpolate(params, z_a, z_b, steps) -> G on the segment [steps, ...].

  The functions check their inputs at trace time (`gdm_jax.checks`): x must
  be floating [N, *dataset_info['shape']], z floating [N, latent_dim],
  batches [B, *shape] ('image' numeric, 'x' numeric) with B = the train
  batch size in train_step, n and steps positive ints; else ValueError
  naming e.g. "cfg.critic".
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  critic: Callable
  preprocessing: Preprocessing | None
  discriminator: Callable
  approximator: Callable
  generate: Callable
  icfg: Callable
  fit_approximator: Callable
  interpolate: Callable


def validate_config(config) -> None:
  """Raises ValueError naming the field for any invalid xICFG setting."""
  mc = config.model

  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  for field in ("latent_dim", "num_stages", "discriminator_updates",
                "stage_batch_size", "pool_size", "approximator_epochs",
                "approximator_batch_size"):
    value = mc[field]
    check(isinstance(value, int) and value >= 1,
          f"model.{field} must be an integer >= 1; got {value!r}.")
  check(mc.eta >= 0, f"model.eta must be >= 0; got {mc.eta}.")
  check(mc.step_scale > 0, f"model.step_scale must be > 0; got {mc.step_scale}.")
  check(mc.get("max_gradient_norm", 0.0) >= 0, "model.max_gradient_norm must "
        f"be >= 0 (0 = no cap); got {mc.get('max_gradient_norm')}.")
  check(mc.approximator_batch_size <= mc.pool_size,
        f"model.approximator_batch_size ({mc.approximator_batch_size}) must "
        f"be <= model.pool_size ({mc.pool_size}).")
  check(mc.get("output_activation", "tanh") in ("tanh", "linear"),
        "model.output_activation must be 'tanh' or 'linear'; got "
        f"'{mc.get('output_activation')}'.")
  need = mc.num_stages * mc.discriminator_updates * mc.stage_batch_size
  check(config.train.batch_size == need,
        f"train.batch_size must be num_stages * discriminator_updates * "
        f"stage_batch_size = {mc.num_stages} * {mc.discriminator_updates} * "
        f"{mc.stage_batch_size} = {need} (each train step is one xICFG outer "
        f"iteration); got {config.train.batch_size}.")
  for player in ("discriminator", "approximator"):
    check(player in config.optimizer,
          f"config.optimizer.{player} is missing: xICFG has one optimizer "
          "per player (optimizer.discriminator, optimizer.approximator).")


def make(config, dataset_info: dict) -> CFG:
  """Builds xICFG's functions from `config` (see module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer,
      .train.batch_size/.num_steps).
    dataset_info: {'shape': ..., 'kind': 'toy' for toy data, ...}.

  Raises:
    ValueError: an invalid config value (the message names the field), or
      binarised image data (xICFG needs continuous inputs).
  """
  validate_config(config)
  mc = config.model
  toy = dataset_info.get("kind") == "toy"
  shape = tuple(dataset_info["shape"])
  if toy:
    pre = None
  else:
    pre = make_preprocessing(config.data.get("binarization", "none"),
                             config.data.get("dequantization", "none"),
                             config.data.get("value_range", "-1_1"))
    if pre.binary:
      raise ValueError("xICFG moves points along ∇D, so it needs continuous "
                       "data: set data.binarization='none'.")
  out_act = mc.get("output_activation", "linear" if toy else "tanh")
  t_stages, u_updates = mc.num_stages, mc.discriminator_updates
  b, pool = mc.stage_batch_size, mc.pool_size
  fit_b = mc.approximator_batch_size
  fit_batches = pool // fit_b
  scale = float(mc.step_scale)
  max_norm = float(mc.get("max_gradient_norm", 0.0))
  act = mc.get("activation", "leaky_relu")
  gen_net = MLPGenerator(shape, tuple(mc.approximator_hidden), act,
                         output_activation=out_act)
  disc_net = MLPDiscriminator(tuple(mc.discriminator_hidden), 1, act)
  num_steps = config.train.num_steps
  d_tx = make_optimizer(config.optimizer.discriminator,
                        num_steps * t_stages * u_updates)
  g_tx = make_optimizer(config.optimizer.approximator,
                        num_steps * mc.approximator_epochs * fit_batches)

  data_key = "x" if toy else "image"

  def check_x(fn, x, name="x"):
    checks.check_example_batch(f"cfg.{fn}", name, x, shape)

  def check_z(fn, z):
    checks.check_array(f"cfg.{fn}", "z", z, shape=(None, mc.latent_dim),
                       layout="[N, latent_dim]")

  def check_batch(fn, batch):
    checks.check_batch(f"cfg.{fn}", batch, data_key, shape, "numeric")

  def discriminator(d_params, x):
    check_x("discriminator", x)
    return disc_net.apply(d_params, x, train=False)[:, 0]

  def approximator(g_params, z):
    check_z("approximator", z)
    return gen_net.apply(g_params, z, train=False)

  def critic(params, x):
    check_x("critic", x)
    return discriminator(params["discriminator"], x)

  def generate(gen_params, z):
    check_z("generate", z)
    x = approximator(gen_params["base"], z)

    def stage(x, inputs):
      d_params, eta = inputs
      return functional_step(lambda y: discriminator(d_params, y), x, eta,
                             scale, max_norm), None
    x, _ = jax.lax.scan(stage, x, (gen_params["stage_discriminators"],
                                   gen_params["step_sizes"]))
    return x

  def d_loss_fn(d_params, real, fake):
    """Algorithm 2 line 4: mean logistic loss, real +1 / generated -1."""
    l_real, l_fake = discriminator(d_params, real), discriminator(d_params, fake)
    loss = gan_losses.discriminator_loss(l_real, l_fake)
    return loss, (jnp.mean(l_real), jnp.mean(l_fake))

  def icfg(d_params, d_opt_state, x_pool, real, rng):
    """T stages of Algorithm 2 with q_z = uniform over the pool.

    Args:
      x_pool: G_0(S_z), [P, ...]; real: [T, U, b, ...]; rng: a key.

    Returns:
      (d_params, d_opt_state, G_T(S_z) [P, ...], stacked stage discriminators
      [T, ...], metrics {d_loss, d_real, d_fake: [T, U]; grad_norm: [T]}).
    """
    num_pool = x_pool.shape[0]

    def stage(carry, inputs):
      d_params, d_opt_state, x_pool = carry
      real_t, key = inputs

      def d_update(carry, inputs):
        d_params, d_opt_state = carry
        real_b, key = inputs
        fake = x_pool[jax.random.randint(key, (b,), 0, num_pool)]   # z ~ q_z
        (loss, (l_real, l_fake)), grads = jax.value_and_grad(
            d_loss_fn, has_aux=True)(d_params, real_b, fake)
        updates, d_opt_state = d_tx.update(grads, d_opt_state, d_params)
        d_params = optax.apply_updates(d_params, updates)
        return (d_params, d_opt_state), (loss, l_real, l_fake)

      (d_params, d_opt_state), (loss, l_real, l_fake) = jax.lax.scan(
          d_update, (d_params, d_opt_state),
          (real_t, jax.random.split(key, u_updates)))
      g = functional_gradient(lambda y: discriminator(d_params, y), x_pool,
                              scale, max_norm)
      x_pool = x_pool + mc.eta * g
      norm = jnp.mean(jnp.sqrt(jnp.sum(jnp.square(
          g.reshape(num_pool, -1)), axis=-1)))
      return (d_params, d_opt_state, x_pool), (
          d_params, {"d_loss": loss, "d_real": l_real, "d_fake": l_fake,
                     "grad_norm": norm})

    keys = jax.random.split(rng, real.shape[0])
    (d_params, d_opt_state, x_pool), (stages, metrics) = jax.lax.scan(
        stage, (d_params, d_opt_state, x_pool), (real, keys))
    return d_params, d_opt_state, x_pool, stages, metrics

  def fit_loss(g_params, z, target):
    return jnp.mean(fit_loss_per_example(approximator(g_params, z), target))

  def fit_approximator(g_params, g_opt_state, z_pool, targets, rng):
    """Algorithm 3 line 8 by minibatch updates over the pool.

    Args:
      z_pool: S_z [P, latent_dim]; targets: G(S_z) [P, ...]; rng: a key.

    Returns:
      (g_params, g_opt_state, {'fit_loss_before', 'fit_loss_after'}: the
      pool's mean 1/2 ||G~(z) - G(z)||² before and after, scalars).
    """
    before = fit_loss(g_params, z_pool, targets)

    def update(carry, idx):
      g_params, g_opt_state = carry
      grads = jax.grad(fit_loss)(g_params, z_pool[idx], targets[idx])
      updates, g_opt_state = g_tx.update(grads, g_opt_state, g_params)
      return (optax.apply_updates(g_params, updates), g_opt_state), None

    def epoch(carry, key):
      perm = jax.random.permutation(key, z_pool.shape[0])
      batches = perm[:fit_batches * fit_b].reshape(fit_batches, fit_b)
      return jax.lax.scan(update, carry, batches)[0], None

    (g_params, g_opt_state), _ = jax.lax.scan(
        epoch, (g_params, g_opt_state),
        jax.random.split(rng, mc.approximator_epochs))
    after = fit_loss(g_params, z_pool, targets)
    return g_params, g_opt_state, {"fit_loss_before": before,
                                   "fit_loss_after": after}

  def model_space(batch, rng):
    if toy:
      return batch["x"].astype(jnp.float32)
    return pre.apply(rng, batch["image"])

  def init(rng, batch):
    del batch
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    g_params = gen_net.init(g_rng, jnp.zeros((1, mc.latent_dim)), train=False)
    d_params = disc_net.init(d_rng, jnp.zeros((1,) + shape), train=False)
    stages = jax.tree.map(
        lambda p: jnp.broadcast_to(p, (t_stages,) + p.shape), d_params)
    params = {"discriminator": d_params, "approximator": g_params,
              "generator": {"base": g_params, "stage_discriminators": stages,
                            "step_sizes": jnp.zeros((t_stages,), jnp.float32)}}
    opt_state = {"discriminator": d_tx.init(d_params),
                 "approximator": g_tx.init(g_params)}
    return TrainState.create(state_rng, params, opt_state)

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    if batch[data_key].shape[0] != t_stages * u_updates * b:
      raise ValueError(f"cfg.train_step: `batch['{data_key}']` must hold "
                       f"num_stages * discriminator_updates * "
                       f"stage_batch_size = {t_stages * u_updates * b} "
                       f"examples; got shape {batch[data_key].shape}.")
    pool_rng, pre_rng, d_rng, fit_rng = jax.random.split(rng, 4)
    real = model_space(batch, pre_rng)
    real = real.reshape((t_stages, u_updates, b) + real.shape[1:])
    params, opt_state = state.params, state.opt_state
    g_params = params["approximator"]
    z_pool = jax.random.normal(pool_rng, (pool, mc.latent_dim))     # S_z
    x_pool = approximator(g_params, z_pool)                           # G_0(S_z)
    d_params, d_opt_state, targets, stages, m = icfg(
        params["discriminator"], opt_state["discriminator"], x_pool, real,
        d_rng)
    new_g, g_opt_state, fit = fit_approximator(
        g_params, opt_state["approximator"], z_pool, targets, fit_rng)
    generator = {"base": g_params, "stage_discriminators": stages,
                 "step_sizes": jnp.full((t_stages,), mc.eta, jnp.float32)}
    state = state.replace(
        step=state.step + 1,
        params={"discriminator": d_params, "approximator": new_g,
                "generator": generator},
        opt_state={"discriminator": d_opt_state, "approximator": g_opt_state})
    metrics = {"d_loss": jnp.mean(m["d_loss"]),
               "d_loss_last_stage": jnp.mean(m["d_loss"][-1]),
               "d_real": jnp.mean(m["d_real"]), "d_fake": jnp.mean(m["d_fake"]),
               "grad_norm": jnp.mean(m["grad_norm"]),
               "pool_displacement": jnp.mean(fit_loss_per_example(
                   x_pool, targets)),
               **fit}
    return state, metrics

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    pre_rng, z_rng = jax.random.split(rng)
    x = model_space(batch, pre_rng)
    z = jax.random.normal(z_rng, (x.shape[0], mc.latent_dim))
    fake = generate(params["generator"], z)
    l_real, l_fake = critic(params, x), critic(params, fake)
    return {"d_real": l_real, "d_fake": l_fake,
            "d_loss": gan_losses.discriminator_loss_per_example(l_real, l_fake),
            "approximator_error": fit_loss_per_example(
                approximator(params["approximator"], z), fake)}

  def to_output(x):
    return x if toy else pre.to_unit(x)

  def sample(params, rng, n):
    checks.check_positive_int("cfg.sample", "n", n)
    z = jax.random.normal(rng, (n, mc.latent_dim))
    return to_output(generate(params["generator"], z))

  def interpolate(params, z_a, z_b, steps=10):
    """G on the segment from z_a to z_b [latent_dim]: [steps, ...] (output
    space: [0, 1] images or toy points)."""
    checks.check_positive_int("cfg.interpolate", "steps", steps)
    for name, z in (("z_a", z_a), ("z_b", z_b)):
      checks.check_array("cfg.interpolate", name, z, shape=(mc.latent_dim,),
                         layout="[latent_dim]")
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    return to_output(generate(params["generator"], (1 - t) * z_a + t * z_b))

  def images(params, batch, rng):
    """{'samples' [64, H, W, C], 'interpolations' [40, ...]} in [0, 1];
    {} on toy data (the trainer draws scatter plots itself)."""
    del batch
    if toy:
      return {}
    s_rng, i_rng = jax.random.split(rng)
    z = jax.random.normal(i_rng, (8, mc.latent_dim))
    return {"samples": sample(params, s_rng, 64),
            "interpolations": jnp.concatenate(
                [interpolate(params, z[2 * i], z[2 * i + 1]) for i in range(4)])}

  def protocol():
    return {"model": "cfg",
            "algorithm": "xICFG (Johnson and Zhang 2018, Algorithm 3); one "
                         "train step = one outer iteration",
            "num_stages": t_stages, "discriminator_updates": u_updates,
            "stage_batch_size": b, "pool_size": pool, "eta": mc.eta,
            "step_scale": scale, "max_gradient_norm": max_norm,
            "approximator_epochs": mc.approximator_epochs,
            "generator": "approximator then T functional-gradient steps",
            "preprocessing": "toy points" if toy else pre.description,
            "evaluate": "per example: D(real), D(G(z)) logits, logistic loss "
                        "(nats), 1/2||G~(z) - G(z)||^2"}

  return CFG(init, train_step, evaluate, evaluate, sample, protocol, images,
             critic, pre, discriminator, approximator, generate, icfg,
             fit_approximator, interpolate)

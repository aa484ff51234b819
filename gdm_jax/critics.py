r"""Critics trained to convergence, and the optima they should reach.

A critic f (WGAN) or discriminator D = σ(l) (GAN) trained from scratch on
fresh samples of two distributions, as used to measure a divergence:

  critic_loss        the loss of one critic objective (`OBJECTIVES`) on a
                     (real, fake) pair, from gdm_jax.gan_losses;
  train_critic       minimises any loss_fn(params, *sample_fn(key)) with an
                     optax chain, one `core.steps.gradient_update` per step
                     key, all steps one `lax.scan` (pure: jit and vmap it
                     over keys or over what the samplers close over);
  step_keys          the step keys fold_in(rng, t), t < T;
  build_critic, default_config, fit_critic
                     an MLP critic, its optax chain and loss from a critic
                     config block, and a whole training run from one.

What a critic converges to:

  optimal_discriminator_logit   l* = log p_data - log p_model (Goodfellow
                                et al. 2014, Proposition 1);
  optimal_critic_1d             the 1-D Kantorovich potential f*' =
                                sign(F_fake - F_real), E_real f* - E_fake f*
                                = W1 (Villani 2008, Remark 6.5);
  gp_critic_value               W1 + W1²/(2λ): where the gradient penalty's
                                critic settles (the penalty is soft);
  empirical_lipschitz, spectral_lipschitz_bound
                                a trained critic's Lipschitz constant from
                                below (max ||∇f|| on a grid) and above
                                (product of the layers' spectral norms).

A critic config block (ml_collections.ConfigDict; `default_config` builds
one) has the fields
  objective      one of OBJECTIVES
  hidden         hidden widths of the MLP, e.g. (64, 64); the output is 1-D
  activation     'relu' | 'leaky_relu' | 'tanh' | 'elu' (gdm_jax.nn.gan_nets)
  optimizer      a `gdm_jax.core.optimizers.make_optimizer` node
  num_steps      critic updates
  batch_size     samples of each distribution per update
  clip           box half-width c of 'wasserstein_clip'
  gp_weight      λ of 'wasserstein_gp' (10 in Gulrajani et al. 2017)
  gp_one_sided   penalise only gradient norms above 1 (Petzka et al. 2018)

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS (eq. 1,
    Proposition 1, Theorem 1).
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML (eq. 3,
    Algorithm 1: weight clipping).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (eq. 3, Algorithm 1: gradient penalty).
  Petzka, Fischer and Lukovnikov 2018, "On the regularization of Wasserstein
    GANs", ICLR (the one-sided penalty).
  Villani 2008, "Optimal Transport: Old and New", Theorem 5.10, Remark 6.5.
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gdm_jax import gan_losses
from gdm_jax import nn as gnn
from gdm_jax.core import optimizers
from gdm_jax.core import steps
from gdm_jax.core import transforms
from gdm_jax.nn import gan_nets

OBJECTIVES = ("wasserstein_clip", "wasserstein_gp", "logistic")
ApplyFn = Callable[[Any, jax.Array], jax.Array]     # (params, x [B, D]) -> [B]
Sampler = Callable[[jax.Array, int], jax.Array]     # (key, n) -> [n, D]


# ----------------------------------------------------------- training ----


def critic_loss(params, real: jax.Array, fake: jax.Array,
                rng: jax.Array | None = None, *, apply_fn: ApplyFn,
                objective: str, gp_weight: float = 10.0,
                gp_one_sided: bool = False) -> jax.Array:
  """The critic's loss on a (real, fake) pair, to be minimised; scalar.

  With f = apply_fn(params, ·):
    wasserstein_clip: E_fake f - E_real f (`gan_losses.wasserstein_critic_
      loss`; the Lipschitz constraint is the optimizer's weight clipping,
      Arjovsky et al. 2017, Algorithm 1);
    wasserstein_gp: mean over the batch of f(fake) - f(real) + λ (||∇f(x̂)||
      - 1)², x̂ on the segments between real and fake points (Gulrajani et
      al. 2017, eq. 3), or λ max(0, ||∇f(x̂)|| - 1)² with `gp_one_sided`
      (Petzka et al. 2018);
    logistic: E_real[-log D] + E_fake[-log(1 - D)] with D = σ(f) (Goodfellow
      et al. 2014, eq. 1; `gan_losses.discriminator_loss`), log 4 - 2 JSD
      at the optimum, in nats.

  Args:
    params: the critic's parameters.
    real, fake: [B, ...] samples (equal shapes for wasserstein_gp).
    rng: the key of the penalty's interpolation (wasserstein_gp only).
    apply_fn: (params, x [B, ...]) -> [B], f(x) or the logit of D(x).
    objective: one of OBJECTIVES.
    gp_weight: λ of wasserstein_gp.
    gp_one_sided: the one-sided penalty.

  Returns:
    scalar loss.

  Raises:
    ValueError: an unknown objective, or wasserstein_gp without `rng`.
  """
  if objective not in OBJECTIVES:
    raise ValueError(f"critics.critic_loss: objective must be one of "
                     f"{OBJECTIVES}; got '{objective}'.")
  f = lambda x: apply_fn(params, x)
  if objective == "wasserstein_clip":
    return gan_losses.wasserstein_critic_loss(f(real), f(fake))
  if objective == "logistic":
    return gan_losses.discriminator_loss(f(real), f(fake))
  if rng is None:
    raise ValueError("critics.critic_loss: 'wasserstein_gp' needs `rng` for "
                     "the penalty's interpolation.")
  per_example = (gan_losses.wasserstein_critic_loss_per_example(f(real),
                                                                f(fake))
                 + gp_weight * gan_losses.gradient_penalty(
                     f, real, fake, rng, one_sided=gp_one_sided))   # [B]
  return jnp.mean(per_example)


class CriticFit(NamedTuple):
  """The result of `train_critic`."""
  params: Any
  opt_state: Any
  losses: jax.Array        # [T] the loss before each update
  grad_norms: jax.Array    # [T] global L2 norm of each step's gradient


def step_keys(rng: jax.Array, num_steps: int) -> jax.Array:
  """The keys fold_in(rng, t) of steps t = 0 .. num_steps - 1, [T] keys."""
  return jax.vmap(lambda t: jax.random.fold_in(rng, t))(
      jnp.arange(num_steps))


def train_critic(loss_fn: Callable[..., jax.Array],
                 tx: optax.GradientTransformation, params,
                 sample_fn: Callable[[jax.Array], tuple], keys: jax.Array,
                 *, opt_state=None) -> CriticFit:
  """Minimises `loss_fn` with `tx`, one update per step key.

    for key in keys:                                     # one lax.scan
      params <- gradient_update(loss_fn, tx, params, opt_state,
                                *sample_fn(key))

  `sample_fn` draws the step's inputs (fresh samples of both distributions,
  the penalty's key ...) from the step's key, so the run is a pure function
  of (params, keys): jit it, and vmap it over keys or over the parameters
  the samplers close over. A deterministic loss takes `lambda _: ()`: the
  loop then is plain optax minimisation of any differentiable function.

  Args:
    loss_fn: (params, *inputs) -> scalar, e.g. a `functools.partial` of
      `critic_loss`.
    tx: the optax chain (ending in `core.transforms.clip_params` for WGAN
      weight clipping).
    params: the initial parameters.
    sample_fn: key -> tuple of loss_fn's other inputs.
    keys: [T] step keys (e.g. `step_keys(rng, T)`, or `jax.random.split`),
      or any array with a leading step axis T that sample_fn reads (e.g.
      `jnp.arange(T)` for a deterministic loss).
    opt_state: the optimizer state to continue from (default tx.init).

  Returns:
    CriticFit(params, opt_state, losses [T], grad_norms [T]).
  """
  if opt_state is None:
    opt_state = tx.init(params)
  with_aux = lambda p, *inputs: (loss_fn(p, *inputs), {})

  def step(carry, key):
    u = steps.gradient_update(with_aux, tx, *carry, *sample_fn(key))
    return (u.params, u.opt_state), (u.loss, u.grad_norm)

  (params, opt_state), (losses, norms) = jax.lax.scan(
      step, (params, opt_state), keys)
  return CriticFit(params, opt_state, losses, norms)


# ---------------------------------------------------- from a config ----


def default_config(objective: str, hidden=(64, 64), activation: str = "relu",
                   learning_rate: float = 1e-3, optimizer: str = "adam",
                   num_steps: int = 2000, batch_size: int = 256,
                   clip: float = 0.01, gp_weight: float = 10.0,
                   gp_one_sided: bool = False) -> ml_collections.ConfigDict:
  """A critic config block (fields in the module docstring); Adam gets
  Gulrajani et al. 2017's β = (0.5, 0.9)."""
  c = ml_collections.ConfigDict()
  c.objective = objective
  c.hidden = tuple(hidden)
  c.activation = activation
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = optimizer
  c.optimizer.learning_rate = learning_rate
  c.optimizer.schedule = "constant"
  if optimizer == "adam":
    c.optimizer.b1, c.optimizer.b2 = 0.5, 0.9
  c.num_steps = num_steps
  c.batch_size = batch_size
  c.clip = clip
  c.gp_weight = gp_weight
  c.gp_one_sided = gp_one_sided
  return c


class Critic(NamedTuple):
  """A critic network and its training rule (`build_critic`).

  Attributes:
    apply: (params, x [B, D]) -> [B]: f(x), or the logit of D(x).
    init: (key, dim) -> params.
    tx: the optax chain (ends in `clip_params` for weight clipping).
    loss: (params, real [B, D], fake [B, D], key) -> scalar (`critic_loss`).
  """
  apply: ApplyFn
  init: Callable[[jax.Array, int], Any]
  tx: optax.GradientTransformation
  loss: Callable[..., jax.Array]


def build_critic(config) -> Critic:
  """The MLP critic, optax chain and loss of a critic config block.

  Raises:
    ValueError: an unknown objective, or clip / gp_weight <= 0 where used.
  """
  if config.objective not in OBJECTIVES:
    raise ValueError(f"critic objective must be one of {OBJECTIVES}; got "
                     f"'{config.objective}'.")
  net = gnn.MLP(features=tuple(config.hidden) + (1,),
                activation=gan_nets.activation_fn(config.activation))
  apply = lambda params, x: net.apply(params, x)[:, 0]
  init = lambda rng, dim: net.init(rng, jnp.zeros((1, dim), jnp.float32))
  tx = optimizers.make_optimizer(config.optimizer, config.num_steps)
  if config.objective == "wasserstein_clip":
    if not config.clip > 0:
      raise ValueError(f"clip must be > 0; got {config.clip}.")
    tx = optax.chain(tx, transforms.clip_params(config.clip))
  if config.objective == "wasserstein_gp" and not config.gp_weight > 0:
    raise ValueError(f"gp_weight must be > 0; got {config.gp_weight}.")
  loss = functools.partial(critic_loss, apply_fn=apply,
                           objective=config.objective,
                           gp_weight=config.gp_weight,
                           gp_one_sided=config.gp_one_sided)
  return Critic(apply, init, tx, loss)


def fit_critic(config, sample_real: Sampler, sample_fake: Sampler,
               rng: jax.Array, dim: int) -> tuple[Any, jax.Array]:
  """Trains the critic of `config` from scratch on fresh samples.

  init_key, train_key = split(rng); step t draws `batch_size` points of
  each distribution and the penalty's key from split(fold_in(train_key, t),
  3) and takes one update (`train_critic`). Pure: jit and vmap it.

  Args:
    config: a critic config block.
    sample_real: (key, n) -> [n, dim], samples of the "real" distribution.
    sample_fake: (key, n) -> [n, dim], samples of the "fake" one.
    rng: PRNG key.
    dim: D.

  Returns:
    (params, losses [num_steps]).
  """
  critic = build_critic(config)
  init_rng, train_rng = jax.random.split(rng)
  n = config.batch_size

  def sample(key):
    k_real, k_fake, k_loss = jax.random.split(key, 3)
    return sample_real(k_real, n), sample_fake(k_fake, n), k_loss

  fit = train_critic(critic.loss, critic.tx, critic.init(init_rng, dim),
                     sample, step_keys(train_rng, config.num_steps))
  return fit.params, fit.losses


# ---------------------------------------------------------- optima ----


def optimal_discriminator_logit(log_p_data: jax.Array,
                                log_p_model: jax.Array) -> jax.Array:
  """logit D*(x) = log p_data(x) - log p_model(x), elementwise (nats).

  D* = p_data / (p_data + p_model) maximises the GAN value for a fixed
  generator (Goodfellow et al. 2014, Proposition 1).
  """
  return log_p_data - log_p_model


def optimal_critic_1d(x, cdf_real, cdf_fake) -> np.ndarray:
  """The optimal 1-D WGAN critic f*(x) = ∫_{x_0}^x sign(F_fake - F_real) dt.

  By parts E_real f - E_fake f = ∫ f'(x) (F_fake - F_real) dx, maximised
  under |f'| <= 1 by f*' = sign(F_fake - F_real), with value
  ∫ |F_fake - F_real| = W1 (Kantorovich-Rubinstein in 1-D). Integrated by
  the cumulative trapezoid rule on the grid; f*(x_0) = 0.

  Args:
    x: [N] increasing grid.
    cdf_real, cdf_fake: [N] the two CDFs on the grid.

  Returns:
    float64 [N].
  """
  x = np.asarray(x, np.float64)
  s = np.sign(np.asarray(cdf_fake, np.float64)
              - np.asarray(cdf_real, np.float64))
  return np.concatenate([[0.0], np.cumsum(0.5 * (s[1:] + s[:-1])
                                          * np.diff(x))])


def gp_critic_value(w1, gp_weight: float) -> np.ndarray:
  """E_real f - E_fake f at the gradient-penalty critic's optimum,
  W1 + W1²/(2λ).

  Where the optimal 1-Lipschitz critic f* has |∇f*| = 1 at every point the
  penalty samples (true in 1-D, f*' = ±1, and for parallel segments), the
  critics s·f* have loss -s W1 + λ (s - 1)² (two-sided penalty; the same for
  s > 1 with the one-sided one), minimised at s = 1 + W1/(2λ): the soft
  penalty lets the critic overshoot W1 by W1²/(2λ) (0.05 at W1 = 1, 0.45
  at W1 = 3 for λ = 10).

  Args:
    w1: W1 (array or float); its absolute value is used.
    gp_weight: λ > 0.

  Returns:
    float64 array of w1's shape.
  """
  w1 = np.abs(np.asarray(w1, np.float64))
  return w1 + w1 ** 2 / (2.0 * gp_weight)


def input_gradients(apply_fn: ApplyFn, params, x: jax.Array) -> jax.Array:
  """∇_x f(x) per example, [B, D] -> [B, D] (f must treat examples
  independently: no batch norm)."""
  return jax.grad(lambda inputs: jnp.sum(apply_fn(params, inputs)))(x)


def empirical_lipschitz(apply_fn: ApplyFn, params, grid: jax.Array
                        ) -> jax.Array:
  """max_i ||∇_x f(x_i)||_2 over grid points [N, D], scalar.

  A lower bound on the critic's Lipschitz constant, equal to it for a
  piecewise-linear (ReLU) critic when every linear piece holds a grid point.
  """
  return jnp.max(gan_losses.gradient_norms(
      lambda x: apply_fn(params, x), grid))


def spectral_lipschitz_bound(params) -> jax.Array:
  """Π_l ||W_l||_2 over the Dense kernels, scalar.

  An upper bound on the Lipschitz constant of an MLP with 1-Lipschitz
  activations (ReLU, leaky ReLU, tanh).
  """
  kernels = [leaf for path, leaf in
             jax.tree_util.tree_leaves_with_path(params)
             if getattr(path[-1], "key", None) == "kernel"]
  out = jnp.asarray(1.0)
  for k in kernels:
    out = out * jnp.linalg.norm(k, ord=2)
  return out

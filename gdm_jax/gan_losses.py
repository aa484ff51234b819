"""Adversarial losses as pure functions of critic outputs, in nats (the
Wasserstein, hinge and Cramér losses in the critic's units).

Every loss is to be minimised by the player it names. Functions ending in
`_per_example` return one value per example (shape of the logits, e.g. [B]);
the unsuffixed versions return the scalar mean, reduced once and visibly.
Per-example losses of a (real, fake) pair need equal shapes; the mean versions
accept batches of different sizes. Critic outputs and samples must be
floating arrays; inputs are validated at trace time by the `checks.inputs`
table at the head of each function, and failures raise ValueError naming
the function and the argument.

Logistic (Goodfellow et al. 2014) losses take logits l = V(x), D = σ(l), and
are written with softplus so no probability is ever formed:
  -log D(x)       = softplus(-l)
  -log(1 - D(x))  = softplus(l)
which is exact and finite for |l| up to the float range (±100 included).

Why the generator has two losses (Goodfellow et al. 2014, section 3): early
in training D rejects samples confidently (l -> -inf). The minimax loss
log(1 - D) = -softplus(l) has d/dl = -σ(l) -> 0 there: the generator's
gradient vanishes. The non-saturating loss -log D = softplus(-l) has
d/dl = -σ(-l) -> -1: same fixed point, strong gradients.

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS.
  Arjovsky, Chintala and Bottou 2017, "Wasserstein GAN", ICML.
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (eq. 3, the gradient penalty).
  Petzka, Fischer and Lukovnikov 2018, "On the regularization of Wasserstein
    GANs", ICLR (one-sided penalty).
  Nowozin, Cseke and Tomioka 2016, "f-GAN", NeurIPS (section 3.2).
  Bellemare et al. 2017, "The Cramer Distance as a Solution to Biased
    Wasserstein Gradients", arXiv:1705.10743 (Algorithm 1, Cramér GAN).
  Lim and Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral
    Normalization for GANs", ICLR (hinge loss).
  Salimans et al. 2016, "Improved Techniques for Training GANs" (one-sided
    label smoothing).
"""

from typing import Callable

import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax import divergences

Critic = Callable[[jax.Array], jax.Array]

# The input tables: a (real, fake) pair of critic outputs, the same pair as
# per-example losses need it (one shape; the mean losses take unequal
# batches), a pair of samples [B, ...], and Cramér's three feature arrays.
_LOGITS = dict(real_logits="floating", fake_logits="floating")
_LOGIT_PAIR = dict(_LOGITS, same_shape=True)
_SAMPLES = dict(real="floating [B, ...]", fake="floating [B, ...]",
                same_shape=True)
_FEATURES = dict(h_real="floating [B, ..., k]", h_fake="floating [B, ..., k]",
                 h_fake2="floating [B, ..., k]", same_shape=True)


# ------------------------------------------------------------ logistic ------


@checks.inputs(**_LOGIT_PAIR)
def discriminator_loss_per_example(real_logits: jax.Array,
                                   fake_logits: jax.Array,
                                   real_label: float = 1.0) -> jax.Array:
  """Logistic discriminator loss for one (real, fake) pair per example.

  L_D = -[α log D(x) + (1 - α) log(1 - D(x))] - log(1 - D(G(z)))
      = α softplus(-l_real) + (1 - α) softplus(l_real) + softplus(l_fake),

  the negated objective of Goodfellow et al. 2014, eq. 1 (α = 1), or with
  one-sided label smoothing α < 1 (Salimans et al. 2016, section 3.4).

  Args:
    real_logits: D's logits on data, [B].
    fake_logits: D's logits on generated samples, [B].
    real_label: target α for real data, 1.0 = no smoothing (0.9 is usual).

  Returns:
    [B] float, nats, >= 0 for α = 1.

  Raises:
    ValueError: non-floating logits, or shapes that differ (the mean
      `discriminator_loss` takes unequal batches).
  """
  return _real_term(real_logits, real_label) + jax.nn.softplus(fake_logits)


def _real_term(real_logits, real_label):
  loss = jax.nn.softplus(-real_logits)
  if real_label != 1.0:
    loss = real_label * loss + (1.0 - real_label) * jax.nn.softplus(
        real_logits)
  return loss


@checks.inputs(**_LOGITS)
def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array,
                       real_label: float = 1.0) -> jax.Array:
  """Mean logistic discriminator loss; batches may differ in size.

  E_data[-log D(x)] + E_z[-log(1 - D(G(z)))], see
  `discriminator_loss_per_example`. At the optimum D* = p / (p + q) it equals
  log 4 - 2 JSD(P || Q) (Goodfellow et al. 2014, Theorem 1).

  Returns:
    scalar, nats.

  Raises:
    ValueError: non-floating logits.
  """
  return (jnp.mean(_real_term(real_logits, real_label))
          + jnp.mean(jax.nn.softplus(fake_logits)))


@checks.inputs(fake_logits="floating")
def generator_loss_minimax_per_example(fake_logits: jax.Array) -> jax.Array:
  """Minimax generator loss log(1 - D(G(z))) = -softplus(l), [B] -> [B].

  Saturates: d/dl = -σ(l) -> 0 as D(G(z)) -> 0 (see module docstring).
  Values are <= 0 (it is minimised towards -inf).
  """
  return -jax.nn.softplus(fake_logits)


def generator_loss_minimax(fake_logits: jax.Array) -> jax.Array:
  """Mean of `generator_loss_minimax_per_example`, scalar nats."""
  return jnp.mean(generator_loss_minimax_per_example(fake_logits))


@checks.inputs(fake_logits="floating")
def generator_loss_non_saturating_per_example(fake_logits: jax.Array
                                              ) -> jax.Array:
  """Non-saturating generator loss -log D(G(z)) = softplus(-l), [B] -> [B].

  d/dl = -σ(-l) -> -1 as D(G(z)) -> 0 (Goodfellow et al. 2014, section 3).
  """
  return jax.nn.softplus(-fake_logits)


def generator_loss_non_saturating(fake_logits: jax.Array) -> jax.Array:
  """Mean of `generator_loss_non_saturating_per_example`, scalar nats."""
  return jnp.mean(generator_loss_non_saturating_per_example(fake_logits))


# ------------------------------------------------------------ Wasserstein ---


@checks.inputs(real_scores="floating", fake_scores="floating",
               same_shape=True)
def wasserstein_critic_loss_per_example(real_scores: jax.Array,
                                        fake_scores: jax.Array) -> jax.Array:
  """WGAN critic loss f(G(z)) - f(x), [B], [B] -> [B].

  Minimising its mean maximises E_P[f] - E_Q[f], which for a 1-Lipschitz f
  is a lower bound on W_1(P, Q), tight at the optimum (Kantorovich-Rubinstein
  duality; Arjovsky et al. 2017, eq. 3). The Lipschitz constraint is not in
  this loss: add `gradient_penalty`, or clip weights with
  `gdm_jax.core.transforms.clip_params`, or use spectral normalisation.

  Raises:
    ValueError: non-floating scores, or shapes that differ.
  """
  return fake_scores - real_scores


@checks.inputs(real_scores="floating", fake_scores="floating")
def wasserstein_critic_loss(real_scores: jax.Array,
                            fake_scores: jax.Array) -> jax.Array:
  """E_Q[f] - E_P[f], scalar; -1 times the critic's W_1 estimate."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


@checks.inputs(fake_scores="floating")
def wasserstein_generator_loss_per_example(fake_scores: jax.Array
                                           ) -> jax.Array:
  """WGAN generator loss -f(G(z)), [B] -> [B] (Arjovsky et al. 2017, Alg. 1)."""
  return -fake_scores


@checks.inputs(fake_scores="floating")
def wasserstein_generator_loss(fake_scores: jax.Array) -> jax.Array:
  """Mean of `wasserstein_generator_loss_per_example`, scalar."""
  return -jnp.mean(fake_scores)


@checks.inputs(**_SAMPLES)
def interpolate(real: jax.Array, fake: jax.Array,
                rng: jax.Array) -> jax.Array:
  """Random points on the segments between pairs: x̂ = ε x + (1 - ε) x̃.

  ε ~ U[0, 1], one per example, broadcast over the non-batch axes
  (Gulrajani et al. 2017, Algorithm 1, line 6).

  Args:
    real, fake: [B, ...] arrays of one shape.
    rng: PRNG key for ε.

  Returns:
    [B, ...], real's dtype.

  Raises:
    ValueError: the shapes differ, or non-floating or rank-0 inputs.
  """
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1),
                           dtype=real.dtype)
  return eps * real + (1.0 - eps) * fake


def input_gradient(critic_fn: Critic, x: jax.Array, *,
                   fn: str = "gan_losses.input_gradient",
                   arg: str = "critic_fn") -> jax.Array:
  """∇_x Σ_i f(x_i): row i is ∇f(x_i), [B, ...] -> [B, ...] (x's shape).

  The gradient of the sum is the per-example gradient only when the critic
  treats examples independently: no batch norm (and no other cross-example
  layer); Gulrajani et al. 2017 (section 4) use layer norm or none for this
  reason. Shared by the gradient penalty (`gradient_norms`) and CFG's
  functional gradient (`models.cfg.functional_gradient`).

  Args:
    critic_fn: [B, ...] -> [B] or [B, 1], differentiable in x.
    x: [B, ...] floating inputs.
    fn, arg: the public function and argument name the errors name.

  Returns:
    [B, ...], x's shape and dtype.

  Raises:
    ValueError: non-floating or rank-0 x, or a critic output that is not
      [B] or [B, 1].
  """
  checks.check_arg(fn, "x", x, "floating [B, ...]")

  def total(inputs):
    out = critic_fn(inputs)
    if checks.shape_of(out) not in ((x.shape[0],), (x.shape[0], 1)):
      raise ValueError(f"{fn}: `{arg}` must map [B, ...] to [B] or [B, 1] "
                       f"(B = {x.shape[0]}); got shape "
                       f"{checks.shape_of(out)}.")
    return jnp.sum(out)

  return jax.grad(total)(x)


def _safe_sqrt(sq: jax.Array) -> jax.Array:
  """sqrt with gradient 0 (not NaN) where sq = 0."""
  positive = sq > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def gradient_norms(critic_fn: Critic, x: jax.Array) -> jax.Array:
  """||∇_x f(x_i)||_2 per example, over all non-batch axes: [B, ...] -> [B].

  Computed as the gradient of Σ_i f(x_i) (`input_gradient`), which is the
  per-example gradient only when the critic treats examples independently
  (no batch norm in the critic). The norm has gradient 0, not NaN, where the
  input gradient is exactly 0.

  Args:
    critic_fn: [B, ...] -> [B] or [B, 1] (e.g. a closure over parameters,
      `lambda x: model.apply(params, x)`); differentiable in x.
    x: [B, ...] inputs.

  Returns:
    [B] float.

  Raises:
    ValueError: non-floating or rank-0 x, or a critic output that is not
      [B] or [B, 1].
  """
  grads = input_gradient(critic_fn, x, fn="gan_losses.gradient_norms")
  return _safe_sqrt(jnp.sum(jnp.square(grads),
                            axis=tuple(range(1, grads.ndim))))


@checks.inputs(**_SAMPLES)
def gradient_penalty(critic_fn: Critic, real: jax.Array, fake: jax.Array,
                     rng: jax.Array, *, target: float = 1.0,
                     one_sided: bool = False) -> jax.Array:
  """WGAN-GP penalty per example (Gulrajani et al. 2017, eq. 3).

  x̂ = ε x + (1 - ε) x̃, ε ~ U[0, 1] per example;
  penalty = (||∇_x̂ f(x̂)||_2 - target)²          (two-sided, the paper's), or
  penalty = max(0, ||∇_x̂ f(x̂)||_2 - target)²    (one_sided; Petzka et al.
                                                  2018, "WGAN-LP").
  The norm is per example over ALL non-batch axes ([B, H, W, C] -> [B]).
  The critic loss is then mean(wasserstein_critic_loss_per_example +
  λ penalty) with λ = 10 in the paper. Differentiate it with respect to the
  critic's parameters (double backprop through `critic_fn` is built in);
  pass `fake` through `jax.lax.stop_gradient` if the same expression is
  also differentiated with respect to the generator.

  Args:
    critic_fn: [B, ...] -> [B] or [B, 1]; see `gradient_norms` for the
      requirement that examples be independent.
    real, fake: [B, ...] of one shape.
    rng: PRNG key for ε.
    target: the norm the penalty pulls towards (1 for a 1-Lipschitz critic).
    one_sided: penalise only norms above `target`.

  Returns:
    [B] float, >= 0.

  Raises:
    ValueError: real and fake shapes differ, non-floating or rank-0 inputs,
      or a critic output that is not [B] or [B, 1].
  """
  x_hat = interpolate(real, fake, rng)
  excess = gradient_norms(critic_fn, x_hat) - target
  if one_sided:
    excess = jnp.maximum(excess, 0.0)
  return jnp.square(excess)


# ------------------------------------------------------------ Cramér --------


@checks.inputs(h_x="floating [..., k]", h_ref="floating [..., k]")
def cramer_critic_per_example(h_x: jax.Array, h_ref: jax.Array) -> jax.Array:
  """Cramér GAN critic f(x) = ||h(x) - h(x'_g)||₂ - ||h(x)||₂, per example.

  h is the critic network's feature map X -> R^k and x'_g a generated
  sample (Bellemare et al. 2017, Algorithm 1, "f(x) = ..."). Norms have
  gradient 0, not NaN, at 0.

  Args:
    h_x: features h(x), [..., k].
    h_ref: h(x'_g), broadcastable against h_x ([..., k] or [k]).

  Returns:
    [...] float (h_x's leading axes).

  Raises:
    ValueError: non-floating or rank-0 features.
  """
  return (_safe_sqrt(jnp.sum(jnp.square(h_x - h_ref), axis=-1))
          - _safe_sqrt(jnp.sum(jnp.square(h_x), axis=-1)))


@checks.inputs(**_FEATURES)
def cramer_critic_loss_per_example(h_real: jax.Array, h_fake: jax.Array,
                                   h_fake2: jax.Array) -> jax.Array:
  """Cramér critic loss -(f(x_r) - f(x_g)), f's reference h(x'_g), [B, k] x 3
  -> [B] (Bellemare et al. 2017, Algorithm 1: the critic maximises the
  surrogate f(x_r) - f(x_g); the gradient penalty is added by the caller).

  Raises:
    ValueError: the shapes differ, or non-floating features.
  """
  return -(cramer_critic_per_example(h_real, h_fake2)
           - cramer_critic_per_example(h_fake, h_fake2))


@checks.inputs(**_FEATURES)
def cramer_generator_loss_per_example(h_real: jax.Array, h_fake: jax.Array,
                                      h_fake2: jax.Array) -> jax.Array:
  """Cramér generator loss, the energy-distance surrogate, [B, k] x 3 -> [B]:

    L_G = ||h(x_r) - h(x_g)|| + ||h(x_r) - h(x'_g)|| - ||h(x_g) - h(x'_g)||

  with x_g, x'_g independent generated samples (Bellemare et al. 2017,
  Algorithm 1). E[L_G] = E(P_h, Q_h) + E||h(x_r) - h(x'_r)||: the energy
  distance of the critic's features plus a term free of G.

  Raises:
    ValueError: the shapes differ, or non-floating features.
  """
  dist = lambda a, b: _safe_sqrt(jnp.sum(jnp.square(a - b), axis=-1))
  return (dist(h_real, h_fake) + dist(h_real, h_fake2)
          - dist(h_fake, h_fake2))


# ------------------------------------------------------------ hinge ---------


@checks.inputs(**_LOGIT_PAIR)
def hinge_discriminator_loss_per_example(real_logits: jax.Array,
                                         fake_logits: jax.Array
                                         ) -> jax.Array:
  """Hinge loss max(0, 1 - l_real) + max(0, 1 + l_fake), [B], [B] -> [B].

  The usual pairing with spectral normalisation (Miyato et al. 2018, eq. 16;
  Lim and Ye 2017). The generator then minimises -l_fake
  (`wasserstein_generator_loss`).

  Raises:
    ValueError: non-floating logits, or shapes that differ.
  """
  return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


@checks.inputs(**_LOGITS)
def hinge_discriminator_loss(real_logits: jax.Array,
                             fake_logits: jax.Array) -> jax.Array:
  """Mean hinge discriminator loss, scalar; batches may differ in size."""
  return (jnp.mean(jax.nn.relu(1.0 - real_logits))
          + jnp.mean(jax.nn.relu(1.0 + fake_logits)))


# ------------------------------------------------------------ f-GAN ---------


@checks.inputs(**_LOGITS)
def fgan_critic_loss(div: divergences.FDivergence, real_logits: jax.Array,
                     fake_logits: jax.Array) -> jax.Array:
  """Negated f-GAN bound -(E_P[g_f(V)] - E_Q[f*(g_f(V))]), scalar, nats.

  Minimising it maximises `divergences.variational_lower_bound`
  (Nowozin et al. 2016, eq. 6). For `divergences.GAN` it equals
  `discriminator_loss`.

  Raises:
    ValueError: div is not an FDivergence, or non-floating logits.
  """
  divergences.check_div("gan_losses.fgan_critic_loss", div)
  return -divergences.variational_lower_bound(div, real_logits, fake_logits)


@checks.inputs(fake_logits="floating")
def fgan_generator_loss_per_example(div: divergences.FDivergence,
                                    fake_logits: jax.Array,
                                    non_saturating: bool = True
                                    ) -> jax.Array:
  """f-GAN generator loss per example, [B] -> [B], nats.

  non_saturating=False: the saddle-point loss -f*(g_f(V(G(z)))): the
    generator minimises F, whose only term that depends on it is
    -E_Q[f*(g_f(V))].
  non_saturating=True: -g_f(V(G(z))), the alternative update of Nowozin et al.
    2016, section 3.2, which they found works better; for `divergences.GAN`
    it is `generator_loss_non_saturating`, and the saddle-point version is
    `generator_loss_minimax`.

  Raises:
    ValueError: div is not an FDivergence, or non-floating logits.
  """
  divergences.check_div("gan_losses.fgan_generator_loss_per_example", div)
  if non_saturating:
    return -div.output_activation(fake_logits)
  return -div.conjugate_of_activation(fake_logits)


def fgan_generator_loss(div: divergences.FDivergence, fake_logits: jax.Array,
                        non_saturating: bool = True) -> jax.Array:
  """Mean of `fgan_generator_loss_per_example`, scalar nats."""
  return jnp.mean(fgan_generator_loss_per_example(div, fake_logits,
                                                  non_saturating))


"""Wasserstein autoencoders: WAE-MMD and WAE-GAN (Tolstikhin et al. 2018).

Model: deterministic encoder z = Q(x) (MLP), deterministic decoder
G(z) = sigmoid mean on [0, 1] data (MLP), prior P_Z from `latent_priors`
(Gaussian N(0, σ_z² I) by default, σ_z = 1). The penalised optimal-transport
objective (eq. 4-5)

  D_WAE(P_X, P_G) = inf_Q E_{P_X} E_{Q(Z|X)}[c(X, G(Z))] + λ D_Z(Q_Z, P_Z),
  c(x, y) = ||x - y||²   (summed over pixels, §4),

is minimised on a minibatch x_1..x_n, codes ẑ_i = Q(x_i) and prior samples
z_1..z_n ~ P_Z, with D_Z one of (`config.model.penalty`):

  mmd  Algorithm 2 (WAE-MMD): encoder and decoder descend
         (1/n) Σ_i c(x_i, G(ẑ_i)) + λ MMD²_u(ẑ, z),
       MMD²_u the unbiased U-statistic (`divergences.mmd_unbiased`,
       Gretton et al. 2012 eq. 3) with the kernel `config.model.kernel`:
         imq  k(x, y) = Σ_s C_s / (C_s + ||x - y||²)   (§4),
         rbf  k(x, y) = Σ_s exp(-||x - y||² / C_s),
       C_s = 2 d_z σ_z² s over the scales s ∈ {0.1, 0.2, 0.5, 1, 2, 5, 10}
       (`model.kernel_scales`); σ_z² is the prior's per-coordinate variance
       (`LatentPrior.sigma2`), so the kernel follows the prior's scale.
  gan  Algorithm 1 (WAE-GAN), both updates in one compiled step: the latent
       discriminator D ascends
         (λ/n) Σ_i log D(z_i) + log(1 - D(ẑ_i)),
       then encoder and decoder descend, against the updated D,
         (1/n) Σ_i c(x_i, G(ẑ_i)) - λ log D(ẑ_i).

Defaults follow §4 on MNIST: λ = 10 (MMD), λ = 1 (GAN), d_z = 8, σ_z = 1.
(The authors' released code also scales the cost by 0.05, which multiplies
the effective λ by 20: `model.cost_scale`, default 1 = the paper's text.)

State: `state.params = {'encoder', 'decoder'}` (+ 'discriminator' for gan);
`state.opt_state = {'autoencoder'}` (+ 'discriminator'), built from
`config.optimizer.autoencoder` / `config.optimizer.discriminator`.

Metrics: reconstruction (mean cost c, squared-error units), penalty
(λ D_Z as trained: λ MMD²_u, or λ mean -log D(ẑ) for gan), mmd (MMD²_u of
the codes against the prior with the IMQ kernel above, for either penalty,
so WAE-MMD and WAE-GAN compare on one scale), loss; for gan also d_loss
(unscaled logistic loss), d_accuracy. `evaluate` gives the cost per example,
`squared_error` against the grey-level image (= reconstruction here), and
the batch-level mmd repeated per example.

References:
  Tolstikhin, Bousquet, Gelly and Schölkopf 2018, "Wasserstein
    Auto-Encoders", ICLR: eq. 4-5, Algorithms 1-2, §4 (cost, λ, kernel).
  Gretton, Borgwardt, Rasch, Schölkopf and Smola 2012, "A Kernel Two-Sample
    Test", JMLR, eq. 3 (unbiased MMD²).
"""

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import divergences
from gdm_jax import gan_losses
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import latent_priors
from gdm_jax.models.aae import Autoencoder
from gdm_jax.models.aae import check_data
from gdm_jax.models.aae import latent_discriminator
from gdm_jax.models.aae import latent_raster
from gdm_jax.models.aae import make_prior
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState

PENALTIES = ("mmd", "gan")
KERNELS = ("imq", "rbf")

Kernel = Callable[[jax.Array, jax.Array], jax.Array]


def make_kernel(name: str, sigma2: float,
                scales: Sequence[float] = divergences.WAE_IMQ_SCALES) -> Kernel:
  """The WAE-MMD kernel with C_s = 2 d σ_z² s (d = the codes' dimension).

  imq: Σ_s C_s / (C_s + ||x - y||²) (`divergences.imq_kernel`);
  rbf: Σ_s exp(-||x - y||² / C_s), i.e. `divergences.rbf_kernel` with
  bandwidths h_s = sqrt(C_s / 2) = sqrt(d σ_z² s) (for s = 1 the kernel of
  the authors' code, exp(-||x - y||² / (2 d σ_z²))).

  Args:
    name: 'imq' or 'rbf'.
    sigma2: σ_z², the prior's per-coordinate variance.
    scales: the multipliers s.

  Returns:
    kernel ([N, d], [M, d]) -> [N, M].

  Raises:
    ValueError: unknown name, sigma2 or a scale <= 0.
  """
  if name == "imq":
    return divergences.imq_kernel(sigma2, scales)
  if name != "rbf":
    raise ValueError(f"model.kernel must be one of {KERNELS}; got '{name}'.")
  scales = tuple(scales)
  if sigma2 <= 0 or not scales or min(scales) <= 0:
    raise ValueError(f"rbf kernel: sigma2 and scales must be > 0; got "
                     f"{sigma2}, {scales}.")

  def kernel(x, y):
    d = math.prod(x.shape[1:])
    return divergences.rbf_kernel([math.sqrt(d * sigma2 * s) for s in scales])(x, y)
  return kernel


def mmd_penalty(z_codes: jax.Array, z_prior: jax.Array,
                kernel: Kernel) -> jax.Array:
  """MMD²_u(Q_Z, P_Z) from codes [n, d] and prior samples [m, d]: scalar.

  The unbiased U-statistic (`divergences.mmd_unbiased`): its expectation
  is MMD² >= 0 (0 iff Q_Z = P_Z for a characteristic kernel), so it can be
  negative on a finite sample.
  """
  return divergences.mmd_unbiased(z_codes, z_prior, kernel)


class WAE(NamedTuple):
  """The model interface (models/base.py) plus the WAE's own functions.

  Extra pure functions (`params` = `state.params`; x preprocessed to
  [0, 1], float [B, H, W, C]):
    encode(params, x) -> ẑ [B, latent_dim]
    decode_mean(params, z) -> G(z) [N, H, W, C] in [0, 1]
    reconstruct(params, x) -> G(Q(x)) [B, H, W, C]
    cost(params, x) -> c(x, G(Q(x))) = ||x - G(Q(x))||² [B]
    mmd(z_codes, z_prior) -> MMD²_u with the configured kernel (scalar)
    critic(params, z) -> D's logit [N] (gan only)
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
  cost: Callable
  mmd: Callable
  critic: Callable | None
  sample_prior: Callable
  prior: latent_priors.LatentPrior
  kernel: Kernel
  preprocessing: Preprocessing
  net: Autoencoder
  discriminator_net: nn.Module | None


def validate_config(mc) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  check(mc.penalty in PENALTIES,
        f"model.penalty must be one of {PENALTIES}; got '{mc.penalty}'.")
  check(mc.kernel in KERNELS,
        f"model.kernel must be one of {KERNELS}; got '{mc.kernel}'.")
  check(mc.latent_dim >= 1, f"model.latent_dim must be >= 1; got {mc.latent_dim}.")
  check(mc.penalty_weight >= 0,
        f"model.penalty_weight (λ) must be >= 0; got {mc.penalty_weight}.")
  check(mc.get("cost_scale", 1.0) > 0,
        f"model.cost_scale must be > 0; got {mc.get('cost_scale')}.")
  hidden = tuple(mc.hidden)
  check(bool(hidden) and min(hidden) >= 1,
        f"model.hidden needs >= 1 layer of sizes >= 1; got {hidden}.")
  if mc.penalty == "gan":
    dh = tuple(mc.discriminator_hidden)
    check(bool(dh) and min(dh) >= 1, "model.discriminator_hidden needs >= 1 "
          f"layer of sizes >= 1; got {dh}.")


def make(config, dataset_info: dict) -> WAE:
  """Builds the WAE's functions from `config` (see module docstring).

  Args:
    config: the experiment ConfigDict (.model, .data, .optimizer.autoencoder,
      .optimizer.discriminator for gan, .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...}.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  validate_config(mc)
  prior = make_prior(mc)
  pre = check_data(config, "l2")
  shape = tuple(dataset_info["shape"])
  d = mc.latent_dim
  lam = float(mc.penalty_weight)
  cost_scale = float(mc.get("cost_scale", 1.0))
  gan = mc.penalty == "gan"
  scales = tuple(mc.get("kernel_scales", divergences.WAE_IMQ_SCALES))
  kernel = make_kernel(mc.kernel, prior.sigma2, scales)
  imq = make_kernel("imq", prior.sigma2)     # the reported `mmd` metric
  net = Autoencoder(shape, d, tuple(mc.hidden))
  disc = latent_discriminator(tuple(mc.discriminator_hidden)) if gan else None
  num_steps = config.train.num_steps
  tx_ae = make_optimizer(config.optimizer.autoencoder, num_steps)
  tx_d = make_optimizer(config.optimizer.discriminator, num_steps) if gan else None

  # Input checks at trace time (the batch fits the data set the model was
  # built for; codes are [B, d]).
  check_batch, check_x, check_z = checks.autoencoder_checks("wae", shape,
                                                            d)

  def encode(params, x):
    check_x("encode", x)
    return net.apply({"params": {"encoder": params["encoder"],
                                 "decoder": params["decoder"]}}, x,
                     method=Autoencoder.encode)

  def decode_mean(params, z):
    check_z("decode_mean", "z", z)
    return jax.nn.sigmoid(net.apply(
        {"params": {"encoder": params["encoder"], "decoder": params["decoder"]}},
        z, method=Autoencoder.decode))

  def reconstruct(params, x):
    check_x("reconstruct", x)
    return decode_mean(params, encode(params, x))

  def cost_given_codes(params, x, z):
    """c(x, G(z)) = ||x - G(z)||², summed over pixels: [B]."""
    check_x("cost_given_codes", x)
    check_z("cost_given_codes", "z", z)
    checks.check_same_batch("wae.cost_given_codes",
                            [("x", x), ("z", z)])
    return distributions.sum_except_batch(jnp.square(x - decode_mean(params, z)))

  def cost(params, x):
    check_x("cost", x)
    return cost_given_codes(params, x, encode(params, x))

  def mmd(z_codes, z_prior):
    check_z("mmd", "z_codes", z_codes)
    check_z("mmd", "z_prior", z_prior)
    return mmd_penalty(z_codes, z_prior, kernel)

  def critic(params, z):
    check_z("critic", "z", z)
    return disc.apply(params["discriminator"], z)[:, 0]

  # --------------------------------------------------------- train step ----

  def ae_loss(ae, d_vars, x, z_prior):
    z = encode(ae, x)
    c = jnp.mean(cost_given_codes(ae, x, z))
    if gan:
      l_q = disc.apply(d_vars, z)[:, 0]
      penalty = lam * jnp.mean(
          gan_losses.generator_loss_non_saturating_per_example(l_q))
    else:
      penalty = lam * mmd(z, z_prior)
    return cost_scale * c + penalty, (c, penalty, z)

  def d_loss_fn(d_vars, z_prior, z_codes):
    logits = disc.apply(d_vars, jnp.concatenate([z_prior, z_codes]))[:, 0]
    l_p, l_q = jnp.split(logits, 2)
    loss = jnp.mean(gan_losses.discriminator_loss_per_example(l_p, l_q))
    return lam * loss, (loss, l_p, l_q)

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    pre_rng, prior_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    params, opt = state.params, state.opt_state
    z_prior = prior.sample(prior_rng, x.shape[0])
    ae = {"encoder": params["encoder"], "decoder": params["decoder"]}
    metrics, new_params, new_opt = {}, {}, {}
    d_vars = None
    if gan:
      # Algorithm 1: D ascends λ[log D(z) + log(1 - D(ẑ))] (descends λ L_D).
      z_codes = jax.lax.stop_gradient(encode(ae, x))
      (_, (d_loss, l_p, l_q)), d_grads = jax.value_and_grad(
          d_loss_fn, has_aux=True)(params["discriminator"], z_prior, z_codes)
      updates, new_opt["discriminator"] = tx_d.update(
          d_grads, opt["discriminator"], params["discriminator"])
      d_vars = optax.apply_updates(params["discriminator"], updates)
      new_params["discriminator"] = d_vars
      metrics.update(
          d_loss=d_loss, d_grad_norm=optax.global_norm(d_grads),
          d_accuracy=0.5 * (jnp.mean((l_p > 0).astype(jnp.float32))
                            + jnp.mean((l_q < 0).astype(jnp.float32))))
    # Q and G descend c + λ D_Z (Algorithm 2), or c - λ log D(ẑ) (Alg. 1).
    (loss, (c, penalty, z)), grads = jax.value_and_grad(ae_loss, has_aux=True)(
        ae, d_vars, x, z_prior)
    updates, new_opt["autoencoder"] = tx_ae.update(grads, opt["autoencoder"], ae)
    ae = optax.apply_updates(ae, updates)
    new_params.update(ae)
    metrics.update(loss=loss, reconstruction=c, penalty=penalty,
                   mmd=mmd_penalty(jax.lax.stop_gradient(z), z_prior, imq),
                   grad_norm=optax.global_norm(grads))
    return state.replace(step=state.step + 1, params=new_params,
                         opt_state=new_opt), metrics

  def init(rng, batch):
    if batch is not None:
      check_batch("init", batch)
    del batch
    ae_rng, d_rng, state_rng = jax.random.split(rng, 3)
    ae_vars = net.init(ae_rng, jnp.zeros((1,) + shape, jnp.float32))["params"]
    params = {"encoder": ae_vars["encoder"], "decoder": ae_vars["decoder"]}
    opt_state = {"autoencoder": tx_ae.init(dict(params))}
    if gan:
      params["discriminator"] = disc.init(d_rng, jnp.zeros((1, d), jnp.float32))
      opt_state["discriminator"] = tx_d.init(params["discriminator"])
    return TrainState.create(state_rng, params, opt_state)

  # --------------------------------------------------------- evaluation ----

  def evaluate(params, batch, rng):
    """Per-example [B]: reconstruction = c(x, G(Q(x))) (x = pixel / 255 is
    also the grey-level image, so squared_error equals it), and the batch's
    MMD²_u of codes vs prior (IMQ) repeated per example; gan: d_loss and
    d_accuracy against B prior samples."""
    check_batch("evaluate", batch)
    pre_rng, prior_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"])
    grey = batch["image"].astype(jnp.float32) / 255.0
    z = encode(params, x)
    mean = decode_mean(params, z)
    z_prior = prior.sample(prior_rng, x.shape[0])
    b = x.shape[0]
    out = {"reconstruction": distributions.sum_except_batch(jnp.square(x - mean)),
           "squared_error": distributions.sum_except_batch(
               jnp.square(grey - mean)),
           "mmd": jnp.full((b,), mmd_penalty(z, z_prior, imq))}
    if gan:
      l_p, l_q = critic(params, z_prior), critic(params, z)
      out["d_loss"] = gan_losses.discriminator_loss_per_example(l_p, l_q)
      out["d_accuracy"] = 0.5 * ((l_p > 0).astype(jnp.float32)
                                 + (l_q < 0).astype(jnp.float32))
    return out

  def sample(params, rng, n):
    """G(z), z ~ P_Z: [n, H, W, C] in [0, 1]."""
    checks.check_positive_int("wae.sample", "n", n)
    return decode_mean(params, prior.sample(rng, n))

  def images(params, batch, rng):
    """{'samples': [64, ...], 'reconstructions': inputs then G(Q(x))}, and
    for latent_dim = 2 'latent' (codes over the prior, `aae.latent_raster`)."""
    check_batch("images", batch)
    pre_rng, s_rng = jax.random.split(rng)
    x = pre.apply(pre_rng, batch["image"][:32])
    out = {"samples": sample(params, s_rng, 64),
           "reconstructions": jnp.concatenate([x, reconstruct(params, x)])}
    if d == 2:
      labels = batch.get("label")
      out["latent"] = latent_raster(encode(params, x), None if labels is None
                                    else labels[:32], prior)
    return out

  def protocol():
    out = {"model": "wae", "penalty": mc.penalty, "penalty_weight": lam,
           "cost": "||x - G(Q(x))||^2 summed over pixels"
                   + (f", x {cost_scale:g} in training" if cost_scale != 1 else ""),
           "latent_dim": d, "prior": prior.description,
           "preprocessing": pre.description,
           "mmd": "unbiased MMD^2 between a batch's codes and as many prior "
                  f"samples, IMQ kernel, C = 2 d sigma_z^2 x "
                  f"{divergences.WAE_IMQ_SCALES}, mean over batches"}
    if not gan:
      out["kernel"] = f"{mc.kernel}, scales {scales}"
    return out

  return WAE(init, train_step, evaluate, evaluate, sample, protocol, images,
             encode, decode_mean, reconstruct, cost, mmd,
             critic if gan else None, prior.sample, prior, kernel, pre, net,
             disc)

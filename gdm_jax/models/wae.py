"""Wasserstein autoencoders: WAE-MMD and WAE-GAN (Tolstikhin et al. 2018).

Model: deterministic encoder z = Q(x) (MLP), deterministic decoder
G(z) = sigmoid mean on [0, 1] data (MLP), prior P_Z from `latent_priors`
(Gaussian N(0, σ_z² I) by default, σ_z = 1); the networks are
`autoencoder.Autoencoder` and `autoencoder.latent_discriminator`, shared
with the AAE. The penalised optimal-transport objective (eq. 4-5)

  D_WAE(P_X, P_G) = inf_Q E_{P_X} E_{Q(Z|X)}[c(X, G(Z))] + λ D_Z(Q_Z, P_Z),
  c(x, y) = ||x - y||²   (summed over pixels, §4),

is minimised on a minibatch x_1..x_n, codes ẑ_i = Q(x_i) and prior samples
z_1..z_n ~ P_Z, with D_Z one of (`config.model.penalty`):

  mmd  Algorithm 2 (WAE-MMD, `wae_mmd_objective`): encoder and decoder
       descend
         (1/n) Σ_i c(x_i, G(ẑ_i)) + λ MMD²_u(ẑ, z),
       MMD²_u the unbiased U-statistic (`divergences.mmd_unbiased`,
       Gretton et al. 2012 eq. 3) with the kernel `config.model.kernel`
       (`make_kernel`):
         imq  k(x, y) = Σ_s C_s / (C_s + ||x - y||²)   (§4),
         rbf  k(x, y) = Σ_s exp(-||x - y||² / C_s),
       C_s = 2 d_z σ_z² s over the scales s ∈ {0.1, 0.2, 0.5, 1, 2, 5, 10}
       (`IMQ_SCALES`, `model.kernel_scales`); σ_z² is the prior's
       per-coordinate variance (`LatentPrior.sigma2`), so the kernel follows
       the prior's scale. With `model.rbf_bandwidth = 'median'` the rbf
       kernel is instead the authors' code's single Gaussian kernel with a
       median-heuristic width (`median_bandwidth2`).
  gan  Algorithm 1 (WAE-GAN, `wae_gan_objective`), both updates in one
       compiled step: the latent discriminator D ascends
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
the scalar mmd over the batch's real rows (`autoencoder.evaluation_terms`).

References:
  Tolstikhin, Bousquet, Gelly and Schölkopf 2018, "Wasserstein
    Auto-Encoders", ICLR: eq. 4-5, Algorithms 1-2, §4 (cost, λ, kernel);
    their released code, github.com/tolstikhin/wae, wae.py, `mmd_penalty`
    (the median-heuristic RBF width).
  Gretton, Borgwardt, Rasch, Schölkopf and Smola 2012, "A Kernel Two-Sample
    Test", JMLR, eq. 3 (unbiased MMD²).
"""

import dataclasses
import functools
import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax import divergences
from gdm_jax.core import steps
from gdm_jax.models import autoencoder as ae
from gdm_jax.models import latent_priors

PENALTIES = ("mmd", "gan")
KERNELS = ("imq", "rbf")
RBF_BANDWIDTHS = ("fixed", "median")
# Multipliers s of the base kernel scale 2 d σ_z² (Tolstikhin et al. §4 and
# their released code).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
# Optimiser name -> the params entries it updates.
PLAYERS = {"autoencoder": ae.AUTOENCODER, "discriminator": "discriminator"}

Kernel = Callable[[jax.Array, jax.Array], jax.Array]


# --------------------------------------------------------------- kernels ----


def make_kernel(name: str, sigma2: float,
                scales: Sequence[float] = IMQ_SCALES) -> Kernel:
  """The WAE-MMD kernel with C_s = 2 d σ_z² s (d = the codes' dimension).

    imq: Σ_s C_s / (C_s + ||x - y||²)   (`divergences.imq_kernel`, §4);
    rbf: Σ_s exp(-||x - y||² / C_s), i.e. `divergences.rbf_kernel` with
         bandwidths h_s = sqrt(C_s / 2) = sqrt(d σ_z² s).

  The rbf scales are this project's choice, by analogy with the IMQ
  kernel's: the paper names no RBF width, and the authors' released code
  (wae.py, `mmd_penalty`) sets it by a median heuristic instead (its line
  σ_k² = d σ_z² is commented out); that kernel is `median_rbf_kernel`
  (`model.rbf_bandwidth = 'median'`).

  Args:
    name: 'imq' or 'rbf'.
    sigma2: σ_z², the prior's per-coordinate variance.
    scales: the multipliers s.

  Returns:
    kernel ([N, d], [M, d]) -> [N, M].

  Raises:
    ValueError: unknown name, sigma2 or a scale <= 0.
  """
  if name not in KERNELS:
    raise ValueError(f"model.kernel must be one of {KERNELS}; got '{name}'.")
  scales = tuple(float(s) for s in scales)
  if sigma2 <= 0 or not scales or min(scales) <= 0:
    raise ValueError(f"{name} kernel: sigma2 and scales must be > 0; got "
                     f"{sigma2}, {scales}.")

  def kernel(x, y):
    c = [2.0 * math.prod(x.shape[1:]) * sigma2 * s for s in scales]
    if name == "imq":
      return divergences.imq_kernel(c)(x, y)
    return divergences.rbf_kernel([math.sqrt(cs / 2.0) for cs in c])(x, y)
  return kernel


def median_bandwidth2(z_codes: jax.Array, z_prior: jax.Array) -> jax.Array:
  """The RBF width σ_k² of the authors' released code (wae.py, `mmd_penalty`,
  "median heuristic"):

    σ_k² = r-th largest of {||ẑ_i - z_j||²}_{i,j}
         + r-th largest of {||ẑ_i - ẑ_j||²}_{i,j},   r = (n² - n) / 2,

  over all n·m (resp. n²) entries, n codes: for m = n the first is about
  the median cross distance and the second is exactly the median of the
  codes' n(n-1)/2 pairwise distances (each pair appears twice, the n zero
  diagonal entries are the smallest). As in their code it is a function of
  the codes, and gradients flow through it. Floored at the dtype's smallest
  normal number so that collapsed codes give a finite kernel.

  Args:
    z_codes: [n, d] codes (n >= 2); z_prior: [m, d] prior samples.

  Returns:
    scalar σ_k² (squared code units).
  """
  n = z_codes.shape[0]
  r = (n * n - n) // 2

  def rth_largest(d2):
    flat = jnp.sort(d2.ravel())
    return flat[flat.size - r]
  s2 = (rth_largest(divergences.squared_distances(z_codes, z_prior))
        + rth_largest(divergences.squared_distances(z_codes, z_codes)))
  return jnp.maximum(s2, jnp.finfo(s2.dtype).tiny)


def median_rbf_kernel(z_codes: jax.Array, z_prior: jax.Array) -> Kernel:
  """k(x, y) = exp(-||x - y||² / (2 σ_k²)), σ_k² = `median_bandwidth2` of
  these samples: one Gaussian kernel, as in the authors' released code."""
  s2 = median_bandwidth2(z_codes, z_prior)
  return lambda x, y: jnp.exp(-divergences.squared_distances(x, y) / (2.0 * s2))


def mmd_penalty(z_codes: jax.Array, z_prior: jax.Array,
                kernel: Kernel) -> jax.Array:
  """MMD²_u(Q_Z, P_Z) from codes [n, d] and prior samples [m, d]: scalar.

  The unbiased U-statistic (`divergences.mmd_unbiased`): its expectation
  is MMD² >= 0 (0 iff Q_Z = P_Z for a characteristic kernel), so it can be
  negative on a finite sample.

  Raises:
    ValueError: codes or prior samples that are not floating [n, d] / [m, d]
      arrays of one d, or fewer than 2 rows.
  """
  _check_codes("wae.mmd_penalty", z_codes, z_prior)
  return divergences.mmd_unbiased(z_codes, z_prior, kernel)


def median_rbf_mmd_penalty(z_codes: jax.Array,
                           z_prior: jax.Array) -> jax.Array:
  """`mmd_penalty` with `median_rbf_kernel(z_codes, z_prior)` (scalar). The
  width depends on the samples, so the estimate is no longer exactly
  unbiased.

  Raises:
    ValueError: as `mmd_penalty`.
  """
  _check_codes("wae.median_rbf_mmd_penalty", z_codes, z_prior)
  return mmd_penalty(z_codes, z_prior, median_rbf_kernel(z_codes, z_prior))


def _check_codes(fn: str, z_codes, z_prior) -> None:
  checks.check_arg(fn, "z_codes", z_codes, "floating [n, d] (codes)")
  checks.check_arg(fn, "z_prior", z_prior, "floating [m, d] (prior samples)")
  checks.check_same_shape(fn, [("z_codes", z_codes), ("z_prior", z_prior)],
                          slice(1, None), "code dimension d")


# ------------------------------------------------------------ objectives ----


def _codes_and_cost(net: ae.Autoencoder, ae_params: dict, x: jax.Array):
  """(ẑ = Q(x) [B, d], mean cost (1/B) Σ_i ||x_i - G(ẑ_i)||²)."""
  z = ae.encode(net, ae_params, x)
  out = ae.decode(net, ae_params, z)
  return z, jnp.mean(ae.reconstruction_cost(out, x, "l2"))


def wae_mmd_objective(net: ae.Autoencoder, ae_params: dict, x: jax.Array,
                      z_prior: jax.Array, *,
                      mmd: Callable[[jax.Array, jax.Array], jax.Array],
                      penalty_weight: float, cost_scale: float = 1.0
                      ) -> tuple[jax.Array, dict]:
  """WAE-MMD's loss (Tolstikhin et al. Algorithm 2), for
  `core.steps.gradient_update` over ae_params = {'encoder', 'decoder'}:

    L = cost_scale · (1/n) Σ_i c(x_i, G(ẑ_i)) + λ MMD²_u(ẑ, z).

  Args:
    x: [n, H, W, C] in [0, 1]; z_prior: [n, d] prior samples.
    mmd: (codes, prior samples) -> MMD²_u, e.g. `mmd_penalty` with a kernel.
    penalty_weight: λ; cost_scale: the cost's factor (1 = the paper).

  Returns:
    (L, {'reconstruction': mean c, 'penalty': λ MMD²_u, 'codes': ẑ}).
  """
  z, c = _codes_and_cost(net, ae_params, x)
  penalty = penalty_weight * mmd(z, z_prior)
  return cost_scale * c + penalty, {"reconstruction": c, "penalty": penalty,
                                    "codes": z}


def wae_gan_objective(net: ae.Autoencoder, disc: nn.Module, ae_params: dict,
                      x: jax.Array, d_vars, *, penalty_weight: float,
                      cost_scale: float = 1.0) -> tuple[jax.Array, dict]:
  """WAE-GAN's encoder/decoder loss (Tolstikhin et al. Algorithm 1), against
  the discriminator variables d_vars (already updated this step):

    L = cost_scale · (1/n) Σ_i c(x_i, G(ẑ_i)) - (λ/n) Σ_i log D(ẑ_i).

  Returns:
    (L, {'reconstruction': mean c, 'penalty': λ mean -log D(ẑ), 'codes': ẑ}).
  """
  z, c = _codes_and_cost(net, ae_params, x)
  penalty = penalty_weight * ae.generator_loss(disc, d_vars, z)
  return cost_scale * c + penalty, {"reconstruction": c, "penalty": penalty,
                                    "codes": z}


def train_step(net: ae.Autoencoder, disc: nn.Module | None,
               prior: latent_priors.LatentPrior, pre, txs: dict, state, batch,
               rng, *, mmd, penalty_weight: float, cost_scale: float,
               metric_kernel: Kernel):
  """One WAE step: Algorithm 1 (WAE-GAN) with a discriminator, else
  Algorithm 2 (WAE-MMD).

  x, z = `autoencoder.batch_inputs(...)` (checks and `prepare`). WAE-GAN
  first updates D on λ L_D (`autoencoder.discriminator_objective`, codes
  held fixed), then Q and G on `wae_gan_objective` with the new D; WAE-MMD
  updates Q and G on `wae_mmd_objective`. Each through
  `core.steps.gradient_update` with txs['discriminator'] /
  txs['autoencoder'].

  Returns:
    (state, {loss, reconstruction, penalty, mmd (IMQ MMD²_u of the codes,
    `metric_kernel`), grad_norm} + gan: {d_loss, d_accuracy, d_grad_norm}).

  Raises:
    ValueError: batch['image'] does not fit the data set.
  """
  x, z_prior = ae.batch_inputs(net, pre, prior, batch, rng, family="wae",
                               fn="train_step")
  params, opt = state.params, state.opt_state
  ae_params = ae.autoencoder_params(params)
  new_params, new_opt, metrics = {}, {}, {}
  if disc is None:
    objective = functools.partial(wae_mmd_objective, net, mmd=mmd,
                                  penalty_weight=penalty_weight,
                                  cost_scale=cost_scale)
    other = z_prior
  else:
    z_codes = jax.lax.stop_gradient(ae.encode(net, ae_params, x))
    d = steps.gradient_update(
        functools.partial(ae.discriminator_objective, disc,
                          weight=penalty_weight),
        txs["discriminator"], params["discriminator"], opt["discriminator"],
        z_prior, z_codes)
    new_params["discriminator"], new_opt["discriminator"] = d.params, d.opt_state
    metrics.update(d_grad_norm=d.grad_norm, **d.aux)
    objective = functools.partial(wae_gan_objective, net, disc,
                                  penalty_weight=penalty_weight,
                                  cost_scale=cost_scale)
    other = d.params
  u = steps.gradient_update(objective, txs["autoencoder"], ae_params,
                            opt["autoencoder"], x, other)
  new_params.update(u.params)
  new_opt["autoencoder"] = u.opt_state
  z = jax.lax.stop_gradient(u.aux["codes"])
  metrics.update(loss=u.loss, reconstruction=u.aux["reconstruction"],
                 penalty=u.aux["penalty"], grad_norm=u.grad_norm,
                 mmd=mmd_penalty(z, z_prior, metric_kernel))
  return state.replace(step=state.step + 1, params=new_params,
                       opt_state=new_opt), metrics


# ----------------------------------------------------------------- model ----


@dataclasses.dataclass(frozen=True, kw_only=True)
class WAE(ae.LatentAutoencoder):
  """`autoencoder.LatentAutoencoder` plus the WAE's own functions:

    cost(params, x) -> c(x, G(Q(x))) = ||x - G(Q(x))||² [B]
    mmd(z_codes, z_prior) -> MMD²_u with the configured kernel (scalar)
    kernel: the configured fixed kernel (None for the median heuristic).
  """
  cost: Callable
  mmd: Callable
  kernel: Kernel | None


def validate_config(mc) -> None:
  """Raises ValueError naming the field for an invalid model setting."""
  ae.check_model_config(
      mc, {"penalty": PENALTIES, "kernel": KERNELS,
           "rbf_bandwidth": RBF_BANDWIDTHS},
      ("hidden",) + (("discriminator_hidden",) if mc.penalty == "gan" else ()),
      defaults={"rbf_bandwidth": "fixed"})
  if mc.penalty_weight < 0:
    raise ValueError(f"model.penalty_weight (λ) must be >= 0; got "
                     f"{mc.penalty_weight}.")
  if mc.get("cost_scale", 1.0) <= 0:
    raise ValueError(f"model.cost_scale must be > 0; got "
                     f"{mc.get('cost_scale')}.")


def protocol(mc, prior, pre, scales) -> dict:
  """How the WAE's final metrics were computed (final_metrics.json)."""
  cost_scale = float(mc.get("cost_scale", 1.0))
  out = {"model": "wae", "penalty": mc.penalty,
         "penalty_weight": float(mc.penalty_weight),
         "cost": "||x - G(Q(x))||^2 summed over pixels"
                 + (f", x {cost_scale:g} in training" if cost_scale != 1 else ""),
         "latent_dim": mc.latent_dim, "prior": prior.description,
         "preprocessing": pre.description,
         "mmd": "unbiased MMD^2 between a batch's real codes and as many "
                f"prior samples, IMQ kernel, C = 2 d sigma_z^2 x {IMQ_SCALES}, "
                "mean over batches"}
  if mc.penalty == "mmd":
    median = mc.kernel == "rbf" and mc.get("rbf_bandwidth", "fixed") == "median"
    out["kernel"] = ("rbf, median-heuristic width (authors' code)" if median
                     else f"{mc.kernel}, scales {scales}")
  return out


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
  gan = mc.penalty == "gan"
  prior, pre, net, disc, txs = ae.build(
      config, dataset_info, PLAYERS if gan else ("autoencoder",),
      likelihood="l2", discriminator=gan)
  scales = tuple(mc.get("kernel_scales", IMQ_SCALES))
  median = mc.kernel == "rbf" and mc.get("rbf_bandwidth", "fixed") == "median"
  kernel = None if median else make_kernel(mc.kernel, prior.sigma2, scales)
  mmd = (median_rbf_mmd_penalty if median
         else functools.partial(mmd_penalty, kernel=kernel))
  imq = make_kernel("imq", prior.sigma2)     # the reported `mmd` metric
  evaluate = functools.partial(
      ae.evaluation_terms, net, disc, prior, pre, family="wae",
      likelihood="l2", kernel=imq,
      adversarial=("d_loss", "d_accuracy") if gan else ())
  return WAE(
      **ae.shared_members(net, disc, prior, pre, family="wae"),
      init=functools.partial(ae.init_state, net, disc, txs, PLAYERS,
                             family="wae"),
      train_step=functools.partial(
          train_step, net, disc, prior, pre, txs, mmd=mmd,
          penalty_weight=float(mc.penalty_weight),
          cost_scale=float(mc.get("cost_scale", 1.0)), metric_kernel=imq),
      evaluate=evaluate, evaluate_final=evaluate,
      protocol=functools.partial(protocol, mc, prior, pre, scales),
      cost=functools.partial(ae.reconstruction_loss, net, likelihood="l2"),
      mmd=mmd, kernel=kernel)

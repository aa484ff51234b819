"""Mathematical tests of the VAE's flow posteriors and flow priors
(gdm_jax/models/vae.py: planar and IAF posteriors, RealNVP and MAF priors).

  * log q_K(z_K|x) equals q_0(z_0|x) / |det ∂z_K/∂z_0| with the Jacobian of
    the whole K-step flow from jax.jacfwd (Rezende and Mohamed 2015, eq. 15);
  * the planar û keeps wᵀû > -1 (invertibility, their appendix A.1);
  * the posteriors are built from the library's one planar flow
    (flows.planar_forward) and one MADE (flows.MADE with a context);
  * a flow prior's density integrates to 1 on a 2-D grid, matches its own
    samples, and sampling inverts the density direction;
  * identity flows give the plain VAE's ELBO (Monte Carlo vs closed-form KL);
  * ELBO <= IWAE_K <= log p(x), with log p(x) of a 2-D-latent flow VAE by
    quadrature, and IWAE_K -> log p(x).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gdm_jax import flows
from gdm_jax.models import vae
from tests import helpers
from tests.helpers import synthetic_batch
from tests.helpers import vae_config

SMALL_SHAPE = (4, 4, 1)


def flow_config(latent_dim=3, **model):
  """A tiny Bernoulli VAE config (hidden 16) with the given model fields."""
  return vae_config(**{
      "hidden": (16,), "latent_dim": latent_dim, "posterior_flow_steps": 3,
      "posterior_context_dim": 5, "posterior_flow_hidden": (8, 8),
      "prior_flow_steps": 3, "prior_flow_hidden": 16, **model})


def make_model(cfg, seed=0):
  model = vae.make(cfg, {"shape": SMALL_SHAPE})
  return model, jax.jit(model.init)(jax.random.key(seed), None).params


def perturb(params, scale, seed, only=None):
  """params + scale * N(0, 1) noise on every leaf (under `only`, a top-level
  module name such as 'posterior', if given): makes zero-initialised flow
  layers non-trivial."""
  leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  out = []
  for (path, leaf), key in zip(leaves, keys):
    names = [getattr(p, "key", None) for p in path]
    if only is None or only in names:
      leaf = leaf + scale * jax.random.normal(key, leaf.shape, leaf.dtype)
    out.append(leaf)
  return jax.tree_util.tree_unflatten(treedef, out)


def binary_x(n, seed):
  return (jax.random.uniform(jax.random.key(seed), (n,) + SMALL_SHAPE) > 0.5
          ).astype(jnp.float32)


# ------------------------------------------------------------ planar û


def test_planar_u_hat_keeps_the_map_invertible():
  """wᵀû = m(wᵀu) > -1 for random u, w of all scales, including wᵀu << 0;
  then a -> a + (wᵀû) tanh(a) is increasing, and log(1 + wᵀû (1 - tanh²))
  is finite; u = 0 gives û = 0 (the identity)."""
  rng = np.random.default_rng(0)
  d = 5
  for scale in (0.01, 1.0, 10.0, 100.0):
    u = jnp.asarray(scale * rng.standard_normal((2000, d)), jnp.float32)
    w = jnp.asarray(scale * rng.standard_normal((2000, d)), jnp.float32)
    u = u.at[:500].set(-3.0 * w[:500])        # strongly negative wᵀu
    u_hat, one_plus = flows.planar_u_hat(u, w)
    # The exact 1 + wᵀû that the log-det uses is > 0, i.e. wᵀû > -1 ...
    assert np.all(np.asarray(one_plus) >= 1e-6), np.asarray(one_plus).min()
    # ... and is the paper's m shifted by log(e - 1) (floored at -1 + 1e-6),
    # evaluated in float64.
    wu = np.asarray(jnp.sum(w * u, -1), np.float64)
    expected = np.maximum(np.logaddexp(0.0, wu + math.log(math.e - 1)), 1e-6) - 1.0
    np.testing.assert_allclose(np.asarray(one_plus, np.float64) - 1.0, expected,
                               rtol=1e-5, atol=1e-6)
    # wᵀû recomputed from û agrees up to float32 rounding of the products.
    w_u_hat = np.asarray(jnp.sum(w * u_hat, -1), np.float64)
    tol = 1e-5 * (1.0 + np.abs(np.asarray(w * u, np.float64)).sum(-1))
    assert np.all(w_u_hat >= -1.0 - tol), (w_u_hat + 1.0).min()
    assert np.all(np.abs(w_u_hat - expected) < tol + 1e-4 * abs(expected))
    # û differs from u only along w.
    resid = u_hat - u
    cos = jnp.abs(jnp.sum(resid * w, -1)) / (
        jnp.linalg.norm(resid, axis=-1) * jnp.linalg.norm(w, axis=-1) + 1e-30)
    moved = np.asarray(jnp.linalg.norm(resid, axis=-1)) > 1e-6 * scale
    np.testing.assert_allclose(np.asarray(cos)[moved], 1.0, atol=1e-4)
  # The scalar map along w is strictly increasing for the most negative wᵀû.
  m = np.asarray(one_plus, np.float64).min() - 1.0
  a = np.linspace(-5.0, 5.0, 10001)
  assert np.all(np.diff(a + m * np.tanh(a)) > 0)
  z = jnp.asarray(rng.standard_normal((7, d)), jnp.float32)
  # Finite log-dets where wᵀû is closest to -1 and tanh(wᵀz + b) = 0.
  order = np.argsort(w_u_hat)[:7]
  _, log_det = flows.planar_forward(z, u[order], w[order], -jnp.sum(w[order] * z, -1))
  assert np.all(np.isfinite(np.asarray(log_det))), log_det
  y0, ld0 = flows.planar_forward(z, jnp.zeros((7, d)), w[:7], jnp.ones(7))
  np.testing.assert_allclose(y0, z, atol=1e-6)
  np.testing.assert_allclose(ld0, 0.0, atol=1e-6)


# ------------------------------------------- posterior density vs jacobian


# (model fields, perturbation scale, module perturbed): planar steps need a
# large u to bend visibly; IAF's gates get ill-conditioned (float32 slogdet)
# if perturbed as much.
POSTERIORS = [
    pytest.param(dict(posterior_flow="planar"), 1.0, "posterior",
                 id="planar_amortized"),
    pytest.param(dict(posterior_flow="planar", posterior_flow_amortized=False),
                 1.0, "posterior", id="planar_global"),
    pytest.param(dict(posterior_flow="iaf"), 0.5, None, id="iaf"),
]


@pytest.mark.parametrize("fields,scale,only", POSTERIORS)
def test_posterior_log_density_is_change_of_variables(fields, scale, only):
  """log q_K(z_K|x) = log N(z_0; μ, σ²) - log|det ∂z_K/∂z_0|, the Jacobian of
  the whole K-step flow by jax.jacfwd, for each example."""
  model, params = make_model(flow_config(**fields))
  params = perturb(params, scale, seed=1, only=only)
  x = binary_x(3, seed=2)
  post = jax.jit(model.sample_posterior)(params, x, jax.random.key(3))
  mean, log_scale, context = model.encode_posterior(params, x)
  assert post["z"].shape == post["z0"].shape == (3, 3)
  assert post["log_q"].shape == (3,)
  def flow(z0, ctx):                                  # one example: [D] -> [D]
    return model.transform_posterior(params, z0[None], ctx[None])[0][0]
  jacs = jax.jit(jax.vmap(jax.jacfwd(flow)))(post["z0"], context)   # [B, D, D]
  flow_z = jax.jit(jax.vmap(flow))(post["z0"], context)
  for i in range(3):
    z0 = post["z0"][i]
    jac = np.asarray(jacs[i], np.float64)
    sign, log_abs_det = np.linalg.slogdet(jac)
    assert sign != 0
    log_q0 = stats.norm.logpdf(np.asarray(z0, np.float64),
                               np.asarray(mean[i], np.float64),
                               np.exp(np.asarray(log_scale[i], np.float64))).sum()
    np.testing.assert_allclose(post["log_q"][i], log_q0 - log_abs_det,
                               rtol=1e-5, atol=2e-4)
    np.testing.assert_allclose(post["z"][i], flow_z[i], atol=1e-5)
    # The flow is far from the identity, so the check has teeth.
    assert abs(log_abs_det) > 1e-3 and np.abs(jac - np.eye(3)).max() > 0.05


def test_iaf_steps_are_triangular_and_alternate_their_order():
  """One IAF step's Jacobian is lower triangular (order 1..D) with diagonal
  σ = sigmoid(s); two steps (orders 1..D then D..1) fill both triangles."""
  jacs = {}
  for steps in (1, 2):
    model, params = make_model(flow_config(posterior_flow="iaf",
                                           posterior_flow_steps=steps))
    params = perturb(params, 0.5, seed=4)
    x = binary_x(1, seed=5)
    _, _, context = model.encode_posterior(params, x)
    z0 = jnp.asarray([0.3, -1.2, 0.7])
    flow = lambda z: model.transform_posterior(params, z[None], context)[0][0]
    jacs[steps] = np.asarray(jax.jacfwd(flow)(z0), np.float64)
    if steps == 1:
      _, log_det = model.transform_posterior(params, z0[None], context)
      np.testing.assert_allclose(np.log(np.diag(jacs[1])).sum(), log_det[0],
                                 rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(np.triu(jacs[1], 1), 0.0)
  assert np.all(np.diag(jacs[1]) > 0) and np.all(np.diag(jacs[1]) < 1)
  assert np.abs(np.tril(jacs[1], -1)).max() > 1e-3
  assert np.abs(np.triu(jacs[2], 1)).max() > 1e-3
  assert np.abs(np.tril(jacs[2], -1)).max() > 1e-3


def test_planar_posterior_is_flows_planar_forward_of_the_context():
  """The amortised planar posterior is K steps of flows.planar_forward with
  (u_k, w_k, b_k) linear in h(x), read off the posterior's parameters."""
  model, params = make_model(flow_config(posterior_flow="planar"))
  params = perturb(params, 1.0, seed=31, only="posterior")
  x = binary_x(4, seed=32)
  _, _, h = model.encode_posterior(params, x)
  z = jax.random.normal(jax.random.key(33), (4, 3))
  p = params["params"]["posterior"]
  lin = {k: h @ p[k]["kernel"] + p[k]["bias"] for k in ("u", "w", "b")}
  zk, total = z, jnp.zeros(4)
  for i in range(3):
    zk, ld = flows.planar_forward(zk, lin["u"].reshape(4, 3, 3)[:, i],
                                  lin["w"].reshape(4, 3, 3)[:, i],
                                  lin["b"][:, i])
    total = total + ld
  out, log_det = model.transform_posterior(params, z, h)
  np.testing.assert_allclose(out, zk, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(log_det, total, rtol=1e-5, atol=1e-5)


def test_iaf_posterior_is_the_gated_update_of_flows_made():
  """Each IAF step is Kingma et al.'s gated update (eq. 14) with (m, s) from
  flows.MADE (ELU units, context h(x)) on the step's own parameters."""
  model, params = make_model(flow_config(posterior_flow="iaf",
                                         posterior_flow_steps=2))
  params = perturb(params, 0.5, seed=34)
  x = binary_x(3, seed=35)
  _, _, h = model.encode_posterior(params, x)
  z = jax.random.normal(jax.random.key(36), (3, 3))
  p = params["params"]["posterior"]
  assert set(p) == {"made_0", "made_1"}
  assert set(p["made_0"]) == {"masked_0", "context", "masked_1", "masked_out"}
  zk, total = z, jnp.zeros(3)
  for k in range(2):
    out = flows.MADE((8, 8), num_outputs=2, reverse=k == 1,
                     activation=jax.nn.elu).apply(
                         {"params": p[f"made_{k}"]}, zk, h)
    s = out[:, 1] + 2.0                               # iaf_gate_bias
    sigma = jax.nn.sigmoid(s)
    zk = sigma * zk + (1 - sigma) * out[:, 0]
    total = total + jnp.sum(jax.nn.log_sigmoid(s), -1)
  got, log_det = model.transform_posterior(params, z, h)
  np.testing.assert_allclose(got, zk, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(log_det, total, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------- flow priors


@pytest.fixture(scope="module", params=["realnvp", "maf"])
def prior_2d(request):
  """A perturbed (non-Gaussian) 2-D flow prior and its density on a grid."""
  model, params = make_model(flow_config(latent_dim=2, prior_flow=request.param))
  params = perturb(params, 0.2, seed=6, only="prior")
  lim, n = 14.0, 701
  g = np.linspace(-lim, lim, n)
  zz = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
  log_p = np.asarray(jax.jit(model.prior_log_prob)(
      params, jnp.asarray(zz, jnp.float32)), np.float64)
  return request.param, model, params, zz, np.exp(log_p), (g[1] - g[0])**2


def test_flow_prior_integrates_to_one(prior_2d):
  kind, _, _, zz, p, cell = prior_2d
  assert p.shape == (701 * 701,)
  np.testing.assert_allclose(p.sum() * cell, 1.0, atol=3e-3, err_msg=kind)
  # Not the standard normal: the flow changes the density.
  gauss = stats.multivariate_normal(np.zeros(2), np.eye(2)).pdf(zz)
  assert np.abs(p - gauss).sum() * cell > 0.05, kind


def test_flow_prior_samples_match_density(prior_2d):
  """Moments and a 6 x 6 histogram of 100k samples z = g^{-1}(ε) agree with
  the density log p(z) = log N(g(z)) + log|det ∂g/∂z| on the grid."""
  kind, model, params, zz, p, cell = prior_2d
  n = 100_000
  z = np.asarray(jax.jit(model.sample_prior, static_argnums=2)(
      params, jax.random.key(7), n), np.float64)
  w = p * cell
  mean_grid = (w[:, None] * zz).sum(0)
  cov_grid = (w[:, None, None] * (zz - mean_grid)[:, :, None]
              * (zz - mean_grid)[:, None, :]).sum(0)
  se = np.sqrt(np.diag(cov_grid) / n)
  assert np.all(np.abs(z.mean(0) - mean_grid) < 4.5 * se), (kind, z.mean(0),
                                                           mean_grid)
  np.testing.assert_allclose(np.cov(z.T), cov_grid, rtol=0.05, atol=0.02)
  # Bin edges near the samples' sextiles, moved onto grid-cell boundaries
  # (grid points are cell centres), so the grid mass per bin is a midpoint
  # rule over whole cells.
  g = np.unique(zz[:, 0])
  h = g[1] - g[0]
  edges = np.quantile(z, np.linspace(0, 1, 7)[1:-1], axis=0)   # [5, 2]
  edges = g[0] + h * (np.round((edges - g[0]) / h - 0.5) + 0.5)
  def cells(points):
    return np.digitize(points[:, 0], edges[:, 0]) * 6 + np.digitize(
        points[:, 1], edges[:, 1])
  observed = np.bincount(cells(z), minlength=36) / n
  expected = np.bincount(cells(zz), weights=w, minlength=36)
  tol = 4.5 * np.sqrt(expected * (1 - expected) / n) + 2e-3
  assert np.all(np.abs(observed - expected) < tol), (kind, observed - expected)


def test_flow_prior_sampling_inverts_density_direction(prior_2d):
  kind, model, params, _, _, _ = prior_2d
  z = jax.random.normal(jax.random.key(8), (256, 2)) * 2.0
  eps, ld_fwd = model.prior_to_base(params, z)
  z_back, ld_inv = model.prior_from_base(params, eps)
  np.testing.assert_allclose(z_back, z, atol=1e-5, err_msg=kind)
  np.testing.assert_allclose(ld_fwd + ld_inv, 0.0, atol=1e-5, err_msg=kind)
  assert np.abs(np.asarray(eps - z)).max() > 0.05
  # log p(z) is the change of variables through g, by jax.jacfwd.
  jac = jax.vmap(jax.jacfwd(lambda v: model.prior_to_base(params, v[None])[0][0]))(
      z[:8])
  direct = (stats.norm.logpdf(np.asarray(eps[:8], np.float64)).sum(-1)
            + np.linalg.slogdet(np.asarray(jac, np.float64))[1])
  np.testing.assert_allclose(model.prior_log_prob(params, z[:8]), direct,
                             rtol=1e-5, atol=1e-4)


# ------------------------------------- identity flows = the plain VAE


def plain_params_from(flow_params, latent_dim):
  """The plain VAE's parameters: encoder and decoder of a flow model, the
  encoder's last layer cut to its (mean, log_scale) outputs."""
  p = flow_params["params"]
  enc = dict(p["encoder"])
  last = sorted(enc)[-1]
  enc[last] = {"kernel": enc[last]["kernel"][:, :2 * latent_dim],
               "bias": enc[last]["bias"][:2 * latent_dim]}
  return {"params": {"encoder": enc, "decoder": p["decoder"]}}


IDENTITY_FLOWS = [
    pytest.param(dict(posterior_flow="planar"), id="planar"),
    # Saturated gates, σ = sigmoid(30) = 1 in float32: each step z -> z.
    pytest.param(dict(posterior_flow="iaf", iaf_gate_bias=30.0), id="iaf_open"),
    pytest.param(dict(prior_flow="realnvp"), id="realnvp_prior"),
    pytest.param(dict(prior_flow="maf"), id="maf_prior"),
]


@pytest.mark.parametrize("fields", IDENTITY_FLOWS)
def test_identity_flows_give_the_plain_elbo(fields):
  """At init (identity flows) the flow VAE's per-sample reconstruction and
  importance weights equal the plain VAE's for the same key, and its Monte
  Carlo KL averages to the plain VAE's closed-form KL."""
  cfg = flow_config(**fields)
  model, params = make_model(cfg, seed=9)
  plain = vae.make(flow_config(), {"shape": SMALL_SHAPE})
  plain_params = plain_params_from(params, 3)
  x = binary_x(4, seed=10)
  reps = 3000

  @jax.jit
  def terms(key):
    keys = jax.random.split(key, reps)
    f = jax.vmap(lambda r: model.elbo(params, x, r))(keys)
    p = jax.vmap(lambda r: plain.elbo(plain_params, x, r))(keys)
    return f, p

  f, p = terms(jax.random.key(11))
  np.testing.assert_allclose(f["reconstruction"], p["reconstruction"],
                             rtol=1e-5, atol=1e-4)
  kl_mc = np.asarray(f["kl"], np.float64)
  se = kl_mc.std(0) / math.sqrt(reps)
  assert np.all(np.abs(kl_mc.mean(0) - np.asarray(p["kl"][0])) < 4.5 * se + 1e-4)
  assert np.all(kl_mc.std(0) > 0.1)           # a Monte Carlo estimate indeed
  lw_flow = model.importance_log_weights(params, x, jax.random.key(12), 50)
  lw_plain = plain.importance_log_weights(plain_params, x, jax.random.key(12), 50)
  np.testing.assert_allclose(lw_flow, lw_plain, rtol=1e-5, atol=1e-4)


def test_iaf_at_init_is_a_scaled_gaussian_posterior():
  """At init every IAF step is z -> σ z, σ = sigmoid(gate_bias), so q_K is
  N(σ^K μ, σ^{2K} diag s²): log q_K(z_K|x) is that Gaussian's log-density."""
  steps, bias = 3, 2.0
  model, params = make_model(flow_config(posterior_flow="iaf",
                                         posterior_flow_steps=steps,
                                         iaf_gate_bias=bias))
  x = binary_x(5, seed=13)
  post = model.sample_posterior(params, x, jax.random.key(14), 7)
  mean, log_scale, _ = model.encode_posterior(params, x)
  c = (1.0 / (1.0 + math.exp(-bias)))**steps
  np.testing.assert_allclose(post["z"], c * post["z0"], rtol=1e-5, atol=1e-6)
  expected = stats.norm.logpdf(np.asarray(post["z"], np.float64),
                               c * np.asarray(mean, np.float64),
                               c * np.exp(np.asarray(log_scale, np.float64))
                               ).sum(-1)
  np.testing.assert_allclose(post["log_q"], expected, rtol=1e-5, atol=1e-4)


# ---------------------------------- bounds of a flow VAE vs exact log p(x)


def _log_px_by_quadrature(model, params, x, lim=8.0, n=301):
  """log p(x) = log ∫ p(x|z) p(z) dz on an n x n grid of [-lim, lim]²: [B]."""
  g = np.linspace(-lim, lim, n)
  zz = jnp.asarray(np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2),
                   jnp.float32)
  log_pz = model.prior_log_prob(params, zz)                       # [G]

  @jax.jit
  def log_joint(params, zz, log_pz, xi):
    loc, _ = model.net.apply(params, zz, method=vae.VAENet.decode)
    ll = jnp.sum(jax.nn.log_sigmoid(loc) * xi + jax.nn.log_sigmoid(-loc) * (1 - xi),
                 axis=(1, 2, 3))
    return ll + log_pz
  cell = (g[1] - g[0])**2
  out = []
  for xi in x:
    lj = np.asarray(log_joint(params, zz, log_pz, xi), np.float64)
    m = lj.max()
    out.append(m + np.log(np.exp(lj - m).sum() * cell))
  return np.array(out)


def test_flow_vae_bounds_below_exact_log_px():
  """IAF posterior + RealNVP prior, latent 2: E[ELBO] = E[L_1] < E[L_5] <
  E[L_50] <= log p(x) (quadrature), and L_K -> log p(x) as K grows."""
  cfg = flow_config(latent_dim=2, posterior_flow="iaf", prior_flow="realnvp")
  model, params = make_model(cfg, seed=15)
  # A non-Gaussian prior and posterior, and a decoder away from init; the
  # encoder's Gaussian stays at init (near N(0, I)), a proposal good enough
  # for L_K to approach log p(x) at K = 2000.
  for i, name in enumerate(("decoder", "prior", "posterior")):
    params = perturb(params, 0.3, seed=16 + i, only=name)
  x = binary_x(4, seed=17)
  log_px = _log_px_by_quadrature(model, params, x)
  reps = {"elbo": 2000, 1: 2000, 5: 1000, 50: 300, 2000: 30}

  @jax.jit
  def draw(rng):
    keys = jax.random.split(rng, len(reps))
    out = {"elbo": jax.vmap(lambda r: model.elbo(params, x, r)["elbo"])(
        jax.random.split(keys[0], reps["elbo"]))}
    for key, k in zip(keys[1:], (1, 5, 50, 2000)):
      out[str(k)] = jax.vmap(lambda r, k=k: model.iwae_bound(params, x, r, k))(
          jax.random.split(key, reps[k]))
    return out

  draws = {int(k) if k.isdigit() else k: np.asarray(v, np.float64)
           for k, v in draw(jax.random.key(18)).items()}
  mean = {k: v.mean(0) for k, v in draws.items()}
  se = {k: v.std(0) / math.sqrt(v.shape[0]) for k, v in draws.items()}
  # The flow ELBO is L_1 (same estimator, independent draws).
  assert np.all(np.abs(mean["elbo"] - mean[1]) < 4.5 * np.hypot(se["elbo"], se[1]))
  for lo, hi in (("elbo", 5), (5, 50)):
    assert np.all(mean[hi] - mean[lo] > 4.5 * np.hypot(se[lo], se[hi])), (lo, hi)
  for k in (1, 5, 50, 2000):
    assert np.all(mean[k] <= log_px + 4.5 * se[k] + 1e-3), (k, mean[k] - log_px)
  gap1, gap = log_px - mean[1], log_px - mean[2000]
  assert np.all(gap1 > 0.5), gap1                      # a visibly loose ELBO
  # The gap closes: measured 0.09, 0.07, 0.79, 0.04 against 23, 3.5, 5.8, 1.6.
  assert np.all(gap < 0.25 * gap1), (gap, gap1)
  assert gap.mean() < 0.1 * gap1.mean(), (gap, gap1)


# -------------------------------------------------------- training, config


def test_train_step_with_both_flows_decreases_loss():
  cfg = helpers.smoke_config("vae.py:iaf")          # 784-32-z4, batch 32
  cfg.model.prior_flow = "maf"
  cfg.optimizer.schedule = "constant"
  cfg.optimizer.learning_rate = 3e-3
  model = vae.make(cfg, {"shape": (28, 28, 1)})
  batch = synthetic_batch()
  state = jax.jit(model.init)(jax.random.key(19), batch)
  step = jax.jit(model.train_step)
  losses = []
  for t in range(40):
    state, metrics = step(state, batch, jax.random.fold_in(state.rng, t))
    losses.append(float(metrics["loss"]))
  assert np.all(np.isfinite(losses))
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
  np.testing.assert_allclose(metrics["loss"],
                             metrics["reconstruction"] + metrics["kl"], rtol=1e-5)
  proto = model.protocol()
  assert proto["posterior_flow"] == "iaf x2" and proto["prior_flow"] == "maf x2"
  assert proto["kl"].startswith("Monte Carlo")
  assert model.sample(state.params, jax.random.key(20), 3).shape == (3, 28, 28, 1)


def test_config_without_flow_fields_is_the_plain_vae():
  """Configs written before the flow fields existed build the same model."""
  cfg = flow_config()
  model, params = make_model(cfg, seed=21)
  for name in vae.FLOW_DEFAULTS:
    del cfg.model[name]
  old_model, old_params = make_model(cfg, seed=21)
  assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
      old_params)
  assert set(params["params"]) == {"encoder", "decoder"}
  x = binary_x(3, seed=22)
  key = jax.random.key(1)
  np.testing.assert_array_equal(model.elbo(params, x, key)["elbo"],
                                old_model.elbo(old_params, x, key)["elbo"])
  assert model.protocol()["kl"] == "closed form"


@pytest.mark.parametrize("field,value,match", [
    ("posterior_flow", "radial", "model.posterior_flow"),
    ("prior_flow", "glow", "model.prior_flow"),
    ("posterior_flow_steps", 0, "model.posterior_flow_steps"),
    ("posterior_context_dim", 0, "model.posterior_context_dim"),
    ("prior_flow_steps", 0, "model.prior_flow_steps"),
])
def test_invalid_flow_config_raises(field, value, match):
  cfg = flow_config(posterior_flow="iaf", prior_flow="maf")
  setattr(cfg.model, field, value)
  with pytest.raises(ValueError, match=match):
    vae.make(cfg, {"shape": SMALL_SHAPE})


def test_realnvp_prior_needs_two_latent_dims():
  with pytest.raises(ValueError, match="latent_dim"):
    vae.make(flow_config(latent_dim=1, prior_flow="realnvp"),
             {"shape": SMALL_SHAPE})

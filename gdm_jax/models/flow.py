"""Normalizing flows: NICE, RealNVP and Glow on 8-bit images; toy 1-D/2-D flows.

Images. The 8-bit pixels k ∈ {0..255}^D are dequantised and scaled,
  x = (k + u) / 256 ∈ [0, 1)^D,   u ~ q(u | k) on [0, 1)^D,
with q uniform (Theis et al. 2016) or a learned conditional flow (variational
dequantisation, Ho et al. 2019, Flow++ sec. 3.1: ε ~ N(0, I),
u = sigmoid(g(ε; k)), g a conditional affine coupling flow). Then x is
mapped to the flow's input h = pre(x): RealNVP's logit
h = logit(α + (1 - 2α) x) (`model.logit_alpha` > 0) or Glow's h = x - 1/2
(`logit_alpha` = 0), and the flow f maps h to the latents z ~ N(0, I):

  log p_X(x) = log N(f(pre(x)); 0, I) + log|det ∂f/∂h| + log|det ∂pre/∂x|,

the density on [0, 1)^D ("model space"; `log_prob`). The discrete
likelihood is bounded by
  log P(k) ≥ E_q[log p_X((k + u)/256) - D ln 256 - log q(u | k)]
(Jensen; -D ln 256 is the Jacobian of the 1/256 scaling), and `bits_per_dim`
reports the negated bound per dimension in bits. With K samples,
log P(k) ≥ E log (1/K) Σ_i p(k + u_i) / q(u_i | k) is tighter (Flow++
eq. 12; `evaluate_final` with `model.eval_num_samples` = K > 1).

Architectures (`model.architecture`), all for [B, 28, 28, 1] Fashion-MNIST:
  nice     flatten to [B, 784]; `nice_num_couplings` additive couplings with
           alternating masks and MLP conditioners, then a diagonal scaling
           (an `ActNorm`: NICE's exp(S), data-initialised).
  realnvp  multiscale: per level `num_couplings` checkerboard affine
           couplings, squeeze, `num_couplings` channel couplings, factor out
           half; the last level `num_couplings` + 1 checkerboard couplings.
           Residual conv conditioners (`hidden` channels, `num_blocks`).
  glow     multiscale: per level squeeze, `num_steps` steps of actnorm ->
           invertible 1x1 conv (LU) -> affine channel coupling (sigmoid
           scale, Glow's conv3x3-conv1x1-conv3x3 net), factor out half.
The 7x7 level (28 -> 14 -> 7): squeezes are decided statically by
`squeeze_schedule(28, 28, L)` = (True, True, False): no squeeze at 7x7
(odd), no padding (padded pixels would be constants: no density on R^784).
RealNVP's last 7x7x4 level uses only checkerboard couplings, which work at
odd sizes; Glow's 7x7x4 level keeps channel couplings (4 channels, mixed by
the 1x1 convs). Latent dimensions: 392 + 196 + 196 = 784 for 3 levels.

Sampling: z ~ N(0, T² I) for every latent, x = pre⁻¹(f⁻¹(z)), clipped to
[0, 1] (T = `model.temperature`; Glow sec. 5 samples at T = 0.7); pixels
whose inverse overflowed float32 are set to 0 (NaN) or the bound (±inf).

Toy data (dataset_info['kind'] == 'toy', batch {'x': [B, D]}): the flow
maps x to z ~ N(0, I) directly; D = 2: `toy_num_layers` MLP affine
couplings (alternating masks) after an ActNorm; D = 1: `toy_num_layers`
blocks of ActNorm -> SinhArcsinh -> Planar (all monotone in 1-D).
`log_prob(params, x) -> [N]` is the exact density in nats.

Config (`config.model`): architecture ('nice' | 'realnvp' | 'glow'; ignored
on toy data), logit_alpha, num_levels, num_couplings, num_steps, hidden,
num_blocks, nice_num_couplings, nice_hidden_layers, scale_fn,
log_scale_bound, temperature, eval_num_samples, dequant_hidden,
dequant_num_couplings, toy_num_layers, toy_hidden; `config.data.
dequantization` ('uniform' | 'variational').

References:
  Dinh, Krueger and Bengio 2014, "NICE: Non-linear Independent Components
    Estimation", sec. 3-5.
  Dinh, Sohl-Dickstein and Bengio 2017, "Density estimation using Real NVP",
    sec. 3 and 4.1 (multiscale, logit preprocessing and its bits/dim).
  Kingma and Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1
    Convolutions", sec. 3 and 5 (temperature).
  Ho, Chen, Srinivas, Duan and Abbeel 2019, "Flow++", sec. 3.1 (variational
    dequantisation) and eq. 12.
  Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models", sec. 3.1 (uniform dequantisation bound).
"""

import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import flows
from gdm_jax.data.preprocess import dequantize_uniform
from gdm_jax import checks
from gdm_jax.data.toy import get_toy
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import apply_gradients
from gdm_jax.core.state import TrainState

ARCHITECTURES = ("nice", "realnvp", "glow")
DEQUANTIZATIONS = ("uniform", "variational")
LOG_256 = math.log(256.0)
_LOG_2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------ bits per dim

def bits_per_dim(log_prob_unit: jax.Array, log_q: jax.Array,
                 num_dims: int) -> jax.Array:
  """Bits/dim of 8-bit data under a dequantised continuous model.

  With k ∈ {0..255}^D, u ~ q(u | k) on [0, 1)^D, x = (k + u) / 256 and
  `log_prob_unit` = log p_X(x) the model's density on [0, 1)^D (every
  Jacobian between x and the latents included, e.g. for RealNVP's logit
  h = logit(α + (1 - 2α) x):
    log p_X(x) = log N(z; 0, I) + Σ_flow log|det J|
                 + Σ_d [log(1 - 2α) - log p_d - log(1 - p_d)],
    p_d = α + (1 - 2α) x_d),
  the density of y = k + u on [0, 256)^D is p_X(x) / 256^D, and

    bpd = (-log p_X(x) + log q(u | k) + D ln 256) / (D ln 2)
        = (-log N(z) - Σ log|det J| + log q(u | k) + D ln 256) / (D ln 2),

  the negated Jensen bound E_q[log p(k + u) - log q(u | k)] ≤ log P(k) in
  bits per dimension (an upper bound on the discrete model's bits/dim; for
  uniform dequantisation log q = 0). A density of 1 on [0, 1)^D gives
  exactly 8 bits/dim.

  Args:
    log_prob_unit: log p_X(x), nats, [B].
    log_q: log q(u | k), nats, [B] (0 for uniform dequantisation).
    num_dims: D.

  Returns:
    [B] bits/dim.

  Raises:
    ValueError: non-floating log_prob_unit or log_q, shapes that do not
      broadcast, or num_dims not a positive int.

  References:
    Theis et al. 2016, sec. 3.1; Dinh et al. 2017 ("Real NVP"), sec. 4.1;
    Ho et al. 2019 ("Flow++"), sec. 3.1.
  """
  fn = "flow.bits_per_dim"
  checks.check_array(fn, "log_prob_unit", log_prob_unit)
  checks.check_array(fn, "log_q", log_q)
  checks.check_broadcastable(fn, [("log_prob_unit", log_prob_unit),
                                  ("log_q", log_q)])
  checks.check_positive_int(fn, "num_dims", num_dims)
  return (-log_prob_unit + log_q + num_dims * LOG_256) / (
      num_dims * math.log(2.0))


def standard_normal_log_prob(z) -> jax.Array:
  """Σ log N(z; 0, I) over all non-batch axes of z (array or tuple): [B].

  Raises:
    ValueError: a latent that is not floating [B, ...], or latents with
      different batch sizes.
  """
  for i, zi in enumerate(z if isinstance(z, (tuple, list)) else [z]):
    checks.check_array("flow.standard_normal_log_prob", f"z[{i}]", zi,
                       min_rank=1, layout="[B, ...]")
  zf = flows.flatten_latents(z) if isinstance(z, (tuple, list)) else (
      z.reshape(z.shape[0], -1))
  return -0.5 * jnp.sum(zf * zf + _LOG_2PI, axis=-1)


# ------------------------------------------------------------ architectures

def realnvp_flow(shape: Sequence[int], num_levels: int = 3,
                 num_couplings: int = 3, hidden: int = 32, num_blocks: int = 1,
                 scale_fn: str = "tanh",
                 log_scale_bound: float = 2.0) -> flows.MultiscaleFlow:
  """RealNVP's multiscale flow on [B, H, W, C] (see the module docstring).

  Level k < L-1: `num_couplings` checkerboard couplings (alternating
  parity), a squeeze if `squeeze_schedule` allows it, `num_couplings`
  channel couplings, then half the channels are factored out. Level L-1:
  `num_couplings` + 1 checkerboard couplings.

  Raises:
    ValueError: a non-final level that would have < 2 channels (nothing to
      factor out), e.g. an odd-sized 1-channel input with num_levels > 1.

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", sec. 3.6 and 4.1.
  """
  h, w, c = shape
  schedule = flows.squeeze_schedule(h, w, num_levels)
  levels = []
  for k, squeeze in enumerate(schedule):
    last = k == num_levels - 1
    cond = lambda: flows.ResNetConditioner(hidden, num_blocks)
    coupling = lambda mask, i: flows.AffineCoupling(
        mask, i % 2 == 1, conditioner=cond(), scale_fn=scale_fn,
        log_scale_bound=log_scale_bound)
    n_cb = num_couplings + 1 if last else num_couplings
    layers = [coupling("checkerboard", i) for i in range(n_cb)]
    if not last:
      if squeeze:
        layers.append(flows.Squeeze())
        c *= 4
      if c < 2:
        raise ValueError(f"realnvp_flow: level {k} has {c} channel(s) and "
                         "cannot be squeezed (odd size): use fewer levels.")
      layers += [coupling("channel", i) for i in range(num_couplings)]
      c -= c // 2
    levels.append(flows.Chain(layers))
  return flows.MultiscaleFlow(levels)


def glow_flow(shape: Sequence[int], num_levels: int = 3, num_steps: int = 4,
              hidden: int = 64, log_scale_bound: float = 2.0,
              scale_fn: str = "sigmoid") -> flows.MultiscaleFlow:
  """Glow's multiscale flow on [B, H, W, C] (see the module docstring).

  Level k: a squeeze where `squeeze_schedule` allows it, then `num_steps`
  steps of ActNorm -> InvertibleConv1x1 -> AffineCoupling("channel",
  Glow's ConvConditioner, `scale_fn`); factor out half the channels after
  every level but the last.

  Raises:
    ValueError: a level with < 2 channels (channel couplings need 2).

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 3, fig. 2 and table 1.
  """
  h, w, c = shape
  schedule = flows.squeeze_schedule(h, w, num_levels)
  levels = []
  for k, squeeze in enumerate(schedule):
    layers = []
    if squeeze:
      layers.append(flows.Squeeze())
      c *= 4
    if c < 2:
      raise ValueError(f"glow_flow: level {k} has {c} channel(s); channel "
                       "couplings need 2 (input too small to squeeze).")
    for _ in range(num_steps):
      layers += [flows.ActNorm(), flows.InvertibleConv1x1(),
                 flows.AffineCoupling(
                     "channel", conditioner=flows.ConvConditioner(hidden),
                     scale_fn=scale_fn, log_scale_bound=log_scale_bound)]
    if k < num_levels - 1:
      c -= c // 2
    levels.append(flows.Chain(layers))
  return flows.MultiscaleFlow(levels)


def nice_flow(shape: Sequence[int], num_couplings: int = 4, hidden: int = 256,
              hidden_layers: int = 2) -> flows.Chain:
  """NICE: flatten, additive couplings (alternating masks), diagonal scaling.

  [B, *shape] -> [B, D]. Conditioners are MLPs with `hidden_layers` ReLU
  layers of `hidden` units; the final ActNorm is NICE's scaling layer
  y = exp(S) ⊙ x (+ a bias, zero in expectation after its data init).

  References:
    Dinh, Krueger and Bengio 2014, "NICE", sec. 3.3 (scaling) and 5.1.
  """
  d = math.prod(shape)
  layers = [flows.Reshape(tuple(shape), (d,))]
  layers += [flows.AdditiveCoupling(
      "alternating", i % 2 == 1,
      conditioner=flows.MLPConditioner((hidden,) * hidden_layers))
             for i in range(num_couplings)]
  layers.append(flows.ActNorm())
  return flows.Chain(layers)


def toy_flow(dim: int, num_layers: int = 8, hidden: int = 64,
             log_scale_bound: float = 2.0) -> flows.Chain:
  """A flow x [B, D] -> z [B, D] for toy densities.

  D >= 2: ActNorm, then `num_layers` affine couplings (alternating masks,
  MLP conditioners with two hidden layers of `hidden` units, tanh-bounded
  log-scales). D = 1: `num_layers` blocks ActNorm -> SinhArcsinh -> Planar,
  each strictly increasing, so the flow is a monotone map of R.

  Raises:
    ValueError: dim < 1.
  """
  if dim < 1:
    raise ValueError(f"toy_flow: dim must be >= 1, got {dim}.")
  if dim == 1:
    layers = []
    for _ in range(num_layers):
      layers += [flows.ActNorm(), flows.SinhArcsinh(),
                 flows.Planar(init_stddev=0.1)]
    return flows.Chain(layers)
  layers = [flows.ActNorm()]
  layers += [flows.AffineCoupling(
      "alternating", i % 2 == 1,
      conditioner=flows.MLPConditioner((hidden, hidden)),
      log_scale_bound=log_scale_bound) for i in range(num_layers)]
  return flows.Chain(layers)


# ------------------------------------------------------------ dequantisation

class VariationalDequantizer(nn.Module):
  """q(u | k): ε ~ N(0, I), u = sigmoid(g(ε; c(k))), g conditional couplings.

    log q(u | k) = log N(ε; 0, I) - log|det ∂g/∂ε| - Σ log σ'(v),
    v = g(ε; c),  log σ'(v) = log σ(v) + log σ(-v).

  c(k) = conv3x3-ReLU-conv3x3 features of the image k / 255 - 1/2; g is a
  `ConditionalAffine` followed by `num_couplings` checkerboard
  `ConditionalAffineCoupling`s (alternating parity).

  Call: (ε [B, H, W, C], image float [B, H, W, C] in [0, 1]) -> (u in
  (0, 1) [B, H, W, C], log q [B]).

  Raises:
    ValueError: (at call) eps or image not floating [B, H, W, C], or of
      different shapes.

  References:
    Ho et al. 2019, "Flow++", sec. 3.1 and 4.
  """
  hidden: int = 16
  num_couplings: int = 2

  @nn.compact
  def __call__(self, eps: jax.Array, image: jax.Array):
    fn = "VariationalDequantizer.__call__"
    checks.check_array(fn, "eps", eps, rank=4, layout="[B, H, W, C]")
    checks.check_array(fn, "image", image, rank=4, layout="[B, H, W, C]")
    checks.check_same_shape(fn, [("eps", eps), ("image", image)])
    ctx = nn.relu(nn.Conv(self.hidden, (3, 3), padding="SAME")(image - 0.5))
    ctx = nn.Conv(self.hidden, (3, 3), padding="SAME")(ctx)
    members = [flows.ConditionalAffine()]
    members += [flows.ConditionalAffineCoupling("checkerboard", i % 2 == 1,
                                                hidden=self.hidden)
                for i in range(self.num_couplings)]
    v, log_det = flows.ConditionalChain(members)(eps, ctx)
    log_sig = jax.nn.log_sigmoid(v) + jax.nn.log_sigmoid(-v)
    log_q = (standard_normal_log_prob(eps) - log_det
             - flows.sum_except_batch(log_sig))
    return jax.nn.sigmoid(v), log_q


# ------------------------------------------------------------ the model

class Flow(NamedTuple):
  """The model interface (see models/base.py) plus the flow's own functions.

  Extra pure functions (params = state.params):
    log_prob(params, x) -> [B], nats: log p_X(x) for x in model space
      ([0, 1)^D images, i.e. already dequantised and scaled; toy data as is).
    dequantize(params, image, rng) -> (x [B, H, W, C] in [0, 1), log_q [B])
      (images only; log_q = 0 for uniform dequantisation).
    forward(params, x) -> (latents, log_det [B]) and inverse(params, z)
      -> (x, log_det [B]): the whole map x <-> z (pre-transform included).
    sample_with_temperature(params, rng, n, temperature) -> [n, ...].

  Every function checks its inputs at trace time (`gdm_jax.checks`): data
  must be [B, *dataset_info['shape']] (uint8 'image' or float 'x' in
  batches, float x for log_prob/forward), latents must have the flow's
  latent shapes, and n must be a positive int; else ValueError naming e.g.
  "flow.log_prob".
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  log_prob: Callable
  dequantize: Callable
  forward: Callable
  inverse: Callable
  sample_with_temperature: Callable
  flow: nn.Module


def _frozen_labels(params):
  """'frozen' for leaves in a 'constants' collection (1x1 conv's P, sign)."""
  def label(path, _):
    keys = [getattr(p, "key", None) for p in path]
    return "frozen" if "constants" in keys else "train"
  return jax.tree_util.tree_map_with_path(label, params)


def validate_config(mc, data_config, toy: bool) -> None:
  """Raises ValueError with the field name for an invalid setting."""
  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  if not toy:
    check(mc.architecture in ARCHITECTURES, f"model.architecture must be one "
          f"of {ARCHITECTURES}; got '{mc.architecture}'.")
    deq = data_config.get("dequantization", "uniform")
    check(deq in DEQUANTIZATIONS, f"data.dequantization must be one of "
          f"{DEQUANTIZATIONS} for flows; got '{deq}'.")
    check(data_config.get("binarization", "none") == "none",
          "flows model dequantised 8-bit data: set data.binarization='none'.")
    check(0.0 <= mc.logit_alpha < 0.5,
          f"model.logit_alpha must be in [0, 0.5); got {mc.logit_alpha}.")
    check(mc.eval_num_samples >= 1,
          f"model.eval_num_samples must be >= 1; got {mc.eval_num_samples}.")
  check(mc.temperature >= 0,
        f"model.temperature must be >= 0; got {mc.temperature}.")


def make(config, dataset_info: dict) -> Flow:
  """Builds the flow family's functions (see module docstring).

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...} for images, or {'kind': 'toy',
      'shape': (D,), ...} for toy data.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  toy = dataset_info.get("kind") == "toy"
  validate_config(mc, config.data, toy)
  shape = tuple(dataset_info["shape"])
  num_dims = math.prod(shape)
  tx = optax.multi_transform(
      {"train": make_optimizer(config.optimizer, config.train.num_steps),
       "frozen": optax.set_to_zero()}, _frozen_labels)
  if toy:
    flow = toy_flow(num_dims, mc.toy_num_layers, mc.toy_hidden,
                    mc.log_scale_bound)
  elif mc.architecture == "realnvp":
    flow = realnvp_flow(shape, mc.num_levels, mc.num_couplings, mc.hidden,
                        mc.num_blocks, mc.scale_fn, mc.log_scale_bound)
  elif mc.architecture == "glow":
    flow = glow_flow(shape, mc.num_levels, mc.num_steps, mc.hidden,
                     mc.log_scale_bound, mc.scale_fn)
  else:
    flow = nice_flow(shape, mc.nice_num_couplings, mc.hidden,
                     mc.nice_hidden_layers)
  variational = (not toy and
                 config.data.get("dequantization", "uniform") == "variational")
  dequantizer = (VariationalDequantizer(mc.dequant_hidden,
                                        mc.dequant_num_couplings)
                 if variational else None)
  alpha = 0.0 if toy else float(mc.logit_alpha)
  data_log_prob = None
  if toy and dataset_info.get("has_log_prob"):
    data_log_prob = get_toy(dataset_info["name"],
                            **dict(dataset_info.get("params") or {})).log_prob
  logit = flows.Logit(alpha)

  # Per-example latent shapes, for sampling (abstract evaluation only).
  latent_struct = jax.eval_shape(
      lambda: flow.init_with_output(jax.random.PRNGKey(0),
                                    jnp.zeros((2,) + shape))[0][0])
  latent_shapes = [l.shape[1:] for l in jax.tree.leaves(latent_struct)]
  latents_are_tuple = isinstance(latent_struct, tuple)

  data_key = "x" if toy else "image"
  data_dtype = "floating" if toy else "numeric"

  def check_batch(fn, batch):
    checks.check_batch(f"flow.{fn}", batch, data_key, shape, data_dtype)

  def check_x(fn, x):
    checks.check_example_batch(f"flow.{fn}", "x", x, shape)

  def check_z(fn, z):
    zs = list(z) if isinstance(z, (tuple, list)) else [z]
    if len(zs) != len(latent_shapes) or (
        isinstance(z, (tuple, list)) != latents_are_tuple):
      raise ValueError(f"flow.{fn}: `z` must be "
                       + (f"a tuple of {len(latent_shapes)} latents"
                          if latents_are_tuple else "one array")
                       + f" of per-example shapes {latent_shapes}; got "
                       f"{[checks.shape_of(zi) for zi in zs]}.")
    for i, (zi, s) in enumerate(zip(zs, latent_shapes)):
      checks.check_example_batch(f"flow.{fn}", f"z[{i}]" if len(zs) > 1
                                 else "z", zi, s)
    checks.check_same_batch(f"flow.{fn}", [(f"z[{i}]", zi)
                                           for i, zi in enumerate(zs)])

  # -- pre-transform x -> h (identity on toy data).
  def pre_forward(x):
    if toy:
      return x, jnp.zeros(x.shape[:1], x.dtype)
    if alpha > 0:
      return logit.apply({}, x)
    return x - 0.5, jnp.zeros(x.shape[:1], x.dtype)

  def pre_inverse(h):
    if toy:
      return h
    if alpha > 0:
      return logit.apply({}, h, method="inverse")[0]
    return h + 0.5

  def forward(params, x):
    check_x("forward", x)
    h, ld_pre = pre_forward(x)
    z, ld = flow.apply(params["flow"], h)
    return z, ld + ld_pre

  def inverse(params, z):
    check_z("inverse", z)
    h, ld = flow.apply(params["flow"], z, method="inverse")
    if toy or alpha == 0:
      return pre_inverse(h), ld
    x, ld_pre = logit.apply({}, h, method="inverse")
    return x, ld + ld_pre

  def log_prob(params, x):
    check_x("log_prob", x)
    z, ld = forward(params, x)
    return standard_normal_log_prob(z) + ld

  def dequantize(params, image, rng):
    """uint8 [B, H, W, C] -> (x = (k + u) / 256 in [0, 1), log q(u|k) [B])."""
    if toy:
      raise ValueError("flow.dequantize: toy data are continuous; there is "
                       "nothing to dequantise.")
    checks.check_example_batch("flow.dequantize", "image", image, shape,
                               "numeric")
    if not variational:
      return (dequantize_uniform(rng, image),
              jnp.zeros(image.shape[:1], jnp.float32))
    k = image.astype(jnp.float32)
    eps = jax.random.normal(rng, image.shape, jnp.float32)
    u, log_q = dequantizer.apply(params["dequant"], eps, k / 255.0)
    # As in dequantize_uniform: keep k + u inside its bin in float32.
    y = jnp.minimum(k + u, jnp.nextafter(k + 1.0, k))
    return y / 256.0, log_q

  def _image_terms(params, image, rng):
    x, log_q = dequantize(params, image, rng)
    lp = log_prob(params, x)
    return lp, log_q

  def loss_fn(params, batch, rng):
    if toy:
      nll = -log_prob(params, batch["x"])
      return jnp.mean(nll), {"nll": jnp.mean(nll)}
    lp, log_q = _image_terms(params, batch["image"], rng)
    bpd = bits_per_dim(lp, log_q, num_dims)
    aux = {"nll": jnp.mean(-lp), "bits_per_dim": jnp.mean(bpd)}
    if variational:
      aux["log_q"] = jnp.mean(log_q)
    return jnp.mean(bpd), aux

  def init(rng, batch):
    check_batch("init", batch)
    flow_rng, deq_rng, noise_rng, state_rng = jax.random.split(rng, 4)
    params = {}
    if toy:
      x = batch["x"].astype(jnp.float32)
    else:
      image = batch["image"]
      if variational:
        eps = jnp.zeros(image.shape, jnp.float32)
        params["dequant"] = dequantizer.init(
            deq_rng, eps, image.astype(jnp.float32) / 255.0)
      x, _ = dequantize(params, image, noise_rng)
      x, _ = pre_forward(x)
    # ActNorm's data-dependent init sees the data in the density direction.
    params["flow"] = flow.init(flow_rng, x)
    return TrainState.create(state_rng, params, tx.init(params))

  def train_step(state, batch, rng):
    check_batch("train_step", batch)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, batch, rng)
    state = apply_gradients(state, grads, tx)
    return state, {"loss": loss, "grad_norm": optax.global_norm(grads), **aux}

  def evaluate(params, batch, rng):
    check_batch("evaluate", batch)
    if toy:
      return {"nll": -log_prob(params, batch["x"])}
    lp, log_q = _image_terms(params, batch["image"], rng)
    return {"nll": -lp, "bits_per_dim": bits_per_dim(lp, log_q, num_dims)}

  def evaluate_final(params, batch, rng):
    check_batch("evaluate_final", batch)
    out = evaluate(params, batch, rng)
    if data_log_prob is not None:
      # KL(p_data || p_model) = E_data[log p_data(x) - log p_model(x)].
      out["kl_data_model"] = data_log_prob(batch["x"]) + out["nll"]
    k = 1 if toy else mc.eval_num_samples
    if k > 1:
      # log P(k) >= log (1/K) Σ_i p(k + u_i) / q(u_i | k), u_i ~ q.
      def one(key):
        lp, log_q = _image_terms(params, batch["image"], key)
        return lp - log_q
      log_w = jax.lax.map(one, jax.random.split(jax.random.fold_in(rng, 1), k))
      bound = jax.nn.logsumexp(log_w, axis=0) - math.log(k)       # [B]
      out["iw_bits_per_dim"] = bits_per_dim(bound, jnp.zeros_like(bound),
                                            num_dims)
    return out

  def sample_with_temperature(params, rng, n, temperature):
    """[n, ...] samples x = f⁻¹(z), z ~ N(0, T² I); `temperature` is a
    scalar or an [n] array (one T per sample)."""
    checks.check_positive_int("flow.sample_with_temperature", "n", n)
    checks.check_array("flow.sample_with_temperature", "temperature",
                       temperature, dtype="numeric")
    if checks.shape_of(temperature) not in ((), (n,)):
      raise ValueError(f"flow.sample_with_temperature: `temperature` must be "
                       f"a scalar or [n] = [{n}]; got shape "
                       f"{checks.shape_of(temperature)}.")
    t = jnp.broadcast_to(jnp.asarray(temperature, jnp.float32), (n,))
    keys = jax.random.split(rng, len(latent_shapes))
    zs = [jax.random.normal(k, (n,) + tuple(s), jnp.float32)
          * t.reshape((n,) + (1,) * len(s)) for k, s in zip(keys, latent_shapes)]
    z = tuple(zs) if latents_are_tuple else zs[0]
    x, _ = inverse(params, z)
    if toy:
      return x
    # A tail latent can overflow float32 on the way back (an inverse
    # coupling divides by its scale, e.g. Glow's sigmoid s in (0, 1), level
    # after level): such pixels become 0 (NaN) or the clip bound (±inf).
    return jnp.clip(jnp.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0),
                    0.0, 1.0)

  def sample(params, rng, n):
    checks.check_positive_int("flow.sample", "n", n)
    return sample_with_temperature(params, rng, n, mc.temperature)

  def images(params, batch, rng):
    """{'samples' (T = model.temperature), 'samples_t1.0', 'samples_t0.7',
    'samples_t0.0' (the others)}: [64, H, W, C] in [0, 1], drawn in one
    inverse pass; {} on toy data (the trainer draws scatter plots and
    log_prob contours itself)."""
    del batch
    if toy:
      return {}
    temps = [float(mc.temperature)] + [
        t for t in (1.0, 0.7, 0.0) if t != float(mc.temperature)]
    n = 64
    t = jnp.repeat(jnp.asarray(temps, jnp.float32), n)
    x = sample_with_temperature(params, rng, n * len(temps), t)
    names = ["samples"] + [f"samples_t{t:.1f}" for t in temps[1:]]
    return {name: x[i * n:(i + 1) * n] for i, name in enumerate(names)}

  def protocol():
    p = {"model": "flow", "temperature": mc.temperature,
         "log_prob": "exact change of variables, nats"}
    if toy:
      p.update(architecture=f"toy_{num_dims}d", nll="-log p(x), nats",
               kl_data_model=("E_test[log p_data(x) + nll(x)], nats"
                              if data_log_prob is not None else None))
      return p
    p.update(
        architecture=mc.architecture,
        dequantization=("variational (Flow++ conditional coupling flow)"
                        if variational else "uniform"),
        pre_transform=(f"logit(alpha={alpha:g})" if alpha > 0 else "x - 0.5"),
        nll="-log p_X(x), nats, x = (k + u)/256 in [0, 1)^D, one u per example",
        bits_per_dim="(-log p_X(x) + log q(u|k) + D ln 256) / (D ln 2)",
        iw_num_samples=mc.eval_num_samples)
    return p

  return Flow(init, train_step, evaluate, evaluate_final, sample, protocol,
              images, log_prob, dequantize, forward, inverse,
              sample_with_temperature, flow)

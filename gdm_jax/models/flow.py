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
(Jensen; -D ln 256 is the Jacobian of the 1/256 scaling); its negation in
bits per dimension is `distributions.bits_per_dim(log q - log p_X, D,
ln 256)`. With K samples, log P(k) ≥ E log (1/K) Σ_i p(k + u_i) / q(u_i | k)
is tighter (Flow++ eq. 12; `importance_weighted_log_prob`, reported by
`evaluate_final` with `model.eval_num_samples` = K > 1).

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

Functions (a notebook calls them on a checkpoint's params without `make`;
`net = build_networks(config.model, shape, toy=..., dequantization=
config.data.dequantization)` rebuilds the architecture):
  forward / inverse / log_prob        the change of variables x <-> z;
  dequantize, dequantized_log_prob    x = (k + u)/256, u ~ q(u | k);
  importance_weighted_log_prob        Flow++'s K-sample bound;
  image_loss / toy_loss, metrics      the training objective and the
                                      per-example evaluation metrics;
  sample, temperature_samples         z ~ N(0, T² I), x = f⁻¹(z);
  init                                data-dependent initialisation.
`make` wires them into the `Flow` model (models/base.py).

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

import dataclasses
import functools
import math
from typing import Any, Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax import flows
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import dequantize_uniform
from gdm_jax.data.toy import get_toy

from gdm_jax.models import base

ARCHITECTURES = ("nice", "realnvp", "glow")
DEQUANTIZATIONS = ("uniform", "variational")
LOG_256 = math.log(256.0)


def standard_normal_log_prob(z) -> jax.Array:
  """Σ log N(z; 0, I) over all non-batch axes of z (array or tuple): [B].

    log N(z; 0, I) = -½ Σ_d (z_d² + log 2π),  nats.

  Raises:
    ValueError: a latent that is not floating [B, ...], or latents with
      different batch sizes.
  """
  for i, zi in enumerate(z if isinstance(z, (tuple, list)) else [z]):
    checks.check_arg("flow.standard_normal_log_prob", f"z[{i}]", zi,
                     "floating [B, ...]")
  zf = flows.flatten_latents(z) if isinstance(z, (tuple, list)) else (
      z.reshape(z.shape[0], -1))
  return distributions.sum_except_batch(
      distributions.standard_normal_log_prob(zf))


# ------------------------------------------------------------ architectures

def _squeeze(squeeze: bool, channels: int, error: str):
  """([Squeeze()] or [], the channels after it) for a level that goes on
  with channel couplings; ValueError(error.format(c=...)) for < 2."""
  layers, c = ([flows.Squeeze()], 4 * channels) if squeeze else ([], channels)
  if c < 2:
    raise ValueError(error.format(c=c))
  return layers, c


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
      squeezed, c = _squeeze(squeeze, c, f"realnvp_flow: level {k} has {{c}} "
                             "channel(s) and cannot be squeezed (odd size): "
                             "use fewer levels.")
      layers += squeezed + [coupling("channel", i)
                            for i in range(num_couplings)]
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
    layers, c = _squeeze(squeeze, c, f"glow_flow: level {k} has {{c}} "
                         "channel(s); channel couplings need 2 (input too "
                         "small to squeeze).")
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
    """(ε [B, H, W, C] ~ N(0, I), image [B, H, W, C] in [0, 1]) -> (u in
    (0, 1) [B, H, W, C], log q(u | image) [B]) (class docstring)."""
    fn = "VariationalDequantizer.__call__"
    checks.check_arg(fn, "eps", eps, "floating [B, H, W, C]")
    checks.check_arg(fn, "image", image, "floating [B, H, W, C]")
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


# ------------------------------------------------------------ the networks

@dataclasses.dataclass(frozen=True)
class FlowNet:
  """The static architecture of a flow model (no parameters).

  The model's variables are `params = {'flow': ..., 'dequant': ...}` ('dequant'
  only for variational dequantisation), as `init` returns them.

  Attributes:
    flow: the bijector h [B, *shape] -> latents z (an array, or a tuple of
      the factored-out latents of a multiscale flow).
    pre: the parameter-free bijector x -> h from model space to the flow's
      input: `flows.Logit(α)`, Glow's `Shift(-0.5)`, or `Shift(0.0)` (the
      identity, toy data).
    shape: the per-example data shape, (H, W, C) or (D,).
    dequantizer: the variational q(u | k), or None (uniform dequantisation;
      toy data).
    image: True for 8-bit images (dequantised, samples clipped to [0, 1]),
      False for continuous toy vectors.
  """
  flow: nn.Module
  pre: nn.Module
  shape: tuple[int, ...]
  dequantizer: Optional[nn.Module] = None
  image: bool = True

  @property
  def num_dims(self) -> int:
    """D, the number of data dimensions per example."""
    return math.prod(self.shape)

  @functools.cached_property
  def latent_struct(self) -> Any:
    """The flow's output for a [2, *shape] input, as ShapeDtypeStructs (an
    array or a tuple of latents; abstract evaluation only)."""
    return jax.eval_shape(lambda: self.flow.init_with_output(
        jax.random.PRNGKey(0), jnp.zeros((2,) + tuple(self.shape)))[0][0])

  @property
  def latent_shapes(self) -> list[tuple[int, ...]]:
    """Per-example shapes of the latents, in the flow's order."""
    return [l.shape[1:] for l in jax.tree.leaves(self.latent_struct)]


def build_flow(model_config, shape: Sequence[int],
               toy: bool = False) -> nn.Module:
  """The bijector of `model_config.architecture` for data of `shape`
  (`toy_flow` on toy data); see the module docstring.

  Raises:
    ValueError: as `realnvp_flow` / `glow_flow` / `toy_flow`.
  """
  mc, shape = model_config, tuple(shape)
  if toy:
    return toy_flow(math.prod(shape), mc.toy_num_layers, mc.toy_hidden,
                    mc.log_scale_bound)
  return {
      "realnvp": lambda: realnvp_flow(
          shape, mc.num_levels, mc.num_couplings, mc.hidden, mc.num_blocks,
          mc.scale_fn, mc.log_scale_bound),
      "glow": lambda: glow_flow(shape, mc.num_levels, mc.num_steps,
                                mc.hidden, mc.log_scale_bound, mc.scale_fn),
      "nice": lambda: nice_flow(shape, mc.nice_num_couplings, mc.hidden,
                                mc.nice_hidden_layers),
  }[mc.architecture]()


def build_networks(model_config, shape: Sequence[int], *, toy: bool = False,
                   dequantization: str = "uniform") -> FlowNet:
  """The `FlowNet` of a run from its `config.model` block.

  Args:
    model_config: `config.model` (see the module docstring's fields).
    shape: the per-example data shape (dataset_info['shape']).
    toy: continuous toy vectors rather than 8-bit images.
    dequantization: `config.data.dequantization`, 'uniform' or
      'variational' (images only).
  """
  mc = model_config
  variational = not toy and dequantization == "variational"
  alpha = 0.0 if toy else float(mc.logit_alpha)
  pre = (flows.Logit(alpha) if alpha > 0
         else flows.Shift(0.0 if toy else -0.5))
  return FlowNet(
      flow=build_flow(mc, shape, toy), pre=pre, shape=tuple(shape),
      dequantizer=(VariationalDequantizer(mc.dequant_hidden,
                                          mc.dequant_num_couplings)
                   if variational else None),
      image=not toy)


def _check_x(fn: str, net: FlowNet, x) -> None:
  checks.check_example_batch(f"flow.{fn}", "x", x, net.shape)


def _check_z(fn: str, net: FlowNet, z) -> None:
  """z must have the flow's latent structure with a common batch size."""
  shapes = net.latent_shapes
  as_tuple = isinstance(net.latent_struct, tuple)
  zs = list(z) if isinstance(z, (tuple, list)) else [z]
  if len(zs) != len(shapes) or isinstance(z, (tuple, list)) != as_tuple:
    raise ValueError(f"flow.{fn}: `z` must be "
                     + (f"a tuple of {len(shapes)} latents" if as_tuple
                        else "one array")
                     + f" of per-example shapes {shapes}; got "
                     f"{[checks.shape_of(zi) for zi in zs]}.")
  for i, (zi, s) in enumerate(zip(zs, shapes)):
    checks.check_example_batch(f"flow.{fn}", f"z[{i}]" if len(zs) > 1
                               else "z", zi, s)
  checks.check_same_batch(f"flow.{fn}", [(f"z[{i}]", zi)
                                         for i, zi in enumerate(zs)])


def batch_data(net: FlowNet, batch: base.Batch, fn: str = "evaluate"):
  """The data of a host batch after its check: batch['image'] (uint8 [B, H,
  W, C]) for images, batch['x'] (float [B, D]) for toy data. Other keys
  (the evaluator's 'mask') are ignored.

  Raises:
    ValueError: naming "flow.<fn>", a batch without that key or whose array
      is not [B, *net.shape] of the right dtype.
  """
  key = "image" if net.image else "x"
  checks.check_batch(f"flow.{fn}", batch, key, net.shape,
                     "numeric" if net.image else "floating")
  return batch[key]


# ------------------------------------------------------------ densities

def forward(net: FlowNet, params, x: jax.Array):
  """The whole map x -> z = f(pre(x)) and its log-det.

    log|det ∂z/∂x| = log|det ∂f/∂h| + log|det ∂pre/∂x|,  h = pre(x).

  Args:
    net, params: the architecture and its variables ({'flow': ...}).
    x: float [B, *shape] in model space ([0, 1)^D images; toy data as is).

  Returns:
    (z, log_det [B] nats): z an array or a tuple of latents.

  Raises:
    ValueError: x not floating [B, *net.shape].

  References:
    Dinh, Krueger and Bengio 2014, "NICE", eq. 2 (change of variables).
  """
  _check_x("forward", net, x)
  h, ld_pre = net.pre.apply({}, x)
  z, ld = net.flow.apply(params["flow"], h)
  return z, ld + ld_pre


def inverse(net: FlowNet, params, z):
  """The inverse map z -> x = pre⁻¹(f⁻¹(z)) and its log-det [B] (nats).

  Raises:
    ValueError: z without the flow's latent structure (`net.latent_shapes`)
      or with different batch sizes.
  """
  _check_z("inverse", net, z)
  h, ld = net.flow.apply(params["flow"], z, method="inverse")
  x, ld_pre = net.pre.apply({}, h, method="inverse")
  return x, ld + ld_pre


def log_prob(net: FlowNet, params, x: jax.Array) -> jax.Array:
  """The exact density of x in model space, nats [B]:

    log p_X(x) = log N(f(pre(x)); 0, I) + log|det ∂f/∂h| + log|det ∂pre/∂x|.

  Raises:
    ValueError: x not floating [B, *net.shape].

  References:
    Dinh, Sohl-Dickstein and Bengio 2017, "Real NVP", eq. 3; Kingma and
      Dhariwal 2018, "Glow", eq. 2-3.
  """
  _check_x("log_prob", net, x)
  z, ld = forward(net, params, x)
  return standard_normal_log_prob(z) + ld


# ------------------------------------------------------------ dequantisation

def dequantize(net: FlowNet, params, image: jax.Array, rng: jax.Array):
  """8-bit pixels k -> x = (k + u) / 256 in [0, 1) and log q(u | k).

  Uniform (net.dequantizer None): u ~ U[0, 1)^D, log q = 0 (Theis et al.
  2016). Variational: ε ~ N(0, I), u = sigmoid(g(ε; k)) (Flow++ sec. 3.1),
  log q from `VariationalDequantizer`. k + u is kept inside its bin in
  float32 (floor(256 x) = k).

  Args:
    net, params: as in `forward` (params['dequant'] for variational).
    image: uint8 (or integer-valued) [B, *net.shape] in {0..255}.
    rng: the key of the noise u (or ε).

  Returns:
    (x float32 [B, *shape] in [0, 1), log_q float32 [B] nats).

  Raises:
    ValueError: toy data (nothing to dequantise), or image not numeric
      [B, *net.shape].

  References:
    Theis, van den Oord and Bethge 2016, sec. 3.1; Ho et al. 2019,
      "Flow++", sec. 3.1.
  """
  if not net.image:
    raise ValueError("flow.dequantize: toy data are continuous; there is "
                     "nothing to dequantise.")
  checks.check_example_batch("flow.dequantize", "image", image, net.shape,
                             "numeric")
  if net.dequantizer is None:
    return (dequantize_uniform(rng, image),
            jnp.zeros(image.shape[:1], jnp.float32))
  k = image.astype(jnp.float32)
  eps = jax.random.normal(rng, image.shape, jnp.float32)
  u, log_q = net.dequantizer.apply(params["dequant"], eps, k / 255.0)
  # As in dequantize_uniform: keep k + u inside its bin in float32.
  y = jnp.minimum(k + u, jnp.nextafter(k + 1.0, k))
  return y / 256.0, log_q


def dequantized_log_prob(net: FlowNet, params, image: jax.Array,
                         rng: jax.Array):
  """log p_X(x) and log q(u | k) at one dequantised x = (k + u)/256, u ~ q.

  Their difference is a one-sample estimate of the Jensen bound
    log P(k) ≥ E_q[log p_X(x) - log q(u | k)] - D ln 256,
  so `distributions.bits_per_dim(log_q - log_p, D, LOG_256)` is an unbiased
  estimate of an upper bound on the discrete model's bits/dim; a density of
  1 on [0, 1)^D gives exactly 8.

  Returns:
    (log_p [B], log_q [B]), nats (log_q = 0 for uniform dequantisation).

  Raises:
    ValueError: as `dequantize`.

  References:
    Theis et al. 2016, sec. 3.1; Dinh et al. 2017, sec. 4.1; Ho et al.
      2019, "Flow++", eq. 11.
  """
  x, log_q = dequantize(net, params, image, rng)
  return log_prob(net, params, x), log_q


def importance_weighted_log_prob(net: FlowNet, params, image: jax.Array,
                                 rng: jax.Array,
                                 num_samples: int) -> jax.Array:
  """Flow++'s K-sample bound in model space, nats [B]:

    L_K = log (1/K) Σ_{i=1..K} p_X(x_i) / q(u_i | k),
    x_i = (k + u_i)/256, u_i ~ q(u | k) (keys split(rng, K)),

  with log P(k) ≥ E[L_K] - D ln 256, tighter as K grows (Burda et al.'s
  IWAE argument); bits/dim: `distributions.bits_per_dim(-L_K, D, LOG_256)`.
  The K samples run sequentially (`lax.map`), so memory is one batch's.

  Raises:
    ValueError: as `dequantize`, or num_samples not a positive int.

  References:
    Ho et al. 2019, "Flow++", eq. 12; Burda, Grosse and Salakhutdinov 2016,
      "Importance Weighted Autoencoders", eq. 8.
  """
  checks.check_positive_int("flow.importance_weighted_log_prob",
                            "num_samples", num_samples)

  def log_weight(key):
    lp, log_q = dequantized_log_prob(net, params, image, key)
    return lp - log_q

  log_w = jax.lax.map(log_weight, jax.random.split(rng, num_samples))
  return jax.nn.logsumexp(log_w, axis=0) - math.log(num_samples)


# ------------------------------------------------------------ objectives

def image_loss(net: FlowNet, params, image: jax.Array, rng: jax.Array):
  """The training loss on 8-bit images: the batch mean of

    bits/dim = (-log p_X(x) + log q(u | k) + D ln 256) / (D ln 2),

  one dequantisation x = (k + u)/256, u ~ q per example (`rng`); the
  gradient trains the flow and, for variational dequantisation, q.

  Args:
    net, params: see `FlowNet`.
    image: uint8 [B, *net.shape].
    rng: the dequantisation key.

  Returns:
    (loss [] bits/dim, {'nll': mean -log p_X [], 'bits_per_dim': [],
    'log_q': mean log q [] (variational only)}).

  References:
    Dinh et al. 2017, "Real NVP", sec. 4.1; Ho et al. 2019, "Flow++",
      sec. 3.1.
  """
  lp, log_q = dequantized_log_prob(net, params, image, rng)
  bpd = distributions.bits_per_dim(log_q - lp, net.num_dims, LOG_256)
  aux = {"nll": jnp.mean(-lp), "bits_per_dim": jnp.mean(bpd)}
  if net.dequantizer is not None:
    aux["log_q"] = jnp.mean(log_q)
  return jnp.mean(bpd), aux


def toy_loss(net: FlowNet, params, x: jax.Array, rng=None):
  """The training loss on toy data: mean -log p(x), nats; (loss, {'nll'}).
  `rng` is unused (the density is exact)."""
  del rng
  nll = jnp.mean(-log_prob(net, params, x))
  return nll, {"nll": nll}


def metrics(net: FlowNet, params, data: jax.Array, rng: jax.Array, *,
            num_samples: int = 1,
            data_log_prob: Optional[Callable] = None) -> dict:
  """Per-example evaluation metrics [B].

  Images (`data` uint8 [B, H, W, C]): 'nll' = -log p_X(x) (model-space
  nats, one dequantisation from `rng`) and 'bits_per_dim' (the one-sample
  bound, see `dequantized_log_prob`); with num_samples = K > 1 also
  'iw_bits_per_dim' from `importance_weighted_log_prob` (keys from
  fold_in(rng, 1)). Toy data (float [B, D]): 'nll' = -log p(x), and with
  `data_log_prob` (the data's exact log-density) 'kl_data_model' =
  log p_data(x) - log p(x), whose mean estimates KL(p_data || p_model).

  References:
    Theis et al. 2016, sec. 3.1; Ho et al. 2019, "Flow++", eq. 12.
  """
  if not net.image:
    out = {"nll": -log_prob(net, params, data)}
    if data_log_prob is not None:
      out["kl_data_model"] = data_log_prob(data) + out["nll"]
    return out
  lp, log_q = dequantized_log_prob(net, params, data, rng)
  out = {"nll": -lp, "bits_per_dim": distributions.bits_per_dim(
      log_q - lp, net.num_dims, LOG_256)}
  if num_samples > 1:
    bound = importance_weighted_log_prob(
        net, params, data, jax.random.fold_in(rng, 1), num_samples)
    out["iw_bits_per_dim"] = distributions.bits_per_dim(
        -bound, net.num_dims, LOG_256)
  return out


# ------------------------------------------------------------ sampling

def sample(net: FlowNet, params, rng: jax.Array, n: int,
           temperature=1.0) -> jax.Array:
  """n samples x = pre⁻¹(f⁻¹(z)), z ~ N(0, T² I) for every latent.

  T < 1 trades diversity for fidelity (Glow sec. 5 samples at T = 0.7); T =
  0 is the single point f⁻¹(0). Images are clipped to [0, 1]; a tail latent
  can overflow float32 on the way back (an inverse coupling divides by its
  scale, e.g. Glow's sigmoid s in (0, 1), level after level): such pixels
  become 0 (NaN) or the clip bound (±inf).

  Args:
    net, params: see `FlowNet`.
    rng: one key per latent is split from it.
    n: the number of samples, a positive int (static).
    temperature: T, a scalar or an [n] array (one T per sample).

  Returns:
    float32 [n, *net.shape]: images in [0, 1], toy vectors as they come.

  Raises:
    ValueError: n not a positive int, or temperature not numeric of shape ()
      or [n].

  References:
    Kingma and Dhariwal 2018, "Glow", sec. 5 (temperature).
  """
  checks.check_positive_int("flow.sample", "n", n)
  checks.check_arg("flow.sample", "temperature", temperature, "numeric")
  if checks.shape_of(temperature) not in ((), (n,)):
    raise ValueError(f"flow.sample: `temperature` must be a scalar or [n] = "
                     f"[{n}]; got shape {checks.shape_of(temperature)}.")
  t = jnp.broadcast_to(jnp.asarray(temperature, jnp.float32), (n,))
  shapes = net.latent_shapes
  keys = jax.random.split(rng, len(shapes))
  zs = [jax.random.normal(k, (n,) + tuple(s), jnp.float32)
        * t.reshape((n,) + (1,) * len(s)) for k, s in zip(keys, shapes)]
  x, _ = inverse(net, params,
                 tuple(zs) if isinstance(net.latent_struct, tuple) else zs[0])
  if not net.image:
    return x
  return jnp.clip(jnp.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0),
                  0.0, 1.0)


def temperature_samples(net: FlowNet, params, rng: jax.Array,
                        temperature: float, n: int = 64) -> dict:
  """The pictures of an evaluation: {'samples' (T = `temperature`),
  'samples_t1.0', 'samples_t0.7', 'samples_t0.0' (the other T)}, each
  [n, H, W, C] in [0, 1], drawn in one inverse pass; {} for toy data (the
  trainer draws scatter plots and log_prob contours itself)."""
  if not net.image:
    return {}
  temps = [float(temperature)] + [
      t for t in (1.0, 0.7, 0.0) if t != float(temperature)]
  t = jnp.repeat(jnp.asarray(temps, jnp.float32), n)
  x = sample(net, params, rng, n * len(temps), t)
  names = ["samples"] + [f"samples_t{t:.1f}" for t in temps[1:]]
  return {name: x[i * n:(i + 1) * n] for i, name in enumerate(names)}


# ------------------------------------------------------------ set-up

def init(net: FlowNet, tx: optax.GradientTransformation, rng: jax.Array,
         data: jax.Array) -> TrainState:
  """Parameters and optimiser state from an example batch.

  ActNorm's data-dependent initialisation (Glow sec. 3.1) sees the batch in
  the density direction: images are dequantised (uniformly, or by the
  freshly initialised q) and pre-transformed first. Keys: split(rng, 4) =
  (flow, dequantiser, dequantisation noise, state).

  Args:
    net: the architecture; tx: the optax chain (`build_optimizer`).
    rng: a PRNG key.
    data: uint8 [B, H, W, C] images or float [B, D] toy data.
  """
  flow_rng, deq_rng, noise_rng, state_rng = jax.random.split(rng, 4)
  params = {}
  x = data.astype(jnp.float32)
  if net.image:
    if net.dequantizer is not None:
      params["dequant"] = net.dequantizer.init(
          deq_rng, jnp.zeros(data.shape, jnp.float32), x / 255.0)
    x, _ = dequantize(net, params, data, noise_rng)
  h, _ = net.pre.apply({}, x)
  params["flow"] = net.flow.init(flow_rng, h)
  return TrainState.create(state_rng, params, tx.init(params))


def build_optimizer(optimizer_config,
                    num_steps: int) -> optax.GradientTransformation:
  """`make_optimizer`'s chain on the trainable parameters; the leaves of
  'constants' collections (the 1x1 convolutions' P and sign(s)) stay fixed."""
  def labels(params):
    def label(path, _):
      keys = [getattr(p, "key", None) for p in path]
      return "frozen" if "constants" in keys else "train"
    return jax.tree_util.tree_map_with_path(label, params)
  return optax.multi_transform(
      {"train": make_optimizer(optimizer_config, num_steps),
       "frozen": optax.set_to_zero()}, labels)


def validate_config(mc, data_config, toy: bool) -> None:
  """Raises ValueError with the field name for the first invalid setting
  (image-only fields are not read for toy data)."""
  deq = data_config.get("dequantization", "uniform")
  image_rules = lambda: [
      (mc.architecture in ARCHITECTURES, f"model.architecture must be one of "
       f"{ARCHITECTURES}; got '{mc.architecture}'."),
      (deq in DEQUANTIZATIONS, f"data.dequantization must be one of "
       f"{DEQUANTIZATIONS} for flows; got '{deq}'."),
      (data_config.get("binarization", "none") == "none", "flows model "
       "dequantised 8-bit data: set data.binarization='none'."),
      (0.0 <= mc.logit_alpha < 0.5, f"model.logit_alpha must be in [0, 0.5); "
       f"got {mc.logit_alpha}."),
      (mc.eval_num_samples >= 1, f"model.eval_num_samples must be >= 1; got "
       f"{mc.eval_num_samples}.")]
  rules = (image_rules() if not toy else []) + [
      (mc.temperature >= 0, f"model.temperature must be >= 0; got "
       f"{mc.temperature}.")]
  for ok, message in rules:
    if not ok:
      raise ValueError(message)


def protocol(mc, net: FlowNet, has_data_log_prob: bool = False) -> dict:
  """How the final metrics were computed (for final_metrics.json)."""
  p = {"model": "flow", "temperature": mc.temperature,
       "log_prob": "exact change of variables, nats"}
  if not net.image:
    p.update(architecture=f"toy_{net.num_dims}d", nll="-log p(x), nats",
             kl_data_model=("E_test[log p_data(x) + nll(x)], nats"
                            if has_data_log_prob else None))
    return p
  alpha = float(mc.logit_alpha)
  p.update(
      architecture=mc.architecture,
      dequantization=("variational (Flow++ conditional coupling flow)"
                      if net.dequantizer is not None else "uniform"),
      pre_transform=(f"logit(alpha={alpha:g})" if alpha > 0 else "x - 0.5"),
      nll="-log p_X(x), nats, x = (k + u)/256 in [0, 1)^D, one u per example",
      bits_per_dim="(-log p_X(x) + log q(u|k) + D ln 256) / (D ln 2)",
      iw_num_samples=mc.eval_num_samples)
  return p


# ------------------------------------------------------------ the model

@dataclasses.dataclass(frozen=True, kw_only=True)
class Flow(base.Model):
  """The model interface (models/base.py; `log_prob(params, x) -> [N]` nats
  in model space) plus the flow's own functions, each the module-level
  function of the same name bound to `net`:

    dequantize(params, image, rng) -> (x [B, H, W, C] in [0, 1), log_q [B]);
    forward(params, x) -> (latents, log_det [B]), inverse(params, z) -> (x,
      log_det [B]): the whole map x <-> z (pre-transform included);
    sample_with_temperature(params, rng, n, temperature) -> [n, ...]
      (`sample`).

  Every function checks its inputs at trace time (`gdm_jax.checks`): data
  must be [B, *dataset_info['shape']] (uint8 'image' or float 'x' in
  batches, float x for log_prob/forward), latents must have the flow's
  latent shapes, and n must be a positive int; else ValueError naming e.g.
  "flow.log_prob".
  """
  net: FlowNet
  dequantize: Callable
  forward: Callable
  inverse: Callable
  sample_with_temperature: Callable

  @property
  def flow(self) -> nn.Module:
    """The bijector (`net.flow`)."""
    return self.net.flow


def make(config, dataset_info: dict) -> Flow:
  """Wires the flow family's functions (see module docstring) into a `Flow`.

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...} for images, or {'kind': 'toy',
      'shape': (D,), 'name', 'has_log_prob', 'params'} for toy data.

  Raises:
    ValueError: an invalid config value (the message names the field).
  """
  mc = config.model
  toy = dataset_info.get("kind") == "toy"
  validate_config(mc, config.data, toy)
  net = build_networks(mc, dataset_info["shape"], toy=toy,
                       dequantization=config.data.get("dequantization",
                                                      "uniform"))
  tx = build_optimizer(config.optimizer, config.train.num_steps)
  data_log_prob = None
  if toy and dataset_info.get("has_log_prob"):
    data_log_prob = get_toy(dataset_info["name"],
                            **dict(dataset_info.get("params") or {})).log_prob
  loss = toy_loss if toy else image_loss
  data = functools.partial(batch_data, net)
  bind = lambda fn: functools.partial(fn, net)
  return Flow(
      init=lambda rng, batch: init(net, tx, rng, data(batch, "init")),
      train_step=steps.gradient_step(
          lambda params, x, rng, step: loss(net, params, x, rng), tx,
          lambda rng, batch: data(batch, "train_step")),
      evaluate=lambda p, batch, rng: metrics(net, p, data(batch, "evaluate"),
                                              rng),
      evaluate_final=lambda p, batch, rng: metrics(
          net, p, data(batch, "evaluate_final"), rng,
          num_samples=1 if toy else mc.eval_num_samples,
          data_log_prob=data_log_prob),
      sample=functools.partial(sample, net, temperature=mc.temperature),
      images=lambda p, batch, rng: temperature_samples(net, p, rng,
                                                       mc.temperature),
      protocol=functools.partial(protocol, mc, net, data_log_prob is not None),
      log_prob=bind(log_prob), net=net, dequantize=bind(dequantize),
      forward=bind(forward), inverse=bind(inverse),
      sample_with_temperature=bind(sample))

"""PixelCNN and PixelCNN++ likelihood: exact autoregressive models of 8-bit images.

Model: p(x) = Π_{i=1}^{D} p(x_i | x_<i) over the D = H W C pixel values in
raster order (rows, then columns, then colours R -> G -> B), each x_i in
{0, ..., 255} (van den Oord et al. 2016a, eq. 1-2). The network is a masked
convolutional net (gdm_jax/nn/masked.py), gated with vertical and horizontal
stacks (van den Oord et al. 2016b) or plain (2016a, with its blind spot).

Likelihoods (`model.likelihood`):
  categorical       a 256-way softmax for every colour of every pixel
                    (2016a, section 5.3); colours are ordered by the network's
                    colour masks;
  logistic_mixture  PixelCNN++'s discretised mixture of `num_mixtures`
                    logistics per pixel on the values scaled to [-1, 1], the
                    mean of colour c linear in the earlier colours of the
                    pixel (Salimans et al. 2017, section 2.1-2.2; log-scales
                    floored at -7 and the coefficients squashed by tanh, as in
                    the paper's code). Only the likelihood is PixelCNN++'s: the
                    network is the gated PixelCNN, not PixelCNN++'s U-net of
                    downsampling/upsampling shifted convolutions with dropout.

The likelihood is exact and discrete, so
  nll = -log p(x) in nats per image,   bits/dim = nll / (D ln 2),
with no dequantisation term (the model is a distribution over the 256^D
images, not a density on [0, 256)^D); a uniform model scores exactly 8.

Sampling is sequential: D network evaluations in principle. For the gated
net the vertical stack (which sees only rows above) is computed once per row
and only the horizontal stack, on that row, once per pixel (and colour), all
inside `lax.fori_loop`s, so one compilation serves any n. Both run on
windows of the R + 1 rows / columns that reach the current pixel
(R = first_kernel_size // 2 + (num_layers - 1) (kernel_size // 2)), so the
cost is about (R + 1) / H (1 + W) full-image evaluations instead of H W
(10 instead of 784 for R = 8 on 28x28). The plain net re-runs the whole
network per pixel.

Functions (a notebook calls them on a checkpoint's params without `make`;
`net = build_network(config.model, shape, config.data.value_range)`
rebuilds the architecture):
  outputs, distribution               the network and its per-pixel law;
  pixel_log_probs, log_prob           log p(x_i | x_<i) and log p(x);
  nll_loss, metrics                   the objective and per-example metrics
                                      (bits/dim via distributions.bits_per_dim);
  draw, complete, sample              the pixel-by-pixel sampler;
  completion_images                   an evaluation's pictures.
`make` wires them into a `PixelCNNModel` (models/base.py).

Config (`config.model`): likelihood, num_mixtures, architecture
('gated' | 'plain'), num_layers, channels, kernel_size, first_kernel_size,
head_channels (0 = channels), logistic_min_log_scale (-7);
`config.data` must give the 8-bit values: binarization='none',
dequantization='none' (value_range only scales the network's input).

References:
  van den Oord, Kalchbrenner, Kavukcuoglu 2016a, "Pixel Recurrent Neural
  Networks"; van den Oord et al. 2016b, "Conditional Image Generation with
  PixelCNN Decoders"; Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++".
"""

import dataclasses
import functools
import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdm_jax import checks
from gdm_jax import distributions
from gdm_jax.core import precision
from gdm_jax.core import steps
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import TrainState
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax.models import base
from gdm_jax.nn.masked import GatedPixelCNN
from gdm_jax.nn.masked import PixelCNN

LIKELIHOODS = ("categorical", "logistic_mixture")
ARCHITECTURES = ("gated", "plain")
NUM_VALUES = 256


# ------------------------------------------------------------ the network

@dataclasses.dataclass(frozen=True)
class PixelCNNNet:
  """The static architecture: the masked network and how its outputs are
  read as per-pixel distributions (no parameters; `params` are the
  network's variables).

  Attributes:
    net: `GatedPixelCNN` or `PixelCNN` (gdm_jax/nn/masked.py) with
      `output_features(likelihood, C, num_mixtures)` outputs per pixel.
    shape: (H, W, C) of the images.
    likelihood: 'categorical' or 'logistic_mixture'.
    num_mixtures: K, the logistics per pixel of the mixture.
    min_log_scale: the floor of the logistics' log-scales (PixelCNN++: -7).
    value_range: `config.data.value_range` ('0_1' or '-1_1'), the scale of
      the network's input only.
  """
  net: nn.Module
  shape: tuple[int, int, int]
  likelihood: str = "categorical"
  num_mixtures: int = 1
  min_log_scale: float = -7.0
  value_range: str = "0_1"

  @property
  def num_colours(self) -> int:
    """C, the number of colour channels."""
    return self.shape[-1]

  @property
  def categorical(self) -> bool:
    """Whether the likelihood is the 256-way categorical."""
    return self.likelihood == "categorical"

  @property
  def num_passes(self) -> int:
    """Sampling passes per pixel: C (categorical, one per colour) or 1."""
    return self.num_colours if self.categorical else 1

  @property
  def reach(self) -> int:
    """R, the rows above (and columns to the left) that one output of the
    net sees: first_kernel_size // 2 + (num_layers - 1) (kernel_size // 2)."""
    n = self.net
    return n.first_kernel_size // 2 + (n.num_layers - 1) * (n.kernel_size // 2)


def output_features(likelihood: str, num_colours: int,
                    num_mixtures: int) -> int:
  """Outputs per pixel: 256 C logits (categorical), or K (1 + 2C +
  C(C-1)/2) mixture parameters (weights, means, log-scales, coefficients)."""
  if likelihood == "categorical":
    return NUM_VALUES * num_colours
  return num_mixtures * (1 + 2 * num_colours
                         + num_colours * (num_colours - 1) // 2)


def build_network(model_config, shape, value_range: str = "0_1"
                  ) -> PixelCNNNet:
  """The `PixelCNNNet` of a run from its `config.model` block.

  The categorical likelihood orders the colours with the network's colour
  masks (R -> G -> B groups of channels); the mixture orders them through
  its coefficients, so its masks see one colour group.

  Raises:
    ValueError: model.channels not a multiple of C for the categorical
      likelihood's colour masks.
  """
  mc, shape = model_config, tuple(shape)
  categorical = mc.likelihood == "categorical"
  if categorical and mc.channels % shape[-1]:
    raise ValueError(f"model.channels ({mc.channels}) must be a multiple of "
                     f"the {shape[-1]} colours for the colour masks.")
  net_cls = GatedPixelCNN if mc.architecture == "gated" else PixelCNN
  net = net_cls(features=mc.channels, num_layers=mc.num_layers,
                out_features=output_features(mc.likelihood, shape[-1],
                                             mc.num_mixtures),
                num_colours=shape[-1] if categorical else 1,
                kernel_size=mc.kernel_size,
                first_kernel_size=mc.first_kernel_size,
                head_features=mc.head_channels)
  return PixelCNNNet(net, shape, mc.likelihood, mc.num_mixtures,
                     float(mc.get("logistic_min_log_scale", -7.0)),
                     value_range)


def _check_image(fn: str, net: PixelCNNNet, image, name: str = "image"):
  checks.check_example_batch(f"pixelcnn.{fn}", name, image, net.shape,
                             "numeric")


def batch_image(net: PixelCNNNet, batch: base.Batch, fn: str = "evaluate"):
  """batch['image'] (numeric [B, H, W, C] in {0..255}) after its check; other
  keys (the evaluator's 'mask') are ignored.

  Raises:
    ValueError: naming "pixelcnn.<fn>", a batch without 'image' or whose
      image is not numeric [B, *net.shape].
  """
  checks.check_batch(f"pixelcnn.{fn}", batch, "image", net.shape, "numeric")
  return batch["image"]


# ------------------------------------------------------------ likelihood

def network_input(net: PixelCNNNet, image: jax.Array) -> jax.Array:
  """Pixel values {0..255} (any dtype) -> the network's input scale
  (`value_range`), float32 [B, H, W, C]."""
  return make_preprocessing("none", "none", net.value_range).apply(None,
                                                                   image)


def outputs(net: PixelCNNNet, params, image: jax.Array, *,
            compute_dtype=jnp.float32) -> jax.Array:
  """The network's raw outputs, float32 [B, H, W, P]; output (i, j) depends
  only on the pixels before (i, j) in raster order (and, categorical, the
  earlier colours of (i, j) for colour c's logits).

  Mixed precision: with compute_dtype = bfloat16 the network runs on cast
  parameters and its outputs come back in float32, so the log-softmax and
  the log-likelihood are float32 (core/precision.py).

  Raises:
    ValueError: image not numeric [B, *net.shape].
  """
  _check_image("outputs", net, image)
  return precision.apply_in(compute_dtype, net.net.apply, params,
                            network_input(net, image))


def distribution(net: PixelCNNNet, out: jax.Array):
  """Raw outputs [..., P] -> the per-pixel distribution's parameters.

  Categorical: logits [..., C, 256]. Mixture: (logit_weights [..., K],
  means [..., C, K], log_scales [..., C, K] floored at min_log_scale,
  coeffs [..., C(C-1)/2, K] squashed by tanh, or None for C = 1).

  References:
    Salimans et al. 2017, "PixelCNN++", sec. 2.2 (the coefficients).
  """
  c, k = net.num_colours, net.num_mixtures
  if net.categorical:
    logits = out.reshape(out.shape[:-1] + (NUM_VALUES, c))
    return jnp.swapaxes(logits, -1, -2)                        # [..., C, 256]
  lead, num_pairs = out.shape[:-1], c * (c - 1) // 2
  logit_w, means, log_s, coeffs = jnp.split(
      out, [k, (1 + c) * k, (1 + 2 * c) * k], axis=-1)
  means = means.reshape(lead + (c, k))
  log_s = jnp.maximum(log_s.reshape(lead + (c, k)), net.min_log_scale)
  coeffs = (jnp.tanh(coeffs.reshape(lead + (num_pairs, k)))
            if num_pairs else None)
  return logit_w, means, log_s, coeffs


def pixel_log_probs(net: PixelCNNNet, params, image: jax.Array, *,
                    compute_dtype=jnp.float32) -> jax.Array:
  """log p(x_ij | x_<ij), the colours of a pixel summed: float32 [B, H, W]
  nats (each <= 0: a distribution over the 256 values).

    categorical:  Σ_c log softmax(logits_ijc)[x_ijc]     (2016a, eq. 2)
    mixture:      log Σ_k π_k Π_c [σ((x⁺ - μ_ck')/s_ck) - σ((x⁻ - μ_ck')/s_ck)]
                  on x scaled to [-1, 1], bins ±1/255, μ' the mean shifted
                  by the earlier colours    (Salimans et al. 2017, eq. 2-3)

  Args:
    image: numeric [B, *net.shape] in {0..255} (uint8, or integer-valued
      float).

  Raises:
    ValueError: image not numeric [B, *net.shape].
  """
  _check_image("pixel_log_probs", net, image)
  out = outputs(net, params, image, compute_dtype=compute_dtype)
  if net.categorical:
    lp = distributions.categorical_log_prob(
        distribution(net, out), jnp.asarray(image).astype(jnp.int32))
    return jnp.sum(lp, axis=-1)                                # [B, H, W]
  x = image.astype(jnp.float32) / 127.5 - 1.0
  return distributions.discretized_logistic_mixture_log_prob(
      x, *distribution(net, out), num_bins=NUM_VALUES)


def log_prob(net: PixelCNNNet, params, image: jax.Array, *,
             compute_dtype=jnp.float32) -> jax.Array:
  """log p(x) = Σ_i log p(x_i | x_<i), exact, nats [B].

  References:
    van den Oord et al. 2016a, "Pixel Recurrent Neural Networks", eq. 1.
  """
  _check_image("log_prob", net, image)
  return distributions.sum_except_batch(
      pixel_log_probs(net, params, image, compute_dtype=compute_dtype))


def metrics(net: PixelCNNNet, params, image: jax.Array, *,
            compute_dtype=jnp.float32) -> dict:
  """Per-example {'nll': -log p(x) nats [B], 'bits_per_dim': nll / (D ln 2)
  [B]}; no dequantisation term (a distribution over the 256^D images, so a
  uniform model scores exactly 8)."""
  nll = -log_prob(net, params, image, compute_dtype=compute_dtype)
  return {"nll": nll,
          "bits_per_dim": distributions.bits_per_dim(nll, math.prod(net.shape))}


def nll_loss(net: PixelCNNNet, params, image: jax.Array, *,
             compute_dtype=jnp.float32):
  """The training loss: the batch mean of -log p(x), nats per image;
  returns (loss [], {'bits_per_dim': loss / (D ln 2)})."""
  loss = jnp.mean(-log_prob(net, params, image, compute_dtype=compute_dtype))
  return loss, {"bits_per_dim": distributions.bits_per_dim(
      loss, math.prod(net.shape))}


# ------------------------------------------------------------ sampling

def draw(net: PixelCNNNet, rng: jax.Array, out: jax.Array, pixel: jax.Array,
         colour: int = 0) -> jax.Array:
  """One sampling pass at a pixel: out [n, P], pixel [n, C] float in
  {0..255} -> pixel [n, C].

  Categorical: colour `colour` ~ softmax(logits), key fold_in(rng, colour).
  Mixture: a component k ~ softmax(logit_w), then for c = 0..C-1,
  x_c = μ_ck + Σ α x_c' + s_ck L (L standard logistic) with the earlier
  colours' quantised values (as the likelihood conditions on them),
  rounded to the nearest grid value 2v/255 - 1 and clipped to {0..255}:
  samples of the discretised mixture (the edge bins take the tails), exact
  up to drawing L from u ~ U[1e-5, 1 - 1e-5] as the paper's code does
  (|L| <= 11.5, tail mass 2e-5 moved inward).

  References:
    Salimans et al. 2017, "PixelCNN++", sec. 2.1-2.2.
  """
  if net.categorical:
    logits = distribution(net, out)[:, colour]                 # [n, 256]
    v = jax.random.categorical(jax.random.fold_in(rng, colour), logits)
    return pixel.at[:, colour].set(v.astype(pixel.dtype))
  logit_w, means, log_s, coeffs = distribution(net, out)
  k_rng, u_rng = jax.random.split(rng)
  comp = jax.random.categorical(k_rng, logit_w)                # [n]
  pick = lambda a: jnp.take_along_axis(a, comp[:, None, None], -1)[..., 0]
  means, log_s = pick(means), pick(log_s)                      # [n, C]
  coeffs = pick(coeffs) if coeffs is not None else None
  u = jax.random.uniform(u_rng, means.shape, minval=1e-5, maxval=1.0 - 1e-5)
  noise = jnp.log(u) - jnp.log1p(-u)
  values, p = [], 0
  for c in range(net.num_colours):
    mean = means[:, c]
    for cp in range(c):
      mean = mean + coeffs[:, p] * (values[cp] / 127.5 - 1.0)
      p += 1
    x = mean + jnp.exp(log_s[:, c]) * noise[:, c]
    values.append(jnp.clip(jnp.round((x + 1.0) * 127.5), 0.0, 255.0))
  return jnp.stack(values, -1).astype(pixel.dtype)


def _set_pixel(canvas, i, j, pixel):
  return jax.lax.dynamic_update_slice(canvas, pixel[:, None, None, :],
                                      (0, i, j, 0))


def _get_pixel(canvas, i, j):
  n, c = canvas.shape[0], canvas.shape[-1]
  return jax.lax.dynamic_slice(canvas, (0, i, j, 0), (n, 1, 1, c))[:, 0, 0]


def _complete_gated(net: PixelCNNNet, params, rng, canvas, start_row):
  """Row i: the vertical stack on the R + 1 rows ending at i (or the first
  ones), whose last row is exact because nothing above the window reaches
  it; pixel (i, j): the horizontal stack on the R + 1 columns ending at j.
  Windows keep the shapes static."""
  n, height, width, num_colours = canvas.shape
  reach = net.reach
  win_rows, win_cols = min(reach + 1, height), min(reach + 1, width)

  def row_body(i, canvas):
    r0 = jnp.clip(i - reach, 0, height - win_rows)
    window = jax.lax.dynamic_slice_in_dim(canvas, r0, win_rows, axis=1)
    links = net.net.apply(params, network_input(net, window),
                          method=GatedPixelCNN.vertical_stack)  # [L, n, R, W, 2F]
    links_i = jax.lax.dynamic_slice_in_dim(links, i - r0, 1, axis=2)

    def pixel_body(j, canvas):
      key = jax.random.fold_in(rng, i * width + j)
      c0 = jnp.clip(j - reach, 0, width - win_cols)
      links_ij = jax.lax.dynamic_slice_in_dim(links_i, c0, win_cols, axis=3)
      for c in range(net.num_passes):
        row = jax.lax.dynamic_slice(canvas, (0, i, c0, 0),
                                    (n, 1, win_cols, num_colours))
        out = net.net.apply(params, network_input(net, row), links_ij,
                            method=GatedPixelCNN.horizontal_stack)[:, 0]
        out_j = jax.lax.dynamic_index_in_dim(out, j - c0, 1, keepdims=False)
        canvas = _set_pixel(canvas, i, j,
                            draw(net, key, out_j, _get_pixel(canvas, i, j), c))
      return canvas
    return jax.lax.fori_loop(0, width, pixel_body, canvas)
  return jax.lax.fori_loop(start_row, height, row_body, canvas)


def _complete_plain(net: PixelCNNNet, params, rng, canvas, start_row):
  """Re-runs the whole network at every pixel (and colour)."""
  _, height, width, _ = canvas.shape

  def pixel_body(t, canvas):
    i, j = t // width, t % width
    key = jax.random.fold_in(rng, t)
    for c in range(net.num_passes):
      out = outputs(net, params, canvas)                       # [n, H, W, P]
      out_ij = jax.lax.dynamic_slice(
          out, (0, i, j, 0), (out.shape[0], 1, 1, out.shape[-1]))[:, 0, 0]
      canvas = _set_pixel(canvas, i, j,
                          draw(net, key, out_ij, _get_pixel(canvas, i, j), c))
    return canvas
  return jax.lax.fori_loop(start_row * width, height * width, pixel_body,
                           canvas)


def complete(net: PixelCNNNet, params, rng: jax.Array, image: jax.Array,
             start_row=0) -> jax.Array:
  """Samples rows start_row.. of `image` [n, H, W, C] given the rows above,
  pixel by pixel in raster order, x_i ~ p(x_i | x_<i): float32 [n, H, W, C]
  in {0..255}. Pixel t = i W + j uses the key fold_in(rng, t) (colour c of
  the categorical: fold_in of that by c). The network runs in float32.

  The gated net's vertical stack runs once per row and its horizontal
  stack once per pixel (and colour), on windows of the R + 1 rows / columns
  that reach the pixel (see the module docstring); the plain net re-runs
  whole. All in `lax.fori_loop`s: one compilation for any n.

  Args:
    image: numeric [n, *net.shape]; rows >= start_row are overwritten.
    start_row: an int in [0, H), or a traced integer scalar.

  Raises:
    ValueError: image not numeric [n, *net.shape], or start_row not an int
      in [0, H) (or an integer scalar array).

  References:
    van den Oord et al. 2016a, sec. 3; 2016b, sec. 2.1 (the two stacks).
  """
  _check_image("complete", net, image)
  height = net.shape[0]
  if isinstance(start_row, (int, np.integer)) and not isinstance(
      start_row, bool):
    ok = 0 <= start_row < height
  else:  # a traced row index: only its type can be checked
    ok = (checks.shape_of(start_row) == ()
          and checks.is_dtype(checks.dtype_of(start_row), "integer"))
  if not ok:
    raise ValueError(f"pixelcnn.complete: `start_row` must be an int in "
                     f"[0, {height}) (or an integer scalar array); got "
                     f"{start_row!r}.")
  fn = (_complete_gated if isinstance(net.net, GatedPixelCNN)
        else _complete_plain)
  return fn(net, params, rng, image.astype(jnp.float32), start_row)


def sample(net: PixelCNNNet, params, rng: jax.Array, n: int) -> jax.Array:
  """n images [n, H, W, C] in [0, 1] (value / 255), drawn by `complete`.

  Raises:
    ValueError: n not a positive int.
  """
  checks.check_positive_int("pixelcnn.sample", "n", n)
  return complete(net, params, rng,
                  jnp.zeros((n,) + net.shape, jnp.float32)) / 255.0


def completion_images(net: PixelCNNNet, params, image: jax.Array,
                      rng: jax.Array) -> dict:
  """{'samples': 16 samples, 'completions': 4 images of `image` with the
  lower half hidden, two completions each, and the originals (rows:
  hidden, completion, completion, original)}, all [N, H, W, C] in [0, 1]."""
  s_rng, c_rng = jax.random.split(rng)
  real = image[:4].astype(jnp.float32)
  top = net.shape[0] // 2
  hidden = real.at[:, top:].set(0.0)
  both = complete(net, params, c_rng, jnp.concatenate([hidden, hidden]), top)
  grid = jnp.concatenate([hidden, both, real]) / 255.0
  return {"samples": sample(net, params, s_rng, 16), "completions": grid}


# ------------------------------------------------------------ set-up

def init(net: PixelCNNNet, tx: optax.GradientTransformation,
         rng: jax.Array) -> TrainState:
  """Parameters (they depend only on the image shape) and optimiser state;
  keys split(rng) = (parameters, state)."""
  params_rng, state_rng = jax.random.split(rng)
  params = net.net.init(params_rng, jnp.zeros((1,) + net.shape, jnp.float32))
  return TrainState.create(state_rng, params, tx.init(params))


def validate_config(config, dataset_info: dict) -> None:
  """Raises ValueError naming the field of the first invalid setting, or
  for data that are not 8-bit images [H, W, C]."""
  mc, data = config.model, config.data
  shape = tuple(dataset_info["shape"])
  rules = [(mc.likelihood in LIKELIHOODS, "likelihood", f"one of {LIKELIHOODS}"),
           (mc.architecture in ARCHITECTURES, "architecture",
            f"one of {ARCHITECTURES}"),
           (mc.num_layers >= 1, "num_layers", ">= 1"),
           (mc.channels >= 1, "channels", ">= 1"),
           (mc.num_mixtures >= 1, "num_mixtures", ">= 1")]
  rules += [(mc[f] >= 3 and mc[f] % 2 == 1, f, "odd and >= 3")
            for f in ("kernel_size", "first_kernel_size")]
  rules.append((mc.head_channels >= 0, "head_channels", ">= 0"))
  for ok, field, need in rules:
    if not ok:
      raise ValueError(f"model.{field} must be {need}; got {mc[field]!r}.")
  if dataset_info.get("kind") == "toy" or len(shape) != 3:
    raise ValueError("model.name='pixelcnn' models 8-bit images [H, W, C]; "
                     f"data set '{dataset_info.get('name')}' has shape "
                     f"{shape}.")
  if data.binarization != "none" or data.dequantization != "none":
    raise ValueError("PixelCNN models the 8-bit values themselves: set "
                     "data.binarization='none' and data.dequantization='none' "
                     f"(got '{data.binarization}', '{data.dequantization}').")


def protocol(mc) -> dict:
  """How the final metrics were computed (for final_metrics.json)."""
  return {"model": "pixelcnn", "architecture": mc.architecture,
          "likelihood": mc.likelihood,
          "num_mixtures": (mc.num_mixtures
                           if mc.likelihood != "categorical" else None),
          "num_layers": mc.num_layers, "channels": mc.channels,
          "nll": "exact discrete log-likelihood of the 8-bit pixel values "
                 "(autoregressive, no bound, no sampling)",
          "bits_per_dim": "nll / (D ln 2), D = H W C; no dequantisation "
                          "term (a distribution over the 256 values)"}


# ------------------------------------------------------------ the model

@dataclasses.dataclass(frozen=True, kw_only=True)
class PixelCNNModel(base.Model):
  """The model interface (models/base.py; `log_prob(params, image) -> [B]`
  nats) plus PixelCNN's own functions, each the module-level function of
  the same name bound to `net` (and the run's compute dtype):

    pixel_log_probs(params, image) -> [B, H, W] nats;
    outputs(params, image) -> [B, H, W, P]; distribution(outputs);
    draw(rng, outputs [n, P], pixel [n, C], colour) -> pixel [n, C];
    complete(params, rng, image, start_row) -> [n, H, W, C] in {0..255};
    num_passes: sampling passes per pixel (C categorical, 1 mixture);
    preprocessing: the network input's scaling (no noise).

  Images are uint8 (or integer-valued float) [B, H, W, C] in {0..255};
  every function checks its inputs at trace time, else ValueError naming
  e.g. "pixelcnn.log_prob".
  """
  net: PixelCNNNet
  preprocessing: Preprocessing
  pixel_log_probs: Callable
  outputs: Callable
  distribution: Callable
  draw: Callable
  num_passes: int
  complete: Callable


def make(config, dataset_info: dict) -> PixelCNNModel:
  """Wires the PixelCNN family's functions (module docstring) into a model.

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps and .train.compute_dtype).
    dataset_info: {'shape': (H, W, C), ...}; toy (vector) data is rejected.

  Raises:
    ValueError: an invalid config value (the message names the field), data
      that are not 8-bit images, or channels not divisible by C for the
      categorical likelihood's colour masks.
  """
  validate_config(config, dataset_info)
  net = build_network(config.model, dataset_info["shape"],
                      config.data.value_range)
  tx = make_optimizer(config.optimizer, config.train.num_steps)
  dtype = precision.compute_dtype(config)
  bind = lambda fn: functools.partial(fn, net)
  in_dtype = lambda fn: functools.partial(fn, net, compute_dtype=dtype)
  evaluate = lambda fn: lambda p, batch, rng: metrics(
      net, p, batch_image(net, batch, fn), compute_dtype=dtype)
  return PixelCNNModel(
      init=lambda rng, batch: init(net, tx, rng),
      train_step=steps.gradient_step(
          lambda p, image, rng, step: nll_loss(net, p, image,
                                               compute_dtype=dtype),
          tx, lambda rng, batch: batch_image(net, batch, "train_step")),
      evaluate=evaluate("evaluate"), evaluate_final=evaluate("evaluate_final"),
      sample=bind(sample),
      images=lambda p, batch, rng: completion_images(
          net, p, batch_image(net, batch, "images"), rng),
      protocol=functools.partial(protocol, config.model),
      log_prob=in_dtype(log_prob), supports_bfloat16=True, net=net,
      preprocessing=make_preprocessing("none", "none",
                                       config.data.value_range),
      pixel_log_probs=in_dtype(pixel_log_probs), outputs=in_dtype(outputs),
      distribution=bind(distribution), draw=bind(draw),
      num_passes=net.num_passes, complete=bind(complete))

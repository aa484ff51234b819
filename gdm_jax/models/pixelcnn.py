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

import math
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gdm_jax import distributions
from gdm_jax.data.preprocess import make_preprocessing
from gdm_jax.data.preprocess import Preprocessing
from gdm_jax import checks
from gdm_jax.nn.masked import GatedPixelCNN
from gdm_jax.nn.masked import PixelCNN
from gdm_jax.core import precision
from gdm_jax.core.optimizers import make_optimizer
from gdm_jax.core.state import apply_gradients
from gdm_jax.core.state import TrainState

LIKELIHOODS = ("categorical", "logistic_mixture")
ARCHITECTURES = ("gated", "plain")
NUM_VALUES = 256


class PixelCNNModel(NamedTuple):
  """The model interface (models/base.py) plus PixelCNN's own functions.

  Images are uint8 (or integer-valued float) [B, H, W, C] in {0..255}.
    log_prob(params, image) -> [B]: log p(x), nats.
    pixel_log_probs(params, image) -> [B, H, W]: log p(x_ij | x_<ij), nats
      (colours of a pixel summed).
    outputs(params, image) -> [B, H, W, P]: the network's raw outputs.
    distribution(outputs) -> the per-pixel parameters: categorical logits
      [..., C, 256], or (logit_weights [..., K], means [..., C, K],
      log_scales [..., C, K], coeffs [..., C(C-1)/2, K] or None).
    draw(rng, outputs [n, P], pixel [n, C], colour) -> pixel [n, C]: one
      sampling pass at a pixel (categorical: sets `colour`; mixture: all).
    num_passes: the passes per pixel (C for categorical, 1 for the mixture).
    complete(params, rng, image, start_row) -> [n, H, W, C] in {0..255}:
      keeps rows < start_row of `image` and samples the rest.

  Every function checks its inputs at trace time (`gdm_jax.checks`): images
  must be numeric [B, *dataset_info['shape']], n and num_dims positive ints,
  start_row an int in [0, H); else ValueError naming e.g.
  "pixelcnn.log_prob".
  """
  init: Callable
  train_step: Callable
  evaluate: Callable
  evaluate_final: Callable
  sample: Callable
  protocol: Callable
  images: Callable
  preprocessing: Preprocessing
  net: nn.Module
  log_prob: Callable
  pixel_log_probs: Callable
  outputs: Callable
  distribution: Callable
  draw: Callable
  num_passes: int
  complete: Callable


def validate_config(mc) -> None:
  """Raises ValueError with the field name for any invalid model setting."""
  def check(cond, msg):
    if not cond:
      raise ValueError(msg)
  check(mc.likelihood in LIKELIHOODS,
        f"model.likelihood must be one of {LIKELIHOODS}; got '{mc.likelihood}'.")
  check(mc.architecture in ARCHITECTURES,
        f"model.architecture must be one of {ARCHITECTURES}; got '{mc.architecture}'.")
  check(mc.num_layers >= 1, f"model.num_layers must be >= 1; got {mc.num_layers}.")
  check(mc.channels >= 1, f"model.channels must be >= 1; got {mc.channels}.")
  check(mc.num_mixtures >= 1,
        f"model.num_mixtures must be >= 1; got {mc.num_mixtures}.")
  for field in ("kernel_size", "first_kernel_size"):
    k = mc[field]
    check(k >= 3 and k % 2 == 1, f"model.{field} must be odd and >= 3; got {k}.")
  check(mc.head_channels >= 0,
        f"model.head_channels must be >= 0; got {mc.head_channels}.")


def make(config, dataset_info: dict) -> PixelCNNModel:
  """Builds the PixelCNN family's functions from `config` (module docstring).

  Args:
    config: the experiment ConfigDict (uses .model, .data, .optimizer,
      .train.num_steps).
    dataset_info: {'shape': (H, W, C), ...}; toy (vector) data is rejected.

  Raises:
    ValueError: an invalid config value (the message names the field), data
      that are not 8-bit images, or channels not divisible by C for the
      categorical likelihood's colour masks.
  """
  mc = config.model
  validate_config(mc)
  if dataset_info.get("kind") == "toy" or len(dataset_info["shape"]) != 3:
    raise ValueError("model.name='pixelcnn' models 8-bit images [H, W, C]; "
                     f"data set '{dataset_info.get('name')}' has shape "
                     f"{tuple(dataset_info['shape'])}.")
  if config.data.binarization != "none" or config.data.dequantization != "none":
    raise ValueError("PixelCNN models the 8-bit values themselves: set "
                     "data.binarization='none' and data.dequantization='none' "
                     f"(got '{config.data.binarization}', "
                     f"'{config.data.dequantization}').")
  pre = make_preprocessing("none", "none", config.data.value_range)
  shape = tuple(dataset_info["shape"])
  height, width, num_colours = shape
  num_dims = math.prod(shape)
  categorical = mc.likelihood == "categorical"
  num_pairs = num_colours * (num_colours - 1) // 2
  k = mc.num_mixtures
  if categorical:
    out_features = NUM_VALUES * num_colours
    mask_colours = num_colours        # colour masks order R -> G -> B
    if mc.channels % num_colours:
      raise ValueError(f"model.channels ({mc.channels}) must be a multiple of "
                       f"the {num_colours} colours for the colour masks.")
  else:
    out_features = k * (1 + 2 * num_colours + num_pairs)
    mask_colours = 1                  # colours ordered by the coefficients
  net_cls = GatedPixelCNN if mc.architecture == "gated" else PixelCNN
  net = net_cls(features=mc.channels, num_layers=mc.num_layers,
                out_features=out_features, num_colours=mask_colours,
                kernel_size=mc.kernel_size,
                first_kernel_size=mc.first_kernel_size,
                head_features=mc.head_channels)
  tx = make_optimizer(config.optimizer, config.train.num_steps)
  dtype = precision.compute_dtype(config)
  min_log_scale = float(mc.get("logistic_min_log_scale", -7.0))
  num_passes = num_colours if categorical else 1

  def check_image(fn, image, name="image"):
    checks.check_example_batch(f"pixelcnn.{fn}", name, image, shape,
                               "numeric")

  def check_batch(fn, batch):
    checks.check_batch(f"pixelcnn.{fn}", batch, "image", shape, "numeric")

  def net_input(image):
    """Pixel values {0..255} (any dtype) -> the network's input scale."""
    return pre.apply(None, image)

  def outputs(params, image):
    check_image("outputs", image)
    # Mixed precision (train.compute_dtype): the network in bfloat16 on cast
    # parameters, its outputs (logits / mixture parameters) back in float32,
    # so the log-softmax and the log-likelihood are float32. Sampling runs
    # the network in float32.
    return precision.apply_in(dtype, net.apply, params, net_input(image))

  def distribution(out):
    """Raw outputs [..., P] -> the per-pixel distribution's parameters."""
    if categorical:
      logits = out.reshape(out.shape[:-1] + (NUM_VALUES, num_colours))
      return jnp.swapaxes(logits, -1, -2)                      # [..., C, 256]
    lead = out.shape[:-1]
    ends = [k, (1 + num_colours) * k, (1 + 2 * num_colours) * k]
    logit_w, means, log_s, coeffs = jnp.split(out, ends, axis=-1)
    means = means.reshape(lead + (num_colours, k))
    log_s = jnp.maximum(log_s.reshape(lead + (num_colours, k)), min_log_scale)
    coeffs = (jnp.tanh(coeffs.reshape(lead + (num_pairs, k)))
              if num_pairs else None)
    return logit_w, means, log_s, coeffs

  def pixel_log_probs(params, image):
    check_image("pixel_log_probs", image)
    out = outputs(params, image)
    if categorical:
      # Integer-valued float images are allowed (see PixelCNNModel).
      lp = distributions.categorical_log_prob(
          distribution(out), jnp.asarray(image).astype(jnp.int32))
      return jnp.sum(lp, axis=-1)                              # [B, H, W]
    x = image.astype(jnp.float32) / 127.5 - 1.0
    return distributions.discretized_logistic_mixture_log_prob(
        x, *distribution(out), num_bins=NUM_VALUES)

  def log_prob(params, image):
    check_image("log_prob", image)
    return distributions.sum_except_batch(pixel_log_probs(params, image))

  def init(rng, batch):
    del batch  # Parameters depend only on the data set's shape.
    params_rng, state_rng = jax.random.split(rng)
    params = net.init(params_rng, jnp.zeros((1,) + shape, jnp.float32))
    return TrainState.create(state_rng, params, tx.init(params))

  def bits_per_dim(nll):
    checks.check_array("pixelcnn.bits_per_dim", "nll", nll)
    return nll / (num_dims * math.log(2))

  def loss_fn(params, image):
    nll = -log_prob(params, image)
    return jnp.mean(nll), nll

  def train_step(state, batch, rng):
    del rng  # The exact likelihood needs no noise.
    check_batch("train_step", batch)
    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params, batch["image"])
    state = apply_gradients(state, grads, tx)
    return state, {"loss": loss, "bits_per_dim": bits_per_dim(loss),
                   "grad_norm": optax.global_norm(grads)}

  def evaluate(params, batch, rng):
    del rng
    check_batch("evaluate", batch)
    nll = -log_prob(params, batch["image"])
    return {"nll": nll, "bits_per_dim": bits_per_dim(nll)}

  def draw(rng, out, pixel, colour=0):
    """One sampling pass at a pixel: out [n, P], pixel [n, C] float in
    {0..255} -> pixel [n, C]. Categorical: colour `colour` ~ softmax.
    Mixture: a component k ~ softmax(logit_w), then for c = 0..C-1,
    x_c = μ_ck + Σ α x_c' + s_ck L (L standard logistic) with the earlier
    colours' quantised values (as the likelihood conditions on them),
    rounded to the nearest grid value 2v/255 - 1 and clipped to {0..255}:
    samples of the discretised mixture (the edge bins take the tails), exact
    up to drawing L from u ~ U[1e-5, 1 - 1e-5] as the paper's code does
    (|L| <= 11.5, tail mass 2e-5 moved inward)."""
    if categorical:
      logits = distribution(out)[:, colour]                    # [n, 256]
      v = jax.random.categorical(jax.random.fold_in(rng, colour), logits)
      return pixel.at[:, colour].set(v.astype(pixel.dtype))
    logit_w, means, log_s, coeffs = distribution(out)
    k_rng, u_rng = jax.random.split(rng)
    comp = jax.random.categorical(k_rng, logit_w)              # [n]
    pick = lambda a: jnp.take_along_axis(a, comp[:, None, None], -1)[..., 0]
    means, log_s = pick(means), pick(log_s)                    # [n, C]
    coeffs = pick(coeffs) if coeffs is not None else None
    u = jax.random.uniform(u_rng, means.shape, minval=1e-5, maxval=1.0 - 1e-5)
    noise = jnp.log(u) - jnp.log1p(-u)
    values, p = [], 0
    for c in range(num_colours):
      mean = means[:, c]
      for cp in range(c):
        mean = mean + coeffs[:, p] * (values[cp] / 127.5 - 1.0)
        p += 1
      x = mean + jnp.exp(log_s[:, c]) * noise[:, c]
      values.append(jnp.clip(jnp.round((x + 1.0) * 127.5), 0.0, 255.0))
    return jnp.stack(values, -1).astype(pixel.dtype)

  def _set_pixel(canvas, i, j, pixel):
    return jax.lax.dynamic_update_slice(
        canvas, pixel[:, None, None, :], (0, i, j, 0))

  def _get_pixel(canvas, i, j):
    n = canvas.shape[0]
    return jax.lax.dynamic_slice(canvas, (0, i, j, 0),
                                 (n, 1, 1, num_colours))[:, 0, 0]

  # Rows above (and columns to the left) that one output of the gated net
  # sees: first_kernel_size // 2 + (num_layers - 1) (kernel_size // 2).
  reach = mc.first_kernel_size // 2 + (mc.num_layers - 1) * (mc.kernel_size // 2)
  win_rows, win_cols = min(reach + 1, height), min(reach + 1, width)

  def _complete_gated(params, rng, canvas, start_row):
    """Row i: the vertical stack on the `reach` + 1 rows ending at i (or the
    first ones), whose last row is exact because nothing above the window
    reaches it; pixel (i, j): the horizontal stack on the `reach` + 1
    columns ending at j. Windows keep the shapes static."""
    n = canvas.shape[0]

    def row_body(i, canvas):
      r0 = jnp.clip(i - reach, 0, height - win_rows)
      window = jax.lax.dynamic_slice_in_dim(canvas, r0, win_rows, axis=1)
      links = net.apply(params, net_input(window),
                        method=GatedPixelCNN.vertical_stack)   # [L, n, R, W, 2F]
      links_i = jax.lax.dynamic_slice_in_dim(links, i - r0, 1, axis=2)

      def pixel_body(j, canvas):
        key = jax.random.fold_in(rng, i * width + j)
        c0 = jnp.clip(j - reach, 0, width - win_cols)
        links_ij = jax.lax.dynamic_slice_in_dim(links_i, c0, win_cols, axis=3)
        for c in range(num_passes):
          row = jax.lax.dynamic_slice(canvas, (0, i, c0, 0),
                                      (n, 1, win_cols, num_colours))
          out = net.apply(params, net_input(row), links_ij,
                          method=GatedPixelCNN.horizontal_stack)[:, 0]
          out_j = jax.lax.dynamic_index_in_dim(out, j - c0, 1, keepdims=False)
          canvas = _set_pixel(canvas, i, j,
                              draw(key, out_j, _get_pixel(canvas, i, j), c))
        return canvas
      return jax.lax.fori_loop(0, width, pixel_body, canvas)
    return jax.lax.fori_loop(start_row, height, row_body, canvas)

  def _complete_plain(params, rng, canvas, start_row):
    def pixel_body(t, canvas):
      i, j = t // width, t % width
      key = jax.random.fold_in(rng, t)
      for c in range(num_passes):
        out = outputs(params, canvas)                          # [n, H, W, P]
        out_ij = jax.lax.dynamic_slice(
            out, (0, i, j, 0), (out.shape[0], 1, 1, out.shape[-1]))[:, 0, 0]
        canvas = _set_pixel(canvas, i, j,
                            draw(key, out_ij, _get_pixel(canvas, i, j), c))
      return canvas
    return jax.lax.fori_loop(start_row * width, height * width, pixel_body,
                             canvas)

  def complete(params, rng, image, start_row=0):
    """Samples rows start_row.. of `image` [n, H, W, C] given the rows above:
    float32 [n, H, W, C] in {0..255}. Pixel t = i W + j uses the key
    fold_in(rng, t) (colour c of the categorical: fold_in of that by c)."""
    check_image("complete", image)
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
    canvas = image.astype(jnp.float32)
    fn = _complete_gated if mc.architecture == "gated" else _complete_plain
    return fn(params, rng, canvas, start_row)

  def sample(params, rng, n):
    """n images [n, H, W, C] in [0, 1] (value / 255)."""
    checks.check_positive_int("pixelcnn.sample", "n", n)
    return complete(params, rng, jnp.zeros((n,) + shape, jnp.float32)) / 255.0

  def images(params, batch, rng):
    """{'samples': 16 samples, 'completions': 4 validation images with the
    lower half hidden, two completions each, and the originals (rows:
    hidden, completion, completion, original)}, all [N, H, W, C] in [0, 1]."""
    check_batch("images", batch)
    s_rng, c_rng = jax.random.split(rng)
    real = batch["image"][:4].astype(jnp.float32)
    top = height // 2
    hidden = real.at[:, top:].set(0.0)
    both = complete(params, c_rng, jnp.concatenate([hidden, hidden]), top)
    grid = jnp.concatenate([hidden, both, real]) / 255.0
    return {"samples": sample(params, s_rng, 16), "completions": grid}

  def protocol():
    return {"model": "pixelcnn", "architecture": mc.architecture,
            "likelihood": mc.likelihood,
            "num_mixtures": k if not categorical else None,
            "num_layers": mc.num_layers, "channels": mc.channels,
            "nll": "exact discrete log-likelihood of the 8-bit pixel values "
                   "(autoregressive, no bound, no sampling)",
            "bits_per_dim": "nll / (D ln 2), D = H W C; no dequantisation "
                            "term (a distribution over the 256 values)"}

  return PixelCNNModel(init, train_step, evaluate, evaluate, sample, protocol,
                       images, pre, net, log_prob, pixel_log_probs, outputs,
                       distribution, draw, num_passes, complete)

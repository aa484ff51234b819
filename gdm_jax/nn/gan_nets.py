"""Generators and discriminators/critics for the adversarial families.

Three architectures, each a generator G: z [B, latent_dim] -> x and a
discriminator (or critic) D: x -> [B, output_dim]:

  * MLP (the practical's GAN, seed 001 §2.3): G is z -> 128 -> 256 -> 512
    -> 1024 -> prod(shape) with LeakyReLU(0.2) after every hidden layer and
    tanh at the output; D is prod(shape) -> 512 -> 256 -> output_dim with
    LeakyReLU(0.2) and optional dropout (0.2 in the seed). Sizes, dropout and
    normalisation come from the config.
  * DCGAN (Radford, Metz and Chintala 2016, "Unsupervised Representation
    Learning with Deep Convolutional GANs", §3 "architecture guidelines"):
    G projects z to [H/2^n, W/2^n, channels[0]] with a dense layer, then n
    x2 upsampling stages; batch norm and ReLU in every layer of G but the
    output, which is tanh. D uses stride-2 4x4 convolutions with
    LeakyReLU(0.2), no normalisation on its first layer, then a dense output.
    Upsampling is sub-pixel (3x3 conv to 4C channels + depth-to-space,
    `nn.layers.SubPixelUpsample`), not a strided transposed convolution:
    both parameterise the same kind of learned x2 upsampling, but XLA's CPU
    weight gradient of a strided ConvTranspose took 262 ms against 13 ms for
    the sub-pixel layer computing the same 7->14 map (DESIGN.md), so the
    sub-pixel layer is used here too.
  * Toy (2-D / 1-D data): small MLPs with ReLU (or LeakyReLU) and a linear
    output in data space: `MLPGenerator(output_activation='linear',
    activation='relu')` and `MLPDiscriminator(activation='relu')`.

Normalisation of a discriminator (`normalization`):
  'none'      plain layers;
  'batch'     batch norm after every hidden layer (DCGAN; not with a gradient
              penalty, whose per-example gradient batch norm breaks: the
              models refuse that combination);
  'layer'     layer norm over all non-batch axes of each hidden activation
              (Gulrajani et al. 2017 §4 suggest it for WGAN-GP critics);
  'spectral'  every kernel divided by its largest singular value from power
              iteration (Miyato et al. 2018; `nn.spectral`), output layer
              included, so the critic is 1-Lipschitz up to the reshaped-conv
              factor discussed in `nn.spectral`.

State and call convention (generators and discriminators alike):
  `module.apply(variables, x, train=train, rngs=..., mutable=...)` with
  variables {'params'} or {'params', 'batch_stats'}.
  * 'batch_stats' holds batch-norm running averages and the spectral-norm
    vectors `u` and estimates `sigma`; it exists only with 'batch' or
    'spectral' normalisation (`has_state(variables)`), and a model keeps it
    in its train state (models/gan.py keeps each network's whole variables
    dict as that player's entry of `state.params`, because the interface's
    `sample` and `evaluate` receive only params; its optimisers see only the
    'params' collection).
  * `train=True`: batch norm normalises with the batch's own statistics and
    updates its running averages (EMA, momentum 0.9); spectral norm does one
    power iteration from the stored `u` and stores the new `u` and `sigma`;
    dropout is active (needs `rngs={'dropout': key}` when dropout > 0). A
    network with state must then be applied with `mutable=['batch_stats']`
    (flax raises otherwise); the caller keeps the returned state (the
    player's own update) or discards it (e.g. the discriminator seen from
    the generator's step).
  * `train=False`: batch norm uses the running averages (this is what a
    model's `sample` uses: the generator in inference mode), no dropout;
    spectral norm divides by the estimate from one iteration from the stored
    `u`, which is the same sigma a train-mode call from that `u` uses, and
    stores nothing (so a gradient penalty may call the critic this way,
    per example, inside `jax.grad`).

Shapes and dtypes: z is float32 [B, latent_dim]; images are float32
[B, H, W, C] in [-1, 1] (tanh) or toy points float32 [B, D]; discriminators
return float32 [B, output_dim] (logits, critic values, or Cramér GAN's
h(x) in R^k) and flatten their input when they are MLPs.

References:
  Goodfellow et al. 2014, "Generative Adversarial Nets", NeurIPS.
  Radford, Metz and Chintala 2016, ICLR (§3, DCGAN guidelines).
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", NeurIPS
    (§4: no batch norm in the critic, layer norm instead).
  Miyato et al. 2018, "Spectral Normalization for GANs", ICLR.
  Shi et al. 2016, "Real-Time Single Image and Video Super-Resolution Using
    an Efficient Sub-Pixel Convolutional Neural Network", CVPR.
"""

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gdm_jax import checks
from gdm_jax.nn.conv import strided_conv_general_dilated
from gdm_jax.nn.layers import SubPixelUpsample
from gdm_jax.nn.spectral import SpectralConv
from gdm_jax.nn.spectral import SpectralDense

NORMALIZATIONS = ("none", "batch", "layer", "spectral")
GENERATOR_NORMALIZATIONS = ("none", "batch")
ACTIVATIONS = ("leaky_relu", "relu", "tanh", "elu")
OUTPUT_ACTIVATIONS = ("tanh", "linear")
BN_MOMENTUM = 0.9


def activation_fn(name: str, negative_slope: float = 0.2) -> Callable:
  """The nonlinearity called `name` (LeakyReLU with `negative_slope`).

  Raises:
    ValueError: unknown name.
  """
  if name == "leaky_relu":
    return lambda x: nn.leaky_relu(x, negative_slope)
  if name == "relu":
    return nn.relu
  if name == "tanh":
    return jnp.tanh
  if name == "elu":
    return nn.elu
  raise ValueError(f"activation must be one of {ACTIVATIONS}; got '{name}'.")


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
  if value not in allowed:
    raise ValueError(f"{name} must be one of {tuple(allowed)}; got '{value}'.")


def _check_generator_call(module: nn.Module, z: Any) -> None:
  """A generator's input and option checks: z [B, latent_dim] floating,
  known normalisation and output activation (ValueError otherwise)."""
  checks.check_arg(f"{type(module).__name__}.__call__", "z", z,
                   "floating [B, latent_dim]")
  _check("generator normalization", module.normalization,
         GENERATOR_NORMALIZATIONS)
  _check("output_activation", module.output_activation, OUTPUT_ACTIVATIONS)


def has_state(variables: Any) -> bool:
  """Whether a network's variables carry a 'batch_stats' collection."""
  return bool(jax.tree.leaves(variables.get("batch_stats", {})))


def _dense(features: int, spectral: bool, name: str, x: jax.Array,
           train: bool) -> jax.Array:
  """Dense layer, spectrally normalised when `spectral` (in a compact scope)."""
  if spectral:
    return SpectralDense(features, name=name)(x, update_stats=train)
  return nn.Dense(features, name=name)(x)


def _conv(features: int, kernel: int, stride: int, spectral: bool, name: str,
          x: jax.Array, train: bool) -> jax.Array:
  """'SAME'-padded conv, spectrally normalised when `spectral`."""
  if spectral:
    return SpectralConv(features, (kernel, kernel), strides=stride,
                        padding="SAME", name=name)(x, update_stats=train)
  # Strided convs by im2col: XLA:CPU's strided kernel gradient is slow
  # (gdm_jax/nn/conv.py); same parameters, same function.
  return nn.Conv(features, (kernel, kernel), strides=stride, padding="SAME",
                 name=name, conv_general_dilated=strided_conv_general_dilated)(x)


def _norm(kind: str, name: str, x: jax.Array, train: bool) -> jax.Array:
  """Batch norm (per channel) or layer norm (over all non-batch axes)."""
  if kind == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM,
                        name=name)(x)
  if kind == "layer":
    return nn.LayerNorm(reduction_axes=tuple(range(1, x.ndim)),
                        feature_axes=-1, name=name)(x)
  return x


def _output(x: jax.Array, output_activation: str) -> jax.Array:
  return jnp.tanh(x) if output_activation == "tanh" else x


class MLPGenerator(nn.Module):
  """z [B, latent_dim] -> x [B, *output_shape] through dense layers.

  Hidden layers: Dense -> (BatchNorm) -> activation -> (Dropout); the output
  layer is Dense -> tanh (images in [-1, 1]) or linear (toy data).

  Attributes:
    output_shape: data shape, e.g. (28, 28, 1) or (2,).
    hidden: hidden sizes; (128, 256, 512, 1024) in the practical (seed 001).
    activation: one of ACTIVATIONS; LeakyReLU slope `negative_slope`.
    negative_slope: LeakyReLU slope (0.2).
    normalization: 'none' | 'batch' (after each hidden dense layer).
    dropout: dropout rate after each hidden activation (0 = none).
    output_activation: 'tanh' | 'linear'.

  Raises:
    ValueError: unknown activation, normalisation or output activation.
  """
  output_shape: Sequence[int]
  hidden: Sequence[int] = (128, 256, 512, 1024)
  activation: str = "leaky_relu"
  negative_slope: float = 0.2
  normalization: str = "none"
  dropout: float = 0.0
  output_activation: str = "tanh"

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    """z [B, latent_dim] -> samples [B, *output_shape]; `train` selects
    batch statistics."""
    _check_generator_call(self, z)
    act = activation_fn(self.activation, self.negative_slope)
    x = z
    for i, f in enumerate(self.hidden):
      x = nn.Dense(f, name=f"dense_{i}")(x)
      x = _norm(self.normalization, f"norm_{i}", x, train)
      x = act(x)
      if self.dropout > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = nn.Dense(math.prod(self.output_shape), name="dense_out")(x)
    x = _output(x, self.output_activation)
    return x.reshape((z.shape[0],) + tuple(self.output_shape))


class MLPDiscriminator(nn.Module):
  """x [B, ...] -> [B, output_dim] (logit, critic value or h(x) in R^k).

  Flattens x, then hidden layers Dense -> (norm) -> activation -> (Dropout)
  and a linear output layer. With 'spectral' every dense layer (output
  included) is spectrally normalised; 'batch' / 'layer' normalise hidden
  activations.

  Attributes:
    hidden: hidden sizes; (512, 256) in the practical (seed 001).
    output_dim: 1 for a discriminator/critic; k for a Cramér GAN critic.
    activation: one of ACTIVATIONS; LeakyReLU slope `negative_slope`.
    negative_slope: LeakyReLU slope (0.2).
    normalization: one of NORMALIZATIONS.
    dropout: dropout rate after each hidden activation (0.2 in seed 001).

  Raises:
    ValueError: unknown activation or normalisation.
  """
  hidden: Sequence[int] = (512, 256)
  output_dim: int = 1
  activation: str = "leaky_relu"
  negative_slope: float = 0.2
  normalization: str = "none"
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """x [B, ...] -> [B, output_dim] (flattened input); `train` selects
    batch statistics / spectral-norm updates."""
    checks.check_arg("MLPDiscriminator.__call__", "x", x, "floating [B, ...]")
    _check("discriminator normalization", self.normalization, NORMALIZATIONS)
    act = activation_fn(self.activation, self.negative_slope)
    spectral = self.normalization == "spectral"
    x = x.reshape(x.shape[0], -1)
    for i, f in enumerate(self.hidden):
      x = _dense(f, spectral, f"dense_{i}", x, train)
      x = _norm(self.normalization, f"norm_{i}", x, train)
      x = act(x)
      if self.dropout > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return _dense(self.output_dim, spectral, "dense_out", x, train)


class DCGANGenerator(nn.Module):
  """DCGAN generator: z [B, latent_dim] -> images [B, H, W, C] in [-1, 1].

  Dense to [H/2^n, W/2^n, channels[0]] -> BN -> ReLU, then for each of the
  n = len(channels) stages a x2 sub-pixel upsampling; stages 1..n-1 go to
  channels[i] with BN + ReLU, the last to C image channels with tanh and no
  batch norm (Radford et al. 2016, §3). 28x28 with channels (c0, c1):
  7x7xc0 -> 14x14xc1 -> 28x28xC; 32x32 or 64x64 need 3 or 4 stages (base
  4x4).

  Attributes:
    output_shape: (H, W, C); H and W divisible by 2**len(channels).
    channels: channels at the base resolution and after each inner stage.
    kernel_size: kernel of the sub-pixel convolutions.
    normalization: 'batch' (DCGAN) | 'none'.
    output_activation: 'tanh' | 'linear'.

  Raises:
    ValueError: H or W not divisible by 2**len(channels); unknown options.
  """
  output_shape: Sequence[int] = (28, 28, 1)
  channels: Sequence[int] = (128, 64)
  kernel_size: int = 3
  normalization: str = "batch"
  output_activation: str = "tanh"

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    """z [B, latent_dim] -> images [B, H, W, C]; `train` selects batch
    statistics."""
    _check_generator_call(self, z)
    h, w, c_out = self.output_shape
    n = len(self.channels)
    if n < 1 or h % 2 ** n or w % 2 ** n:
      raise ValueError(
          f"DCGANGenerator: image size {h}x{w} is not divisible by 2**{n} "
          f"(len(channels) = {n} upsampling stages).")
    h0, w0 = h // 2 ** n, w // 2 ** n
    x = nn.Dense(h0 * w0 * self.channels[0], name="project")(z)
    x = x.reshape(z.shape[0], h0, w0, self.channels[0])
    x = nn.relu(_norm(self.normalization, "norm_project", x, train))
    for i, c in enumerate(tuple(self.channels[1:]) + (c_out,)):
      x = SubPixelUpsample(c, kernel_size=self.kernel_size, name=f"up_{i}")(x)
      if i < n - 1:
        x = nn.relu(_norm(self.normalization, f"norm_{i}", x, train))
    return _output(x, self.output_activation)


class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator: images [B, H, W, C] -> [B, output_dim].

  Stride-2 4x4 convs to `channels[i]` with LeakyReLU(0.2), normalisation on
  every conv but the first (Radford et al. 2016, §3; with 'spectral' every
  layer is normalised, the first included), then flatten and a linear dense
  output.

  Attributes:
    channels: conv channels, e.g. (64, 128): 28x28 -> 14x14 -> 7x7.
    output_dim: 1, or k for a Cramér GAN critic.
    negative_slope: LeakyReLU slope.
    normalization: one of NORMALIZATIONS.

  Raises:
    ValueError: unknown normalisation.
  """
  channels: Sequence[int] = (64, 128)
  output_dim: int = 1
  negative_slope: float = 0.2
  normalization: str = "batch"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """x [B, H, W, C] -> [B, output_dim]; `train` selects batch statistics
    / spectral-norm updates."""
    checks.check_arg("DCGANDiscriminator.__call__", "x", x,
                     "floating [B, H, W, C]")
    _check("discriminator normalization", self.normalization, NORMALIZATIONS)
    spectral = self.normalization == "spectral"
    for i, c in enumerate(self.channels):
      x = _conv(c, 4, 2, spectral, f"conv_{i}", x, train)
      if i > 0:
        x = _norm(self.normalization, f"norm_{i}", x, train)
      x = nn.leaky_relu(x, self.negative_slope)
    x = x.reshape(x.shape[0], -1)
    return _dense(self.output_dim, spectral, "dense_out", x, train)

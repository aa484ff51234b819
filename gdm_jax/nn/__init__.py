"""Flax linen building blocks shared by the model families."""

from gdm_jax.nn.layers import ConvDecoder
from gdm_jax.nn.layers import ConvEncoder
from gdm_jax.nn.layers import depth_to_space
from gdm_jax.nn.layers import MLP
from gdm_jax.nn.layers import SubPixelUpsample
from gdm_jax.nn.gan_nets import DCGANDiscriminator
from gdm_jax.nn.gan_nets import DCGANGenerator
from gdm_jax.nn.gan_nets import MLPDiscriminator
from gdm_jax.nn.gan_nets import MLPGenerator

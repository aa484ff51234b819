"""Flax linen building blocks shared by the model families."""

from gdm_jax.nn.layers import ConvDecoder
from gdm_jax.nn.layers import ConvEncoder
from gdm_jax.nn.layers import depth_to_space
from gdm_jax.nn.layers import MLP
from gdm_jax.nn.layers import SubPixelUpsample

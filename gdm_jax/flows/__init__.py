"""Bijectors for normalizing flows, as Flax linen modules.

Every bijector has `forward(x) -> (y, log_det)` and `inverse(y) -> (x,
log_det)`, log_det = log|det J| of that direction per example, shape [B];
the two directions' log-dets cancel. `__call__` is `forward`, so
`variables = flow.init(rng, x_batch)` initialises from data (ActNorm's
data-dependent init sees the activations it will normalise) and
`flow.apply(variables, z, method="inverse")` runs the other way.
`InvertibleConv1x1` also keeps a fixed "constants" collection next to
"params": train "params" only, apply with both.

  base:           Bijector, Chain, Invert, Reshape, bounded_log_scale
  coupling:       AdditiveCoupling (NICE), AffineCoupling (RealNVP), masks,
                  ConvConditioner / ResNetConditioner / MLPConditioner
                  (zero-initialised last layer)
  conditional:    ConditionalAffineCoupling, ConditionalAffine,
                  ConditionalChain (f(x; context), for Flow++'s variational
                  dequantisation)
  actnorm:        ActNorm (Glow, data-dependent init)
  conv1x1:        InvertibleConv1x1 (Glow, LU-parametrised)
  elementwise:    Logit (RealNVP's alpha-squashed logit), Shift (x + c,
                  log-det 0), SinhArcsinh (monotone elementwise map, Jones
                  and Pewsey 2009)
  multiscale:     squeeze/unsqueeze, Squeeze, split/merge_channels,
                  squeeze_schedule, MultiscaleFlow (factor-out)
  planar:         Planar, and planar_u_hat / planar_forward / planar_inverse
                  as functions of (u, w, b) (Rezende and Mohamed 2015; the
                  one planar flow, shared with the VAE's planar posterior)
  autoregressive: MADE (optionally with a context input, the one MADE,
                  shared with the VAE's IAF posterior), IAF (Kingma et al.
                  2016; inverse via lax.fori_loop)
"""

from gdm_jax.flows.actnorm import ActNorm
from gdm_jax.flows.autoregressive import IAF
from gdm_jax.flows.autoregressive import MADE
from gdm_jax.flows.autoregressive import made_degrees
from gdm_jax.flows.autoregressive import made_masks
from gdm_jax.flows.autoregressive import MaskedDense
from gdm_jax.flows.base import Bijector
from gdm_jax.flows.base import bounded_log_scale
from gdm_jax.flows.base import Chain
from gdm_jax.flows.base import Invert
from gdm_jax.flows.base import Reshape
from gdm_jax.flows.base import sum_except_batch
from gdm_jax.flows.base import zero_log_det
from gdm_jax.flows.conditional import ConditionalAffine
from gdm_jax.flows.conditional import ConditionalAffineCoupling
from gdm_jax.flows.conditional import ConditionalChain
from gdm_jax.flows.conv1x1 import InvertibleConv1x1
from gdm_jax.flows.conv1x1 import random_rotation
from gdm_jax.flows.coupling import AdditiveCoupling
from gdm_jax.flows.coupling import AffineCoupling
from gdm_jax.flows.coupling import alternating_mask
from gdm_jax.flows.coupling import channel_mask
from gdm_jax.flows.coupling import checkerboard_mask
from gdm_jax.flows.coupling import ConvConditioner
from gdm_jax.flows.coupling import coupling_mask
from gdm_jax.flows.coupling import half_mask
from gdm_jax.flows.coupling import MLPConditioner
from gdm_jax.flows.coupling import ResNetConditioner
from gdm_jax.flows.elementwise import Logit
from gdm_jax.flows.elementwise import Shift
from gdm_jax.flows.elementwise import SinhArcsinh
from gdm_jax.flows.multiscale import flatten_latents
from gdm_jax.flows.multiscale import merge_channels
from gdm_jax.flows.multiscale import MultiscaleFlow
from gdm_jax.flows.multiscale import split_channels
from gdm_jax.flows.multiscale import Squeeze
from gdm_jax.flows.multiscale import squeeze
from gdm_jax.flows.multiscale import squeeze_schedule
from gdm_jax.flows.multiscale import unflatten_latents
from gdm_jax.flows.multiscale import unsqueeze
from gdm_jax.flows.planar import Planar
from gdm_jax.flows.planar import planar_forward
from gdm_jax.flows.planar import planar_inverse
from gdm_jax.flows.planar import planar_log_det
from gdm_jax.flows.planar import planar_u_hat

"""The GAN train step of gdm_jax.models.gan in PyTorch (eager, CPU).

Networks (gdm_jax/nn/gan_nets.py, from the same config fields):
  DCGAN generator: dense to [C0, H/2^n, W/2^n] -> BN -> ReLU, then n
    sub-pixel x2 stages (3x3 conv to 4C + PixelShuffle(2)), BN + ReLU after
    all but the last, tanh output. DCGAN discriminator: 4x4 stride-2 'SAME'
    convs with LeakyReLU(0.2), normalisation ('batch': BatchNorm2d; 'layer':
    GroupNorm(1, C), i.e. over all non-batch axes with a per-channel affine
    like flax's LayerNorm(reduction_axes=(1, 2, 3), feature_axes=-1); 'none')
    on every conv but the first, flatten, dense logit.
  MLP generator / discriminator: dense layers with LeakyReLU(0.2), optional
    batch norm and dropout, tanh output for G.

Step (`TorchStep.step`), as `gan.make(...).train_step`:
  x = -1 + 2 (pixel + u) / 256, u ~ U[0, 1) (uniform dequantisation, [-1, 1]);
  the batch of k*m examples is split into k critic minibatches; for each:
  z ~ N(0, I) [m, latent_dim], x_g = G(z) (train mode, no gradient to G),
  critic loss on (x_j, x_g) (D in train mode: batch-norm critics see the
  real and fake batches in separate calls, others one concatenated batch),
  one Adam step of D; then z ~ N(0, I) [m], generator loss of D(G(z))
  (both train mode; gradient for G's parameters only), one Adam step of G.
  Losses (per example, averaged): non-saturating / minimax with softplus
  (Goodfellow et al. 2014), hinge, and WGAN-GP f(x_g) - f(x) + λ (||∇f(x̂)||
  - 1)², x̂ = ε x + (1 - ε) x_g, ε ~ U[0, 1] per example, norm over all
  non-batch axes, double backprop (Gulrajani et al. 2017, Algorithm 1).

`load_jax_params` copies our variables into these modules (permuting NHWC
flattening and depth-to-space channel order), so the two compute the same
function (tests/test_benchmarks.py).
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from benchmarks.torch_vae import conv_weight
from benchmarks.torch_vae import dense_weight
from benchmarks.torch_vae import nhwc_to_nchw_flat_permutation
from benchmarks.torch_vae import subpixel_permutation

OBJECTIVES = ("minimax", "non_saturating", "hinge", "wgan_gp")
LEAKY_SLOPE = 0.2


def _same_pad(size: int, k: int, s: int):
  """(before, after) padding of XLA's 'SAME' for one spatial axis."""
  out = -(-size // s)
  total = max((out - 1) * s + k - size, 0)
  return total // 2, total - total // 2


def _norm2d(kind: str, c: int) -> nn.Module:
  if kind == "batch":
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)
  if kind == "layer":
    return nn.GroupNorm(1, c, eps=1e-6)
  if kind == "none":
    return nn.Identity()
  raise ValueError(f"the PyTorch GAN has no '{kind}' normalisation")


class DCGANGenerator(nn.Module):
  """z [B, latent] -> images [B, C, H, W] in [-1, 1]."""

  def __init__(self, shape, channels, latent_dim, norm):
    super().__init__()
    h, w, c_out = shape
    n = len(channels)
    self.base = (channels[0], h // 2 ** n, w // 2 ** n)
    c0, h0, w0 = self.base
    self.project = nn.Linear(latent_dim, c0 * h0 * w0)
    self.norm_project = _norm2d(norm, c0)
    self.ups = nn.ModuleList()
    self.norms = nn.ModuleList()
    c_in = c0
    outs = tuple(channels[1:]) + (c_out,)
    for i, c in enumerate(outs):
      self.ups.append(nn.Conv2d(c_in, 4 * c, 3, padding=1))
      if i < n - 1:
        self.norms.append(_norm2d(norm, c))
      c_in = c

  def forward(self, z):
    x = self.project(z).view(z.shape[0], *self.base)
    x = F.relu(self.norm_project(x))
    for i, conv in enumerate(self.ups):
      x = F.pixel_shuffle(conv(x), 2)
      if i < len(self.norms):
        x = F.relu(self.norms[i](x))
    return torch.tanh(x)


class DCGANDiscriminator(nn.Module):
  """images [B, C, H, W] -> logits [B, 1]."""

  def __init__(self, shape, channels, norm):
    super().__init__()
    h, w, c = shape
    self.convs = nn.ModuleList()
    self.norms = nn.ModuleList()
    self.pads = []
    c_in = c
    for i, ch in enumerate(channels):
      ph, pw = _same_pad(h, 4, 2), _same_pad(w, 4, 2)
      self.pads.append((pw[0], pw[1], ph[0], ph[1]))
      self.convs.append(nn.Conv2d(c_in, ch, 4, stride=2))
      self.norms.append(_norm2d(norm, ch) if i > 0 else nn.Identity())
      h, w, c_in = -(-h // 2), -(-w // 2), ch
    self.feature_shape = (h, w, c_in)
    self.dense_out = nn.Linear(h * w * c_in, 1)

  def forward(self, x):
    for conv, norm, pad in zip(self.convs, self.norms, self.pads):
      x = F.leaky_relu(norm(conv(F.pad(x, pad))), LEAKY_SLOPE)
    return self.dense_out(x.flatten(1))


class MLPGenerator(nn.Module):
  """z [B, latent] -> images [B, C, H, W] in [-1, 1] (dense layers)."""

  def __init__(self, shape, hidden, latent_dim, norm, dropout):
    super().__init__()
    self.shape = tuple(shape)
    sizes = [latent_dim] + list(hidden)
    self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in
                               zip(sizes[:-1], sizes[1:]))
    self.norms = nn.ModuleList(
        nn.BatchNorm1d(b, eps=1e-5) if norm == "batch" else nn.Identity()
        for b in hidden)
    self.dropout = dropout
    self.dense_out = nn.Linear(sizes[-1], int(np.prod(shape)))

  def forward(self, z):
    x = z
    for dense, norm in zip(self.dense, self.norms):
      x = F.leaky_relu(norm(dense(x)), LEAKY_SLOPE)
      if self.dropout:
        x = F.dropout(x, self.dropout, self.training)
    h, w, c = self.shape
    return torch.tanh(self.dense_out(x)).view(z.shape[0], c, h, w)


class MLPDiscriminator(nn.Module):
  """images [B, C, H, W] -> logits [B, 1] (dense layers)."""

  def __init__(self, shape, hidden, norm, dropout):
    super().__init__()
    if norm not in ("none", "batch"):
      raise ValueError(f"the PyTorch MLP critic has no '{norm}' normalisation")
    self.shape = tuple(shape)
    sizes = [int(np.prod(shape))] + list(hidden)
    self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in
                               zip(sizes[:-1], sizes[1:]))
    self.norms = nn.ModuleList(
        nn.BatchNorm1d(b, eps=1e-5) if norm == "batch" else nn.Identity()
        for b in hidden)
    self.dropout = dropout
    self.dense_out = nn.Linear(sizes[-1], 1)

  def forward(self, x):
    x = x.flatten(1)
    for dense, norm in zip(self.dense, self.norms):
      x = F.leaky_relu(norm(dense(x)), LEAKY_SLOPE)
      if self.dropout:
        x = F.dropout(x, self.dropout, self.training)
    return self.dense_out(x)


def build_networks(mc, shape):
  """(generator, discriminator) torch modules for `config.model`."""
  if mc.architecture == "dcgan":
    return (DCGANGenerator(shape, tuple(mc.generator_channels), mc.latent_dim,
                           mc.generator_norm),
            DCGANDiscriminator(shape, tuple(mc.discriminator_channels),
                               mc.discriminator_norm))
  if mc.architecture == "mlp":
    if mc.activation != "leaky_relu":
      raise ValueError("the PyTorch MLP GAN uses LeakyReLU(0.2)")
    return (MLPGenerator(shape, tuple(mc.generator_hidden), mc.latent_dim,
                         mc.generator_norm, mc.generator_dropout),
            MLPDiscriminator(shape, tuple(mc.discriminator_hidden),
                             mc.discriminator_norm, mc.discriminator_dropout))
  raise ValueError(f"the PyTorch GAN has no architecture '{mc.architecture}'")


def _adam(params, oc):
  if oc.name != "adam" or oc.get("weight_decay", 0.0) or oc.get(
      "grad_clip_norm", 0.0):
    raise ValueError(f"benchmark implements plain Adam; got {oc.name}")
  return torch.optim.Adam(params, lr=oc.learning_rate, betas=(oc.b1, oc.b2),
                          eps=oc.eps)


class TorchStep:
  """One GAN train step (k critic updates, one generator update) on a fixed
  uint8 batch of k*m images; `step()` returns the last critic loss."""

  def __init__(self, config, info, batch, seed=0):
    del seed
    mc = config.model
    if mc.objective not in OBJECTIVES:
      raise ValueError(f"the PyTorch GAN implements {OBJECTIVES}; got "
                       f"'{mc.objective}'")
    if (config.data.dequantization != "uniform"
        or config.data.value_range != "-1_1"):
      raise ValueError("the PyTorch GAN dequantises uniformly to [-1, 1]")
    self.mc = mc
    self.k = mc.critic_steps
    self.real_label = float(mc.get("real_label", 1.0))
    self.gen, self.disc = build_networks(mc, info["shape"])
    self.opt_g = _adam(self.gen.parameters(), config.optimizer.generator)
    self.opt_d = _adam(self.disc.parameters(), config.optimizer.discriminator)
    self.images = torch.from_numpy(np.ascontiguousarray(
        batch["image"].transpose(0, 3, 1, 2)))
    self.separate_calls = mc.discriminator_norm == "batch"

  # ---------------------------------------------------------------- losses

  def discriminate(self, xs):
    """D on a list of equal-shape batches, separately for batch norm."""
    if self.separate_calls:
      return [self.disc(x)[:, 0] for x in xs]
    return list(self.disc(torch.cat(xs)).chunk(len(xs)))

  def gradient_penalty(self, real, fake, eps):
    """(||∇_x̂ D(x̂)||₂ - 1)² per example [B], x̂ = eps x + (1 - eps) x_g."""
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    out = self.disc(x_hat)
    (g,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (g.flatten(1).norm(dim=1) - 1.0) ** 2

  def critic_loss(self, real, fake, eps=None):
    """Mean critic loss on real and generated [m, C, H, W] (D in its current
    mode); eps [m, 1, 1, 1] are the interpolation weights of WGAN-GP."""
    l_r, l_f = [o.reshape(-1) for o in self.discriminate([real, fake])]
    obj = self.mc.objective
    if obj in ("minimax", "non_saturating"):
      loss = F.softplus(-l_r) + F.softplus(l_f)
      if self.real_label < 1.0:
        loss = loss + (1.0 - self.real_label) * (F.softplus(l_r)
                                                 - F.softplus(-l_r))
    elif obj == "hinge":
      loss = F.relu(1.0 - l_r) + F.relu(1.0 + l_f)
    else:
      if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
      loss = l_f - l_r + self.mc.gp_weight * self.gradient_penalty(real, fake,
                                                                   eps)
    return loss.mean()

  def generator_loss(self, z):
    """Mean generator loss of D(G(z)) (both networks in their current mode)."""
    l_f = self.disc(self.gen(z)).reshape(-1)
    obj = self.mc.objective
    if obj == "non_saturating":
      return F.softplus(-l_f).mean()
    if obj == "minimax":
      return -F.softplus(l_f).mean()
    return -l_f.mean()

  # ------------------------------------------------------------------ step

  def step(self):
    x = (self.images.float() + torch.rand(self.images.shape)) * (2 / 256) - 1
    m = x.shape[0] // self.k
    latent = self.mc.latent_dim
    for real in x.split(m):
      with torch.no_grad():
        fake = self.gen(torch.randn(m, latent))
      d_loss = self.critic_loss(real, fake)
      self.opt_d.zero_grad(set_to_none=True)
      d_loss.backward()
      self.opt_d.step()
    self.disc.requires_grad_(False)     # gradients for G's parameters only
    g_loss = self.generator_loss(torch.randn(m, latent))
    self.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    self.opt_g.step()
    self.disc.requires_grad_(True)
    return d_loss


# ---------------------------------------------------------------------------
# Our variables -> these modules.


def _set_linear(m, kernel, bias):
  with torch.no_grad():
    m.weight.copy_(kernel)
    m.bias.copy_(torch.from_numpy(np.array(bias).copy()))


def _set_norm(m, variables, stats=None):
  """flax BatchNorm/LayerNorm scale, bias (and running mean/var)."""
  if isinstance(m, nn.Identity):
    return
  with torch.no_grad():
    m.weight.copy_(torch.from_numpy(np.array(variables["scale"]).copy()))
    m.bias.copy_(torch.from_numpy(np.array(variables["bias"]).copy()))
    if stats is not None and isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
      m.running_mean.copy_(torch.from_numpy(np.array(stats["mean"]).copy()))
      m.running_var.copy_(torch.from_numpy(np.array(stats["var"]).copy()))


def load_jax_params(step: TorchStep, params) -> None:
  """Copies `state.params` = {'generator': vars, 'discriminator': vars} of
  gan.make(...) into step.gen / step.disc."""
  g_vars, d_vars = params["generator"], params["discriminator"]
  gp, dp = g_vars["params"], d_vars["params"]
  gs, ds = g_vars.get("batch_stats", {}), d_vars.get("batch_stats", {})
  gen, disc = step.gen, step.disc
  if isinstance(gen, DCGANGenerator):
    c0, h0, w0 = gen.base
    perm = nhwc_to_nchw_flat_permutation(h0, w0, c0)
    _set_linear(gen.project, dense_weight(np.array(gp["project"]["kernel"])[:, perm]),
                np.array(gp["project"]["bias"])[perm])
    _set_norm(gen.norm_project, gp.get("norm_project", {}),
              gs.get("norm_project"))
    for i, conv in enumerate(gen.ups):
      q = gp[f"up_{i}"]["Conv_0"]
      sp = subpixel_permutation(conv.out_channels // 4)
      _set_linear(conv, conv_weight(np.array(q["kernel"])[..., sp]),
                  np.array(q["bias"])[sp])
    for i, norm in enumerate(gen.norms):
      _set_norm(norm, gp.get(f"norm_{i}", {}), gs.get(f"norm_{i}"))
  else:
    for i, dense in enumerate(gen.dense):
      q = gp[f"dense_{i}"]
      _set_linear(dense, dense_weight(q["kernel"]), q["bias"])
      _set_norm(gen.norms[i], gp.get(f"norm_{i}", {}), gs.get(f"norm_{i}"))
    h, w, c = gen.shape
    perm = nhwc_to_nchw_flat_permutation(h, w, c)
    q = gp["dense_out"]
    _set_linear(gen.dense_out, dense_weight(np.array(q["kernel"])[:, perm]),
                np.array(q["bias"])[perm])
  if isinstance(disc, DCGANDiscriminator):
    for i, conv in enumerate(disc.convs):
      q = dp[f"conv_{i}"]
      _set_linear(conv, conv_weight(q["kernel"]), q["bias"])
      _set_norm(disc.norms[i], dp.get(f"norm_{i}", {}), ds.get(f"norm_{i}"))
    h, w, c = disc.feature_shape
    perm = nhwc_to_nchw_flat_permutation(h, w, c)
    q = dp["dense_out"]
    _set_linear(disc.dense_out, dense_weight(np.array(q["kernel"])[perm]),
                q["bias"])
  else:
    for i, dense in enumerate(disc.dense):
      q = dp[f"dense_{i}"]
      kernel = np.array(q["kernel"])
      if i == 0:   # our flatten is NHWC, torch's NCHW
        kernel = kernel[nhwc_to_nchw_flat_permutation(*disc.shape)]
      _set_linear(dense, dense_weight(kernel), q["bias"])
      _set_norm(disc.norms[i], dp.get(f"norm_{i}", {}), ds.get(f"norm_{i}"))
    q = dp["dense_out"]
    _set_linear(disc.dense_out, dense_weight(q["kernel"]), q["bias"])

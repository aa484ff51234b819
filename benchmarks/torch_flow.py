"""The RealNVP train step of gdm_jax.models.flow in PyTorch (eager, CPU).

Model (gdm_jax/models/flow.py `realnvp_flow`, from the same config fields):
x = (k + u) / 256, u ~ U[0, 1) (uniform dequantisation); h = logit(α +
(1 - 2α) x); L levels, level k < L-1: `num_couplings` checkerboard affine
couplings (parity alternating), squeeze (space-to-depth, TF channel order)
where the size is even, `num_couplings` channel couplings, factor out the
last C//2 channels; the last level `num_couplings` + 1 checkerboard
couplings. Affine coupling with mask b: out = NN(b ⊙ x) with 2C channels,
t = (1 - b) ⊙ out[:C], log s = (1 - b) ⊙ B tanh(out[C:] / B), y = x e^{log s}
+ t. NN = RealNVP's small residual conditioner: conv3x3, `num_blocks` x
(h += conv3x3(relu(conv3x3(relu(h))))), conv3x3(relu(h)) to 2C.

Step: loss = mean_B bits/dim = (-log N(z; 0, I) - log|det J| + D ln 256) /
(D ln 2) (Dinh et al. 2017, sec. 4.1; Theis et al. 2016, sec. 3.1), then
clip_grad_norm_(config.optimizer.grad_clip_norm) and Adam. Our learning
rate follows a warm-up + cosine schedule (a scalar; immaterial to the cost).

`load_jax_params` copies our parameters into this module (kernels
transposed; the squeeze's channel order is the same as ours, so no other
permutation), so the two compute the same function (tests/test_benchmarks.py).
"""

import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from benchmarks.torch_vae import conv_weight

LOG_2PI = math.log(2 * math.pi)


class ResNetConditioner(nn.Module):
  """[B, C_in, H, W] -> [B, out, H, W]: conv_in, residual blocks, zero_conv."""

  def __init__(self, c_in, out, hidden, num_blocks):
    super().__init__()
    self.conv_in = nn.Conv2d(c_in, hidden, 3, padding=1)
    self.blocks = nn.ModuleList(
        nn.ModuleList([nn.Conv2d(hidden, hidden, 3, padding=1),
                       nn.Conv2d(hidden, hidden, 3, padding=1)])
        for _ in range(num_blocks))
    self.zero_conv = nn.Conv2d(hidden, out, 3, padding=1)
    nn.init.zeros_(self.zero_conv.weight)
    nn.init.zeros_(self.zero_conv.bias)

  def forward(self, x):
    h = self.conv_in(x)
    for a, b in self.blocks:
      h = h + b(F.relu(a(F.relu(h))))
    return self.zero_conv(F.relu(h))


class AffineCoupling(nn.Module):
  """RealNVP coupling on NCHW with a checkerboard or channel mask."""

  def __init__(self, mask_type, parity, c, h, w, hidden, num_blocks, bound):
    super().__init__()
    if mask_type == "checkerboard":
      i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
      b = ((i + j + int(parity)) % 2 == 0).astype(np.float32)[None, None]
    else:
      b = (np.arange(c) < c // 2).astype(np.float32)
      b = (1.0 - b if parity else b)[None, :, None, None]
    self.register_buffer("mask", torch.from_numpy(b))
    self.conditioner = ResNetConditioner(c, 2 * c, hidden, num_blocks)
    self.c, self.bound = c, bound

  def forward(self, x):
    b = self.mask
    out = self.conditioner(x * b)
    shift = (1.0 - b) * out[:, :self.c]
    log_s = (1.0 - b) * self.bound * torch.tanh(out[:, self.c:] / self.bound)
    return x * torch.exp(log_s) + shift, log_s.flatten(1).sum(1)


def squeeze(x):
  """[B, C, H, W] -> [B, 4C, H/2, W/2], channel (p*2 + q)*C + c (TF order)."""
  b, c, h, w = x.shape
  x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4)
  return x.reshape(b, 4 * c, h // 2, w // 2)


class RealNVP(nn.Module):
  """log p_X(x) [B] (nats) of x in [0, 1)^D, NCHW, logit pre-transform."""

  def __init__(self, mc, shape):
    super().__init__()
    if mc.architecture != "realnvp" or mc.scale_fn != "tanh":
      raise ValueError("the PyTorch flow is RealNVP with tanh scales")
    h, w, c = shape
    self.alpha = float(mc.logit_alpha)
    self.levels = nn.ModuleList()
    self.plan = []   # per level: list of 'c' (coupling) / 's' (squeeze)
    levels = mc.num_levels
    for k in range(levels):
      last = k == levels - 1
      squeeze_ok = not last and h % 2 == 0 and w % 2 == 0
      mods, plan = nn.ModuleList(), []
      coupling = lambda mask, i: AffineCoupling(
          mask, i % 2 == 1, c, h, w, mc.hidden, mc.num_blocks,
          mc.log_scale_bound)
      n_cb = mc.num_couplings + 1 if last else mc.num_couplings
      for i in range(n_cb):
        mods.append(coupling("checkerboard", i))
        plan.append("c")
      if not last:
        if squeeze_ok:
          plan.append("s")
          h, w, c = h // 2, w // 2, 4 * c
        for i in range(mc.num_couplings):
          mods.append(coupling("channel", i))
          plan.append("c")
        c -= c // 2
      self.levels.append(mods)
      self.plan.append(plan)

  def forward(self, x):
    a = self.alpha
    p = a + (1 - 2 * a) * x
    log_p, log_1mp = torch.log(p), torch.log1p(-p)
    h = log_p - log_1mp
    log_det = (math.log1p(-2 * a) - log_p - log_1mp).flatten(1).sum(1)
    log_pz = 0.0
    for k, (mods, plan) in enumerate(zip(self.levels, self.plan)):
      it = iter(mods)
      for op in plan:
        if op == "s":
          h = squeeze(h)
        else:
          h, ld = next(it)(h)
          log_det = log_det + ld
      if k < len(self.levels) - 1:
        keep = h.shape[1] - h.shape[1] // 2
        h, z = h[:, :keep], h[:, keep:]
        log_pz = log_pz - 0.5 * (z * z + LOG_2PI).flatten(1).sum(1)
    log_pz = log_pz - 0.5 * (h * h + LOG_2PI).flatten(1).sum(1)
    return log_pz + log_det


class TorchStep:
  """One RealNVP train step on a fixed uint8 batch; `step()` -> loss."""

  def __init__(self, config, info, batch, seed=0):
    del seed
    if config.data.dequantization != "uniform":
      raise ValueError("the PyTorch flow dequantises uniformly")
    oc = config.optimizer
    if oc.name != "adam" or oc.get("weight_decay", 0.0):
      raise ValueError(f"benchmark implements plain Adam; got {oc.name}")
    self.net = RealNVP(config.model, info["shape"])
    self.opt = torch.optim.Adam(self.net.parameters(), lr=oc.learning_rate,
                                betas=(oc.b1, oc.b2), eps=oc.eps)
    self.clip = oc.get("grad_clip_norm", 0.0)
    self.images = torch.from_numpy(np.ascontiguousarray(
        batch["image"].transpose(0, 3, 1, 2)))
    self.num_dims = int(np.prod(info["shape"]))

  def bits_per_dim(self, x):
    """[B] bits/dim of x = (k + u) / 256 (uniform dequantisation)."""
    d = self.num_dims
    return (-self.net(x) + d * math.log(256)) / (d * math.log(2))

  def step(self):
    k = self.images.float()
    # As dequantize_uniform: keep k + u inside its bin in float32.
    x = torch.minimum(k + torch.rand(k.shape), torch.nextafter(k + 1, k)) / 256
    loss = self.bits_per_dim(x).mean()
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    if self.clip:
      torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
    self.opt.step()
    return loss


def load_jax_params(net: RealNVP, params) -> None:
  """Copies flow.make(...) `state.params` ({'flow': {'params': ...}}) into
  `net`."""
  p = params["flow"]["params"]
  for k, (mods, plan) in enumerate(zip(net.levels, net.plan)):
    it = iter(mods)
    for i, op in enumerate(plan):
      if op == "s":
        continue
      cond = next(it).conditioner
      q = p[f"levels_{k}"][f"bijectors_{i}"]["conditioner"]
      pairs = [(cond.conv_in, q["conv_in"]), (cond.zero_conv, q["zero_conv"])]
      for j, (a, b) in enumerate(cond.blocks):
        pairs += [(a, q[f"block_{j}_a"]), (b, q[f"block_{j}_b"])]
      with torch.no_grad():
        for conv, v in pairs:
          conv.weight.copy_(conv_weight(v["kernel"]))
          conv.bias.copy_(torch.from_numpy(np.array(v["bias"]).copy()))

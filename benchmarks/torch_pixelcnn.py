"""The gated PixelCNN train step of gdm_jax.models.pixelcnn in PyTorch (CPU).

Network (gdm_jax/nn/masked.py `GatedPixelCNN`, one colour channel, from the
same config fields), F = `channels`, layer l with kernel k (the first
`first_kernel_size`, then `kernel_size`):
  v_pre = VerticalConv(2F): a (k//2 + 1) x k conv padded k//2 rows on top
          (l = 0: (k//2) x k, output shifted one row down: rows above only)
  link  = 1x1 conv(2F)(v_pre);   v = tanh(v_pre[:F]) * sigmoid(v_pre[F:])
  h_pre = HorizontalConv(2F): a 1 x (k//2 + 1) conv padded k//2 columns on
          the left, its current-pixel column zeroed for l = 0 (mask A)
          + link
  out   = 1x1 conv(F)(gate(h_pre));   h = out (l = 0) or h + out
then relu -> 1x1 conv (head) -> relu -> 1x1 conv to 256 logits per pixel
(van den Oord et al. 2016b, section 2.2, figure 2).

Step: x = -1 + 2 k / 255 as the input, loss = mean_B Σ_pixels -log
softmax(logits)[k] (nats; van den Oord et al. 2016a, section 5.3), then
clip_grad_norm_(config.optimizer.grad_clip_norm) and Adam. With one colour
channel mask B is all ones, so only mask A (first horizontal layer) is
applied; ours multiplies every masked kernel by its mask, which XLA fuses.

`load_jax_params` copies our parameters into this module, so the two
compute the same function (tests/test_benchmarks.py).
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from benchmarks.torch_vae import conv_weight

NUM_VALUES = 256


def gate(x):
  a, b = x.chunk(2, dim=1)
  return torch.tanh(a) * torch.sigmoid(b)


class GatedPixelCNN(nn.Module):
  """x [B, 1, H, W] in [-1, 1] -> logits [B, 256, H, W]."""

  def __init__(self, mc):
    super().__init__()
    f = mc.channels
    sizes = [mc.first_kernel_size] + [mc.kernel_size] * (mc.num_layers - 1)
    self.sizes = sizes
    self.v_convs, self.links, self.h_convs, self.h_outs = (
        nn.ModuleList() for _ in range(4))
    c_in = 1
    for l, k in enumerate(sizes):
      rows = k // 2 + (1 if l > 0 else 0)
      self.v_convs.append(nn.Conv2d(c_in, 2 * f, (rows, k)))
      self.links.append(nn.Conv2d(2 * f, 2 * f, 1))
      self.h_convs.append(nn.Conv2d(c_in, 2 * f, (1, k // 2 + 1)))
      self.h_outs.append(nn.Conv2d(f, f, 1))
      c_in = f
    mask = torch.ones_like(self.h_convs[0].weight)
    mask[..., -1] = 0.0                     # mask A: not the current pixel
    self.register_buffer("mask_a", mask)
    self.head_0 = nn.Conv2d(f, mc.head_channels or f, 1)
    self.head_1 = nn.Conv2d(mc.head_channels or f, NUM_VALUES, 1)

  def forward(self, x):
    v = h = x
    for l, k in enumerate(self.sizes):
      p = k // 2
      v_pre = self.v_convs[l](F.pad(v, (p, p, p, 0)))
      if l == 0:
        v_pre = v_pre[:, :, :-1]
      link = self.links[l](v_pre)
      v = gate(v_pre)
      w = self.h_convs[l].weight * self.mask_a if l == 0 else (
          self.h_convs[l].weight)
      h_pre = F.conv2d(F.pad(h, (p, 0, 0, 0)), w, self.h_convs[l].bias) + link
      out = self.h_outs[l](gate(h_pre))
      h = out if l == 0 else h + out
    return self.head_1(F.relu(self.head_0(F.relu(h))))


class TorchStep:
  """One PixelCNN train step on a fixed uint8 batch; `step()` -> loss."""

  def __init__(self, config, info, batch, seed=0):
    del seed
    mc = config.model
    if (mc.architecture != "gated" or mc.likelihood != "categorical"
        or tuple(info["shape"])[-1] != 1):
      raise ValueError("the PyTorch PixelCNN is the gated, 256-way softmax "
                       "network on one colour channel")
    oc = config.optimizer
    if oc.name != "adam" or oc.get("weight_decay", 0.0):
      raise ValueError(f"benchmark implements plain Adam; got {oc.name}")
    self.net = GatedPixelCNN(mc)
    self.opt = torch.optim.Adam(self.net.parameters(), lr=oc.learning_rate,
                                betas=(oc.b1, oc.b2), eps=oc.eps)
    self.clip = oc.get("grad_clip_norm", 0.0)
    lo = -1.0 if config.data.value_range == "-1_1" else 0.0
    self.scale = (1.0 - lo) / 255.0, lo
    self.images = torch.from_numpy(np.ascontiguousarray(
        batch["image"].transpose(0, 3, 1, 2)))

  def nll(self, images):
    """-log p(x) [B] in nats for uint8 images [B, 1, H, W]."""
    x = self.scale[1] + self.scale[0] * images.float()
    logits = self.net(x)
    return F.cross_entropy(logits, images[:, 0].long(),
                           reduction="none").flatten(1).sum(1)

  def step(self):
    loss = self.nll(self.images).mean()
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    if self.clip:
      torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
    self.opt.step()
    return loss


def load_jax_params(net: GatedPixelCNN, params) -> None:
  """Copies pixelcnn.make(...) `state.params` into `net`."""
  p = params["params"]
  pairs = [(net.head_0, p["head_0"]["conv"]), (net.head_1, p["head_1"]["conv"])]
  for l in range(len(net.sizes)):
    pairs += [(net.v_convs[l], p[f"v_convs_{l}"]["conv"]),
              (net.links[l], p[f"links_{l}"]),
              (net.h_convs[l], p[f"h_convs_{l}"]["conv"]),
              (net.h_outs[l], p[f"h_outs_{l}"]["conv"])]
  with torch.no_grad():
    for conv, v in pairs:
      conv.weight.copy_(conv_weight(v["kernel"]))
      conv.bias.copy_(torch.from_numpy(np.array(v["bias"]).copy()))

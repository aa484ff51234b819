"""The VAE train step of gdm_jax.models.vae in PyTorch (eager, CPU).

Architecture (from the same config fields as `VAENet`): MLP
D-h1-..-2z / z-..-h1-D with ReLU; or conv: 4x4 stride-2 'SAME' convs
(ReLU), dense (ReLU), dense 2z; decoder dense (ReLU), dense to
[C0, H/2^n, W/2^n] (ReLU), n sub-pixel stages (3x3 conv to 4C +
PixelShuffle(2), ReLU), 3x3 conv to the image channels.

Step: x ~ Bernoulli(pixel / 255) (dynamic binarisation, inside the step),
z = μ + σ ε, loss = mean_B [BCE-with-logits(x; decoder(z)) summed over
pixels + KL(N(μ, σ²) || N(0, I))] = -ELBO (Kingma and Welling 2014, eq. 3,
KL from appendix B), Adam(lr, b1, b2, eps from config.optimizer).

Differences immaterial to the cost: our learning rate follows the config's
warm-up + cosine schedule (a scalar), our step also returns the gradient's
global norm, and PyTorch lays images out as NCHW with its own pixel-shuffle
channel order: `load_jax_params` maps our parameters onto this module (a
permutation), so the two compute the same function (tests/test_benchmarks.py).
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def _mlp(sizes):
  layers = []
  for i in range(len(sizes) - 1):
    layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    if i < len(sizes) - 2:
      layers.append(nn.ReLU())
  return nn.Sequential(*layers)


class TorchVAE(nn.Module):
  """VAENet in PyTorch: forward(x [B, C, H, W], eps [B, z]) -> (logits
  [B, C, H, W], mean [B, z], log_scale [B, z])."""

  def __init__(self, mc, shape):
    super().__init__()
    h, w, c = shape
    d, z = h * w * c, mc.latent_dim
    self.architecture = mc.architecture
    self.shape = tuple(shape)
    if mc.architecture == "mlp":
      self.encoder = nn.Sequential(nn.Flatten(),
                                   _mlp([d] + list(mc.hidden) + [2 * z]))
      self.decoder = _mlp([z] + list(reversed(mc.hidden)) + [d])
      return
    chans = list(mc.conv_channels)
    n = len(chans)
    if h % 2 ** n or w % 2 ** n:
      raise ValueError(f"image size {h}x{w} not divisible by 2**{n}")
    enc, c_in = [], c
    for ch in chans:
      # 4x4 stride-2 'SAME' on an even size pads 1 on each side.
      enc += [nn.Conv2d(c_in, ch, 4, stride=2, padding=1), nn.ReLU()]
      c_in = ch
    h0, w0 = h // 2 ** n, w // 2 ** n
    self.base = (chans[-1], h0, w0)
    enc += [nn.Flatten(), nn.Linear(h0 * w0 * c_in, mc.conv_hidden), nn.ReLU(),
            nn.Linear(mc.conv_hidden, 2 * z)]
    self.encoder = nn.Sequential(*enc)
    dchans = list(reversed(chans))
    dec = [nn.Linear(z, mc.conv_hidden), nn.ReLU(),
           nn.Linear(mc.conv_hidden, h0 * w0 * dchans[0]), nn.ReLU(),
           nn.Unflatten(1, (dchans[0], h0, w0))]
    c_in = dchans[0]
    for ch in dchans:   # sub-pixel upsampling: 3x3 conv to 4*ch, shuffle
      dec += [nn.Conv2d(c_in, 4 * ch, 3, padding=1), nn.PixelShuffle(2),
              nn.ReLU()]
      c_in = ch
    dec += [nn.Conv2d(c_in, c, 3, padding=1)]
    self.decoder = nn.Sequential(*dec)

  def forward(self, x, eps):
    mean, log_scale = self.encoder(x).chunk(2, dim=-1)
    z = mean + torch.exp(log_scale) * eps
    return self.decoder(z).reshape(x.shape), mean, log_scale


def negative_elbo(net: TorchVAE, x, eps):
  """Per-example -ELBO [B] (nats) for binary x [B, C, H, W] and noise eps."""
  logits, mean, log_scale = net(x, eps)
  rec = F.binary_cross_entropy_with_logits(logits, x,
                                           reduction="none").flatten(1).sum(1)
  kl = 0.5 * (mean ** 2 + torch.exp(2 * log_scale) - 1 - 2 * log_scale).sum(1)
  return rec + kl


def adam(params, oc):
  """torch Adam with the config's lr, b1, b2, eps (Kingma and Ba 2015)."""
  if oc.name != "adam" or oc.get("weight_decay", 0.0):
    raise ValueError(f"benchmark implements plain Adam; got {oc.name}")
  return torch.optim.Adam(params, lr=oc.learning_rate, betas=(oc.b1, oc.b2),
                          eps=oc.eps)


class TorchStep:
  """One VAE train step on a fixed uint8 batch; `step()` returns the loss."""

  def __init__(self, config, info, batch, seed=0):
    del seed
    if config.model.get("posterior_flow", "none") != "none" or (
        config.model.get("prior_flow", "none") != "none"):
      raise ValueError("the PyTorch VAE has no flow posterior/prior")
    if config.model.likelihood != "bernoulli" or config.model.objective != "elbo":
      raise ValueError("the PyTorch VAE implements the Bernoulli ELBO only")
    self.net = TorchVAE(config.model, info["shape"])
    self.opt = adam(self.net.parameters(), config.optimizer)
    # The same uint8 batch, NHWC -> NCHW.
    self.images = torch.from_numpy(np.ascontiguousarray(
        batch["image"].transpose(0, 3, 1, 2)))
    self.latent_dim = config.model.latent_dim

  def step(self):
    x = torch.bernoulli(self.images.float() / 255.0)   # dynamic binarisation
    eps = torch.randn(x.shape[0], self.latent_dim)
    loss = negative_elbo(self.net, x, eps).mean()
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    self.opt.step()
    return loss


# ---------------------------------------------------------------------------
# Our parameters -> this module (for the same-function tests).


def dense_weight(kernel):
  """flax Dense kernel [in, out] -> torch Linear weight [out, in]."""
  return torch.from_numpy(np.array(kernel).T.copy())


def conv_weight(kernel):
  """flax Conv kernel [kh, kw, in, out] -> torch Conv2d weight
  [out, in, kh, kw]."""
  return torch.from_numpy(np.array(kernel).transpose(3, 2, 0, 1).copy())


def subpixel_permutation(c_out: int, s: int = 2) -> np.ndarray:
  """perm with torch channel k = c*s*s + i*s + j (PixelShuffle) taking our
  channel perm[k] = (i*s + j)*c_out + c (depth_to_space, TF order)."""
  c, i, j = np.meshgrid(np.arange(c_out), np.arange(s), np.arange(s),
                        indexing="ij")
  return ((i * s + j) * c_out + c).reshape(-1)


def nhwc_to_nchw_flat_permutation(h: int, w: int, c: int) -> np.ndarray:
  """perm with torch's flat NCHW index k = (c*H + y)*W + x taking our flat
  NHWC index perm[k] = (y*W + x)*C + c."""
  cc, y, x = np.meshgrid(np.arange(c), np.arange(h), np.arange(w),
                         indexing="ij")
  return ((y * w + x) * c + cc).reshape(-1)


def _set(module, weight, bias):
  with torch.no_grad():
    module.weight.copy_(weight)
    module.bias.copy_(torch.from_numpy(np.array(bias).copy()))


def load_jax_params(net: TorchVAE, params) -> None:
  """Copies VAENet params ({'params': {'encoder': ..., 'decoder': ...}})
  into `net`, permuting channels/features so both compute the same map."""
  p = params["params"]
  enc = [m for m in net.encoder.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
  dec = [m for m in net.decoder.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
  if net.architecture == "mlp":
    for i, m in enumerate(enc):
      q = p["encoder"][f"dense_{i}"]
      _set(m, dense_weight(q["kernel"]), q["bias"])
    for i, m in enumerate(dec):
      q = p["decoder"][f"dense_{i}"]
      _set(m, dense_weight(q["kernel"]), q["bias"])
    return
  c0, h0, w0 = net.base
  convs = [m for m in enc if isinstance(m, nn.Conv2d)]
  for i, m in enumerate(convs):
    q = p["encoder"][f"Conv_{i}"]
    _set(m, conv_weight(q["kernel"]), q["bias"])
  d0, d1 = [m for m in enc if isinstance(m, nn.Linear)]
  q = p["encoder"]["Dense_0"]
  perm = nhwc_to_nchw_flat_permutation(h0, w0, c0)
  _set(d0, dense_weight(np.array(q["kernel"])[perm]), q["bias"])
  q = p["encoder"]["Dense_1"]
  _set(d1, dense_weight(q["kernel"]), q["bias"])
  lin = [m for m in dec if isinstance(m, nn.Linear)]
  q = p["decoder"]["Dense_0"]
  _set(lin[0], dense_weight(q["kernel"]), q["bias"])
  q = p["decoder"]["Dense_1"]
  _set(lin[1], dense_weight(np.array(q["kernel"])[:, perm]),
       np.array(q["bias"])[perm])
  dconvs = [m for m in dec if isinstance(m, nn.Conv2d)]
  for i, m in enumerate(dconvs[:-1]):
    q = p["decoder"][f"SubPixelUpsample_{i}"]["Conv_0"]
    sp = subpixel_permutation(m.out_channels // 4)
    _set(m, conv_weight(np.array(q["kernel"])[..., sp]), np.array(q["bias"])[sp])
  q = p["decoder"]["Conv_0"]
  _set(dconvs[-1], conv_weight(q["kernel"]), q["bias"])

"""VAE family on Fashion-MNIST (offline default: Debian's dataset-fashion-mnist).

Launch (`:variant`: default (MLP Bernoulli VAE 784-512-512-z32, dynamically
binarised data, 50 epochs), conv (conv encoder / sub-pixel decoder, 5
epochs), iwae (IWAE bound, K = 5, 15 epochs), beta (β = 4, 2000-step KL
warm-up), gaussian (Gaussian decoder with learned per-pixel scale on
dequantised data), latent2d (z = 2, writes the 20x20 manifold plot), uva
(the UvA practical: 784-500-z20, static binarisation, 80 epochs); with
flows: planar (posterior, K = 10), iaf (posterior, 4 MADE steps),
flow_prior (4 MAF steps), flow_prior_realnvp (4 couplings), gaussian_iaf):
  python -m experiments.train --config=experiments/configs/vae.py --workdir=/tmp/vae
  python -m experiments.train --config=experiments/configs/vae.py:conv --workdir=/tmp/vae_conv

Expected results (test NLL by importance sampling, K = 1000, nats; the
README's results table gives the machine state):
  default   NLL 232.6, ELBO -234.5, in 6 min on a 2-core CPU.
  conv      NLL 240.3 on the first 2000 test examples (validation ELBO
            -243.1 against the default's -232.5).
  iwae      NLL 235.2, ELBO -240.5.     beta      NLL 237.0, ELBO -243.4.
  gaussian  6.87 bits/dim.              latent2d  NLL 258.1.
  uva       ELBO 0.2275 bits/dim, NLL 0.2107 bits/dim.
Flows at equal budget (858 steps = 2 epochs; NLL on the first 200 test
examples, validation ELBO on all 5000; the 2-core CPU at load average ~20,
two runs at a time), with
  --config.train.num_steps=858 --config.train.final_eval_examples=200
  --config.eval.sample_metrics=False
  variant     val ELBO  test ELBO  test NLL   train s
  default      -255.0    -258.8     254.4       225
  planar       -253.6    -257.6     253.3       443
  iaf          -253.0    -257.3     253.3       908
  flow_prior   -250.0    -254.2     250.9       715
  gaussian, gaussian_iaf: 8.75 and 8.76 bits/dim (NLL 409.6 and 413.8).
"""

import ml_collections

from experiments.configs import common

_GAUSSIAN = dict(data=dict(binarization="none", dequantization="uniform"),
                 model=dict(likelihood="gaussian"))
_IAF = dict(posterior_flow="iaf", posterior_flow_steps=4)


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.config(
      data=common.fashion_mnist(
          binarization="dynamic",  # dynamic | static | none
          dequantization="none"),  # none | uniform
      model=dict(
          name="vae", architecture="mlp", hidden=(512, 512),
          conv_channels=(32, 64), conv_hidden=512, latent_dim=32,
          likelihood="bernoulli", learn_scale=True, fixed_scale=0.1,
          beta=1.0, kl_warmup_steps=0, objective="elbo", num_samples=1,
          eval_num_samples=1000, eval_chunk_size=100,
          # Flows (gdm_jax/models/vae.py); 'none' and 'none' = the plain VAE.
          posterior_flow="none",          # none | planar | iaf
          posterior_flow_steps=4,
          posterior_flow_amortized=True,  # planar: u, w, b from h(x)
          posterior_context_dim=64,       # size of the encoder's context h(x)
          posterior_flow_hidden=(320, 320),  # IAF's MADE hidden layers
          iaf_gate_bias=2.0,              # sigma = sigmoid(s + 2) at init
          prior_flow="none",              # none | realnvp | maf
          prior_flow_steps=4,
          prior_flow_hidden=256),         # coupling MLP / MADE layer width
      optimizer=common.optimizer(1e-3, schedule="cosine", warmup_steps=100),
      train=common.train(batch_size=128, num_steps=common.epochs(50, 128),
                         log_every=200, eval_every=2000, keep_checkpoints=3,
                         eval_batch_size=400,  # divides over 1..8 devices
                         final_eval_batch_size=200))
  variants = {
      "default": {},
      # CPU convolutions are slow: a small conv net for the default's wall
      # time; its K=1000 NLL on the first 2000 test examples.
      "conv": dict(model=dict(architecture="conv", conv_channels=(16, 32),
                              conv_hidden=256),
                   train=dict(num_steps=common.epochs(5, 128),
                              final_eval_examples=2000)),
      "iwae": dict(model=dict(objective="iwae", num_samples=5),
                   train=dict(num_steps=common.epochs(15, 128))),
      "beta": dict(model=dict(beta=4.0, kl_warmup_steps=2000)),
      "gaussian": _GAUSSIAN,
      "latent2d": dict(model=dict(latent_dim=2),
                       train=dict(num_steps=common.epochs(10, 128))),
      "uva": dict(data=dict(binarization="static"),
                  model=dict(hidden=(500,), latent_dim=20),
                  optimizer=dict(schedule="constant", warmup_steps=0),
                  train=dict(num_steps=common.epochs(80, 128))),
      "planar": dict(model=dict(posterior_flow="planar",
                                posterior_flow_steps=10)),
      "iaf": dict(model=_IAF),
      "flow_prior": dict(model=dict(prior_flow="maf", prior_flow_steps=4)),
      "flow_prior_realnvp": dict(model=dict(prior_flow="realnvp",
                                            prior_flow_steps=4)),
      "gaussian_iaf": lambda c: common.update(common.update(c, _GAUSSIAN),
                                              dict(model=_IAF))}
  return common.select(c, "vae.py", variant, variants)

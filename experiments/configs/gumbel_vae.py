"""Gumbel-softmax VAE (Jang, Gu and Poole 2017, §4.2): 30 categorical
latents x 10 classes on dynamically binarised Fashion-MNIST.

Launch (`:variant`: default (relaxed sample fed to the decoder),
straight_through (one-hot forward, relaxed gradient)):
  python -m experiments.train --config=experiments/configs/gumbel_vae.py --workdir=/tmp/gumbel_vae
  python -m experiments.train --config=experiments/configs/gumbel_vae.py:straight_through \
    --workdir=/tmp/gumbel_vae_st

Expected results (858 steps = 2 epochs, batch 128; validation ELBO on all
5000 validation examples, test ELBO and K=1000 test NLL on the first 200
test examples, nats, discrete model; three runs at a time on the 2-core CPU
at load average ~20), with
  --config.train.num_steps=858 --config.train.eval_examples=0
  --config.train.final_eval_examples=200
  variant           train ELBO*  val ELBO  test ELBO  test NLL  train s
  default (relaxed)    -265.4     -283.0    -288.6     262.2      757
  straight_through     -277.1     -277.1    -279.2     267.8      762
  VAE default (vae.py) -254.9     -255.0    -258.8     254.4      683
  (* the last logged training objective.)
"""

import ml_collections

from experiments.configs import common


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.config(
      data=common.fashion_mnist(binarization="dynamic"),
      model=dict(
          name="gumbel_vae",
          hidden=(512, 256),         # encoder; the decoder runs 256-512
          num_latents=30,            # N categorical variables
          num_classes=10,            # K classes each
          straight_through=False,
          temperature_init=1.0,      # τ_0
          temperature_min=0.5,       # τ_min
          anneal_rate=1e-5,          # r
          anneal_every=1000,         # τ updated every T steps
          eval_num_samples=1000, eval_chunk_size=100),
      optimizer=common.optimizer(1e-3, schedule="cosine", warmup_steps=100),
      train=common.train(batch_size=128, num_steps=common.epochs(50, 128),
                         log_every=200, eval_every=2000, keep_checkpoints=3,
                         eval_batch_size=400, final_eval_batch_size=200),
      # sample_metrics: FID etc. of model.sample; set True to add.
      eval=common.evaluation(sample_metrics=False))
  return common.select(c, "gumbel_vae.py", variant, {
      "default": {},
      "straight_through": dict(model=dict(straight_through=True))})

"""Helmholtz machine (sigmoid belief network + recognition model) on
dynamically binarised Fashion-MNIST (gdm_jax/models/helmholtz.py).

Launch (`:variant`: default (one layer of 200 binary units, affine
conditionals, wake-sleep), two_layer (784-200-200), rws (reweighted
wake-sleep, K = 5), reinforce (the ELBO with a score-function gradient,
K = 2)):
  python -m experiments.train --config=experiments/configs/helmholtz.py --workdir=/tmp/hm
  python -m experiments.train --config=experiments/configs/helmholtz.py:rws --workdir=/tmp/hm_rws

Expected results (6000 steps; test ELBO (one sample) and K=1000 NLL on the
first 2000 test images, nats; measured 2026-11-21 on the 2-core CPU shared
with ~8 other jobs, load average ~33), the VAE row with
  python -m experiments.train --config=experiments/configs/vae.py \
    --workdir=/tmp/vae200 --config.model.hidden='()' \
    --config.model.latent_dim=200 --config.train.num_steps=6000 \
    --config.train.final_eval_examples=2000 --config.eval.sample_metrics=False
  model                           test ELBO  test NLL  val ELBO  train s
  SBN 200, wake-sleep (default)    -280.8     259.9     -278.7     621
  SBN 200, ELBO (reinforce, K=2)   -270.6     257.9     -268.5     638
  VAE affine, z = 200 Gaussian     -270.5     260.3     -268.1     714
  rws with --config.train.num_steps=2000: validation ELBO -281.5, test ELBO
  -283.8, test NLL 262.8. Samples of the default (10,000, the project's
  classifier, test split): FID 229.4, KID 9.46, IS 1.98, precision 0.93,
  recall 0.00.
"""

import ml_collections

from experiments.configs import common


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.config(
      data=common.fashion_mnist(binarization="dynamic"),  # dynamic | static
      model=dict(
          name="helmholtz",
          latent_sizes=(200,),       # n_1 .. n_L, bottom to top
          hidden=(),                 # () = affine conditionals (classic)
          training="wake_sleep",     # wake_sleep | reweighted | reinforce
          num_samples=5,             # K of reweighted wake-sleep
          q_update="wake_sleep",     # reweighted: wake | sleep | wake_sleep
          sleep_batch_size=0,        # dreams per step; 0 = train.batch_size
          eval_num_samples=1000, eval_chunk_size=100),
      optimizer=ml_collections.ConfigDict(dict(
          generative=common.optimizer(1e-3),
          recognition=common.optimizer(1e-3))),
      train=common.train(batch_size=128, num_steps=6000, log_every=200,
                         eval_every=2000, eval_batch_size=500,
                         final_eval_examples=2000, final_eval_batch_size=200))
  return common.select(c, "helmholtz.py", variant, {
      "default": {},
      "two_layer": dict(model=dict(latent_sizes=(200, 200))),
      "rws": dict(model=dict(training="reweighted")),
      "reinforce": dict(model=dict(training="reinforce", num_samples=2))})

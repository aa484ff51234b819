"""PixelCNN family on Fashion-MNIST (8-bit values, exact likelihood).

Launch (`:variant`: default (gated PixelCNN, 256-way softmax), pp (the same
network with PixelCNN++'s mixture of 5 discretised logistics), plain (the
original PixelCNN with the blind spot; not measured)):
  python -m experiments.train --config=experiments/configs/pixelcnn.py --workdir=/tmp/pixelcnn
  python -m experiments.train --config=experiments/configs/pixelcnn.py:pp --workdir=/tmp/pixelcnn_pp

Expected results (200 steps of batch 16 = 0.06 epochs: the pipeline, not
the models' quality; bits/dim = exact NLL / (784 ln 2) on the first 2000
test images; 1000 samples against the test split with the project's
classifier; ~150 s of CPU time, 20 min wall on the 2-core CPU at load
average 20-40):
  default  test 3.911 bits/dim (2125.2 nats), validation 3.815; FID 213.8,
           KID 8.86, IS 2.01, precision 0.11, recall 0.04.
  pp       test 3.629 bits/dim (1972.0 nats), validation 3.549; FID 196.4,
           KID 8.26, IS 2.20, precision 0.16, recall 0.06.
"""

import ml_collections

from experiments.configs import common


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = common.config(
      # The model needs the 8-bit values; value_range is the network's
      # input scale only.
      data=common.fashion_mnist(value_range="-1_1"),
      model=dict(
          name="pixelcnn",
          architecture="gated",          # gated | plain
          likelihood="categorical",      # categorical | logistic_mixture
          num_mixtures=5, num_layers=6, channels=32, kernel_size=3,
          first_kernel_size=7,
          head_channels=0,               # 0 = channels
          logistic_min_log_scale=-7.0),
      # Gradients of nats/image measured 300-4000 in norm, so the clipping
      # acts often (Adam is nearly invariant to the scale).
      optimizer=common.optimizer(1e-3, schedule="cosine", warmup_steps=50,
                                 grad_clip_norm=1000.0),
      train=common.train(batch_size=16, num_steps=200, log_every=25,
                         eval_every=200, eval_batch_size=200,
                         eval_examples=1000,
                         final_eval_examples=2000,  # 0 = the whole split
                         final_eval_batch_size=400),
      # Sampling is sequential (one network pass per pixel row/column):
      # 1000 samples for the final FID/KID/IS.
      eval=common.evaluation(num_samples=1000))
  return common.select(c, "pixelcnn.py", variant, {
      "default": {}, "pp": dict(model=dict(likelihood="logistic_mixture")),
      "plain": dict(model=dict(architecture="plain"),
                    eval=dict(sample_metrics=False))})  # a pass per pixel

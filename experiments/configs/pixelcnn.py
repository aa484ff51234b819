"""PixelCNN family on Fashion-MNIST (8-bit values, exact likelihood).

Launch:
  python -m experiments.train --config=experiments/configs/pixelcnn.py --workdir=/tmp/pixelcnn
  python -m experiments.train --config=experiments/configs/pixelcnn.py:pp --workdir=/tmp/pixelcnn_pp

Variants (`:variant`):
  default   gated PixelCNN (vertical + horizontal stacks, no blind spot; 6
            layers of 32 channels, 125k parameters), 256-way softmax per
            pixel, 200 steps of batch 16: test 3.911 bits/dim
            (2125.2 nats), validation 3.815; 1000 samples vs test: FID
            213.8, KID 8.86, IS 2.01, precision 0.11, recall 0.04.
  pp        the same gated network with PixelCNN++'s discretised mixture of
            5 logistics (117k parameters): test 3.629 bits/dim (1972.0
            nats), validation 3.549; FID 196.4, KID 8.26, IS 2.20,
            precision 0.16, recall 0.06.
  plain     the original PixelCNN (7x7 mask A, 3x3 mask-B residual layers;
            it has the blind spot), 256-way softmax, for comparison; its
            sampler re-runs the whole network per pixel (not run).
  smoke     a few steps of a tiny net, for tests (seconds).

Budget: each run took 20 min of wall time on a 2-core CPU shared with many
other jobs (load 20-40: ~3.5 s per step, 11.5 min of training, 1 min of
test NLL, 3 min of sample metrics), but only ~150 s of user CPU time: an
idle machine affords several times more steps in the same budget.
bits/dim is the exact discrete NLL / (784 ln 2), no dequantisation term, on
the first 2000 test images (train.final_eval_examples=0 scores all 10000).
200 steps is ~0.06 epochs: the numbers show the pipeline, not the models'
quality.
Full quality (the papers' 15+ gated layers of 128+ channels, tens of epochs)
needs a GPU; we estimate a few GPU-hours on Fashion-MNIST.

Sample metrics: sampling is sequential (per batch of samples, 28
vertical-stack and 784 horizontal-stack evaluations on 9-row / 9-column
windows), so the final FID/KID/IS use 1000 samples rather than 10000
(3 min here under load).
"""

import ml_collections


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"
  c.data.data_dir = ""            # "" = $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.data.download = False         # never touch the network unless asked
  c.data.validation_size = 5000
  c.data.split_seed = 0
  c.data.image_size = 0           # 0 = native size
  c.data.binarization = "none"    # the model needs the 8-bit values
  c.data.dequantization = "none"
  c.data.value_range = "-1_1"     # the network's input scale only

  c.model = ml_collections.ConfigDict()
  c.model.name = "pixelcnn"
  c.model.architecture = "gated"  # gated | plain
  c.model.likelihood = "categorical"   # categorical | logistic_mixture
  c.model.num_mixtures = 5
  c.model.num_layers = 6
  c.model.channels = 32
  c.model.kernel_size = 3
  c.model.first_kernel_size = 7
  c.model.head_channels = 0       # 0 = channels
  c.model.logistic_min_log_scale = -7.0

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule = "cosine"
  c.optimizer.warmup_steps = 50
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.weight_decay = 0.0
  # Gradients of nats/image measured 300-4000 in norm, so this clips often
  # (Adam is nearly invariant to the scale).
  c.optimizer.grad_clip_norm = 1000.0

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 16
  c.train.num_steps = 200
  c.train.log_every = 25
  c.train.eval_every = 200
  c.train.checkpoint_every = 200
  c.train.keep_checkpoints = 2
  c.train.eval_batch_size = 200       # eval batches divide over 1..8 devices
  c.train.eval_examples = 1000
  c.train.final_eval_split = "test"
  c.train.final_eval_examples = 2000  # 0 = the whole split (~5 min here)
  c.train.final_eval_batch_size = 400

  c.eval = ml_collections.ConfigDict()
  c.eval.sample_metrics = True
  c.eval.num_samples = 1000       # sequential sampling: see the docstring
  c.eval.periodic_num_samples = 0

  if variant == "default":
    pass
  elif variant == "pp":
    c.model.likelihood = "logistic_mixture"
  elif variant == "plain":
    c.model.architecture = "plain"
    c.eval.sample_metrics = False   # full-network sampling per pixel
  elif variant == "smoke":
    c.model.num_layers = 2
    c.model.channels = 8
    c.model.first_kernel_size = 3
    c.optimizer.warmup_steps = 0
    c.train.batch_size = 16
    c.train.num_steps = 3
    c.train.log_every = 1
    c.train.eval_every = 3
    c.train.checkpoint_every = 3
    c.train.eval_batch_size = 200
    c.train.eval_examples = 200
    c.train.final_eval_examples = 200
    c.train.final_eval_batch_size = 200
    c.eval.sample_metrics = False
  else:
    raise ValueError(f"unknown variant '{variant}' of pixelcnn.py; choose one "
                     "of default, pp, plain, smoke.")
  return c

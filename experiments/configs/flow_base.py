"""Shared defaults of the flow configs (realnvp.py, glow.py, nice.py, flow_toy.py).

Not an experiment itself: `base_config()` returns the sections every config
has (seed, data, model, optimizer, train, eval) with the flow family's
fields; the experiment files change what differs.
"""

import ml_collections

# Training examples after the 5000-example validation split.
TRAIN_EXAMPLES = 55000


def epochs(n, batch_size):
  return n * (TRAIN_EXAMPLES // batch_size)


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"
  c.data.data_dir = ""            # "" = $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.data.download = False
  c.data.validation_size = 5000
  c.data.split_seed = 0
  c.data.image_size = 0
  c.data.binarization = "none"        # flows model the 8-bit data
  c.data.dequantization = "uniform"   # uniform | variational (Flow++)
  c.data.value_range = "0_1"

  c.model = ml_collections.ConfigDict()
  c.model.name = "flow"
  c.model.architecture = "realnvp"    # nice | realnvp | glow
  c.model.logit_alpha = 0.05          # 0 = Glow's x - 0.5 instead of a logit
  c.model.num_levels = 3
  c.model.num_couplings = 3           # RealNVP, per half level
  c.model.num_steps = 4               # Glow, steps per level
  c.model.hidden = 32                 # conditioner channels / units
  c.model.num_blocks = 1              # RealNVP residual blocks
  c.model.nice_num_couplings = 4
  c.model.nice_hidden_layers = 2
  c.model.scale_fn = "tanh"           # tanh | sigmoid
  c.model.log_scale_bound = 2.0
  c.model.temperature = 1.0           # sampling z ~ N(0, T^2 I)
  c.model.eval_num_samples = 1        # K of the importance-weighted bound
  c.model.dequant_hidden = 16
  c.model.dequant_num_couplings = 2
  c.model.toy_num_layers = 8
  c.model.toy_hidden = 64

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule = "cosine"
  c.optimizer.warmup_steps = 200      # flows diverge without a warm-up
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip_norm = 50.0

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 64
  c.train.num_steps = 2000
  c.train.log_every = 100
  c.train.eval_every = 1000
  c.train.checkpoint_every = 1000
  c.train.keep_checkpoints = 2
  c.train.eval_batch_size = 400
  c.train.eval_examples = 1000
  c.train.final_eval_split = "test"
  c.train.final_eval_examples = 0     # 0 = the whole split
  c.train.final_eval_batch_size = 400

  c.eval = ml_collections.ConfigDict()
  c.eval.sample_metrics = True
  c.eval.num_samples = 10000
  c.eval.periodic_num_samples = 0
  return c


def make_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Shrinks a config to a few steps on a tiny net, for tests (seconds)."""
  c.model.hidden = 4
  c.model.num_levels = 2              # 28 -> 14 -> 7: both levels squeeze
  c.model.num_couplings = 1
  c.model.num_steps = 1
  c.model.num_blocks = 1
  c.model.nice_num_couplings = 2
  c.model.nice_hidden_layers = 1
  c.model.toy_num_layers = 2
  c.model.toy_hidden = 8
  c.model.dequant_hidden = 4
  c.model.dequant_num_couplings = 1
  c.optimizer.warmup_steps = 2
  c.train.batch_size = 16
  c.train.num_steps = 3
  c.train.log_every = 3
  c.train.eval_every = 3
  c.train.checkpoint_every = 3
  c.train.eval_batch_size = 100
  c.train.eval_examples = 100
  c.train.final_eval_examples = 100
  c.train.final_eval_batch_size = 100
  c.eval.sample_metrics = False
  return c

"""Blocks shared by the experiment configs, so each file states what differs.

Not an experiment: `config(...)` assembles the sections every config has
(seed, data, model, optimizer, train, eval) from the blocks below, and
`select(...)` applies a file's `:variant` as a table of the fields it
changes.
"""

from typing import Any, Callable, Mapping

import ml_collections

ConfigDict = ml_collections.ConfigDict

# Fashion-MNIST training examples after the 5000-example validation split.
TRAIN_EXAMPLES = 55000
# Train / validation / test points of a 2-D toy set (gdm_jax/data/toy.py).
TOY_SIZES = (100_000, 10_000, 10_000)


def epochs(n: int, batch_size: int) -> int:
  """Steps of `n` epochs over the Fashion-MNIST training split."""
  return n * (TRAIN_EXAMPLES // batch_size)


def fashion_mnist(**fields) -> ConfigDict:
  """The local Fashion-MNIST (data_dir "" = $TFDS_DATA_DIR or
  ~/tensorflow_datasets; never downloads unless asked), native size, 8-bit
  values scaled to [0, 1], with `fields` overriding these defaults."""
  return ConfigDict(dict(
      name="fashion_mnist", data_dir="", download=False, validation_size=5000,
      split_seed=0, image_size=0, binarization="none", dequantization="none",
      value_range="0_1") | fields)


def toy_data(name: str, sizes: tuple[int, int, int] | None = TOY_SIZES
             ) -> ConfigDict:
  """A toy set of gdm_jax/data/toy.py; `sizes` = (train, validation, test)
  points, None to keep the loader's defaults."""
  c = ConfigDict(dict(name=name, split_seed=0))
  if sizes is not None:
    c.toy_num_train, c.toy_num_validation, c.toy_num_test = sizes
  return c


def optimizer(learning_rate: float, **fields) -> ConfigDict:
  """An optax chain config (gdm_jax/core/optimizers.py): Adam(b1 0.9, b2
  0.999, eps 1e-8) at a constant rate, no warm-up, no clipping; `fields`
  override or add (e.g. decay for RMSProp)."""
  return ConfigDict(dict(
      name="adam", learning_rate=learning_rate, schedule="constant",
      warmup_steps=0, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0,
      grad_clip_norm=0.0) | fields)


def train(*, batch_size: int, num_steps: int, log_every: int, eval_every: int,
          eval_batch_size: int, final_eval_batch_size: int,
          **fields) -> ConfigDict:
  """The trainer's block: checkpoints with every evaluation (2 kept),
  validation on the whole split (eval_examples 0), the final evaluation on
  the whole test split; `fields` override these defaults."""
  return ConfigDict(dict(
      batch_size=batch_size, num_steps=num_steps, log_every=log_every,
      eval_every=eval_every, checkpoint_every=eval_every, keep_checkpoints=2,
      eval_batch_size=eval_batch_size, eval_examples=0,
      final_eval_split="test", final_eval_examples=0,
      final_eval_batch_size=final_eval_batch_size) | fields)


def evaluation(**fields) -> ConfigDict:
  """Sample metrics (FID/KID/IS/precision-recall, or the toy metrics) on
  10,000 samples at the end only; `fields` override these defaults."""
  return ConfigDict(dict(sample_metrics=True, num_samples=10000,
                         periodic_num_samples=0) | fields)


def config(*, data: ConfigDict, model: Mapping[str, Any],
           optimizer: ConfigDict, train: ConfigDict,  # pylint: disable=redefined-outer-name
           eval: ConfigDict | None = None,  # pylint: disable=redefined-builtin
           seed: int = 0) -> ConfigDict:
  """An experiment config: seed, data, model, optimizer, train, eval."""
  return ConfigDict(dict(seed=seed, data=data, model=ConfigDict(model),
                         optimizer=optimizer, train=train,
                         eval=evaluation() if eval is None else eval))


def update(c: ConfigDict, fields: Mapping[str, Any]) -> ConfigDict:
  """Sets `fields` ({'train': {'num_steps': 3}}, nested like `c`) in `c`.

  Raises:
    KeyError: a field that `c` does not have (a misspelt override).
  """
  for name, value in fields.items():
    if name not in c:
      raise KeyError(f"no config field '{name}' in {sorted(c)}")
    if isinstance(value, Mapping) and isinstance(c[name], ConfigDict):
      update(c[name], value)
    else:
      c[name] = value
  return c


Variant = Mapping[str, Any] | Callable[[ConfigDict], Any]


def select(c: ConfigDict, file: str, variant: str,
           variants: Mapping[str, Variant]) -> ConfigDict:
  """Applies `variants[variant]` to `c`: a nested table of the fields it
  changes (`update`) or a function that edits `c` in place.

  Raises:
    ValueError: `variant` is not a key of `variants` (the message names the
      file and lists the keys).
  """
  if variant not in variants:
    raise ValueError(f"unknown variant '{variant}' of {file}; choose one of "
                     f"{', '.join(variants)}.")
  change = variants[variant]
  if callable(change):
    change(c)
  else:
    update(c, change)
  return c

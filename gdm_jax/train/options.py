"""The trainer's settings: every `config.train` / `config.eval` field the loop
reads, its default (defined here, once) and its validation.

Required `config.train` fields: batch_size, num_steps, log_every,
eval_every, checkpoint_every, keep_checkpoints, eval_batch_size,
eval_examples (0 = the whole validation split), final_eval_split,
final_eval_examples (0 = all), final_eval_batch_size.

Optional fields (`TRAINER_DEFAULTS`; `with_trainer_defaults` adds them to a
config file's ConfigDict before it is locked, so `--config.train.num_seeds=4`
works for every config):
  train.steps_per_dispatch  steps per compiled call (lax.scan over stacked
                            batches); the log/eval/checkpoint intervals must
                            be multiples of it;
  train.num_seeds           seeds trained at once (vmap over keys, see
                            train/multi_seed.py); final metrics get mean,
                            '_std' and per-seed values;
  train.compute_dtype       'float32' or 'bfloat16' (core/precision.py), for
                            families that declare `supports_bfloat16`;
  eval.sample_metrics       score the model's samples at the end
                            (classifier FID/KID/IS/precision/recall on
                            28x28x1 image sets, mode coverage and W1 on toy
                            sets: eval/generated.py);
  eval.num_samples          N of the final sample metrics;
  eval.periodic_num_samples N at every evaluation (0 = off; against the
                            validation split);
  eval.reference_split      reference of the final sample metrics.

Flag-free: the entry point, tests and notebooks import it.
"""

import dataclasses

TRAINER_DEFAULTS = {
    "train": {"steps_per_dispatch": 1, "num_seeds": 1,
              "compute_dtype": "float32"},
    "eval": {"sample_metrics": False, "num_samples": 10000,
             "periodic_num_samples": 0, "reference_split": "test"},
}
SPLITS = ("train", "validation", "test")
_POSITIVE = ("batch_size", "num_steps", "log_every", "eval_every",
             "checkpoint_every", "keep_checkpoints", "eval_batch_size",
             "final_eval_batch_size", "steps_per_dispatch", "num_seeds")
_INTERVALS = ("num_steps", "log_every", "eval_every", "checkpoint_every")


@dataclasses.dataclass(frozen=True)
class Settings:
  """The resolved trainer settings of one config (module docstring)."""
  batch_size: int
  num_steps: int
  log_every: int
  eval_every: int
  checkpoint_every: int
  keep_checkpoints: int
  eval_batch_size: int
  eval_examples: int
  final_eval_split: str
  final_eval_examples: int
  final_eval_batch_size: int
  steps_per_dispatch: int
  num_seeds: int
  compute_dtype: str
  sample_metrics: bool
  num_samples: int
  periodic_num_samples: int
  reference_split: str


def with_trainer_defaults(config):
  """Adds the missing `TRAINER_DEFAULTS` fields to an unlocked ConfigDict
  (in place) and returns it; anything else is returned unchanged."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  if not isinstance(config, ml_collections.ConfigDict):
    return config
  for section, fields in TRAINER_DEFAULTS.items():
    if section not in config:
      config[section] = ml_collections.ConfigDict()
    for field, value in fields.items():
      if field not in config[section]:
        config[section][field] = value
  return config


def _section(config, name: str) -> dict:
  section = config.get(name) or {}
  return {**TRAINER_DEFAULTS.get(name, {}),
          **(section.to_dict() if hasattr(section, "to_dict") else dict(section))}


def settings(config) -> Settings:
  """The validated trainer settings of `config`, defaults applied.

  Raises:
    ValueError: a missing or invalid field; the message names it.
  """
  t, e = _section(config, "train"), _section(config, "eval")
  names = [f.name for f in dataclasses.fields(Settings)]
  missing = [n for n in names if n not in t and n not in e]
  if missing:
    raise ValueError(f"config.train is missing the field(s) {missing}.")
  values = {n: (t[n] if n in t else e[n]) for n in names}
  s = Settings(**values)
  for field in _POSITIVE:
    value = getattr(s, field)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      raise ValueError(f"train.{field} must be a positive integer; got {value!r}.")
  for field in ("eval_examples", "final_eval_examples"):
    if getattr(s, field) < 0:
      raise ValueError(f"train.{field} must be >= 0 (0 = all); got "
                       f"{getattr(s, field)}.")
  if s.final_eval_split not in SPLITS:
    raise ValueError("train.final_eval_split must be train, validation or "
                     f"test; got '{s.final_eval_split}'.")
  for field in _INTERVALS:
    if getattr(s, field) % s.steps_per_dispatch:
      raise ValueError(f"train.{field} ({getattr(s, field)}) must be a "
                       "multiple of train.steps_per_dispatch "
                       f"({s.steps_per_dispatch}).")
  if not isinstance(s.sample_metrics, bool):
    raise ValueError("eval.sample_metrics must be True or False; got "
                     f"{s.sample_metrics!r}.")
  for field in ("num_samples", "periodic_num_samples"):
    value = getattr(s, field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
      raise ValueError(f"eval.{field} must be an integer >= 0; got {value!r}.")
  if s.sample_metrics and s.num_samples < 1:
    raise ValueError("eval.num_samples must be >= 1 when eval.sample_metrics "
                     "is True.")
  if s.reference_split not in SPLITS:
    raise ValueError("eval.reference_split must be train, validation or test; "
                     f"got '{s.reference_split}'.")
  return s

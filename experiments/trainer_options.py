"""Trainer options that every experiment config accepts.

`experiments/train.py` adds the missing ones to a config file's ConfigDict
before locking it, so `--config.train.num_seeds=4` (and the others) work for
every config, whether or not its file sets them; gdm_jax/train/loop.py
documents each. Flag-free, so tests and notebooks can import it.
"""

TRAINER_DEFAULTS = {"train": {"steps_per_dispatch": 1, "num_seeds": 1,
                              "compute_dtype": "float32"},
                    "eval": {"sample_metrics": False, "num_samples": 10000,
                             "periodic_num_samples": 0,
                             "reference_split": "test"}}


def add_trainer_defaults(config):
  """Adds the missing TRAINER_DEFAULTS fields to an unlocked config."""
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

"""The command line shared by the studies (experiments/*_study.py).

  python -m experiments.NAME_study --config=experiments/configs/NAME_study.py[:variant] \
      --workdir=DIR

`main(run, format_table, config_help, outputs)` defines --config and
--workdir (only when a study runs as a program, so several studies can be
imported into one process, as the tests do), runs `run(config, workdir)`,
prints `format_table` of its result and the files it wrote.
"""

import os
from typing import Any, Callable, Sequence


def main(run: Callable[[Any, str], dict], format_table: Callable[[dict], str],
         config_help: str, outputs: Sequence[str]) -> None:
  """Runs a study as an absl program; `outputs` are its file names in the
  workdir (e.g. ('NAME.json', 'NAME.png'))."""
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

  config_flags.DEFINE_config_file("config", None, f"Study config ({config_help}).",
                                  lock_config=True)
  flags.DEFINE_string("workdir", None, "Output folder.")
  flags.mark_flags_as_required(["config", "workdir"])

  def program(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    workdir = flags.FLAGS.workdir
    print(format_table(run(flags.FLAGS.config, workdir)))
    print("wrote " + " and ".join(os.path.join(workdir, o) for o in outputs))

  app.run(program)

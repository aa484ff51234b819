r"""Draws a run's training curves from its metrics.jsonl.

  python -m experiments.plot_run --workdir=DIR [--keys=loss,w_estimate] \
      [--out=DIR/curves.png]

Writes one subplot per metric (every numeric metric except step, split and
wall_time_s unless --keys names some), with train and validation lines.
A missing or empty metrics.jsonl, or --keys that the file lacks, prints one
line starting with 'error:' and exits with status 2.
"""

import os
import sys

from absl import app
from absl import flags

from gdm_jax.eval import plots

_WORKDIR = flags.DEFINE_string("workdir", None, "The run's output folder.")
_KEYS = flags.DEFINE_list("keys", None, "Metrics to draw (default: all).")
_OUT = flags.DEFINE_string("out", None, "PNG to write (default "
                           "WORKDIR/curves.png).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  path = os.path.join(_WORKDIR.value, "metrics.jsonl")
  out = _OUT.value or os.path.join(_WORKDIR.value, "curves.png")
  try:
    keys = plots.plot_curves(path, out, keys=_KEYS.value)
  except (OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"wrote {out} ({', '.join(keys)})")


if __name__ == "__main__":
  app.run(main)

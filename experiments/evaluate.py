r"""Sample metrics of a trained run, from its workdir (no retraining).

  python -m experiments.evaluate --workdir=DIR [--num_samples=10000] \
      [--reference_split=test] [--step=N]

Rebuilds the model from DIR/config.json and its newest checkpoint (or
--step), draws --num_samples samples and scores them against the reference
split: FID/KID/IS/diversity/precision/recall on the project's classifier
for 28x28x1 image sets, mode coverage / high-quality fraction / exact W1 on
toy sets (gdm_jax.eval.generated). Writes DIR/sample_metrics.json
({"metrics", "protocol", "step"}) and prints it. Errors are one 'error:'
line with exit status 2.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A workdir of experiments.train.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Samples to draw.")
_SPLIT = flags.DEFINE_enum("reference_split", "test",
                           ["train", "validation", "test"], "Reference split.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: newest).")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 2
  import jax  # pylint: disable=g-import-not-at-top
  from gdm_jax.eval import generated  # pylint: disable=g-import-not-at-top
  from gdm_jax.train import loop  # pylint: disable=g-import-not-at-top
  try:
    run = loop.load_run(_WORKDIR.value, _STEP.value)
    out = generated.evaluate_generated(
        jax.jit(run.model.sample, static_argnums=2), run.state.params,
        run.dataset, _NUM_SAMPLES.value, jax.random.PRNGKey(_SEED.value),
        _SPLIT.value)
  except (FileNotFoundError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  if out is None:
    print(f"error: no sample metric is defined for data set "
          f"{run.config.data.name} (needs 28x28x1 images or toy data).",
          file=sys.stderr)
    return 2
  metrics, protocol = out
  result = {"metrics": metrics, "protocol": protocol, "step": run.step,
            "seed": _SEED.value}
  with open(os.path.join(_WORKDIR.value, "sample_metrics.json"), "w") as f:
    json.dump(result, f, indent=2)
  print(json.dumps(result, indent=2))
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))

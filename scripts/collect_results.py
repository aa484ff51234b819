"""Prints the README's results tables from finished workdirs.

  .venv/bin/python scripts/collect_results.py [WORKDIR ...]

Default: every workdirs/results/*/ (written by scripts/run_results.sh).
Reads final_metrics.json (and sample_metrics.json from experiments.evaluate
when present) and wall_time.txt; prints markdown tables of the sample
metrics on images, the toy metrics, and bits/dim.
"""

import glob
import json
import os
import sys


def _load(workdir):
  out = {"name": os.path.basename(os.path.normpath(workdir)), "metrics": {}}
  path = os.path.join(workdir, "final_metrics.json")
  if os.path.exists(path):
    with open(path) as f:
      final = json.load(f)
    out["metrics"].update(final["metrics"])
    out["steps"] = final["protocol"].get("train_steps")
  path = os.path.join(workdir, "sample_metrics.json")
  if os.path.exists(path):
    with open(path) as f:
      extra = json.load(f)
    out["metrics"].update({f"samples/{k}": v for k, v in extra["metrics"].items()})
  path = os.path.join(workdir, "wall_time.txt")
  if os.path.exists(path):
    with open(path) as f:
      out["wall"] = f.read().split(",")[-1].strip().split()[0] + " s"
  return out


def _fmt(v, digits=3):
  return "—" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def main(argv):
  dirs = argv[1:] or sorted(glob.glob("workdirs/results/*/"))
  runs = [_load(d) for d in dirs]
  print("| run | FID | KID | IS | diversity | precision | recall | steps | wall |")
  print("|---|---|---|---|---|---|---|---|---|")
  for r in runs:
    m = r["metrics"]
    if "samples/fid" in m:
      print(f"| {r['name']} | {_fmt(m['samples/fid'], 1)} | {_fmt(m['samples/kid'], 2)} | "
            f"{_fmt(m['samples/inception_score'], 2)} | {_fmt(m['samples/diversity_score'], 3)} | "
            f"{_fmt(m['samples/precision'], 3)} | {_fmt(m['samples/recall'], 3)} | "
            f"{_fmt(r.get('steps'))} | {r.get('wall', '—')} |")
  print()
  print("| run | modes covered | high-quality fraction | W1 | W1 data floor | steps | wall |")
  print("|---|---|---|---|---|---|---|")
  for r in runs:
    m = r["metrics"]
    if "samples/w1" in m:
      modes = (f"{int(m['samples/modes_covered'])}/{int(m['samples/num_modes'])}"
               if "samples/modes_covered" in m else "—")
      print(f"| {r['name']} | {modes} | {_fmt(m.get('samples/high_quality_fraction'))} | "
            f"{_fmt(m['samples/w1'])} | {_fmt(m.get('samples/w1_data_baseline'))} | "
            f"{_fmt(r.get('steps'))} | {r.get('wall', '—')} |")
  print()
  print("| run | test bits/dim | test NLL (nats) | steps | wall |")
  print("|---|---|---|---|---|")
  for r in runs:
    m = r["metrics"]
    if "test/bits_per_dim" in m:
      print(f"| {r['name']} | {_fmt(m['test/bits_per_dim'], 4)} | {_fmt(m.get('test/nll'), 2)} | "
            f"{_fmt(r.get('steps'))} | {r.get('wall', '—')} |")


if __name__ == "__main__":
  main(sys.argv)

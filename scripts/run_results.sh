#!/usr/bin/env bash
# Trains the configs behind the README's results tables, one after another,
# into workdirs/results/<name> (a finished run is skipped: rerunning resumes
# or reports). Usage: bash scripts/run_results.sh NAME [NAME ...] where NAME
# is config[:variant], e.g. gan gan:minimax fgan:reverse_kl wgan_gp:ring8.
# Arguments after `--` are passed to every run (e.g. a shorter budget:
# -- --config.train.num_steps=3000; the table shows the steps each run took).
# Then: .venv/bin/python scripts/collect_results.py prints the tables.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
names=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  names+=("$1"); shift
done
for name in "${names[@]}"; do
  config=${name%%:*}
  variant=${name#*:}; [ "$variant" = "$name" ] && variant=default
  workdir="workdirs/results/${config}_${variant}"
  mkdir -p "$workdir"
  echo "== $name -> $workdir ($(date +%H:%M:%S))"
  start=$(date +%s)
  .venv/bin/python -m experiments.train --config="experiments/configs/${config}.py:${variant}" \
      --workdir="$workdir" "${extra[@]}" > "$workdir/log.txt" 2>&1
  status=$?
  echo "   exit $status, $(( $(date +%s) - start )) s wall" | tee -a "$workdir/wall_time.txt"
done

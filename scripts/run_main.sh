#!/usr/bin/env bash
# Quick start 1: set up, then train the default VAE on Fashion-MNIST and print
# its test metrics (WORKDIR/final_metrics.json) and the sample grid's path.
# Usage: bash scripts/run_main.sh [WORKDIR] [extra flags, e.g. --config.train.num_steps=100]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
WORKDIR=${1:-workdirs/vae_default}
shift || true
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/python -m experiments.train --config=experiments/configs/vae.py \
  --workdir="$WORKDIR" "$@"
echo "== $WORKDIR/final_metrics.json"
cat "$WORKDIR/final_metrics.json"
echo
echo "== sample grid: $(ls "$WORKDIR"/images/final_samples_*.png | tail -1)"

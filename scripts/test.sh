#!/usr/bin/env bash
# Quick start 2: set up, then run the test suite (what CI runs) on every core
# (pytest-xdist, one test file per worker at a time so module fixtures run
# once; pass -n 0 to run in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
# Prepare TFDS's fashion_mnist from the local files and cache its decoded
# splits once, before the test workers could race to write them (idempotent,
# ~30 s the first time).
.venv/bin/python -c "from gdm_jax.data import images; images.load_image_dataset('fashion_mnist')"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile tests "$@"

"""The generic sharded train loop, checkpoints, logging, multi-seed runs and
multi-host set-up: everything above the model families."""

"""The VAE rows of the benchmark suite (kept for its old command line).

  python -m benchmarks.vae_throughput [--models mlp,conv] [--extra] ...

is `python -m benchmarks.suite --models mlp_vae,conv_vae ...` (the old model
names 'mlp' and 'conv' are accepted by the suite too). See
benchmarks/suite.py and benchmarks/README.md.
"""

from benchmarks import suite


def main(argv=None):
  return suite.main(argv, prog="python -m benchmarks.vae_throughput",
                    default_models=("mlp_vae", "conv_vae"))


if __name__ == "__main__":
  main()

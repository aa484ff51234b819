"""Speed benchmarks against PyTorch implementations of the same architectures.

Run from the repository root, e.g. `python -m benchmarks.vae_throughput`;
PyTorch is a benchmark-only extra (`pip install -e .[benchmark]`).
"""

"""gdm_jax: deep generative models as pure functions in JAX/Flax."""
import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent


def _requirements():
  lines = (_HERE / "requirements.txt").read_text().splitlines()
  return [l.strip() for l in lines
          if l.strip() and not l.startswith("#") and not l.startswith("pytest")]


setuptools.setup(
    name="gdm_jax",
    version="0.1.0",
    description="Deep generative models (VAE, GAN, flows, ...) in JAX/Flax.",
    packages=setuptools.find_packages(include=["gdm_jax", "gdm_jax.*", "experiments", "experiments.*"]),
    # The project's classifier weights (sample-quality metrics) ship with it.
    package_data={"gdm_jax.eval": ["weights/*"]},
    python_requires=">=3.11",
    install_requires=_requirements(),
    extras_require={"test": ["pytest==9.2.0", "pytest-timeout==2.4.0",
                             "pytest-xdist==3.8.0"],
                    "benchmark": ["torch==2.13.0"]},
)

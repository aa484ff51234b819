"""gdm_jax: deep generative models as pure functions in JAX/Flax.

Layout (dependencies point one way, top to bottom):
  data/, nn/, distributions, estimators, flows/  -- know nothing of models
  models/                                         -- one module per family
  train/, eval/                                   -- use models through the interface
"""

__version__ = "0.1.0"

"""Input validation shared by the library's public functions.

Every check looks only at static properties (rank, shape, dtype, Python
ints), never at values, so it runs once while `jax.jit` traces a function:
no host sync, no recompilation and no cost in the compiled step. Values
(e.g. "pixels in [0, 255]") cannot be checked inside jit and are not.

Convention: every failed check raises `ValueError`, wrong dtypes included
(not `TypeError`), as the rest of the library does (e.g.
`gdm_jax.eval.classifier.check_images`), so callers catch one exception
type. The message names the function, the argument, what was expected and
what was given, e.g.

  gan_losses.interpolate: `real` must be a floating array of rank >= 2
  [B, ...]; got int32 with shape (4,).

Dtype categories (`dtype=`): "floating" (float16/32/64, bfloat16),
"integer" (signed or unsigned ints), "numeric" (integer or floating, bool
excluded), or None (any). Python scalars and lists are accepted wherever
arrays are and are judged by `numpy.asarray`'s dtype (a Python float is
floating, a Python int integer; a Python int is also accepted where a
floating value is asked for, as JAX treats it as weakly typed).
"""

from typing import Any, Iterable, Sequence

import jax.numpy as jnp
import numpy as np

DTYPE_CATEGORIES = ("floating", "integer", "numeric")

_DTYPE_WORDS = {"floating": "a floating", "integer": "an integer",
                "numeric": "a numeric", None: "an"}


def shape_of(x: Any) -> tuple[int, ...]:
  """The static shape of an array, tracer, scalar or nested list."""
  shape = getattr(x, "shape", None)
  return tuple(shape) if shape is not None else tuple(np.shape(x))


def dtype_of(x: Any) -> np.dtype:
  """The static dtype of an array or tracer (numpy's for Python values)."""
  dtype = getattr(x, "dtype", None)
  return np.dtype(dtype) if dtype is not None else np.asarray(x).dtype


def is_dtype(dtype: Any, category: str | None) -> bool:
  """Whether `dtype` belongs to `category` (see the module docstring).

  Raises:
    ValueError: an unknown category.
  """
  if category is None:
    return True
  if category == "floating":
    return bool(jnp.issubdtype(dtype, jnp.floating))
  if category == "integer":
    return bool(jnp.issubdtype(dtype, jnp.integer))
  if category == "numeric":
    return bool(jnp.issubdtype(dtype, jnp.floating)
                or jnp.issubdtype(dtype, jnp.integer))
  raise ValueError(f"checks.is_dtype: category must be one of "
                   f"{DTYPE_CATEGORIES} or None; got {category!r}.")


def _describe(x: Any) -> str:
  return f"{dtype_of(x).name} with shape {shape_of(x)}"


def _rank_words(rank: int | None, min_rank: int | None,
                shape: Sequence[int | None] | None) -> str:
  if shape is not None:
    dims = ", ".join("*" if d is None else str(d) for d in shape)
    return f" of shape ({dims})"
  if rank is not None:
    return f" of rank {rank}"
  if min_rank is not None:
    return f" of rank >= {min_rank}"
  return ""


def check_array(fn: str, name: str, x: Any, *, rank: int | None = None,
                min_rank: int | None = None, dtype: str | None = "floating",
                shape: Sequence[int | None] | None = None,
                layout: str | None = None) -> None:
  """Checks the rank, shape and dtype category of one argument.

  Args:
    fn: the public function's name as users call it, e.g.
      "divergences.mmd_unbiased".
    name: the argument's name.
    x: the argument (array, tracer, Python scalar or list).
    rank: required number of axes.
    min_rank: required minimum number of axes.
    dtype: required dtype category ("floating", "integer", "numeric") or
      None for any.
    shape: required shape; None entries match any size (e.g.
      (None, 28, 28, 1) for [B, 28, 28, 1]); implies the rank.
    layout: the axes' meaning for the message, e.g. "[B, H, W, C]".

  Raises:
    ValueError: any requirement is not met (wrong dtypes included).
  """
  got_shape, got_dtype = shape_of(x), dtype_of(x)
  # A Python int is weakly typed in JAX (0 + float32 array is float32), so
  # it is accepted where a floating value is asked for.
  weak_int = isinstance(x, int) and not isinstance(x, bool)
  ok = is_dtype(got_dtype, dtype) or (weak_int and dtype == "floating")
  if shape is not None:
    ok = ok and len(got_shape) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, got_shape))
  if rank is not None:
    ok = ok and len(got_shape) == rank
  if min_rank is not None:
    ok = ok and len(got_shape) >= min_rank
  if not ok:
    words = _rank_words(rank, min_rank, shape)
    where = f" {layout}" if layout else ""
    raise ValueError(f"{fn}: `{name}` must be {_DTYPE_WORDS[dtype]} array"
                     f"{words}{where}; got {_describe(x)}.")


def check_same_shape(fn: str, named: Iterable[tuple[str, Any]],
                     axes: slice = slice(None), what: str = "shape") -> None:
  """Checks that the arrays agree on `shape[axes]` (all axes by default).

  Args:
    fn: the public function's name.
    named: (argument name, array) pairs.
    axes: the part of the shape compared, e.g. slice(0, 1) for the batch
      size, slice(1, None) for the event shape.
    what: the compared part's name for the message.

  Raises:
    ValueError: two arrays differ there.
  """
  named = list(named)
  ref_name, ref = named[0]
  ref_part = shape_of(ref)[axes]
  for name, x in named[1:]:
    part = shape_of(x)[axes]
    if part != ref_part:
      listing = ", ".join(f"`{n}` {shape_of(a)}" for n, a in named)
      raise ValueError(f"{fn}: {listing} must have one {what}; got "
                       f"{ref_part} for `{ref_name}` and {part} for `{name}`.")


def check_same_batch(fn: str, named: Iterable[tuple[str, Any]]) -> None:
  """Checks that the arrays have one leading (batch) size [B, ...].

  Raises:
    ValueError: a rank-0 array, or two batch sizes differ.
  """
  named = list(named)
  for name, x in named:
    if not shape_of(x):
      raise ValueError(f"{fn}: `{name}` must have a leading batch axis "
                       f"[B, ...]; got a scalar of {dtype_of(x).name}.")
  check_same_shape(fn, named, slice(0, 1), "batch size (leading axis)")


def check_broadcastable(fn: str, named: Iterable[tuple[str, Any]]) -> None:
  """Checks that the arrays' shapes broadcast together (numpy rules).

  Args:
    fn: the public function's name.
    named: (argument name, array) pairs; an entry may also be
      (name, checks.Shape(shape)) to compare part of an array's shape, e.g.
      ("logits[..., 0]", Shape(logits.shape[:-1])).

  Raises:
    ValueError: they do not.
  """
  named = list(named)
  shapes = [tuple(x) if isinstance(x, Shape) else shape_of(x)
            for _, x in named]
  try:
    np.broadcast_shapes(*shapes)
  except ValueError:
    listing = ", ".join(f"`{n}` {s}" for (n, _), s in zip(named, shapes))
    raise ValueError(f"{fn}: shapes must broadcast together; got "
                     f"{listing}.") from None


class Shape(tuple):
  """A bare shape standing in for an array in `check_broadcastable`."""


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
  """Whether an array of `shape` broadcasts to exactly `target` (numpy
  rules: the result keeps `target`'s shape)."""
  try:
    return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
  except ValueError:
    return False


def check_positive_int(fn: str, name: str, n: Any) -> None:
  """Checks that `n` is a Python (or numpy) integer >= 1, not a bool.

  Static sizes (sample counts, steps) must be concrete: a traced value
  cannot define a shape.

  Raises:
    ValueError: n is not an integer, or n < 1.
  """
  if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
    raise ValueError(f"{fn}: `{name}` must be a positive Python int; got "
                     f"{type(n).__name__} {n!r}.")
  if n < 1:
    raise ValueError(f"{fn}: `{name}` must be a positive Python int; got "
                     f"{n}.")


def check_example_batch(fn: str, name: str, x: Any,
                        example_shape: Sequence[int],
                        dtype: str | None = "floating") -> None:
  """Checks x is [B, *example_shape], e.g. a batch of a model's data set.

  Args:
    fn: the public function's name.
    name: the argument's name (e.g. "batch['image']").
    x: the array.
    example_shape: the per-example shape the model was built for.
    dtype: required dtype category.

  Raises:
    ValueError: a different rank, per-example shape or dtype category.
  """
  example_shape = tuple(int(d) for d in example_shape)
  dims = ", ".join(str(d) for d in example_shape)
  check_array(fn, name, x, shape=(None,) + example_shape, dtype=dtype,
              layout=f"[B, {dims}] (the data set's shape)")


def check_batch(fn: str, batch: Any, key: str, example_shape: Sequence[int],
                dtype: str | None) -> None:
  """Checks a host batch dict holds `key` as a [B, *example_shape] array.

  Raises:
    ValueError: batch is not a mapping with `key`, or the array does not
      fit (see `check_example_batch`).
  """
  if not hasattr(batch, "keys") or key not in batch:
    got = sorted(batch.keys()) if hasattr(batch, "keys") else type(
        batch).__name__
    raise ValueError(f"{fn}: `batch` must be a dict with key '{key}'; got "
                     f"{got}.")
  check_example_batch(fn, f"batch['{key}']", batch[key], example_shape,
                      dtype)


def autoencoder_checks(family: str, example_shape: Sequence[int],
                       latent_dim: int):
  """The input checks of an image autoencoder family (AAE, WAE, AVB), run at
  trace time, with messages naming '<family>.<fn>':

    check_batch(fn, batch)   batch['image'] is [B, *example_shape], numeric;
    check_x(fn, x)           x is [B, *example_shape], floating;
    check_z(fn, name, z)     z is [B, latent_dim] latent codes.

  Each raises ValueError (see `check_batch`, `check_example_batch`,
  `check_array`).
  """
  example_shape = tuple(example_shape)

  def check_batch_(fn, batch):
    check_batch(f"{family}.{fn}", batch, "image", example_shape, "numeric")

  def check_x(fn, x):
    check_example_batch(f"{family}.{fn}", "x", x, example_shape, "floating")

  def check_z(fn, name, z):
    check_array(f"{family}.{fn}", name, z, shape=(None, latent_dim),
                layout=f"[B, {latent_dim}] (latent codes)")

  return check_batch_, check_x, check_z

"""Input validation shared by the library's public functions.

Every check looks only at static properties (rank, shape, dtype, Python
ints), never at values, so it runs once while `jax.jit` traces a function:
no host sync, no recompilation and no cost in the compiled step. Values
(e.g. "pixels in [0, 255]") cannot be checked inside jit and are not; the
numpy metrics (`host_arrays`) also check finiteness on the host.

Convention: every failed check raises `ValueError`, wrong dtypes included
(not `TypeError`), as the rest of the library does (e.g.
`gdm_jax.eval.classifier.check_images`), so callers catch one exception
type. The message names the function, the argument, what was expected and
what was given, e.g.

  gan_losses.interpolate: `real` must be a floating array of rank >= 2
  [B, ...]; got int32 with shape (4,).

Specs. An argument's requirement reads as a short string, "<dtype>
[layout]" or "int >= K": the layout's comma-separated entries fix the rank,
an integer entry a size and '...' any number of axes (not together with
sizes): "floating [..., D]" is rank >= 1, "numeric [N, 28, 28, 1]" shape
(*, 28, 28, 1). In a function body, one call per argument:

  checks.check_arg(fn, "x", x, "floating [B, H, W, C]")

(`check_array` takes the same requirement as keywords: rank, min_rank,
shape, dtype, and a layout that is text for the message only). For a pure
function, a table of its arguments at its head:

  @checks.inputs(x="numeric", mean="floating [..., D]", num_bins="int >= 2",
                 broadcast=True)

checks each named argument before every call (`check_array` with the dtype
category and layout, or `check_int`), then that the arrays broadcast
together (or, with `same_shape` / `same_batch`, have one shape / one
leading size), with messages naming '<module>.<function>'.

Dtype categories (`dtype=`): "floating" (float16/32/64, bfloat16),
"integer" (signed or unsigned ints), "numeric" (integer or floating, bool
excluded), or None (any; "any" in an `inputs` spec). Python scalars and
lists are accepted wherever arrays are and are judged by `numpy.asarray`'s
dtype (a Python float is floating, a Python int integer; a Python int is
also accepted where a floating value is asked for, as JAX treats it as
weakly typed).

Why not chex's assertions (`chex.assert_shape`, `assert_rank`,
`assert_type`): they raise AssertionError with "input 0 has rank 1" (no
function or argument name), have no "numeric" category or minimum rank,
reject a Python int where a float is asked for, and are switched off by
`chex.disable_asserts()`; keeping this module's messages on top of them
would add a layer, not remove one. The tests use chex (`chex.assert_shape`,
`chex.assert_trees_all_close`, `chex.variants` for jit/no-jit agreement).
"""

import functools
import inspect
import re
from typing import Any, Iterable, Mapping, Sequence

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
  if category not in DTYPE_CATEGORIES:
    raise ValueError(f"checks.is_dtype: category must be one of "
                     f"{DTYPE_CATEGORIES} or None; got {category!r}.")
  floating = bool(jnp.issubdtype(dtype, jnp.floating))
  integer = bool(jnp.issubdtype(dtype, jnp.integer))
  return {"floating": floating, "integer": integer,
          "numeric": floating or integer}[category]


def _pairs(named: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list:
  return list(named.items()) if isinstance(named, Mapping) else list(named)


def parse_layout(layout: str) -> dict[str, Any]:
  """The shape requirement of a layout, as `check_array` keywords.

  "[B, H, W, C]" -> {'rank': 4}; "[..., C, K]" -> {'min_rank': 2}; "[N,
  28, 28, 1]" -> {'shape': (None, 28, 28, 1)} (an integer entry fixes that
  size, any other word is one axis of any size, '...' any number of axes);
  text after the closing bracket is ignored; {} for a layout that does not
  start with '['.

  Raises:
    ValueError: '...' together with integer sizes (not supported).
  """
  match = re.match(r"\s*\[([^\]]*)\]", layout)
  if match is None:
    return {}
  entries = [e.strip() for e in match.group(1).split(",") if e.strip()]
  sizes = tuple(int(e) if e.isdigit() else None for e in entries)
  fixed = any(d is not None for d in sizes)
  if "..." in entries:
    if fixed:
      raise ValueError(f"checks.parse_layout: '...' with sizes in {layout!r}.")
    return {"min_rank": len(entries) - 1}
  return {"shape": sizes} if fixed else {"rank": len(entries)}


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
    layout: the axes' meaning for the message, e.g. "[B, H, W, C]" (text
      only here; `check_arg` reads the rank from it).

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


def check_arg(fn: str, name: str, x: Any, spec: str = "floating") -> None:
  """Checks one argument against a spec, as `inputs` does.

  Args:
    fn: the public function's name, e.g. "nn.depth_to_space".
    name: the argument's name.
    x: the argument.
    spec: "<dtype> [layout]" with dtype "floating", "integer", "numeric" or
      "any" and an optional layout whose entries give the shape (see
      `parse_layout`: "floating [B, H, W, C]" is a floating array of rank
      4, "any [..., D]" any array of rank >= 1, "floating [N, 28, 28, 1]"
      shape (*, 28, 28, 1)); or "int >= K" (see `check_int`).

  Raises:
    ValueError: x does not fit the spec, or the spec is malformed.
  """
  kind, requirement = _parse_spec(name, spec)
  if kind == "int":
    check_int(fn, name, x, requirement)
  else:
    dtype, layout = requirement
    check_array(fn, name, x, dtype=dtype, layout=layout,
                **(parse_layout(layout) if layout else {}))


def _describe(x: Any) -> str:
  return f"{dtype_of(x).name} with shape {shape_of(x)}"


def check_same_shape(fn: str, named: Mapping[str, Any] | Iterable[tuple[str, Any]],
                     axes: slice = slice(None), what: str = "shape") -> None:
  """Checks that the arrays agree on `shape[axes]` (all axes by default).

  Args:
    fn: the public function's name.
    named: {argument name: array} or (name, array) pairs.
    axes: the part of the shape compared, e.g. slice(0, 1) for the batch
      size, slice(1, None) for the event shape.
    what: the compared part's name for the message.

  Raises:
    ValueError: two arrays differ there.
  """
  named = _pairs(named)
  ref_name, ref = named[0]
  ref_part = shape_of(ref)[axes]
  for name, x in named[1:]:
    part = shape_of(x)[axes]
    if part != ref_part:
      listing = ", ".join(f"`{n}` {shape_of(a)}" for n, a in named)
      raise ValueError(f"{fn}: {listing} must have one {what}; got "
                       f"{ref_part} for `{ref_name}` and {part} for `{name}`.")


def check_same_batch(fn: str,
                     named: Mapping[str, Any] | Iterable[tuple[str, Any]]
                     ) -> None:
  """Checks that the arrays have one leading (batch) size [B, ...].

  Raises:
    ValueError: a rank-0 array, or two batch sizes differ.
  """
  named = _pairs(named)
  for name, x in named:
    if not shape_of(x):
      raise ValueError(f"{fn}: `{name}` must have a leading batch axis "
                       f"[B, ...]; got a scalar of {dtype_of(x).name}.")
  check_same_shape(fn, named, slice(0, 1), "batch size (leading axis)")


def check_broadcastable(fn: str,
                        named: Mapping[str, Any] | Iterable[tuple[str, Any]]
                        ) -> None:
  """Checks that the arrays' shapes broadcast together (numpy rules).

  Args:
    fn: the public function's name.
    named: {argument name: array} or (name, array) pairs; an entry may also
      be (name, checks.Shape(shape)) to compare part of an array's shape,
      e.g. ("logits[..., 0]", Shape(logits.shape[:-1])).

  Raises:
    ValueError: they do not.
  """
  named = _pairs(named)
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


def check_int(fn: str, name: str, n: Any, minimum: int = 1) -> None:
  """Checks that `n` is a Python (or numpy) integer >= `minimum`, not a bool.

  Static sizes (sample counts, steps, bins) must be concrete: a traced
  value cannot define a shape.

  Raises:
    ValueError: n is not an integer, or n < minimum; the message says "a
      positive Python int" for minimum 1, "a Python int >= minimum"
      otherwise.
  """
  want = ("a positive Python int" if minimum == 1
          else f"a Python int >= {minimum}")
  if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
    raise ValueError(f"{fn}: `{name}` must be {want}; got "
                     f"{type(n).__name__} {n!r}.")
  if n < minimum:
    raise ValueError(f"{fn}: `{name}` must be {want}; got {n}.")


def check_positive_int(fn: str, name: str, n: Any) -> None:
  """`check_int(fn, name, n, minimum=1)`: n is an int >= 1, not a bool.

  Raises:
    ValueError: n is not an integer, or n < 1.
  """
  check_int(fn, name, n, 1)


def check_one_of(name: str, value: Any, allowed: Sequence[Any]) -> None:
  """Checks a configuration choice, e.g. ("data.binarization", "static",
  ("dynamic", "static", "none")).

  Raises:
    ValueError: "<name> must be one of <allowed>; got <value>."
  """
  if value not in allowed:
    raise ValueError(f"{name} must be one of {tuple(allowed)}; got "
                     f"{value!r}.")


_INT_SPEC = re.compile(r"int >= (-?\d+)$")
_ARRAY_SPEC = re.compile(r"(floating|integer|numeric|any)\b\s*(.*)$")


def _parse_spec(name: str, spec: str) -> tuple[str, Any]:
  if match := _INT_SPEC.match(spec):
    return "int", int(match.group(1))
  if match := _ARRAY_SPEC.match(spec):
    dtype = None if match.group(1) == "any" else match.group(1)
    parse_layout(match.group(2))              # a malformed layout fails here
    return "array", (dtype, match.group(2) or None)
  raise ValueError(f"checks: the spec of `{name}` must be '<floating"
                   f"|integer|numeric|any> [layout]' or 'int >= K'; got "
                   f"{spec!r}.")


def inputs(*, broadcast: bool | Sequence[str] = False,
           same_shape: bool | Sequence[str] = False,
           same_batch: bool | Sequence[str] = False, **specs: str):
  """Decorator: checks a function's arguments against a table of specs.

  Each keyword names an argument and its spec (see `check_arg`): "<dtype>
  [layout]" for an array, e.g. "floating [..., D]", or "int >= K".
  `broadcast=True` also checks that every array argument of the table
  broadcasts with the others (`check_broadcastable`), `same_shape=True`
  that they have one shape (`check_same_shape`), `same_batch=True` one
  leading size (`check_same_batch`); a sequence of names checks those only.
  An argument whose default is None may be None (then skipped).
  Messages name '<last module name>.<qualified function name>', e.g.
  "distributions.gaussian_log_prob". Checks run before every call, at trace
  time under jit.

  Raises:
    ValueError: at decoration, a malformed spec or a name that is not an
      argument; at a call, an argument that fails its spec.
  """
  table = {name: _parse_spec(name, spec) for name, spec in specs.items()}
  arrays = [n for n, (kind, _) in table.items() if kind == "array"]
  relations = [(check, arrays if names is True else list(names or ()))
               for check, names in ((check_broadcastable, broadcast),
                                    (check_same_shape, same_shape),
                                    (check_same_batch, same_batch))]

  def decorate(func):
    fn = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__qualname__}"
    signature = inspect.signature(func)
    named = set(table).union(*(names for _, names in relations))
    unknown = sorted(named - set(signature.parameters))
    if unknown:
      raise ValueError(f"checks.inputs: {unknown} are not arguments of {fn}.")

    @functools.wraps(func)
    def checked(*args, **kwargs):
      bound = signature.bind(*args, **kwargs)
      bound.apply_defaults()
      values = bound.arguments
      for name, spec in specs.items():
        if not (values[name] is None
                and signature.parameters[name].default is None):
          check_arg(fn, name, values[name], spec)
      for check, names in relations:
        present = [(n, values[n]) for n in names if values[n] is not None]
        if len(present) > 1:
          check(fn, present)
      return func(*args, **kwargs)
    return checked
  return decorate


def host_arrays(fn: str, named: Mapping[str, Any], layout: str = "[N, F]", *,
                dtype: str = "numeric", min_rows: int = 1,
                finite: bool = True, what: str = "width F"
                ) -> list[np.ndarray]:
  """Checks host arrays of one layout; returns them as float64 numpy arrays.

  For the numpy metrics of `gdm_jax.eval`: each array must be of the dtype
  category and layout (see `check_array`), have at least `min_rows` rows
  and, if `finite`, no NaN or infinity; several arrays must agree on every
  axis but the first (`what` names it in the message, e.g. "feature width
  F").

  Returns:
    The arrays as float64 numpy arrays, in the order of `named`.

  Raises:
    ValueError: any of these fails; the message names fn and the argument.
  """
  out = {}
  for name, x in named.items():
    check_arg(fn, name, x, f"{dtype} {layout}")
    out[name] = np.asarray(x, np.float64)
    if out[name].shape[0] < min_rows:
      raise ValueError(f"{fn}: `{name}` must have shape {layout} with N >= "
                       f"{min_rows}; got {out[name].shape}.")
    if finite and not np.all(np.isfinite(out[name])):
      raise ValueError(f"{fn}: `{name}` contains NaN or infinite values.")
  check_same_shape(fn, out, slice(1, None), what)
  return list(out.values())


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


"""gdm_jax/checks.py: the shared input validation (dtype categories, shape
patterns and specs, the `inputs` table, host arrays) and its messages."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gdm_jax import checks
from gdm_jax import distributions as D
from gdm_jax import divergences as V
from gdm_jax import gan_losses as G
from tests.helpers import assert_raises_naming
from tests.helpers import f
from tests.helpers import i


def test_broadcasts_to_keeps_the_target_shape():
  assert checks.broadcasts_to((3,), (2, 3))
  assert checks.broadcasts_to((2, 1), (2, 3))
  assert checks.broadcasts_to((), (2, 3))
  assert not checks.broadcasts_to((2, 3), (3,))      # would grow the target
  assert not checks.broadcasts_to((4,), (2, 3))      # incompatible


def test_dtype_categories():
  assert checks.is_dtype(jnp.bfloat16, "floating")
  assert checks.is_dtype(np.float64, "floating")
  assert not checks.is_dtype(np.int32, "floating")
  assert checks.is_dtype(np.uint8, "integer")
  assert checks.is_dtype(np.uint8, "numeric")
  assert not checks.is_dtype(np.bool_, "numeric")
  assert checks.is_dtype(np.bool_, None)
  with pytest.raises(ValueError, match="category"):
    checks.is_dtype(np.float32, "float")


def test_check_array_accepts_python_scalars_and_wildcard_shapes():
  checks.check_array("fn", "a", 0.5)                       # Python float
  checks.check_array("fn", "a", 0)                         # weakly typed int
  with pytest.raises(ValueError, match="got bool"):
    checks.check_array("fn", "a", True)
  checks.check_array("fn", "a", [[1.0, 2.0]], rank=2)      # nested list
  checks.check_array("fn", "a", f(7, 28, 28, 1), shape=(None, 28, 28, 1))
  with pytest.raises(ValueError, match=r"`a` must be an integer array; got "
                     r"float64 with shape \(\)"):
    checks.check_array("fn", "a", 0.5, dtype="integer")


def test_check_array_layout_is_text_only():
  """`layout` names the axes in the message; the requirement comes from
  rank/min_rank/shape (callers pass e.g. "[B, H, W, C] or [B, D]")."""
  checks.check_array("fn", "a", f(2, 3), layout="[B, H, W, C] or [B, D]")
  with pytest.raises(ValueError, match=r"fn: `a` must be a floating array of "
                     r"rank >= 2 \[B, \.\.\.\]; got float32 with shape \(3,\)"):
    checks.check_array("fn", "a", f(3), min_rank=2, layout="[B, ...]")


@pytest.mark.parametrize("layout, requirement", [
    ("[B, H, W, C]", {"rank": 4}),
    ("[..., D]", {"min_rank": 1}),
    ("[N, 28, 28, 1] (images)", {"shape": (None, 28, 28, 1)}),
    ("[B, ..., C] of pixels", {"min_rank": 2}),
    ("[...]", {"min_rank": 0}),
    ("[]", {"rank": 0}),
    ("pixels", {}),
])
def test_parse_layout(layout, requirement):
  assert checks.parse_layout(layout) == requirement
  with pytest.raises(ValueError, match="'...' with sizes"):
    checks.parse_layout("[..., 3]")


@pytest.mark.parametrize("x, spec, ok", [
    (f(2, 3, 4, 1), "floating [B, H, W, C]", True),
    (f(2, 3, 4), "floating [B, H, W, C]", False),
    (f(5), "floating [..., D]", True),
    (f(), "floating [..., D]", False),
    (f(), "floating [...]", True),
    (f(7, 28, 28, 1), "floating [N, 28, 28, 1]", True),
    (f(7, 28, 28, 3), "floating [N, 28, 28, 1]", False),
    (i(2, 3), "numeric [B, ..., C]", True),
    (i(2), "numeric [B, ..., C]", False),
    (jnp.zeros((2, 2), bool), "any [B, D]", True),
    (i(2, 2), "floating", False),
    (3, "int >= 2", True),
    (1, "int >= 2", False),
])
def test_check_arg_reads_rank_and_sizes_from_the_spec(x, spec, ok):
  if ok:
    checks.check_arg("fn", "x", x, spec)
  else:
    with pytest.raises(ValueError, match="fn: `x` must be"):
      checks.check_arg("fn", "x", x, spec)


def test_check_arg_messages():
  assert_raises_naming(
      lambda: checks.check_arg("m.fn", "x", f(7, 28, 3), "floating [N, 28, 28, 1]"),
      ["m.fn: `x` must be a floating array of shape (*, 28, 28, 1) "
       "[N, 28, 28, 1]; got float32 with shape (7, 28, 3)."])
  assert_raises_naming(
      lambda: checks.check_arg("m.fn", "x", i(3), "floating [..., D]"),
      ["m.fn: `x` must be a floating array of rank >= 1 [..., D]; got int32 "
       "with shape (3,)."])
  assert_raises_naming(lambda: checks.check_arg("m.fn", "x", f(3), "float"),
                       ["checks: the spec of `x`", "'float'"])


@pytest.mark.parametrize("n, ok", [(1, True), (np.int64(3), True), (0, False),
                                   (-2, False), (True, False), (2.0, False),
                                   ("4", False)])
def test_check_positive_int(n, ok):
  if ok:
    checks.check_positive_int("fn", "n", n)
  else:
    with pytest.raises(ValueError, match="fn: `n` must be a positive"):
      checks.check_positive_int("fn", "n", n)


def test_check_int_with_a_minimum():
  checks.check_int("fn", "n", 0, 0)
  checks.check_int("fn", "n", np.int32(5), 5)
  with pytest.raises(ValueError, match=r"fn: `n` must be a Python int >= 2; "
                     r"got 1\."):
    checks.check_int("fn", "n", 1, 2)
  with pytest.raises(ValueError, match=r">= 0; got float 1\.0"):
    checks.check_int("fn", "n", 1.0, 0)


def test_check_one_of():
  checks.check_one_of("data.mode", "a", ("a", "b"))
  with pytest.raises(ValueError, match=r"data\.mode must be one of "
                     r"\('a', 'b'\); got 'c'\."):
    checks.check_one_of("data.mode", "c", ("a", "b"))


def test_check_same_batch_and_broadcastable():
  checks.check_same_batch("fn", [("a", f(3, 2)), ("b", i(3))])
  checks.check_same_batch("fn", {"a": f(3, 2), "b": i(3)})
  with pytest.raises(ValueError, match="batch size"):
    checks.check_same_batch("fn", [("a", f(3, 2)), ("b", i(2))])
  with pytest.raises(ValueError, match="leading batch axis"):
    checks.check_same_batch("fn", [("a", f())])
  checks.check_broadcastable("fn", [("a", f(3, 1)), ("b", f(4))])
  with pytest.raises(ValueError, match=r"`a` \(3, 2\), `b` \(4,\)"):
    checks.check_broadcastable("fn", {"a": f(3, 2), "b": f(4)})


# ------------------------------------------------------------ inputs


@checks.inputs(x="numeric", scale="floating [..., D]", n="int >= 1",
               extra="floating", broadcast=("x", "scale"))
def _scaled(x, scale, n=1, extra=None):
  """A test function: x * scale * n."""
  return x * scale * n


def test_inputs_checks_each_argument_and_names_the_function():
  np.testing.assert_array_equal(_scaled(i(2, 3), f(3), 2), 2 * np.ones((2, 3)))
  np.testing.assert_array_equal(_scaled(x=i(3), scale=f(3)), np.ones(3))
  assert _scaled.__name__ == "_scaled" and "x * scale" in _scaled.__doc__
  fn = "test_checks._scaled"
  assert_raises_naming(lambda: _scaled(jnp.zeros(3, bool), f(3)),
                       [fn, "`x`", "numeric", "bool"])
  assert_raises_naming(lambda: _scaled(i(3), f()),
                       [fn, "`scale`", "rank >= 1", "[..., D]"])
  assert_raises_naming(lambda: _scaled(i(3), f(3), 0),
                       [fn, "`n`", "positive", "0"])
  assert_raises_naming(lambda: _scaled(i(2, 3), f(4)),
                       [fn, "broadcast", "`x` (2, 3)", "`scale` (4,)"])
  # None is accepted only where it is the default.
  assert_raises_naming(lambda: _scaled(i(3), f(3), 1, i(1)),
                       [fn, "`extra`", "int32"])
  assert_raises_naming(lambda: _scaled(None, f(3)), [fn, "`x`", "object"])
  with pytest.raises(TypeError):        # a wrong call stays a TypeError
    _scaled(i(3))


@checks.inputs(a="floating [B, ...]", b="floating [B, ...]", c="floating",
               same_shape=("a", "b"), same_batch=("a", "c"))
def _paired(a, b, c=None):
  """A test function: a + b (c only checked)."""
  return a + b


def test_inputs_same_shape_and_same_batch_relations():
  chex.assert_shape(_paired(f(2, 3), f(2, 3), f(2)), (2, 3))
  _paired(f(2, 3), f(2, 3))                    # c None: no batch relation
  fn = "test_checks._paired"
  assert_raises_naming(lambda: _paired(f(2, 3), f(2, 4)),
                       [fn, "`a` (2, 3), `b` (2, 4)", "one shape"])
  assert_raises_naming(lambda: _paired(f(2, 3), f(2, 3), f(3)),
                       [fn, "batch size", "`c` (3,)"])
  with pytest.raises(ValueError, match=r"\['d'\] are not arguments"):
    checks.inputs(a="floating", same_shape=("a", "d"))(lambda a: a)


def test_inputs_rejects_bad_tables_at_decoration():
  with pytest.raises(ValueError, match=r"\['y'\] are not arguments"):
    checks.inputs(y="floating")(lambda x: x)
  with pytest.raises(ValueError, match="spec of `x`"):
    checks.inputs(x="float32")


def test_inputs_checks_at_trace_time_once():
  """Under jit the table runs while tracing: one trace for many values, and
  an invalid shape fails before anything is compiled."""
  traced = jax.jit(chex.assert_max_traces(_scaled, n=1), static_argnums=2)
  for seed in range(3):
    traced(jax.random.normal(jax.random.key(seed), (2, 3)), f(3), 2)
  with pytest.raises(ValueError, match="test_checks._scaled"):
    jax.jit(_scaled)(f(2, 3), f(4))


# ------------------------------------------------------------ host arrays


def test_host_arrays_converts_and_checks():
  a, b = checks.host_arrays("m.fn", {"a": np.ones((3, 2), np.float32),
                                     "b": [[1, 2]]})
  chex.assert_type([a, b], np.float64)
  chex.assert_shape([a, b], [(3, 2), (1, 2)])
  assert_raises_naming(
      lambda: checks.host_arrays("m.fn", {"a": np.ones((3, 2)),
                                          "b": np.ones((3, 4))},
                                 what="feature width F"),
      ["m.fn", "`a` (3, 2), `b` (3, 4)", "one feature width F"])
  assert_raises_naming(
      lambda: checks.host_arrays("m.fn", {"a": np.ones((1, 2))}, min_rows=2),
      ["m.fn", "`a`", "[N, F] with N >= 2", "(1, 2)"])
  assert_raises_naming(
      lambda: checks.host_arrays("m.fn", {"a": np.full((2, 2), np.inf)}),
      ["m.fn", "`a`", "NaN or infinite"])
  checks.host_arrays("m.fn", {"a": np.full((2, 2), np.nan)}, finite=False)
  assert_raises_naming(
      lambda: checks.host_arrays("m.fn", {"a": np.ones(3)}, "[N, D]"),
      ["m.fn", "`a`", "rank 2 [N, D]", "(3,)"])


# --------------------------------- library checks: no cost in jit, no values


def test_checks_run_at_trace_time_and_do_not_recompile():
  """A jitted function with checks traces once per input signature; invalid
  shapes fail while tracing, before anything is compiled or run."""
  traces = []

  def loss(x, y):
    traces.append(1)
    return (V.mmd_unbiased(x, y, V.rbf_kernel(1.0))
            + jnp.mean(G.discriminator_loss_per_example(x[:, 0], y[:, 0]))
            + jnp.mean(D.gaussian_log_prob(x, 0.0, 0.0)))

  jitted = jax.jit(loss)
  rng = np.random.default_rng(0)
  values = [jitted(jnp.asarray(rng.normal(size=(4, 2)), jnp.float32),
                   jnp.asarray(rng.normal(size=(4, 2)), jnp.float32))
            for _ in range(3)]
  assert len(traces) == 1 and jitted._cache_size() == 1
  assert len({float(v) for v in values}) == 3     # the values did change
  with pytest.raises(ValueError, match="gan_losses.discriminator_loss_per"):
    jitted(f(4, 2), f(3, 2))


def test_validated_functions_keep_their_values_on_valid_inputs():
  """The checks do not touch values: spot checks against closed forms."""
  x = jnp.asarray([0.0, 1.0, -2.0], jnp.float32)
  np.testing.assert_allclose(D.standard_normal_log_prob(x),
                             -0.5 * (x * x + np.log(2 * np.pi)), rtol=1e-6)
  np.testing.assert_allclose(G.discriminator_loss(f(4) * 0.0, f(4) * 0.0),
                             2.0 * np.log(2.0), rtol=1e-6)

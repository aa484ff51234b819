"""Imports point one way (docs/design.md): core and checks at the bottom,
then the building blocks (data, nn, distributions, divergences, estimators,
flows, losses, quadrature), then the model families, then evaluation, then
the trainer. Every `import` in the package, inside functions too, is read
from the source; an import of a higher layer is a defect."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gdm_jax"

# Layer of each top-level part of gdm_jax (anything not listed: building block).
LAYERS = {"core": 0, "checks": 0, "models": 2, "eval": 3, "train": 4}
BUILDING_BLOCKS = 1
NAMES = {0: "core", 1: "building blocks", 2: "models", 3: "eval", 4: "train"}


def _part(module: str) -> str | None:
  """'gdm_jax.models.vae' -> 'models'; None outside gdm_jax or for the root."""
  parts = module.split(".")
  if parts[0] != "gdm_jax" or len(parts) < 2:
    return None
  return parts[1]


def _layer(part: str) -> int:
  return LAYERS.get(part, BUILDING_BLOCKS)


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
  """(line, imported module) of every gdm_jax import in `path`."""
  out = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      out += [(node.lineno, a.name) for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
  return [(line, m) for line, m in out if m.startswith("gdm_jax.")]


def _modules():
  return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_the_layers(path):
  rel = path.relative_to(PACKAGE)
  own = rel.parts[0].removesuffix(".py")
  if own == "__init__":
    return
  upward = []
  for line, module in _imports(path):
    part = _part(module)
    if part is None or part == own:
      continue
    if _layer(part) > _layer(own):
      upward.append(f"{rel}:{line} imports {module} "
                    f"({NAMES[_layer(own)]} -> {NAMES[_layer(part)]})")
  assert not upward, "\n".join(upward)


def test_the_check_sees_the_layers():
  """The parser finds imports inside functions and classifies them, so the
  test above can fail."""
  tree = "def f():\n  from gdm_jax.train import loop\n"
  node = ast.parse(tree)
  found = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
  assert found and _layer(_part(found[0].module)) == 4
  assert _layer("flows") == BUILDING_BLOCKS < _layer("models") < _layer("eval")

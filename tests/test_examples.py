"""examples/notebook_reuse.py runs as a script (in this process) on four
trained checkpoints (a VAE, a ring8 GAN, a two-moons flow, an AAE) and
prints what it computed from the families' module-level functions: the ELBO
below the IWAE bound, their bits/dim, the GAN's two losses, a flow density
of mass ~1 on its grid, the AAE's terms, each equal to the bound Model
member's, and its figure."""

import math
import re
import runpy
import sys

import pytest

from tests import helpers

pytestmark = pytest.mark.slow

# The notebook's --<name>_workdir flags and the smoke run trained for each.
RUNS = {"vae": "vae", "gan": "gan.py:ring8", "flow": "flow_toy.py:two_moons",
        "aae": "aae"}
NUMBER = r"(-?(?:[\d.]+|nan|inf))"


def numbers(pattern: str, text: str) -> list[float]:
  """The numbers of the first match of `pattern` (NUMBER groups) in text."""
  match = re.search(pattern.replace("NUM", NUMBER), text)
  assert match, f"no line matching {pattern!r} in:\n{text}"
  return [float(g) for g in match.groups()]


def run_notebook(workdirs: dict, out_png, capsys) -> str:
  """Runs the notebook as a script (`python examples/notebook_reuse.py
  --<name>_workdir=... --out=...`) in this process, sharing the decoded data
  set with the smoke runs; returns what it printed."""
  argv = ["examples/notebook_reuse.py",
          *(f"--{name}_workdir={path}" for name, path in workdirs.items()),
          f"--out={out_png}"]
  capsys.readouterr()
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(sys, "argv", argv)
    mp.chdir(helpers.REPO)
    helpers.patch_data_cache(mp)
    runpy.run_path(argv[0], run_name="__main__")
  return capsys.readouterr().out


def test_notebook_computes_each_kind_from_module_functions(tmp_path, capsys):
  workdirs = {name: tmp_path / name for name in RUNS}
  for name, spec in RUNS.items():
    trained = helpers.run_in_process(helpers.smoke_config(spec),
                                     workdirs[name], spec)
    assert trained.returncode == 0, helpers.describe(trained)
  png = tmp_path / "reuse.png"
  out = run_notebook(workdirs, png, capsys)

  # Latent-variable: ELBO <= IWAE bound <= 0 (binary data: log p(x) <= 0),
  # up to the Monte Carlo noise of a 64-image batch; bits/dim = -nats / (D ln 2).
  elbo, elbo_bpd = numbers(r"ELBO NUM nats/image \(NUM bits/dim", out)
  iwae, iwae_bpd = numbers(r"IWAE bound \(K=\d+\) NUM nats/image \(NUM bits",
                           out)
  assert elbo < 0 and iwae < 0, (elbo, iwae)
  assert iwae > elbo - 1.0, (elbo, iwae)
  for nats, bpd in ((elbo, elbo_bpd), (iwae, iwae_bpd)):
    assert bpd == pytest.approx(-nats / (784 * math.log(2)), abs=2e-4)

  # Adversarial: both players' losses finite; the logistic critic loss > 0.
  d_loss, g_loss = numbers(r"critic loss NUM, generator loss NUM", out)
  assert math.isfinite(g_loss) and math.isfinite(d_loss) and d_loss > 0

  # Exact likelihood: the density integrates to ~1 over the grid.
  (mass,) = numbers(r"density mass on the grid: NUM", out)
  assert abs(mass - 1.0) < 0.05, mass

  # Hybrid: reconstruction, both adversarial terms, objective, MMD finite.
  aae = numbers(r"AAE: reconstruction NUM nats/image, discriminator loss NUM, "
                r"encoder adversarial loss NUM, encoder objective NUM, "
                r"code-vs-prior MMD² NUM", out)
  assert all(map(math.isfinite, aae)), aae
  assert aae[0] > 0 and aae[3] == pytest.approx(aae[0] + aae[2], abs=0.02)

  # Each number the notebook computed equals the bound Model member's.
  checks = [line for line in out.splitlines() if "the Model member" in line]
  assert len(checks) == 7, out
  assert all(": same as the Model member" in line for line in checks), out
  assert png.stat().st_size > 10_000

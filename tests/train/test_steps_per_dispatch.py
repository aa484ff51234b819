"""`train.steps_per_dispatch`: S steps per compiled call (lax.scan) give the
state and logged metrics of one step per call, compile once, and the NaN
guard still names the exact step inside a dispatch."""

import jax
import numpy as np
import pytest

from gdm_jax.train import loop
from tests import helpers as h

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cached_data(monkeypatch):
  h.patch_data_cache(monkeypatch)


def test_scan_of_steps_equals_single_steps(tmp_path):
  one = h.smoke_config("vae.py")
  five = h.smoke_config("vae.py")
  five.train.steps_per_dispatch = 5
  a = loop.train_and_evaluate(one, str(tmp_path / "one"), stop_at_step=20)
  b = loop.train_and_evaluate(five, str(tmp_path / "five"), stop_at_step=20)
  assert a == b == {"stopped_at": 20}
  _, state_a = h.restore_checkpoint(str(tmp_path / "one"), one)
  _, state_b = h.restore_checkpoint(str(tmp_path / "five"), five)
  assert int(state_b.step) == 20
  for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b)):
    # Same keys, data and updates; XLA may fuse the scanned step differently.
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-5, atol=1e-6)
  loss_a = h.train_losses(h.read_metrics(str(tmp_path / "one")))
  loss_b = h.train_losses(h.read_metrics(str(tmp_path / "five")))
  assert sorted(loss_a) == sorted(loss_b) == [5, 10, 15, 20]
  for step in loss_a:
    assert loss_b[step] == pytest.approx(loss_a[step], rel=1e-5)


def test_intervals_must_be_multiples(tmp_path):
  config = h.smoke_config("vae.py")
  config.train.steps_per_dispatch = 3
  with pytest.raises(ValueError, match="multiple of train.steps_per_dispatch"):
    loop.train_and_evaluate(config, str(tmp_path))


def test_nan_inside_a_dispatch_names_its_step(tmp_path, monkeypatch):
  h.register_nan_vae(monkeypatch)
  config = h.smoke_config("vae.py")
  config.model.name = h.NAN_FAMILY
  config.train.steps_per_dispatch = 5
  with pytest.raises(loop.NonFiniteError,
                     match=f"at step {h.NAN_FROM_STEP + 1};"):
    loop.train_and_evaluate(config, str(tmp_path))

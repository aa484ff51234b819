"""The experiment configs and the smoke sizes the tests apply to them
(tests/helpers.smoke_config), without training."""

import pytest

from experiments.configs import pixelcnn as pixelcnn_configs
from experiments.configs import vae as vae_configs
from gdm_jax.models import pixelcnn
from tests import helpers

_ALL_FILES = sorted(
    p.name for p in (helpers.REPO / "experiments" / "configs").glob("*.py")
    if p.stem not in ("__init__", "common", "flow_base"))
_CONFIG_FILES = [n for n in _ALL_FILES if not n.endswith("_study.py")]
_STUDY_FILES = [n for n in _ALL_FILES if n.endswith("_study.py")]


@pytest.mark.parametrize("name", _CONFIG_FILES)
def test_every_config_has_a_small_smoke_version(name):
  full, smoke = helpers.production_config(name), helpers.smoke_config(name)
  assert smoke.model.name == full.model.name
  assert smoke.train.num_steps <= 20 and not smoke.eval.sample_metrics
  assert smoke.train.final_eval_examples <= 200
  flags = helpers.smoke_flags(name)
  assert flags[0] == f"--config=experiments/configs/{name}", flags
  assert "--config.train.num_steps=" + str(smoke.train.num_steps) in flags


@pytest.mark.parametrize("name", _STUDY_FILES)
def test_every_study_has_smaller_smoke_sizes(name):
  assert name.removesuffix(".py") in helpers.STUDY_SMOKE
  assert (helpers.smoke_config(name).to_dict()
          != helpers.production_config(name).to_dict())


@pytest.mark.parametrize("name", _ALL_FILES)
def test_smoke_sizes_are_not_written_into_the_config_files(name):
  """Smoke sizes live in tests/helpers.py: 'smoke' is no variant."""
  text = (helpers.REPO / "experiments" / "configs" / name).read_text()
  assert "smoke" not in text.lower(), name
  with pytest.raises(ValueError, match=f"unknown variant 'smoke' of {name}"):
    helpers.production_config(f"{name}:smoke")


def test_smoke_spec_forms_agree():
  want = helpers.smoke_config("vae.py:planar").to_dict()
  for spec in ("vae:planar", "experiments/configs/vae.py:planar"):
    assert helpers.smoke_config(spec).to_dict() == want, spec
  assert (helpers.smoke_config("gan").to_dict()
          == helpers.smoke_config("gan.py").to_dict())


def test_vae_flow_smoke_configs_keep_the_flows_and_shrink():
  for name in ("planar", "iaf", "flow_prior", "flow_prior_realnvp",
               "gaussian_iaf"):
    full = vae_configs.get_config(name)
    smoke = helpers.smoke_config(f"vae.py:{name}")
    for field in ("posterior_flow", "prior_flow", "likelihood"):
      assert smoke.model[field] == full.model[field], (name, field)
    assert smoke.train.num_steps <= 5 and not smoke.eval.sample_metrics
    assert full.eval.sample_metrics
  assert vae_configs.get_config("planar").model.posterior_flow_steps == 10
  for bad in ("smoke", "planar_smoke", "conv_smoke", "nope"):
    with pytest.raises(ValueError, match="unknown variant"):
      vae_configs.get_config(bad)


def test_pixelcnn_variants_build_and_unknown_variant_is_rejected():
  for variant in ("default", "pp", "plain"):
    for c in (pixelcnn_configs.get_config(variant),
              helpers.smoke_config(f"pixelcnn.py:{variant}")):
      pixelcnn.make(c, {"shape": (28, 28, 1)})
      for field in ("batch_size", "eval_batch_size", "final_eval_batch_size"):
        assert c.train[field] % 8 == 0, (variant, field)
    assert pixelcnn_configs.get_config(variant).eval.sample_metrics == (
        variant in ("default", "pp"))
  assert pixelcnn_configs.get_config("pp").model.likelihood == "logistic_mixture"
  with pytest.raises(ValueError, match="unknown variant"):
    pixelcnn_configs.get_config("nope")


def test_unknown_variant_names_the_file_and_the_choices():
  with pytest.raises(ValueError, match=r"unknown variant 'nope' of glow.py; "
                     r"choose one of default, cpu, paper, tanh\."):
    helpers.production_config("glow.py:nope")


def test_smoke_override_of_a_missing_field_is_an_error(monkeypatch):
  monkeypatch.setitem(helpers.SMOKE, "gan", dict(model=dict(no_such=1)))
  with pytest.raises(KeyError, match="model.no_such"):
    helpers.smoke_config("gan.py")

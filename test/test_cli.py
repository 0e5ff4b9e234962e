"""The `vos-ros` command: parsing, dispatch to node/demo, and engine config options."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from vos_ros.cli import build_parser, main
from vos_ros.tools.config_args import add_config_arguments, apply_overrides, config_from_args, parse_override
from vos_ros.engine.config import EngineConfig

REPO = Path(__file__).resolve().parents[1]


def parse_config(argv: list[str]) -> EngineConfig:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv))


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["eval"], ["segment", "in"],
                                  ["eval", "root", "--method", "magic"], ["bench", "--data", "d", "--frames", "x"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: vos-ros" in capsys.readouterr().err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("segment", "eval", "bench", "node", "demo"):
        assert command in out
    assert main(["--version"]) == 0
    assert "vos-ros 0.1.0" in capsys.readouterr().out


def test_segment_objects_keep_command_line_order() -> None:
    args = build_parser().parse_args(["segment", "in", "--box", "1", "2", "3", "4", "--mask", "m.png",
                                      "--box", "5", "6", "7", "8", "--out", "o"])
    assert args.objects == [("box", (1.0, 2.0, 3.0, 4.0)), ("mask", Path("m.png")),
                            ("box", (5.0, 6.0, 7.0, 8.0))]


@pytest.mark.parametrize("command, module", [("node", "vos_ros.ros.node"), ("demo", "vos_ros.tools.demo")])
def test_passthrough_is_unchanged(command: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType(module)
    fake.main = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module, fake)
    rest = ["--help", "--ros-args", "-p", "x:=1", "-r", "__node:=vos"]
    assert main([command, *rest]) == 7
    assert seen == [rest]


def test_config_file_flags_and_overrides(tmp_path: Path) -> None:
    nested = tmp_path / "nested.yaml"
    nested.write_text("engine:\n  resolution: 240\n  frtm:\n    update_interval: 4\nros:\n  topic: x\n")
    flat = tmp_path / "flat.yaml"
    flat.write_text("method: frtm\nbackbone:\n  name: resnet18\n")
    config = parse_config(["--config", str(nested), "--device", "cpu",
                           "--set", "frtm.memory_eta=0.2", "--set", "refine.guided_filter=false"])
    assert config.resolution == 240 and config.frtm.update_interval == 4 and config.device == "cpu"
    assert config.frtm.memory_eta == 0.2 and config.refine.guided_filter is False
    # flags beat the file, --set beats the flags
    config = parse_config(["--config", str(flat), "--backbone", "efficientnet_lite1",
                           "--resolution", "120", "--set", "resolution=0"])
    assert config.backbone.name == "efficientnet_lite1" and config.resolution == 0
    assert config.method == "frtm"
    assert parse_config(["--set", "frtm.regularization=1"]).frtm.regularization == 1.0
    assert parse_config(["--set", "backbone.weights=/w.pth"]).backbone.weights == "/w.pth"


@pytest.mark.parametrize("override, message", [
    ("resolution", "KEY=VALUE"),
    ("frtm.nope=1", "unknown config key"),
    ("nope.x=1", "unknown config key"),
    ("frtm=1", "is a config section"),
    ("resolution=abc", "--set resolution: EngineConfig.resolution must be int"),
    ("frtm.online_update=1", "--set frtm.online_update: FRTMParams.online_update must be bool"),
    ("resolution=32", "resolution must be"),
])
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config(["--set", override])


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_config(["--config", str(tmp_path / "missing.yaml")])
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        parse_config(["--config", str(listing)])
    typo = tmp_path / "typo.yaml"
    typo.write_text("engine:\n  resolutoin: 240\n")
    with pytest.raises(ValueError, match="resolutoin"):
        parse_config(["--config", str(typo)])


def test_override_helpers() -> None:
    assert parse_override("a.b= [1, 2]") == ("a.b", [1, 2])
    assert apply_overrides(EngineConfig(), {"frtm.update_interval": 3}).frtm.update_interval == 3
    # YAML 1.1 reads 1e-2 as a string: float settings still accept it, other strings fail
    key, value = parse_override("frtm.regularization=1e-2")
    assert apply_overrides(EngineConfig(), {key: value}).frtm.regularization == 0.01
    with pytest.raises(ValueError, match="regularization"):
        apply_overrides(EngineConfig(), {key: "1e-2x"})


def test_python_dash_m(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "vos_ros", "eval", str(tmp_path / "nowhere"), "--device", "cpu"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "vos-ros eval: error: DAVIS root not found" in done.stderr

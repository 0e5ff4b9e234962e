"""Weight files of the learned parts: what ships in the package, saving, checked loading.

A weight file is a `torch.save`d dict: {"format", "kind", "shape", "backbone", "state_dict",
"record"} (record: how it was made). The shipped files live in `vos_ros/weights/`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .decoder import DecoderShape, MaskDecoder
from .prompt_encoder import PromptEncoder, PromptShape

FORMAT = "vos_ros.learned/1"
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "weights"
SHIPPED_BACKBONE = "efficientnet_lite0"  # what the shipped files were trained on
SHIPPED = {"decoder": SHIPPED_DIR / "decoder.pt", "prompt_encoder": SHIPPED_DIR / "prompt_encoder.pt"}
_BUILD = {"decoder": (MaskDecoder, DecoderShape), "prompt_encoder": (PromptEncoder, PromptShape)}
_STRIDES = {"decoder": (4, 8, 16), "prompt_encoder": (8, 16)}  # the backbone levels each reads
TRAIN_HINT = ("make it with `vos-ros train --data ../shared/data/davis2016-train --out DIR` "
              "(see docs/TRAINING.md), or set it to `none` for the training-free path")
_HINTS: dict[str, str] = {}


def register(kind: str, module_cls: type, shape_cls: type, strides: tuple[int, ...], hint: str) -> None:
    """Add a kind of weight file (a method's learned part): shipped as `<kind>.pt`, built by
    `module_cls(shape_cls.from_dict(...))`, reading the backbone levels `strides`."""
    SHIPPED[kind] = SHIPPED_DIR / f"{kind}.pt"
    _BUILD[kind] = (module_cls, shape_cls)
    _STRIDES[kind] = strides
    _HINTS[kind] = hint


def require(kind: str, path: Path) -> None:
    """WeightFileError naming `path` and how to make it when there is no such file."""
    if not path.is_file():
        raise WeightFileError(f"{kind} weights not found: {path}; {_HINTS.get(kind, TRAIN_HINT)}")


class WeightFileError(ValueError):
    """A weight file that is missing, unreadable or does not fit; the message says which and how to make one."""


def resolve(kind: str, setting: str) -> Path | None:
    """The file a `decoder` / `prompt_encoder` setting names: "shipped" = the file in the
    package, "none" = no learned part, anything else = a path."""
    if setting == "none":
        return None
    return SHIPPED[kind] if setting == "shipped" else Path(setting).expanduser()


def save(module: nn.Module, path: Path, backbone: str, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "kind": module.kind, "shape": module.shape.to_dict(), "backbone": backbone,
               "state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
               "record": record}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load(kind: str, path: Path, backbone: str, feature_channels: dict[int, int]) -> nn.Module:
    """The eval-mode module in `path`; WeightFileError naming the file when it is missing,
    not a weight file of this kind, or made for another backbone."""
    module_cls, shape_cls = _BUILD[kind]
    return load_module(kind, module_cls, shape_cls, path, backbone,
                       tuple(feature_channels[s] for s in _STRIDES[kind]), _HINTS.get(kind, TRAIN_HINT))


def load_module(kind: str, module_cls: type, shape_cls: type, path: Path, backbone: str,
                wanted: tuple[int, ...] | None, hint: str) -> nn.Module:
    """`load` for any learned network: `module_cls(shape_cls.from_dict(...))` whose shape's
    `feature_channels` must equal `wanted` (None: checked by the caller); `hint` says how
    to make a fitting file."""
    if not path.is_file():
        raise WeightFileError(f"{kind} weights not found: {path}; {hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a torch file
        raise WeightFileError(f"{kind} weights {path} cannot be read ({err}); {hint}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != kind:
        raise WeightFileError(f"{path} is not a vos_ros {kind} weight file; {hint}")
    if payload["backbone"] != backbone:
        raise WeightFileError(f"{path} was trained for backbone {payload['backbone']}, the engine runs "
                              f"{backbone}; {hint} with --set backbone.name={backbone}")
    try:
        shape = shape_cls.from_dict(payload["shape"])
    except (TypeError, KeyError) as err:
        raise WeightFileError(f"{path}: unknown {kind} architecture ({err}); {hint}") from err
    if wanted is not None and tuple(shape.feature_channels) != wanted:
        raise WeightFileError(f"{path} expects backbone channels {shape.feature_channels}, the backbone "
                              f"gives {wanted}; {hint}")
    module = module_cls(shape)
    try:
        module.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        raise WeightFileError(f"{path} does not fit the {kind} network ({err}); {hint}") from err
    return module.eval()


def record_of(path: Path) -> dict[str, Any]:
    """The training record stored in a weight file."""
    return torch.load(path, map_location="cpu", weights_only=True).get("record", {})

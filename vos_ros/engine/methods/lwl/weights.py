"""LWL weight files: the shipped one (vos_ros/weights/lwl.pt) or a file of `vos-ros train --method lwl`."""
from __future__ import annotations

from pathlib import Path

from ...learned import weights as learned_weights
from .network import LWLNet, LWLShape

SHIPPED = learned_weights.SHIPPED_DIR / "lwl.pt"
TRAIN_HINT = ("make it with `vos-ros train --method lwl --data ../shared/data/davis2016-train --out DIR` "
              "(see docs/TRAINING.md) and set lwl.weights to DIR/lwl.pt")


def resolve(setting: str) -> Path:
    """The file an `lwl.weights` setting names ("shipped" = the package's file)."""
    return SHIPPED if setting == "shipped" else Path(setting).expanduser()


def load(setting: str, backbone: str) -> LWLNet:
    """The eval-mode network of an `lwl.weights` setting; WeightFileError naming the file
    (its backbone channels are checked against the first features, `check_channels`)."""
    return learned_weights.load_module("lwl", LWLNet, LWLShape, resolve(setting), backbone, None, TRAIN_HINT)


def check_channels(net: LWLNet, setting: str, levels: dict) -> None:
    """WeightFileError when the backbone's channels at strides 4, 8, 16 are not the network's."""
    have = tuple(int(levels[s].shape[1]) for s in (4, 8, 16))
    if have != tuple(net.shape.feature_channels):
        raise learned_weights.WeightFileError(
            f"{resolve(setting)} expects backbone channels {net.shape.feature_channels}, the backbone "
            f"gives {have}; {TRAIN_HINT}")

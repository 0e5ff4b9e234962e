"""One overlay, one palette."""
from types import SimpleNamespace

import numpy as np

from vos_ros.viz import draw_overlay, label_colour


def test_palette_is_davis_and_overlay_tints_only_visible_objects():
    assert label_colour(1) == (128, 0, 0) and label_colour(2) == (0, 128, 0)
    frame = np.zeros((40, 60, 3), np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 10:30] = True
    shown = SimpleNamespace(visible=True, mask=mask, box=(10, 10, 20, 10))
    hidden = SimpleNamespace(visible=False, mask=mask, box=None)
    out = draw_overlay(frame, {1: shown, 2: hidden}, captions={1: "1 cup 0.90"})
    assert tuple(out[15, 20]) == (64, 0, 0)  # half-way to the object's colour
    assert not out[30:, 40:].any() and not frame.any()

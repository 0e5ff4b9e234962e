"""The frame store: the latest processed frame, keyed by the frame's pixels."""
import numpy as np
import torch

from vos_ros.engine.backbone.features import Features
from vos_ros.engine.frames import FrameStore, ProcessedFrame


def _processed() -> ProcessedFrame:
    return ProcessedFrame(torch.zeros(1, 3, 16, 16), np.zeros((16, 16, 3), np.uint8),
                          Features({8: torch.zeros(1, 4, 2, 2)}, (16, 16)))


def test_same_or_equal_frame_finds_the_entry_another_does_not():
    store, frame, processed = FrameStore(), np.zeros((16, 16, 3), np.uint8), _processed()
    assert store.get(frame) is None
    store.put(frame, processed)
    assert store.get(frame) is processed and store.get(frame.copy()) is processed
    assert processed.size == (16, 16)
    other = np.ones((16, 16, 3), np.uint8)
    assert store.get(other) is None and store.get(np.zeros((8, 16, 3), np.uint8)) is None
    store.clear()
    assert store.get(frame) is None

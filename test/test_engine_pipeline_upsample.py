"""The upsample stage: coarse per-object maps -> output probabilities; pluggable."""
import numpy as np
import torch

from vos_ros.engine.backbone.features import Features
from vos_ros.engine.config import RefineConfig
from vos_ros.engine.frames import ProcessedFrame
from vos_ros.engine.pipeline.upsample import GuidedUpsample, MaskUpsampler, build_upsampler


def _frame(h: int = 64, w: int = 96) -> ProcessedFrame:
    guide = np.zeros((h, w, 3), np.uint8)
    guide[:, w // 2:] = 255
    return ProcessedFrame(torch.zeros(1, 3, h, w), guide, Features({8: torch.zeros(1, 4, h // 8, w // 8)}, (h, w)))


def test_guided_upsample_works_at_its_height_and_bilinear_without_the_filter():
    frame, coarse = _frame(), [torch.rand(8, 12), torch.rand(1, 8, 12)]
    up = build_upsampler(RefineConfig(guided_height=32))
    assert isinstance(up, GuidedUpsample)
    assert tuple(up(coarse, frame).shape) == (2, 32, 48)
    up.reconfigure(RefineConfig(guided_filter=False))
    out = up(coarse, frame)
    assert tuple(out.shape) == (2, 64, 96) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_full_resolution_maps_pass_through_and_a_custom_decoder_plugs_in():
    frame = _frame()
    full = [torch.rand(64, 96)]
    assert torch.equal(build_upsampler(RefineConfig())(full, frame)[0], full[0])

    class Nearest(MaskUpsampler):  # what a learned decoder implements
        def upsample(self, coarse, frame):
            return torch.nn.functional.interpolate(coarse[None], size=frame.size, mode="nearest")[0]

    assert tuple(Nearest()([torch.rand(8, 12)], frame).shape) == (1, 64, 96)


def test_decoder_region_grows_the_active_box_to_even_cells():
    from vos_ros.engine.pipeline.upsample import decoder_region
    active = torch.zeros(30, 54, dtype=torch.bool)
    assert decoder_region(active) is None
    active[10:14, 20:31] = True
    y0, y1, x0, x1 = decoder_region(active)
    assert y0 <= 10 - 4 and y1 >= 14 + 4 and x0 <= 20 - 5 and x1 >= 31 + 5
    assert y0 % 2 == 0 and x0 % 2 == 0 and y1 <= 30 and x1 <= 54


def test_the_shipped_decoder_tracks_a_real_clip():
    from conftest import davis_sequence
    from vos_ros.engine.config import EngineConfig
    from vos_ros.engine.session import Segmenter
    frames, masks = davis_sequence("blackswan", 4)
    seg = Segmenter(EngineConfig(device="cpu", method="visual_words", decoder="shipped"))
    assert seg.upsampler.aggregation == "soft"
    seg.add_object(1, frames[0], mask=masks[0])
    for frame, truth in zip(frames[1:], masks[1:]):
        mask = seg.step(frame).objects[1].mask
        assert (mask & truth).sum() / (mask | truth).sum() > 0.8

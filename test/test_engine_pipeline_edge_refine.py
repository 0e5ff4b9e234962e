"""Guided-filter refinement of coarse probability maps."""
import numpy as np
import torch
import torch.nn.functional as F

from vos_ros.engine.pipeline.edge_refine import GuidedRefiner
from vos_ros.evaluation.metrics import region_similarity


def _scene(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """An image with a bright square (sharp edges) on a dark, slightly noisy background."""
    rng = np.random.default_rng(0)
    truth = np.zeros((h, w), bool)
    truth[30:70, 40:90] = True
    img = np.where(truth[..., None], 200, 40) + rng.integers(-10, 10, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8), truth


def test_refined_masks_follow_image_edges_better_than_bilinear():
    img, truth = _scene()
    coarse = F.adaptive_avg_pool2d(torch.from_numpy(truth).float()[None, None], (12, 16))[0]  # stride 8
    bilinear = F.interpolate(coarse[None], size=truth.shape, mode="bilinear", align_corners=False)[0, 0]
    refined = GuidedRefiner(img, radius=4, eps=1e-2).refine(coarse)
    assert refined.shape == (1, *truth.shape) and 0 <= float(refined.min()) and float(refined.max()) <= 1
    assert region_similarity(refined[0].numpy() > 0.5, truth) > region_similarity(bilinear.numpy() > 0.5, truth) + 0.02


def test_objects_filtered_together_match_one_at_a_time():
    img, truth = _scene()
    a = F.adaptive_avg_pool2d(torch.from_numpy(truth).float()[None, None], (12, 16))[0, 0]
    coarse = torch.stack([a, a.flip(1), 1 - a])
    for scale in (1.0, 0.5):
        refiner = GuidedRefiner(img, radius=4, eps=1e-2, scale=scale)
        together = refiner.refine(coarse)
        alone = torch.cat([refiner.refine(c[None]) for c in coarse])
        assert together.shape == (3, *truth.shape)
        assert torch.allclose(together, alone, atol=1e-5)


def test_grey_guide_also_follows_edges():
    img, truth = _scene()
    coarse = F.adaptive_avg_pool2d(torch.from_numpy(truth).float()[None, None], (12, 16))[0]
    bilinear = F.interpolate(coarse[None], size=truth.shape, mode="bilinear", align_corners=False)[0, 0]
    refined = GuidedRefiner(img, radius=4, eps=1e-2, gray=True).refine(coarse)
    assert region_similarity(refined[0].numpy() > 0.5, truth) > region_similarity(bilinear.numpy() > 0.5, truth) + 0.02
    half = GuidedRefiner(img, radius=4, eps=1e-2, scale=0.5)
    assert half.work_size == (48, 64) and half.refine(coarse, full_size=False).shape == (1, 48, 64)


def test_filtering_around_the_objects_gives_the_whole_frame_masks():
    rng = np.random.default_rng(4)
    img = np.clip(rng.normal(90, 40, (120, 214, 3)), 0, 255).astype(np.uint8)
    img[30:70, 40:90] = (200, 60, 60)
    img[80:110, 150:200] = (40, 200, 90)
    truth = np.zeros((2, 120, 214), np.float32)
    truth[0, 30:70, 40:90] = 1
    truth[1, 80:110, 150:200] = 1
    coarse = F.adaptive_avg_pool2d(torch.from_numpy(truth)[None], (15, 27))[0]
    coarse = (coarse + 0.05 * torch.rand(coarse.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    whole = GuidedRefiner(img, radius=4, eps=1e-2).refine(coarse)
    for floor in (0.1, 0.5):
        cropped = GuidedRefiner(img, radius=4, eps=1e-2, floor=floor).refine(coarse)
        assert torch.equal(whole > 0.5, cropped > 0.5)
        near = whole > 0.3
        assert torch.allclose(whole[near], cropped[near], atol=1e-4)
        assert float(cropped[~near].max()) < 0.3
    # objects covering most of the frame: whole frames are filtered
    big = GuidedRefiner(img, radius=4, eps=1e-2, floor=0.1).refine(torch.full((1, 15, 27), 0.6))
    assert torch.allclose(big, GuidedRefiner(img, radius=4, eps=1e-2).refine(torch.full((1, 15, 27), 0.6)))

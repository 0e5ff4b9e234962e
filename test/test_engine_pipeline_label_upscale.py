"""Nearest upscaling of label grids and mask statistics computed on the grid."""
import cv2
import numpy as np
import pytest

from vos_ros.engine.pipeline.label_upscale import NearestUpscale
from vos_ros.engine.pipeline.results import describe_mask


def _random_labels(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Blobs of labels 1..3 on background, with some isolated pixels."""
    labels = np.zeros(size, np.uint8)
    h, w = size
    for k in (1, 2, 3):
        y, x = rng.integers(0, h), rng.integers(0, w)
        labels[max(0, y - h // 5):y + h // 5, max(0, x - w // 6):x + w // 6] = k
    labels[rng.integers(0, h, 5), rng.integers(0, w, 5)] = 2
    return labels


@pytest.mark.parametrize("grid, frame", [((120, 214), (480, 854)), ((120, 214), (240, 427)),
                                         ((60, 107), (480, 854)), ((37, 53), (101, 211)),
                                         ((120, 214), (120, 214)), ((120, 214), (90, 160))])
def test_grid_statistics_equal_those_of_the_upscaled_mask(grid, frame):
    rng = np.random.default_rng(sum(grid) + sum(frame))
    up = NearestUpscale(grid, frame)
    for _ in range(5):
        labels = _random_labels(rng, grid)
        full = up.upscale(labels)
        assert full.shape == frame
        assert np.array_equal(full, cv2.resize(labels, frame[::-1], interpolation=cv2.INTER_NEAREST))
        for k in (1, 2, 3, 4):
            expected = describe_mask(k, full == k, 1.0, True)
            got = up.stats(labels == k)
            assert got.area == expected.area
            assert got.box == expected.box
            if expected.centroid is None:
                assert got.centroid is None
            else:
                assert got.centroid == pytest.approx(expected.centroid, abs=1e-6)


def test_upscale_keeps_the_type_and_bool_masks():
    up = NearestUpscale((2, 3), (4, 6))
    ids = np.array([[0, 7, 300], [300, 0, 7]], np.uint16)
    full = up.upscale(ids)
    assert full.dtype == np.uint16 and full[0, 2] == 7 and full[3, 5] == 7 and full[2, 0] == 300
    assert up.upscale(ids == 7).dtype == bool and up.upscale(ids == 7).sum() == 8
    with pytest.raises(ValueError, match="grid"):
        up.upscale(np.zeros((3, 3), np.uint8))

"""Mask clean-up: specks removed, small holes filled, large holes and big parts kept."""
import numpy as np

from vos_ros.engine.pipeline.cleanup import clean_object_region


def clean_object_mask(mask: np.ndarray, min_component_fraction: float, max_hole_fraction: float) -> np.ndarray:
    """The cleaned mask at full size (the region pasted into an empty mask)."""
    window, cleaned = clean_object_region(mask, min_component_fraction, max_hole_fraction)
    out = np.zeros(mask.shape, bool)
    out[window] = cleaned
    return out


def test_speck_removed_and_small_hole_filled():
    m = np.zeros((60, 60), bool)
    m[10:40, 10:40] = True  # 900 px object
    m[20:23, 20:23] = False  # 9 px hole
    m[50:52, 50:52] = True  # 4 px speck
    out = clean_object_mask(m, 0.1, 0.1)
    assert out[21, 21] and not out[50, 50]
    assert out.sum() == 900


def test_large_hole_and_second_large_part_kept():
    m = np.zeros((80, 80), bool)
    m[5:45, 5:45] = True
    m[15:35, 15:35] = False  # 400 px hole, 33 % of the 1200 px ring
    m[55:75, 55:75] = True  # second part, 25 % of the largest
    out = clean_object_mask(m, 0.1, 0.1)
    assert np.array_equal(out, m)


def test_hole_touching_the_border_is_not_a_hole():
    m = np.zeros((30, 30), bool)
    m[:, 5:25] = True
    m[0:3, 14:16] = False  # a notch open to the image border
    assert np.array_equal(clean_object_mask(m, 0.1, 0.1), m)


def test_disabled_rules_change_nothing():
    m = np.zeros((30, 30), bool)
    m[5:20, 5:20] = True
    m[10, 10] = False
    m[27, 27] = True
    assert np.array_equal(clean_object_mask(m, 0.0, 0.0), m)


def test_region_is_the_box_plus_margin_and_empty_for_an_empty_mask():
    m = np.zeros((20, 30), bool)
    m[5:9, 0:4] = True  # touches the left border: the margin is clipped there
    window, cleaned = clean_object_region(m, 0.1, 0.1)
    assert window == (slice(4, 10), slice(0, 5)) and np.array_equal(cleaned, m[window])
    window, cleaned = clean_object_region(np.zeros((20, 30), bool), 0.1, 0.1)
    assert cleaned.size == 0 and np.zeros((20, 30))[window].size == 0

"""DAVIS J / F metrics on hand-computed cases."""
import numpy as np
import pytest

from vos_ros.evaluation.metrics import (
    boundary_f_measure,
    boundary_map,
    region_similarity,
    sequence_scores,
    summarize,
)


def square(shape=(40, 40), top=10, left=10, size=20) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_iou_of_two_rectangles_is_the_exact_fraction():
    gt = square((20, 20), 0, 0, 10)
    pred = square((20, 20), 5, 5, 10)
    # 5x5 overlap of two 100-pixel squares: 25 / 175
    assert region_similarity(pred, gt) == pytest.approx(1 / 7)


def test_identical_masks_score_one():
    gt = square()
    assert region_similarity(gt, gt.copy()) == 1.0
    assert boundary_f_measure(gt, gt.copy()) == 1.0


def test_boundary_map_of_a_square():
    # seg2bmap: outer row above + outer column left (21 each, sharing a corner) and the
    # square's own bottom row + right column (20 each, sharing a corner): 80 pixels
    bmap = boundary_map(square())
    assert np.count_nonzero(bmap) == 80
    assert bmap[9, 9:30].all() and bmap[9:30, 9].all()
    assert bmap[29, 10:30].all() and bmap[10:30, 29].all()
    assert not bmap[10:29, 10:29].any()


def test_boundary_of_a_full_frame_mask_is_empty():
    # the last row/column are only compared inside the image (DAVIS quirk)
    full = np.ones((30, 30), bool)
    assert not boundary_map(full).any()
    assert boundary_f_measure(full, np.zeros_like(full)) == 1.0
    assert region_similarity(full, np.zeros_like(full)) == 0.0


def test_shift_beyond_tolerance_matches_hand_count():
    # 40x40 image: tolerance ceil(0.008 * 56.6) = 1 pixel (a 4-neighbour cross).
    # Shifting the square 5 pixels right, 36 of the 80 boundary pixels match on each side:
    # precision: 17 (top row) + 3 (left column) + 16 (bottom row) + 0 (right column)
    # recall:    17 (top row) + 0 (left column) + 17 (bottom row) + 2 (right column)
    gt = square()
    pred = square(left=15)
    assert boundary_f_measure(pred, gt) == pytest.approx(0.45)
    assert region_similarity(pred, gt) == pytest.approx(300 / 500)


def test_precision_and_recall_differ_for_a_smaller_prediction():
    # 400x400 image, tolerance ceil(0.008 * 565.7) = 5; gt is a 200x200 square and the
    # prediction its 100x100 top-left quarter: boundary lengths 4 * 100 and 4 * 200
    gt = np.zeros((400, 400), bool)
    gt[100:300, 100:300] = True
    pred = np.zeros_like(gt)
    pred[100:200, 100:200] = True
    assert np.count_nonzero(boundary_map(pred)) == 400
    assert np.count_nonzero(boundary_map(gt)) == 800
    # precision: pred's outer top row + left column (101 + 101 - 1) coincide with gt's;
    # of its own bottom row and right column only the 5 pixels nearest gt's left/top match
    precision = (201 + 5 + 5) / 400
    # recall: gt's outer top row and left column match up to 5 px past pred's end
    # (indices 99..204 on each line, sharing the corner)
    recall = (106 + 106 - 1) / 800
    expected = 2 * precision * recall / (precision + recall)
    assert boundary_f_measure(pred, gt) == pytest.approx(expected)


def test_shift_within_tolerance_gives_f_one():
    gt = square()
    assert boundary_f_measure(square(left=11), gt) == 1.0  # 1 px, tolerance 1
    big = np.zeros((480, 854), bool)
    big[100:300, 200:500] = True
    moved = np.roll(big, (3, 4), axis=(0, 1))  # 5 px, tolerance 8
    assert boundary_f_measure(moved, big) == 1.0
    assert boundary_f_measure(np.roll(big, 9, axis=1), big) < 1.0


def test_empty_mask_edge_cases():
    empty = np.zeros((40, 40), bool)
    obj = square()
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(empty, obj) == 0.0
    assert boundary_f_measure(empty, obj) == 0.0  # P = 1, R = 0
    assert boundary_f_measure(obj, empty) == 0.0  # P = 0, R = 1
    far = square(top=0, left=0, size=5)
    assert boundary_f_measure(far, square(top=30, left=30, size=5)) == 0.0  # P + R == 0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        region_similarity(np.zeros((4, 4)), np.zeros((4, 5)))


def test_sequence_scores_exclude_frame_zero():
    gts = [square() for _ in range(4)]
    preds = [np.zeros((40, 40), bool)] + [g.astype(np.uint8) * 255 for g in gts[1:]]
    scores = sequence_scores(preds, gts)
    assert scores["J"] == scores["F"] == scores["JF"] == 1.0
    assert scores["frames"] == 3
    assert len(scores["J_per_frame"]) == len(scores["F_per_frame"]) == 3


def test_sequence_scores_average_frames():
    gt = square()
    preds = [gt, gt, square(left=15)]
    scores = sequence_scores(preds, [gt, gt, gt])
    assert scores["J_per_frame"] == pytest.approx([1.0, 0.6])
    assert scores["F_per_frame"] == pytest.approx([1.0, 0.45])
    assert scores["JF"] == pytest.approx((0.8 + 0.725) / 2)


def test_sequence_scores_average_objects_of_label_maps():
    gt = np.zeros((40, 40), np.uint8)
    gt[2:12, 2:12] = 1
    gt[20:35, 20:35] = 2
    pred = np.where(gt == 1, 1, 0).astype(np.uint8)  # object 2 missed
    scores = sequence_scores([gt, pred], [gt, gt])
    assert scores["J"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert scores["F"] == pytest.approx(0.5)
    # a prediction of object 1 labelled as object 2 scores zero on both
    swapped = np.where(gt == 1, 2, 0).astype(np.uint8)
    assert sequence_scores([gt, swapped], [gt, gt])["J"] == 0.0


def test_sequence_scores_reject_bad_input():
    with pytest.raises(ValueError):
        sequence_scores([square()], [square()])
    with pytest.raises(ValueError):
        sequence_scores([square()] * 2, [square()] * 3)


def test_summarize_averages_sequences_not_frames():
    short = {"J": 1.0, "F": 0.8, "frames": 2}
    long = {"J": 0.0, "F": 0.2, "frames": 8}
    summary = summarize({"short": short, "long": long})
    assert summary["J"] == pytest.approx(0.5)  # frame-weighted would be 0.2
    assert summary["F"] == pytest.approx(0.5)
    assert summary["JF"] == pytest.approx(0.5)
    assert summary["sequences"] == 2
    with pytest.raises(ValueError):
        summarize({})


def test_f_matches_a_brute_force_distance_count():
    # matching within a disk of radius r == some boundary pixel at Euclidean distance <= r
    rng = np.random.default_rng(0)
    for _ in range(5):
        pred = rng.random((40, 60)) < 0.01  # sparse specks: F around 0.2 to 0.35
        gt = rng.random((40, 60)) < 0.01
        bound_th = 0.03  # radius ceil(0.03 * 72.1) = 3
        pb, gb = np.argwhere(boundary_map(pred)), np.argwhere(boundary_map(gt))
        dist = np.sqrt(((pb[:, None, :] - gb[None, :, :]) ** 2).sum(-1))
        precision = np.mean(dist.min(axis=1) <= 3)
        recall = np.mean(dist.min(axis=0) <= 3)
        expected = 2 * precision * recall / (precision + recall)
        assert 0 < expected < 1
        assert boundary_f_measure(pred, gt, bound_th) == pytest.approx(expected)

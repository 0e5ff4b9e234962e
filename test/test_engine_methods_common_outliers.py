"""The outlier window: the moving anchor and grid shifts."""
import torch

from vos_ros.engine.methods.common.outliers import MovingAnchor, shift_cells


def test_shift_cells_moves_and_drops_what_leaves():
    cells = torch.zeros(4, 5, dtype=torch.bool)
    cells[1, 1] = cells[3, 4] = True
    moved = shift_cells(cells, 1, 2)
    assert moved[2, 3] and moved.sum() == 1
    assert not shift_cells(cells, 4, 0).any()


def test_moving_anchor_follows_the_object_and_widens_with_speed():
    size, stride = (20, 20), 8  # a 160 x 160 image
    anchor = MovingAnchor(dilation=8, stride=stride, size_fraction=0.0)
    first = torch.zeros(160, 160, dtype=torch.bool)
    first[16:32, 16:32] = True
    still = anchor(first, size)
    assert still[2:4, 2:4].all() and not still[10:, 10:].any()  # no motion yet: the mask, dilated
    second = torch.zeros_like(first)
    second[16:32, 64:80] = True  # moved 6 cells right
    window = anchor(second, size)
    assert window[2:4, 14:16].all()  # where it will be if it keeps moving
    assert window[2:4, 8:10].all()  # and where it is now
    assert anchor(torch.zeros_like(first), size) is None and anchor.centroid is None  # lost: search everywhere

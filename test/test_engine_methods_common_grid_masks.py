"""Feature-grid masks and the outlier test (regions not touching the previous mask)."""
import numpy as np
import torch

from vos_ros.engine.methods.common.grid_masks import erode_cells, grid_mask, object_cells, unanchored_regions


def test_regions_not_touching_the_previous_mask_are_outliers():
    mask = np.zeros((10, 12), bool)
    mask[1:4, 1:4] = True  # touches the anchor
    mask[6:9, 8:11] = True  # does not
    anchor = np.zeros_like(mask)
    anchor[3:5, 3:5] = True
    drop = unanchored_regions(mask, anchor)
    assert drop[6:9, 8:11].all() and drop.sum() == 9
    assert not unanchored_regions(mask, mask).any()


def test_grid_mask_dilation_and_cells():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[8:16, 8:16] = True  # exactly cell (1, 1) at stride 8
    assert grid_mask(mask, (8, 8)).nonzero().tolist() == [[1, 1]]
    dilated = grid_mask(mask, (8, 8), dilation=8)  # one cell around
    assert dilated.sum() == 9 and dilated[0:3, 0:3].all()
    assert object_cells(mask, (8, 8)).nonzero().tolist() == [[1, 1]]
    tiny = torch.zeros(64, 64, dtype=torch.bool)
    tiny[20, 20] = True  # less than half a cell: the touched cell still counts
    assert object_cells(tiny, (8, 8)).nonzero().tolist() == [[2, 2]]
    block = torch.zeros(8, 8, dtype=torch.bool)
    block[2:6, 2:6] = True
    assert erode_cells(block).nonzero().tolist() == [[3, 3], [3, 4], [4, 3], [4, 4]]

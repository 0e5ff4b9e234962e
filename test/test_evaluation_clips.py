"""Evaluation clips: the mosaic and absence benchmarks built from a DAVIS layout."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vos_ros.evaluation.clips import absence_clip, mosaic_clip, mosaic_groups, sequence_clip
from vos_ros.evaluation.davis import load_sequence, write_mask_png

H, W = 48, 64


def _write(root: Path, name: str, n: int, colour: int) -> None:
    """Frames of one flat grey level with a white square moving right; truth = the square."""
    for i in range(n):
        frame = np.full((H, W, 3), colour, np.uint8)
        mask = np.zeros((H, W), bool)
        mask[10:26, 4 + 2 * i:20 + 2 * i] = True
        frame[mask] = 255
        path = root / "JPEGImages/480p" / name / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path.with_suffix(".jpg")), frame, [cv2.IMWRITE_JPEG_QUALITY, 100])
        write_mask_png(root / "Annotations/480p" / name / f"{i:05d}.png", mask)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    for k, (name, n) in enumerate({"a": 9, "b": 6, "c": 7, "d": 8, "e": 5}.items()):
        _write(root, name, n, 40 * (k + 1))
    return root


def test_absence_clip_splices_foreign_frames_with_empty_truth(root: Path) -> None:
    seq, foreign = load_sequence(root, "a"), load_sequence(root, "e")
    clip = absence_clip(seq, foreign, 7)  # longer than the foreign sequence: it repeats
    assert clip.n_frames == 9 + 7 and clip.absent == range(3, 10)
    frames = list(clip.frames())
    assert len(frames) == clip.n_frames
    own = list(seq.frames())
    assert all(np.array_equal(frames[i], own[i]) for i in range(3))
    assert all(np.array_equal(frames[10 + i], own[3 + i]) for i in range(6))  # resumes where it left off
    assert all(abs(int(np.median(frames[i])) - 200) < 3 for i in clip.absent)  # e's grey level
    assert np.array_equal(frames[3 + 5], frames[3])  # foreign frames repeat from their start
    assert all(not clip.truth[i].any() for i in clip.absent)
    assert np.array_equal(clip.truth[12], sequence_clip(seq).truth[5])
    assert clip.scored == list(range(clip.n_frames)) and clip.object_ids() == [1]
    with pytest.raises(ValueError, match="another sequence"):
        absence_clip(seq, seq, 3)


def test_mosaic_clip_puts_one_object_per_half_size_tile(root: Path) -> None:
    seqs = [load_sequence(root, n) for n in "abcd"]
    clip = mosaic_clip(seqs)
    assert clip.n_frames == 6 and clip.object_ids() == [1, 2, 3, 4]
    frame = next(clip.frames())
    assert frame.shape == (H, W, 3)
    truth = clip.truth[0]
    for k, seq in enumerate(seqs):
        r, c = divmod(k, 2)
        tile = truth[r * H // 2:(r + 1) * H // 2, c * W // 2:(c + 1) * W // 2]
        assert set(np.unique(tile)) == {0, k + 1}  # the tile holds its own object only
        small = cv2.resize(sequence_clip(seq).truth[0], (W // 2, H // 2), interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(tile != 0, small != 0)
        grey = frame[r * H // 2:(r + 1) * H // 2, c * W // 2:(c + 1) * W // 2][~(tile != 0)]
        assert abs(int(np.median(grey)) - 40 * (k + 1)) < 3
    with pytest.raises(ValueError, match="square number"):
        mosaic_clip(seqs[:3])


def test_mosaic_groups_cover_every_sequence_by_length() -> None:
    groups = mosaic_groups(list("abcde"), [9, 6, 7, 8, 5], 4)
    assert groups == [["e", "b", "c", "d"], ["a", "e", "b", "c"]]
    assert {n for g in groups for n in g} == set("abcde")
    with pytest.raises(ValueError, match="at least 4"):
        mosaic_groups(list("abc"), [1, 2, 3], 4)

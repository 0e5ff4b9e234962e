"""Reading a DAVIS-layout folder (tiny synthetic layout and the real dev subset)."""
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from vos_ros.evaluation.davis import (
    list_sequences,
    load_sequence,
    read_labels,
    write_mask_png,
)
from vos_ros.evaluation.metrics import sequence_scores

DEV_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/davis2016-dev"


def write_palette_png(path: Path, indices: np.ndarray, palette: list[tuple[int, int, int]]):
    """An 8-bit indexed-colour PNG (as DAVIS-2017 annotations), written by hand."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    h, w = indices.shape
    rows = b"".join(b"\x00" + row.astype(np.uint8).tobytes() for row in indices)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
        + chunk(b"PLTE", bytes(np.array(palette, np.uint8).ravel()))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_sequence(root: Path, name: str, n_frames: int, annotated=None) -> None:
    """Frames of solid RGB colour (40 * i, 0, 200) and a 0/255 square mask per frame."""
    annotated = range(n_frames) if annotated is None else annotated
    for i in reversed(range(n_frames)):  # created out of order on purpose
        rgb = np.zeros((24, 32, 3), np.uint8)
        rgb[...] = (40 * i, 0, 200)
        frame = root / "JPEGImages/480p" / name / f"{i:05d}.jpg"
        frame.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(frame), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if i in annotated:
            mask = np.zeros((24, 32), np.uint8)
            mask[4 : 8 + i, 4:12] = 255
            write_mask_png(root / "Annotations/480p" / name / f"{i:05d}.png", mask > 0)


def test_list_sequences_is_sorted(tmp_path):
    for name in ("zebra", "bear", "mouse"):
        make_sequence(tmp_path, name, 2)
    assert list_sequences(tmp_path) == ["bear", "mouse", "zebra"]


def test_wrong_folder_gives_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="DAVIS root not found"):
        list_sequences(tmp_path / "nowhere")
    (tmp_path / "JPEGImages/480p").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="Annotations"):
        list_sequences(tmp_path)
    (tmp_path / "Annotations/480p").mkdir(parents=True)
    with pytest.raises(ValueError, match="no sequence folders"):
        list_sequences(tmp_path)
    with pytest.raises(FileNotFoundError, match="1080p"):
        list_sequences(tmp_path, resolution="1080p")
    make_sequence(tmp_path, "cat", 2)
    with pytest.raises(FileNotFoundError, match="sequence folder not found"):
        load_sequence(tmp_path, "dog")


def test_frame_zero_must_be_annotated(tmp_path):
    make_sequence(tmp_path, "cat", 3, annotated=[1, 2])
    with pytest.raises(ValueError, match="00000.jpg"):
        load_sequence(tmp_path, "cat")


def test_load_sequence_reads_frames_and_masks(tmp_path):
    make_sequence(tmp_path, "cat", 3)
    seq = load_sequence(tmp_path, "cat")
    assert seq.name == "cat" and len(seq) == 3
    assert [p.name for p in seq.frame_paths] == ["00000.jpg", "00001.jpg", "00002.jpg"]
    frames = list(seq.frames())
    assert all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in frames)
    # RGB order: red grows with the frame index, blue stays 200 (JPEG is lossy)
    assert np.abs(frames[2][12, 16].astype(int) - (80, 0, 200)).max() <= 6
    first = seq.first_mask()
    assert first.dtype == bool and np.count_nonzero(first) == 4 * 8
    labels = seq.first_labels()
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 1}  # 255 -> id 1
    assert [np.count_nonzero(a) for a in seq.annotations()] == [32, 40, 48]


def test_only_annotated_frames_are_yielded(tmp_path):
    make_sequence(tmp_path, "cat", 4, annotated=[0, 2])
    seq = load_sequence(tmp_path, "cat")
    assert len(seq) == 4
    assert seq.annotated_indices() == [0, 2]
    assert len(list(seq.annotations())) == 2


def test_palette_png_gives_palette_indices(tmp_path):
    indices = np.zeros((10, 12), np.uint8)
    indices[1:4, 1:4] = 1
    indices[5:9, 6:11] = 2
    # index 1 is purple and 2 green: sorting the colours (RGB or BGR) would swap them
    path = tmp_path / "00000.png"
    write_palette_png(path, indices, [(0, 0, 0), (128, 0, 128), (0, 128, 0)])
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (10, 12, 3)  # OpenCV expands
    labels = read_labels(path)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, indices)


def test_palette_png_with_only_a_later_object(tmp_path):
    # an id absent from a frame must not renumber the others (the DAVIS-2017 palette)
    indices = np.zeros((6, 6), np.uint8)
    indices[2:4, 2:4] = 3
    path = tmp_path / "00007.png"
    write_palette_png(path, indices, [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)])
    np.testing.assert_array_equal(read_labels(path), indices)


def test_write_mask_png_round_trips(tmp_path):
    binary = np.zeros((8, 9), bool)
    binary[2:5, 3:7] = True
    write_mask_png(tmp_path / "out/a.png", binary)
    raw = cv2.imread(str(tmp_path / "out/a.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(raw)) == {0, 255}  # DAVIS-2016 format
    np.testing.assert_array_equal(read_labels(tmp_path / "out/a.png"), binary)
    ids = np.zeros((8, 9), np.int64)
    ids[0:2, 0:2] = 1
    ids[5:8, 5:8] = 3
    write_mask_png(tmp_path / "b.png", ids)
    np.testing.assert_array_equal(read_labels(tmp_path / "b.png"), ids)
    with pytest.raises(ValueError, match="0..254"):
        write_mask_png(tmp_path / "c.png", np.full((2, 2), 300))
    with pytest.raises(ValueError, match=".png"):
        write_mask_png(tmp_path / "d.jpg", binary)


def test_ground_truth_scores_one_on_dev_data():
    if not DEV_DATA.is_dir():
        pytest.skip(f"DAVIS dev data not found at {DEV_DATA}")
    names = list_sequences(DEV_DATA)
    assert "blackswan" in names
    seq = load_sequence(DEV_DATA, "blackswan")
    assert len(seq) == len(seq.annotation_paths) == 50
    gts = list(seq.annotations())
    assert gts[0].shape == (480, 854) and set(np.unique(gts[0])) == {0, 1}
    scores = sequence_scores(gts, gts)
    assert scores["J"] == scores["F"] == 1.0
    assert scores["frames"] == 49
    assert next(seq.frames()).shape == (480, 854, 3)

"""`vos-ros segment` on a synthetic moving-disc clip and on the first frames of a DAVIS clip."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vos_ros.cli import main
from vos_ros.evaluation.davis import read_labels
from vos_ros.evaluation.metrics import region_similarity

DEV_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/davis2016-dev"
HEIGHT, WIDTH = 120, 160
FAST = ["--resolution", "0", "--device", "cpu"]


def _texture(rng: np.random.Generator, height: int, width: int, low: int, high: int) -> np.ndarray:
    """Smooth random colour texture with values in [low, high]."""
    noise = rng.random((height // 4, width // 4, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    return (low + smooth * (high - low)).astype(np.uint8)


def disc_clip(n_frames: int, discs: int = 1, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """RGB frames of `discs` textured discs moving over a textured background, and the
    label maps (disc k has id k; later discs are drawn on top)."""
    rng = np.random.default_rng(seed)
    background = _texture(rng, HEIGHT, WIDTH, 0, 110)
    stripes = ((np.arange(WIDTH)[None, :] + np.arange(HEIGHT)[:, None]) // 4 % 2).astype(np.uint8)
    colours = [(250, 190, 40), (40, 220, 250)]
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    frames, labels = [], []
    for t in range(n_frames):
        frame, label = background.copy(), np.zeros((HEIGHT, WIDTH), np.uint8)
        for k in range(discs):
            cx, cy = 45 + 4 * t + 60 * k, 55 + 2 * t - 10 * k
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= 20 ** 2
            pattern = np.array(colours[k], np.uint8) * (0.6 + 0.4 * stripes[..., None])
            frame[inside] = pattern[inside].astype(np.uint8)
            label[inside] = k + 1
        frames.append(frame)
        labels.append(label)
    return frames, labels


def write_frames(folder: Path, frames: list[np.ndarray], suffix: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def write_mask(path: Path, mask: np.ndarray) -> Path:
    cv2.imwrite(str(path), np.where(mask, 255, 0).astype(np.uint8))
    return path


def overlay_frames(out: Path) -> int:
    videos = list(out.glob("overlay.*"))
    assert len(videos) == 1, videos
    capture = cv2.VideoCapture(str(videos[0]))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_segment_folder_tracks_disc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, labels = disc_clip(6)
    folder = write_frames(tmp_path / "frames", frames)
    mask = write_mask(tmp_path / "mask.png", labels[0] == 1)
    out = tmp_path / "out"
    assert main(["segment", str(folder), "--mask", str(mask), "--out", str(out)] + FAST) == 0
    pngs = sorted((out / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(6)]
    for i, path in enumerate(pngs):
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(raw)) <= {0, 255}  # single object: DAVIS-2016 0/255
        assert region_similarity(raw != 0, labels[i] == 1) > 0.5, f"frame {i}"
    assert overlay_frames(out) == 6
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fps ")


def test_segment_video_two_objects_from_boxes_and_masks(tmp_path: Path) -> None:
    frames, labels = disc_clip(5, discs=2)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    mask = write_mask(tmp_path / "mask.png", labels[1] == 1)
    ys, xs = np.nonzero(labels[1] == 2)
    box = [str(v) for v in (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)]
    out = tmp_path / "out"
    code = main(["segment", str(video), "--start-frame", "1", "--mask", str(mask), "--box", *box,
                 "--out", str(out)] + FAST)
    assert code == 0
    pngs = sorted((out / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(1, 5)]
    last = read_labels(pngs[-1])
    assert set(np.unique(last)) <= {0, 1, 2}  # ids in command-line order
    for object_id in (1, 2):
        assert region_similarity(last == object_id, labels[4] == object_id) > 0.5
    assert overlay_frames(out) == 4


def test_box_outside_image_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, _ = disc_clip(2)
    folder = write_frames(tmp_path / "frames", frames)
    code = main(["segment", str(folder), "--box", "500", "400", "20", "20", "--out", str(tmp_path / "o")]
                + FAST)
    assert code != 0
    err = capsys.readouterr().err
    assert "outside" in err and f"{WIDTH}x{HEIGHT}" in err
    assert not (tmp_path / "o" / "masks").exists()


@pytest.mark.parametrize("argv, message", [
    ([], "at least one object"),
    (["--mask", "missing.png"], "mask file not found"),
    (["--box", "10", "10", "20", "20", "--start-frame", "99"], "has no frame 99"),
    (["--box", "10", "10", "20", "20", "--box", "50", "50", "20", "20", "--object-id", "254"], "1..254"),
])
def test_segment_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                              message: str) -> None:
    folder = write_frames(tmp_path / "frames", disc_clip(2)[0])
    assert main(["segment", str(folder), "--out", str(tmp_path / "o")] + argv + FAST) == 1
    assert message in capsys.readouterr().err


@pytest.mark.skipif(not (DEV_DATA / "JPEGImages/480p/blackswan").is_dir(),
                    reason="DAVIS dev subset (blackswan) not present")
def test_segment_davis_clip(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for path in sorted((DEV_DATA / "JPEGImages/480p/blackswan").glob("*.jpg"))[:4]:
        shutil.copy(path, frames)
    gt_dir = DEV_DATA / "Annotations/480p/blackswan"
    out = tmp_path / "out"
    code = main(["segment", str(frames), "--mask", str(gt_dir / "00000.png"), "--out", str(out),
                 "--resolution", "240", "--device", "cpu"])
    assert code == 0
    pngs = sorted((out / "masks").glob("*.png"))
    assert len(pngs) == 4
    for path in pngs[1:]:
        assert region_similarity(read_labels(path), read_labels(gt_dir / path.name)) > 0.7

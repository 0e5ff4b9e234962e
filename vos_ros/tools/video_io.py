"""Frames in (a folder of images or a video file, RGB uint8) and an overlay video out."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_FPS = 24.0  # DAVIS frame rate; used for image folders and videos without one


class FrameSource:
    """A folder of images (sorted by name) or a video file, read as RGB uint8 frames."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"input not found: {self.path}")
        self.images: list[Path] = []
        if self.path.is_dir():
            self.images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.images:
                raise ValueError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {self.path}")
            self.fps = DEFAULT_FPS
        else:
            capture = self._open()
            self.fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
            capture.release()

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"cannot open video file: {self.path}")
        return capture

    def frames(self, start: int = 0) -> Iterator[np.ndarray]:
        """Frames from index `start` on, as HxWx3 RGB uint8 arrays."""
        if start < 0:
            raise ValueError(f"start frame must be >= 0, got {start}")
        if self.images:
            for path in self.images[start:]:
                yield read_image(path)
            return
        capture = self._open()
        try:
            for _ in range(start):
                if not capture.grab():
                    return
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def read_image(path: str | Path) -> np.ndarray:
    """One image file as RGB uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image: {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class OverlayWriter:
    """Writes RGB frames to `path` ('mp4v' .mp4); falls back to MJPG .avi if that cannot open.

    The file is opened on the first frame; `path` is the file actually written.
    """

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None

    def _open(self, width: int, height: int) -> cv2.VideoWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for path, codec in ((self.path.with_suffix(".mp4"), "mp4v"), (self.path.with_suffix(".avi"), "MJPG")):
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), self.fps, (width, height))
            if writer.isOpened():
                self.path = path
                return writer
        raise OSError(f"cannot open a video writer for {self.path} (tried mp4v .mp4 and MJPG .avi)")

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._writer = self._open(frame.shape[1], frame.shape[0])
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "OverlayWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

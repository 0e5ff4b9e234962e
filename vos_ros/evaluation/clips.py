"""Evaluation clips made from DAVIS-layout sequences: the plain sequence, a 2x2 (k x k)
mosaic of several sequences (one object per tile), and a sequence with foreign frames
spliced in (the object absent, empty truth).

A `Clip` is what the evaluation steps through: frames in order, the truth label map of
each scored frame, and which frames are spliced absences. Frames are read lazily; the
truth of one clip is held in memory.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .davis import DavisSequence, read_labels


@dataclass
class Clip:
    """Frames (a re-iterable source), truth by frame index, and the spliced absent frames."""

    name: str
    n_frames: int
    frame_source: Callable[[], Iterator[np.ndarray]]
    truth: dict[int, np.ndarray]  # frame index -> (H, W) uint8 ids; frame 0 always present
    absent: range = field(default_factory=lambda: range(0))  # frames where no object is in view

    def frames(self) -> Iterator[np.ndarray]:
        """The clip's frames in order, RGB uint8."""
        for _, frame in zip(range(self.n_frames), self.frame_source()):
            yield frame

    @property
    def scored(self) -> list[int]:
        return sorted(self.truth)

    def object_ids(self) -> list[int]:
        return [int(v) for v in np.unique(self.truth[0]) if v != 0]


def sequence_clip(sequence: DavisSequence, max_frames: int | None = None) -> Clip:
    """The sequence as it is (its first `max_frames` frames)."""
    n = len(sequence) if max_frames is None else min(len(sequence), max_frames)
    truth = {i: read_labels(p) for i, p in zip(sequence.annotated_indices(), sequence.annotation_paths) if i < n}
    return Clip(sequence.name, n, sequence.frames, truth)


def absence_clip(sequence: DavisSequence, foreign: DavisSequence, n_absent: int,
                 max_frames: int | None = None) -> Clip:
    """`n_absent` frames of `foreign` (resized to the sequence's size, repeated from its start
    when it is shorter) spliced in after the first third of the sequence; their truth is
    empty. The sequence then resumes where it left off."""
    if n_absent < 1:
        raise ValueError("the number of absent frames must be at least 1")
    if foreign.name == sequence.name:
        raise ValueError(f"{sequence.name}: the foreign frames must come from another sequence")
    base = sequence_clip(sequence, max_frames)
    cut = max(1, base.n_frames // 3)
    first = next(sequence.frames())
    height, width = first.shape[:2]

    def source() -> Iterator[np.ndarray]:
        own = sequence.frames()
        for _ in range(cut):
            yield next(own)
        count = 0
        while count < n_absent:
            for frame in foreign.frames():
                if count == n_absent:
                    break
                if frame.shape[:2] != (height, width):
                    frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
                yield frame
                count += 1
        yield from own

    empty = np.zeros((height, width), np.uint8)
    truth = {i if i < cut else i + n_absent: labels for i, labels in base.truth.items()}
    truth.update({i: empty for i in range(cut, cut + n_absent)})
    return Clip(f"{sequence.name}+absent{n_absent}", base.n_frames + n_absent, source, truth,
                range(cut, cut + n_absent))


def mosaic_groups(names: Sequence[str], lengths: Sequence[int], tiles: int) -> list[list[str]]:
    """Sequences grouped `tiles` at a time, each group of similar length (sorted by length,
    so little is cut off); the last group is filled up with the shortest sequences. Every
    sequence is in at least one group."""
    if len(names) < tiles:
        raise ValueError(f"a mosaic of {tiles} tiles needs at least {tiles} sequences, got {len(names)}")
    order = [n for _, n in sorted(zip(lengths, names))]
    groups = [order[i:i + tiles] for i in range(0, len(order), tiles)]
    if len(groups[-1]) < tiles:
        groups[-1] = groups[-1] + [n for n in order if n not in groups[-1]][: tiles - len(groups[-1])]
    return groups


def _tile_grid(tiles: int) -> int:
    side = math.isqrt(tiles)
    if side < 2 or side * side != tiles:
        raise ValueError(f"mosaic tiles must be a square number >= 4 (4 = 2x2), got {tiles}")
    return side


def mosaic_clip(sequences: Sequence[DavisSequence], max_frames: int | None = None) -> Clip:
    """A k x k mosaic (k*k sequences, k >= 2): each tile is one sequence's frame shrunk k
    times (the frame size is the first sequence's), one object per tile with id = tile
    number (1.., row-major; all of the tile's objects merge into it). As long as the
    shortest sequence; scored on the frames all tiles have truth for."""
    side = _tile_grid(len(sequences))
    base = [sequence_clip(s, max_frames) for s in sequences]
    n = min(c.n_frames for c in base)
    height, width = base[0].truth[0].shape
    th, tw = height // side, width // side

    def place(images: Sequence[np.ndarray], interpolation: int) -> np.ndarray:
        out = np.zeros((th * side, tw * side) + images[0].shape[2:], images[0].dtype)
        for k, image in enumerate(images):
            r, c = divmod(k, side)
            out[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = cv2.resize(image, (tw, th), interpolation=interpolation)
        return out

    def source() -> Iterator[np.ndarray]:
        for frames in zip(*(s.frames() for s in sequences)):
            yield place(frames, cv2.INTER_AREA)

    common = set.intersection(*(set(i for i in c.truth if i < n) for c in base))
    truth = {i: place([((c.truth[i] != 0) * (k + 1)).astype(np.uint8) for k, c in enumerate(base)],
                      cv2.INTER_NEAREST) for i in sorted(common)}
    return Clip("+".join(s.name for s in sequences), n, source, truth)

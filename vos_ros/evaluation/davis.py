"""Reading a DAVIS-layout dataset folder and writing DAVIS-format mask PNGs.

Layout::

    <root>/JPEGImages/<resolution>/<sequence>/00000.jpg ...
    <root>/Annotations/<resolution>/<sequence>/00000.png ...

Object-id convention for annotation PNGs (`read_labels`): a 0/255 mask (DAVIS-2016) maps
to id 1; other grayscale PNGs hold the ids directly; palette PNGs (DAVIS-2017) give their
palette indices. OpenCV always expands palette PNGs to BGR, so the indices are recovered
by looking each colour up in the file's PLTE chunk.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _layout_dirs(root: str | Path, resolution: str) -> tuple[Path, Path]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"DAVIS root not found: {root}")
    images, annotations = root / "JPEGImages" / resolution, root / "Annotations" / resolution
    for folder in (images, annotations):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} not found: expected a DAVIS layout "
                f"<root>/JPEGImages/{resolution}/<seq>/%05d.jpg and "
                f"<root>/Annotations/{resolution}/<seq>/%05d.png"
            )
    return images, annotations


def list_sequences(root: str | Path, resolution: str = "480p") -> list[str]:
    """Sorted names of the sequences that have both a frame and an annotation folder."""
    images, annotations = _layout_dirs(root, resolution)
    names = sorted(p.name for p in images.iterdir() if p.is_dir())
    if not names:
        raise ValueError(f"no sequence folders in {images}")
    missing = [n for n in names if not (annotations / n).is_dir()]
    if missing:
        raise ValueError(f"sequences without an annotation folder in {annotations}: {missing}")
    return names


def _png_palette(path: Path) -> np.ndarray | None:
    """The PLTE entries (K x 3, RGB) of an indexed-colour PNG, or None for other PNGs."""
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError(f"not a PNG file: {path}")
    pos = len(_PNG_SIGNATURE)
    indexed = False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            indexed = body[9] == 3  # colour type 3: palette
        elif kind == b"PLTE":
            return np.frombuffer(body, np.uint8).reshape(-1, 3) if indexed else None
        elif kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return None


def _colours_to_indices(rgb: np.ndarray, palette: np.ndarray, path: Path) -> np.ndarray:
    """Palette index of each pixel colour (the first entry when a colour repeats)."""
    def key(c: np.ndarray) -> np.ndarray:
        return (c[..., 0].astype(np.int32) << 16) | (c[..., 1].astype(np.int32) << 8) | c[..., 2]

    index_of: dict[int, int] = {}
    for i, k in enumerate(key(palette).tolist()):
        index_of.setdefault(k, i)
    colours, inverse = np.unique(key(rgb), return_inverse=True)
    try:
        ids = np.array([index_of[c] for c in colours.tolist()], np.int64)
    except KeyError as err:
        raise ValueError(f"{path}: pixel colour {err} is not in the PNG palette") from None
    if ids.max() > 255:
        raise ValueError(f"{path}: palette index above 255")
    return ids[inverse].reshape(rgb.shape[:2]).astype(np.uint8)


def read_labels(path: str | Path) -> np.ndarray:
    """Object-id map (uint8, 0 = background) of an annotation PNG; see the module docstring."""
    path = Path(path)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot read image: {path}")
    if img.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit PNG, got {img.dtype}")
    if img.ndim == 2:
        if np.isin(img, (0, 255)).all():
            return (img == 255).astype(np.uint8)
        return img
    palette = _png_palette(path)
    if palette is None:
        raise ValueError(f"{path}: colour PNG without a palette; cannot map colours to object ids")
    rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
    return _colours_to_indices(rgb, palette, path)


def write_mask_png(path: str | Path, labels: np.ndarray) -> None:
    """Write a mask PNG in DAVIS format (parent folders are created).

    A single-object mask (boolean, or ids <= 1) is written as 0/255 grayscale (DAVIS-2016);
    a label map with higher ids as uint8 grayscale ids 0..254 (not a palette PNG, which
    OpenCV cannot write). Both read back through `read_labels` unchanged.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"mask files must be .png: {path}")
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"expected a 2-D label map, got shape {labels.shape}")
    if labels.dtype != bool and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"expected boolean or integer labels, got {labels.dtype}")
    if labels.dtype == bool or labels.max(initial=0) <= 1:
        out = np.where(labels != 0, 255, 0).astype(np.uint8)
    else:
        if labels.min() < 0 or labels.max() > 254:
            raise ValueError("object ids must lie in 0..254")
        out = labels.astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), out):
        raise OSError(f"could not write {path}")


@dataclass
class DavisSequence:
    """One sequence: its frame JPEGs and the annotation PNGs of the frames that have one."""

    name: str
    frame_paths: list[Path]
    annotation_paths: list[Path]

    def __len__(self) -> int:
        return len(self.frame_paths)

    def frames(self) -> Iterator[np.ndarray]:
        """The frames in order, as RGB uint8 H x W x 3 arrays."""
        for path in self.frame_paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"cannot read image: {path}")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def annotated_indices(self) -> list[int]:
        """Frame index of each annotation (all frames for DAVIS train/val)."""
        index = {p.stem: i for i, p in enumerate(self.frame_paths)}
        return [index[p.stem] for p in self.annotation_paths]

    def annotations(self) -> Iterator[np.ndarray]:
        """Object-id maps (uint8) of the annotated frames, in order."""
        for path in self.annotation_paths:
            yield read_labels(path)

    def first_labels(self) -> np.ndarray:
        """Object-id map (uint8, ids 1..K) of frame 0."""
        return read_labels(self.annotation_paths[0])

    def first_mask(self) -> np.ndarray:
        """Boolean mask of frame 0 (any object)."""
        return self.first_labels() != 0


def load_sequence(root: str | Path, name: str, resolution: str = "480p") -> DavisSequence:
    """Find the frames and annotations of one sequence; frame 0 must be annotated."""
    images, annotations = _layout_dirs(root, resolution)
    frame_dir, annotation_dir = images / name, annotations / name
    for folder in (frame_dir, annotation_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"sequence folder not found: {folder}")
    frame_paths = sorted(frame_dir.glob("*.jpg"))
    annotation_paths = sorted(annotation_dir.glob("*.png"))
    if not frame_paths:
        raise ValueError(f"no .jpg frames in {frame_dir}")
    stems = {p.stem for p in frame_paths}
    orphans = [p.name for p in annotation_paths if p.stem not in stems]
    if orphans:
        raise ValueError(f"annotations without a frame in {annotation_dir}: {orphans}")
    if not annotation_paths or annotation_paths[0].stem != frame_paths[0].stem:
        raise ValueError(
            f"frame 0 ({frame_paths[0].name}) of {name} has no annotation in {annotation_dir}"
        )
    return DavisSequence(name, frame_paths, annotation_paths)

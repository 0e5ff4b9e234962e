"""`vos-ros segment`: frames or a video + first-frame masks/boxes -> DAVIS mask PNGs + overlay."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..engine.pipeline.results import FrameResult
from ..engine.session import Segmenter
from ..evaluation.davis import write_mask_png
from ..runtime import configure_process
from ..viz import draw_overlay
from .config_args import add_config_arguments, config_from_args
from .video_io import FrameSource, OverlayWriter

MAX_PNG_ID = 254  # write_mask_png's limit for multi-object label maps


class _AppendObject(argparse.Action):
    """Collects --mask and --box into one ordered list of ("mask", path) / ("box", xywh)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        kind = "box" if option_string == "--box" else "mask"
        objects = list(getattr(namespace, self.dest) or [])
        objects.append((kind, tuple(values) if kind == "box" else values))
        setattr(namespace, self.dest, objects)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="folder of images (sorted .jpg/.png) or a video file")
    parser.add_argument("--mask", dest="objects", action=_AppendObject, type=Path, metavar="PNG",
                        help="first-frame mask of an object (nonzero = object); repeatable")
    parser.add_argument("--box", dest="objects", action=_AppendObject, type=float, nargs=4,
                        metavar=("X", "Y", "W", "H"), help="first-frame box of an object; repeatable")
    parser.add_argument("--object-id", type=int, default=1, metavar="N",
                        help="id of the first object; further objects get N+1, N+2, ... (default 1)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder: masks/%%05d.png and overlay.mp4")
    parser.add_argument("--start-frame", type=int, default=0, metavar="K",
                        help="frame the masks/boxes refer to; segmentation starts there (default 0)")
    add_config_arguments(parser)


def read_mask(path: Path) -> np.ndarray:
    """A mask image as a boolean array (any nonzero pixel is the object)."""
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"cannot read mask image: {path}")
    return mask != 0


def _save(masks_dir: Path, index: int, labels: np.ndarray, single: bool) -> None:
    write_mask_png(masks_dir / f"{index:05d}.png", labels != 0 if single else labels.astype(np.uint8))


def run(args: argparse.Namespace) -> int:
    objects: Sequence[tuple[str, Any]] = args.objects or []
    if not objects:
        raise ValueError("give at least one object: --mask PNG or --box X Y W H")
    ids = list(range(args.object_id, args.object_id + len(objects)))
    if ids[0] < 1 or (len(ids) > 1 and ids[-1] > MAX_PNG_ID):
        raise ValueError(f"object ids {ids[0]}..{ids[-1]} must lie in 1..{MAX_PNG_ID}")
    config = config_from_args(args)
    configure_process(config)
    source = FrameSource(args.input)
    frames = source.frames(args.start_frame)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{args.input} has no frame {args.start_frame}")

    seg = Segmenter(config)
    initial = FrameResult(args.start_frame, {}, np.zeros(first.shape[:2], np.uint16))
    for object_id, (kind, value) in zip(ids, objects):
        try:
            if kind == "mask":
                result = seg.add_object(object_id, first, mask=read_mask(value))
            else:
                result = seg.add_object(object_id, first, box=value)
        except ValueError as err:
            raise ValueError(f"object {object_id} (--{kind} {value}): {err}") from None
        initial.objects[object_id] = result
        initial.labels[result.mask] = object_id

    masks_dir = args.out / "masks"
    single = len(ids) == 1
    _save(masks_dir, args.start_frame, initial.labels, single)
    stepped, step_s = 0, 0.0
    with OverlayWriter(args.out / "overlay.mp4", source.fps) as writer:
        writer.write(draw_overlay(first, initial.objects))
        for index, frame in enumerate(frames, start=args.start_frame + 1):
            start = time.perf_counter()
            result = seg.step(frame)
            step_s += time.perf_counter() - start
            stepped += 1
            _save(masks_dir, index, result.labels, single)
            writer.write(draw_overlay(frame, result.objects))
    fps = stepped / step_s if step_s > 0 else 0.0
    print(f"masks: {masks_dir} ({stepped + 1} frames, {len(ids)} object(s))")
    print(f"overlay: {writer.path}")
    print(f"fps {fps:.2f} ({stepped} frames segmented in {step_s:.2f} s on {seg.device})")
    return 0

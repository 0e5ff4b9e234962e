"""`vos-ros segment`: frames, a video or a rosbag2 + first-frame masks/boxes -> DAVIS mask PNGs
+ overlay, or (bag in) a new bag with the node's topics (vos_ros/tools/bag_io.py)."""
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
    """Collects --mask, --box and --point into one ordered list of ("mask", path) /
    ("box", xywh) / ("points", [(x, y, 1), ...]); --negative-point adds (x, y, 0) to the
    points of the object before it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        objects = list(getattr(namespace, self.dest) or [])
        if option_string == "--negative-point":
            if not objects or objects[-1][0] != "points":
                parser.error("--negative-point belongs to the --point object before it")
            objects[-1] = ("points", objects[-1][1] + [(values[0], values[1], 0)])
        elif option_string == "--point":
            objects.append(("points", [(values[0], values[1], 1)]))
        elif option_string == "--box":
            objects.append(("box", tuple(values)))
        else:
            objects.append(("mask", values))
        setattr(namespace, self.dest, objects)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="folder of images (sorted .jpg/.png), a video file, "
                        "or a rosbag2 (folder with metadata.yaml; MCAP or sqlite3)")
    parser.add_argument("--mask", dest="objects", action=_AppendObject, type=Path, metavar="PNG",
                        help="first-frame mask of an object (nonzero = object); repeatable")
    parser.add_argument("--box", dest="objects", action=_AppendObject, type=float, nargs=4,
                        metavar=("X", "Y", "W", "H"), help="first-frame box of an object; repeatable")
    parser.add_argument("--point", dest="objects", action=_AppendObject, type=float, nargs=2,
                        metavar=("X", "Y"), help="a click on an object (the learned prompt encoder makes its first mask); "
                        "repeatable, one object each")
    parser.add_argument("--negative-point", dest="objects", action=_AppendObject, type=float, nargs=2,
                        metavar=("X", "Y"), help="a background point of the --point object before it")
    parser.add_argument("--object-id", type=int, default=1, metavar="N",
                        help="id of the first object; further objects get N+1, N+2, ... (default 1)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="output folder: masks/%%05d.png and overlay.mp4; for a bag input, the "
                        "new bag (must not exist)")
    parser.add_argument("--start-frame", type=int, default=0, metavar="K",
                        help="frame the masks/boxes refer to; segmentation starts there (default 0)")
    bag = parser.add_argument_group("rosbag2 input")
    bag.add_argument("--topic", help="image topic (sensor_msgs/Image or CompressedImage); "
                     "default: the bag's only image topic")
    bag.add_argument("--at", metavar="INDEX|STAMP", help="frame the masks/boxes refer to: index on "
                     "the topic or header stamp sec.nanosec (default: --start-frame)")
    bag.add_argument("--storage", choices=("mcap", "sqlite3"), help="storage of the output bag "
                     "(default: the input's)")
    bag.add_argument("--namespace", default="/vos", help="namespace of the output topics (default /vos)")
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


def _add_objects(seg: Segmenter, first: np.ndarray, index: int, ids: list[int],
                 objects: Sequence[tuple[str, Any]]) -> FrameResult:
    """Initialise every object on `first`; the first frame's result."""
    initial = FrameResult(index, {}, np.zeros(first.shape[:2], np.uint16))
    for object_id, (kind, value) in zip(ids, objects):
        try:
            if kind == "mask":
                result = seg.add_object(object_id, first, mask=read_mask(value))
            elif kind == "box":
                result = seg.add_object(object_id, first, box=value)
            else:
                result = seg.add_object(object_id, first, points=[(x, y) for x, y, on in value if on],
                                        negative_points=[(x, y) for x, y, on in value if not on])
        except ValueError as err:
            raise ValueError(f"object {object_id} (--{kind} {value}): {err}") from None
        initial.objects[object_id] = result
        initial.labels[result.mask] = object_id
    return initial


def _object_ids(args: argparse.Namespace) -> tuple[list[int], Sequence[tuple[str, Any]]]:
    objects: Sequence[tuple[str, Any]] = args.objects or []
    if not objects:
        raise ValueError("give at least one object: --mask PNG, --box X Y W H or --point X Y")
    ids = list(range(args.object_id, args.object_id + len(objects)))
    if ids[0] < 1 or (len(ids) > 1 and ids[-1] > MAX_PNG_ID):
        raise ValueError(f"object ids {ids[0]}..{ids[-1]} must lie in 1..{MAX_PNG_ID}")
    return ids, objects


def run_bag(args: argparse.Namespace) -> int:
    """Bag in, bag out: segmentation starts at --at (or --start-frame)."""
    from ..ros.frame_buffer import stamp_to_ns
    from . import bag_io

    ids, objects = _object_ids(args)
    config = config_from_args(args)
    kind, at = bag_io.parse_at(args.at) if args.at is not None else ("index", args.start_frame)
    storage = args.storage or bag_io.storage_of(args.input)
    frames = bag_io.read_frames(args.input, args.topic)
    first = None
    for frame in frames:
        if (frame.index == at) if kind == "index" else abs(stamp_to_ns(frame.header.stamp) - at) <= 1_000_000:
            first = frame
            break
    if first is None:
        raise ValueError(f"{args.input} has no frame {'with stamp ' + args.at if kind == 'stamp' else at}"
                         + (f" on {args.topic}" if args.topic else ""))
    seg = Segmenter(config)
    initial = _add_objects(seg, first.rgb, first.index, ids, objects)
    stepped, step_s = 0, 0.0
    with bag_io.ResultBagWriter(args.out, storage, args.namespace, seg.config.method) as writer:
        writer.write(first, initial)
        for frame in frames:
            start = time.perf_counter()
            result = seg.step(frame.rgb)
            step_s += time.perf_counter() - start
            stepped += 1
            writer.write(frame, result)
    fps = stepped / step_s if step_s > 0 else 0.0
    print(f"bag: {args.out} ({storage}, {stepped + 1} frames from index {first.index}, {len(ids)} object(s); "
          f"topics {args.namespace.rstrip('/')}/objects, /labels, /masks/object_<id>)")
    print(f"fps {fps:.2f} ({stepped} frames segmented in {step_s:.2f} s on {seg.device})")
    return 0


def run(args: argparse.Namespace) -> int:
    from . import bag_io

    if bag_io.is_bag(args.input):
        return run_bag(args)
    if args.topic or args.at is not None or args.storage:
        raise ValueError("--topic, --at and --storage need a rosbag2 input")
    ids, objects = _object_ids(args)
    config = config_from_args(args)
    configure_process(config)
    source = FrameSource(args.input)
    frames = source.frames(args.start_frame)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{args.input} has no frame {args.start_frame}")

    seg = Segmenter(config)
    initial = _add_objects(seg, first, args.start_frame, ids, objects)
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

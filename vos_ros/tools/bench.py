"""`vos-ros bench`: per-stage latency and fps for 1, 3, 5 ... objects, and memory on long runs."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.config import EngineConfig
from ..engine.session import Segmenter
from ..evaluation.davis import DavisSequence, list_sequences, load_sequence
from ..runtime import configure_process
from .config_args import add_config_arguments, config_from_args
from .video_io import read_image

SHIFT_FRACTIONS = (0.3, 0.15, 0.45)
SHIFT_DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1))
MIN_OBJECT_PIXELS = 16
RSS_EVERY = 100


def _counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"object counts must be >= 1, got {text!r}")
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="DAVIS-layout folder")
    parser.add_argument("--sequence", metavar="NAME", help="sequence to run (default: the first)")
    parser.add_argument("--objects", type=_counts, default=[1, 3, 5], metavar="1,3,5",
                        help="object counts to time (default 1,3,5)")
    parser.add_argument("--frames", type=int, default=100, metavar="N",
                        help="timed frames per object count; the sequence loops (default 100)")
    parser.add_argument("--warmup", type=int, default=10, metavar="W",
                        help="untimed frames before timing (default 10)")
    parser.add_argument("--memory-report", action="store_true",
                        help="also run --loop-frames frames with the largest object count and report "
                             f"process RSS every {RSS_EVERY} frames and the method's memory footprint")
    parser.add_argument("--loop-frames", type=int, default=1000, metavar="N",
                        help="frames of the memory run (default 1000)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    add_config_arguments(parser)


def shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`mask` moved by (dy, dx) pixels; what leaves the image is dropped (no wrap-around)."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def benchmark_objects(mask: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` distinct non-empty masks: `mask`, then copies shifted by fractions of the image."""
    h, w = mask.shape
    masks = [mask.astype(bool)]
    for fraction in SHIFT_FRACTIONS:
        for sy, sx in SHIFT_DIRECTIONS:
            if len(masks) == count:
                return masks
            candidate = shifted(masks[0], int(sy * fraction * h), int(sx * fraction * w))
            if candidate.sum() >= MIN_OBJECT_PIXELS and not any(np.array_equal(candidate, m) for m in masks):
                masks.append(candidate)
    if len(masks) < count:
        raise ValueError(f"could only make {len(masks)} distinct shifted copies of the object mask")
    return masks


def looped_frames(sequence: DavisSequence, start: int = 1) -> Iterator[tuple[float, np.ndarray]]:
    """(decode ms, RGB frame) for frames start, start+1, ..., wrapping around endlessly."""
    index = start
    while True:
        begin = time.perf_counter()
        frame = read_image(sequence.frame_paths[index % len(sequence)])
        yield (time.perf_counter() - begin) * 1000.0, frame
        index += 1


def _start_session(config: EngineConfig, sequence: DavisSequence, count: int) -> tuple[Segmenter, list[float]]:
    """A Segmenter tracking `count` objects on frame 0; the add_object time (ms) of each."""
    seg = Segmenter(config)
    first = read_image(sequence.frame_paths[0])
    init_ms = []
    for object_id, mask in enumerate(benchmark_objects(sequence.first_mask(), count), start=1):
        begin = time.perf_counter()
        seg.add_object(object_id, first, mask=mask)
        init_ms.append((time.perf_counter() - begin) * 1000.0)
    return seg, init_ms


def time_objects(config: EngineConfig, sequence: DavisSequence, count: int, frames: int,
                 warmup: int) -> dict[str, Any]:
    """Median per-frame timings with `count` objects over `frames` frames after `warmup`."""
    seg, init_ms = _start_session(config, sequence, count)
    decode, total = [], []
    stages: dict[str, list[float]] = {}
    stream = looped_frames(sequence)
    for i in range(warmup + frames):
        decode_ms, frame = next(stream)
        begin = time.perf_counter()
        result = seg.step(frame)
        step_ms = (time.perf_counter() - begin) * 1000.0
        if i < warmup:
            continue
        decode.append(decode_ms)
        total.append(step_ms)
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    median_total = statistics.median(total)
    median_backbone = statistics.median(stages["backbone"])
    return {
        "fps": 1000.0 / median_total,
        "total_ms": median_total,
        # the mean includes the frames that start an update or store a sample; the per-frame
        # ratio compares each frame's total with its own backbone time (robust to slow spells
        # of a shared machine, which stretch both)
        "mean_total_ms": statistics.fmean(total),
        "mean_backbone_ms": statistics.fmean(stages["backbone"]),
        "p95_total_ms": sorted(total)[min(len(total) - 1, round(0.95 * (len(total) - 1)))],
        "ratio_per_frame_median": statistics.median(t / b for t, b in zip(total, stages["backbone"])),
        # amortised: every frame's share of the updates counts, however they are scheduled
        "ratio_mean": statistics.fmean(total) / statistics.fmean(stages["backbone"]),
        "decode_ms": statistics.median(decode),
        "stages_ms": {s: statistics.median(v) for s, v in stages.items()},
        "ratio_total_over_backbone": median_total / median_backbone,
        "init_ms": statistics.median(init_ms),
        "device": str(seg.device),
        "resolution": list(seg.processing_size(*frame.shape[:2])),
    }


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise OSError("VmRSS not found in /proc/self/status")


def memory_run(config: EngineConfig, sequence: DavisSequence, count: int, frames: int) -> dict[str, Any]:
    """Run `frames` frames; RSS (and CUDA memory) every RSS_EVERY frames, final footprint."""
    seg, _ = _start_session(config, sequence, count)
    cuda = seg.device.type == "cuda"
    report: dict[str, Any] = {"objects": count, "frames": frames, "sampled_at": [], "rss_mb": [],
                              "footprint_items": []}
    if cuda:
        report["cuda_allocated_mb"] = []
    stream = looped_frames(sequence)
    for i in range(frames + 1):
        if i % RSS_EVERY == 0 or i == frames:
            report["sampled_at"].append(i)
            report["rss_mb"].append(round(rss_mb(), 1))
            report["footprint_items"].append(sum(seg.method.memory_footprint().values()))
            if cuda:
                report["cuda_allocated_mb"].append(round(torch.cuda.memory_allocated(seg.device) / 2**20, 1))
        if i < frames:
            seg.step(next(stream)[1])
    report["footprint"] = {str(k): v for k, v in seg.method.memory_footprint().items()}
    return report


def _print_table(runs: dict[int, dict[str, Any]]) -> None:
    stages = list(next(iter(runs.values()))["stages_ms"])
    head = ["objects", "fps", "total", "ratio", "ratio/frame", "ratio/mean", "mean", "p95", "decode",
            "init"] + stages
    print("  ".join(f"{h:>{max(7, len(h))}}" for h in head))
    for count, run_ in runs.items():
        values = [str(count), f"{run_['fps']:.2f}", f"{run_['total_ms']:.2f}",
                  f"{run_['ratio_total_over_backbone']:.2f}", f"{run_['ratio_per_frame_median']:.2f}",
                  f"{run_['ratio_mean']:.2f}",
                  f"{run_['mean_total_ms']:.2f}", f"{run_['p95_total_ms']:.2f}", f"{run_['decode_ms']:.2f}",
                  f"{run_['init_ms']:.1f}"] + [f"{run_['stages_ms'][s]:.2f}" for s in stages]
        print("  ".join(f"{v:>{max(7, len(h))}}" for v, h in zip(values, head)))
    print("(times in ms, medians unless mean/p95; fps = 1000 / median total engine ms per frame, decode "
          "excluded; ratio = median total / median backbone; ratio/frame = median over frames of "
          "total / backbone; ratio/mean = mean total / mean backbone, the amortised cost; init = "
          "add_object per object)")


def run(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.warmup < 0 or args.loop_frames < 1:
        raise ValueError("--frames and --loop-frames must be >= 1 and --warmup >= 0")
    config = config_from_args(args)
    configure_process(config)
    name = args.sequence or list_sequences(args.data)[0]
    sequence = load_sequence(args.data, name)
    if len(sequence) < 2:
        raise ValueError(f"{name}: the benchmark needs at least 2 frames")
    print(f"bench: {name} ({len(sequence)} frames), {config.method} / {config.backbone.name}, "
          f"{args.frames} frames after {args.warmup} warm-up", flush=True)

    runs = {count: time_objects(config, sequence, count, args.frames, args.warmup) for count in args.objects}
    first = next(iter(runs.values()))
    print(f"device {first['device']}, processing resolution {first['resolution'][0]}x{first['resolution'][1]}")
    _print_table(runs)
    report: dict[str, Any] = {
        key: {str(c): r[key] for c, r in runs.items()}
        for key in ("fps", "ratio_total_over_backbone", "ratio_per_frame_median", "ratio_mean", "stages_ms",
                    "total_ms",
                    "mean_total_ms", "mean_backbone_ms", "p95_total_ms", "decode_ms", "init_ms")
    }
    report.update(device=first["device"], resolution=first["resolution"], method=config.method,
                  backbone=config.backbone.name, sequence=name, frames=args.frames, warmup=args.warmup,
                  config=config.to_dict())
    if args.memory_report:
        memory = memory_run(config, sequence, max(args.objects), args.loop_frames)
        report["memory"] = memory
        print(f"memory over {memory['frames']} frames with {memory['objects']} object(s):")
        for key in ("sampled_at", "rss_mb", "cuda_allocated_mb", "footprint_items"):
            if key in memory:
                print(f"  {key:<18} {memory[key]}")
        print(f"  {'footprint':<18} {memory['footprint']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"results: {args.json}")
    return 0

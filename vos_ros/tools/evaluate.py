"""`vos-ros eval`: J, F and J&F of the engine on a DAVIS-layout dataset, plus its speed."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.config import EngineConfig
from ..engine.session import Segmenter
from ..evaluation.davis import DavisSequence, list_sequences, load_sequence, read_labels
from ..evaluation.metrics import sequence_scores, summarize
from ..runtime import configure_process
from ..evaluation.prompts import interior_point, mask_box
from .config_args import add_config_arguments, config_from_args

INIT_MODES = ("mask", "box", "click")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, metavar="DAVIS_ROOT",
                        help="DAVIS layout: JPEGImages/480p/<seq>, Annotations/480p/<seq>")
    parser.add_argument("--sequences", metavar="A,B", type=lambda s: [n for n in s.split(",") if n],
                        help="comma-separated sequence names (default: all)")
    parser.add_argument("--init", choices=INIT_MODES, default="mask",
                        help="initialise from the first-frame mask, its bounding box, or one click at "
                             "its interior point farthest from the boundary")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="only the first N frames of each sequence (N >= 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    add_config_arguments(parser)


def evaluate_sequence(config: EngineConfig, sequence: DavisSequence, init: str,
                      max_frames: int | None = None) -> dict[str, Any]:
    """Segment one sequence from its first annotation; scores, fps and init time."""
    n_frames = len(sequence) if max_frames is None else min(len(sequence), max_frames)
    scored = [(i, p) for i, p in zip(sequence.annotated_indices(), sequence.annotation_paths) if i < n_frames]
    if len(scored) < 2:
        raise ValueError(f"{sequence.name}: fewer than 2 annotated frames among the first {n_frames}")
    gts = {i: read_labels(p) for i, p in scored}
    object_ids = [int(v) for v in np.unique(gts[0]) if v != 0]
    if not object_ids:
        raise ValueError(f"{sequence.name}: the first-frame annotation has no object")

    seg = Segmenter(config)
    frames = sequence.frames()
    first = next(frames)
    start = time.perf_counter()
    for object_id in object_ids:
        mask = gts[0] == object_id
        if init == "box":
            seg.add_object(object_id, first, box=mask_box(mask))
        elif init == "click":
            seg.add_object(object_id, first, points=[interior_point(mask)])
        else:
            seg.add_object(object_id, first, mask=mask)
    init_ms = (time.perf_counter() - start) * 1000.0

    preds = {0: gts[0]}
    step_s = 0.0
    for index, frame in zip(range(1, n_frames), frames):
        start = time.perf_counter()
        result = seg.step(frame)
        step_s += time.perf_counter() - start
        if index in gts:
            preds[index] = result.labels
    scores = sequence_scores([preds[i] for i, _ in scored], [gts[i] for i, _ in scored])
    stepped = n_frames - 1
    return {"J": scores["J"], "F": scores["F"], "JF": scores["JF"],
            "fps": stepped / step_s, "frames": stepped, "init_ms": init_ms}


def run(args: argparse.Namespace) -> int:
    if args.max_frames is not None and args.max_frames < 2:
        raise ValueError("--max-frames must be at least 2 (frame 0 is the given annotation)")
    config = config_from_args(args)
    configure_process(config)
    names = args.sequences or list_sequences(args.root)
    sequences = [load_sequence(args.root, name) for name in names]

    row = "{:<24} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9}"
    per_sequence: dict[str, dict[str, Any]] = {}
    for sequence in sequences:
        res = evaluate_sequence(config, sequence, args.init, args.max_frames)
        if not per_sequence:
            print(row.format("sequence", "frames", "J", "F", "J&F", "fps", "init_ms"))
        per_sequence[sequence.name] = res
        print(row.format(sequence.name, res["frames"], f"{res['J']:.4f}", f"{res['F']:.4f}",
                         f"{res['JF']:.4f}", f"{res['fps']:.2f}", f"{res['init_ms']:.1f}"), flush=True)
    summary = summarize(per_sequence)
    frames = sum(r["frames"] for r in per_sequence.values())
    fps = frames / sum(r["frames"] / r["fps"] for r in per_sequence.values())
    print(row.format("mean", frames, f"{summary['J']:.4f}", f"{summary['F']:.4f}",
                     f"{summary['JF']:.4f}", f"{fps:.2f}", ""))
    if args.json:
        report = {"J": summary["J"], "F": summary["F"], "JF": summary["JF"], "fps": fps,
                  "per_sequence": per_sequence, "config": config.to_dict(), "init": args.init}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"results: {args.json}")
    print(f"J&F {summary['JF']:.4f}")
    return 0

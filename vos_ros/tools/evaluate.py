"""`vos-ros eval`: J, F and J&F of the engine on a DAVIS-layout dataset, plus its speed;
`--mosaic K` and `--absence N` evaluate on clips made from it (evaluation/clips.py)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.config import EngineConfig
from ..engine.session import Segmenter
from ..evaluation.clips import Clip, absence_clip, mosaic_clip, mosaic_groups, sequence_clip
from ..evaluation.davis import list_sequences, load_sequence
from ..engine.pipeline.results import FrameResult, ObjectResult
from ..evaluation.metrics import boundary_f_measure, region_similarity, sequence_scores, summarize
from ..runtime import configure_process
from ..evaluation.prompts import interior_point, mask_box
from ..evaluation.visibility import absence_report, summarize_absence
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
    parser.add_argument("--per-frame", action="store_true",
                        help="also write each object's J, F, score and visible flag per scored frame "
                             "to the JSON (for score calibration and matched comparisons)")
    bench = parser.add_mutually_exclusive_group()
    bench.add_argument("--mosaic", type=int, metavar="K",
                       help="evaluate on mosaics of K sequences (4 = 2x2, each tile shrunk to half size, "
                            "one object per tile), grouped by length")
    bench.add_argument("--absence", type=int, metavar="N",
                       help="splice N frames of the next sequence in after the first third of each "
                            "sequence (empty truth) and report the visibility flag")
    add_config_arguments(parser)


def evaluate_clip(config: EngineConfig, clip: Clip, init: str, per_frame: bool = False) -> dict[str, Any]:
    """Segment one clip from its first annotation; scores, fps and init time (and, for a
    clip with absent frames, the visibility report; with `per_frame`, each object's
    per-frame record)."""
    scored = clip.scored
    if len(scored) < 2:
        raise ValueError(f"{clip.name}: fewer than 2 annotated frames among the first {clip.n_frames}")
    gts = clip.truth
    object_ids = clip.object_ids()
    if not object_ids:
        raise ValueError(f"{clip.name}: the first-frame annotation has no object")

    seg = Segmenter(config)
    frames = clip.frames()
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
    visible = [{i: True for i in object_ids}]
    record = {i: {"J": [], "F": [], "score": [], "visible": []} for i in object_ids}
    step_s = 0.0
    for index, frame in zip(range(1, clip.n_frames), frames):
        start = time.perf_counter()
        result = seg.step(frame)
        step_s += time.perf_counter() - start
        visible.append({i: i in result.objects and result.objects[i].visible for i in object_ids})
        if index in gts:
            preds[index] = result.labels
            if per_frame:
                _record(record, result, gts[index])
    scores = sequence_scores([preds[i] for i in scored], [gts[i] for i in scored])
    stepped = clip.n_frames - 1
    out = {"J": scores["J"], "F": scores["F"], "JF": scores["JF"],
           "fps": stepped / step_s, "frames": stepped, "init_ms": init_ms}
    if per_frame:
        out["per_frame"] = {"frames": scored[1:], "objects": {str(i): r for i, r in record.items()}}
    if len(clip.absent):
        present = [k for k, i in enumerate(scored[1:]) if i not in clip.absent]
        j = float(np.mean([scores["J_per_frame"][k] for k in present]))
        f = float(np.mean([scores["F_per_frame"][k] for k in present]))
        out.update({"J_present": j, "F_present": f, "JF_present": (j + f) / 2},
                   **absence_report(visible, clip.absent, scored[1:], scores["J_per_frame"]))
    return out


def _record(record: dict[int, dict[str, list]], result: FrameResult, truth: np.ndarray) -> None:
    """Append each object's J, F, score and visible flag of one scored frame."""
    for object_id, rec in record.items():
        obj = result.objects.get(object_id) or ObjectResult.hidden(object_id, truth.shape, 0.0)
        rec["J"].append(region_similarity(obj.mask, truth == object_id))
        rec["F"].append(boundary_f_measure(obj.mask, truth == object_id))
        rec["score"].append(obj.score)
        rec["visible"].append(bool(obj.visible))


def _clips(args: argparse.Namespace) -> list[Clip]:
    """The clips the options ask for, from the dataset's sequences."""
    names = args.sequences or list_sequences(args.root)
    sequences = [load_sequence(args.root, name) for name in names]
    if args.mosaic is not None:
        groups = mosaic_groups(names, [len(s) for s in sequences], args.mosaic)
        by_name = dict(zip(names, sequences))
        return [mosaic_clip([by_name[n] for n in group], args.max_frames) for group in groups]
    if args.absence is not None:
        if len(sequences) < 2:
            raise ValueError("--absence needs at least 2 sequences (the foreign frames come from the next one)")
        return [absence_clip(s, sequences[(k + 1) % len(sequences)], args.absence, args.max_frames)
                for k, s in enumerate(sequences)]
    return [sequence_clip(s, args.max_frames) for s in sequences]


def run(args: argparse.Namespace) -> int:
    if args.max_frames is not None and args.max_frames < 2:
        raise ValueError("--max-frames must be at least 2 (frame 0 is the given annotation)")
    config = config_from_args(args)
    configure_process(config)
    clips = _clips(args)

    row = "{:<24} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9}"
    per_sequence: dict[str, dict[str, Any]] = {}
    for clip in clips:
        res = evaluate_clip(config, clip, args.init, args.per_frame)
        if not per_sequence:
            print(row.format("sequence", "frames", "J", "F", "J&F", "fps", "init_ms"))
        per_sequence[clip.name] = res
        print(row.format(clip.name, res["frames"], f"{res['J']:.4f}", f"{res['F']:.4f}",
                         f"{res['JF']:.4f}", f"{res['fps']:.2f}", f"{res['init_ms']:.1f}"), flush=True)
    summary = summarize(per_sequence)
    frames = sum(r["frames"] for r in per_sequence.values())
    fps = frames / sum(r["frames"] / r["fps"] for r in per_sequence.values())
    print(row.format("mean", frames, f"{summary['J']:.4f}", f"{summary['F']:.4f}",
                     f"{summary['JF']:.4f}", f"{fps:.2f}", ""))
    if args.json:
        report = {"J": summary["J"], "F": summary["F"], "JF": summary["JF"], "fps": fps,
                  "per_sequence": per_sequence, "config": config.to_dict(), "init": args.init}
        if args.mosaic is not None:
            report["mosaic"] = args.mosaic
        if args.absence is not None:
            report.update(absence=args.absence, **_absence_summary(per_sequence))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"results: {args.json}")
    if args.absence is not None:
        print(" ".join(f"{k} {v:.4f}" for k, v in _absence_summary(per_sequence).items() if v is not None))
    print(f"J&F {summary['JF']:.4f}")
    return 0


def _absence_summary(per_sequence: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Dataset means of the present-frame scores and of the visibility report."""
    means = {k: float(np.mean([r[k] for r in per_sequence.values()])) for k in ("J_present", "F_present")}
    means["JF_present"] = (means["J_present"] + means["F_present"]) / 2
    return {**means, **summarize_absence(list(per_sequence.values()))}

#!/usr/bin/env python3
"""First-mask quality of box or click initialisation: IoU of the mask `add_object` makes
with the ground truth, from the ground truth's bounding box (`--prompt box`) or one click at
its interior point farthest from the boundary (`--prompt click`), on frames 0, N/3 and 2N/3
of every sequence of a DAVIS-layout folder.

    .venv/bin/python scripts/measure_box_init.py ../shared/data/davis2016-dev [--prompt click]
        [--box-init clusters|prompt_encoder]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from vos_ros.engine.config import BOX_INIT_METHODS, EngineConfig
from vos_ros.engine.session import Segmenter
from vos_ros.evaluation.davis import list_sequences, load_sequence, read_labels
from vos_ros.runtime import configure_process
from vos_ros.evaluation.prompts import interior_point, mask_box


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("davis", type=Path)
    parser.add_argument("--prompt", choices=("box", "click"), default="box")
    parser.add_argument("--prompt-encoder", help="shipped, none or a weight file (default: the engine default)")
    parser.add_argument("--decoder", help="shipped, none or a weight file (default: the engine default)")
    parser.add_argument("--box-init", choices=BOX_INIT_METHODS, default=BOX_INIT_METHODS[0],
                        help="how a box becomes the first mask")
    args = parser.parse_args()
    learned = {k: v for k, v in (("prompt_encoder", args.prompt_encoder), ("decoder", args.decoder)) if v}
    config = EngineConfig(method="visual_words", threads=2).replace(**{"box_init.method": args.box_init}, **learned)
    configure_process(config)
    seg = Segmenter(config)
    ious, times = [], []
    for name in list_sequences(args.davis):
        sequence = load_sequence(args.davis, name)
        row = []
        annotated = sequence.annotated_indices()
        for k in (0, len(annotated) // 3, 2 * len(annotated) // 3):
            index = annotated[k]
            bgr = cv2.imread(str(sequence.frame_paths[index]), cv2.IMREAD_COLOR)
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            truth = read_labels(sequence.annotation_paths[k]) != 0
            start = time.perf_counter()
            try:
                if args.prompt == "box":
                    mask = seg.add_object(1, frame, box=mask_box(truth)).mask
                else:
                    mask = seg.add_object(1, frame, points=[interior_point(truth)]).mask
            except ValueError as err:  # e.g. clicks that give an empty mask: IoU 0
                print(f"{name}: frame {index}: {err}")
                mask = np.zeros_like(truth)
            times.append(time.perf_counter() - start)
            seg.reset()
            row.append(float((mask & truth).sum() / max(1, (mask | truth).sum())))
        ious += row
        print(f"{name:24s} " + " ".join(f"{v:.3f}" for v in row))
    how = f"box_init {args.box_init}" if args.prompt == "box" else f"prompt encoder {config.prompt_encoder}"
    print(f"{args.prompt} via {how}: mean IoU {np.mean(ious):.3f} over {len(ious)} boxes "
          f"(first frames {np.mean(ious[::3]):.3f}); median add_object {1000 * np.median(times):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

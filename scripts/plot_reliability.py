"""Reliability plot of the calibrated object score: predicted score against the measured
IoU (J) of the same mask, from `vos-ros eval --per-frame --json` reports. Drawn with
OpenCV (no plotting library needed); prints the binned table too.

    python scripts/plot_reliability.py --out docs/reliability.png \
        --curve "frtm dev" out/a.json --curve "frtm train" out/b.json ...
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

BINS = np.linspace(0.0, 1.0, 11)
COLOURS = [(200, 80, 30), (30, 140, 230), (40, 170, 60), (150, 60, 180), (20, 20, 200), (120, 120, 0)]


def score_iou_pairs(report: dict) -> tuple[np.ndarray, np.ndarray]:
    """(score, J) of every object on every scored frame where it was reported visible."""
    scores, ious = [], []
    for seq in report["per_sequence"].values():
        for obj in seq["per_frame"]["objects"].values():
            for s, j, v in zip(obj["score"], obj["J"], obj["visible"]):
                if v:
                    scores.append(s)
                    ious.append(j)
    return np.array(scores), np.array(ious)


def binned(scores: np.ndarray, ious: np.ndarray) -> list[tuple[float, float, int]]:
    """(mean score, mean IoU, count) per score bin with data."""
    out = []
    index = np.clip(np.digitize(scores, BINS) - 1, 0, len(BINS) - 2)
    for b in range(len(BINS) - 1):
        sel = index == b
        if sel.any():
            out.append((float(scores[sel].mean()), float(ious[sel].mean()), int(sel.sum())))
    return out


def draw(curves: list[tuple[str, list[tuple[float, float, int]]]], path: Path, size: int = 560) -> None:
    margin, legend = 60, 22
    img = np.full((size + legend * len(curves), size, 3), 255, np.uint8)
    x0, y0, side = margin, size - margin, size - 2 * margin

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(x0 + x * side), int(y0 - y * side)

    for t in np.linspace(0, 1, 6):
        cv2.line(img, pt(t, 0), pt(t, 1), (225, 225, 225), 1)
        cv2.line(img, pt(0, t), pt(1, t), (225, 225, 225), 1)
        cv2.putText(img, f"{t:.1f}", (pt(t, 0)[0] - 10, y0 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{t:.1f}", (x0 - 32, pt(0, t)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.rectangle(img, pt(0, 1), pt(1, 0), (0, 0, 0), 1)
    cv2.line(img, pt(0, 0), pt(1, 1), (120, 120, 120), 1, cv2.LINE_AA)
    cv2.putText(img, "predicted score (calibrated)", (x0 + side // 2 - 110, y0 + 40),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "measured IoU", (8, margin - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    for k, (name, points) in enumerate(curves):
        colour = COLOURS[k % len(COLOURS)]
        pts = [pt(s, j) for s, j, _ in points]
        for a, b in zip(pts, pts[1:]):
            cv2.line(img, a, b, colour, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 4, colour, -1, cv2.LINE_AA)
        y = size + legend * k + 14
        cv2.line(img, (x0, y - 4), (x0 + 30, y - 4), colour, 2)
        n = sum(c for _, _, c in points)
        cv2.putText(img, f"{name} ({n} masks)", (x0 + 40, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img[..., ::-1].copy()):
        raise OSError(f"could not write {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curve", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    curves = []
    for name, path in args.curve:
        scores, ious = score_iou_pairs(json.loads(Path(path).read_text()))
        points = binned(scores, ious)
        curves.append((name, points))
        gap = np.average([abs(s - j) for s, j, _ in points], weights=[c for *_, c in points])
        print(f"{name}: " + "  ".join(f"{s:.2f}->{j:.2f} ({c})" for s, j, c in points)
              + f"  | mean |score - IoU| {gap:.3f}")
    draw(curves, args.out)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

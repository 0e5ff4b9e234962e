"""The visibility flag against a clip with spliced absent frames: how often an absent
object is reported not visible, how soon it is reported visible again after its return,
and how good its masks are then."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: frames after the return over which the J "back" is averaged
FRAMES_BACK = 10


def absence_report(visible: Sequence[dict[int, bool]], absent: range, scored: Sequence[int],
                   j_per_frame: Sequence[float]) -> dict[str, Any]:
    """`visible[i][id]`: the flag of each object in frame i (frame 0 = the given one);
    `absent`: the spliced frames; `scored`/`j_per_frame`: the scored frame indices after
    frame 0 and their J. Returns the share of (absent frame, object) pairs reported not
    visible, per object the frames from the return until it is first reported visible
    (0 = on the first frame back; None = never), and the mean J of the first
    `FRAMES_BACK` frames back."""
    if not len(absent):
        raise ValueError("the clip has no absent frames")
    ids = sorted(visible[0])
    hidden = [not visible[i][k] for i in absent for k in ids]
    back = {}
    for k in ids:
        later = [i - absent.stop for i in range(absent.stop, len(visible)) if visible[i][k]]
        back[k] = later[0] if later else None
    j_back = [j for i, j in zip(scored, j_per_frame) if absent.stop <= i < absent.stop + FRAMES_BACK]
    return {"absent_frames": len(absent), "absent_hidden": float(np.mean(hidden)),
            "frames_to_visible": {str(k): v for k, v in back.items()},
            "J_back": float(np.mean(j_back)) if j_back else None}


def summarize_absence(reports: Sequence[dict[str, Any]], within: int = 5) -> dict[str, Any]:
    """Over sequences: mean share of absent frames reported not visible, the share of
    sequences whose every object is reported visible on one of the first `within` frames
    back,
    and the mean J of the frames back."""
    if not reports:
        raise ValueError("no absence reports to summarize")
    def back_in_time(report: dict[str, Any]) -> bool:
        return all(v is not None and v < within for v in report["frames_to_visible"].values())
    j_back = [r["J_back"] for r in reports if r["J_back"] is not None]
    return {"absent_hidden": float(np.mean([r["absent_hidden"] for r in reports])),
            f"visible_within_{within}": float(np.mean([back_in_time(r) for r in reports])),
            "J_back": float(np.mean(j_back)) if j_back else None}

#!/usr/bin/env python3
"""e-OSVOS first-frame fine-tuning time per object: for each sequence of a DAVIS-layout
folder and each T, the wall time of the method's T SGD steps on the first frame (and of the
whole `add_object`, backbone included), at the frames' native size (480x854 for DAVIS).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/measure_eosvos_init.py ../shared/data/davis2016-dev \
        [--iterations 10,50,100] [--set eosvos.weights=none]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.session import Segmenter
from vos_ros.evaluation.davis import list_sequences, load_sequence
from vos_ros.runtime import configure_process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("davis", type=Path)
    parser.add_argument("--iterations", default="10,50,100", help="values of T (eosvos.iterations)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="engine override")
    args = parser.parse_args()
    overrides = {k: yaml.safe_load(v) for k, _, v in (s.partition("=") for s in args.set)}
    config = EngineConfig(method="eosvos", resolution=0, threads=1).replace(**overrides)
    configure_process(config)
    firsts = []
    for name in list_sequences(args.davis):
        seq = load_sequence(args.davis, name)
        firsts.append((name, next(iter(seq.frames())), next(iter(seq.annotations())) != 0))
    print("| T | " + " | ".join(n for n, _, _ in firsts) + " | mean fine-tuning s | mean add_object s |")
    print("|---" * (len(firsts) + 3) + "|")
    for steps in (int(v) for v in args.iterations.split(",")):
        seg = Segmenter(config.replace(**{"eosvos.iterations": steps}))
        seg.add_object(1, firsts[0][1], mask=firsts[0][2])  # warm-up (allocations, first calls)
        fits, adds = [], []
        for _, frame, mask in firsts:
            seg.reset()
            t0 = time.perf_counter()
            seg.add_object(1, frame, mask=mask)
            adds.append(time.perf_counter() - t0)
            fits.append(seg.method.last_fit_seconds)
        size = f"{firsts[0][1].shape[0]}x{firsts[0][1].shape[1]}"
        print(f"| {steps} ({size}) | " + " | ".join(f"{f:.3f}" for f in fits)
              + f" | {np.mean(fits):.3f} | {np.mean(adds):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

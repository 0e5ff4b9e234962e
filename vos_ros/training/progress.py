"""A dependency-free progress bar: redraws one line on a terminal, prints lines otherwise."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, start: int = 0, every: int = 25, stream=None):
        self.total, self.label, self.count = total, label, start
        self.every = every
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0, self.start = time.perf_counter(), start

    def update(self, count: int, **values: float) -> None:
        self.count = count
        if not self.tty and count % self.every and count != self.total:
            return
        done = count / max(1, self.total)
        rate = (count - self.start) / max(1e-9, time.perf_counter() - self.t0)
        eta = (self.total - count) / rate if rate > 0 else float("inf")
        bar = "#" * int(28 * done) + "-" * (28 - int(28 * done))
        text = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        line = f"{self.label} [{bar}] {count}/{self.total} {text} {rate:.2f} it/s eta {eta / 60:.1f} min"
        if self.tty:
            self.stream.write("\r" + line[:160])
            if count == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(("\n" if self.tty else "") + f"{self.label}: {text}\n")
        self.stream.flush()

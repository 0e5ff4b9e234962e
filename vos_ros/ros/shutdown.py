"""SIGINT/SIGTERM handling of the node's process: a request to stop, never an exception.

rclpy's own handler turns SIGINT into KeyboardInterrupt, which a second SIGINT (launch
forwards SIGINT to the node and the terminal or `kill -INT -PGID` sends it to the whole
group too) raises again in the middle of the clean-up: traceback, exit -2, or -6 when the
process then exits with C++ threads still running. Here every SIGINT/SIGTERM only sets an
event that the spin loop polls; the first one also starts a watchdog that ends the process
with status 0 if the clean-up has not finished within `grace_s` (a frame or an
initialisation that runs longer), inside launch's 5 s grace before SIGTERM/SIGKILL.

Light on purpose (no rclpy, no torch): entry points install it before the heavy imports, so
a signal during start-up is a clean stop as well.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
DEFAULT_GRACE_S = 4.0

_installed: "ShutdownRequest | None" = None


class ShutdownRequest:
    """Set by the first SIGINT/SIGTERM; `received` lists the signals in order."""

    def __init__(self, grace_s: float = DEFAULT_GRACE_S):
        self.grace_s = float(grace_s)
        self.received: list[int] = []
        self._event = threading.Event()
        self._finished = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def request(self, signum: int = 0) -> None:
        """What a signal does (also callable directly)."""
        self.received.append(signum)
        self._event.set()
        if self._watchdog is None and self.grace_s > 0:
            self._watchdog = threading.Thread(target=self._watch, name="vos_shutdown_watchdog", daemon=True)
            self._watchdog.start()

    def finished(self) -> None:
        """The clean-up is done: the watchdog stands down, and further SIGINT/SIGTERM are
        ignored (Python's finalisation resets handlers, not SIG_IGN, to the default action,
        which would end a process that is already exiting with -2 / -15)."""
        self._finished.set()
        if self is _installed and threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                signal.signal(sig, signal.SIG_IGN)

    def _watch(self) -> None:
        if not self._finished.wait(self.grace_s):
            try:
                sys.stderr.write(f"[vos_node] clean-up took more than {self.grace_s:.1f} s after "
                                 "the stop signal: exiting now\n")
                sys.stderr.flush()
                sys.stdout.flush()
            finally:
                os._exit(0)

    def _handler(self, signum: int, _frame) -> None:
        self.request(signum)


def install(grace_s: float = DEFAULT_GRACE_S) -> ShutdownRequest:
    """Install the handlers for SIGINT and SIGTERM (once per process; the main thread only)
    and return the process's ShutdownRequest."""
    global _installed
    if _installed is None:
        _installed = ShutdownRequest(grace_s)
        for sig in SIGNALS:
            signal.signal(sig, _installed._handler)
    return _installed


def installed() -> "ShutdownRequest | None":
    return _installed

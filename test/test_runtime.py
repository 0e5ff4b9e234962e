"""Process-wide settings applied by the entry points."""
import sys

import torch

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.session import Segmenter
from vos_ros.runtime import GIL_SWITCH_INTERVAL_S, configure_process, retain_freed_heap


def test_retaining_the_heap_applies_on_linux_and_is_idempotent():
    first, second = retain_freed_heap(), retain_freed_heap()
    assert first == second == sys.platform.startswith("linux")


def test_the_session_leaves_process_settings_alone_and_configure_process_applies_them():
    threads, interval = torch.get_num_threads(), sys.getswitchinterval()
    config = EngineConfig(device="cpu", resolution=64, threads=1)
    try:
        Segmenter(config)
        assert torch.get_num_threads() == threads and sys.getswitchinterval() == interval
        configure_process(config)
        assert torch.get_num_threads() == 1 and sys.getswitchinterval() == interval
        configure_process(config, node=True)
        assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
    finally:
        torch.set_num_threads(threads)
        sys.setswitchinterval(interval)

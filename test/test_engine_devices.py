"""Device selection and the allocator setting."""
import sys

import pytest
import torch

from vos_ros.engine.devices import resolve_device
from vos_ros.runtime import retain_freed_heap


def test_auto_falls_back_to_cpu_and_cuda_must_exist():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def test_retaining_the_heap_applies_on_linux_and_is_idempotent():
    first, second = retain_freed_heap(), retain_freed_heap()
    assert first == second == sys.platform.startswith("linux")

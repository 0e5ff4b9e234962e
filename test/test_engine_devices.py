"""Device selection."""
import pytest
import torch

from vos_ros.engine.devices import resolve_device


def test_auto_falls_back_to_cpu_and_cuda_must_exist():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


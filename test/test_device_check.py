"""scripts/device_check.sh where no GPU is: argument handling, the dry run's steps, the
clear stop without CUDA; and its guided-filter shim against the real cv2.ximgproc."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO

SCRIPT = REPO / "scripts" / "device_check.sh"


def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=str(REPO), env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_usage_errors():
    for args in ((), ("a", "b"), ("--bogus", "out"), ("out", "--data")):
        done = run(*args)
        assert done.returncode == 2 and "usage:" in done.stderr, args


def test_dry_run_lists_the_steps(tmp_path):
    done = run(str(tmp_path / "out"), "--data", str(tmp_path / "davis"), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert len(lines) == 5 and "-m pytest" in lines[0]
    test_files = [w for w in lines[0].split() if w.startswith("test/")]
    assert test_files and all((REPO / f).is_file() for f in test_files), test_files
    for line, prec in zip(lines[1:4], ("fp32", "fp16", "bf16")):
        assert "-m vos_ros bench" in line and "--device cuda --resolution 480 --objects 1,3,5" in line
        assert f"--set precision={prec} --json {tmp_path}/out/bench_{prec}.json" in line
    assert "-m vos_ros eval" in lines[4] and f"--json {tmp_path}/out/eval.json" in lines[4]
    assert "run --prepare" in done.stdout  # the data folder is missing
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available(),
                    reason="a CUDA device is present")
def test_without_cuda_it_stops_clearly(tmp_path):
    done = run(str(tmp_path / "out"))
    assert done.returncode == 3
    assert "no CUDA device here" in done.stderr and "--dry-run" in done.stderr
    assert not (tmp_path / "out").exists()


def test_ximgproc_shim_matches_opencv_contrib(bikes_frames):
    if not hasattr(cv2, "ximgproc"):
        pytest.skip("no cv2.ximgproc to compare with")
    spec = importlib.util.spec_from_file_location("ximgproc_shim", REPO / "scripts" / "device_check" / "ximgproc_shim.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    colour = bikes_frames[0].astype(np.float32) / 255
    grey = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(0)
    src = cv2.GaussianBlur(rng.random(grey.shape).astype(np.float32), (0, 0), 5)
    for guide in (grey, colour, np.ascontiguousarray(colour[40:200, 100:300])):
        for radius, eps in ((4, 1e-3), (8, 1e-2)):
            p = np.ascontiguousarray(src[:guide.shape[0], :guide.shape[1]])
            want = cv2.ximgproc.guidedFilter(guide, p, radius, eps)
            got = shim.guidedFilter(guide, p, radius, eps)
            again = shim.createGuidedFilter(guide, radius, eps).filter(p)
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_array_equal(got, again)
            diff = np.abs(got - want)
            if guide.ndim == 2:
                assert diff.max() < 1e-5
            else:  # OpenCV's colour variant differs slightly (measured: mean 3e-4, max 0.011)
                assert diff.mean() < 1e-3 and diff.max() < 0.02

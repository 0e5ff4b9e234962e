"""`vos-ros bench` on a tiny synthetic DAVIS layout, and its extra-object masks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_tools_evaluate import make_davis
from vos_ros.cli import main
from vos_ros.tools.bench import benchmark_objects, shifted

FAST = ["--resolution", "0", "--device", "cpu"]
STAGES = {"preprocess", "backbone", "target_model", "refine", "aggregation", "memory_update"}


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_davis(tmp_path_factory.mktemp("davis"), {"disc": 1}, n_frames=3)


def test_bench_json(davis_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bench.json"
    # 3 timed frames after 1 warm-up on a 3-frame sequence: the sequence loops
    code = main(["bench", "--data", str(davis_root), "--frames", "3", "--warmup", "1", "--objects", "1,2",
                 "--json", str(path)] + FAST)
    assert code == 0
    report = json.loads(path.read_text())
    for key in ("fps", "ratio_total_over_backbone", "ratio_per_frame_median", "ratio_mean", "stages_ms", "init_ms",
                "decode_ms", "total_ms", "mean_total_ms", "mean_backbone_ms", "p95_total_ms"):
        assert set(report[key]) == {"1", "2"}, key
    for count in ("1", "2"):
        assert report["fps"][count] > 0
        assert report["ratio_total_over_backbone"][count] >= 1.0
        assert set(report["stages_ms"][count]) == STAGES
        assert report["fps"][count] == pytest.approx(1000.0 / report["total_ms"][count])
        assert report["total_ms"][count] >= sum(report["stages_ms"][count].values()) * 0.99
        assert report["ratio_per_frame_median"][count] >= 1.0
        assert report["ratio_mean"][count] >= 1.0
        assert report["ratio_mean"][count] == pytest.approx(
            report["mean_total_ms"][count] / report["mean_backbone_ms"][count])
        assert report["p95_total_ms"][count] >= report["total_ms"][count]
    assert report["device"] == "cpu" and report["resolution"] == [120, 160]
    assert report["method"] == "frtm" and report["backbone"] == "efficientnet_lite0"
    assert "memory" not in report
    out = capsys.readouterr().out
    assert "fps" in out and "backbone" in out


def test_bench_memory_report(davis_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    code = main(["bench", "--data", str(davis_root), "--sequence", "disc", "--frames", "1", "--warmup", "0",
                 "--objects", "1", "--memory-report", "--loop-frames", "5", "--json", str(path)] + FAST)
    assert code == 0
    memory = json.loads(path.read_text())["memory"]
    assert memory["sampled_at"] == [0, 5]
    assert len(memory["rss_mb"]) == 2 and all(v > 0 for v in memory["rss_mb"])
    assert set(memory["footprint"]) == {"1"} and memory["footprint"]["1"] > 0


def test_bench_bad_counts(davis_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--data", str(davis_root), "--objects", "0,2"]) == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_shifted_does_not_wrap() -> None:
    mask = np.zeros((10, 20), bool)
    mask[2:5, 15:19] = True
    moved = shifted(mask, 3, 4)
    assert moved[5:8, 19].all() and moved.sum() == 3 * 1  # the part past the right edge is dropped
    assert np.array_equal(shifted(mask, 0, 0), mask)


def test_benchmark_objects_distinct_and_inside() -> None:
    mask = np.zeros((120, 160), bool)
    mask[80:110, 120:150] = True  # near a corner, so some shifts leave the image
    masks = benchmark_objects(mask, 5)
    assert len(masks) == 5 and np.array_equal(masks[0], mask)
    for i, m in enumerate(masks):
        assert m.shape == mask.shape and m.dtype == bool and m.sum() >= 16
        assert not any(np.array_equal(m, other) for other in masks[:i])
    tiny = np.zeros((120, 160), bool)
    tiny[60:63, 80:83] = True  # every shifted copy has fewer than 16 pixels
    with pytest.raises(ValueError, match="distinct"):
        benchmark_objects(tiny, 2)

"""The main job end to end: node process + clip over DDS on loopback.

conftest.py sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, a temp ROS_LOG_DIR and a random
ROS_DOMAIN_ID in os.environ before anything imports rclpy; the demo passes that environment
to the node process it starts.
"""
import json
import shutil
from pathlib import Path

import pytest

from vos_ros.tools.demo import main

DAVIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"


def test_demo_clip_mode_tracks_the_cyclist(tmp_path):
    assert main(["--out", str(tmp_path), "--frames", "12", "--rate", "5", "--resolution", "136"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_sent"] == 11 and summary["frames_with_results"] >= 6
    # default QoS (best_effort) + the shipped transport profile: the node gets every frame
    assert summary["frames_received_by_node"] == summary["frames_published"]
    assert summary["visible_fraction"] > 0.5
    assert summary["object_ids"] == [1] and summary["visible_fraction_per_object"]["1"] > 0.5
    assert summary["frames_dropped"] == summary["frames_sent"] - summary["frames_with_results"]
    assert summary["latency_ms_median"] > 0
    assert Path(summary["overlay"]).stat().st_size > 1000


def test_demo_davis_mode_prints_j_and_f(tmp_path, capsys):
    if not DAVIS.is_dir():
        pytest.skip(f"DAVIS dev data not found at {DAVIS}")
    root = tmp_path / "davis"
    for kind, ext in (("JPEGImages", "jpg"), ("Annotations", "png")):
        dst = root / kind / "480p" / "blackswan"
        dst.mkdir(parents=True)
        for i in range(6):
            shutil.copy(DAVIS / kind / "480p" / "blackswan" / f"{i:05d}.{ext}", dst)
    assert main(["--out", str(tmp_path / "out"), "--davis", str(root), "--resolution", "240"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("J&F ") and float(lines[-1].split()[1]) > 0.7
    assert any(line.startswith("blackswan") and "missing 0" in line for line in lines)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames_scored"] == 5 and summary["frames_missing"] == 0


def test_demo_reports_a_node_that_does_not_come_up(tmp_path, capsys):
    # 0.5 s is far less than the node needs to build its engine: status 1, a clear message,
    # and the node process is stopped (main returns only after NodeProcess.stop)
    assert main(["--out", str(tmp_path), "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "the node did not start" in err and "node.log" in err

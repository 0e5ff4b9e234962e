"""The main job end to end: node process + clip over DDS on loopback (env set in conftest)."""
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
    assert summary["visible_fraction"] > 0.5
    assert summary["latency_ms_median"] > 0
    assert Path(summary["overlay"]).stat().st_size > 1000


def test_demo_davis_mode_prints_j_and_f(tmp_path, capsys):
    if not DAVIS.is_dir():
        pytest.skip(f"DAVIS dev data not found at {DAVIS}")
    root = tmp_path / "davis"
    for kind, ext in (("JPEGImages", "jpg"), ("Annotations", "png")):
        dst = root / kind / "480p" / "blackswan"
        dst.mkdir(parents=True)
        for i in range(5):
            shutil.copy(DAVIS / kind / "480p" / "blackswan" / f"{i:05d}.{ext}", dst)
    assert main(["--out", str(tmp_path / "out"), "--davis", str(root), "--resolution", "240"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("J&F ") and float(last.split()[1]) > 0.7

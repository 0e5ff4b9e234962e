"""`vos-ros eval` on a tiny DAVIS layout built from the synthetic disc clips."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from test_tools_segment import disc_clip
from vos_ros.cli import main
from vos_ros.engine.pipeline.results import FrameResult
from vos_ros.engine.session import Segmenter
from vos_ros.evaluation.davis import write_mask_png

FAST = ["--resolution", "0", "--device", "cpu"]
SEQUENCE_KEYS = {"J", "F", "JF", "fps", "frames", "init_ms"}


def make_davis(root: Path, sequences: dict[str, int], n_frames: int = 5) -> Path:
    """DAVIS layout with one disc clip per sequence name (value: number of discs)."""
    for seed, (name, discs) in enumerate(sequences.items()):
        frames, labels = disc_clip(n_frames, discs=discs, seed=seed)
        for i, (frame, label) in enumerate(zip(frames, labels)):
            path = root / "JPEGImages/480p" / name / f"{i:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            write_mask_png(root / "Annotations/480p" / name / f"{i:05d}.png", label)
    return root


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_davis(tmp_path_factory.mktemp("davis"), {"disc": 1, "two-discs": 2})


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_eval_json_and_last_line(davis_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "eval.json"
    assert main(["eval", str(davis_root), "--json", str(report_path)] + FAST) == 0
    out = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert re.fullmatch(r"J&F \d\.\d{4}", last_line(out))
    assert last_line(out) == f"J&F {report['JF']:.4f}"
    assert set(report) >= {"J", "F", "JF", "fps", "per_sequence", "config", "init"}
    assert report["init"] == "mask" and report["config"]["resolution"] == 0
    assert set(report["per_sequence"]) == {"disc", "two-discs"}
    for scores in report["per_sequence"].values():
        assert set(scores) == SEQUENCE_KEYS
        assert 0.0 <= scores["J"] <= 1.0 and 0.0 <= scores["F"] <= 1.0
        assert scores["frames"] == 4 and scores["fps"] > 0 and scores["init_ms"] > 0
        assert scores["J"] > 0.5  # the discs are tracked
    assert report["J"] == pytest.approx(np.mean([s["J"] for s in report["per_sequence"].values()]))
    assert "two-discs" in out and "disc" in out


def test_eval_box_init_and_options(davis_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "eval.json"
    code = main(["eval", str(davis_root), "--sequences", "two-discs", "--init", "box", "--max-frames", "3",
                 "--set", "frtm.update_interval=2", "--json", str(report_path)] + FAST)
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["init"] == "box" and report["config"]["frtm"]["update_interval"] == 2
    assert list(report["per_sequence"]) == ["two-discs"]
    assert report["per_sequence"]["two-discs"]["frames"] == 2
    assert 0.3 < report["J"] <= 1.0
    assert re.fullmatch(r"J&F \d\.\d{4}", last_line(capsys.readouterr().out))


def test_lost_objects_still_count(davis_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def lose_everything(self: Segmenter, frame: np.ndarray) -> FrameResult:
        return FrameResult(0, {}, np.zeros(frame.shape[:2], np.uint16), {})

    monkeypatch.setattr(Segmenter, "step", lose_everything)
    report_path = tmp_path / "eval.json"
    assert main(["eval", str(davis_root), "--sequences", "disc", "--json", str(report_path)] + FAST) == 0
    report = json.loads(report_path.read_text())
    assert report["per_sequence"]["disc"]["J"] == 0.0
    assert report["J"] == 0.0
    assert last_line(capsys.readouterr().out) == f"J&F {report['JF']:.4f}"


@pytest.mark.parametrize("argv, code, message", [
    (["--sequences", "nope"], 1, "sequence folder not found"),
    (["--max-frames", "1"], 1, "--max-frames"),
    (["--init", "polygon"], 2, "invalid choice"),
    (["--set", "frtm.no_such_key=1"], 1, "unknown config key"),
])
def test_eval_errors(davis_root: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                     message: str) -> None:
    assert main(["eval", str(davis_root)] + argv + FAST) == code
    assert message in capsys.readouterr().err


def test_eval_missing_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "missing")] + FAST) == 1
    assert "DAVIS root not found" in capsys.readouterr().err


def test_eval_click_init_on_a_real_sequence(tmp_path: Path) -> None:
    from conftest import DAVIS_ROOT
    if not (DAVIS_ROOT / "JPEGImages" / "480p" / "blackswan").is_dir():
        pytest.skip(f"DAVIS-2016 blackswan not found under {DAVIS_ROOT}")
    report_path = tmp_path / "eval.json"
    assert main(["eval", str(DAVIS_ROOT), "--sequences", "blackswan", "--init", "click", "--max-frames", "4",
                 "--device", "cpu", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["init"] == "click" and report["per_sequence"]["blackswan"]["frames"] == 3
    assert report["J"] > 0.25  # one click on the swan (first mask measured 0.35 IoU)


def test_eval_absence_and_mosaic_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_davis(tmp_path / "davis", {"a": 1, "b": 1, "c": 1, "d": 1}, n_frames=6)
    absence = tmp_path / "absence.json"
    assert main(["eval", str(root), "--absence", "3", "--per-frame", "--json", str(absence)] + FAST) == 0
    report = json.loads(absence.read_text())
    assert report["absence"] == 3 and {"absent_hidden", "visible_within_5", "J_back", "JF_present"} <= set(report)
    seq = report["per_sequence"]["a+absent3"]
    assert seq["frames"] == 6 + 3 - 1 and seq["absent_frames"] == 3
    assert len(seq["per_frame"]["frames"]) == 8 and set(seq["per_frame"]["objects"]) == {"1"}
    mosaic = tmp_path / "mosaic.json"
    assert main(["eval", str(root), "--mosaic", "4", "--json", str(mosaic)] + FAST) == 0
    report = json.loads(mosaic.read_text())
    assert report["mosaic"] == 4 and list(report["per_sequence"]) == ["a+b+c+d"]
    assert 0.0 <= report["per_sequence"]["a+b+c+d"]["J"] <= 1.0 and report["per_sequence"]["a+b+c+d"]["frames"] == 5
    assert main(["eval", str(root), "--mosaic", "3"] + FAST) == 1
    assert "square number" in capsys.readouterr().err

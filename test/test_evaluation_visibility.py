"""The visibility report of the absence benchmark."""
import pytest

from vos_ros.evaluation.visibility import absence_report, summarize_absence


def test_absence_report_counts_hidden_frames_and_the_return() -> None:
    # frames 0..11, absent 3..6; object 1 is hidden on 3 of the 4 absent frames and visible
    # again on the 2nd frame back (frame 8)
    flags = [True, True, True, True, False, False, False, False, True, True, True, True]
    visible = [{1: f} for f in flags]
    scored = list(range(1, 12))
    j = [0.9] * 2 + [0.0] * 5 + [0.0, 0.5, 0.7, 0.9]  # frames 1..11
    report = absence_report(visible, range(3, 7), scored, j)
    assert report["absent_hidden"] == pytest.approx(0.75)
    assert report["frames_to_visible"] == {"1": 1}
    assert report["J_back"] == pytest.approx((0.0 + 0.0 + 0.5 + 0.7 + 0.9) / 5)  # frames 7..11
    never = absence_report([{1: True}] + [{1: False}] * 5, range(1, 3), list(range(1, 6)), [0.0] * 5)
    assert never["frames_to_visible"] == {"1": None} and never["absent_hidden"] == 1.0
    summary = summarize_absence([report, never], within=5)
    assert summary["visible_within_5"] == 0.5 and summary["absent_hidden"] == pytest.approx(0.875)
    assert summarize_absence([report], within=1)["visible_within_1"] == 0.0  # back on frame 1, not 0
    with pytest.raises(ValueError, match="no absent"):
        absence_report(visible, range(0), scored, j)

"""FRTM method: online updates, spread over frames, keep the memory bounded."""
import math

import numpy as np
import pytest
import torch

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.methods.frtm.params import FRTMParams
from vos_ros.engine.devices import bfloat16_is_fast
from vos_ros.engine.methods.frtm.method import spread_iterations
from vos_ros.engine.session import Segmenter

from synthetic import moving_discs


def test_spread_updates_complete_and_memory_stays_bounded():
    frames, labels = moving_discs(frames=6, size=(96, 128))
    cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 2, "frtm.memory_size": 5,
                                    "frtm.update_interval": 2, "frtm.update_cg_iters": 4,
                                    "frtm.memory_min_confidence": 0.0})
    seg = Segmenter(cfg)
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    target = seg.method.targets[1]
    w2_initial = target.model.w2.clone()
    assert len(target.memory) == 2  # original + one augmented copy
    annotated = target.memory.features[0].clone()
    assert target.memory.pinned == 0  # the annotated frame itself
    saw_job = False
    for i in range(30):
        k = 1 + i % (len(frames) - 1)
        res = seg.step(frames[k])
        saw_job |= target.job is not None
        assert len(target.memory) <= 5 and len(target.pending) <= 2
    assert saw_job and not np.allclose(target.model.w2.numpy(), w2_initial.numpy())
    assert seg.method.memory_footprint() == {1: 5}
    assert torch.equal(target.memory.features[0], annotated)  # 30 frames later, still stored
    assert res.objects[1].visible


def test_memory_takes_every_nth_confident_frame():
    frames, labels = moving_discs(frames=8, size=(96, 128))
    cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1, "frtm.memory_interval": 3,
                                    "frtm.update_interval": 1000, "frtm.memory_min_confidence": 0.0})
    seg = Segmenter(cfg)
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    sizes = []
    for f in frames[1:]:
        seg.step(f)
        sizes.append(len(seg.method.targets[1].memory))
    assert sizes == [1, 1, 2, 2, 2, 3, 3]


def test_objects_added_together_update_on_different_frames():
    frames, labels = moving_discs(frames=9, size=(96, 128), discs=2)
    cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1, "frtm.memory_min_confidence": 0.0})
    seg = Segmenter(cfg)
    for object_id, shift in ((1, 0), (2, 0), (3, 40)):
        mask = labels[0] == (2 if object_id == 2 else 1)
        seg.add_object(object_id, frames[0], mask=np.roll(mask, shift, axis=0))
    starts: dict[int, list[int]] = {1: [], 2: [], 3: []}
    stored: dict[int, list[int]] = {1: [], 2: [], 3: []}
    targets = seg.method.targets
    for k, frame in enumerate(frames[1:], start=1):
        sizes = {i: len(t.memory) + len(t.pending) for i, t in targets.items()}  # samples, stored or queued
        seg.step(frame)
        for object_id, target in targets.items():
            if target.job is not None and target.job_frames == 1:
                starts[object_id].append(k)
            if len(target.memory) + len(target.pending) > sizes[object_id]:
                stored[object_id].append(k)
    # each object starts one update and stores two samples in 8 frames, on frames of its own
    assert all(len(v) == 1 for v in starts.values()) and len({v[0] for v in starts.values()}) == 3
    assert all(len(v) == 2 for v in stored.values()) and len({v[0] for v in stored.values()}) == 3


@pytest.mark.parametrize("spread, frames_run", [(0, 8), (4, 4), (20, 8)])
def test_an_update_runs_over_update_spread_frames(spread, frames_run):
    frames, labels = moving_discs(frames=4, size=(96, 128))
    cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1, "frtm.update_interval": 8,
                                    "frtm.update_spread_frames": spread, "frtm.memory_min_confidence": 0.0})
    seg = Segmenter(cfg)
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    target = seg.method.targets[1]
    iterations = []  # CG iterations run by each frame of the first update
    for i in range(24):
        before = target.job.iterations if target.job is not None else 0
        job = target.job
        seg.step(frames[1 + i % 3])
        if job is None and target.job is not None:  # an update started: track it
            job = target.job
            iterations.append(job.iterations)
        elif job is not None and iterations:
            iterations.append(job.iterations - before)
            if target.job is None:
                break
    # 0 = over update_interval frames; never more than the interval between updates
    assert len(iterations) == frames_run and sum(iterations) == cfg.frtm.update_cg_iters


def test_spread_frames_of_the_config():
    assert FRTMParams().spread_frames() == 4
    assert FRTMParams(update_spread_frames=0).spread_frames() == 8  # update_interval
    assert FRTMParams(update_spread_frames=20).spread_frames() == 8  # capped at the interval
    assert FRTMParams(update_spread_frames=1).spread_frames() == 1  # all iterations at once
    assert spread_iterations(1, 10, FRTMParams(update_spread_frames=1).spread_frames()) == 10


def test_no_online_update_keeps_first_frame_model():
    frames, labels = moving_discs(frames=4, size=(96, 128))
    cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1,
                                    "frtm.online_update": False, "frtm.update_interval": 1})
    seg = Segmenter(cfg)
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    w2 = seg.method.targets[1].model.w2.clone()
    for f in frames[1:]:
        seg.step(f)
    assert np.array_equal(seg.method.targets[1].model.w2.numpy(), w2.numpy())
    assert seg.method.memory_footprint() == {1: 1}


def _with_look_alike(frame: np.ndarray, label: np.ndarray, dx: int) -> np.ndarray:
    """The frame with a copy of object 1 pasted `dx` pixels to the right."""
    out = frame.copy()
    ys, xs = np.nonzero(label == 1)
    out[ys, xs + dx] = frame[ys, xs]
    return out


def test_look_alike_away_from_the_object_is_dropped_as_outlier():
    frames, labels = moving_discs(frames=4, size=(96, 160))
    later = [_with_look_alike(f, lab, 80) for f, lab in zip(frames[1:], labels[1:])]
    areas = {}
    for dilation in (0, 8):
        cfg = EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1,
                                        "frtm.outlier_dilation": dilation})
        seg = Segmenter(cfg)
        seg.add_object(1, frames[0], mask=labels[0] == 1)
        for frame in later:
            mask = seg.step(frame).labels == 1
        areas[dilation] = (mask[:, 120:].sum(), mask[:, :100].sum())
    truth_area = int((labels[-1] == 1).sum())
    assert areas[0][0] > 0.5 * truth_area  # without the test the copy is taken too
    assert areas[8][0] == 0 and areas[8][1] > 0.5 * truth_area


@pytest.mark.parametrize("cg_iters, frames", [(10, 8), (10, 1), (5, 8), (3, 4)])
def test_spread_updates_run_every_iteration_with_an_even_load(cg_iters, frames):
    due = [spread_iterations(f, cg_iters, frames) for f in range(1, frames + 1)]
    assert due[-1] == cg_iters and due == sorted(due)
    # per frame: its iterations, plus the gradient on the first frame
    units = [due[0] + 1] + [b - a for a, b in zip(due, due[1:])]
    assert max(units) == math.ceil((cg_iters + 1) / frames)


def test_projections_and_memory_in_bfloat16_only_where_fast():
    frames, labels = moving_discs(frames=2, size=(96, 128))
    fast = bfloat16_is_fast(torch.device("cpu"))
    for setting, expected in ((True, torch.bfloat16 if fast else torch.float32), (False, torch.float32)):
        seg = Segmenter(EngineConfig().replace(**{"resolution": 0, "device": "cpu", "frtm.augment_samples": 1,
                                                  "frtm.memory_bfloat16": setting}))
        seg.add_object(1, frames[0], mask=labels[0] == 1)
        seg.add_object(2, frames[0], mask=np.roll(labels[0] == 1, 40, axis=1))
        result = seg.step(frames[1])
        assert seg.method.targets[1].memory.features.dtype == expected
        assert seg.method.targets[2].memory.features.dtype == expected
        assert result.objects[1].visible and result.objects[2].visible


def test_score_scale_multiplies_the_d_only_probabilities():
    frames, labels = moving_discs(frames=2, size=(96, 128))
    seg = Segmenter(EngineConfig().replace(**{"resolution": 0, "frtm.augment_samples": 1,
                                              "frtm.outlier_dilation": 0, "frtm.score_scale": 1.0}))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    features = seg._process(frames[1]).features
    with torch.inference_mode():
        plain = seg.method.predict(features)[1]
        seg.update_config(**{"frtm.score_scale": 2.0})  # a run-time setting
        doubled = seg.method.predict(features)[1]
    assert torch.allclose(doubled, (2 * plain).clamp(0, 1), atol=1e-6)
    assert float(plain.max()) > 0.5  # the object scores high without scaling too

"""The Segmenter session API: objects added/removed at any frame, box init, bad input."""
import numpy as np
import pytest

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.session import Segmenter
from vos_ros.evaluation.metrics import region_similarity

from conftest import davis_sequence
from synthetic import discs_on_paths, foreign_frames, moving_discs

FAST = {"resolution": 0, "frtm.augment_samples": 2, "frtm.memory_size": 8}


@pytest.fixture(scope="module")
def video():
    return moving_discs(frames=8, size=(120, 160), discs=2)


@pytest.fixture
def seg():
    return Segmenter(EngineConfig().replace(**FAST))


def test_tracks_a_disc_from_a_mask(seg, video):
    frames, labels = video
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    for frame, lab in zip(frames[1:], labels[1:]):
        res = seg.step(frame)
    assert res.objects[1].visible
    assert region_similarity(res.objects[1].mask, lab == 1) > 0.6
    assert set(np.unique(res.labels)) <= {0, 1}
    assert np.array_equal(res.labels == 1, res.objects[1].mask)
    x, y, w, h = res.objects[1].box
    ys, xs = np.nonzero(res.objects[1].mask)
    assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
    assert {"backbone", "target_model", "refine", "aggregation", "memory_update"} <= set(res.timings_ms)


@pytest.mark.parametrize("method", ["frtm", "visual_words", "matching"])
def test_each_method_tracks_a_synthetic_disc(method):
    frames, labels = moving_discs(frames=8, size=(120, 160), discs=1)
    seg = Segmenter(EngineConfig(method=method, device="cpu", resolution=0, threads=1))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    ious = [region_similarity(seg.step(f).objects[1].mask, lab == 1) for f, lab in zip(frames[1:], labels[1:])]
    assert min(ious) > 0.7


@pytest.mark.parametrize("method", ["frtm", "visual_words", "matching"])
def test_each_method_tracks_blackswan(method):
    frames, masks = davis_sequence("blackswan", 8)
    seg = Segmenter(EngineConfig(method=method, device="cpu", resolution=240, threads=1))
    seg.add_object(1, frames[0], mask=masks[0])
    ious = [region_similarity(seg.step(f).objects[1].mask, m) for f, m in zip(frames[1:], masks[1:])]
    assert np.mean(ious) > 0.8


def test_objects_added_and_removed_at_any_frame(seg, video):
    frames, labels = video
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    seg.step(frames[1])
    seg.step(frames[2])
    seg.add_object(7, frames[2], mask=labels[2] == 2)  # second object joins at frame 2
    res = seg.step(frames[3])
    assert sorted(res.objects) == [1, 7]
    assert region_similarity(res.objects[7].mask, labels[3] == 2) > 0.5
    assert region_similarity(res.objects[1].mask, labels[3] == 1) > 0.5
    assert not (res.objects[1].mask & res.objects[7].mask).any()
    seg.remove_object(1)
    res = seg.step(frames[4])
    assert list(res.objects) == [7] and region_similarity(res.objects[7].mask, labels[4] == 2) > 0.5
    assert not (res.labels == 1).any()


def test_box_initialisation_gives_a_usable_mask(seg, video):
    frames, labels = video
    ys, xs = np.nonzero(labels[0] == 1)
    box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    init = seg.add_object(3, frames[0], box=box)
    assert region_similarity(init.mask, labels[0] == 1) > 0.6
    res = seg.step(frames[1])
    assert region_similarity(res.objects[3].mask, labels[1] == 1) > 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"mask": np.zeros((120, 160), bool)}, "empty"),
    ({"mask": np.ones((60, 80), bool)}, "must match"),
    ({"box": (500, 500, 20, 20)}, "outside"),
    ({"box": (10, 10, 0, 20)}, "positive"),
    ({}, "give a non-empty mask, a box or a positive point"),
])
def test_bad_init_input_is_rejected_and_changes_nothing(seg, video, kwargs, message):
    frames, labels = video
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    with pytest.raises(ValueError, match=message):
        seg.add_object(2, frames[0], **kwargs)
    assert seg.object_ids == [1]
    assert seg.step(frames[1]).objects[1].visible


def test_bad_ids_frames_and_limits(video):
    frames, labels = video
    seg = Segmenter(EngineConfig().replace(max_objects=1, **FAST))
    with pytest.raises(ValueError, match="object id"):
        seg.add_object(0, frames[0], mask=labels[0] == 1)
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    with pytest.raises(ValueError, match="maximum"):
        seg.add_object(2, frames[0], mask=labels[0] == 2)
    with pytest.raises(KeyError):
        seg.remove_object(5)
    with pytest.raises(ValueError, match="uint8"):
        seg.step(frames[1].astype(np.float32))
    with pytest.raises(ValueError, match="initialised on"):
        seg.step(np.zeros((60, 80, 3), np.uint8))
    assert seg.step(frames[1]).objects[1].visible  # still tracking after the errors
    assert seg.objects.ids == [1] and seg.objects.next_free_id() == 2  # the registry front ends use
    seg.update_config(max_objects=2)
    assert seg.objects.room_for(2) is None
    seg.add_object(2, frames[1], mask=labels[1] == 2)
    with pytest.raises(ValueError, match="below the 2 objects tracked"):
        seg.update_config(max_objects=1)
    seg.reset()
    assert seg.object_ids == [] and seg.step(np.zeros((60, 80, 3), np.uint8)).objects == {}


def test_object_leaving_the_view_is_reported_not_visible(seg, video):
    frames, labels = video
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    seg.step(frames[1])
    # the camera now sees a uniform wall: nothing like the disc is left
    blank = np.empty_like(frames[1])
    blank[:] = np.median(frames[1].reshape(-1, 3), axis=0).astype(np.uint8)
    res = seg.step(blank)
    assert not res.objects[1].visible and not res.objects[1].mask.any()
    assert res.objects[1].box is None


def test_runtime_config_changes_reach_the_method_and_structural_ones_are_refused(seg, video):
    frames, labels = video
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    seg.update_config(**{"frtm.update_interval": 3, "score_threshold": 0.7})
    assert seg.method.params.update_interval == 3 and seg.config.score_threshold == 0.7
    with pytest.raises(ValueError, match="cannot change"):
        seg.update_config(**{"frtm.feature_stride": 16})
    assert seg.step(frames[1]).objects[1].visible


def test_score_threshold_shrinks_masks(video):
    frames, labels = video
    areas = []
    for threshold in (0.5, 0.95):
        seg = Segmenter(EngineConfig().replace(score_threshold=threshold, **FAST))
        seg.add_object(1, frames[0], mask=labels[0] == 1)
        areas.append(seg.step(frames[1]).objects[1].area)
    assert areas[1] < areas[0]


@pytest.mark.parametrize("bad", [{"frtm": {"update_interval": "abc"}}, {"frtm": {"online_update": 1}},
                                 {"resolution": 2.5}, {"frtm": 3}, {"frtm": {"no_such_key": 1}},
                                 {"frtm": {"memory_interval": 0}}, {"frtm": {"feature_stride": 4}},
                                 {"frtm": {"score_scale": 0.0}}])
def test_config_rejects_wrong_types_and_unknown_keys(bad):
    with pytest.raises(ValueError):
        EngineConfig.from_dict(bad)


@pytest.mark.parametrize("method", ["frtm", "visual_words", "matching"])
def test_absent_object_is_hidden_then_found_again(method):
    """The object's scene is cut away for 6 frames (another scene) and comes back: no mask
    while it is away, and it is visible again within 5 frames of its return."""
    frames, labels = moving_discs(frames=14, size=(120, 160), discs=1)
    away = foreign_frames(6)
    seg = Segmenter(EngineConfig(method=method, device="cpu", resolution=0, threads=1))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    for frame in frames[1:4]:
        assert seg.step(frame).objects[1].visible
    for frame in away:
        res = seg.step(frame)
        assert not res.objects[1].visible and not res.objects[1].mask.any() and not res.labels.any()
    back = [seg.step(f).objects[1] for f in frames[4:]]
    first = next(k for k, obj in enumerate(back) if obj.visible)
    assert first < 5
    assert np.mean([region_similarity(o.mask, lab == 1) for o, lab in zip(back[first:], labels[4 + first:])]) > 0.6


def test_fast_object_is_kept_by_matching():
    """A disc jumping 3x the outlier dilation per frame stays tracked (moving window)."""
    frames, labels = discs_on_paths(10, lambda t: [(24 + 12 * t, 40 + 4 * t)])
    seg = Segmenter(EngineConfig(method="matching", device="cpu", resolution=0, threads=1))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    ious = [region_similarity(seg.step(f).objects[1].mask, lab == 1) for f, lab in zip(frames[1:], labels[1:])]
    assert min(ious) > 0.5


@pytest.mark.parametrize("method", ["frtm", "visual_words", "matching"])
def test_two_look_alikes_do_not_swap(method):
    """Two discs of the same texture passing each other keep their own ids: every mask shown
    overlaps its own disc more than the other one, and each is tracked on most frames."""
    frames, labels = discs_on_paths(10, lambda t: [(60 + 8 * t, 70), (260 - 8 * t, 170)],
                                    size=(240, 320), radius=30)
    seg = Segmenter(EngineConfig(method=method, device="cpu", resolution=0, threads=1))
    for k in (1, 2):
        seg.add_object(k, frames[0], mask=labels[0] == k)
    own = {1: [], 2: []}
    for frame, lab in zip(frames[1:], labels[1:]):
        res = seg.step(frame)
        for k in (1, 2):
            own[k].append(region_similarity(res.objects[k].mask, lab == k))
            if res.objects[k].visible:
                assert own[k][-1] > region_similarity(res.objects[k].mask, lab == 3 - k)
    assert min(np.mean(v) for v in own.values()) > 0.5

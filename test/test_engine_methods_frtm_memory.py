"""The FRTM sample memory: weighting and replacement rule."""
import pytest
import torch

from vos_ros.engine.methods.frtm.memory import SampleMemory, UpdateBatch


def _sample(value: float):
    return torch.full((2, 3, 4), value), torch.zeros(3, 4), torch.ones(3, 4)


def test_weights_grow_geometrically_and_normalise():
    mem = SampleMemory(capacity=10, eta=0.1)
    for i in range(4):
        mem.add(*_sample(i))
    w = mem.weights()
    assert torch.isclose(w.sum(), torch.tensor(1.0))
    ratios = w[1:] / w[:-1]
    assert torch.allclose(ratios, torch.full_like(ratios, 1 / 0.9))


def test_explicit_weights_and_growth_from_newest():
    mem = SampleMemory(capacity=10, eta=0.1)
    mem.add(*_sample(0), weight=2.0)
    mem.add(*_sample(1), weight=1.0)
    mem.add(*_sample(2))
    assert mem.raw_weights.tolist() == pytest.approx([2.0, 1.0, 2.0 / 0.9])


def test_full_memory_replaces_lowest_weight_sample():
    mem = SampleMemory(capacity=3, eta=0.1)
    mem.add(*_sample(0), weight=2.0)
    mem.add(*_sample(1), weight=1.0)  # lowest
    mem.add(*_sample(2), weight=3.0)
    slot = mem.add(*_sample(9))
    assert slot == 1 and len(mem) == 3
    feats, _, _, w = mem.batch()
    assert float(feats[1, 0, 0, 0]) == 9.0
    assert int(torch.argmax(w)) == 1


def test_memory_is_bounded_and_weights_stay_finite_on_long_streams():
    mem = SampleMemory(capacity=5, eta=0.1)
    for i in range(3000):
        mem.add(*_sample(float(i)))
    assert len(mem) == 5 and mem.features.shape[0] == 5
    w = mem.weights()
    assert torch.isfinite(w).all() and torch.isclose(w.sum(), torch.tensor(1.0))
    # the five newest samples are the ones kept
    assert sorted(float(v) for v in mem.features[:, 0, 0, 0]) == [2995.0, 2996.0, 2997.0, 2998.0, 2999.0]


def test_invalid_parameters_rejected():
    with pytest.raises(ValueError):
        SampleMemory(0, 0.1)
    with pytest.raises(ValueError):
        SampleMemory(10, 1.0)


def test_batch_skips_negligible_samples_and_renormalises():
    mem = SampleMemory(capacity=80, eta=0.1)
    for i in range(80):
        mem.add(*_sample(float(i)))
    feats, _, _, w = mem.batch(min_relative_weight=0.01)
    # 0.9 ** k >= 0.01  <=>  k <= 43: the 44 newest samples remain
    assert len(feats) == 44 and float(feats[:, 0, 0, 0].min()) == 36.0
    assert torch.isclose(w.sum(), torch.tensor(1.0))
    assert len(mem.batch()[0]) == 80


def test_batch_cap_keeps_the_heaviest_samples_in_slot_order():
    mem = SampleMemory(capacity=10, eta=0.1)
    for i in range(14):  # fills, then replaces the lightest (oldest) slots 0..3
        mem.add(*_sample(float(i)))
    feats, _, _, w = mem.batch(max_samples=4)
    assert feats[:, 0, 0, 0].tolist() == [10.0, 11.0, 12.0, 13.0]  # slots 0..3, newest
    raw = mem.raw_weights[:4]
    assert torch.allclose(w, (raw / raw.sum()).float())
    # the weight threshold applies first: 0.9 ** k >= 0.75 keeps the 3 newest
    assert len(mem.batch(min_relative_weight=0.75, max_samples=4)[0]) == 3
    assert len(mem.batch(max_samples=0)[0]) == 10 and len(mem.batch(max_samples=50)[0]) == 10


def test_pinned_sample_is_never_replaced():
    mem = SampleMemory(capacity=4, eta=0.1)
    mem.add(*_sample(-1.0), weight=2.0, pin=True)
    for i in range(20):  # 2.0 is soon the lowest weight: without the pin it would go first
        mem.add(*_sample(float(i)))
    assert len(mem) == 4 and mem.pinned == 0
    assert float(mem.features[0, 0, 0, 0]) == -1.0
    assert sorted(float(v) for v in mem.features[1:, 0, 0, 0]) == [17.0, 18.0, 19.0]


def test_batch_keeps_the_pinned_sample_with_its_minimum_share():
    mem = SampleMemory(capacity=10, eta=0.5)  # fast decay: the pinned sample soon weighs little
    mem.add(*_sample(-1.0), weight=1.0, pin=True)
    for i in range(8):
        mem.add(*_sample(float(i)))
    features, _, _, weights = mem.batch(0.05, 3, pinned_min_share=0.25)
    values = features[:, 0, 0, 0].tolist()
    assert len(values) == 3 and -1.0 in values and {6.0, 7.0} <= set(values)  # the two heaviest stay
    assert float(weights[values.index(-1.0)]) == pytest.approx(0.25)
    assert float(weights.sum()) == pytest.approx(1.0)
    # without the share the same call keeps only the heaviest samples
    assert -1.0 not in mem.batch(0.05, 3)[0][:, 0, 0, 0].tolist()
    # a pinned sample already heavier than its share keeps its own weight
    heavy = SampleMemory(capacity=10, eta=0.1)
    heavy.add(*_sample(-1.0), weight=10.0, pin=True)
    heavy.add(*_sample(0.0), weight=1.0)
    assert heavy.batch(pinned_min_share=0.25)[3].tolist() == pytest.approx([10 / 11, 1 / 11])


def _tagged(value: float):
    """A sample whose features, labels and pixel weights all hold `value`."""
    return torch.full((2, 3, 4), value), torch.full((3, 4), value), torch.full((3, 4), value)


def test_update_batch_copies_only_new_samples_and_matches_a_fresh_gather():
    mem = SampleMemory(capacity=8, eta=0.1)
    mem.add(*_tagged(100.0), weight=2.0, pin=True)
    for i in range(7):
        mem.add(*_tagged(float(i)))
    reuse = UpdateBatch()
    for step in range(6):
        fresh = mem.batch(0.0, 4, 0.25)
        held_before = list(reuse.held)
        feats, labels, pw, w = mem.batch(0.0, 4, 0.25, reuse=reuse)
        assert feats.data_ptr() == reuse.features.data_ptr()  # a view of the reused copy
        # the same samples with the same weights, possibly in another order
        pairs = sorted(zip(feats[:, 0, 0, 0].tolist(), w.tolist()))
        expected = sorted(zip(fresh[0][:, 0, 0, 0].tolist(), fresh[3].tolist()))
        assert [v for v, _ in pairs] == [v for v, _ in expected]
        assert [x for _, x in pairs] == pytest.approx([x for _, x in expected])
        # labels and pixel weights in the features' row order
        assert labels[:, 0, 0].tolist() == feats[:, 0, 0, 0].tolist() == pw[:, 0, 0].tolist()
        assert 100.0 in feats[:, 0, 0, 0].tolist()  # the pinned sample
        if step > 0:  # one sample replaced since the last batch: one row rewritten
            changed = [r for r, key in enumerate(reuse.held) if key != held_before[r]]
            assert len(changed) == 1
        mem.add(*_tagged(10.0 + step))


def test_update_batch_follows_a_changed_subset_size():
    mem = SampleMemory(capacity=10, eta=0.1)
    for i in range(10):
        mem.add(*_sample(float(i)))
    reuse = UpdateBatch()
    for cap in (3, 6, 2, 5):
        feats, _, _, _ = mem.batch(0.0, cap, reuse=reuse)
        assert sorted(feats[:, 0, 0, 0].tolist()) == [float(v) for v in range(10 - cap, 10)]

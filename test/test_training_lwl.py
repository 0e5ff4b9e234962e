"""Training of LWL: mini-sequences, the loss falls through the learner, the command's files."""
import json

import numpy as np
import torch

from test_training import _davis_folder, _video
from vos_ros.cli import main
from vos_ros.engine.methods.lwl.network import LWLNet, LWLShape
from vos_ros.engine.methods.lwl.weights import load
from vos_ros.training.loop import FitSettings, fit
from vos_ros.training.lwl import SequenceSettings, SequenceSource, lwl_loss


def test_mini_sequences_are_ordered_aligned_crops():
    source = SequenceSource([_video(frames=8)], crop=(64, 96), seed=0, settings=SequenceSettings(window=6))
    for _ in range(5):
        seq = source.sample()
        assert seq.masks.shape == (4, 64, 96) and seq.masks[0].sum() >= 64
        assert {s: a.shape for s, a in seq.levels.items()} == {4: (4, 24, 16, 24), 8: (4, 40, 8, 12),
                                                               16: (4, 112, 4, 6)}
    frames = [source._frames(source.videos[0]) for _ in range(20)]
    assert all(f == sorted(f) and len(set(f)) == 4 and f[-1] - f[0] < 6 for f in frames)


def test_a_few_iterations_lower_the_loss(tmp_path):
    torch.manual_seed(0)
    source = SequenceSource([_video(frames=8)], crop=(64, 96), seed=0, settings=SequenceSettings())
    fixed = [source.sample() for _ in range(2)]

    class Fixed(SequenceSource):  # the same batch every iteration: the loss must fall
        def __init__(self):
            self.rng, self.settings, self._it = source.rng, source.settings, iter(fixed * 100)

        def sample(self):
            return next(self._it)

    net = LWLNet(LWLShape(dropout=0.0))
    batches = Fixed()

    def loss(_):
        return lwl_loss(net, batches, 2, torch.device("cpu"))

    with torch.no_grad():
        before = float(lwl_loss(net, Fixed(), 2, torch.device("cpu")))
    result = fit(net, loss, lambda: 0.0, FitSettings(30, lr=3e-3, validate_every=30, checkpoint_every=30),
                 tmp_path / "c.ckpt", False, "test", lambda: {}, lambda s: None)
    assert np.mean(result.losses[-5:]) < 0.8 * before


def test_train_command_with_method_lwl_writes_weights_and_record(tmp_path):
    data = _davis_folder(tmp_path / "data")
    out = tmp_path / "out"
    args = ["train", "--method", "lwl", "--data", str(data), "--val-sequences", "b", "--out", str(out),
            "--lwl-iterations", "2", "--lwl-box-iterations", "1", "--validate-every", "1", "--batch", "1",
            "--lwl-crop", "64x96", "--threads", "1"]
    assert main(args) == 0
    record = json.loads((out / "lwl.json").read_text())
    for key in ("git_commit", "data_sha256", "iterations", "train_seconds", "val_iou", "history", "box_val_iou",
                "learned_reg", "sequence"):
        assert key in record
    assert record["train_sequences"] == ["a"] and record["sequence"]["frames"] == 4
    net = load(str(out / "lwl.pt"), "efficientnet_lite0")
    assert net.box_encoder is not None
    resumed = [a if a != "2" else "3" for a in args] + ["--resume"]
    assert main(resumed) == 0
    assert json.loads((out / "lwl.json").read_text())["history"][-1]["iteration"] == 3

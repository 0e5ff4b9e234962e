"""Training of the learned parts: the loss falls, checkpoints resume, the command writes its record."""
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from synthetic import moving_discs
from vos_ros.cli import main
from vos_ros.engine.learned import weights
from vos_ros.engine.learned.decoder import DecoderShape, MaskDecoder
from vos_ros.training.data import SampleSource, Video, synthetic_scores
from vos_ros.training.loop import FitSettings, fit
from vos_ros.training.losses import segmentation_loss
from vos_ros.training.parts import decoder_loss


def _video(name="discs", frames=6, seed=0):
    images, labels = moving_discs(frames=frames, size=(96, 160), seed=seed)
    rng = np.random.default_rng(seed)
    feats = {4: rng.standard_normal((frames, 24, 24, 40)).astype(np.float16),
             8: rng.standard_normal((frames, 40, 12, 20)).astype(np.float16),
             16: rng.standard_normal((frames, 112, 6, 10)).astype(np.float16)}
    masks = np.stack([lab > 0 for lab in labels])
    return Video(name, np.stack(images), masks, {}, feats)


def _davis_folder(root: Path, names=("a", "b")) -> Path:
    for k, name in enumerate(names):
        images, labels = moving_discs(frames=5, size=(96, 160), seed=k)
        (root / "JPEGImages/480p" / name).mkdir(parents=True)
        (root / "Annotations/480p" / name).mkdir(parents=True)
        for t, (img, lab) in enumerate(zip(images, labels)):
            cv2.imwrite(str(root / "JPEGImages/480p" / name / f"{2 * t:05d}.jpg"), img[:, :, ::-1])
            cv2.imwrite(str(root / "Annotations/480p" / name / f"{2 * t:05d}.png"), (lab > 0).astype(np.uint8) * 255)
    return root


def test_segmentation_loss_prefers_the_truth():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 2:6] = 1
    good = segmentation_loss((target * 2 - 1) * 5, target)
    bad = segmentation_loss(-(target * 2 - 1) * 5, target)
    assert float(good) < 0.1 < float(bad)


def test_synthetic_scores_follow_the_mask():
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    s = synthetic_scores(np.random.default_rng(0), mask, (8, 8))
    assert s.shape == (8, 8) and 0 <= s.min() and s.max() <= 1
    assert s[3:5, 3:5].mean() > s[0, 0]


def test_samples_are_aligned_crops():
    source = SampleSource([_video()], crop=(64, 96), seed=0, teacher_share=0.0)
    sample = source.decoder_sample()
    assert sample.mask.shape == (64, 96) and sample.scores.shape == (8, 12)
    assert {s: a.shape[-2:] for s, a in sample.levels.items()} == {4: (16, 24), 8: (8, 12), 16: (4, 6)}


def test_a_few_iterations_lower_the_loss_and_resume(tmp_path):
    torch.manual_seed(0)
    source = SampleSource([_video()], crop=(64, 96), seed=0, teacher_share=0.0)
    fixed = [source.decoder_sample() for _ in range(4)]
    decoder = MaskDecoder(DecoderShape(dropout=0.0))

    class Fixed:  # the same batch every iteration: the loss must fall
        rng = source.rng

        def decoder_sample(self, it=iter(fixed * 100)):
            return next(it)

    def loss(_):
        return decoder_loss(decoder, Fixed(), 4, torch.device("cpu"))

    with torch.no_grad():
        before = float(loss(0))
    state = {}
    result = fit(decoder, loss, lambda: 0.0, FitSettings(40, lr=1e-2, validate_every=40, checkpoint_every=10),
                 tmp_path / "c.ckpt", False, "test", lambda: state, lambda s: None)
    assert np.mean(result.losses[-5:]) < 0.8 * before
    assert (tmp_path / "c.ckpt").is_file()
    # resuming a finished run does no more iterations and keeps the history
    again = fit(decoder, loss, lambda: 0.0, FitSettings(40, lr=1e-2, validate_every=40, checkpoint_every=10),
                tmp_path / "c.ckpt", True, "test", lambda: state, lambda s: None)
    assert again.losses == result.losses


def test_train_command_writes_weights_and_records(tmp_path):
    data = _davis_folder(tmp_path / "data")
    out = tmp_path / "out"
    args = ["train", "--data", str(data), "--val-sequences", "b", "--out", str(out), "--iterations", "3",
            "--prompt-iterations", "2", "--validate-every", "2", "--batch", "2", "--crop", "64x96",
            "--teachers", "frtm", "--threads", "1"]
    assert main(args) == 0
    record = json.loads((out / "decoder.json").read_text())
    for key in ("git_commit", "data_sha256", "data_listing", "iterations", "train_seconds", "val_iou", "history"):
        assert key in record
    assert record["train_sequences"] == ["a"] and record["val_sequences"] == ["b"]
    prompt_record = json.loads((out / "prompt_encoder.json").read_text())
    assert "val_iou_box" in prompt_record and "val_iou_click" in prompt_record
    channels = {4: 24, 8: 40, 16: 112}
    weights.load("decoder", out / "decoder.pt", "efficientnet_lite0", channels)
    weights.load("prompt_encoder", out / "prompt_encoder.pt", "efficientnet_lite0", channels)
    # resuming continues from the checkpoints to a larger iteration count
    resumed = [a if a != "3" else "4" for a in args] + ["--parts", "decoder", "--resume"]
    assert main(resumed) == 0
    assert json.loads((out / "decoder.json").read_text())["history"][-1]["iteration"] == 4


def test_train_command_refuses_the_dev_split_names_it_does_not_know(tmp_path):
    data = _davis_folder(tmp_path / "data")
    assert main(["train", "--data", str(data), "--val-sequences", "nope", "--out", str(tmp_path / "o")]) == 1

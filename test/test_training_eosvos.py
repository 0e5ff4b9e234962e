"""Meta-training of e-OSVOS: a meta step lowers the query loss; the command writes its record."""
import copy
import json

import numpy as np
import torch
import torch.nn.functional as F

from synthetic import moving_discs
from test_training import _davis_folder
from vos_ros.cli import main
from vos_ros.engine.learned import weights
from vos_ros.engine.methods.eosvos.head import EOSVOSHead, HeadShape
from vos_ros.engine.methods.eosvos.params import EOSVOSParams
from vos_ros.training.data import Video
from vos_ros.training.eosvos import MetaSettings, TaskSource, meta_loss


def _video(frames=6, seed=0) -> Video:
    """Discs whose stride-8 features carry the mask in one channel (plus noise)."""
    images, labels = moving_discs(frames=frames, size=(96, 160), seed=seed)
    masks = np.stack([lab > 0 for lab in labels])
    rng = np.random.default_rng(seed)
    cover = F.adaptive_avg_pool2d(torch.from_numpy(masks).float()[:, None], (12, 20)).numpy()
    f8 = rng.standard_normal((frames, 40, 12, 20)).astype(np.float32)
    f8[:, :1] += 3 * cover
    return Video("discs", np.stack(images), masks, {},
                 {8: f8.astype(np.float16), 16: rng.standard_normal((frames, 112, 6, 10)).astype(np.float16)})


def test_one_meta_step_lowers_the_query_loss_on_a_tiny_task():
    torch.manual_seed(0)
    head = EOSVOSHead(HeadShape(width=8, initial_lr=0.05))
    source = TaskSource([_video()], seed=1, params=EOSVOSParams(), device=torch.device("cpu"))
    settings = MetaSettings(inner_steps=3, queries=2, batch=2)
    state = copy.deepcopy(source.rng.bit_generator.state)
    before = meta_loss(head, source, settings)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    optimizer.zero_grad()
    before.backward()
    # the query loss reaches both the initialisation and the per-neuron rates
    assert all(r.grad is not None and r.grad.abs().sum() > 0 for r in head.log_lr)
    optimizer.step()
    source.rng.bit_generator.state = state  # the same tasks again
    after = meta_loss(head, source, settings)
    assert after.item() < before.item()


def test_train_command_writes_the_head_and_its_record_and_resumes(tmp_path):
    data = _davis_folder(tmp_path / "data")
    out = tmp_path / "out"
    args = ["train", "--method", "eosvos", "--data", str(data), "--val-sequences", "b", "--out", str(out),
            "--iterations", "2", "--validate-every", "1", "--batch", "1", "--inner-steps", "2",
            "--plain-lrs", "0.1,0.3", "--threads", "1"]
    assert main(args) == 0
    record = json.loads((out / "eosvos.json").read_text())
    for key in ("git_commit", "data_sha256", "inner_steps", "plain_val_iou", "plain_lr", "train_seconds",
                "val_iou", "history", "learned_rates"):
        assert key in record
    assert record["train_sequences"] == ["a"] and not record["second_order"]
    head = weights.load("eosvos", out / "eosvos.pt", "efficientnet_lite0", {8: 40, 16: 112})
    assert head.shape.width == HeadShape.width
    resumed = [a if a != "2" or i != args.index("--iterations") + 1 else "3" for i, a in enumerate(args)]
    assert main(resumed + ["--resume"]) == 0
    assert json.loads((out / "eosvos.json").read_text())["history"][-1]["iteration"] == 3

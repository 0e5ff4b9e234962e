"""The training loop shared by the learned parts: seeded, checkpointed, resumable, validated.

A part supplies a model, a loss on a batch drawn from its sample source, and a validation
score; `fit` runs Adam with a cosine schedule, keeps the best validation state, writes a
checkpoint every `checkpoint_every` iterations and resumes from it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .progress import Progress


@dataclass
class FitSettings:
    iterations: int
    lr: float = 1e-3
    weight_decay: float = 1e-5
    validate_every: int = 250
    checkpoint_every: int = 100


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_score: float
    best_iteration: int
    history: list[dict]
    seconds: float
    losses: list[float]


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state()}


def fit(model: nn.Module, loss_fn: Callable[[int], torch.Tensor], validate: Callable[[], float],
        settings: FitSettings, checkpoint: Path, resume: bool, label: str,
        source_state: Callable[[], dict], restore_source: Callable[[dict], None]) -> FitResult:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: 0.5 * (1 + np.cos(np.pi * min(i, settings.iterations) / settings.iterations)))
    start, history, losses, elapsed = 0, [], [], 0.0
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start, history, losses, elapsed = state["iteration"], state["history"], state["losses"], state["seconds"]
        best = (state["best_score"], state["best_iteration"], state["best_state"])
        torch.set_rng_state(state["rng"]["torch"])
        restore_source(state["source"])
    progress = Progress(settings.iterations, label, start=start)
    if start:
        progress.note(f"resumed at iteration {start} from {checkpoint}")
    t0 = time.perf_counter() - elapsed
    model.train()
    for it in range(start + 1, settings.iterations + 1):
        loss = loss_fn(it)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        values = {"loss": float(np.mean(losses[-25:]))}
        if it % settings.validate_every == 0 or it == settings.iterations:
            model.eval()
            score = validate()
            model.train()
            history.append({"iteration": it, "loss": values["loss"], "val_iou": score,
                            "seconds": round(time.perf_counter() - t0, 1)})
            if score > best[0]:
                best = (score, it, {k: v.detach().clone() for k, v in model.state_dict().items()})
            values["val"] = score
            progress.note(f"iteration {it}: loss {values['loss']:.4f} validation IoU {score:.4f}")
        progress.update(it, **values)
        if it % settings.checkpoint_every == 0 or it == settings.iterations:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "iteration": it, "history": history,
                        "losses": losses, "seconds": time.perf_counter() - t0, "best_score": best[0],
                        "best_iteration": best[1], "best_state": best[2], "rng": _rng_state(),
                        "source": source_state()}, tmp)
            tmp.replace(checkpoint)
    model.eval()
    return FitResult(best[2], best[0], best[1], history, time.perf_counter() - t0, losses)


def save_part(module: nn.Module, out: Path, backbone: str, record: dict) -> Path:
    """OUT/<kind>.pt (the weight file with its record) and OUT/<kind>.json (the record)."""
    from ..engine.learned import weights
    path = out / f"{module.kind}.pt"
    weights.save(module, path, backbone, record)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return path

"""`vos-ros train`: train the mask decoder, then the prompt encoder, on DAVIS-layout videos
(or with `--method lwl|eosvos` a method's own network: training/lwl.py, training/eosvos.py).

Writes OUT/decoder.pt and OUT/prompt_encoder.pt (weight files with their training record),
a JSON record beside each, and resumable checkpoints under OUT/checkpoints/. Copy the .pt
files to vos_ros/weights/ to ship them, or point `decoder:` / `prompt_encoder:` at them.
"""
from __future__ import annotations

import argparse
import hashlib
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from ..engine.backbone.models import build_backbone
from ..engine.config import BackboneConfig, EngineConfig
from ..engine.devices import resolve_device
from ..engine.learned import weights
from ..engine.learned.decoder import DecoderShape, MaskDecoder
from ..engine.learned.prompt_encoder import PromptEncoder, PromptShape
from ..training import eosvos as eosvos_training
from ..training.data import SampleSource, data_listing, load_videos, split_sequences
from ..training.loop import FitSettings, fit, save_part
from ..training.parts import (decoder_loss, prompt_loss, teacher_iou, validate_decoder,
                              validate_prompts, validation_frames)
from ..training.features import cached_features
from ..training import lwl as lwl_training
from ..training.teacher import cached_teacher_scores, on_grid

PARTS = ("decoder", "prompt_encoder")
DEFAULT_VAL = "dance-jump,kite-walk,motocross-bumps,rhino"
TEACHER_METHODS = ("frtm", "visual_words", "matching")


def _names(text: str) -> list[str]:
    return [n for n in text.split(",") if n]


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, got {text!r}") from None
    if h % 16 or w % 16 or h < 64 or w < 64:
        raise argparse.ArgumentTypeError("crop sides must be multiples of 16 and >= 64")
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DAVIS_ROOT",
                        help="training videos (DAVIS layout, every frame annotated)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="weights, records, checkpoints")
    parser.add_argument("--val-sequences", type=_names, default=_names(DEFAULT_VAL), metavar="A,B",
                        help=f"sequences held out for model selection (default {DEFAULT_VAL})")
    parser.add_argument("--method", choices=("lwl", "eosvos"),
                        help="train a method's own network instead of the parts (lwl: LWL end to end, "
                             "then its box encoder, OUT/lwl.pt; eosvos: meta-train e-OSVOS's head, "
                             "OUT/eosvos.pt)")
    parser.add_argument("--parts", type=_names, default=list(PARTS), metavar="P,Q",
                        help="what to train, in order: decoder,prompt_encoder")
    parser.add_argument("--decoder", metavar="PT",
                        help="decoder the prompt encoder trains through: a weight file, or `none` "
                             "(default: the encoder's own scores are the mask, as shipped)")
    parser.add_argument("--iterations", type=int, default=1500, help="decoder iterations")
    parser.add_argument("--prompt-iterations", type=int, default=1500, help="prompt encoder iterations")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=_size, default=(480, 848), metavar="HxW",
                        help="training crop size (default: whole 480p frames; smaller object-centred "
                             "crops measured worse on held-out videos)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decoder-shape", metavar="K=V", action="append", default=[],
                        help="decoder architecture setting, e.g. semantic=false, width16=32, dropout=0.2")
    parser.add_argument("--teachers", type=_names, default=list(TEACHER_METHODS), metavar="M,N",
                        help="methods whose scores the decoder learns to decode")
    parser.add_argument("--validate-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for PyTorch (0 = its default; 1 helps on a busy machine)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/")
    lwl_training.add_arguments(parser, _size)
    eosvos_training.add_arguments(parser)


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(args: argparse.Namespace) -> int:
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown or not args.parts:
        raise ValueError(f"--parts takes {','.join(PARTS)}, got {args.parts}")
    bad = [m for m in args.teachers if m not in TEACHER_METHODS]
    if bad:
        raise ValueError(f"--teachers takes {','.join(TEACHER_METHODS)}, got {bad}")
    if args.iterations < 1 or args.prompt_iterations < 1 or args.batch < 1:
        raise ValueError("--iterations, --prompt-iterations and --batch must be >= 1")
    torch.manual_seed(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    train_names, val_names = split_sequences(args.data, args.val_sequences)
    if not train_names or not val_names:
        raise ValueError("need at least one training and one validation sequence")
    listing, data_hash = data_listing(args.data, train_names + val_names)
    backbone = build_backbone(BackboneConfig(name=args.backbone), device)
    channels = backbone.channels
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t_load = time.perf_counter()
    train_videos = load_videos(args.data, train_names)
    val_videos = load_videos(args.data, val_names)
    for video in train_videos + val_videos:
        video.features = cached_features(backbone, args.backbone, video.name, video.frames, device,
                                         out / "feature_cache")
    print(f"train: features of {len(train_videos) + len(val_videos)} videos ready "
          f"({time.perf_counter() - t_load:.0f} s)", file=sys.stderr)
    common = {"git_commit": _git_commit(), "data": str(args.data), "data_sha256": data_hash,
              "data_listing": listing, "train_sequences": train_names, "val_sequences": val_names,
              "seed": args.seed, "device": str(device), "torch": str(torch.__version__),
              "threads": torch.get_num_threads(), "python": platform.python_version(),
              "command": "vos-ros train " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train"] else sys.argv[1:])}
    print(f"train: {len(train_names)} training / {len(val_names)} validation sequences, device {device}",
          file=sys.stderr)
    if args.method == "eosvos":
        return eosvos_training.train(args, train_videos, val_videos, common, device, channels)

    if args.method == "lwl":
        return lwl_training.run(args, train_videos, val_videos, channels, device, common)
    decoder_path = None if args.decoder in (None, "none") else Path(args.decoder)
    if "decoder" in args.parts and args.decoder is not None:
        raise ValueError("--decoder names the decoder the prompt encoder trains through: "
                         "use it with --parts prompt_encoder")
    if "decoder" in args.parts:
        t0 = time.perf_counter()
        cache = out / "teacher_cache"
        engine = EngineConfig(backbone=BackboneConfig(name=args.backbone), device=args.device, threads=args.threads,
                              resolution=0,
                              decoder="none", prompt_encoder="none")
        for video in train_videos + val_videos:
            for method in args.teachers:
                coarse = cached_teacher_scores(engine.replace(method=method), video.sequence, cache)
                video.teachers[method] = on_grid(coarse, video.features[8].shape[-2:])
            print(f"train: teacher scores of {video.name} ready", file=sys.stderr)
        teacher_seconds = time.perf_counter() - t0
        decoder = MaskDecoder(DecoderShape(feature_channels=(channels[4], channels[8], channels[16]),
                                           **_shape_settings(args.decoder_shape))).to(device)
        source = SampleSource(train_videos, args.crop, args.seed)
        frames = validation_frames(val_videos, 2)
        method = args.teachers[0]
        baseline = teacher_iou(frames, method)
        result = fit(decoder, lambda it: decoder_loss(decoder, source, args.batch, device),
                     lambda: validate_decoder(decoder, frames, method, device),
                     FitSettings(args.iterations, lr=args.lr, validate_every=args.validate_every),
                     out / "checkpoints" / "decoder.ckpt", args.resume, "decoder",
                     lambda: {"rng": source.rng.bit_generator.state},
                     lambda s: setattr(source.rng.bit_generator, "state", s["rng"]))
        decoder.load_state_dict(result.best_state)
        record = dict(common, part="decoder", shape=decoder.shape.to_dict(), iterations=args.iterations,
                      batch=args.batch, crop=list(args.crop), lr=args.lr, teachers=args.teachers,
                      teacher_seconds=round(teacher_seconds, 1), train_seconds=round(result.seconds, 1),
                      load_seconds=round(t0 - t_load, 1), best_iteration=result.best_iteration,
                      val_iou=result.best_score, val_iou_teacher_alone=baseline, val_teacher=method,
                      history=result.history)
        path = save_part(decoder, out, args.backbone, record)
        print(f"train: decoder validation IoU {result.best_score:.4f} (teacher {method} alone {baseline:.4f}) "
              f"-> {path}", file=sys.stderr)

    if "prompt_encoder" in args.parts:
        decoder = None
        if decoder_path is not None:
            decoder = weights.load("decoder", decoder_path, args.backbone, channels).to(device)
            for p in decoder.parameters():
                p.requires_grad_(False)
        encoder = PromptEncoder(PromptShape(feature_channels=(channels[8], channels[16]),
                                            decoded=decoder is not None)).to(device)
        source = SampleSource(train_videos, args.crop, args.seed + 1)
        frames = validation_frames(val_videos, 4)
        scores: dict[str, float] = {}

        def validate() -> float:
            scores.update(validate_prompts(encoder, decoder, frames, device))
            return 0.5 * (scores["box"] + scores["click"])

        result = fit(encoder, lambda it: prompt_loss(encoder, decoder, source, args.batch, device),
                     validate, FitSettings(args.prompt_iterations, lr=args.lr, validate_every=args.validate_every),
                     out / "checkpoints" / "prompt_encoder.ckpt", args.resume, "prompt_encoder",
                     lambda: {"rng": source.rng.bit_generator.state},
                     lambda s: setattr(source.rng.bit_generator, "state", s["rng"]))
        encoder.load_state_dict(result.best_state)
        final = validate_prompts(encoder, decoder, frames, device)
        record = dict(common, part="prompt_encoder", shape=encoder.shape.to_dict(),
                      iterations=args.prompt_iterations, batch=args.batch, crop=list(args.crop), lr=args.lr,
                      decoder=str(decoder_path) if decoder_path else "none",
                      decoder_sha256=_sha256(decoder_path) if decoder_path else None,
                      train_seconds=round(result.seconds, 1), best_iteration=result.best_iteration,
                      val_score=result.best_score, val_iou_box=final["box"], val_iou_click=final["click"],
                      history=result.history)
        path = save_part(encoder, out, args.backbone, record)
        print(f"train: prompt encoder validation IoU box {final['box']:.4f} click {final['click']:.4f} "
              f"-> {path}", file=sys.stderr)
    return 0


def _shape_settings(pairs: list[str]) -> dict:
    """--decoder-shape K=V pairs -> keyword arguments of DecoderShape (values as YAML)."""
    names = {f for f in DecoderShape.__dataclass_fields__ if f != "feature_channels"}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--decoder-shape takes K=V with K in {sorted(names)}, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

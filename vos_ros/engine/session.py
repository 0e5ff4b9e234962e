"""The session API: add objects at any frame, then `step` through a stream.

    seg = Segmenter(EngineConfig())
    seg.add_object(1, frame0, mask=mask0)        # or box=(x, y, w, h)
    for frame in stream:
        result = seg.step(frame)                 # per-object masks, scores, boxes, labels

Frames are HxWx3 uint8 RGB numpy arrays of one fixed size per session; masks are returned at
that size. The backbone runs once per frame for all objects; the method (`config.method`,
see methods/) holds the per-object models; the generic stages of pipeline/ turn its scores
into the results. Process-wide settings (threads, allocator) are the entry points' business
(vos_ros/runtime.py).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from contextlib import nullcontext

import cv2
import numpy as np
import torch

from .backbone.features import Features
from .backbone.models import build_backbone
from .config import ENCODER_BOX_INIT, BoxInitConfig, EngineConfig
from .devices import resolve_device
from .frames import FrameStore, ProcessedFrame
from .learned import weights as learned_weights
from .learned.prompt_encoder import Prompt
from .methods import build_method, method_class
from .objects import MAX_OBJECT_ID, ObjectRegistry
from .pipeline.aggregation import aggregate, label_argmax
from .pipeline.cleanup import clean_labels
from .pipeline.evidence import CONFIRM_SCORE, AppearanceEvidence, calibrated_score
from .pipeline.results import FrameDescriber, FrameResult, ObjectResult, describe_mask
from .pipeline.timing import StageTimer
from .pipeline.upsample import build_upsampler
from .prompts.box import box_in_image, box_mask, validate_box
from .prompts.encoded import encoded_mask
from .prompts.mask import resize_mask, validate_mask
from .prompts.points import validate_points

__all__ = ["MAX_OBJECT_ID", "Segmenter", "StageTimer"]
_log = logging.getLogger(__name__)


class Segmenter:
    """Semi-supervised video object segmentation of several independent objects."""

    def __init__(self, config: EngineConfig | None = None):
        self.config = config or EngineConfig()
        torch.manual_seed(self.config.seed)
        self.device = resolve_device(self.config.device)
        stride32 = method_class(self.config.method).needs_stride32(self.config.params)
        self.backbone = build_backbone(self.config.backbone, self.device, stride32=stride32)
        self.method = build_method(self.config, self.extract, self.device)
        self.objects = ObjectRegistry(self.config.max_objects)
        self.decoder = self._load_learned("decoder", self.config.decoder)
        self.prompt_encoder = self._load_learned("prompt_encoder", self.config.prompt_encoder)
        self.upsampler = build_upsampler(self.config.refine, self.decoder)
        #: the method's per-object coarse scores of the last step (read by the training tools)
        self.last_coarse: dict[int, torch.Tensor] = {}
        self.frame_index = -1
        self._frame_size: tuple[int, int] | None = None
        self._frames = FrameStore()
        self._describe = FrameDescriber()
        self._evidence = AppearanceEvidence()
        self._lost: set[int] = set()  # objects not visible in the last frame

    def update_config(self, **changes) -> EngineConfig:
        """Apply run-time setting changes (dotted keys, e.g. `<method>.<setting>=4`) to the
        live session; tracked objects keep their models. Structural settings raise ValueError."""
        structural = self.config.structural_settings()
        for key in changes:
            if any(key == s or key.startswith(s + ".") for s in structural):
                raise ValueError(f"{key} cannot change on a running Segmenter (create a new one)")
        config = self.config.replace(**changes)
        reason = self.objects.check_limit(config.max_objects)
        if reason:
            raise ValueError(reason)
        self.config = config
        self.method.reconfigure(config)
        self.upsampler.reconfigure(config.refine)
        self.objects.max_objects = config.max_objects
        return self.config

    # ----------------------------------------------------------------- objects
    @property
    def object_ids(self) -> list[int]:
        return self.objects.ids

    def add_object(self, object_id: int, frame: np.ndarray, mask: np.ndarray | None = None,
                   box: tuple[float, float, float, float] | None = None,
                   points: Sequence[tuple[float, float]] = (),
                   negative_points: Sequence[tuple[float, float]] = ()) -> ObjectResult:
        """Start tracking `object_id` from a mask (HxW, nonzero = object), a box
        (x, y, width, height) and/or clicks (x, y pixels: `points` on the object,
        `negative_points` off it) on `frame`. Re-using an id re-initialises that object.
        Raises ValueError with the reason on bad input; nothing changes then."""
        self._check_frame(frame, allow_new_size=not len(self.objects))
        object_id = self.objects.check_id(object_id)
        reason = self.objects.room_for(object_id)
        if reason:
            raise ValueError(reason)
        height, width = frame.shape[:2]
        prompt = None
        if mask is not None and np.asarray(mask).size > 0:
            mask, box_px = validate_mask(mask, height, width), None
        elif box is not None or len(points) or len(negative_points):
            box_px = validate_box(box, height, width) if box is not None else None
            points = validate_points(points, height, width, "point")
            negative_points = validate_points(negative_points, height, width, "negative point")
            if box_px is None and not points:
                raise ValueError("clicks need at least one positive point (negative points only say "
                                 "where the object is not)")
            clicks = bool(points or negative_points)
            use_encoder = clicks or self.config.box_init.method == ENCODER_BOX_INIT
            if use_encoder and self.prompt_encoder is not None:
                xywh = None if box_px is None else (box_px[0], box_px[1], box_px[2] - box_px[0], box_px[3] - box_px[1])
                prompt = Prompt((height, width), xywh, tuple(points), tuple(negative_points))
            elif clicks:
                raise ValueError("clicks need the learned prompt encoder (prompt_encoder is 'none' or "
                                 "not for this backbone); give a mask or a box")
        else:
            raise ValueError("give a non-empty mask, a box or a positive point")

        processed = self._process(frame)
        size = processed.size
        box_p = None if box_px is None else box_in_image(box_px, (height, width), size)
        with torch.inference_mode():
            mask_p = None if prompt is None else self._prompt_mask(prompt, box_p, processed)
            if mask_p is None and box_p is not None:
                mask_p = box_mask(processed.features, box_p, self._box_estimator_config(), seed=self.config.seed)
            elif mask_p is None:
                mask_p = resize_mask(mask, size, self.device)
            if box_p is None:
                self.method.add_object(object_id, processed.image, processed.features, mask_p)
            else:
                self.method.add_object_from_box(object_id, processed.image, processed.features, mask_p, box_p)
            self._evidence.add(object_id, processed.features, mask_p)
        self.objects.add(object_id)
        self._lost.discard(object_id)
        self._frame_size = (height, width)
        full = cv2.resize(mask_p.cpu().numpy().astype(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        return describe_mask(object_id, full, 1.0, True)

    def remove_object(self, object_id: int) -> None:
        """Stop tracking one object; KeyError if unknown."""
        if object_id not in self.objects:
            raise KeyError(self.objects.unknown(object_id))
        self.method.remove_object(object_id)
        self._evidence.remove(object_id)
        self._lost.discard(object_id)
        self.objects.remove(object_id)
        if not len(self.objects):
            self._frame_size = None

    def reset(self) -> None:
        """Forget every object."""
        for object_id in self.objects.ids:
            self.method.remove_object(object_id)
            self._evidence.remove(object_id)
        self._lost.clear()
        self.objects.clear()
        self._frame_size = None
        self._frames.clear()

    # ------------------------------------------------------------------ frames
    def step(self, frame: np.ndarray) -> FrameResult:
        """Segment every tracked object in the next frame of the stream."""
        self._check_frame(frame, allow_new_size=not len(self.objects))
        self.frame_index += 1
        height, width = frame.shape[:2]
        timer = StageTimer(self.device)
        ids = self.objects.ids
        if not ids:
            return FrameResult(self.frame_index, {}, np.zeros((height, width), np.uint16), timer.ms)
        with torch.inference_mode():
            with timer.stage("preprocess"):
                image, guide = self._to_tensor(frame)
            with timer.stage("backbone"):
                processed = ProcessedFrame(image, guide, self.extract(image))
            self._frames.put(frame, processed)
            with timer.stage("target_model"):
                raw = self.method.predict(processed.features)
            self.last_coarse = raw
            with timer.stage("refine"):
                probs = self.upsampler([raw[i] for i in ids], processed)
            with timer.stage("aggregation"):
                if self.upsampler.aggregation is None:
                    agg = aggregate(probs, self.method.aggregation, **self.method.aggregation_options())
                    threshold = self.method.label_threshold(self.config.score_threshold)
                else:
                    agg = aggregate(probs, self.upsampler.aggregation)
                    threshold = self.config.score_threshold
                cleanup = self.config.cleanup
                labels_p = clean_labels(label_argmax(agg, threshold).cpu().numpy(),
                                        cleanup.min_component_fraction, cleanup.max_hole_fraction)
                labels_t = torch.from_numpy(labels_p).to(agg.device)
                masks = {i: labels_t == k + 1 for k, i in enumerate(ids)}
                results, confidence, labels = self._describe(
                    ids, agg, labels_p, masks, (height, width), self.config.visibility,
                    self._calibration(processed.features, masks), self._lost)
                masks = self._after_visibility(results, masks, processed.features)
            with timer.stage("memory_update"):
                self.method.update(processed.features, {i: agg[k + 1] for k, i in enumerate(ids)}, masks,
                                   confidence)
        return FrameResult(self.frame_index, results, labels, timer.ms)

    def extract(self, image: torch.Tensor) -> Features:
        """Backbone features of a (N, 3, H, W) RGB [0, 255] image at processing resolution."""
        if self.device.type == "cpu" and image.shape[0] > 1:
            # on CPU one image at a time is about 2x faster per image than a batch (cache)
            parts = [self.extract(image[i:i + 1]).levels for i in range(image.shape[0])]
            return Features({s: torch.cat([p[s] for p in parts]) for s in parts[0]},
                            tuple(image.shape[-2:]))
        levels = self.backbone.run(image, self.config.backbone.channels_last, self._autocast())
        return Features(levels, tuple(image.shape[-2:]))

    # --------------------------------------------------------------- internals
    def _calibration(self, features: Features, masks: dict[int, torch.Tensor]):
        """(object id, mean probability) -> calibrated score of its mask in this frame."""
        weights = self.method.score_calibration
        return lambda object_id, probability: calibrated_score(
            probability, self._evidence.similarity(object_id, features, masks[object_id]), weights)

    def _after_visibility(self, results: dict[int, ObjectResult], masks: dict[int, torch.Tensor],
                          features: Features) -> dict[int, torch.Tensor]:
        """Track which objects are lost, refresh the appearance of confidently seen ones,
        and hand the method no pixels for objects not visible (it searches for them anew)."""
        self._lost = {i for i, r in results.items() if not r.visible}
        for object_id, result in results.items():
            if result.visible and result.score >= CONFIRM_SCORE:
                self._evidence.confirm(object_id, features, masks[object_id])
        return {i: m if results[i].visible else torch.zeros_like(m) for i, m in masks.items()}

    def _prompt_mask(self, prompt: Prompt, box_p: tuple[int, int, int, int] | None,
                     processed: ProcessedFrame) -> torch.Tensor | None:
        """The prompt encoder's first mask (processing resolution), bounded by the box
        (`box_p`, x0, y0, x1, y1 at processing resolution) when there is one; None when it
        found nothing in the box (the box estimator decides then); ValueError when clicks
        alone give nothing."""
        mask_p = encoded_mask(self.prompt_encoder, self.decoder, processed.features, prompt)
        if box_p is not None:  # a box bounds the object: nothing outside it
            x0, y0, x1, y1 = box_p
            inside = torch.zeros_like(mask_p)
            inside[y0:y1, x0:x1] = 1
            mask_p = mask_p * inside
        if mask_p.any():
            return mask_p
        if box_p is None:
            raise ValueError("the clicks gave an empty mask: click nearer the object's centre, add "
                             "points, or give a box or a mask")
        return None

    def _box_estimator_config(self) -> BoxInitConfig:
        """The training-free box estimator's settings (target_model stands in for the prompt
        encoder when that is not loaded or found nothing in the box)."""
        cfg = self.config.box_init
        return dataclasses.replace(cfg, method="target_model") if cfg.method == ENCODER_BOX_INIT else cfg

    def _load_learned(self, kind: str, setting: str) -> torch.nn.Module | None:
        """The learned part a setting names; the shipped one only for the backbone it was
        trained on (with another backbone it is left out, with a warning)."""
        path = learned_weights.resolve(kind, setting)
        if path is None:
            return None
        if setting == "shipped" and self.config.backbone.name != learned_weights.SHIPPED_BACKBONE:
            _log.warning("the shipped %s is for %s, not %s: running without it (train one with "
                         "`vos-ros train --backbone %s`)", kind, learned_weights.SHIPPED_BACKBONE,
                         self.config.backbone.name, self.config.backbone.name)
            return None
        return learned_weights.load(kind, path, self.config.backbone.name, self.backbone.channels).to(self.device)

    def processing_size(self, height: int, width: int) -> tuple[int, int]:
        if self.config.resolution == 0 or self.config.resolution == height:
            return height, width
        return self.config.resolution, max(16, int(round(width * self.config.resolution / height)))

    def _autocast(self):
        prec = self.config.precision
        if self.device.type != "cuda" or prec == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if prec == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def _check_frame(self, frame: np.ndarray, allow_new_size: bool) -> None:
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be an HxWx3 RGB array, got shape {getattr(frame, 'shape', None)}")
        if frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8, got {frame.dtype}")
        if frame.shape[0] < 16 or frame.shape[1] < 16:
            raise ValueError(f"frame {frame.shape[1]}x{frame.shape[0]} is too small (min 16x16)")
        if not allow_new_size and self._frame_size is not None and frame.shape[:2] != self._frame_size:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]} but objects were initialised "
                             f"on {self._frame_size[1]}x{self._frame_size[0]} frames; reset first")

    def _to_tensor(self, frame: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        ph, pw = self.processing_size(*frame.shape[:2])
        guide = frame if (ph, pw) == frame.shape[:2] else cv2.resize(frame, (pw, ph), interpolation=cv2.INTER_AREA)
        image = torch.from_numpy(np.ascontiguousarray(guide)).to(self.device)
        return image.permute(2, 0, 1)[None].float(), guide

    def _process(self, frame: np.ndarray) -> ProcessedFrame:
        """The processed frame, reusing the last step's when it is that frame."""
        processed = self._frames.get(frame)
        if processed is None:
            with torch.inference_mode():
                image, guide = self._to_tensor(frame)
                processed = ProcessedFrame(image, guide, self.extract(image))
            self._frames.put(frame, processed)
        return processed

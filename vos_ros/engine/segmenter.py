"""The session API: add objects at any frame, then `step` through a stream.

    seg = Segmenter(EngineConfig())
    seg.add_object(1, frame0, mask=mask0)        # or box=(x, y, w, h)
    for frame in stream:
        result = seg.step(frame)                 # per-object masks, scores, boxes, labels

Frames are HxWx3 uint8 RGB numpy arrays of one fixed size per session; masks are returned at
that size. The backbone runs once per frame for all objects; the method (FRTM, visual words,
matching) holds the per-object models.
"""
from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .aggregation import aggregate, label_argmax
from .backbones import build_backbone
from .box_init import BoxInitConfig, mask_from_box, validate_box, validate_points
from .config import EngineConfig
from .devices import resolve_device, retain_freed_heap
from .edge_refine import GuidedRefiner
from .features import Features
from .label_upscale import NearestUpscale
from .learned import weights as learned_weights
from .learned.layers import resize
from .learned.prompt_encoder import Prompt
from .mask_cleanup import clean_object_region
from .methods import build_method
from .results import FrameResult, ObjectResult, describe_mask

MAX_OBJECT_ID = 65535


class StageTimer:
    """Accumulates per-stage wall times (ms) of one call; synchronises CUDA for honesty."""

    def __init__(self, device: torch.device):
        self.device = device
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - start) * 1000.0


class Segmenter:
    """Semi-supervised video object segmentation of several independent objects."""

    def __init__(self, config: EngineConfig | None = None):
        self.config = config or EngineConfig()
        torch.manual_seed(self.config.seed)
        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)
        self.device = resolve_device(self.config.device)
        if self.config.retain_heap:
            retain_freed_heap()
        uses_refiner = self.config.method == "frtm" and self.config.frtm.refiner_weights is not None
        self.backbone = build_backbone(self.config.backbone, self.device, stride32=uses_refiner)
        self.method = build_method(self.config, self.extract, self.device)
        self.decoder = self._load_learned("decoder", self.config.decoder)
        self.prompt_encoder = self._load_learned("prompt_encoder", self.config.prompt_encoder)
        self.frame_index = -1
        self._frame_size: tuple[int, int] | None = None
        self._cache: tuple[np.ndarray, torch.Tensor, np.ndarray, Features] | None = None
        self._upscale: NearestUpscale | None = None  # working grid -> frame, for the current sizes
        #: the method's per-object coarse scores of the last step (read by the training tools)
        self.last_coarse: dict[int, torch.Tensor] = {}

    #: settings that define the models or the backbone; changing them needs a new Segmenter
    STRUCTURAL_SETTINGS = ("method", "device", "precision", "resolution", "seed", "threads", "backbone",
                           "decoder", "prompt_encoder",
                           "frtm.projection_channels", "frtm.feature_stride", "frtm.refiner_weights",
                           "frtm.memory_size", "frtm.memory_bfloat16", "visual_words.feature_stride",
                           "matching.feature_stride")

    def update_config(self, **changes) -> EngineConfig:
        """Apply run-time setting changes (dotted keys, e.g. `frtm.update_interval=4`) to the
        live session; tracked objects keep their models. Structural settings raise ValueError."""
        for key in changes:
            if any(key == s or key.startswith(s + ".") for s in self.STRUCTURAL_SETTINGS):
                raise ValueError(f"{key} cannot change on a running Segmenter (create a new one)")
        self.config = self.config.replace(**changes)
        self.method.reconfigure(self.config)
        return self.config

    # ----------------------------------------------------------------- objects
    @property
    def object_ids(self) -> list[int]:
        return self.method.object_ids()

    def add_object(self, object_id: int, frame: np.ndarray, mask: np.ndarray | None = None,
                   box: tuple[float, float, float, float] | None = None,
                   points: Sequence[tuple[float, float]] = (),
                   negative_points: Sequence[tuple[float, float]] = ()) -> ObjectResult:
        """Start tracking `object_id` from a mask (HxW, nonzero = object), a box
        (x, y, width, height) and/or clicks (x, y pixels: `points` on the object,
        `negative_points` off it) on `frame`. Re-using an id re-initialises that object.
        Raises ValueError with the reason on bad input; nothing changes then."""
        self._check_frame(frame, allow_new_size=not self.object_ids)
        if not isinstance(object_id, (int, np.integer)) or not 1 <= int(object_id) <= MAX_OBJECT_ID:
            raise ValueError(f"object id must be an integer in [1, {MAX_OBJECT_ID}], got {object_id!r}")
        object_id = int(object_id)
        if object_id not in self.object_ids and len(self.object_ids) >= self.config.max_objects:
            raise ValueError(f"already tracking the maximum of {self.config.max_objects} objects")
        height, width = frame.shape[:2]
        if mask is not None and np.asarray(mask).size > 0:
            mask = np.asarray(mask)
            if mask.ndim == 3 and mask.shape[2] == 1:
                mask = mask[:, :, 0]
            if mask.shape != (height, width):
                raise ValueError(f"mask is {mask.shape[1] if mask.ndim > 1 else '?'}x{mask.shape[0]}, "
                                 f"the frame is {width}x{height}: they must match")
            if not np.isfinite(mask).all() if mask.dtype.kind == "f" else False:
                raise ValueError("mask contains NaN/inf values")
            if not mask.any():
                raise ValueError("mask is empty (no nonzero pixel)")
            box_px = None
        elif box is not None or len(points) or len(negative_points):
            box_px = validate_box(box, height, width) if box is not None else None
            points = validate_points(points, height, width, "point")
            negative_points = validate_points(negative_points, height, width, "negative point")
            if box is None and not points:
                raise ValueError("clicks need at least one positive point (negative points only "
                                 "say where the object is not)")
            if (points or negative_points) and self.prompt_encoder is None:
                raise ValueError("clicks need the learned prompt encoder (prompt_encoder is 'none'); "
                                 "give a mask or a box")
        else:
            raise ValueError("give a non-empty mask, a box or a positive point")

        image, guide, features = self._prepare(frame)
        ph, pw = features.image_size
        if box_px is not None or points:
            if self.prompt_encoder is not None:
                with torch.inference_mode():
                    mask_p = self._mask_from_prompt(features, Prompt(
                        (height, width), _xywh(box_px), tuple(points), tuple(negative_points)))
                if not mask_p.any():
                    raise ValueError("the prompt gave an empty mask: give a tighter box, more "
                                     "points or a mask")
                with torch.inference_mode():
                    self.method.add_object(object_id, image, features, mask_p)
                self._frame_size = (height, width)
                full = cv2.resize(mask_p.cpu().numpy().astype(np.uint8), (width, height),
                                  interpolation=cv2.INTER_NEAREST).astype(bool)
                return describe_mask(object_id, full, 1.0, True)
            sx, sy = pw / width, ph / height
            pbox = (int(box_px[0] * sx), int(box_px[1] * sy),
                    max(int(box_px[0] * sx) + 1, int(round(box_px[2] * sx))),
                    max(int(box_px[1] * sy) + 1, int(round(box_px[3] * sy))))
            with torch.inference_mode():
                mask_p = mask_from_box(features.fused(8 if 8 in features.levels else 16), pbox, (ph, pw),
                                       BoxInitConfig(method=self.config.box_init), seed=self.config.seed)
        else:
            mask_p = self._resize_mask(mask != 0, (ph, pw))
        with torch.inference_mode():
            self.method.add_object(object_id, image, features, mask_p)
        self._frame_size = (height, width)
        full = cv2.resize(mask_p.cpu().numpy().astype(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        return describe_mask(object_id, full, 1.0, True)

    def remove_object(self, object_id: int) -> None:
        """Stop tracking one object; KeyError if unknown."""
        if object_id not in self.object_ids:
            raise KeyError(f"unknown object id {object_id}; tracking {self.object_ids}")
        self.method.remove_object(object_id)
        if not self.object_ids:
            self._frame_size = None

    def reset(self) -> None:
        """Forget every object."""
        for object_id in self.object_ids:
            self.method.remove_object(object_id)
        self._frame_size = None
        self._cache = None

    # ------------------------------------------------------------------ frames
    def step(self, frame: np.ndarray) -> FrameResult:
        """Segment every tracked object in the next frame of the stream."""
        self._check_frame(frame, allow_new_size=not self.object_ids)
        self.frame_index += 1
        height, width = frame.shape[:2]
        timer = StageTimer(self.device)
        ids = self.object_ids
        if not ids:
            return FrameResult(self.frame_index, {}, np.zeros((height, width), np.uint16), timer.ms)
        with torch.inference_mode():
            with timer.stage("preprocess"):
                image, guide = self._to_tensor(frame)
            with timer.stage("backbone"):
                features = self.extract(image)
            self._cache = (frame, image, guide, features)
            with timer.stage("target_model"):
                raw = self.method.predict(features)
            self.last_coarse = raw
            with timer.stage("refine"):
                if self.decoder is not None:
                    probs = self._decode([raw[i] for i in ids], features)
                else:
                    probs = self._upsample([raw[i] for i in ids], features.image_size, guide)
            with timer.stage("aggregation"):
                # decoded maps are independent per-object probabilities: soft aggregation
                mode = "soft" if self.decoder is not None else self.method.aggregation
                agg = aggregate(probs, mode, self.config.matching.background_threshold)
                # VideoMatch's fusion has its own object threshold (c2) in the aggregation
                threshold = 0.0 if mode == "argmax" else self.config.score_threshold
                labels_p = self._clean(label_argmax(agg, threshold).cpu().numpy())
                labels_t = torch.from_numpy(labels_p).to(agg.device)
                masks = {i: labels_t == k + 1 for k, i in enumerate(ids)}
                results, confidence, labels = self._describe(ids, agg, labels_p, masks, (height, width))
            with timer.stage("memory_update"):
                self.method.update(features, {i: agg[k + 1] for k, i in enumerate(ids)}, masks, confidence,
                                   self.frame_index)
        return FrameResult(self.frame_index, results, labels, timer.ms)

    def extract(self, image: torch.Tensor) -> Features:
        """Backbone features of a (N, 3, H, W) RGB [0, 255] image at processing resolution."""
        if self.device.type == "cpu" and image.shape[0] > 1:
            # on CPU one image at a time is about 2x faster per image than a batch (cache)
            parts = [self.extract(image[i:i + 1]).levels for i in range(image.shape[0])]
            return Features({s: torch.cat([p[s] for p in parts]) for s in parts[0]},
                            tuple(image.shape[-2:]))
        x = self.backbone.normalize(image)
        if self.config.backbone.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            levels = self.backbone(x)
        levels = {s: t.float().contiguous() for s, t in levels.items()}
        return Features(levels, tuple(image.shape[-2:]))

    # --------------------------------------------------------------- internals
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

    def _prepare(self, frame: np.ndarray) -> tuple[torch.Tensor, np.ndarray, Features]:
        """Tensor, guide and features of `frame`, reusing the last step's if it is that frame."""
        if self._cache is not None and self._cache[0] is frame:
            return self._cache[1], self._cache[2], self._cache[3]
        with torch.inference_mode():
            image, guide = self._to_tensor(frame)
            features = self.extract(image)
        self._cache = (frame, image, guide, features)
        return image, guide, features

    def _resize_mask(self, mask: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        ph, pw = size
        small = cv2.resize(mask.astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA)
        out = small > 0.5
        if not out.any():  # tiny object: keep every touched pixel
            out = small > 0
        return torch.from_numpy(out.astype(np.float32)).to(self.device)

    def _load_learned(self, kind: str, setting: str) -> torch.nn.Module | None:
        path = learned_weights.resolve(kind, setting)
        if path is None:
            return None
        return learned_weights.load(kind, path, self.config.backbone.name, self.backbone.channels).to(self.device)

    def _decode(self, raw: list[torch.Tensor], features: Features) -> torch.Tensor:
        """Per-object coarse probabilities -> (K, h/4, w/4) decoded probabilities, each object
        decoded only in its region (where its scores reach `decoder_region_floor`, plus a
        margin); outside it the probability is 0."""
        levels = features.levels
        h8, w8 = levels[8].shape[-2:]
        h4, w4 = levels[4].shape[-2:]
        encoded = self.decoder.encode(levels)
        out = torch.zeros((len(raw), h4, w4), device=levels[4].device)
        for k, p in enumerate(raw):
            scores = resize(p.reshape(1, 1, *p.shape[-2:]).float(), (h8, w8))
            window = _region(scores[0, 0] >= self.config.decoder_region_floor, (h8, w8))
            if window is None:
                continue
            y0, y1, x0, x1 = window  # stride-8 cells, even (stride-16 aligned)
            crop = tuple(g[..., y0 * 8 // s:y1 * 8 // s, x0 * 8 // s:x1 * 8 // s]
                         for g, s in zip(encoded, (16, 8, 4)))
            logits = self.decoder.decode(crop, scores[..., y0:y1, x0:x1])
            out[k, y0 * 2:y0 * 2 + logits.shape[-2], x0 * 2:x0 * 2 + logits.shape[-1]] = torch.sigmoid(logits[0, 0])
        return out

    def _mask_from_prompt(self, features: Features, prompt: Prompt) -> torch.Tensor:
        """The first mask (processing resolution, float {0, 1}) the prompt encoder and the
        decoder make of a box and/or clicks."""
        levels = features.levels
        scores = self.prompt_encoder(levels, self.prompt_encoder.prompt_maps([prompt], levels))
        if self.prompt_encoder.shape.decoded and self.decoder is None:
            raise ValueError("this prompt encoder needs the mask decoder (decoder is 'none')")
        if self.prompt_encoder.shape.decoded:
            logits = self.decoder(levels, scores)
        else:
            logits = torch.logit(resize(scores, levels[4].shape[-2:]), 1e-4)
        return (resize(logits, features.image_size)[0, 0] > 0).float()

    def _upsample(self, raw: list[torch.Tensor], size: tuple[int, int], guide: np.ndarray) -> torch.Tensor:
        """Per-object probabilities (any resolution) -> (K, h, w) output maps. Coarse maps are
        edge-refined by the guided filter and kept at its working resolution (height
        `refine.guided_height`: labels are decided there and resized to the frame), or, without
        the filter, upsampled bilinearly to the processing resolution `size`."""
        if all(tuple(p.shape[-2:]) == size for p in raw):
            return torch.stack([p.float() for p in raw])
        coarse = torch.stack([p.reshape(p.shape[-2:]).float() for p in raw])
        if self.config.refine.guided_filter:
            rc = self.config.refine
            scale = min(1.0, rc.guided_height / size[0]) if rc.guided_height > 0 else 1.0
            refiner = GuidedRefiner(guide, rc.guided_radius, rc.guided_eps, scale, rc.guided_gray, rc.guided_floor)
            return refiner.refine(coarse, full_size=False)
        return F.interpolate(coarse[None], size=size, mode="bilinear", align_corners=False)[0]

    def _clean(self, labels: np.ndarray) -> np.ndarray:
        """Per-object clean-up of the (H, W) uint8 label map: specks removed, small holes
        filled (with background pixels only)."""
        cfg = self.config.cleanup
        if cfg.min_component_fraction <= 0 and cfg.max_hole_fraction <= 0:
            return labels
        out = labels.copy()
        for k in np.flatnonzero(np.bincount(labels.ravel()))[1:]:
            mask = labels == k
            window, kept = clean_object_region(mask, cfg.min_component_fraction, cfg.max_hole_fraction)
            region, was_background = out[window], labels[window] == 0
            region[mask[window] & ~kept] = 0
            region[kept & was_background] = k
        return out

    def _describe(self, ids: list[int], agg: torch.Tensor, labels_p: np.ndarray,
                  masks: dict[int, torch.Tensor], frame_size: tuple[int, int]
                  ) -> tuple[dict[int, ObjectResult], dict[int, float], np.ndarray]:
        """Per-object results, confidences and the (H, W) uint16 id map at frame size from
        the working-resolution label map (index k+1 = ids[k]) and each object's pixels of it
        (`masks`, on agg's device). Boxes, areas and centroids are those of the frame-size
        masks, computed exactly on the working grid."""
        ph, pw = labels_p.shape
        vis = self.config.visibility
        if self._upscale is None or self._upscale.grid_size != (ph, pw) \
                or self._upscale.frame_size != frame_size:
            self._upscale = NearestUpscale((ph, pw), frame_size)
        counts = np.bincount(labels_p.ravel(), minlength=len(ids) + 1)
        lookup = np.zeros(len(ids) + 1, np.uint16)
        scores: dict[int, float] = {}
        confidence: dict[int, float] = {}
        for k, object_id in enumerate(ids):
            area_p = int(counts[k + 1])
            scores[object_id] = float((agg[k + 1] * masks[object_id]).sum()) / area_p if area_p else 0.0
            visible = area_p >= vis.min_area_fraction * ph * pw and scores[object_id] >= vis.min_score
            confidence[object_id] = scores[object_id] if visible else 0.0
            lookup[k + 1] = object_id if visible else 0
        labels = self._upscale.upscale(lookup[labels_p])
        results = {}
        for k, object_id in enumerate(ids):
            stats = self._upscale.stats(labels_p == k + 1) if lookup[k + 1] else None
            if stats is None or stats.area == 0:
                results[object_id] = ObjectResult.hidden(object_id, frame_size, scores[object_id])
            else:
                results[object_id] = ObjectResult(object_id, labels == object_id, scores[object_id], True,
                                                  stats.box, stats.area, stats.centroid)
        return results, confidence, labels


def _xywh(box: tuple[int, int, int, int] | None) -> tuple[float, float, float, float] | None:
    return None if box is None else (box[0], box[1], box[2] - box[0], box[3] - box[1])


def _region(active: torch.Tensor, size: tuple[int, int], margin: float = 0.5,
            min_margin: int = 4) -> tuple[int, int, int, int] | None:
    """Window (y0, y1, x0, x1) in stride-8 cells around the active cells: their bounding box
    grown by `margin` of its size (at least `min_margin` cells) on each side, snapped to even
    cells (stride 16) and clipped to `size`; None when nothing is active."""
    rows = torch.nonzero(active.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(active.any(dim=0)).flatten()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    my = max(min_margin, int(margin * (y1 - y0)))
    mx = max(min_margin, int(margin * (x1 - x0)))
    h, w = size
    y0, x0 = max(0, y0 - my) // 2 * 2, max(0, x0 - mx) // 2 * 2
    y1, x1 = min(h, (y1 + my + 1) // 2 * 2), min(w, (x1 + mx + 1) // 2 * 2)
    return y0, max(y1, y0 + 2), x0, max(x1, x0 + 2)

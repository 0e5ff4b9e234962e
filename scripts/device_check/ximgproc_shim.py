"""`cv2.ximgproc.guidedFilter` / `createGuidedFilter` for an OpenCV without the contrib
modules: the GPU machine's image has opencv-python-headless, and the contrib wheel (69 MB)
is larger than what can travel there. He et al.'s guided filter (grey or colour guide,
normalised box filters with BORDER_REFLECT, as ximgproc), float32 in and out.
test/test_device_check.py checks it against the real cv2.ximgproc (max abs diff < 1e-4).

Installed only by scripts/device_check.sh, and only where `cv2.ximgproc` is missing (the
sitecustomize next to this file); the results JSON then says `"guided_filter": "shim"`.
"""
from __future__ import annotations

import cv2
import numpy as np


def _box(img: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(img, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1), normalize=True,
                         borderType=cv2.BORDER_REFLECT)


class GuidedFilter:
    def __init__(self, guide: np.ndarray, radius: int, eps: float):
        guide = np.asarray(guide, np.float32)
        self._r, self._eps = int(radius), float(eps)
        if guide.ndim == 2:
            guide = guide[:, :, None]
        self._g = [np.ascontiguousarray(guide[:, :, c]) for c in range(guide.shape[2])]
        r = self._r
        self._mean = [_box(g, r) for g in self._g]
        n = len(self._g)
        if n == 1:
            var = _box(self._g[0] * self._g[0], r) - self._mean[0] ** 2
            self._inv = 1.0 / (var + self._eps)
        else:
            # per-pixel covariance Sigma + eps I, inverted in closed form (symmetric 3x3)
            cov = [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    cov[i][j] = cov[j][i] = _box(self._g[i] * self._g[j], r) - self._mean[i] * self._mean[j]
            for i in range(n):
                cov[i][i] = cov[i][i] + self._eps
            a, b, c = cov[0][0], cov[0][1], cov[0][2]
            d, e, f = cov[1][1], cov[1][2], cov[2][2]
            i00, i01, i02 = d * f - e * e, c * e - b * f, b * e - c * d
            i11, i12, i22 = a * f - c * c, b * c - a * e, a * d - b * b
            det = a * i00 + b * i01 + c * i02
            self._inv = [[x / det for x in row] for row in ((i00, i01, i02), (i01, i11, i12), (i02, i12, i22))]

    def filter(self, src: np.ndarray, dst: np.ndarray | None = None, dDepth: int = -1) -> np.ndarray:
        p = np.asarray(src, np.float32)
        r = self._r
        mean_p = _box(p, r)
        n = len(self._g)
        cov_ip = [_box(g * p, r) - m * mean_p for g, m in zip(self._g, self._mean)]
        if n == 1:
            a = [cov_ip[0] * self._inv]
        else:
            a = [sum(self._inv[i][j] * cov_ip[j] for j in range(n)) for i in range(n)]
        b = mean_p - sum(ak * m for ak, m in zip(a, self._mean))
        out = _box(b, r) + sum(_box(ak, r) * g for ak, g in zip(a, self._g))
        return out.astype(np.float32)


def createGuidedFilter(guide: np.ndarray, radius: int, eps: float) -> GuidedFilter:  # noqa: N802 (cv2's name)
    return GuidedFilter(guide, radius, eps)


def guidedFilter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float, dst=None,  # noqa: N802
                 dDepth: int = -1) -> np.ndarray:
    return GuidedFilter(guide, radius, eps).filter(src)

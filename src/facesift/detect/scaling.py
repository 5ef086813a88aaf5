"""Run a fixed-window detector at the scale that finds faces down to ``min_face_size``.

dlib's detectors find faces of about 80 px and larger. Rather than dlib's pyramid upsampling of the
whole image, we resize once to the scale where a ``min_face_size`` face becomes 80 px (capped so the
long side stays under ``max_detect_side``), detect there, and map boxes back to the original.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from facesift.types import BoundingBox

DETECTOR_WINDOW_PX = 80


def detection_scale(height: int, width: int, min_face_size: int, max_detect_side: int) -> float:
    scale = DETECTOR_WINDOW_PX / min_face_size
    return min(scale, max_detect_side / max(height, width))


def resize_for_detection(rgb: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def box_to_original(
    left: float, top: float, right: float, bottom: float, scale: float, height: int, width: int
) -> BoundingBox:
    return BoundingBox(
        left=max(0, round(left / scale)),
        top=max(0, round(top / scale)),
        right=min(width, round(right / scale)),
        bottom=min(height, round(bottom / scale)),
    )


def reading_order(box: BoundingBox) -> tuple[int, int]:
    return (box.left, box.top)

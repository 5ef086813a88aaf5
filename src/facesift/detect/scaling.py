"""Run a fixed-window detector at the scale that finds faces down to ``min_face_size``.

A sliding-window detector finds faces from a smallest size up (its window; larger faces are found on
the coarser levels of its image pyramid). Rather than dlib's pyramid upsampling of the whole image,
we resize once to the scale where a ``min_face_size`` face becomes the smallest face the detector
finds reliably (capped so the long side stays under ``max_detect_side``), detect there, and map
boxes back to the original. Detection cost grows with the square of that scale, so the smallest
reliable size is measured per detector rather than guessed (bench/detector_min_face.py).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from facesift.types import BoundingBox


def detection_scale(
    height: int, width: int, min_face_size: int, max_detect_side: int, smallest_face_px: int
) -> float:
    """Scale at which a ``min_face_size`` face becomes ``smallest_face_px``, the smallest face
    (box side, as the detector reports boxes) the detector finds reliably at its native scale."""
    scale = smallest_face_px / min_face_size
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

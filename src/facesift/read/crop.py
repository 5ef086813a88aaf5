"""Face crops from decoded pixels, for people to look at (never for matching)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from facesift.types import BoundingBox

PROBE_CROP_SIDE = 240  # px: enough for a reviewer to compare features, little else of the photo


def face_crop_jpeg(rgb: np.ndarray, box: BoundingBox, side: int = PROBE_CROP_SIDE) -> bytes:
    """The face in ``box`` with a third of its size as margin, at most ``side`` px, as JPEG."""
    height, width = rgb.shape[:2]
    margin = max(box.width, box.height) // 3
    region = rgb[
        max(0, box.top - margin) : min(height, box.bottom + margin),
        max(0, box.left - margin) : min(width, box.right + margin),
    ]
    crop = Image.fromarray(np.ascontiguousarray(region))
    crop.thumbnail((side, side))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()

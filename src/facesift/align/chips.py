"""Landmarks → aligned face chip, and a sharpness measure of the chip.

The dlib ResNet was trained on chips made by ``dlib.get_face_chip`` (a similarity transform that
puts the landmarks where dlib's mean face has them); using the same function keeps our embeddings
identical to the model's published evaluation setting.
"""

from __future__ import annotations

import dlib
import numpy as np

from facesift.types import BoundingBox, ChipSpec, Landmarks


def aligned_chip(
    rgb: np.ndarray, box: BoundingBox, landmarks: Landmarks, spec: ChipSpec
) -> np.ndarray:
    """Return a ``spec.size`` square RGB chip with the face aligned as the embedder expects."""
    rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
    points = dlib.points([dlib.point(round(x), round(y)) for x, y in landmarks.points])
    shape = dlib.full_object_detection(rect, points)
    return np.asarray(dlib.get_face_chip(rgb, shape, size=spec.size, padding=spec.padding))


def sharpness(chip: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the chip's luma: low values mean blur."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    laplacian = (
        -4.0 * grey[1:-1, 1:-1]
        + grey[:-2, 1:-1]
        + grey[2:, 1:-1]
        + grey[1:-1, :-2]
        + grey[1:-1, 2:]
    )
    return float(laplacian.var())

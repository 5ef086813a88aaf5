"""Landmarks for dlib detectors: dlib's 5-point shape predictor on the full-resolution image."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from facesift.models import SHAPE_PREDICTOR_5, dlib_module, model_path
from facesift.types import BoundingBox, Landmarks

if TYPE_CHECKING:
    import dlib

_lock = threading.Lock()
_predictor: dlib.shape_predictor | None = None


def five_point_predictor() -> dlib.shape_predictor:
    """Loaded once per process: the file is 9 MB and loading takes ~50 ms."""
    global _predictor
    with _lock:
        if _predictor is None:
            _predictor = dlib_module().shape_predictor(str(model_path(SHAPE_PREDICTOR_5)))
        return _predictor


def landmarks_for(predictor: dlib.shape_predictor, rgb: np.ndarray, box: BoundingBox) -> Landmarks:
    rect = dlib_module().rectangle(box.left, box.top, box.right, box.bottom)
    shape = predictor(rgb, rect)
    points = tuple((float(shape.part(i).x), float(shape.part(i).y)) for i in range(shape.num_parts))
    return Landmarks(points=points, scheme=f"dlib-{shape.num_parts}")

"""dlib's CNN (MMOD) face detector: finds more non-frontal faces than HOG, ~10x slower on CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facesift.detect.base import register_detector
from facesift.detect.dlib_common import five_point_predictor, landmarks_for
from facesift.detect.scaling import (
    box_to_original,
    detection_scale,
    reading_order,
    resize_for_detection,
)
from facesift.models import MMOD_FACE_DETECTOR, dlib_module, model_path
from facesift.timing import measure
from facesift.types import Detection

if TYPE_CHECKING:
    import dlib

# dlib's MMOD face detector is documented to find faces of about 80 px and up (not measured here).
CNN_SMALLEST_FACE_PX = 80


class DlibCnnDetector:
    name = "dlib-cnn"
    smallest_face_px = CNN_SMALLEST_FACE_PX

    def __init__(
        self,
        *,
        min_face_size: int = 40,
        max_detect_side: int = 1600,
        detector: dlib.cnn_face_detection_model_v1 | None = None,
        predictor: dlib.shape_predictor | None = None,
    ):
        self.min_face_size = min_face_size
        # The CNN's cost grows with pixels much faster than HOG's; cap its working size lower.
        self.max_detect_side = min(max_detect_side, 1024)
        self._detector = detector or dlib_module().cnn_face_detection_model_v1(
            str(model_path(MMOD_FACE_DETECTOR))
        )
        self._predictor = predictor or five_point_predictor()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        scale = detection_scale(
            height, width, self.min_face_size, self.max_detect_side, self.smallest_face_px
        )
        with measure("detect"):
            small = resize_for_detection(rgb, scale)
            found_faces = self._detector(small, 0)
        detections = []
        for found in found_faces:
            rect = found.rect
            box = box_to_original(
                rect.left(), rect.top(), rect.right(), rect.bottom(), scale, height, width
            )
            if box.width < 2 or box.height < 2:
                continue
            with measure("landmarks"):
                landmarks = landmarks_for(self._predictor, rgb, box)
            detections.append(
                Detection(box=box, landmarks=landmarks, score=float(found.confidence))
            )
        return sorted(detections, key=lambda d: reading_order(d.box))


register_detector(DlibCnnDetector.name, DlibCnnDetector)

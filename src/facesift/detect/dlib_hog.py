"""dlib's HOG + linear SVM frontal face detector: fast on CPU, frontal and near-frontal faces."""

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
from facesift.models import dlib_module
from facesift.timing import measure
from facesift.types import Detection

if TYPE_CHECKING:
    import dlib

# Measured (bench/detector_min_face.py, 200 LFW faces shrunk step by step): at its native scale the
# HOG detector finds 99-100% of faces whose box is 64 px or more, 93-95% at 58-62 px and 31% at
# 50 px. Detecting at 64 px instead of the 80 px window would scan 1.56x fewer pixels, and LFW
# verification on folds 1-2 did not suffer. The default stays at the window size until a full
# LFW evaluation confirms the published accuracy and calibration (docs/scaling-ingest.md).
HOG_SMALLEST_FACE_PX = 80


class DlibHogDetector:
    name = "dlib-hog"
    smallest_face_px = HOG_SMALLEST_FACE_PX

    def __init__(
        self,
        *,
        min_face_size: int = 40,
        max_detect_side: int = 1600,
        detector: dlib.fhog_object_detector | None = None,
        predictor: dlib.shape_predictor | None = None,
    ):
        self.min_face_size = min_face_size
        self.max_detect_side = max_detect_side
        self._detector = detector or dlib_module().get_frontal_face_detector()
        self._predictor = predictor or five_point_predictor()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        scale = detection_scale(
            height, width, self.min_face_size, self.max_detect_side, self.smallest_face_px
        )
        with measure("detect"):
            small = resize_for_detection(rgb, scale)
            rects, scores, _ = self._detector.run(small, 0, 0.0)
        detections = []
        for rect, score in zip(rects, scores, strict=True):
            box = box_to_original(
                rect.left(), rect.top(), rect.right(), rect.bottom(), scale, height, width
            )
            if box.width < 2 or box.height < 2:
                continue
            with measure("landmarks"):
                landmarks = landmarks_for(self._predictor, rgb, box)
            detections.append(Detection(box=box, landmarks=landmarks, score=float(score)))
        return sorted(detections, key=lambda d: reading_order(d.box))


register_detector(DlibHogDetector.name, DlibHogDetector)

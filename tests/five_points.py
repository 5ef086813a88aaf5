"""A real detector giving true 5-point landmarks (eye centres, nose tip, mouth corners, in YuNet's
and ArcFace's order), for tests of the 5-point templates: dlib's HOG with the 68-point shape
predictor, reduced to those 5 points by ``align.chips.arcface_points``."""

from __future__ import annotations

from dataclasses import replace

import dlib
import numpy as np

from facesift.align.chips import arcface_points
from facesift.detect.dlib_hog import DlibHogDetector
from facesift.models import SHAPE_PREDICTOR_68, model_path
from facesift.types import Detection, Landmarks


class FivePointHogDetector:
    name = "dlib-hog-68-to-5"
    landmark_scheme = "arcface-5"

    def __init__(self):
        self._hog = DlibHogDetector(
            min_face_size=40,
            max_detect_side=1600,
            predictor=dlib.shape_predictor(str(model_path(SHAPE_PREDICTOR_68))),
        )

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        detections = []
        for detection in self._hog.detect(rgb):
            points, _ = arcface_points(detection.landmarks)
            landmarks = Landmarks(tuple((float(x), float(y)) for x, y in points), "arcface-5")
            detections.append(replace(detection, landmarks=landmarks))
        return detections

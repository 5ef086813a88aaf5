"""Detection: find every face in an image, with landmarks for alignment."""

from facesift.detect.base import Detector, available_detectors, create_detector

__all__ = ["Detector", "available_detectors", "create_detector"]

"""The per-image pipeline: decode → detect → align → embed. Used by ingest workers and by search."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facesift.align import aligned_chip, sharpness
from facesift.align.chips import FIVE_POINT_SCHEMES, landmarks_fit
from facesift.detect import Detector, create_detector
from facesift.embed import Embedder, create_embedder
from facesift.errors import ConfigError
from facesift.ingest.decode import decode_image, read_and_decode
from facesift.timing import measure
from facesift.types import AnalysedFace, AnalysedImage, Quality


class FaceAnalyser:
    """Finds and embeds every face in an image. Heavy models are injected or built once here."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        max_image_pixels: int,
        max_file_bytes: int = 200 * 2**20,
    ):
        # dlib's chips are made from dlib's own landmark layout, and reid-0095's from a true
        # 5-point layout (eyes, nose tip, mouth corners); refuse up front rather than fail on
        # every image.
        scheme = getattr(detector, "landmark_scheme", "dlib-5")
        if not landmarks_fit(embedder.chip.template, scheme):
            if embedder.chip.template == "dlib":
                wanted, advice = "dlib's landmarks", "use a dlib detector, or onnx-arcface"
            else:
                wanted = f"5 landmarks ({', '.join(FIVE_POINT_SCHEMES)})"
                advice = "use the yunet detector (or onnx-scrfd)"
            raise ConfigError(
                f"embedder {embedder.name} aligns on {wanted}, but detector "
                f"{detector.name} gives {scheme}: {advice}"
            )
        self.detector = detector
        self.embedder = embedder
        self.max_image_pixels = max_image_pixels
        self.max_file_bytes = max_file_bytes

    @classmethod
    def from_settings(cls, settings) -> FaceAnalyser:
        return cls(
            detector=create_detector(
                settings.detector,
                min_face_size=settings.min_face_size,
                max_detect_side=settings.max_detect_side,
                settings=settings,
            ),
            embedder=create_embedder(settings.embedder, settings),
            max_image_pixels=settings.max_image_pixels,
            max_file_bytes=settings.max_file_bytes,
        )

    def analyse_pixels(self, rgb: np.ndarray) -> tuple[AnalysedFace, ...]:
        detections = self.detector.detect(rgb)
        if not detections:
            return ()
        with measure("align"):
            chips = [aligned_chip(rgb, d.box, d.landmarks, self.embedder.chip) for d in detections]
            sharpnesses = [sharpness(chip) for chip in chips]
        with measure("embed"):
            # One call for all faces of the image: dlib runs them through the network as a batch.
            vectors = self.embedder.embed(chips)
        return tuple(
            AnalysedFace(
                detection=detection,
                quality=Quality(
                    face_size=min(detection.box.width, detection.box.height),
                    sharpness=chip_sharpness,
                ),
                embedding=vector,
            )
            for detection, chip_sharpness, vector in zip(
                detections, sharpnesses, vectors, strict=True
            )
        )

    def analyse_bytes(self, data: bytes, name: str) -> AnalysedImage:
        rgb = decode_image(data, name, self.max_image_pixels)
        return self._analysed(name, data, rgb)

    def analyse_file(self, path: Path) -> AnalysedImage:
        data, rgb = read_and_decode(path, self.max_image_pixels, self.max_file_bytes)
        return self._analysed(str(path), data, rgb)

    def _analysed(self, name: str, data: bytes, rgb: np.ndarray) -> AnalysedImage:
        height, width = rgb.shape[:2]
        return AnalysedImage(
            path=name,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            width=width,
            height=height,
            faces=self.analyse_pixels(rgb),
        )


class AnalyserPool:
    """Analysers lent to one thread at a time. dlib's networks keep per-call state inside the
    model object, so two threads must never run the same analyser at once; a server analysing
    probes on several threads borrows one each, up to ``size`` (more wait their turn)."""

    def __init__(self, settings, size: int):
        self.settings = settings
        self.size = max(1, size)
        self._idle: queue.LifoQueue[FaceAnalyser] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    @contextmanager
    def borrowed(self) -> Iterator[FaceAnalyser]:
        analyser = self._take()
        try:
            yield analyser
        finally:
            self._idle.put(analyser)

    def _take(self) -> FaceAnalyser:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            create = self._created < self.size
            if create:
                self._created += 1
        if create:
            return FaceAnalyser.from_settings(self.settings)
        return self._idle.get()

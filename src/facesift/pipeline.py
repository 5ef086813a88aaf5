"""The per-image pipeline: decode → detect → align → embed. Used by ingest workers and by search."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facesift.align import aligned_chip, sharpness
from facesift.align.chips import FIVE_POINT_SCHEMES, landmarks_fit
from facesift.detect import Detector, create_detector
from facesift.embed import Embedder, create_embedder
from facesift.errors import ConfigError
from facesift.read.decode import decode_image, read_and_decode
from facesift.timing import measure
from facesift.types import AnalysedFace, AnalysedImage, Detection, Quality


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
        found = self._detect_and_align(rgb)
        if not found.chips:
            return ()
        with measure("embed"):
            # One call for all faces of the image: the embedders run them as a batch.
            vectors = self.embedder.embed(found.chips)
        return found.faces(vectors)

    def analyse_bytes(self, data: bytes, name: str) -> AnalysedImage:
        return self.analyse_with_pixels(data, name)[0]

    def analyse_file(self, path: Path) -> AnalysedImage:
        return self.analyse_with_pixels(path)[0]

    def analyse_with_pixels(
        self, probe: Path | bytes, name: str | None = None
    ) -> tuple[AnalysedImage, np.ndarray]:
        """The analysis of a file or of bytes, and the upright RGB pixels it was made from."""
        if isinstance(probe, bytes):
            name = name or "<upload>"
            rgb = decode_image(probe, name, self.max_image_pixels)
            return self._analysed(name, probe, rgb, self.analyse_pixels(rgb)), rgb
        data, rgb = read_and_decode(Path(probe), self.max_image_pixels, self.max_file_bytes)
        return self._analysed(str(probe), data, rgb, self.analyse_pixels(rgb)), rgb

    def analyse_files(self, paths: list[Path]) -> list[AnalysedImage | Exception]:
        """Analyse several files, embedding the faces of all of them in one call; a file that
        fails gives its exception in its place and leaves the others alone.

        One call because reid-0095 runs fixed batches of 16 at 0.66x the time per face of one
        at a time (docs/benchmarks.md), and most photos hold one face. The vectors are the
        same as image by image: batch 16 and batch 1 agree bit for bit (embed/reid_0095.py)."""
        results: list[AnalysedImage | Exception | None] = []
        pending: list[tuple[int, AnalysedImage, _FoundFaces]] = []
        for path in paths:
            try:
                pending.append((len(results), *self._prepared(path)))
                results.append(None)
            except Exception as error:  # reported per file by the caller
                results.append(error)
        chips = [chip for *_, found in pending for chip in found.chips]
        try:
            with measure("embed"):
                vectors = self.embedder.embed(chips) if chips else np.zeros((0, 0), np.float32)
        except Exception:
            # Something in one image's chips failed the batch: embed image by image, so only
            # that image reports the failure.
            vectors = None
        start = 0
        for slot, image, found in pending:
            try:
                if vectors is not None:
                    mine = vectors[start : start + len(found.chips)]
                    start += len(found.chips)
                elif found.chips:
                    with measure("embed"):
                        mine = self.embedder.embed(found.chips)
                else:
                    mine = np.zeros((0, 0), np.float32)
                results[slot] = replace(image, faces=found.faces(mine))
            except Exception as error:
                results[slot] = error
        return [result for result in results if result is not None]

    def _prepared(self, path: Path) -> tuple[AnalysedImage, _FoundFaces]:
        """The file's record (faces still to come) and its chips. Only the chips wait for the
        batch: the file's bytes and pixels are let go here (16 decoded 50-megapixel photos
        would hold 2.4 GB)."""
        data, rgb = read_and_decode(path, self.max_image_pixels, self.max_file_bytes)
        return self._analysed(str(path), data, rgb, ()), self._detect_and_align(rgb)

    def _detect_and_align(self, rgb: np.ndarray) -> _FoundFaces:
        detections = self.detector.detect(rgb)
        if not detections:
            return _FoundFaces((), [], [])
        with measure("align"):
            chips = [aligned_chip(rgb, d.box, d.landmarks, self.embedder.chip) for d in detections]
            sharpnesses = [sharpness(chip) for chip in chips]
        return _FoundFaces(tuple(detections), chips, sharpnesses)

    @staticmethod
    def _analysed(
        name: str, data: bytes, rgb: np.ndarray, faces: tuple[AnalysedFace, ...]
    ) -> AnalysedImage:
        height, width = rgb.shape[:2]
        return AnalysedImage(
            path=name,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            width=width,
            height=height,
            faces=faces,
        )


@dataclass(frozen=True)
class _FoundFaces:
    """One image's detected faces and their aligned chips, waiting for their vectors."""

    detections: tuple[Detection, ...]
    chips: list[np.ndarray]
    sharpnesses: list[float]

    def faces(self, vectors: np.ndarray) -> tuple[AnalysedFace, ...]:
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
                self.detections, self.sharpnesses, vectors, strict=True
            )
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


class ProbeReader:
    """Probes and selfies analysed in memory (never stored whole) by the configured models, one
    borrowed analyser per thread; ``check_space`` refuses a gallery of another space first."""

    def __init__(self, pool: Callable[[], AnalyserPool], check_space: Callable[[], None]):
        self.pool = pool  # asked on each use: the models load when the first probe arrives
        self.check_space = check_space

    def analyse(self, probe: Path | bytes, name: str | None = None) -> AnalysedImage:
        return self.analyse_with_pixels(probe, name)[0]

    def analyse_with_pixels(
        self, probe: Path | bytes, name: str | None = None
    ) -> tuple[AnalysedImage, np.ndarray]:
        """The analysis and the pixels, for a kept search's probe crops (read/crop.py)."""
        self.check_space()
        with self.pool().borrowed() as analyser:
            return analyser.analyse_with_pixels(probe, name)

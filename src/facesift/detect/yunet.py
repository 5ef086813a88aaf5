"""YuNet (libfacedetection, "2023mar"), run by OpenCV's reference implementation
``cv2.FaceDetectorYN``, over a small pyramid of scales and, for large photos, overlapping tiles.

YuNet finds faces whose box is roughly 20 to 400 px in the image it is given (measured below), so
one pass cannot cover photos from a 250 px thumbnail to a 50-megapixel frame. Each image is run at
a few scales (``pyramid_scales``): the finest maps a ``min_face_size`` face to the smallest size
YuNet finds reliably; each coarser one is 4x smaller, until a face filling the whole frame is small
enough to be found. A level larger than ``max_detect_side`` is cut into overlapping tiles
(``tile_windows``) so memory and input shapes stay bounded. Every face is then kept once, from the
level where its size is best for YuNet's landmarks (``merge``).

Landmarks, in YuNet's order: image-left eye, image-right eye, nose tip, image-left mouth corner,
image-right mouth corner (``yunet-5``), in pixels of the original image.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from facesift.detect.base import register_detector
from facesift.detect.scaling import reading_order
from facesift.errors import ConfigError
from facesift.models.shipped import YUNET_2023MAR, verified_path
from facesift.timing import measure
from facesift.types import BoundingBox, Detection, Landmarks

LANDMARK_SCHEME = "yunet-5"

# Measured (bench/detector_face_sizes.py: 150 LFW faces resized so the box side is S px, score
# >= 0.5): found 89% at 16 px, 99.3% at 20 px, 100% from 24 px to 640 px. Landmarks agree with
# those found at native size within 0.09-0.10 of the eye distance from 40 to 400 px, 0.16 at 24 px
# and 0.27 at 16 px.
SMALLEST_FACE_PX = 24
BEST_FACE_PX = (40, 400)
# Each coarser level is this much smaller, so every face of 160 px or more on one level is at
# least 40 px, inside the best range, on the next: tiles need only overlap by that much.
LEVEL_RATIO = 4.0
# The coarsest level fits the image's short side into this: a face filling the whole frame was
# found in all 150 LFW faces cropped to their box (or its central 80%) at 160-400 px, but a tight
# crop of Collins's face (skimage astronaut) only up to 240 px (score 0.34 at 320 px).
COARSE_SIDE = 256
# Images up to this long side are never shrunk: ~20 ms at native scale, and landmarks are as
# good as they get.
NATIVE_SIDE = 640
# Tiles overlap by this (px of their level), so a face up to BEST_FACE_PX[0] * LEVEL_RATIO lies
# whole in one tile; larger ones are found on the next level. Faces cut by a tile's inner edge
# are dropped there, because another tile (or level) holds them whole.
TILE_OVERLAP = round(BEST_FACE_PX[0] * LEVEL_RATIO) + 32
EDGE_MARGIN = 2
# opencv_zoo's YuNet demo default; also used to merge faces found at several levels or tiles.
NMS_OVERLAP = 0.3
# A box lying this much inside a kept box is the same face (a part of it, found on another level
# or tile).
CONTAINED = 0.8
# Measured (bench/detector_threshold.py, docs/accuracy.md "Detector score threshold"): from 0.5
# to 0.7, false faces on 130 MP of face-free photos fall from 15 to 1 and on 269 MP of synthetic
# textures from 0 to 0; LFW photos without a face stay 0 of 13,233 (132 at 0.9); LFW faces shrunk
# to 44 px are missed 1.24% instead of 0.91%.
DEFAULT_SCORE_THRESHOLD = 0.7
# YuNet keeps at most this many candidates per pass before its own NMS (opencv_zoo: 5000).
TOP_K = 5000


def pyramid_scales(height: int, width: int, min_face_size: int) -> list[float]:
    """Scales (detector px per original px), finest first, at which to run YuNet."""
    long_side, short_side = max(height, width), min(height, width)
    finest = SMALLEST_FACE_PX / min_face_size
    # Small images at native scale at least (cheap, best landmarks); never beyond the size
    # that makes the smallest wanted face the smallest YuNet finds.
    scale = max(finest, min(1.0, NATIVE_SIDE / long_side))
    scales = [scale]
    while short_side * scale > COARSE_SIDE:
        scale = max(scale / LEVEL_RATIO, COARSE_SIDE / short_side)
        scales.append(scale)
    return scales


def tile_windows(
    height: int, width: int, tile_side: int, overlap: int
) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) windows of at most ``tile_side`` covering the image, each
    overlapping its neighbours by at least ``overlap``, all of one size."""
    xs = _spans(width, tile_side, overlap)
    ys = _spans(height, tile_side, overlap)
    return [(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]


def _spans(length: int, tile_side: int, overlap: int) -> list[tuple[int, int]]:
    if length <= tile_side:
        return [(0, length)]
    overlap = min(overlap, tile_side // 2)
    count = math.ceil((length - overlap) / (tile_side - overlap))
    side = math.ceil((length + (count - 1) * overlap) / count)
    starts = np.linspace(0, length - side, count).round().astype(int)
    return [(int(start), int(start) + side) for start in starts]


@dataclass(frozen=True, eq=False)  # compared by identity: its fields are arrays
class Candidate:
    """One face found at one level, in original pixels, before merging."""

    box: np.ndarray  # left, top, right, bottom (float)
    points: np.ndarray  # (5, 2)
    score: float
    detector_side: float  # box side at its level: how well sized it was for YuNet
    level: int  # 0 = finest

    @property
    def original_side(self) -> float:
        """The shorter box side in original pixels (as ``Settings.min_face_size`` counts it)."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def size_penalty(self) -> float:
        """0 inside YuNet's best size range, else how far outside it (log ratio)."""
        low, high = BEST_FACE_PX
        return max(0.0, math.log(low / self.detector_side), math.log(self.detector_side / high))


def merge(candidates: list[Candidate]) -> list[Candidate]:
    """Each face once: best-sized first, then from the finest level (most pixels), then most
    confident; the rest that overlap a kept face are dropped. One exception: a kept box lying
    inside a larger box from a coarser level is a part of a face too big for its own level (an
    eye and a nose in a face filling a 50 MP frame), so the whole face replaces it."""
    order = sorted(candidates, key=lambda c: (round(c.size_penalty, 2), c.level, -c.score))
    kept: list[Candidate] = []
    for candidate in order:
        clashes = [other for other in kept if _same_face(candidate.box, other.box)]
        if not clashes:
            kept.append(candidate)
        elif all(
            other.level < candidate.level and _inside(other.box, candidate.box) for other in clashes
        ):
            kept = [other for other in kept if all(other is not c for c in clashes)]
            kept.append(candidate)
    return kept


def _areas(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Intersection, area of a, area of b."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = float(width * height) if width > 0 and height > 0 else 0.0
    return inter, float((a[2] - a[0]) * (a[3] - a[1])), float((b[2] - b[0]) * (b[3] - b[1]))


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    inter, area_a, area_b = _areas(a, b)
    if inter == 0.0:
        return False
    return bool(
        inter / (area_a + area_b - inter) > NMS_OVERLAP
        or inter / max(min(area_a, area_b), 1e-9) > CONTAINED
    )


def _inside(small: np.ndarray, large: np.ndarray) -> bool:
    """``small`` lies (mostly) inside ``large`` and is much smaller: a part, not the same box."""
    inter, area_small, area_large = _areas(small, large)
    return bool(
        inter / max(area_small, 1e-9) > CONTAINED
        and inter / (area_small + area_large - inter) <= NMS_OVERLAP
    )


# OpenCV's log level is process-wide: analyser threads opening detectors at once would restore
# each other's level early.
_opening = threading.Lock()


def open_yunet(score_threshold: float, threads: int) -> Any:
    """OpenCV's FaceDetectorYN on the shipped, sha256-checked model file."""
    try:
        import cv2
    except ImportError:  # a core dependency; only a broken install lacks it
        raise ConfigError(
            "the yunet detector needs OpenCV: pip install opencv-python-headless"
        ) from None
    # cv2's thread count is per process. Ingest runs one worker process per core, so more
    # threads per process would only contend for the same cores (docs/benchmarks.md,
    # "Detector runtime").
    cv2.setNumThreads(threads)
    path = verified_path(YUNET_2023MAR)
    # OpenCV 5 warns on stderr, at every start, that its new graph engine ignores the (default)
    # target it is given; that is noise in the CLI's output, so only errors are logged meanwhile.
    with _opening:
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            return cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), score_threshold, NMS_OVERLAP, TOP_K
            )
        finally:
            cv2.utils.logging.setLogLevel(level)


class YuNetDetector:
    name = "yunet"
    landmark_scheme = LANDMARK_SCHEME
    smallest_face_px = SMALLEST_FACE_PX
    # cv2's DNN runs without the GIL: ingest analyses on threads, one detector each.
    releases_gil = True

    def __init__(
        self,
        *,
        min_face_size: int = 40,
        max_detect_side: int = 1600,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        threads: int = 1,
        detector: Any = None,
    ):
        if max_detect_side < 2 * TILE_OVERLAP:
            raise ConfigError(
                f"max_detect_side {max_detect_side}: the yunet detector's tiles overlap by "
                f"{TILE_OVERLAP} px, so they must be at least {2 * TILE_OVERLAP} px"
            )
        self.min_face_size = min_face_size
        self.tile_side = max_detect_side
        self.score_threshold = score_threshold
        self._detector = detector or open_yunet(score_threshold, threads)
        self._input_size = (320, 320)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        with measure("detect"):
            kept = merge(self.candidates(rgb))
        detections = [self._detection(c, height, width) for c in kept]
        return sorted(detections, key=lambda d: reading_order(d.box))

    def candidates(self, rgb: np.ndarray) -> list[Candidate]:
        """Every face of at least ``min_face_size`` found on every level and tile, before they
        are merged (bench/detector_threshold.py applies several thresholds to one run)."""
        import cv2  # loaded by open_yunet already

        height, width = rgb.shape[:2]
        candidates: list[Candidate] = []
        scales = pyramid_scales(height, width, self.min_face_size)
        source = rgb
        for level, scale in enumerate(scales):
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            if size != (source.shape[1], source.shape[0]):
                # Each level is shrunk from the one before (INTER_AREA averages the pixels
                # a shrunk pixel covers: no aliasing), far cheaper than from a 50 MP original.
                shrink = size[0] < source.shape[1]
                source = cv2.resize(
                    source, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
                )
            last = level == len(scales) - 1
            candidates.extend(self._level(source, (height, width), level, last))
        return [c for c in candidates if c.original_side >= self.min_face_size]

    def _level(
        self, pixels: np.ndarray, original: tuple[int, int], level: int, last: bool
    ) -> list[Candidate]:
        import cv2

        height, width = original
        size = (pixels.shape[1], pixels.shape[0])
        scale_x, scale_y = size[0] / width, size[1] / height
        found = []
        # No coarser level to find big faces on: tiles (of a panorama) overlap by a whole face.
        overlap = min(size) + 32 if last else TILE_OVERLAP
        for left, top, right, bottom in tile_windows(size[1], size[0], self.tile_side, overlap):
            tile = cv2.cvtColor(pixels[top:bottom, left:right], cv2.COLOR_RGB2BGR)
            for row in self._run(tile):
                x, y, w, h = row[:4]
                if (
                    (left > 0 and x < EDGE_MARGIN)
                    or (top > 0 and y < EDGE_MARGIN)
                    or (right < size[0] and x + w > right - left - EDGE_MARGIN)
                    or (bottom < size[1] and y + h > bottom - top - EDGE_MARGIN)
                ):
                    continue  # cut by an inner tile edge: the overlapping tile has it whole
                offset = np.array([left, top], np.float32)
                scales = np.array([scale_x, scale_y], np.float32)
                corners = (np.array([[x, y], [x + w, y + h]], np.float32) + offset) / scales
                points = (row[4:14].reshape(5, 2) + offset) / scales
                found.append(
                    Candidate(
                        box=corners.reshape(4),
                        points=points,
                        score=float(row[14]),
                        detector_side=float(w + h) / 2,
                        level=level,
                    )
                )
        return found

    def _run(self, bgr: np.ndarray) -> np.ndarray:
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._input_size:
            self._detector.setInputSize(size)
            self._input_size = size
        _, faces = self._detector.detect(bgr)
        return np.zeros((0, 15), np.float32) if faces is None else faces

    @staticmethod
    def _detection(candidate: Candidate, height: int, width: int) -> Detection:
        left, top, right, bottom = candidate.box
        box = BoundingBox(
            left=max(0, round(float(left))),
            top=max(0, round(float(top))),
            right=min(width, round(float(right))),
            bottom=min(height, round(float(bottom))),
        )
        points = tuple((float(x), float(y)) for x, y in candidate.points)
        return Detection(
            box=box,
            landmarks=Landmarks(points=points, scheme=LANDMARK_SCHEME),
            score=candidate.score,
        )


register_detector(YuNetDetector.name, YuNetDetector)

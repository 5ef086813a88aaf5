"""An SCRFD face detector the operator supplies as an ONNX file (e.g. insightface's
``det_10g.onnx``), decoded exactly as insightface's ``SCRFD`` class does.

The model sees the image letterboxed into its square input (scaled to fit, padded with zeros at
the bottom and right), RGB, ``(pixel - 127.5) / 128``. It returns, for strides 8, 16 and 32 and
two anchors per feature-map location, a score, four distances from the anchor centre to the box
sides and ten offsets to the five landmarks (eyes, nose tip, mouth corners), all in units of the
stride. Boxes above the score threshold are kept after non-maximum suppression and mapped back
to the original image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from facesift.detect.base import register_detector
from facesift.detect.scaling import reading_order
from facesift.errors import ConfigError
from facesift.onnx_models import OnnxModelFile, fixed, inspect_model, open_session
from facesift.types import BoundingBox, Detection, Landmarks

if TYPE_CHECKING:
    from facesift.config import Settings

SETTING = "FACESIFT_ONNX_DETECTOR_MODEL"
STRIDES = (8, 16, 32)
ANCHORS_PER_LOCATION = 2
NMS_OVERLAP = 0.4  # insightface's default
LANDMARK_SCHEME = "arcface-5"
# Last dimension of each output kind: score, box distances, landmark offsets.
OUTPUT_WIDTHS = {"scores": 1, "boxes": 4, "landmarks": 10}


def scrfd_input_size(model: OnnxModelFile, configured: int) -> tuple[int, int]:
    """Check the model's signature; return the (height, width) it is run at."""
    if len(model.inputs) != 1:
        raise ConfigError(
            f"{model.path}: an SCRFD model has one image input; this one has {len(model.inputs)}"
        )
    name, shape = model.inputs[0]
    if len(shape) != 4 or fixed(shape[1]) not in (None, 3):
        raise ConfigError(
            f"{model.path}: input {name!r} has shape {list(shape)}; SCRFD takes (1, 3, H, W)"
        )
    if len(model.outputs) != 3 * len(OUTPUT_WIDTHS):
        raise ConfigError(
            f"{model.path}: {len(model.outputs)} outputs; facesift needs an SCRFD model with "
            "landmarks: scores, boxes and 5-point landmarks at strides 8, 16 and 32 (9 outputs)"
        )
    widths = sorted(fixed(shape[-1]) or 0 for _, shape in model.outputs if shape)
    if widths != sorted(w for w in OUTPUT_WIDTHS.values() for _ in STRIDES):
        raise ConfigError(
            f"{model.path}: outputs {[list(s) for _, s in model.outputs]} are not SCRFD's "
            "(three each of width 1 for scores, 4 for boxes, 10 for landmarks)"
        )
    height = fixed(shape[2]) or configured
    width = fixed(shape[3]) or configured
    if height % STRIDES[-1] or width % STRIDES[-1]:
        raise ConfigError(
            f"{model.path}: input size {width}x{height} is not a multiple of {STRIDES[-1]}"
        )
    return height, width


class OnnxScrfdDetector:
    name = "onnx-scrfd"
    releases_gil = True  # onnxruntime runs without the GIL
    landmark_scheme = LANDMARK_SCHEME

    def __init__(
        self,
        model: OnnxModelFile,
        *,
        min_face_size: int = 40,
        input_size: int = 640,
        score_threshold: float = 0.5,
        session: Any = None,
    ):
        self.model = model
        self.input_height, self.input_width = scrfd_input_size(model, input_size)
        self.min_face_size = min_face_size
        self.score_threshold = score_threshold
        self._session = session or open_session(model)
        self._input = model.inputs[0][0]
        self._centres = {stride: self._anchor_centres(stride) for stride in STRIDES}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, min_face_size: int, max_detect_side: int
    ) -> OnnxScrfdDetector:
        # max_detect_side does not apply: the image is always letterboxed to the model's input.
        return cls(
            inspect_model(settings.onnx_detector_model, SETTING),
            min_face_size=min_face_size,
            input_size=settings.onnx_detector_input_size,
            score_threshold=settings.onnx_detector_score_threshold,
        )

    def _anchor_centres(self, stride: int) -> np.ndarray:
        rows, cols = self.input_height // stride, self.input_width // stride
        # Row-major over (y, x), each centre repeated per anchor: insightface's order.
        ys, xs = np.mgrid[:rows, :cols]
        centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
        return np.repeat(centres, ANCHORS_PER_LOCATION, axis=0)

    def letterbox(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """The model's input blob and the scale from original to model pixels."""
        height, width = rgb.shape[:2]
        scale = min(self.input_height / height, self.input_width / width)
        new_width = max(1, min(self.input_width, int(width * scale)))
        new_height = max(1, min(self.input_height, int(height * scale)))
        resized = Image.fromarray(rgb).resize((new_width, new_height), Image.Resampling.BILINEAR)
        canvas = np.zeros((self.input_height, self.input_width, 3), np.float32)
        canvas[:new_height, :new_width] = np.asarray(resized, dtype=np.float32)
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(blob), new_height / height

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        blob, scale = self.letterbox(rgb)
        outputs = self._session.run(None, {self._input: blob})
        scores, boxes, points = self.decode(outputs)
        detections = []
        for score, box, landmarks in zip(scores, boxes / scale, points / scale, strict=True):
            found = BoundingBox(
                left=max(0, round(float(box[0]))),
                top=max(0, round(float(box[1]))),
                right=min(width, round(float(box[2]))),
                bottom=min(height, round(float(box[3]))),
            )
            if min(found.width, found.height) < self.min_face_size:
                continue
            detections.append(
                Detection(
                    box=found,
                    landmarks=Landmarks(
                        points=tuple((float(x), float(y)) for x, y in landmarks),
                        scheme=LANDMARK_SCHEME,
                    ),
                    score=float(score),
                )
            )
        return sorted(detections, key=lambda d: reading_order(d.box))

    def decode(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (n,), boxes (n, 4) and landmarks (n, 5, 2) in model-input pixels, after NMS."""
        by_kind: dict[str, list[np.ndarray]] = {kind: [] for kind in OUTPUT_WIDTHS}
        for output in outputs:
            array = np.asarray(output, dtype=np.float32)
            kind = next(k for k, w in OUTPUT_WIDTHS.items() if array.shape[-1] == w)
            by_kind[kind].append(array.reshape(-1, array.shape[-1]))
        all_scores, all_boxes, all_points = [], [], []
        for kind in by_kind:  # finest stride has the most anchors
            by_kind[kind].sort(key=len, reverse=True)
        for stride, scores, distances, offsets in zip(
            STRIDES, by_kind["scores"], by_kind["boxes"], by_kind["landmarks"], strict=True
        ):
            centres = self._centres[stride]
            if len(scores) != len(centres):
                raise ConfigError(
                    f"{self.model.path}: stride {stride} output has {len(scores)} anchors, "
                    f"expected {len(centres)} for a {self.input_width}x{self.input_height} input"
                )
            keep = scores[:, 0] >= self.score_threshold
            centres, distances, offsets = centres[keep], distances[keep] * stride, offsets[keep]
            all_scores.append(scores[keep, 0])
            all_boxes.append(np.hstack([centres - distances[:, :2], centres + distances[:, 2:]]))
            all_points.append(centres[:, None, :] + offsets.reshape(-1, 5, 2) * stride)
        scores = np.concatenate(all_scores)
        boxes = np.concatenate(all_boxes)
        points = np.concatenate(all_points)
        kept = non_maximum_suppression(boxes, scores, NMS_OVERLAP)
        return scores[kept], boxes[kept], points[kept]


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> np.ndarray:
    """Indices of the boxes kept, best first: each drops the later ones it overlaps by more than
    ``overlap`` (intersection over union)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(best)
        left = np.maximum(boxes[best, 0], boxes[rest, 0])
        top = np.maximum(boxes[best, 1], boxes[rest, 1])
        right = np.minimum(boxes[best, 2], boxes[rest, 2])
        bottom = np.minimum(boxes[best, 3], boxes[rest, 3])
        intersection = np.maximum(0.0, right - left) * np.maximum(0.0, bottom - top)
        union = areas[best] + areas[rest] - intersection
        order = rest[intersection / np.maximum(union, 1e-12) <= overlap]
    return np.asarray(kept, dtype=np.int64)


register_detector(OnnxScrfdDetector.name, OnnxScrfdDetector)

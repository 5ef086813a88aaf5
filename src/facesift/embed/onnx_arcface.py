"""An ArcFace-style recognizer the operator supplies as an ONNX file (e.g. insightface's
``w600k_r50.onnx``): 112x112 chip aligned on the 5-point ArcFace template → d-dimensional vector.

Input conventions follow insightface's ``ArcFaceONNX``: one input of shape (N, 3, 112, 112), RGB,
``(pixel - 127.5) / 127.5``. The output (N, d) is L2-normalised here, so the Euclidean distance
between two vectors is a monotone function of their cosine similarity: d = sqrt(2 - 2 cos). The
space is recorded as "euclidean" because that is what the index, verification, opt-out matching
and calibration compute; thresholds convert with cos = 1 - d²/2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from facesift.embed.base import register_embedder
from facesift.errors import ConfigError
from facesift.onnx_models import OnnxModelFile, fixed, inspect_model, open_session
from facesift.types import ChipSpec, EmbeddingSpace

if TYPE_CHECKING:
    from facesift.config import Settings

SETTING = "FACESIFT_ONNX_EMBEDDER_MODEL"
CHIP_SIDE = 112


def arcface_signature(model: OnnxModelFile) -> int:
    """Check the model takes (N, 3, 112, 112) and returns (N, d); return d."""
    if len(model.inputs) != 1:
        raise ConfigError(
            f"{model.path}: an ArcFace model has one input (N, 3, 112, 112); "
            f"this one has {len(model.inputs)}: {[name for name, _ in model.inputs]}"
        )
    name, shape = model.inputs[0]
    if len(shape) != 4 or any(
        fixed(dim) not in (None, want)
        for dim, want in zip(shape[1:], (3, CHIP_SIDE, CHIP_SIDE), strict=True)
    ):
        raise ConfigError(
            f"{model.path}: input {name!r} has shape {list(shape)}; "
            "an ArcFace model takes (N, 3, 112, 112)"
        )
    out_name, out_shape = model.outputs[0]
    if len(out_shape) != 2 or fixed(out_shape[1]) is None:
        raise ConfigError(
            f"{model.path}: output {out_name!r} has shape {list(out_shape)}; an ArcFace model "
            "returns (N, d) with a fixed embedding dimension d"
        )
    return int(fixed(out_shape[1]) or 0)


class OnnxArcFaceEmbedder:
    name = "onnx-arcface"
    releases_gil = True  # onnxruntime runs without the GIL
    chip = ChipSpec(size=CHIP_SIDE, padding=0.0, template="arcface-112")

    def __init__(self, model: OnnxModelFile, session: Any = None):
        self.model = model
        self.space = self.space_of_model(model)
        self._session = session or open_session(model)
        self._input = model.inputs[0][0]
        # Models exported with a fixed batch of 1 are fed one chip at a time.
        self._batch = fixed(model.inputs[0][1][0]) or 64

    @classmethod
    def space_of_model(cls, model: OnnxModelFile) -> EmbeddingSpace:
        return EmbeddingSpace(
            model=cls.name,
            version=model.version,
            dimension=arcface_signature(model),
            metric="euclidean",
        )

    @classmethod
    def space_for(cls, settings: Settings) -> EmbeddingSpace:
        return cls.space_of_model(inspect_model(settings.onnx_embedder_model, SETTING))

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxArcFaceEmbedder:
        return cls(inspect_model(settings.onnx_embedder_model, SETTING))

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.space.dimension), dtype=np.float32)
        batch = np.stack([np.asarray(c, dtype=np.float32) for c in chips])
        blob = ((batch - 127.5) / 127.5).transpose(0, 3, 1, 2)
        parts = [
            self._session.run(None, {self._input: np.ascontiguousarray(part)})[0]
            for part in np.split(blob, range(self._batch, len(blob), self._batch))
        ]
        vectors = np.concatenate(parts).astype(np.float32).reshape(len(chips), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return normalised


register_embedder(OnnxArcFaceEmbedder.name, OnnxArcFaceEmbedder)

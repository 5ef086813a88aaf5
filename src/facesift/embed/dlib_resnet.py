"""dlib's ResNet-29 face recognition model: 150x150 chip → 128-d, compared by Euclidean distance.

dlib reports 99.38% on the LFW verification benchmark for this model; docs/accuracy.md has what
our pipeline measures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facesift.embed.base import register_embedder
from facesift.models import RESNET_FACE_RECOGNITION, dlib_module, model_path
from facesift.types import ChipSpec, EmbeddingSpace

if TYPE_CHECKING:
    import dlib

DLIB_RESNET_SPACE = EmbeddingSpace(
    model="dlib-resnet", version="v1", dimension=128, metric="euclidean"
)


class DlibResnetEmbedder:
    name = "dlib-resnet"
    space = DLIB_RESNET_SPACE
    chip = ChipSpec(size=150, padding=0.25)

    def __init__(self, model: dlib.face_recognition_model_v1 | None = None):
        self._model = model or dlib_module().face_recognition_model_v1(
            str(model_path(RESNET_FACE_RECOGNITION))
        )

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.space.dimension), dtype=np.float32)
        # The batch overload runs all chips through the network in one call.
        vectors = self._model.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


register_embedder(DlibResnetEmbedder.name, DlibResnetEmbedder)

"""The Detector protocol and the registry that builds detectors by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from facesift.errors import BackendNotFound
from facesift.types import Detection

if TYPE_CHECKING:
    from facesift.config import Settings


class Detector(Protocol):
    """Finds faces in an RGB image and returns them with landmarks, in reading order."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...


DetectorFactory = Callable[..., Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register_detector(name: str, factory: DetectorFactory) -> None:
    _REGISTRY[name] = factory


def available_detectors() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def smallest_face_px(name: str) -> int | None:
    """The detector's smallest reliably found face, if it declares one (results depend on it)."""
    _load_builtins()
    return getattr(_REGISTRY.get(name), "smallest_face_px", None)


def create_detector(
    name: str, *, min_face_size: int, max_detect_side: int, settings: Settings | None = None
) -> Detector:
    """Build detector ``name``. A factory with ``from_settings`` (one whose model file the
    operator names) also gets the settings."""
    _load_builtins()
    if name not in _REGISTRY:
        raise BackendNotFound("detector", name, list(_REGISTRY))
    factory = _REGISTRY[name]
    if hasattr(factory, "from_settings"):
        if settings is None:
            from facesift.config import Settings

            settings = Settings()
        return factory.from_settings(
            settings, min_face_size=min_face_size, max_detect_side=max_detect_side
        )
    return factory(min_face_size=min_face_size, max_detect_side=max_detect_side)


def _load_builtins() -> None:
    # Built-ins register themselves exactly as a third-party backend would.
    from facesift.detect import dlib_cnn, dlib_hog, onnx_scrfd, yunet  # noqa: F401

"""The Detector protocol and the registry that builds detectors by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from facesift.registry import Registry
from facesift.types import Detection

if TYPE_CHECKING:
    from facesift.config import Settings


class Detector(Protocol):
    """Finds faces in an RGB image and returns them with landmarks, in reading order."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...


DetectorFactory = Callable[..., Detector]


def _load_builtins() -> None:
    # Built-ins register themselves exactly as a third-party backend would.
    from facesift.detect import dlib_cnn, dlib_hog, onnx_scrfd, yunet  # noqa: F401


DETECTORS: Registry[DetectorFactory] = Registry("detector", _load_builtins)


def register_detector(name: str, factory: DetectorFactory | type[Any]) -> None:
    DETECTORS.register(name, factory)


def available_detectors() -> list[str]:
    return DETECTORS.names()


def smallest_face_px(name: str) -> int | None:
    """The detector's smallest reliably found face, if it declares one (results depend on it)."""
    smallest: int | None = getattr(DETECTORS.find(name), "smallest_face_px", None)
    return smallest


def releases_gil(name: str) -> bool:
    """Whether detector ``name`` declares that it runs without Python's GIL (native code that
    releases it), so that analysis may run on threads, one detector per thread. Unknown: no."""
    return bool(getattr(DETECTORS.find(name), "releases_gil", False))


def create_detector(
    name: str, *, min_face_size: int, max_detect_side: int, settings: Settings | None = None
) -> Detector:
    """Build detector ``name``. A factory with ``from_settings`` (one whose model file the
    operator names) also gets the settings."""
    factory: Any = DETECTORS.get(name)
    detector: Detector
    if hasattr(factory, "from_settings"):
        if settings is None:
            from facesift.config import Settings

            settings = Settings()
        detector = factory.from_settings(
            settings, min_face_size=min_face_size, max_detect_side=max_detect_side
        )
    else:
        detector = factory(min_face_size=min_face_size, max_detect_side=max_detect_side)
    return detector

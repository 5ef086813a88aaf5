"""Model files that ship inside the facesift package, each checked against its publisher's hash.

The default pipeline's weights (YuNet, MIT; Intel face-reidentification-retail-0095, Apache-2.0)
live in folders beside this module with their licence texts and ``PROVENANCE.md``, so a fresh
install needs no download. Each file's sha256 below is the one its publisher publishes (see
PROVENANCE.md for where each was checked); a file that does not match is refused when loaded,
because a swapped or damaged model silently changes every match decision.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from facesift.errors import ConfigError

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ShippedFile:
    """One shipped model file: where it is inside the package and the hash it must have."""

    relative_path: str
    sha256: str

    @property
    def path(self) -> Path:
        return MODELS_DIR / self.relative_path


YUNET_2023MAR = ShippedFile(
    "yunet-2023mar/face_detection_yunet_2023mar.onnx",
    "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
)
# Intel's INT8 IR, byte for byte: the default embedder's weights, run by OpenVINO. The FP16 IR and
# the ONNX files derived from it are not shipped: on the same LFW accuracy they ran 2-3x slower
# (docs/benchmarks.md, "Embedder runtime").
REID_0095_INT8_XML = ShippedFile(
    "face-reidentification-retail-0095/FP16-INT8/face-reidentification-retail-0095.xml",
    "06626e796a2c308f5ff32b3045d5587ad5a83ba62a63797bb7e10c735a6da1fc",
)
REID_0095_INT8_BIN = ShippedFile(
    "face-reidentification-retail-0095/FP16-INT8/face-reidentification-retail-0095.bin",
    "b422592479d85804b7bb52c37f4663f3ef33ac9f2154d6072f09c2e251890aec",
)

ALL_SHIPPED = (
    YUNET_2023MAR,
    REID_0095_INT8_XML,
    REID_0095_INT8_BIN,
)

_verified: set[str] = set()
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_path(shipped: ShippedFile) -> Path:
    """The file's path, after checking (once per process) that its bytes are the published ones."""
    path = shipped.path
    with _lock:
        if str(path) in _verified:
            return path
        if not path.is_file():
            raise ConfigError(
                f"{path}: shipped model file missing; reinstall facesift (pip install --force-"
                "reinstall facesift)"
            )
        actual = file_sha256(path)
        if actual != shipped.sha256:
            raise ConfigError(
                f"{path}: sha256 {actual} is not the published {shipped.sha256}; the model file "
                "is damaged or was replaced, and facesift will not run it (reinstall facesift)"
            )
        _verified.add(str(path))
    return path

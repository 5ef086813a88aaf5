"""Frozen values passed between pipeline stages: detect → align → embed → catalog/index → search."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class BoundingBox:
    """A face box in pixels of the (EXIF-upright) image: [left, right) x [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True)
class Landmarks:
    """Facial landmark points (x, y), in the order the detector's landmark model defines."""

    points: tuple[tuple[float, float], ...]
    scheme: str  # e.g. "dlib-5": the 5-point dlib layout (eye corners, nose base)

    def as_list(self) -> list[list[float]]:
        return [[x, y] for x, y in self.points]


@dataclass(frozen=True)
class Detection:
    """One face found by a detector, with landmarks for alignment."""

    box: BoundingBox
    landmarks: Landmarks
    score: float


@dataclass(frozen=True)
class EmbeddingSpace:
    """What an embedding vector means. Vectors from different spaces are never compared."""

    model: str
    version: str
    dimension: int
    metric: str  # "euclidean": smaller distance means more alike

    @property
    def key(self) -> str:
        return f"{self.model}/{self.version}/{self.dimension}/{self.metric}"

    @classmethod
    def from_key(cls, key: str) -> EmbeddingSpace:
        """The space a catalog or index recorded by its ``key``."""
        model, version, dimension, metric = key.split("/")
        return cls(model=model, version=version, dimension=int(dimension), metric=metric)


@dataclass(frozen=True, eq=False)
class FaceTags:
    """Where each of a run of faces came from, kept beside its vector in the index so that
    erasing a whole source or jurisdiction is one filtered delete, not a list of face ids."""

    source_ids: np.ndarray  # int64, one per face
    jurisdictions: np.ndarray  # str, one per face: the image's own jurisdiction, else its source's

    def __post_init__(self) -> None:
        if len(self.source_ids) != len(self.jurisdictions):
            raise ValueError("FaceTags needs one source id and one jurisdiction per face")

    def __len__(self) -> int:
        return len(self.source_ids)

    @classmethod
    def untagged(cls, count: int) -> FaceTags:
        """Tags for faces of no known source: removable by id only, never by a filter."""
        return cls(np.full(count, -1, dtype=np.int64), np.full(count, "", dtype="<U2"))


@dataclass(frozen=True)
class ChipSpec:
    """The aligned face chip an embedder needs; alignment produces exactly this.

    ``template`` names where the landmarks go: "dlib" (dlib's mean face, ``dlib.get_face_chip``
    with ``padding``), "arcface-112" (insightface's 5-point template, scaled to ``size``) or
    "reid-0095-128" (Intel face-reidentification-retail-0095's 5-point template, 128x128).
    """

    size: int
    padding: float
    template: str = "dlib"


@dataclass(frozen=True)
class Quality:
    """Cheap per-face quality signals: face size in pixels and sharpness (variance of Laplacian)."""

    face_size: int
    sharpness: float


@dataclass(frozen=True, eq=False)
class AnalysedFace:
    """A detected, aligned and embedded face."""

    detection: Detection
    quality: Quality
    embedding: np.ndarray  # float32, shape (space.dimension,)


@dataclass(frozen=True, eq=False)
class AnalysedImage:
    """Everything the pipeline extracts from one image file."""

    path: str
    sha256: str
    size_bytes: int
    width: int
    height: int
    faces: tuple[AnalysedFace, ...]


class LawfulBasis(enum.StrEnum):
    """GDPR Art. 6(1) lawful bases. Biometric data also needs an Art. 9(2) condition."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal-obligation"
    PUBLIC_TASK = "public-task"
    LEGITIMATE_INTEREST = "legitimate-interest"
    VITAL_INTEREST = "vital-interest"


@dataclass(frozen=True)
class Source:
    """A declared collection of images with the legal terms under which it is held."""

    id: int
    name: str
    lawful_basis: LawfulBasis
    jurisdiction: str
    retention_days: int
    description: str
    created_at: datetime
    purpose: str = ""
    controller: str = ""  # who answers subject requests for this source


@dataclass(frozen=True)
class Lead:
    """A gallery face that resembles a probe face: an investigative lead, not an identification."""

    face_id: int
    distance: float
    false_match_rate: float
    image_id: int
    image_path: str
    image_sha256: str
    box: BoundingBox
    source: str
    lawful_basis: str
    jurisdiction: str
    ingested_at: datetime
    # The identity (group of faces of one person) this face belongs to, if clustered.
    identity_id: int | None = None
    identity_name: str | None = None
    identity_faces: int = 0
    identity_face_ids: tuple[int, ...] = ()  # a few of the identity's faces, for display


@dataclass(frozen=True)
class ProbeFaceResult:
    """The leads for one face of a probe image."""

    face_number: int  # 1-based, left to right as found in the probe
    box: BoundingBox
    leads: tuple[Lead, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Verification:
    """A 1:1 comparison of two faces."""

    same_person: bool
    distance: float
    threshold: float
    false_match_rate: float
    box_a: BoundingBox
    box_b: BoundingBox

"""Frozen values passed between pipeline stages: detect → align → embed → catalog/index → search."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """The one distance of this space between two vectors (what a calibration measures)."""
        self._require_euclidean()
        return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """All distances between the rows of ``a`` (n, d) and of ``b`` (m, d), as (n, m).

        Computed as |a|^2 + |b|^2 - 2ab in float64 (one matrix product, no (n, m, d) temporary);
        callers keep ``n x m`` bounded by querying in chunks (index/optouts.py)."""
        self._require_euclidean()
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        squared = (
            np.einsum("ij,ij->i", a, a)[:, None]
            + np.einsum("ij,ij->i", b, b)[None, :]
            - 2.0 * (a @ b.T)
        )
        result: np.ndarray = np.sqrt(np.maximum(squared, 0.0))
        return result

    def _require_euclidean(self) -> None:
        if self.metric != "euclidean":
            raise ValueError(f"no distance implemented for metric {self.metric!r}")

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


# --- states: StrEnums, so a state read back from the catalog or a form compares equal ----------


class RequestKind(enum.StrEnum):
    """What a data subject asks for (GDPR Art. 15, 17, 21)."""

    ACCESS = "access"
    ERASURE = "erasure"
    OPTOUT = "optout"


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    DECLINED = "declined"


class ReviewDecision(enum.StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class LeadStatus(enum.StrEnum):
    """A lead is confirmed by two different reviewers, rejected by one (govern/review.py)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


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
    # When an administrator retired it (migration 0007): no new ingest; what it holds stays
    # until its retention ends or it is erased, a separate decision.
    retired_at: datetime | None = None

    def expiry(self, ingested_at: datetime, consent_until: datetime | None = None) -> datetime:
        """Retention: an image ingested now expires after the source's retention period, or at
        the end of its consent if that comes first; `purge` deletes what expired."""
        until = ingested_at + timedelta(days=self.retention_days)
        return min(until, consent_until) if consent_until else until


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
    # More gallery faces lie within the threshold than the top-k asked for: the list was cut.
    cut_at_top_k: bool = False


@dataclass(frozen=True)
class SearchOdds:
    """What to expect of a search in this gallery, for someone who is not a biometrics expert.

    A lead's false-match rate is per comparison ("1 in 26,767"); a search makes one comparison
    per gallery face, so in a gallery of 100,000 faces a stranger that close is expected about
    four times. These figures say so for the whole search."""

    compared_with: int  # gallery faces each probe face was compared with
    threshold: float
    false_match_rate: float  # per comparison, at the threshold
    expected_false_leads: float  # strangers expected within the threshold, per probe face
    chance_of_a_false_lead: float  # that at least one lead is a stranger (FPIR), if absent

    def strangers_as_close(self, false_match_rate: float) -> float:
        """Strangers expected at least as close as a lead with this false-match rate."""
        return self.compared_with * false_match_rate


@dataclass(frozen=True)
class Verification:
    """A 1:1 comparison of two faces."""

    same_person: bool
    distance: float
    threshold: float
    false_match_rate: float
    box_a: BoundingBox
    box_b: BoundingBox
    # Faces found in each photo: with several, the main one (largest, most confident) was
    # compared, at box_a / box_b.
    faces_in_a: int = 1
    faces_in_b: int = 1


@dataclass(frozen=True)
class SearchRecord:
    """A search's results with the id reviewers use to review its leads (None if not kept)."""

    search_id: int | None
    results: list[ProbeFaceResult]
    odds: SearchOdds | None = None  # None: the gallery was empty

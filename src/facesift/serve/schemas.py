"""Response bodies of the API, as pydantic models: they make the OpenAPI schema (at /docs) exact,
which the property-based tests check every response against."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facesift.govern.roles import OperatorRole, Role
from facesift.types import JobState, LeadStatus, RequestStatus

Box = list[int]  # [left, top, right, bottom] in pixels of the upright image


class FromDomain(BaseModel):
    """A response read from a domain object's attributes (``XOut.model_validate(obj)``), never
    copied field by field; ``BUILT_FROM`` names each one's domain class, and
    tests/unit/serve/test_schemas_in_step.py checks that they agree field for field."""

    model_config = ConfigDict(from_attributes=True)


class Health(BaseModel):
    status: Literal["ok"]
    faces: int
    index: str


class SourceOut(BaseModel):
    name: str
    lawful_basis: str
    jurisdiction: str
    retention_days: int
    purpose: str
    controller: str
    description: str
    created_at: datetime
    images: int = 0
    faces: int = 0


class SourceIn(BaseModel):
    name: str = Field(description="Short unique name: letters, digits, '.', '_' or '-'.")
    lawful_basis: str = Field(description="GDPR Art. 6 basis, e.g. legitimate-interest.")
    jurisdiction: str = Field(description="ISO 3166-1 alpha-2 code of where the images are held.")
    retention_days: int = Field(description="Days each image is kept after ingest (>= 1).")
    purpose: str = Field(description="What the images are processed for.")
    controller: str = Field(description="Who answers data subjects' requests for this source.")
    description: str = ""


class JobOut(BaseModel):
    id: int
    kind: str
    owner: str
    state: JobState
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int | None = Field(description="Files to process, once counted.")
    done: int = Field(description="Files processed so far.")
    faces: int = Field(description="Faces found so far.")
    error: str | None
    result: dict[str, Any] | None
    url: str


class LeadOut(BaseModel):
    rank: int
    face_id: int
    distance: float = Field(description="The score: embedding distance, smaller is more alike.")
    false_match_rate: float = Field(
        description="How often two different people are this close (on the shipped calibration)."
    )
    box: Box
    thumbnail_url: str
    image_url: str
    image_id: int
    image_sha256: str
    source: str
    lawful_basis: str
    jurisdiction: str
    ingested_at: datetime
    identity_id: int | None = None
    identity_name: str | None = None


class ProbeFaceOut(BaseModel):
    face_number: int
    box: Box
    leads: list[LeadOut]


class SearchOut(BaseModel):
    search_id: int
    threshold: float
    notice: str
    faces: list[ProbeFaceOut]


class VerifyOut(BaseModel):
    same_person: bool
    distance: float
    threshold: float
    false_match_rate: float
    box_a: Box
    box_b: Box


class ReviewIn(BaseModel):
    decision: Literal["confirm", "reject"]
    note: str = ""


class LeadReviewOut(FromDomain):
    search_id: int
    face_id: int
    status: LeadStatus
    confirmations: list[str]
    rejections: list[str]


class KeptSearchOut(BaseModel):
    search_id: int
    actor: str
    purpose: str
    case: str
    at: datetime
    leads: list[LeadReviewOut]


class HeldFaceOut(BaseModel):
    face_id: int
    distance: float
    false_match_rate: float
    box: Box
    thumbnail_url: str
    image_id: int
    image_path: str
    image_sha256: str
    source: str
    lawful_basis: str
    purpose: str
    controller: str
    jurisdiction: str
    ingested_at: datetime
    expires_at: datetime | None


class SubjectReportOut(BaseModel):
    selfie_sha256: str
    threshold: float
    generated_at: datetime
    expected_false_matches: float
    faces: list[HeldFaceOut]


class ReceiptOut(FromDomain):
    action: str
    reference: str
    at: datetime
    images: int
    faces: int
    audit_seq: int


class OptOutOut(FromDomain):
    reference: str
    existing_faces_hidden: int
    audit_seq: int


class OptOutWithdrawnOut(BaseModel):
    removed: int


class SubjectRequestPublic(BaseModel):
    """What the person who made a request sees, by its reference."""

    reference: str
    kind: str
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    fulfilled_at: datetime | None
    decline_reason: str | None
    report_ready: bool = Field(
        description="A report or receipt waits: POST your reference to "
        "/api/v1/subject-requests/report."
    )


class ReferenceIn(BaseModel):
    """A subject request's reference, sent in the body (never in a URL: access logs)."""

    reference: str = Field(max_length=64)


class SubjectRequestOut(FromDomain):
    """What an administrator sees."""

    id: int
    kind: str
    contact: str
    name: str | None
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    fulfilled_at: datetime | None
    overdue: bool
    decline_reason: str | None
    handled_by: str | None


class FulfilIn(BaseModel):
    face_ids: list[int] | None = Field(
        default=None,
        description="The candidates confirmed to be the person. Required to fulfil an erasure "
        "(at least one); for access, the faces disclosed (default: all candidates; [] when none "
        "is the person).",
    )
    decline_reason: str | None = Field(default=None, description="Decline instead, saying why.")


class ErasureOut(BaseModel):
    dry_run: bool
    images: int
    receipt: ReceiptOut | None


class AuditRecordOut(FromDomain):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    purpose: str
    case_ref: str
    probe_sha256: str
    details: dict[str, Any]
    gallery_version: int
    prev_hash: str
    hash: str


class AuditCheckOut(FromDomain):
    intact: bool
    records: int
    head: str
    first_broken: int | None
    problem: str


class StatsOut(FromDomain):
    sources: int
    images: int
    images_without_faces: int
    faces: int
    index_kind: str
    index_size: int
    index_bytes: int
    embedding_space: str
    detector: str
    match_threshold: float | None = Field(
        description="None: the space has no calibration, so no match decisions are made."
    )
    match_false_match_rate: float


class OperatorOut(BaseModel):
    name: str
    role: Role
    created_at: datetime


class OperatorDisabledOut(BaseModel):
    name: str
    role: Role
    enabled: Literal[False] = False


class OperatorIn(BaseModel):
    name: str = Field(description="Letters, digits, '.', '_', '@' or '-', up to 100.")
    role: OperatorRole


class OperatorKeyOut(BaseModel):
    name: str
    role: Role
    api_key: str = Field(description="Shown this once; only its SHA-256 is stored.")


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


def _built_from() -> dict[type[FromDomain], type]:
    from facesift.engine import Stats
    from facesift.govern.audit import AuditRecord, ChainCheck
    from facesift.govern.requests import SubjectRequest
    from facesift.govern.review import LeadReviewStatus
    from facesift.govern.subjects import OptOutReceipt, Receipt

    return {
        LeadReviewOut: LeadReviewStatus,
        ReceiptOut: Receipt,
        OptOutOut: OptOutReceipt,
        SubjectRequestOut: SubjectRequest,
        AuditRecordOut: AuditRecord,
        AuditCheckOut: ChainCheck,
        StatsOut: Stats,
    }


BUILT_FROM = _built_from()

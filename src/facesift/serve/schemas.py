"""Response bodies of the API, as pydantic models: they make the OpenAPI schema (at /docs) exact,
which the property-based tests check every response against."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import (
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from facesift.govern.roles import OperatorRole, Role
from facesift.search.policy import describe_odds
from facesift.types import JobState, LeadStatus, RequestStatus


class FromDomain(BaseModel):
    """A response read from a domain object's attributes (``XOut.model_validate(obj)``), never
    copied field by field; ``BUILT_FROM`` names each one's domain class, and
    tests/unit/serve/test_schemas_in_step.py checks that they agree field for field.

    A field under another name reads its attribute by ``validation_alias`` (an ``AliasPath``
    into a nested object). The few fields the domain object does not hold are named in
    ``BESIDE`` and made by ``beside``: by default they are given in the validation context,
    ``LeadOut.model_validate(lead, context={"rank": 1})``; a model whose field is derived from
    the object (a URL from an id, a sentence from figures) overrides ``beside``."""

    # By name too: a response's own JSON validates back into its model (a client, a test).
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    BESIDE: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def beside(cls, obj: Any, context: dict[str, Any]) -> dict[str, Any]:
        """The ``BESIDE`` fields for ``obj`` (one left out takes its default, or is missing)."""
        return {name: context[name] for name in cls.BESIDE if name in context}

    @model_validator(mode="wrap")
    @classmethod
    def _with_beside(cls, value: Any, handler: ModelWrapValidatorHandler, info: ValidationInfo):
        if not cls.BESIDE or isinstance(value, dict | BaseModel):
            return handler(value)
        return handler(_Beside(value, cls.beside(value, info.context or {})))


class _Beside:
    """A domain object's attributes and a few more, read by attribute as ``FromDomain`` reads."""

    def __init__(self, obj: Any, more: dict[str, Any]):
        self._obj, self._more = obj, more

    def __getattr__(self, name: str) -> Any:
        if name in self._more:
            return self._more[name]
        return getattr(self._obj, name)


def thumbnail_url(face_id: int) -> str:
    return f"/api/v1/faces/{face_id}/thumbnail"


def image_url(image_id: int) -> str:
    return f"/api/v1/images/{image_id}"


class Box(FromDomain):
    """A face box in pixels of the (EXIF-upright) image: columns [left, right), rows [top,
    bottom). Every box in every response has this shape."""

    left: int
    top: int
    right: int
    bottom: int


class Health(BaseModel):
    status: Literal["ok"]
    faces: int
    index: str


class SourceOut(FromDomain):
    BESIDE = ("images", "faces")  # what it holds

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


class FileProblem(BaseModel):
    """An uploaded file that was not ingested, and why."""

    index: int | None = Field(
        None,
        description="Its position among the uploaded `files` (0 for the first); null for a "
        "manifest line.",
    )
    file: str = Field(description="The file name as uploaded (or the manifest line).")
    reason: str


class HeldElsewhere(BaseModel):
    """An uploaded file whose content is already held under another source."""

    file: str = Field(description="The file name as uploaded.")
    source: str = Field(description="The source that holds it.")


class IngestResult(FromDomain):
    """What an ingest job did: counts, and each file it could not use. (Counts default to 0:
    a job whose files were all refused never reached the ingest.)"""

    # Given by the route, which knows what the ingest did not see (serve/api/gallery.py).
    BESIDE = ("files_seen", "errors", "held_under_other_source")

    source: str
    files_seen: int = Field(default=0, description="Files uploaded (or named by the manifest).")
    images_ingested: int = 0
    faces_found: int = 0
    images_without_faces: int = 0
    already_in_catalog: int = 0
    duplicates_in_run: int = 0
    erased_before: int = Field(default=0, description="Photos erased at a data subject's request.")
    faces_opted_out: int = Field(
        default=0, description="Faces on the do-not-index list: not stored."
    )
    errors: list[FileProblem] = Field(
        default_factory=list, description="Files refused or unreadable, one entry each."
    )
    held_under_other_source: list[HeldElsewhere] = Field(
        default_factory=list,
        description="Files whose content another source already holds: not added to this one, "
        "and still held on that source's lawful basis.",
    )
    seconds: float = 0.0

    @field_validator("seconds")
    @classmethod
    def _to_the_millisecond(cls, seconds: float) -> float:
        return round(seconds, 3)


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
    error: str | None = Field(description="Why the job failed (state `failed`).")
    result: IngestResult | None = Field(description="The outcome, once the job has succeeded.")
    url: str


class LeadOut(FromDomain):
    BESIDE = ("rank", "thumbnail_url", "image_url")  # rank: 1 for the probe face's first lead

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

    @classmethod
    def beside(cls, obj: Any, context: dict[str, Any]) -> dict[str, Any]:
        return {
            **super().beside(obj, context),
            "thumbnail_url": thumbnail_url(obj.face_id),
            "image_url": image_url(obj.image_id),
        }


class ProbeFaceOut(FromDomain):
    face_number: int
    box: Box
    leads: list[LeadOut]
    cut_at_top_k: bool = Field(
        description="More gallery faces are within the threshold than the top_k shown."
    )

    @field_validator("leads", mode="before")
    @classmethod
    def _ranked(cls, leads: Any) -> Any:
        if not isinstance(leads, list | tuple):
            return leads  # pydantic says what is wrong with it
        return [
            LeadOut.model_validate(lead, context={"rank": rank})
            for rank, lead in enumerate(leads, start=1)
        ]


class SearchOddsOut(FromDomain):
    """What to expect of this search in this gallery (docs/accuracy.md, "Reading a search")."""

    compared_with: int = Field(description="Gallery faces each probe face was compared with.")
    false_match_rate: float = Field(description="Per comparison, at the threshold used.")
    expected_false_leads: float = Field(
        description="Strangers expected within the threshold, per probe face, for someone the "
        "gallery does not hold."
    )
    chance_of_a_false_lead: float = Field(
        description="The chance that at least one lead is a stranger (open-set FPIR), if the "
        "person is not in the gallery."
    )
    summary: str = Field(description="The same, in one sentence for people.")

    BESIDE = ("summary",)

    @classmethod
    def beside(cls, obj: Any, context: dict[str, Any]) -> dict[str, Any]:
        return {"summary": describe_odds(obj)}


class SearchOut(BaseModel):
    search_id: int
    threshold: float
    notice: str
    faces: list[ProbeFaceOut]
    odds: SearchOddsOut | None = Field(description="None when the gallery holds no face.")


class VerifyOut(FromDomain):
    same_person: bool
    distance: float
    threshold: float
    false_match_rate: float
    box_a: Box
    box_b: Box
    faces_in_a: int = Field(description="Faces found in a; with several, the main one is used.")
    faces_in_b: int = Field(description="Faces found in b; with several, the main one is used.")


class ReviewIn(BaseModel):
    decision: Literal["confirm", "reject"]
    note: str = ""


class LeadReviewOut(FromDomain):
    search_id: int
    face_id: int
    status: LeadStatus
    confirmations: list[str]
    rejections: list[str]


class KeptSearchOut(FromDomain):
    BESIDE = ("leads",)  # the review status of each of its leads

    search_id: int = Field(validation_alias="id")
    actor: str
    purpose: str
    case: str = Field(validation_alias="case_ref")
    at: datetime
    leads: list[LeadReviewOut]


def _image(attribute: str) -> Any:
    return Field(validation_alias=AliasPath("image", attribute))


class HeldFaceOut(FromDomain):
    BESIDE = ("thumbnail_url",)

    face_id: int
    distance: float
    false_match_rate: float
    box: Box
    thumbnail_url: str
    image_id: int = _image("image_id")
    image_path: str = _image("path")
    image_sha256: str = _image("sha256")
    source: str = _image("source")
    lawful_basis: str = _image("lawful_basis")
    purpose: str = _image("purpose")
    controller: str = _image("controller")
    jurisdiction: str = _image("jurisdiction")
    ingested_at: datetime = _image("ingested_at")
    expires_at: datetime | None = _image("expires_at")

    @classmethod
    def beside(cls, obj: Any, context: dict[str, Any]) -> dict[str, Any]:
        return {"thumbnail_url": thumbnail_url(obj.face_id)}


class SubjectReportOut(FromDomain):
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
    templates: int = Field(description="Face templates kept: the selfie's and one per held face.")
    miss_rate: float = Field(
        description="Chance that one template misses a new photo of the person (the false "
        "non-match rate at the opt-out threshold); more templates only lower it."
    )


class OptOutWithdrawnOut(BaseModel):
    removed: int


class SubjectRequestPublic(FromDomain):
    """What the person who made a request sees, by its reference."""

    BESIDE = ("report_ready",)

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

    @classmethod
    def beside(cls, obj: Any, context: dict[str, Any]) -> dict[str, Any]:
        return {"report_ready": obj.status == RequestStatus.FULFILLED and bool(obj.report_html)}


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
    identity_check: str | None = Field(
        description="How the administrator checked that the requester is the person."
    )


class FulfilIn(BaseModel):
    face_ids: list[int] | None = Field(
        default=None,
        description="The candidates confirmed to be the person. Required to fulfil an erasure "
        "(at least one); for access, the faces disclosed (default: all candidates; [] when none "
        "is the person).",
    )
    identity_check: str | None = Field(
        default=None,
        description="Required to fulfil: how you checked that the requester is the person in "
        "the photos (a selfie proves nothing). Recorded with the request.",
    )
    decline_reason: str | None = Field(default=None, description="Decline instead, saying why.")


class ErasureOut(BaseModel):
    dry_run: bool
    images: int
    receipt: ReceiptOut | None


class AuditDetails(BaseModel):
    """What an audit record says beyond who, when, why: the fields below where the action has
    them (absent otherwise), and any others the action records as further properties."""

    model_config = ConfigDict(extra="allow")

    search_id: int | None = Field(None, description="search, review, view-search")
    face_id: int | None = Field(None, description="review, view-face")
    image_id: int | None = Field(None, description="view-image")
    decision: str | None = Field(None, description="review: confirm or reject")
    note: str | None = Field(None, description="review")
    status: str | None = Field(None, description="review: the lead's status after it")
    threshold: float | None = Field(None, description="search, verify, cluster, duplicates")
    probe_faces: int | None = Field(None, description="search: faces in the probe")
    hidden_by_optout: int | None = Field(None, description="search")
    distance: float | None = Field(None, description="verify")
    same_person: bool | None = Field(None, description="verify")
    other_sha256: str | None = Field(None, description="verify: the second photo")
    source: str | None = Field(None, description="ingest, source-add, erase")
    images_ingested: int | None = Field(None, description="ingest (when it ends)")
    faces_found: int | None = Field(None, description="ingest (when it ends)")
    operator: str | None = Field(None, description="user-add, user-disable, user-rotate-key")
    role: str | None = Field(None, description="user-add, user-disable, user-rotate-key")
    request_id: int | None = Field(None, description="subject-request")
    reference: str | None = Field(None, description="erasure and opt-out receipts")
    images_erased: int | None = Field(None, description="erase, purge, subject-erase")
    faces_erased: int | None = Field(None, description="erase, purge, subject-erase")

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler):
        # Only what the action recorded: a search's details do not list a review's fields as null.
        recorded = self.model_fields_set | set(self.model_extra or {})
        return {k: v for k, v in handler(self).items() if k in recorded}


class AuditRecordOut(FromDomain):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    purpose: str
    case_ref: str
    probe_sha256: str
    details: AuditDetails
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


class OperatorOut(FromDomain):
    BESIDE = ("created_at",)

    name: str
    role: Role
    created_at: datetime


class OperatorDisabledOut(FromDomain):
    BESIDE = ("enabled",)

    name: str
    role: Role
    enabled: Literal[False] = False


class OperatorIn(BaseModel):
    name: str = Field(description="Letters, digits, '.', '_', '@' or '-', up to 100.")
    role: OperatorRole


class OperatorKeyOut(FromDomain):
    BESIDE = ("api_key",)

    name: str
    role: Role
    api_key: str = Field(description="Shown this once; only its SHA-256 is stored.")


class FieldProblem(BaseModel):
    field: str = Field(description="The field at fault, e.g. `top_k` or `query.limit`.")
    message: str


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details (sent as `application/problem+json`)."""

    type: str = Field(description="`urn:facesift:problem:KIND`, e.g. `...:not-found`.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, naming the input at fault.")
    instance: str = Field(description="The request's path.")
    errors: list[FieldProblem] | None = Field(
        None, description="For invalid requests: each field at fault."
    )


def _built_from() -> dict[type[FromDomain], type]:
    from facesift.catalog.casework import StoredSearch
    from facesift.engine import Stats
    from facesift.govern.audit import AuditRecord, ChainCheck
    from facesift.govern.requests import SubjectRequest
    from facesift.govern.review import LeadReviewStatus
    from facesift.govern.roles import Actor
    from facesift.govern.subjects import HeldFace, OptOutReceipt, Receipt, SubjectReport
    from facesift.ingest.jobs import IngestReport
    from facesift.types import (
        BoundingBox,
        Lead,
        ProbeFaceResult,
        SearchOdds,
        Source,
        Verification,
    )

    return {
        Box: BoundingBox,
        SourceOut: Source,
        IngestResult: IngestReport,
        LeadOut: Lead,
        ProbeFaceOut: ProbeFaceResult,
        SearchOddsOut: SearchOdds,
        VerifyOut: Verification,
        LeadReviewOut: LeadReviewStatus,
        KeptSearchOut: StoredSearch,
        HeldFaceOut: HeldFace,
        SubjectReportOut: SubjectReport,
        ReceiptOut: Receipt,
        OptOutOut: OptOutReceipt,
        SubjectRequestPublic: SubjectRequest,
        SubjectRequestOut: SubjectRequest,
        AuditRecordOut: AuditRecord,
        AuditCheckOut: ChainCheck,
        StatsOut: Stats,
        OperatorOut: Actor,
        OperatorDisabledOut: Actor,
        OperatorKeyOut: Actor,
    }


BUILT_FROM = _built_from()

"""Catalog schema. The catalog is the source of truth; the vector index is derived from it.

Alembic migrations in ``catalog/migrations`` create exactly these tables; a test checks that the
migrated schema and this metadata agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, written and read back in UTC on every backend.

    SQLite has no time-zone type (SQLAlchemy stores the wall-clock digits and drops the offset,
    so 12:00+02:00 would read back as 12:00 UTC) and PostgreSQL returns ``timestamptz`` in the
    session's time zone; converting on the way in and out makes both give the same instant, in
    UTC. A value without a time zone is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: object | None, dialect: Dialect) -> datetime | None:
        return self.process_bind_param(value, dialect) if isinstance(value, datetime) else None


# Image and face ids are 64-bit where the database distinguishes (PostgreSQL BIGSERIAL: ids are
# never reused, so erasures use them up too). SQLite's INTEGER PRIMARY KEY is already 64-bit and
# must be spelt INTEGER to be the rowid, hence the variant.
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("lawful_basis", String(40), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("purpose", Text, nullable=False, default=""),
    Column("controller", Text, nullable=False, default=""),
    Column("retired_at", UtcDateTime, nullable=True),  # migration 0007
    sqlite_autoincrement=True,
)

images = Table(
    "images",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "source_id",
        Integer,
        ForeignKey("sources.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("path", Text, nullable=False),
    # Content hash: ingest is idempotent by content, whatever the file is called.
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size_bytes", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("face_count", Integer, nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    # Provenance declared per image (manifests); jurisdiction falls back to the source's.
    Column("jurisdiction", String(2), nullable=True, index=True),
    Column("subject_ref", Text, nullable=True),
    Column("consent_ref", Text, nullable=True),
    Column("captured_at", UtcDateTime, nullable=True),
    Column("source_url", Text, nullable=True),
    Column("notes", Text, nullable=True),
    # Retention: the source's period from ingest, or the consent's end if sooner.
    Column("expires_at", UtcDateTime, nullable=True, index=True),
    sqlite_autoincrement=True,
)


def face_columns() -> list[Column[Any]]:
    """Where a face is and how good it is: the same columns on live, staged and held-back faces
    (fresh Column objects each call; a Column belongs to one table)."""
    return [
        Column("box_left", Integer, nullable=False),
        Column("box_top", Integer, nullable=False),
        Column("box_right", Integer, nullable=False),
        Column("box_bottom", Integer, nullable=False),
        Column("landmarks", JSON, nullable=False),
        Column("detection_score", Float, nullable=False),
        Column("face_size", Integer, nullable=False),
        Column("sharpness", Float, nullable=False),
    ]


faces = Table(
    "faces",
    metadata,
    # AUTOINCREMENT: ids are never reused, so a stale index entry can never alias a new face.
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "image_id", RowId, ForeignKey("images.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    *face_columns(),
    Column("embedding_space", String(120), nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # float32 little-endian
    sqlite_autoincrement=True,
)

# One row. ``version`` grows with every committed change to faces, so the index can tell whether
# it reflects the catalog without comparing every id.
gallery_state = Table(
    "gallery_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("embedding_space", String(120), nullable=True),
)

# --- governance (migration 0002) ---------------------------------------------------------------

optouts = Table(
    "optouts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("embedding_space", String(120), nullable=False),
    # The person's face template (an embedding), never their photo.
    Column("template", LargeBinary, nullable=False),
    Column("reference", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

# Content hashes of images erased at a data subject's request: never ingested again.
tombstones = Table(
    "tombstones",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    # API keys are 256-bit random tokens, so a plain SHA-256 is enough to store them safely.
    Column("key_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    # The sources this operator's searches may return faces from (migration 0008); NULL: all.
    Column("search_sources", JSON, nullable=True),
    sqlite_autoincrement=True,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),  # ISO 8601 text: hashed exactly as stored
    Column("actor", String(100), nullable=False, index=True),
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False, index=True),
    Column("purpose", Text, nullable=False),
    Column("case_ref", Text, nullable=False),
    Column("probe_sha256", String(64), nullable=False),
    Column("details", JSON, nullable=False),
    Column("gallery_version", Integer, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# --- identities (migration 0003) -----------------------------------------------------------------

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=True),
    # Locked: a person named it or edited its faces; clustering never merges two locked ones.
    Column("locked", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

face_identities = Table(
    "face_identities",
    metadata,
    Column("face_id", RowId, ForeignKey("faces.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "identity_id",
        Integer,
        ForeignKey("identities.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # "auto" (clustering) or "human" (named, merged, split or moved by a person): human
    # assignments are never changed by clustering.
    Column("assigned_by", String(10), nullable=False),
)

# --- re-embedding (migration 0005) ----------------------------------------------------------------
# A re-embed job re-analyses every image into a new embedding space beside the live one; ``job``
# names the target space. Nothing here is searched: the switch moves it into ``faces`` at once.

reembed_images = Table(
    "reembed_images",
    metadata,
    Column("job", String(200), primary_key=True),
    Column("image_id", RowId, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("outcome", String(20), nullable=False),  # "done" or "unreadable"
    Column("detail", Text, nullable=False, default=""),
)

reembed_faces = Table(
    "reembed_faces",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("job", String(200), nullable=False, index=True),
    Column(
        "image_id", RowId, ForeignKey("images.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    # The live face this one re-finds (same image, overlapping box): identities and opt-outs
    # follow it into the new space.
    Column("old_face_id", RowId, nullable=True),
    *face_columns(),
    Column("embedding", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)

# Faces of images a re-embed could not read again: kept (not silently lost) but out of the
# searchable space, until a later ``facesift reembed`` reads the image or it is erased.
faces_held_back = Table(
    "faces_held_back",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=False),  # its id when it was live
    Column(
        "image_id", RowId, ForeignKey("images.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    *face_columns(),
    Column("embedding_space", String(120), nullable=False),
    Column("embedding", LargeBinary, nullable=False),
)

# --- casework (migration 0004) -------------------------------------------------------------------

# A search kept so its leads can be reviewed later; the probe photo itself is never stored, only
# the crop of each searched face (search_probe_faces).
searches = Table(
    "searches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(100), nullable=False, index=True),
    Column("purpose", Text, nullable=False),
    Column("case_ref", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("probe_sha256", String(64), nullable=False),
    # The threshold it used and the gallery faces it compared with (migration 0006; None for
    # searches kept before): what its page says a stranger's chance of being a lead was.
    Column("threshold", Float, nullable=True),
    Column("compared_with", Integer, nullable=True),
    sqlite_autoincrement=True,
)

# The faces a search showed. No foreign key to faces: the record of what was shown outlives an
# erasure (the face row goes; the fact that it was once a lead stays, without any of its data).
search_leads = Table(
    "search_leads",
    metadata,
    Column("search_id", Integer, ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True),
    Column("face_id", RowId, primary_key=True, index=True),
    Column("face_number", Integer, nullable=False),
    Column("distance", Float, nullable=False),
)

# The crop of each face a kept search looked for (migration 0006): reviewers judge a lead beside
# it, and a case's evidence pack shows it. It lives and goes with its search.
search_probe_faces = Table(
    "search_probe_faces",
    metadata,
    Column("search_id", Integer, ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True),
    Column("face_number", Integer, primary_key=True),
    Column("box_left", Integer, nullable=False),
    Column("box_top", Integer, nullable=False),
    Column("box_right", Integer, nullable=False),
    Column("box_bottom", Integer, nullable=False),
    Column("crop_jpeg", LargeBinary, nullable=False),
    Column("cut_at_top_k", Boolean, nullable=False, server_default=false()),
)

lead_reviews = Table(
    "lead_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "search_id",
        Integer,
        ForeignKey("searches.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("face_id", RowId, nullable=False),
    Column("reviewer", String(100), nullable=False),
    Column("decision", String(10), nullable=False),  # "confirm" or "reject"
    Column("note", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("search_id", "face_id", "reviewer", name="uq_lead_review_once"),
    sqlite_autoincrement=True,
)

# Requests data subjects make through the portal. The selfie is kept only while the request is
# open, and cleared when it is fulfilled or declined.
subject_requests = Table(
    "subject_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(64), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # "access", "erasure" or "optout"
    Column("contact", Text, nullable=False),
    Column("name", Text, nullable=True),
    Column("status", String(10), nullable=False, index=True),  # "open", "fulfilled", "declined"
    Column("received_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("fulfilled_at", UtcDateTime, nullable=True),
    Column("selfie", LargeBinary, nullable=True),
    Column("selfie_sha256", String(64), nullable=False),
    Column("report_html", Text, nullable=True),
    Column("decline_reason", Text, nullable=True),
    Column("handled_by", String(100), nullable=True),
    # How the administrator checked that the requester is the person (migration 0009): nothing
    # about the gallery is disclosed before this is recorded.
    Column("identity_check", Text, nullable=True),
    sqlite_autoincrement=True,
)

# Audit records owed (migration 0010): inserted in the transaction of the change they describe,
# deleted once the record is in the chain; what a killed process leaves here, the next writer
# appends (ingest/jobs.py, settle_owed_audit_records).
owed_audit_records = Table(
    "owed_audit_records",
    metadata,
    Column("token", String(32), primary_key=True),
    Column("action", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

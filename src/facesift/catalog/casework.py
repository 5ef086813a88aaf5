"""Catalog queries for casework: kept searches, reviewers' decisions, subject requests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from facesift.catalog.statements import new_id
from facesift.catalog.tables import (
    faces,
    lead_reviews,
    search_leads,
    search_probe_faces,
    searches,
    subject_requests,
)
from facesift.errors import DuplicateReview
from facesift.types import BoundingBox


@dataclass(frozen=True)
class StoredSearch:
    id: int
    actor: str
    purpose: str
    case_ref: str
    at: datetime
    probe_sha256: str
    # (face_number, face_id, distance) for every lead the search showed
    leads: tuple[tuple[int, int, float], ...]
    threshold: float | None = None  # None: kept before migration 0006
    compared_with: int | None = None  # gallery faces compared with


@dataclass(frozen=True)
class ProbeFace:
    """A face a kept search looked for: its number in the probe, its box, its crop."""

    face_number: int
    box: BoundingBox
    crop_jpeg: bytes
    cut_at_top_k: bool = False  # more faces were within the threshold than were shown


@dataclass(frozen=True)
class StoredReview:
    face_id: int
    reviewer: str
    decision: str
    note: str
    at: datetime


@dataclass(frozen=True)
class StoredSubjectRequest:
    id: int
    reference: str
    kind: str
    contact: str
    name: str | None
    status: str
    received_at: datetime
    due_at: datetime
    fulfilled_at: datetime | None
    selfie: bytes | None
    selfie_sha256: str
    report_html: str | None
    decline_reason: str | None
    handled_by: str | None
    identity_check: str | None = None


@overload
def _utc(value: datetime) -> datetime: ...


@overload
def _utc(value: None) -> None: ...


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class CaseworkQueries:
    """Mixed into SqlCatalog (``self.db`` is its SQLAlchemy engine)."""

    db: Engine  # the SQLAlchemy engine, set by SqlCatalog

    # --- searches ------------------------------------------------------------------------------

    def add_search(
        self,
        actor: str,
        purpose: str,
        case_ref: str,
        probe_sha256: str,
        leads: Iterable[tuple[int, int, float]],
        probe_faces: Iterable[ProbeFace] = (),
        threshold: float | None = None,
        compared_with: int | None = None,
    ) -> int:
        with self.db.begin() as connection:
            search_id = new_id(
                connection.execute(
                    searches.insert().values(
                        actor=actor,
                        purpose=purpose,
                        case_ref=case_ref,
                        at=datetime.now(UTC),
                        probe_sha256=probe_sha256,
                        threshold=threshold,
                        compared_with=compared_with,
                    )
                )
            )
            rows: dict[int, dict[str, Any]] = {}
            for number, face_id, distance in leads:
                # One row per face: a face that matched two probe faces keeps its closest.
                if face_id not in rows or distance < rows[face_id]["distance"]:
                    rows[face_id] = {
                        "search_id": search_id,
                        "face_id": face_id,
                        "face_number": number,
                        "distance": distance,
                    }
            if rows:
                connection.execute(search_leads.insert(), list(rows.values()))
            crops = [
                {
                    "search_id": search_id,
                    "face_number": face.face_number,
                    "box_left": face.box.left,
                    "box_top": face.box.top,
                    "box_right": face.box.right,
                    "box_bottom": face.box.bottom,
                    "crop_jpeg": face.crop_jpeg,
                    "cut_at_top_k": face.cut_at_top_k,
                }
                for face in probe_faces
            ]
            if crops:
                connection.execute(search_probe_faces.insert(), crops)
        return int(search_id)

    def probe_faces(self, search_id: int) -> list[ProbeFace]:
        """The crops of the faces a kept search looked for, by face number."""
        with self.db.connect() as connection:
            rows = connection.execute(
                select(search_probe_faces)
                .where(search_probe_faces.c.search_id == search_id)
                .order_by(search_probe_faces.c.face_number)
            ).mappings()
            return [
                ProbeFace(
                    int(r["face_number"]),
                    BoundingBox(r["box_left"], r["box_top"], r["box_right"], r["box_bottom"]),
                    bytes(r["crop_jpeg"]),
                    bool(r["cut_at_top_k"]),
                )
                for r in rows
            ]

    def delete_probe_faces(self, search_ids: Iterable[int]) -> int:
        """Delete the probe crops of these kept searches (their leads and reviews stay)."""
        wanted = [int(i) for i in search_ids]
        if not wanted:
            return 0
        with self.db.begin() as connection:
            return int(
                connection.execute(
                    delete(search_probe_faces).where(search_probe_faces.c.search_id.in_(wanted))
                ).rowcount
            )

    def case_search_ids(self, case_ref: str) -> list[int]:
        """Ids of the kept searches made for ``case_ref``, oldest first."""
        query = select(searches.c.id).where(searches.c.case_ref == case_ref)
        with self.db.connect() as connection:
            return [int(i) for i in connection.execute(query.order_by(searches.c.id)).scalars()]

    def get_search(self, search_id: int) -> StoredSearch | None:
        with self.db.connect() as connection:
            row = (
                connection.execute(select(searches).where(searches.c.id == search_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            leads = connection.execute(
                select(search_leads.c.face_number, search_leads.c.face_id, search_leads.c.distance)
                .where(search_leads.c.search_id == search_id)
                .order_by(search_leads.c.face_number, search_leads.c.distance)
            ).all()
        return StoredSearch(
            id=row["id"],
            actor=row["actor"],
            purpose=row["purpose"],
            case_ref=row["case_ref"],
            at=_utc(row["at"]),
            probe_sha256=row["probe_sha256"],
            leads=tuple((int(n), int(f), float(d)) for n, f, d in leads),
            threshold=row["threshold"],
            compared_with=row["compared_with"],
        )

    def search_ids(self, actor: str | None = None) -> list[int]:
        """Ids of kept searches, newest first (only ``actor``'s, if given)."""
        query = select(searches.c.id).order_by(searches.c.id.desc())
        if actor is not None:
            query = query.where(searches.c.actor == actor)
        with self.db.connect() as connection:
            return [int(i) for i in connection.execute(query).scalars()]

    def face_was_lead(self, face_id: int, actor: str | None = None) -> bool:
        """Whether ``face_id`` was shown as a lead by some search (of ``actor``, if given)."""
        query = select(search_leads.c.search_id).where(search_leads.c.face_id == face_id)
        if actor is not None:
            query = query.join(searches).where(searches.c.actor == actor)
        with self.db.connect() as connection:
            return connection.execute(query.limit(1)).first() is not None

    def image_had_lead(self, image_id: int, actor: str | None = None) -> bool:
        """Whether a face of ``image_id`` was shown as a lead (to ``actor``, if given)."""
        query = (
            select(search_leads.c.search_id)
            .select_from(search_leads.join(faces, faces.c.id == search_leads.c.face_id))
            .where(faces.c.image_id == image_id)
        )
        if actor is not None:
            query = query.join(searches, searches.c.id == search_leads.c.search_id).where(
                searches.c.actor == actor
            )
        with self.db.connect() as connection:
            return connection.execute(query.limit(1)).first() is not None

    # --- lead reviews --------------------------------------------------------------------------

    def add_review(
        self, search_id: int, face_id: int, reviewer: str, decision: str, note: str
    ) -> None:
        try:
            with self.db.begin() as connection:
                connection.execute(
                    lead_reviews.insert().values(
                        search_id=search_id,
                        face_id=face_id,
                        reviewer=reviewer,
                        decision=decision,
                        note=note,
                        at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise DuplicateReview(reviewer) from None

    def reviews(self, search_id: int) -> list[StoredReview]:
        with self.db.connect() as connection:
            rows = connection.execute(
                select(lead_reviews)
                .where(lead_reviews.c.search_id == search_id)
                .order_by(lead_reviews.c.id)
            ).mappings()
            return [
                StoredReview(r["face_id"], r["reviewer"], r["decision"], r["note"], _utc(r["at"]))
                for r in rows
            ]

    # --- subject requests ----------------------------------------------------------------------

    def add_subject_request(self, **values: Any) -> int:
        with self.db.begin() as connection:
            return int(new_id(connection.execute(subject_requests.insert().values(**values))))

    def subject_request(
        self, *, request_id: int | None = None, reference: str | None = None
    ) -> StoredSubjectRequest | None:
        query = select(subject_requests)
        if request_id is not None:
            query = query.where(subject_requests.c.id == request_id)
        else:
            query = query.where(subject_requests.c.reference == reference)
        with self.db.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _subject_request(row) if row else None

    def list_subject_requests(self, status: str | None = None) -> list[StoredSubjectRequest]:
        query = select(subject_requests).order_by(subject_requests.c.due_at, subject_requests.c.id)
        if status:
            query = query.where(subject_requests.c.status == status)
        with self.db.connect() as connection:
            return [_subject_request(row) for row in connection.execute(query).mappings()]

    def close_subject_request(self, request_id: int, **values: Any) -> None:
        """Mark a request closed and drop the selfie: it is kept only while the request is open."""
        with self.db.begin() as connection:
            connection.execute(
                update(subject_requests)
                .where(subject_requests.c.id == request_id)
                .values(selfie=None, **values)
            )

    def delete_subject_request(self, request_id: int) -> None:
        with self.db.begin() as connection:
            connection.execute(delete(subject_requests).where(subject_requests.c.id == request_id))


def _subject_request(row: RowMapping) -> StoredSubjectRequest:
    return StoredSubjectRequest(
        id=row["id"],
        reference=row["reference"],
        kind=row["kind"],
        contact=row["contact"],
        name=row["name"],
        status=row["status"],
        received_at=_utc(row["received_at"]),
        due_at=_utc(row["due_at"]),
        fulfilled_at=_utc(row["fulfilled_at"]),
        selfie=row["selfie"],
        selfie_sha256=row["selfie_sha256"],
        report_html=row["report_html"],
        decline_reason=row["decline_reason"],
        handled_by=row["handled_by"],
        identity_check=row["identity_check"],
    )


__all__ = [
    "CaseworkQueries",
    "StoredReview",
    "StoredSearch",
    "StoredSubjectRequest",
]

"""Review of leads: a match is a lead until two different reviewers have confirmed it.

A search run through ``FaceSift.search_with_id`` is kept (who searched, why, for which case,
which faces it showed, and the crop of each probe face, never the whole probe photo). Reviewers
then confirm or reject each lead. A lead is "confirmed" only once two DIFFERENT reviewers have
confirmed it; the investigator who ran the search cannot review their own leads; a reviewer
decides once per lead; a rejection is recorded and shown beside any confirmations (it is for
people to weigh them, not for a rule to net them out), and a lead with any rejection is never
shown as confirmed. Every decision is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from facesift.catalog.base import Casework, Faces, Governance, StoredFace
from facesift.catalog.casework import ProbeFace, StoredReview, StoredSearch
from facesift.catalog.governance import ImageProvenance
from facesift.errors import (
    DuplicateReview,
    FaceNotFound,
    InputError,
    ReviewConflict,
    SearchNotFound,
)
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import PERMISSIONS, Action, Actor
from facesift.text import NOTE_CHARS, bounded
from facesift.types import LeadStatus, ReviewDecision, SearchRecord

CONFIRMATIONS_NEEDED = 2
DECISIONS = tuple(ReviewDecision)


@dataclass(frozen=True)
class LeadReviewStatus:
    search_id: int
    face_id: int
    status: LeadStatus
    confirmations: list[str]
    rejections: list[str]


class LeadReviews:
    """Lead reviews over the catalog's casework: kept searches and decisions on their leads."""

    def __init__(
        self, casework: Casework, faces: Faces, governance: Governance, audit: AuditRecorder
    ):
        self.casework = casework
        self.faces = faces
        self.governance = governance
        self.audit = audit

    def viewable_search(self, actor: Actor, search_id: int) -> StoredSearch:
        """A kept search, for reviewers and for whoever ran it."""
        found = self.kept_search(search_id)
        may_view_search(actor, found)
        self.audit.record(AuditEvent(actor, Action.VIEW_SEARCH, details={"search_id": search_id}))
        return found

    def decisions(self, actor: Actor, search_id: int) -> list[StoredReview]:
        """Every reviewer's decision and note on a kept search's leads, oldest first: reviewers
        see each other's reasoning (a second reviewer weighs the first's note)."""
        may_view_search(actor, self.kept_search(search_id))
        return self.casework.reviews(search_id)

    def probe_faces(self, actor: Actor, search_id: int) -> list[ProbeFace]:
        """The probe faces a kept search looked for (crop, box, whether cut at top-k)."""
        may_view_search(actor, self.kept_search(search_id))
        return self.casework.probe_faces(search_id)

    def probe_crop(self, actor: Actor, search_id: int, face_number: int) -> bytes:
        """The crop of probe face ``face_number`` of a kept search, for whoever may view it
        (the view of the search itself is what is audited)."""
        found = self.kept_search(search_id)
        may_view_search(actor, found)
        for probe in self.casework.probe_faces(search_id):
            if probe.face_number == face_number:
                return probe.crop_jpeg
        raise FaceNotFound(f"search {search_id} kept no crop of probe face {face_number}")

    def lead_faces(
        self, actor: Actor, search_id: int
    ) -> tuple[dict[int, StoredFace], dict[int, ImageProvenance]]:
        """Where each lead of a viewable search is (faces erased since are absent)."""
        found = self.viewable_search(actor, search_id)
        stored = self.faces.stored_faces([face_id for _, face_id, _ in found.leads])
        return stored, self.governance.provenance(face.image_id for face in stored.values())

    def kept_search(self, search_id: int) -> StoredSearch:
        found = self.casework.get_search(int(search_id))
        if found is None:
            raise SearchNotFound(search_id)
        return found

    def review_lead(
        self,
        actor: Actor,
        search_id: int,
        face_id: int,
        decision: str,
        note: str = "",
    ) -> LeadReviewStatus:
        actor.require(Action.REVIEW)
        if decision not in DECISIONS:
            raise InputError(f"decision {decision!r} is not one of: {', '.join(DECISIONS)}")
        search = self.kept_search(search_id)
        if face_id not in {lead_face for _, lead_face, _ in search.leads}:
            raise InputError(f"face {face_id} was not a lead of search {search_id}")
        if actor.name == search.actor:
            raise ReviewConflict(
                f"operator {actor.name!r} ran search {search_id} and cannot review its leads"
            )
        try:
            self.casework.add_review(
                search_id, face_id, actor.name, decision, bounded("note", note, NOTE_CHARS)
            )
        except DuplicateReview:
            raise ReviewConflict(
                f"operator {actor.name!r} has already reviewed face {face_id} of search {search_id}"
            ) from None
        status = self.statuses_of(search)[face_id]
        self.audit.record(
            AuditEvent(
                actor,
                Action.REVIEW,
                purpose=search.purpose,
                case_ref=search.case_ref,
                details={
                    "search_id": search_id,
                    "face_id": face_id,
                    "decision": decision,
                    "note": note.strip(),
                    "status": status.status,
                },
            )
        )
        return status

    def lead_reviews(self, actor: Actor, search_id: int) -> list[LeadReviewStatus]:
        """Review status of every lead of a search: for reviewers, and for whoever ran it."""
        search = self.kept_search(search_id)
        may_view_search(actor, search)
        statuses = self.statuses_of(search)
        return [statuses[face_id] for face_id in dict.fromkeys(f for _, f, _ in search.leads)]

    def kept_searches(
        self, actor: Actor, *, pending_only: bool = False, limit: int = 100
    ) -> list[StoredSearch]:
        """Kept searches, newest first: every one for reviewers, their own for investigators;
        ``pending_only`` keeps those with a lead still awaiting review."""
        if Action.REVIEW in PERMISSIONS[actor.role]:
            ids = self.casework.search_ids()
        else:
            actor.require(Action.SEARCH)
            ids = self.casework.search_ids(actor.name)
        found = []
        for search_id in ids:
            search = self.kept_search(search_id)
            if pending_only and not any(
                s.status == LeadStatus.PENDING for s in self.statuses_of(search).values()
            ):
                continue
            found.append(search)
            if len(found) >= limit:
                break
        return found

    def statuses_of(self, search: StoredSearch) -> dict[int, LeadReviewStatus]:
        """Each lead's review status (no permission check: callers have made theirs)."""
        reviews = self.casework.reviews(search.id)
        statuses = {}
        for _, face_id, _ in search.leads:
            confirmed = [
                r.reviewer
                for r in reviews
                if r.face_id == face_id and r.decision == ReviewDecision.CONFIRM
            ]
            rejected = [
                r.reviewer
                for r in reviews
                if r.face_id == face_id and r.decision == ReviewDecision.REJECT
            ]
            if rejected:
                status = LeadStatus.REJECTED
            elif len(set(confirmed)) >= CONFIRMATIONS_NEEDED:
                status = LeadStatus.CONFIRMED
            else:
                status = LeadStatus.PENDING
            statuses[face_id] = LeadReviewStatus(search.id, face_id, status, confirmed, rejected)
        return statuses


def may_view_search(actor: Actor, search: StoredSearch) -> None:
    """Reviewers see every kept search; an investigator sees their own."""
    if actor.name != search.actor:
        actor.require(Action.REVIEW)


__all__ = [
    "LeadReviewStatus",
    "ReviewConflict",
    "SearchNotFound",
    "SearchRecord",
    "LeadReviews",
    "may_view_search",
]

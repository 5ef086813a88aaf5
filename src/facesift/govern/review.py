"""Review of leads: a match is a lead until two different reviewers have confirmed it.

A search run through ``FaceSift.search_with_id`` is kept (who searched, why, for which case, and
which faces it showed, never the probe). Reviewers then confirm or reject each lead. A lead is
"confirmed" only once two DIFFERENT reviewers have confirmed it; the investigator who ran the
search cannot review their own leads; a reviewer decides once per lead; a rejection is recorded
and shown beside any confirmations (it is for people to weigh them, not for a rule to net them
out), and a lead with any rejection is never shown as confirmed. Every decision is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from facesift.catalog.casework import StoredSearch
from facesift.errors import DuplicateReview, InputError, ReviewConflict, SearchNotFound
from facesift.govern.audit import AuditEvent
from facesift.govern.roles import PERMISSIONS, Action, Actor
from facesift.types import LeadStatus, ProbeFaceResult, ReviewDecision

if TYPE_CHECKING:
    from facesift.engine import FaceSift

CONFIRMATIONS_NEEDED = 2
DECISIONS = tuple(ReviewDecision)


@dataclass(frozen=True)
class SearchRecord:
    """A search's results with the id reviewers use to review its leads (None if not kept)."""

    search_id: int | None
    results: list[ProbeFaceResult]


@dataclass(frozen=True)
class LeadReviewStatus:
    search_id: int
    face_id: int
    status: LeadStatus
    confirmations: list[str]
    rejections: list[str]


def kept_search(engine: FaceSift, search_id: int) -> StoredSearch:
    found = engine.catalog.get_search(int(search_id))
    if found is None:
        raise SearchNotFound(search_id)
    return found


def review_lead(
    engine: FaceSift,
    actor: Actor,
    search_id: int,
    face_id: int,
    decision: str,
    note: str = "",
) -> LeadReviewStatus:
    actor.require(Action.REVIEW)
    if decision not in DECISIONS:
        raise InputError(f"decision {decision!r} is not one of: {', '.join(DECISIONS)}")
    search = kept_search(engine, search_id)
    if face_id not in {lead_face for _, lead_face, _ in search.leads}:
        raise InputError(f"face {face_id} was not a lead of search {search_id}")
    if actor.name == search.actor:
        raise ReviewConflict(
            f"operator {actor.name!r} ran search {search_id} and cannot review its leads"
        )
    try:
        engine.catalog.add_review(search_id, face_id, actor.name, decision, note.strip())
    except DuplicateReview:
        raise ReviewConflict(
            f"operator {actor.name!r} has already reviewed face {face_id} of search {search_id}"
        ) from None
    status = _statuses(engine, search)[face_id]
    engine.record(
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


def lead_reviews(engine: FaceSift, actor: Actor, search_id: int) -> list[LeadReviewStatus]:
    """Review status of every lead of a search: for reviewers, and for whoever ran it."""
    search = kept_search(engine, search_id)
    may_view_search(actor, search)
    statuses = _statuses(engine, search)
    return [statuses[face_id] for face_id in dict.fromkeys(f for _, f, _ in search.leads)]


def kept_searches(
    engine: FaceSift, actor: Actor, *, pending_only: bool = False, limit: int = 100
) -> list[StoredSearch]:
    """Kept searches, newest first: every one for reviewers, their own for investigators;
    ``pending_only`` keeps those with a lead still awaiting review."""
    if Action.REVIEW in PERMISSIONS[actor.role]:
        ids = engine.catalog.search_ids()
    else:
        actor.require(Action.SEARCH)
        ids = engine.catalog.search_ids(actor.name)
    found = []
    for search_id in ids:
        search = kept_search(engine, search_id)
        if pending_only and not any(
            s.status == LeadStatus.PENDING for s in _statuses(engine, search).values()
        ):
            continue
        found.append(search)
        if len(found) >= limit:
            break
    return found


def may_view_search(actor: Actor, search: StoredSearch) -> None:
    """Reviewers see every kept search; an investigator sees their own."""
    if actor.name != search.actor:
        actor.require(Action.REVIEW)


def _statuses(engine: FaceSift, search: StoredSearch) -> dict[int, LeadReviewStatus]:
    reviews = engine.catalog.reviews(search.id)
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


__all__ = [
    "LeadReviewStatus",
    "ReviewConflict",
    "SearchNotFound",
    "SearchRecord",
    "kept_search",
    "kept_searches",
    "lead_reviews",
    "may_view_search",
    "review_lead",
]

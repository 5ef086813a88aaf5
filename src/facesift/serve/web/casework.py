"""What the search, review and request pages show, gathered from the engine in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from facesift.catalog.casework import StoredReview, StoredSearch
from facesift.engine import FaceSift
from facesift.govern.review import LeadReviewStatus
from facesift.govern.roles import PERMISSIONS, Action, Actor
from facesift.search.policy import plain_count, plain_rate
from facesift.types import SearchOdds


@dataclass(frozen=True)
class LeadView:
    """One lead of a kept search as the page shows it; ``held`` is False once erased."""

    face_number: int
    face_id: int
    distance: float
    false_match_rate: float
    review: LeadReviewStatus
    held: bool
    image_id: int | None = None
    image_name: str = ""
    source: str = ""
    lawful_basis: str = ""
    jurisdiction: str = ""
    ingested_at: datetime | None = None
    expires_at: datetime | None = None
    controller: str = ""


@dataclass(frozen=True)
class SearchView:
    search: StoredSearch
    leads: list[LeadView]
    probe_faces: list[int]  # probe face numbers that have leads, in order
    may_review: bool  # this actor may confirm or reject these leads
    decided: set[int]  # face ids this actor has already decided on
    may_export: bool = False  # this actor may download the case's evidence pack
    odds: SearchOdds | None = None  # what the search could be expected to return
    cut: set[int] = field(default_factory=set)  # probe faces whose leads were cut at top-k
    crops: set[int] = field(default_factory=set)  # probe faces whose crop is kept (case open)
    resolution: float = 0.0  # the smallest rate the calibration tells apart from zero
    decisions: dict[int, list[StoredReview]] = field(default_factory=dict)  # by face id

    def leads_of(self, number: int) -> list[LeadView]:
        return [lead for lead in self.leads if lead.face_number == number]


def kept_search(engine: FaceSift, actor: Actor, search_id: int) -> StoredSearch:
    return engine.kept_search(actor, search_id)


def kept_searches(
    engine: FaceSift, actor: Actor, pending_only: bool, limit: int = 100
) -> list[StoredSearch]:
    return engine.kept_searches(actor, pending_only=pending_only, limit=limit)


def search_view(engine: FaceSift, actor: Actor, search_id: int) -> SearchView:
    found = kept_search(engine, actor, search_id)
    statuses = {s.face_id: s for s in engine.lead_reviews(actor, search_id)}
    stored, provenance = engine.lead_faces(actor, search_id)
    leads = []
    for number, face_id, distance in found.leads:
        face = stored.get(face_id)
        shared: dict[str, Any] = {
            "face_number": number,
            "face_id": face_id,
            "distance": distance,
            "false_match_rate": engine.calibration.false_match_rate(distance),
            "review": statuses[face_id],
        }
        if face is None:
            leads.append(LeadView(**shared, held=False))
            continue
        origin = provenance.get(face.image_id)
        leads.append(
            LeadView(
                **shared,
                held=True,
                image_id=face.image_id,
                image_name=face.image_path.rsplit("/", 1)[-1],
                source=face.source,
                lawful_basis=face.lawful_basis,
                jurisdiction=face.jurisdiction,
                ingested_at=face.ingested_at,
                expires_at=origin.expires_at if origin else None,
                controller=origin.controller if origin else "",
            )
        )
    probes = engine.probe_faces(actor, search_id)
    may_review = Action.REVIEW in PERMISSIONS[actor.role] and actor.name != found.actor
    decided = {
        s.face_id
        for s in statuses.values()
        if actor.name in s.confirmations or actor.name in s.rejections
    }
    return SearchView(
        found,
        leads,
        sorted({lead.face_number for lead in leads}),
        may_review,
        decided,
        may_export=Action.CASE_EXPORT in PERMISSIONS[actor.role] and actor.name == found.actor,
        odds=(
            engine.policy.odds(found.threshold, found.compared_with)
            if found.threshold is not None and found.compared_with
            else None
        ),
        cut={p.face_number for p in probes if p.cut_at_top_k},
        crops={p.face_number for p in probes},
        resolution=engine.calibration.resolution,
        decisions=_by_face(engine.review_decisions(actor, search_id)),
    )


def _by_face(decisions: list[StoredReview]) -> dict[int, list[StoredReview]]:
    grouped: dict[int, list[StoredReview]] = {}
    for decision in decisions:
        grouped.setdefault(decision.face_id, []).append(decision)
    return grouped


def one_in(rate: float, resolution: float | None = None) -> str:
    """A false-match rate as people read it: "1 in 12,000" (the one format everywhere)."""
    return plain_rate(rate, resolution)


def strangers(view: SearchView, rate: float) -> str:
    """How many strangers at least this close a gallery of this search's size should hold."""
    if view.odds is None:
        return ""
    return plain_count(view.odds.strangers_as_close(max(rate, view.resolution)))

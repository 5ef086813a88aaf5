"""Lead review, kept searches and case evidence, and the faces and images operators may see,
as the facade offers them (govern/review.py, govern/evidence.py, govern/visibility.py)."""

from __future__ import annotations

from pathlib import Path

from facesift.catalog.base import StoredFace
from facesift.catalog.casework import ProbeFace, StoredReview, StoredSearch
from facesift.catalog.governance import ImageProvenance
from facesift.govern.evidence import CaseEvidence, ExportedPack
from facesift.govern.review import LeadReviews, LeadReviewStatus
from facesift.govern.roles import Actor
from facesift.govern.visibility import Visibility


class CaseworkOperations:
    """What happens to a search's leads: people review them, a case keeps and exports them."""

    reviews: LeadReviews
    evidence: CaseEvidence
    visibility: Visibility

    def review_lead(
        self, actor: Actor, search_id: int, face_id: int, decision: str, note: str = ""
    ) -> LeadReviewStatus:
        return self.reviews.review_lead(actor, search_id, face_id, decision, note)

    def kept_searches(
        self, actor: Actor, *, pending_only: bool = False, limit: int = 100
    ) -> list[StoredSearch]:
        return self.reviews.kept_searches(actor, pending_only=pending_only, limit=limit)

    def kept_search(self, actor: Actor, search_id: int) -> StoredSearch:
        """One kept search, for reviewers and for whoever ran it."""
        return self.reviews.viewable_search(actor, search_id)

    def lead_faces(
        self, actor: Actor, search_id: int
    ) -> tuple[dict[int, StoredFace], dict[int, ImageProvenance]]:
        """Where each lead of a kept search is, for whoever may view the search."""
        return self.reviews.lead_faces(actor, search_id)

    def lead_reviews(self, actor: Actor, search_id: int) -> list[LeadReviewStatus]:
        return self.reviews.lead_reviews(actor, search_id)

    def review_decisions(self, actor: Actor, search_id: int) -> list[StoredReview]:
        return self.reviews.decisions(actor, search_id)

    def probe_faces(self, actor: Actor, search_id: int) -> list[ProbeFace]:
        return self.reviews.probe_faces(actor, search_id)

    def probe_crop(self, actor: Actor, search_id: int, face_number: int) -> bytes:
        """The JPEG crop of a kept search's probe face (what its leads are compared with)."""
        return self.reviews.probe_crop(actor, search_id, face_number)

    def close_case(self, actor: Actor, case: str) -> int:
        """The case is over: erase its kept searches' probe crops; returns how many."""
        return self.evidence.close(actor, case)

    def export_case(self, actor: Actor, case: str, out: Path) -> ExportedPack:
        """The evidence pack of ``case``, written to the new folder ``out``."""
        return self.evidence.export(actor, case, out)

    def face_thumbnail(
        self, actor: Actor, face_id: int, size: int = 160, boxed: bool = False
    ) -> bytes:
        return self.visibility.face_thumbnail(actor, face_id, size, boxed)

    def image_file(self, actor: Actor, image_id: int) -> tuple[bytes, str]:
        return self.visibility.image_bytes(actor, image_id)

"""1:N search, 1:1 verification, identities and duplicates, as the facade offers them (search/)."""

from __future__ import annotations

from pathlib import Path

from facesift.catalog.base import StoredFace
from facesift.catalog.identities import IdentitySummary
from facesift.govern.roles import Actor
from facesift.search.clustering import Clusterer, ClusterReport
from facesift.search.duplicates import DuplicateFinder, DuplicateReport
from facesift.search.identify import Identifier
from facesift.search.identities import IdentityEditor
from facesift.search.verify import Verifier
from facesift.types import ProbeFaceResult, SearchRecord, Verification


class SearchOperations:
    """Finding people: search and verify, and the identities and duplicates the gallery holds."""

    identifier: Identifier
    verifier: Verifier
    clusterer: Clusterer
    duplicate_finder: DuplicateFinder
    identity_editor: IdentityEditor

    def search(
        self,
        actor: Actor,
        probe: Path | bytes,
        *,
        purpose: str | None = None,
        case: str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        face: int | None = None,
        name: str | None = None,
    ) -> list[ProbeFaceResult]:
        """1:N search: for each face of the probe (or only face number ``face``), ranked leads."""
        return self.identifier.search(
            actor,
            probe,
            purpose=purpose,
            case=case,
            top_k=top_k,
            threshold=threshold,
            face=face,
            name=name,
        ).results

    def search_with_id(
        self,
        actor: Actor,
        probe: Path | bytes,
        *,
        purpose: str | None = None,
        case: str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        face: int | None = None,
        name: str | None = None,
    ) -> SearchRecord:
        """As ``search``, and the search is kept (who, why, which leads) so that reviewers can
        confirm or reject its leads later by its ``search_id``."""
        return self.identifier.search(
            actor,
            probe,
            purpose=purpose,
            case=case,
            top_k=top_k,
            threshold=threshold,
            face=face,
            name=name,
            keep=True,
        )

    def verify(
        self,
        actor: Actor,
        a: Path | bytes,
        b: Path | bytes,
        *,
        purpose: str | None = None,
        case: str | None = None,
        threshold: float | None = None,
    ) -> Verification:
        """1:1: is the main face in ``a`` the same person as the main face in ``b``?"""
        return self.verifier.verify(actor, a, b, purpose=purpose, case=case, threshold=threshold)

    def cluster(
        self, actor: Actor, *, threshold: float | None = None, rebuild: bool = False
    ) -> ClusterReport:
        return self.clusterer.cluster(actor, threshold=threshold, rebuild=rebuild)

    def duplicates(
        self,
        actor: Actor,
        source: str,
        *,
        against: str | None = None,
        threshold: float | None = None,
    ) -> DuplicateReport:
        return self.duplicate_finder.find(actor, source, against=against, threshold=threshold)

    def identities(self, actor: Actor, min_faces: int = 1) -> list[IdentitySummary]:
        return self.identity_editor.summaries(actor, min_faces)

    def identity_faces(self, actor: Actor, identity_id: int) -> list[int]:
        return self.identity_editor.faces_of(actor, identity_id)

    def name_identity(self, actor: Actor, identity_id: int, name: str) -> None:
        self.identity_editor.name(actor, identity_id, name)

    def merge_identities(self, actor: Actor, keep: int, other: int) -> int:
        return self.identity_editor.merge(actor, keep, other)

    def move_faces(self, actor: Actor, face_ids: list[int], identity_id: int | None) -> int:
        """Move faces to an identity (None: split them into a new one); returns its id."""
        return self.identity_editor.move(actor, face_ids, identity_id)

    def stored_faces(self, actor: Actor, face_ids: list[int]) -> dict[int, StoredFace]:
        """Where each face is (image, box, source): for the identity views (IDENTITY_VIEW)."""
        return self.identity_editor.stored_faces(actor, face_ids)

    def identities_of(self, actor: Actor, face_ids: list[int]) -> dict[int, IdentitySummary]:
        return self.identity_editor.identities_of(actor, face_ids)

"""The catalog's roles: what each service needs from the durable store (the truth).

Services take the role Protocols they use (a re-embedder takes ``Reembedding`` and ``Faces``,
the audit trail ``AuditLog``), never the whole ``Catalog``; all SQL lives in this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from facesift.catalog.audit_log import AuditRow
from facesift.catalog.casework import ProbeFace, StoredReview, StoredSearch, StoredSubjectRequest
from facesift.catalog.governance import Deletion, ImageProvenance
from facesift.catalog.identities import IdentitySummary
from facesift.catalog.operators import StoredOperator
from facesift.catalog.reembedding import ImageToReembed, ReembedOutcome, SwitchSummary
from facesift.read.manifests import Provenance
from facesift.types import (
    AnalysedImage,
    BoundingBox,
    EmbeddingSpace,
    FaceTags,
    LawfulBasis,
    Source,
)


@dataclass(frozen=True, eq=False)
class NewImage:
    """An analysed image ready to be recorded under a source."""

    source_id: int
    analysed: AnalysedImage
    expires_at: datetime | None = None
    provenance: Provenance | None = None


@dataclass(frozen=True)
class OwedAudit:
    """An audit record a change owes, stored with the change (see tables.owed_audit_records)."""

    token: str
    action: str
    actor: str
    role: str
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredFace:
    """A gallery face with its image and source: what a search hit needs to show provenance."""

    face_id: int
    box: BoundingBox
    image_id: int
    image_path: str
    image_sha256: str
    ingested_at: datetime
    source: str
    lawful_basis: str
    jurisdiction: str
    # When retention (or consent) ends for the image; past it, the image is purged at the next
    # `purge` and meanwhile never shown as a lead.
    expires_at: datetime | None = None


@dataclass(frozen=True)
class CatalogCounts:
    sources: int
    images: int
    faces: int
    images_without_faces: int


# --- the catalog's roles: each service takes the one or two it uses ------------------------------


class Sources(Protocol):
    """Declared sources: every image enters through one."""

    def add_source(
        self,
        name: str,
        lawful_basis: LawfulBasis,
        jurisdiction: str,
        retention_days: int,
        description: str = "",
        *,
        purpose: str,
        controller: str,
    ) -> Source: ...

    def get_source(self, name: str) -> Source: ...

    def list_sources(self) -> list[Source]: ...

    def edit_source(
        self, name: str, *, description: str, purpose: str, controller: str
    ) -> tuple[Source, Source]:
        """Change what describes a source, not its legal terms; returns (before, after)."""
        ...

    def retire_source(self, name: str, at: datetime) -> Source:
        """No new ingest into the source from ``at`` on; its images stay."""
        ...

    def source_counts(self) -> dict[str, tuple[int, int]]:
        """Images and faces per source name."""
        ...

    def source_records(self, source_id: int) -> tuple[np.ndarray, list[str]]:
        """Face ids of a source and, for each, its record (subject reference, else image)."""
        ...


class Faces(Protocol):
    """Images, faces and their embeddings: what ingest writes and search reads."""

    def exclusive_writer(self) -> AbstractContextManager[None]: ...

    def known_hashes(self, hashes: Iterable[str]) -> set[str]: ...

    def sources_holding(self, hashes: Iterable[str]) -> dict[str, str]: ...

    def held_paths(self, paths: Iterable[str]) -> set[str]: ...

    def add_images(
        self, batch: list[NewImage], space: EmbeddingSpace, owed: OwedAudit | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Record a batch in one transaction, with the audit record it owes if given; return
        the new face ids and their embeddings."""
        ...

    def owed_audit_records(self) -> list[OwedAudit]: ...

    def settle_owed_audit(self, token: str) -> None: ...

    def stored_faces(self, face_ids: Iterable[int]) -> dict[int, StoredFace]: ...

    def face_ids(self) -> np.ndarray: ...

    def embeddings(self, face_ids: np.ndarray) -> np.ndarray: ...

    def iter_embeddings(
        self, batch_size: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def face_tags(self, face_ids: np.ndarray) -> FaceTags:
        """Source id and effective jurisdiction of each face, in the order given."""
        ...

    def face_images(self, face_ids: np.ndarray) -> np.ndarray: ...

    def version(self) -> int: ...

    def embedding_space(self) -> str | None: ...

    def counts(self) -> CatalogCounts: ...


class Governance(Protocol):
    """Provenance, expiry, erasure, tombstones and the do-not-index list."""

    def provenance(self, image_ids: Iterable[int]) -> dict[int, ImageProvenance]: ...

    def expired_image_ids(self, now: datetime) -> list[int]: ...

    def image_ids_in_jurisdiction(self, code: str) -> list[int]: ...

    def image_ids_of_source(self, source_id: int) -> list[int]: ...

    def delete_images(self, image_ids: Iterable[int]) -> Deletion: ...

    def delete_faces(self, face_ids: Iterable[int]) -> Deletion: ...

    def withdraw_reports_showing(self, image_sha256s: Iterable[str]) -> int: ...

    def forget_deleted(self) -> None:
        """Leave no copy of deleted rows in the catalog's own files (journal, free pages)."""
        ...

    def add_tombstones(self, hashes: Iterable[str], reason: str) -> None: ...

    def tombstoned(self, hashes: Iterable[str]) -> set[str]: ...

    def add_optout(self, template: np.ndarray, space: str, reference: str) -> None: ...

    def optout_templates(self) -> tuple[list[str], np.ndarray]: ...

    def remove_optouts(self, references: Iterable[str]) -> int: ...

    def optout_count(self) -> int: ...

    def tombstone_count(self) -> int: ...


class Identities(Protocol):
    """Faces grouped into identities, by clustering and by people's edits."""

    def assignments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def save_groups(self, groups: list[list[int]], existing: dict[int, int]) -> tuple[int, int]: ...

    def unassign(self, face_ids: Iterable[int], *, automatic_only: bool = True) -> int: ...

    def name_identity(self, identity_id: int, name: str) -> None: ...

    def move_faces(self, face_ids: Iterable[int], identity_id: int | None) -> int: ...

    def merge_identities(self, keep: int, other: int) -> int: ...

    def identity_summaries(self, min_faces: int = 1, sample: int = 6) -> list[IdentitySummary]: ...

    def identity_faces(self, identity_id: int) -> list[int]: ...

    def identities_of(self, face_ids: Iterable[int]) -> dict[int, IdentitySummary]: ...


class Casework(Protocol):
    """Kept searches, lead reviews and subject requests."""

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
    ) -> int: ...

    def get_search(self, search_id: int) -> StoredSearch | None: ...

    def probe_faces(self, search_id: int) -> list[ProbeFace]: ...

    def case_search_ids(self, case_ref: str) -> list[int]: ...

    def delete_probe_faces(self, search_ids: Iterable[int]) -> int: ...

    def search_ids(self, actor: str | None = None) -> list[int]: ...

    def face_was_lead(self, face_id: int, actor: str | None = None) -> bool: ...

    def image_had_lead(self, image_id: int, actor: str | None = None) -> bool: ...

    def add_review(
        self, search_id: int, face_id: int, reviewer: str, decision: str, note: str
    ) -> None: ...

    def reviews(self, search_id: int) -> list[StoredReview]: ...

    def add_subject_request(self, **values: Any) -> int: ...

    def subject_request(
        self, *, request_id: int | None = None, reference: str | None = None
    ) -> StoredSubjectRequest | None: ...

    def list_subject_requests(self, status: str | None = None) -> list[StoredSubjectRequest]: ...

    def close_subject_request(self, request_id: int, **values: Any) -> None: ...

    def delete_subject_request(self, request_id: int) -> None: ...


class Reembedding(Protocol):
    """A re-embed job's staged vectors and the switch to the new space."""

    def reembed_discard_other_jobs(self, job: str) -> int: ...

    def reembed_todo(self, job: str, only_held_back: bool = False) -> list[ImageToReembed]: ...

    def reembed_progress(self, job: str) -> dict[str, int]: ...

    def reembed_unreadable(self, job: str) -> list[tuple[str, str]]: ...

    def live_faces_of(
        self, image_ids: Iterable[int]
    ) -> dict[int, list[tuple[int, tuple[Any, ...]]]]: ...

    def record_reembedded(self, job: str, outcomes: list[ReembedOutcome]) -> None: ...

    def reembed_staged_vectors(self, job: str) -> tuple[np.ndarray, np.ndarray]: ...

    def switch_space(
        self,
        job: str,
        old_space: str | None,
        new_space: EmbeddingSpace,
        optout_templates: list[tuple[str, np.ndarray]],
        *,
        require_all_images: bool = True,
    ) -> SwitchSummary: ...

    def held_back_count(self) -> int: ...


class AuditLog(Protocol):
    """The stored rows of the audit trail (the chain is govern/audit.py's)."""

    def append_chained(self, build: Callable[[int, str | None], AuditRow]) -> AuditRow: ...

    def audit_rows(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]: ...

    def audit_page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        case_ref: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> tuple[list[AuditRow], int]:
        """A page of the matching records and how many match in all."""
        ...

    def iter_audit_rows(self) -> Iterator[AuditRow]: ...


class Operators(Protocol):
    """Operators: name, role, hashed API key."""

    def add_operator(self, name: str, role: str, key_sha256: str, created_at: datetime) -> None: ...

    def operator_count(self) -> int: ...

    def active_operators(self) -> list[StoredOperator]: ...

    def active_operator(
        self, *, name: str | None = None, key_sha256: str | None = None
    ) -> StoredOperator | None: ...

    def disable_operator(self, name: str, at: datetime) -> bool: ...

    def replace_operator_key(self, name: str, key_sha256: str) -> bool: ...

    def set_search_sources(self, name: str, sources: list[str] | None) -> bool: ...


class Catalog(
    Sources,
    Faces,
    Governance,
    Identities,
    Casework,
    Reembedding,
    AuditLog,
    Operators,
    Protocol,
):
    """The whole catalog: every role, as SqlCatalog implements them. Only the composition root
    (engine.py) holds one; services take the roles they use."""

    display_url: str

    def close(self) -> None: ...


CATALOG_ROLES: tuple[type, ...] = (
    Sources,
    Faces,
    Governance,
    Identities,
    Casework,
    Reembedding,
    AuditLog,
    Operators,
)

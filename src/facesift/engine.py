"""FaceSift: the composition root. It builds the ports from ``Settings`` (catalog, index, audit
trail, matching policy, probe reader, gallery writer) and wires the services that live in their
stage packages; its methods delegate to them. The CLI, the API, the web UI and the tests all build
and call this one object.

    search/   Identifier (1:N), Verifier (1:1), Clusterer, DuplicateFinder, MatchingPolicy
    govern/   SubjectRights, SubjectRequests, LeadReviews, Erasure, ProcessingRecords, audit, roles
    ingest/   Ingestor, Reembedder
    index/    GalleryWriter (lock, catalog commit, index update), OptOutList, IndexKeeper

``catalog`` and ``index`` are attributes for tests and tools; serve/ and cli/ never use them
(tests/unit/test_layers.py), they call the permission-checked methods below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np

from facesift.catalog import SqlCatalog
from facesift.catalog.base import StoredFace
from facesift.catalog.casework import ProbeFace, StoredReview, StoredSearch
from facesift.catalog.governance import ImageProvenance
from facesift.catalog.identities import IdentitySummary
from facesift.config import Settings
from facesift.embed.base import embedding_space_of
from facesift.errors import FaceSiftError, InputError, SpaceMismatchError
from facesift.govern.audit import (
    AuditEvent,
    AuditFilter,
    AuditRecord,
    AuditRecorder,
    AuditTrail,
    ChainCheck,
    parse_checkpoint,
)
from facesift.govern.audit_export import AuditReader
from facesift.govern.derived import discard_unheld
from facesift.govern.dpia import DataProtectionImpact
from facesift.govern.erasure import Erasure
from facesift.govern.evidence import CaseEvidence, ExportedPack
from facesift.govern.operators import OperatorAdmin, OperatorRegistry
from facesift.govern.records import ProcessingRecords
from facesift.govern.requests import SubjectRequest, SubjectRequests
from facesift.govern.review import LeadReviews, LeadReviewStatus
from facesift.govern.roles import Action, Actor, Role
from facesift.govern.subjects import OptOutReceipt, Receipt, SubjectReport, SubjectRights
from facesift.govern.visibility import Visibility
from facesift.index import VectorIndex, open_index
from facesift.index.keeper import IndexCheck, IndexKeeper
from facesift.index.lock import GalleryLock
from facesift.index.optouts import OptOutList
from facesift.index.writer import GalleryWriter
from facesift.ingest.jobs import Ingestor, IngestPorts, IngestReport
from facesift.ingest.reembed import Reembedder, ReembedPorts, ReembedReport
from facesift.ingest.sources import SourceRegistry
from facesift.pipeline import AnalyserPool, FaceAnalyser, ProbeReader
from facesift.search.calibration import Calibration
from facesift.search.clustering import Clusterer, ClusterReport
from facesift.search.duplicates import DuplicateFinder, DuplicateReport
from facesift.search.identify import Identifier
from facesift.search.identities import IdentityEditor
from facesift.search.policy import MatchingPolicy, reported_rate
from facesift.search.verify import Verifier
from facesift.types import (
    AnalysedImage,
    EmbeddingSpace,
    LawfulBasis,
    ProbeFaceResult,
    SearchRecord,
    Source,
    Verification,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stats:
    data_dir: str
    catalog_url: str
    sources: int
    images: int
    images_without_faces: int
    faces: int
    index_kind: str
    index_size: int
    index_bytes: int
    embedding_space: str
    detector: str
    match_threshold: float | None  # None: no calibration for the space, no match decisions
    match_false_match_rate: float


class FaceSift:
    def __init__(self, settings: Settings | None = None):
        # As the operator gave them: models they named, else the default pipeline. This is what
        # `reembed` moves a gallery to; ``settings`` below is what the gallery uses now.
        self.requested_settings = settings or Settings()
        self.settings = self.requested_settings
        self.data_dir = self.settings.data_dir
        # Private to its owner: it holds biometric data. Every file lies inside it, so others
        # cannot reach them whatever their own modes (the CLI and server also create them 0600).
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._catalog = SqlCatalog(self.settings.resolved_catalog_url)
        self._audit = AuditTrail(
            self._catalog,
            head_file=self.data_dir / "audit.head",
            has_history=lambda: self._catalog.operator_count() > 0,
        )
        self.operators = OperatorRegistry(self._catalog)
        self._recorder = AuditRecorder(self._audit, self._catalog.version)
        self.operator_admin = OperatorAdmin(self.operators, self._recorder)
        self.source_registry = SourceRegistry(
            self._catalog, self._recorder, self.settings.max_retention_days
        )
        self._open_space()

    def _open_space(self) -> None:
        """The space the catalog records (else the configured one), its policy and index, and
        the services over them (rebuilt after a re-embed switched spaces)."""
        recorded = self._catalog.embedding_space()
        settings = self.requested_settings.for_gallery(recorded)
        if settings is not self.settings:
            self.settings = settings
            for cached in ("analyser", "probe_analysers", "configured_space"):  # other models
                self.__dict__.pop(cached, None)
        self.space = EmbeddingSpace.from_key(recorded) if recorded else self.configured_space
        self.policy = MatchingPolicy.for_space(
            self.space,
            self.data_dir,
            match_false_match_rate=self.settings.match_false_match_rate,
            subject_false_match_rate=self.settings.subject_false_match_rate,
            max_search_false_match_rate=self.settings.max_search_false_match_rate,
        )
        previous: VectorIndex | None = getattr(self, "_index", None)
        if previous is not None:
            previous.close()  # reopening after a re-embed switched spaces
        self._index: VectorIndex = open_index(self.settings, self.space, replace_other_space=True)
        self._lock = GalleryLock(self.data_dir, self._catalog.exclusive_writer)
        self._keeper = IndexKeeper(self._catalog, self._index, self._lock, self._index.damaged)
        self._keeper.bring_up_to_date()
        self._wire()

    def _wire(self) -> None:
        catalog, index, policy, audit = self._catalog, self._index, self.policy, self._recorder
        # Models are loaded on first use: opening a gallery for stats or the audit trail needs
        # no model file.
        self._probes = ProbeReader(lambda: self.probe_analysers, self.require_configured_space)
        self._writer = GalleryWriter(catalog, index, self._keeper, self._lock)
        self.optouts = OptOutList(catalog, self.space, lambda: self.policy.optout_threshold)
        purpose_required = self.settings.require_purpose_and_case
        self.identifier = Identifier(
            probes=self._probes,
            sources=catalog,
            faces=catalog,
            identities=catalog,
            casework=catalog,
            index=index,
            optouts=self.optouts,
            policy=policy,
            audit=audit,
            require_purpose_and_case=purpose_required,
            follow_catalog=self._keeper.catch_up,
        )
        self.verifier = Verifier(
            probes=self._probes,
            policy=policy,
            audit=audit,
            require_purpose_and_case=purpose_required,
        )
        self.clusterer = Clusterer(
            faces=catalog,
            identities=catalog,
            index=index,
            optouts=self.optouts,
            policy=policy,
            audit=audit,
            writer_lock=self._writer.lock,
        )
        self.identity_editor = IdentityEditor(catalog, catalog, audit)
        self.duplicate_finder = DuplicateFinder(
            sources=catalog, faces=catalog, optouts=self.optouts, policy=policy, audit=audit
        )
        self.rights = SubjectRights(
            probes=self._probes,
            faces=catalog,
            governance=catalog,
            index=index,
            policy=policy,
            optouts=self.optouts,
            writer=self._writer,
            audit=audit,
            data_dir=self.data_dir,
            follow_catalog=self._keeper.catch_up,
        )
        self.requests = SubjectRequests(
            catalog, self.rights, audit, self.settings.portal_max_selfie_pixels
        )
        self.visibility = Visibility(
            catalog, catalog, catalog, self.data_dir, audit, identities=catalog
        )
        self.reviews = LeadReviews(catalog, catalog, catalog, audit)
        self.evidence = CaseEvidence(
            casework=catalog,
            faces=catalog,
            governance=catalog,
            reviews=self.reviews,
            trail=self._audit,
            audit=audit,
            false_match_rate=lambda d: reported_rate(self.policy.false_match_rate(d)),
            max_image_pixels=self.settings.max_image_pixels,
            max_file_bytes=self.settings.max_file_bytes,
            version=_facesift_version(),
            forget_deleted=catalog.forget_deleted,
        )
        self.erasure = Erasure(
            sources=catalog,
            governance=catalog,
            writer=self._writer,
            audit=audit,
            data_dir=self.data_dir,
        )
        storage = f"{self.settings.resolved_catalog_url.split('://')[0]} and {self.data_dir}"
        self.records = ProcessingRecords(
            sources=catalog,
            governance=catalog,
            operators=self.operators,
            trail=self._audit,
            audit=audit,
            space=self.space,
            storage=storage,
        )
        self.impact = DataProtectionImpact(
            sources=catalog,
            governance=catalog,
            operators=self.operators,
            trail=self._audit,
            audit=audit,
            space=self.space,
            settings=self.settings,
            storage=storage,
        )
        self.ingestor = Ingestor(
            IngestPorts(
                sources=catalog,
                faces=catalog,
                governance=catalog,
                writer=self._writer,
                optouts=self.optouts,
                settings=self.settings,
                analyser=lambda: self.analyser,
                space=lambda: self.configured_space,
            ),
            audit,
            self.require_configured_space,
        )
        self.reembedder = Reembedder(
            ReembedPorts(
                catalog=catalog,
                index=index,
                policy=policy,
                settings=self.requested_settings,  # the models being moved to
                analyser=lambda: FaceAnalyser.from_settings(self.requested_settings),
                target=lambda: self.reembed_space,
                space=self.space,
            ),
            self._writer,
            audit,
            on_switched=self._open_space,
        )

    @cached_property
    def configured_space(self) -> EmbeddingSpace:
        """What the models in use produce (the gallery's own space is the catalog's). Worked out
        on first use: opening a gallery for stats or the audit trail needs no model file."""
        return embedding_space_of(self.settings.embedder, self.settings)

    @property
    def reembed_space(self) -> EmbeddingSpace:
        """Where `reembed` moves the gallery: the models the operator named, else the defaults."""
        return embedding_space_of(self.requested_settings.embedder, self.requested_settings)

    def require_configured_space(self) -> None:
        """Refuse to analyse images for this gallery with models of another space."""
        if self.configured_space.key != self.space.key:
            raise SpaceMismatchError(
                self.space.key, self.configured_space.key, holder="this gallery"
            )

    @property
    def calibration(self) -> Calibration:
        return self.policy.require_calibration()

    @property
    def match_threshold(self) -> float:
        return self.policy.match_threshold

    @property
    def subject_threshold(self) -> float:
        return self.policy.subject_threshold

    def close(self) -> None:
        self._index.close()
        self._catalog.close()

    def __enter__(self) -> FaceSift:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- consistency between catalog (truth) and index (derived): see index/keeper.py ------

    def check_index(self) -> IndexCheck:
        return self._keeper.check()

    def reconcile_index(self) -> IndexCheck:
        return self._keeper.reconcile()

    def rebuild_index(self) -> None:
        self._keeper.rebuild()

    def save_index(self) -> None:
        self._writer.save()

    def writer_lock(self) -> AbstractContextManager[None]:
        """Exclusive lock for writes to this gallery (one ingest or erasure at a time)."""
        return self._writer.lock()

    def record_images(self, batch: list[Any]) -> None:
        """Commit analysed images to the catalog, then add their faces to the index."""
        self._writer.record_images(batch, self.configured_space)

    def matches_optout(self, vectors: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Which of ``vectors`` belong to someone on the do-not-index list."""
        return self.optouts.matches(vectors, threshold)

    # --- operators and audit -------------------------------------------------------------------

    def operator(self, *, name: str | None = None, key: str | None = None) -> Actor:
        """The acting operator, by API key or (for the local CLI) by name."""
        if key:
            return self.operators.by_key(key)
        if name:
            return self.operators.by_name(name)
        raise FaceSiftError(
            "who is acting? set FACESIFT_OPERATOR (your operator name) or FACESIFT_API_KEY"
        )

    def operator_by_key_digest(self, digest: str) -> Actor:
        """The operator of a web session (which keeps the key's digest, never the key)."""
        return self.operators.by_key_digest(digest)

    def create_first_admin(self, name: str) -> str | None:
        """On a new gallery, create the first administrator and return its key (else None)."""
        return self.operator_admin.create_first_admin(name)

    def add_operator(self, actor: Actor, name: str, role: Role | str) -> str:
        return self.operator_admin.add(actor, name, role)

    def list_operators(self, actor: Actor) -> list[tuple[Actor, datetime]]:
        return self.operator_admin.list(actor)

    def disable_operator(self, actor: Actor, name: str) -> Actor:
        return self.operator_admin.disable(actor, name)

    def rotate_operator_key(self, actor: Actor, name: str) -> tuple[Actor, str]:
        return self.operator_admin.rotate_key(actor, name)

    def record(self, event: AuditEvent) -> AuditRecord:
        """Append to the audit trail (after the write the event describes has committed)."""
        return self._recorder.record(event)

    def audit_records(
        self,
        actor: Actor,
        *,
        operator: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        actor.require(Action.AUDIT_SHOW)
        return self._audit.records(actor=operator, action=action, since=since, limit=limit)

    def audit_verify(self, actor: Actor, checkpoint: str | None = None) -> ChainCheck:
        """Check the hash chain; ``checkpoint`` is a ``SEQ:HASH`` an earlier check printed and
        the auditor kept outside the data directory (InputError if it is not one)."""
        actor.require(Action.AUDIT_VERIFY)
        expected = None
        if checkpoint is not None:
            try:
                expected = parse_checkpoint(checkpoint)
            except ValueError as error:
                raise InputError(f"checkpoint: {error}") from None
        return self._audit.verify(expected)

    # --- pipeline ------------------------------------------------------------------------------

    @cached_property
    def analyser(self) -> FaceAnalyser:
        return FaceAnalyser.from_settings(self.settings)

    @cached_property
    def probe_analysers(self) -> AnalyserPool:
        # Separate from ``analyser`` (which an in-process ingest uses), one per core: probes
        # analysed on several server threads at once never share a model.
        return AnalyserPool(self.settings, self.settings.workers)

    def analyse_probe(self, probe: Path | bytes, name: str | None = None) -> AnalysedImage:
        return self._probes.analyse(probe, name)

    # --- sources and ingest --------------------------------------------------------------------

    def add_source(
        self,
        actor: Actor,
        name: str,
        lawful_basis: LawfulBasis | str,
        jurisdiction: str,
        retention_days: int,
        *,
        purpose: str,
        controller: str,
        description: str = "",
    ) -> Source:
        return self.source_registry.add(
            actor,
            name,
            lawful_basis,
            jurisdiction,
            retention_days,
            purpose=purpose,
            controller=controller,
            description=description,
        )

    def sources(self) -> list[Source]:
        return self.source_registry.all()

    def source(self, actor: Actor, name: str) -> Source:
        """One declared source (unknown: SourceError)."""
        return self.source_registry.get(actor, name)

    def source_sizes(self, actor: Actor) -> dict[str, tuple[int, int]]:
        """Images and faces per source name."""
        return self.source_registry.sizes(actor)

    def ingest(
        self,
        actor: Actor,
        paths: list[Path],
        source: str,
        *,
        manifest: Path | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        ray_address: str | None = None,
    ) -> IngestReport:
        return self.ingestor.ingest(
            actor,
            paths,
            source,
            manifest=manifest,
            on_total=on_total,
            on_progress=on_progress,
            ray_address=ray_address,
        )

    def reembed(
        self,
        actor: Actor,
        *,
        drop_uncarried_optouts: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ReembedReport:
        """Re-analyse every stored image with the configured models into their space, then
        switch catalog and index to it at once (see ingest/reembed.py). Resumable."""
        return self.reembedder.reembed(
            actor,
            drop_uncarried_optouts=drop_uncarried_optouts,
            on_total=on_total,
            on_progress=on_progress,
        )

    # --- search and verification (search/identify.py, search/verify.py) ----------------------

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

    # --- reporting -----------------------------------------------------------------------------

    def stats(self) -> Stats:
        self._keeper.catch_up()  # another process may have written since
        counts = self._catalog.counts()
        return Stats(
            data_dir=str(self.data_dir.resolve()),
            catalog_url=self._catalog.display_url,
            sources=counts.sources,
            images=counts.images,
            images_without_faces=counts.images_without_faces,
            faces=counts.faces,
            index_kind=self._index.kind,
            index_size=len(self._index),
            index_bytes=self._index.size_bytes(),
            embedding_space=self.space.key,
            detector=self.settings.detector,
            match_threshold=self.policy.match_threshold if self.policy.calibrated else None,
            match_false_match_rate=self.settings.match_false_match_rate,
        )

    def health(self) -> tuple[int, str]:
        """Faces searchable and the index kind (the unauthenticated health check)."""
        return len(self._index), self._index.kind

    # --- governance: subject rights, erasure, retention, records (see govern/) ----------------

    def subject_access(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> SubjectReport:
        return self.rights.access(actor, selfie, face)

    def subject_erase(
        self, actor: Actor, report: SubjectReport, face_ids: list[int] | None = None
    ) -> Receipt:
        return self.rights.erase(actor, report, face_ids)

    def subject_optout(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> OptOutReceipt:
        return self.rights.optout(actor, selfie, face)

    def subject_optout_remove(
        self, actor: Actor, selfie: Path | bytes, face: int | None = None
    ) -> int:
        return self.rights.optout_remove(actor, selfie, face)

    def erase(
        self,
        actor: Actor,
        *,
        jurisdiction: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
    ) -> tuple[list[int], Receipt | None]:
        return self.erasure.erase_scope(
            actor, jurisdiction=jurisdiction, source=source, dry_run=dry_run
        )

    def purge(
        self, actor: Actor, *, dry_run: bool = False, now: datetime | None = None
    ) -> tuple[list[int], Receipt | None]:
        return self.erasure.purge_expired(actor, dry_run=dry_run, now=now)

    def processing_record(self, actor: Actor) -> dict[str, Any]:
        return self.records.processing_record(actor)

    def dpia(self, actor: Actor) -> dict[str, Any]:
        """A draft data protection impact assessment (GDPR Art. 35, EU AI Act Art. 27)."""
        return self.impact.assessment(actor)

    # --- lead review and subject requests (see govern/review.py, govern/requests.py) -----------

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

    def scope_operator(self, actor: Actor, name: str, sources: list[str] | None) -> Actor:
        """Limit an operator's searches to ``sources`` (None: every source)."""
        known = {source.name for source in self._catalog.list_sources()}
        return self.operator_admin.scope(actor, name, sources, known)

    def close_case(self, actor: Actor, case: str) -> int:
        """The case is over: erase its kept searches' probe crops; returns how many."""
        return self.evidence.close(actor, case)

    def export_case(self, actor: Actor, case: str, out: Path) -> ExportedPack:
        """The evidence pack of ``case``, written to the new folder ``out``."""
        return self.evidence.export(actor, case, out)

    def open_subject_request(
        self, selfie: bytes, kind: str, contact: str, name: str | None = None
    ) -> SubjectRequest:
        return self.requests.open_subject_request(selfie, kind, contact, name)

    def subject_requests(self, actor: Actor, status: str | None = None) -> list[SubjectRequest]:
        return self.requests.subject_requests(actor, status)

    def fulfil_subject_request(
        self,
        actor: Actor,
        request_id: int,
        *,
        face_ids: list[int] | None = None,
        identity_check: str | None = None,
        decline_reason: str | None = None,
    ) -> SubjectRequest:
        return self.requests.fulfil_subject_request(
            actor,
            request_id,
            face_ids=face_ids,
            identity_check=identity_check,
            decline_reason=decline_reason,
        )

    def subject_request_by_reference(self, reference: str) -> SubjectRequest:
        return self.requests.subject_request_by_reference(reference)

    def subject_request(self, actor: Actor, request_id: int) -> SubjectRequest:
        return self.requests.subject_request(actor, request_id)

    def subject_request_candidates(self, actor: Actor, request_id: int) -> SubjectReport:
        """The faces an open request's selfie matches, for the admin to check before fulfilling."""
        return self.requests.subject_request_candidates(actor, request_id)

    # --- identities and duplicates (search/clustering.py, search/duplicates.py) ---------------

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

    # --- faces and images as operators may see them (govern/visibility.py) --------------------

    def face_thumbnail(
        self, actor: Actor, face_id: int, size: int = 160, boxed: bool = False
    ) -> bytes:
        return self.visibility.face_thumbnail(actor, face_id, size, boxed)

    def image_file(self, actor: Actor, image_id: int) -> tuple[bytes, str]:
        return self.visibility.image_bytes(actor, image_id)

    def stored_faces(self, actor: Actor, face_ids: list[int]) -> dict[int, StoredFace]:
        """Where each face is (image, box, source): for the identity views (IDENTITY_VIEW)."""
        return self.identity_editor.stored_faces(actor, face_ids)

    def discard_unheld_uploads(self, folder: Path) -> int:
        """Delete the files of an upload batch that the catalog does not hold (serve/uploads.py),
        once its job has run: no copy of a person's photo is left where no erasure looks."""
        return discard_unheld(folder, self._catalog.held_paths)

    # --- web UI pages (issue #13) ---

    def edit_source(
        self, actor: Actor, name: str, *, description: str, purpose: str, controller: str
    ) -> Source:
        return self.source_registry.edit(
            actor, name, description=description, purpose=purpose, controller=controller
        )

    def retire_source(self, actor: Actor, name: str) -> Source:
        return self.source_registry.retire(actor, name)

    def audit_page(
        self, actor: Actor, wanted: AuditFilter, offset: int = 0, limit: int = 100
    ) -> tuple[list[AuditRecord], int]:
        return AuditReader(self._audit, self._recorder).page(actor, wanted, offset, limit)

    def audit_export(self, actor: Actor, wanted: AuditFilter, fmt: str) -> tuple[bytes, str]:
        return AuditReader(self._audit, self._recorder).export(actor, wanted, fmt)

    def subject_request_selfie(self, actor: Actor, request_id: int) -> bytes:
        return self.requests.selfie_crop(actor, request_id)

    def subject_request_outcome(self, actor: Actor, request_id: int) -> str:
        return self.requests.outcome(actor, request_id)

    def identities_of(self, actor: Actor, face_ids: list[int]) -> dict[int, IdentitySummary]:
        actor.require(Action.IDENTITY_VIEW)
        return self._catalog.identities_of(face_ids)


def _facesift_version() -> str:
    try:
        return package_version("facesift")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"

"""FaceSift: the composition root. It builds the ports from ``Settings`` (catalog, index, audit
trail, matching policy, probe reader, gallery writer) and wires the services that live in their
stage packages. The CLI, the API, the web UI and the tests all build and call this one object;
its public operations are grouped by area in facade/, each on the services it names:

    facade/gallery.py     sources, ingest, re-embed        ingest/  SourceRegistry, Ingestor,
                                                                    Reembedder
    facade/searching.py   search, verify, identities,      search/  Identifier (1:N), Verifier
                          duplicates                                (1:1), Clusterer,
                                                                    DuplicateFinder, IdentityEditor
    facade/casework.py    lead review, cases, visibility   govern/  LeadReviews, CaseEvidence,
                                                                    Visibility
    facade/subjects.py    subject rights and requests,     govern/  SubjectRights, SubjectRequests,
                          erasure, retention, records               Erasure, ProcessingRecords
    facade/oversight.py   operators, the audit trail       govern/  OperatorAdmin, AuditReader

Below them: index/ GalleryWriter (lock, catalog commit, index update), OptOutList, IndexKeeper;
search/policy.py MatchingPolicy. What stays here is what works on the ports themselves: the
index's consistency with the catalog, stats and health.

The catalog, index, audit trail, keeper and writer are private (``_catalog``...): serve/ and cli/
never reach them (tests/unit/test_layers.py), they call the permission-checked operations.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np

from facesift.catalog import SqlCatalog
from facesift.config import Settings
from facesift.embed.base import embedding_space_of
from facesift.errors import SpaceMismatchError
from facesift.facade import (
    CaseworkOperations,
    GalleryOperations,
    OversightOperations,
    SearchOperations,
    SubjectOperations,
)
from facesift.govern.audit import AuditEvent, AuditRecord, AuditRecorder, AuditTrail
from facesift.govern.audit_export import AuditReader
from facesift.govern.derived import discard_unheld
from facesift.govern.dpia import DataProtectionImpact
from facesift.govern.erasure import Erasure
from facesift.govern.evidence import CaseEvidence
from facesift.govern.operators import OperatorAdmin, OperatorRegistry
from facesift.govern.records import ProcessingRecords
from facesift.govern.requests import SubjectRequests
from facesift.govern.review import LeadReviews
from facesift.govern.subjects import SubjectRights
from facesift.govern.visibility import Visibility
from facesift.index import VectorIndex, open_index
from facesift.index.keeper import IndexCheck, IndexKeeper
from facesift.index.lock import GalleryLock
from facesift.index.optouts import OptOutList
from facesift.index.writer import GalleryWriter
from facesift.ingest.jobs import Ingestor, IngestPorts
from facesift.ingest.reembed import Reembedder, ReembedPorts
from facesift.ingest.sources import SourceRegistry
from facesift.pipeline import AnalyserPool, FaceAnalyser, ProbeReader
from facesift.search.calibration import Calibration
from facesift.search.clustering import Clusterer
from facesift.search.duplicates import DuplicateFinder
from facesift.search.identify import Identifier
from facesift.search.identities import IdentityEditor
from facesift.search.policy import MatchingPolicy, reported_rate
from facesift.search.verify import Verifier
from facesift.types import AnalysedImage, EmbeddingSpace

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


class FaceSift(
    GalleryOperations,
    SearchOperations,
    CaseworkOperations,
    SubjectOperations,
    OversightOperations,
):
    """One gallery: its ports and services, wired here; its operations, by area, in facade/."""

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
        self.audit_reader = AuditReader(self._audit, self._recorder)
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

    # --- the audit trail -----------------------------------------------------------------------

    def record(self, event: AuditEvent) -> AuditRecord:
        """Append to the audit trail (after the write the event describes has committed)."""
        return self._recorder.record(event)

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

    def discard_unheld_uploads(self, folder: Path) -> int:
        """Delete the files of an upload batch that the catalog does not hold (serve/uploads.py),
        once its job has run: no copy of a person's photo is left where no erasure looks."""
        return discard_unheld(folder, self._catalog.held_paths)


def _facesift_version() -> str:
    try:
        return package_version("facesift")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"

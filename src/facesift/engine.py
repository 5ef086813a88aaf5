"""FaceSift: the one object the CLI, the tests (and later the API) build and call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from facesift.catalog import NewImage, SqlCatalog
from facesift.config import Settings
from facesift.embed.base import embedding_space_of
from facesift.errors import (
    AmbiguousFaceError,
    ConfigError,
    FaceSiftError,
    InputError,
    NoFaceError,
    SpaceMismatchError,
)
from facesift.govern import erasure, records, requests, review, subjects
from facesift.govern.audit import AuditEvent, AuditRecord, AuditTrail
from facesift.govern.operators import OperatorRegistry
from facesift.govern.roles import BOOTSTRAP, Action, Actor, Role
from facesift.index import open_index
from facesift.index.keeper import IndexCheck, IndexKeeper
from facesift.ingest.jobs import IngestReport, run_ingest
from facesift.ingest.reembed import ReembedReport, run_reembed
from facesift.pipeline import AnalyserPool, FaceAnalyser
from facesift.search import grouping
from facesift.search.calibration import Calibration, calibration_filename, find_calibration
from facesift.types import (
    AnalysedFace,
    AnalysedImage,
    EmbeddingSpace,
    LawfulBasis,
    Lead,
    ProbeFaceResult,
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = SqlCatalog(self.settings.resolved_catalog_url)
        self.audit = AuditTrail(self.catalog.engine, head_file=self.data_dir / "audit.head")
        self.operators = OperatorRegistry(self.catalog.engine)
        self._open_space()

    def _open_space(self) -> None:
        """The space the catalog records (else the configured one), its calibration and index."""
        recorded = self.catalog.embedding_space()
        settings = self.requested_settings.for_gallery(recorded)
        if settings is not self.settings:
            self.settings = settings
            for cached in ("analyser", "probe_analysers", "configured_space"):  # other models
                self.__dict__.pop(cached, None)
        self.space = EmbeddingSpace.from_key(recorded) if recorded else self.configured_space
        self._calibration = find_calibration(self.space, self.data_dir)
        if getattr(self, "index", None) is not None:
            self.index.close()  # reopening after a re-embed switched spaces
        self.index = open_index(self.settings, self.space, replace_other_space=True)
        self.keeper = IndexKeeper(self.catalog, self.index, self.data_dir, self.index.damaged)
        self.keeper.bring_up_to_date()

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
        """What a distance means in this space. Without one, no match decision is made: a
        threshold carried over from another model would be a guess."""
        if self._calibration is None:
            raise ConfigError(
                f"no calibration for embedding space {self.space.key}, so facesift cannot tell "
                "what false-match rate a distance means and makes no match decisions; measure "
                "one with `facesift eval calibrate --root LFW_DIR --out "
                f"{self.data_dir / 'calibration' / calibration_filename(self.space)}` "
                "(docs/models.md)"
            )
        return self._calibration

    @property
    def match_threshold(self) -> float:
        return self.calibration.threshold_for(self.settings.match_false_match_rate)

    @property
    def subject_threshold(self) -> float:
        return max(
            self.match_threshold,
            self.calibration.threshold_for(self.settings.subject_false_match_rate),
        )

    def close(self) -> None:
        self.index.close()
        self.catalog.close()

    def __enter__(self) -> FaceSift:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- consistency between catalog (truth) and index (derived): see index/keeper.py ------

    def check_index(self) -> IndexCheck:
        return self.keeper.check()

    def reconcile_index(self) -> IndexCheck:
        return self.keeper.reconcile()

    def rebuild_index(self) -> None:
        self.keeper.rebuild()

    def save_index(self) -> None:
        self.keeper.save()

    def writer_lock(self):
        """Exclusive lock for writes to this gallery (one ingest or erasure at a time)."""
        return self.keeper.writer_lock()

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

    def create_first_admin(self, name: str) -> str | None:
        """On a new gallery, create the first administrator and return its key (else None)."""
        if self.operators.count():
            return None
        _, key = self.operators.add(name, Role.ADMIN)
        self.record(
            AuditEvent(BOOTSTRAP, Action.USER_ADD, details={"operator": name, "role": "admin"})
        )
        return key

    def add_operator(self, actor: Actor, name: str, role: Role | str) -> str:
        actor.require(Action.USER_ADD)
        added, key = self.operators.add(name, role)
        self.record(
            AuditEvent(
                actor, Action.USER_ADD, details={"operator": added.name, "role": added.role.value}
            )
        )
        return key

    def record(self, event: AuditEvent) -> AuditRecord:
        """Append to the audit trail (after the write the event describes has committed)."""
        return self.audit.append(event, self.catalog.version())

    def _require_purpose(self, purpose: str | None, case: str | None) -> tuple[str, str]:
        purpose, case = (purpose or "").strip(), (case or "").strip()
        if self.settings.require_purpose_and_case and not (purpose and case):
            raise InputError(
                "a search needs --purpose (why) and --case (the case or authorisation "
                "reference); both are recorded in the audit trail"
            )
        return purpose, case

    # --- pipeline ------------------------------------------------------------------------------

    @cached_property
    def analyser(self) -> FaceAnalyser:
        return FaceAnalyser.from_settings(self.settings)

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
        actor.require(Action.SOURCE_ADD)
        source = self.catalog.add_source(
            name,
            lawful_basis,
            jurisdiction,
            retention_days,
            description,
            purpose=purpose,
            controller=controller,
        )
        self.record(
            AuditEvent(
                actor,
                Action.SOURCE_ADD,
                purpose=purpose,
                details={
                    "source": source.name,
                    "lawful_basis": source.lawful_basis.value,
                    "jurisdiction": source.jurisdiction,
                    "retention_days": source.retention_days,
                    "controller": source.controller,
                },
            )
        )
        return source

    def sources(self) -> list[Source]:
        return self.catalog.list_sources()

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
        actor.require(Action.INGEST)
        self.require_configured_space()
        with self.writer_lock():
            report = run_ingest(
                self,
                paths,
                source,
                manifest=manifest,
                on_total=on_total,
                on_progress=on_progress,
                ray_address=ray_address,
            )
        self.record(
            AuditEvent(
                actor,
                Action.INGEST,
                details={
                    "source": source,
                    "images_ingested": report.images_ingested,
                    "faces_found": report.faces_found,
                    "faces_opted_out": report.faces_opted_out,
                    "skipped_erased_before": report.erased_before,
                    "errors": len(report.errors),
                    "interrupted": report.interrupted,
                },
            )
        )
        return report

    # --- opt-outs (the do-not-index list) --------------------------------------------------------

    def optout_templates(self) -> np.ndarray:
        _, templates = self.catalog.optout_templates()
        return templates

    def matches_optout(
        self,
        vectors: np.ndarray,
        templates: np.ndarray | None = None,
        threshold: float | None = None,
    ) -> np.ndarray:
        """Which of ``vectors`` belong to someone on the do-not-index list."""
        templates = self.optout_templates() if templates is None else templates
        if len(templates) == 0 or len(vectors) == 0:
            return np.zeros(len(vectors), dtype=bool)
        limit = self.match_threshold if threshold is None else threshold
        distances = np.linalg.norm(vectors[:, None, :] - templates[None, :, :], axis=2)
        return (distances <= limit).any(axis=1)

    def record_images(self, batch: list[NewImage]) -> None:
        """Commit analysed images to the catalog, then add their faces to the index."""
        # Recorded under the space the vectors come from: the catalog refuses it if that is not
        # the gallery's (a second line of defence behind require_configured_space).
        face_ids, vectors = self.catalog.add_images(batch, self.configured_space)
        face_ids = np.asarray(face_ids, dtype=np.int64)
        self.index.add(face_ids, vectors, self.catalog.face_tags(face_ids))

    # --- switching models ---------------------------------------------------------------------

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
        actor.require(Action.REEMBED)
        with self.writer_lock():
            report = run_reembed(
                self,
                drop_uncarried_optouts=drop_uncarried_optouts,
                on_total=on_total,
                on_progress=on_progress,
            )
        if report.switch is not None:
            self._open_space()  # the index file is of the old space: rebuilt and saved here
        self.record(
            AuditEvent(
                actor,
                Action.REEMBED,
                details={
                    "from_space": report.previous_space,
                    "to_space": report.target_space,
                    "detector": self.requested_settings.detector,
                    "images_analysed": report.images_analysed,
                    "images_resumed": report.images_already_done,
                    "unreadable": len(report.unreadable),
                    "switched": report.switch is not None,
                    "faces_after": report.switch.faces_after if report.switch else None,
                    "faces_held_back": report.switch.faces_held_back if report.switch else 0,
                    "optouts_carried": report.optouts_carried,
                    "optouts_dropped": report.optouts_dropped,
                },
            )
        )
        return report

    # --- search --------------------------------------------------------------------------------

    @cached_property
    def probe_analysers(self) -> AnalyserPool:
        # Separate from ``analyser`` (which an in-process ingest uses), one per core: probes
        # analysed on several server threads at once never share a model.
        return AnalyserPool(self.settings, self.settings.workers)

    def analyse_probe(self, probe: Path | bytes, name: str | None = None) -> AnalysedImage:
        self.require_configured_space()
        with self.probe_analysers.borrowed() as analyser:
            if isinstance(probe, bytes):
                return analyser.analyse_bytes(probe, name or "<upload>")
            return analyser.analyse_file(Path(probe))

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
        return self._audited_search(
            actor, probe, purpose, case, top_k, threshold, face, name, keep=False
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
    ) -> review.SearchRecord:
        """As ``search``, and the search is kept (who, why, which leads) so that reviewers can
        confirm or reject its leads later by its ``search_id``."""
        return self._audited_search(
            actor, probe, purpose, case, top_k, threshold, face, name, keep=True
        )

    def _audited_search(
        self, actor, probe, purpose, case, top_k, threshold, face, name, *, keep: bool
    ) -> review.SearchRecord:
        actor.require(Action.SEARCH)
        purpose, case = self._require_purpose(purpose, case)
        analysed = self.analyse_probe(probe, name)
        results, hidden = self._search_analysed(analysed, top_k, threshold, face)
        leads = [
            [r.face_number, lead.face_id, round(lead.distance, 4)]
            for r in results
            for lead in r.leads
        ]
        search_id = (
            self.catalog.add_search(actor.name, purpose, case, analysed.sha256, leads)
            if keep
            else None
        )
        details = {
            "probe_faces": len(analysed.faces),
            "threshold": threshold if threshold is not None else self.match_threshold,
            "leads": leads,
            "hidden_by_optout": hidden,
        }
        if search_id is not None:
            details["search_id"] = search_id
        self.record(
            AuditEvent(
                actor,
                Action.SEARCH,
                purpose=purpose,
                case_ref=case,
                probe_sha256=analysed.sha256,
                details=details,
            )
        )
        return review.SearchRecord(search_id, results)

    def _search_analysed(
        self, analysed: AnalysedImage, top_k: int, threshold: float | None, face: int | None
    ) -> tuple[list[ProbeFaceResult], int]:
        if not analysed.faces:
            raise NoFaceError(analysed.path)
        chosen = list(enumerate(analysed.faces, start=1))
        if face is not None:
            if not 1 <= face <= len(chosen):
                raise AmbiguousFaceError(analysed.path, len(chosen))
            chosen = [chosen[face - 1]]
        limit = self.match_threshold if threshold is None else threshold
        if len(self.index) == 0:
            return [ProbeFaceResult(n, f.detection.box, ()) for n, f in chosen], 0
        matrix = np.vstack([f.embedding for _, f in chosen])
        distances, ids = self.index.search(matrix, top_k)
        wanted = {
            int(i)
            for row, dist in zip(ids, distances, strict=True)
            for i, d in zip(row, dist, strict=True)
            if i >= 0 and d <= limit
        }
        stored = self.catalog.stored_faces(wanted)
        # Opted-out people are filtered at least as widely as leads are shown, so no lead of
        # theirs survives, whatever threshold the investigator chose.
        hidden_ids = self._opted_out(list(stored), max(limit, self.match_threshold))
        for face_id in hidden_ids:
            stored.pop(face_id, None)
        identity_of = self.catalog.identities_of(stored)
        results = []
        for (number, probe_face), row, dist in zip(chosen, ids, distances, strict=True):
            leads = []
            for face_id, distance in zip(row, dist, strict=True):
                hit = stored.get(int(face_id))
                if hit is None or distance > limit:
                    continue  # beyond the threshold, or deleted since the index was saved
                leads.append(
                    Lead(
                        face_id=hit.face_id,
                        distance=float(distance),
                        false_match_rate=self.calibration.false_match_rate(float(distance)),
                        image_id=hit.image_id,
                        image_path=hit.image_path,
                        image_sha256=hit.image_sha256,
                        box=hit.box,
                        source=hit.source,
                        lawful_basis=hit.lawful_basis,
                        jurisdiction=hit.jurisdiction,
                        ingested_at=hit.ingested_at,
                        **_identity_fields(identity_of.get(hit.face_id)),
                    )
                )
            results.append(ProbeFaceResult(number, probe_face.detection.box, tuple(leads)))
        return results, len(hidden_ids)

    def _opted_out(self, face_ids: list[int], threshold: float) -> set[int]:
        templates = self.optout_templates()
        if len(templates) == 0 or not face_ids:
            return set()
        vectors = self.catalog.embeddings(np.asarray(face_ids, dtype=np.int64))
        mask = self.matches_optout(vectors, templates, threshold)
        return {face_id for face_id, out in zip(face_ids, mask, strict=True) if out}

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
        actor.require(Action.VERIFY)
        purpose, case = self._require_purpose(purpose, case)
        image_a, image_b = self.analyse_probe(a), self.analyse_probe(b)
        face_a, face_b = self._main_face(image_a), self._main_face(image_b)
        limit = self.match_threshold if threshold is None else threshold
        distance = float(np.linalg.norm(face_a.embedding - face_b.embedding))
        result = Verification(
            same_person=distance <= limit,
            distance=distance,
            threshold=limit,
            false_match_rate=self.calibration.false_match_rate(distance),
            box_a=face_a.detection.box,
            box_b=face_b.detection.box,
        )
        self.record(
            AuditEvent(
                actor,
                Action.VERIFY,
                purpose=purpose,
                case_ref=case,
                probe_sha256=image_a.sha256,
                details={
                    "other_sha256": image_b.sha256,
                    "distance": round(distance, 4),
                    "threshold": limit,
                    "same_person": result.same_person,
                },
            )
        )
        return result

    @staticmethod
    def _main_face(image: AnalysedImage) -> AnalysedFace:
        """The subject of a portrait: large and confidently detected (area x detector score),
        so a weak false detection of similar size never wins over the real face."""
        if not image.faces:
            raise NoFaceError(image.path)
        return max(
            image.faces,
            key=lambda f: (
                f.detection.box.width * f.detection.box.height * max(f.detection.score, 0)
            ),
        )

    # --- reporting -----------------------------------------------------------------------------

    def stats(self) -> Stats:
        counts = self.catalog.counts()
        index_file = self.data_dir / "faces.faiss"
        return Stats(
            data_dir=str(self.data_dir.resolve()),
            catalog_url=self.catalog.display_url,
            sources=counts.sources,
            images=counts.images,
            images_without_faces=counts.images_without_faces,
            faces=counts.faces,
            index_kind=self.index.kind,
            index_size=len(self.index),
            index_bytes=index_file.stat().st_size if index_file.exists() else 0,
            embedding_space=self.space.key,
            detector=self.settings.detector,
            match_threshold=self.match_threshold if self._calibration else None,
            match_false_match_rate=self.settings.match_false_match_rate,
        )

    # --- governance: subject rights, erasure, retention, records (see govern/) ----------------

    def subject_access(self, actor: Actor, selfie: Path | bytes, face: int | None = None):
        return subjects.subject_access(self, actor, selfie, face)

    def subject_erase(self, actor: Actor, report, face_ids: list[int] | None = None):
        return subjects.subject_erase(self, actor, report, face_ids)

    def subject_optout(self, actor: Actor, selfie: Path | bytes, face: int | None = None):
        return subjects.subject_optout(self, actor, selfie, face)

    def subject_optout_remove(self, actor: Actor, selfie: Path | bytes, face: int | None = None):
        return subjects.subject_optout_remove(self, actor, selfie, face)

    def erase(
        self,
        actor: Actor,
        *,
        jurisdiction: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
    ):
        return erasure.erase_scope(
            self, actor, jurisdiction=jurisdiction, source=source, dry_run=dry_run
        )

    def purge(self, actor: Actor, *, dry_run: bool = False, now=None):
        return erasure.purge_expired(self, actor, dry_run=dry_run, now=now)

    def processing_record(self, actor: Actor) -> dict:
        return records.processing_record(self, actor)

    def audit_records(
        self,
        actor: Actor,
        *,
        operator: str | None = None,
        action: str | None = None,
        since=None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        actor.require(Action.AUDIT_SHOW)
        return self.audit.records(actor=operator, action=action, since=since, limit=limit)

    def audit_verify(self, actor: Actor):
        actor.require(Action.AUDIT_VERIFY)
        return self.audit.verify()

    # --- lead review and subject requests (see govern/review.py, govern/requests.py) -----------

    def review_lead(
        self, actor: Actor, search_id: int, face_id: int, decision: str, note: str = ""
    ) -> review.LeadReviewStatus:
        return review.review_lead(self, actor, search_id, face_id, decision, note)

    def lead_reviews(self, actor: Actor, search_id: int) -> list[review.LeadReviewStatus]:
        return review.lead_reviews(self, actor, search_id)

    def open_subject_request(
        self, selfie: bytes, kind: str, contact: str, name: str | None = None
    ) -> requests.SubjectRequest:
        return requests.open_subject_request(self, selfie, kind, contact, name)

    def subject_requests(
        self, actor: Actor, status: str | None = None
    ) -> list[requests.SubjectRequest]:
        return requests.subject_requests(self, actor, status)

    def fulfil_subject_request(
        self,
        actor: Actor,
        request_id: int,
        *,
        face_ids: list[int] | None = None,
        decline_reason: str | None = None,
    ) -> requests.SubjectRequest:
        return requests.fulfil_subject_request(
            self, actor, request_id, face_ids=face_ids, decline_reason=decline_reason
        )

    def subject_request_by_reference(self, reference: str) -> requests.SubjectRequest:
        return requests.subject_request_by_reference(self, reference)

    def subject_request(self, actor: Actor, request_id: int) -> requests.SubjectRequest:
        return requests.subject_request(self, actor, request_id)

    def subject_request_candidates(self, actor: Actor, request_id: int):
        """The faces an open request's selfie matches, for the admin to check before fulfilling."""
        return requests.subject_request_candidates(self, actor, request_id)

    # --- identities and duplicates (see search/grouping.py) ------------------------------------

    def cluster(self, actor: Actor, *, threshold: float | None = None, rebuild: bool = False):
        return grouping.run_clustering(self, actor, threshold=threshold, rebuild=rebuild)

    def duplicates(
        self,
        actor: Actor,
        source: str,
        *,
        against: str | None = None,
        threshold: float | None = None,
    ):
        return grouping.find_duplicates(self, actor, source, against=against, threshold=threshold)

    def identities(self, actor: Actor, min_faces: int = 1):
        actor.require(Action.IDENTITY_VIEW)
        return self.catalog.identity_summaries(min_faces)

    def identity_faces(self, actor: Actor, identity_id: int):
        actor.require(Action.IDENTITY_VIEW)
        return self._identity_lookup(lambda: self.catalog.identity_faces(identity_id))

    def name_identity(self, actor: Actor, identity_id: int, name: str) -> None:
        self._edit_identities(
            actor,
            lambda: self.catalog.name_identity(identity_id, name),
            lambda _: {"edit": "name", "identity": identity_id},
        )

    def merge_identities(self, actor: Actor, keep: int, other: int) -> int:
        return self._edit_identities(
            actor,
            lambda: self.catalog.merge_identities(keep, other),
            lambda _: {"edit": "merge", "keep": keep, "merged": other},
        )

    def move_faces(self, actor: Actor, face_ids: list[int], identity_id: int | None) -> int:
        """Move faces to an identity (None: split them into a new one); returns its id."""
        target = self._edit_identities(
            actor,
            lambda: self.catalog.move_faces(face_ids, identity_id),
            lambda target: {"edit": "move", "faces": face_ids, "to": target},
        )
        return target

    def _edit_identities(self, actor: Actor, operation, describe):
        """A human edit: permitted, applied (unknown ids are the user's error), then audited
        with ``describe(result)``."""
        actor.require(Action.IDENTITY_EDIT)
        result = self._identity_lookup(operation)
        self.record(AuditEvent(actor, Action.IDENTITY_EDIT, details=describe(result)))
        return result

    @staticmethod
    def _identity_lookup(operation):
        try:
            return operation()
        except LookupError as error:
            raise InputError(str(error).strip("'\"")) from None


def _identity_fields(summary) -> dict:
    if summary is None:
        return {}
    return {
        "identity_id": summary.id,
        "identity_name": summary.name,
        "identity_faces": summary.faces,
        "identity_face_ids": summary.face_ids,
    }

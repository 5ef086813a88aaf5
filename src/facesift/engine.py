"""FaceSift: the one object the CLI, the tests (and later the API) build and call."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from facesift.catalog import NewImage, SqlCatalog
from facesift.config import Settings
from facesift.embed.base import embedding_space_of
from facesift.errors import AmbiguousFaceError, FaceSiftError, NoFaceError
from facesift.index import FaissDiskIndex
from facesift.ingest.jobs import IngestReport, run_ingest
from facesift.pipeline import FaceAnalyser
from facesift.search.calibration import Calibration, shipped_calibration
from facesift.types import (
    AnalysedFace,
    AnalysedImage,
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
    match_threshold: float
    match_false_match_rate: float


@dataclass(frozen=True)
class IndexCheck:
    catalog_faces: int
    index_faces: int
    missing_from_index: int
    extra_in_index: int

    @property
    def in_agreement(self) -> bool:
        return self.missing_from_index == 0 and self.extra_in_index == 0


class FaceSift:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.data_dir = self.settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.space = embedding_space_of(self.settings.embedder)
        self.catalog = SqlCatalog(self.settings.resolved_catalog_url)
        self.calibration: Calibration = shipped_calibration(self.space)
        self.match_threshold = self.calibration.threshold_for(self.settings.match_false_match_rate)
        self.index = FaissDiskIndex(
            self.data_dir, self.space, exact_max=self.settings.exact_search_max_faces
        )
        self._lock_handle = None
        self._bring_index_up_to_date()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> FaceSift:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- consistency between catalog (truth) and index (derived) -------------------------------

    def _bring_index_up_to_date(self) -> None:
        if self.index.damaged:
            log.warning(
                "index file unreadable (%s); rebuilding from the catalog", self.index.damaged
            )
            self.rebuild_index()
            return
        if self.index.catalog_version == self.catalog.version():
            return
        # The index lags the catalog (e.g. an ingest was killed between commit and index save):
        # add what the catalog has and the index lacks, drop what the catalog no longer has.
        check = self.reconcile_index()
        log.info("index reconciled with catalog: %s", check)
        self._save_if_writer()

    def reconcile_index(self) -> IndexCheck:
        catalog_ids = self.catalog.face_ids()
        index_ids = self.index.ids()
        missing = np.setdiff1d(catalog_ids, index_ids, assume_unique=True)
        extra = np.setdiff1d(index_ids, catalog_ids, assume_unique=True)
        if len(extra):
            self.index.remove(extra)
        for start in range(0, len(missing), 50_000):
            chunk = missing[start : start + 50_000]
            self.index.add(chunk, self.catalog.embeddings(chunk))
        return IndexCheck(len(catalog_ids), len(index_ids), len(missing), len(extra))

    def check_index(self) -> IndexCheck:
        catalog_ids = self.catalog.face_ids()
        index_ids = self.index.ids()
        return IndexCheck(
            catalog_faces=len(catalog_ids),
            index_faces=len(index_ids),
            missing_from_index=len(np.setdiff1d(catalog_ids, index_ids)),
            extra_in_index=len(np.setdiff1d(index_ids, catalog_ids)),
        )

    def rebuild_index(self) -> None:
        ids, vectors = [], []
        for batch_ids, batch_vectors in self.catalog.iter_embeddings():
            ids.append(batch_ids)
            vectors.append(batch_vectors)
        all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        all_vectors = (
            np.vstack(vectors) if vectors else np.zeros((0, self.space.dimension), np.float32)
        )
        self.index.rebuild(all_ids, all_vectors)
        self._save_if_writer()

    def save_index(self) -> None:
        self.index.save(self.catalog.version())

    def _save_if_writer(self) -> None:
        # Only the process holding the writer lock persists the index; a reader that found the
        # index behind (an ingest is running) works on its reconciled in-memory copy.
        with self._try_writer_lock() as is_writer:
            if is_writer:
                self.save_index()

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock for writes to this data directory (one ingest at a time)."""
        handle = open(self.data_dir / ".writer.lock", "w")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FaceSiftError(
                    f"{self.data_dir}: another facesift process is writing to this gallery; "
                    "wait for it to finish"
                ) from None
            self._lock_handle = handle
            yield
        finally:
            self._lock_handle = None
            handle.close()

    @contextmanager
    def _try_writer_lock(self) -> Iterator[bool]:
        if self._lock_handle is not None:
            yield True
            return
        handle = open(self.data_dir / ".writer.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            yield False
            return
        try:
            yield True
        finally:
            handle.close()

    # --- pipeline ------------------------------------------------------------------------------

    @cached_property
    def analyser(self) -> FaceAnalyser:
        return FaceAnalyser.from_settings(self.settings)

    # --- sources and ingest --------------------------------------------------------------------

    def add_source(
        self,
        name: str,
        lawful_basis: LawfulBasis | str,
        jurisdiction: str,
        retention_days: int,
        description: str = "",
    ) -> Source:
        return self.catalog.add_source(
            name, lawful_basis, jurisdiction, retention_days, description
        )

    def sources(self) -> list[Source]:
        return self.catalog.list_sources()

    def ingest(
        self,
        paths: list[Path],
        source: str,
        *,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        with self.writer_lock():
            return run_ingest(self, paths, source, on_total=on_total, on_progress=on_progress)

    def record_images(self, batch: list[NewImage]) -> None:
        """Commit analysed images to the catalog, then add their faces to the index."""
        face_ids, vectors = self.catalog.add_images(batch, self.space)
        self.index.add(np.asarray(face_ids, dtype=np.int64), vectors)

    # --- search --------------------------------------------------------------------------------

    def analyse_probe(self, probe: Path | bytes, name: str | None = None) -> AnalysedImage:
        if isinstance(probe, bytes):
            return self.analyser.analyse_bytes(probe, name or "<upload>")
        return self.analyser.analyse_file(Path(probe))

    def search(
        self,
        probe: Path | bytes,
        *,
        top_k: int = 10,
        threshold: float | None = None,
        face: int | None = None,
        name: str | None = None,
    ) -> list[ProbeFaceResult]:
        """1:N search: for each face of the probe (or only face number ``face``), ranked leads."""
        analysed = self.analyse_probe(probe, name)
        if not analysed.faces:
            raise NoFaceError(analysed.path)
        chosen = list(enumerate(analysed.faces, start=1))
        if face is not None:
            if not 1 <= face <= len(chosen):
                raise AmbiguousFaceError(analysed.path, len(chosen))
            chosen = [chosen[face - 1]]
        limit = self.match_threshold if threshold is None else threshold
        if len(self.index) == 0:
            return [ProbeFaceResult(n, f.detection.box, ()) for n, f in chosen]
        matrix = np.vstack([f.embedding for _, f in chosen])
        distances, ids = self.index.search(matrix, top_k)
        wanted = {
            int(i)
            for row, dist in zip(ids, distances, strict=True)
            for i, d in zip(row, dist, strict=True)
            if i >= 0 and d <= limit
        }
        stored = self.catalog.stored_faces(wanted)
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
                    )
                )
            results.append(ProbeFaceResult(number, probe_face.detection.box, tuple(leads)))
        return results

    def verify(
        self, a: Path | bytes, b: Path | bytes, threshold: float | None = None
    ) -> Verification:
        """1:1: is the (largest) face in ``a`` the same person as the (largest) face in ``b``?"""
        face_a = self._largest_face(self.analyse_probe(a))
        face_b = self._largest_face(self.analyse_probe(b))
        limit = self.match_threshold if threshold is None else threshold
        distance = float(np.linalg.norm(face_a.embedding - face_b.embedding))
        return Verification(
            same_person=distance <= limit,
            distance=distance,
            threshold=limit,
            false_match_rate=self.calibration.false_match_rate(distance),
            box_a=face_a.detection.box,
            box_b=face_b.detection.box,
        )

    @staticmethod
    def _largest_face(image: AnalysedImage) -> AnalysedFace:
        if not image.faces:
            raise NoFaceError(image.path)
        return max(image.faces, key=lambda f: f.detection.box.width * f.detection.box.height)

    # --- reporting -----------------------------------------------------------------------------

    def stats(self) -> Stats:
        counts = self.catalog.counts()
        index_file = self.data_dir / "faces.faiss"
        return Stats(
            data_dir=str(self.data_dir.resolve()),
            catalog_url=self.settings.resolved_catalog_url,
            sources=counts.sources,
            images=counts.images,
            images_without_faces=counts.images_without_faces,
            faces=counts.faces,
            index_kind=self.index.kind,
            index_size=len(self.index),
            index_bytes=index_file.stat().st_size if index_file.exists() else 0,
            embedding_space=self.space.key,
            detector=self.settings.detector,
            match_threshold=self.match_threshold,
            match_false_match_rate=self.settings.match_false_match_rate,
        )

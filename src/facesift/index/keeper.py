"""Keeping the derived index in agreement with the catalog (the truth), and one writer at a time.

The catalog commits first, then the index is updated in memory and saved now and then; the saved
index records the catalog version it reflects. On open, a version mismatch (a crash between
commit and save) is repaired by comparing ids: what the catalog has and the index lacks is
added, what the catalog no longer has is removed. Only the process holding the writer lock saves.

The writer lock (index/lock.py) is the gallery writer's (index/writer.py); the keeper only asks
it whether this process may save.

Several processes may use one gallery (a server and the CLI). Each keeps its index in memory, so
each follows the others' commits: before a search and when it takes the writer lock, a process
compares the catalog's version with the one its index last matched (``catch_up``, one small
query) and, if another process committed meanwhile, reconciles by id. So a server finds what a
CLI ingest added, and its next save cannot put back faces a CLI erasure removed or drop faces
another process added.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from facesift.catalog.base import Faces
from facesift.errors import IndexError_
from facesift.index.base import RebuildHandle, RebuildsInBackground, VectorIndex
from facesift.index.lock import GalleryLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexCheck:
    catalog_faces: int
    index_faces: int
    missing_from_index: int
    extra_in_index: int

    @property
    def in_agreement(self) -> bool:
        return self.missing_from_index == 0 and self.extra_in_index == 0


class IndexKeeper:
    def __init__(self, catalog: Faces, index: VectorIndex, lock: GalleryLock, damaged: str | None):
        self.catalog = catalog
        self.index = index
        self.lock = lock  # the gallery writer's: only the process holding it saves
        self._damaged = damaged
        # The catalog version this process's in-memory index matches (None: not yet known).
        self._synced: int | None = None
        # Held by this process's writer for the whole of a write, and by a search thread while
        # it reconciles: a search never reconciles while this process writes (it would add the
        # faces the writer is about to add, twice), and a write waits for a reconcile under way.
        self._catching_up = threading.RLock()

    def bring_up_to_date(self) -> None:
        version = self.catalog.version()
        try:
            self._bring_up_to_date(version)
        finally:
            self._synced = version if self._synced is None else self._synced

    def _bring_up_to_date(self, version: int) -> None:
        if self._damaged:
            log.warning("index file unreadable (%s); rebuilding from the catalog", self._damaged)
            self.rebuild()
            return
        if self.index.catalog_version == version:
            return
        if self.index.writes_through:
            # A server-side index is shared: only the writer may change it. A reader that finds
            # it behind leaves it to the running writer (search ignores faces the catalog lacks).
            with self.lock.attempt() as is_writer:
                if is_writer:
                    log.info("index reconciled with catalog: %s", self.reconcile())
                    self.save()
            return
        check = self.reconcile()
        log.info("index reconciled with catalog: %s", check)
        self._save_if_writer()

    def _compare(self) -> tuple[IndexCheck, np.ndarray, np.ndarray]:
        catalog_ids = self.catalog.face_ids()
        index_ids = self.index.ids()
        missing = np.setdiff1d(catalog_ids, index_ids)
        extra = np.setdiff1d(index_ids, catalog_ids)
        return (
            IndexCheck(len(catalog_ids), len(index_ids), len(missing), len(extra)),
            missing,
            extra,
        )

    def check(self) -> IndexCheck:
        return self._compare()[0]

    def catch_up(self) -> None:
        """If another process committed changes to faces since this index last matched the
        catalog, reconcile with them now (by id: add what it added, drop what it erased).
        Skipped while this process is writing: its writer keeps the index level itself."""
        if self.index.writes_through:
            return  # a server-side index (Milvus) is shared: the writer keeps it current
        if not self._catching_up.acquire(blocking=False):
            return
        try:
            self._follow_catalog()
        finally:
            self._catching_up.release()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """For the writer, holding the writer lock: level with the catalog first, then no
        search thread reconciles until the write is over."""
        with self._catching_up:
            if not self.index.writes_through:
                self._follow_catalog()
            yield

    def _follow_catalog(self) -> None:
        current = self.catalog.version()
        if current == self._synced:
            return
        check = self.reconcile()
        if not check.in_agreement:
            log.info("index followed another process's commits: %s", check)
        self._synced = current

    def mark_synced(self) -> None:
        """This process just changed catalog and index together, holding the writer lock (so
        nobody else committed meanwhile): the index matches the catalog's version now."""
        self._synced = self.catalog.version()

    def reconcile(self) -> IndexCheck:
        check, missing, extra = self._compare()
        if len(extra):
            self.index.remove(extra)
        for start in range(0, len(missing), 50_000):
            chunk = missing[start : start + 50_000]
            self.index.add(chunk, self.catalog.embeddings(chunk), self.catalog.face_tags(chunk))
        return check

    def remove_scope(
        self,
        face_ids: np.ndarray,
        *,
        source_ids: Iterable[int] = (),
        jurisdiction: str | None = None,
    ) -> None:
        """After the catalog erased a whole source or jurisdiction (``face_ids``), remove its
        faces from the index by filter; if the count differs (faces indexed untagged, or an index
        behind the catalog), fall back to comparing ids so nothing erased stays searchable."""
        removed = self.index.remove_where(source_ids=source_ids, jurisdiction=jurisdiction)
        if removed != len(face_ids):
            log.warning(
                "index removed %d faces by tag where the catalog erased %d; reconciling by id",
                removed,
                len(face_ids),
            )
            self.reconcile()

    def rebuild(self) -> None:
        batches = list(self.catalog.iter_embeddings())
        ids = np.concatenate([i for i, _ in batches]) if batches else np.zeros(0, np.int64)
        vectors = (
            np.vstack([v for _, v in batches])
            if batches
            else np.zeros((0, self.index.space.dimension), np.float32)
        )
        self.index.rebuild(ids, vectors, self.catalog.face_tags(ids))
        self._damaged = None
        self._save_if_writer()

    def start_rebuild(self) -> RebuildHandle:
        """Rebuild from the catalog in the background; searches use the old index meanwhile.

        Only for an index that ``RebuildsInBackground`` (the FAISS disk index streams the
        catalog's batches to disk, builds, replays changes made meanwhile and swaps atomically);
        any other is rebuilt in the foreground by ``rebuild``."""
        if not isinstance(self.index, RebuildsInBackground):
            raise IndexError_(f"the {self.index.kind} index cannot rebuild in the background")
        return self.index.start_rebuild(
            self.catalog.iter_embeddings, on_swapped=self._save_if_writer
        )

    def save(self) -> None:
        self.index.save(self.catalog.version())

    def _save_if_writer(self) -> None:
        # A reader that found the index behind (an ingest is running) works on its reconciled
        # in-memory copy and leaves the file to the writer.
        with self.lock.attempt() as is_writer:
            if is_writer:
                self.save()

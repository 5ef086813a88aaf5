"""The one writer of a gallery: it holds the writer lock, commits to the catalog (the truth) and
then updates the index (derived) and saves it. Ingest, re-embed, erasure and purge all write
through it, so no service changes catalog faces and index apart from each other."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np

from facesift.catalog.base import Faces, Governance, NewImage, OwedAudit
from facesift.catalog.governance import Deletion
from facesift.index.base import VectorIndex
from facesift.index.keeper import IndexKeeper
from facesift.index.lock import GalleryLock
from facesift.types import EmbeddingSpace


class WrittenCatalog(Faces, Governance, Protocol):
    """The catalog roles a writer changes."""


class GalleryWriter:
    def __init__(
        self, catalog: WrittenCatalog, index: VectorIndex, keeper: IndexKeeper, lock: GalleryLock
    ):
        self.catalog = catalog
        self.index = index
        self.keeper = keeper
        self._lock = lock
        # True from a catalog commit until the index holds the same change. An interrupt (Ctrl-C
        # lands between any two lines) can leave it set; saving then would stamp the index with
        # a catalog version it does not reflect, and the next open would trust it.
        self._index_behind = False

    @contextmanager
    def _catalog_then_index(self) -> Iterator[None]:
        self._index_behind = True
        yield
        self._index_behind = False
        if self._lock.held:
            self.keeper.mark_synced()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writes to this gallery (one ingest or erasure at a time). Taking
        it first brings this process's index level with what other processes committed, so
        every write, and the save after it, starts from the catalog as it is."""
        with self._lock.exclusive(), self.keeper.writing():
            yield

    def record_images(
        self, batch: list[NewImage], space: EmbeddingSpace, owed: OwedAudit | None = None
    ) -> None:
        """Commit analysed images to the catalog (with the audit record they owe, if given),
        then add their faces to the index. ``space`` is the one the vectors come from: the
        catalog refuses it if it is not the gallery's."""
        with self._catalog_then_index():
            face_ids, vectors = self.catalog.add_images(batch, space, owed)
            ids = np.asarray(face_ids, dtype=np.int64)
            self.index.add(ids, vectors, self.catalog.face_tags(ids))

    def delete_faces(self, face_ids: Iterable[int]) -> Deletion:
        """Delete faces (and images left without one) from the catalog, then from the index."""
        with self._catalog_then_index():
            deletion = self.catalog.delete_faces(face_ids)
            self.index.remove(np.asarray(deletion.face_ids, dtype=np.int64))
        self._forget(deletion)
        return deletion

    def delete_images(
        self,
        image_ids: Iterable[int],
        *,
        source_ids: Iterable[int] = (),
        jurisdiction: str | None = None,
    ) -> Deletion:
        """Delete images and their faces; ``source_ids`` or ``jurisdiction`` says they are all
        of one scope, so the index drops them with one filtered delete."""
        with self._catalog_then_index():
            deletion = self.catalog.delete_images(image_ids)
            face_ids = np.asarray(deletion.face_ids, dtype=np.int64)
            scope_ids = list(source_ids)
            if scope_ids or jurisdiction:
                self.keeper.remove_scope(face_ids, source_ids=scope_ids, jurisdiction=jurisdiction)
            else:
                self.index.remove(face_ids)
        self._forget(deletion)
        return deletion

    def _forget(self, deletion: Deletion) -> None:
        """After a deletion: the index saved without the faces, stored reports that showed
        them withdrawn, and no copy left in the catalog's own files."""
        self.save()
        self.catalog.withdraw_reports_showing(deletion.touched_sha256s)
        self.catalog.forget_deleted()

    def save(self) -> None:
        """Save the index stamped with the catalog version; if a write was interrupted between
        catalog and index, first bring the index level with the catalog by comparing ids."""
        if self._index_behind:
            self.keeper.reconcile()
            self._index_behind = False
        self.keeper.save()

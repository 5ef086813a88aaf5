"""Face tags beside an index that stores only (id, vector), such as the FAISS file index.

FAISS has no scalar fields, so the source id and jurisdiction of each face live in a small table
saved next to the index (``faces.tags.npz``: ~14 bytes a face) and ``remove_where`` becomes a
vectorised selection over that table followed by a removal by id. The table is saved before the
index, so after a crash between the two it holds at least every face the index holds; on load it
is trimmed to the index's ids, and an index with faces the table lacks (a gallery indexed before
tags existed) is reported damaged, which makes the keeper rebuild it from the catalog.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from facesift.index.base import (
    Batches,
    RebuildHandle,
    checked_entries,
    checked_scope,
    checked_vectors,
    files_size,
)
from facesift.index.faiss_disk import FaissDiskIndex
from facesift.types import EmbeddingSpace, FaceTags

TAGS_FILE = "faces.tags.npz"


class FaceTagTable:
    """Face id -> (source id, jurisdiction), as parallel numpy arrays (no per-face objects)."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, np.int64)
        self.source_ids = np.zeros(0, np.int64)
        self.jurisdictions = np.zeros(0, "<U2")
        self._pending: list[tuple[np.ndarray, FaceTags]] = []  # appended, not yet concatenated

    def _settle(self) -> None:
        if self._pending:
            self.ids = np.concatenate([self.ids, *(ids for ids, _ in self._pending)])
            self.source_ids = np.concatenate(
                [self.source_ids, *(tags.source_ids for _, tags in self._pending)]
            ).astype(np.int64)
            self.jurisdictions = np.concatenate(
                [self.jurisdictions, *(tags.jurisdictions for _, tags in self._pending)]
            ).astype("<U2")
            self._pending = []

    def add(self, ids: np.ndarray, tags: FaceTags) -> None:
        self._pending.append((ids, tags))

    def keep(self, mask: np.ndarray) -> None:
        self.ids, self.source_ids = self.ids[mask], self.source_ids[mask]
        self.jurisdictions = self.jurisdictions[mask]

    def drop(self, ids: np.ndarray) -> None:
        self._settle()
        self.keep(~np.isin(self.ids, ids))

    def select(self, source_ids: list[int], jurisdiction: str) -> np.ndarray:
        self._settle()
        mask = np.ones(len(self.ids), dtype=bool)
        if source_ids:
            mask &= np.isin(self.source_ids, source_ids)
        if jurisdiction:
            mask &= self.jurisdictions == jurisdiction
        return self.ids[mask]

    def all_ids(self) -> np.ndarray:
        self._settle()
        return self.ids

    def save(self, path: Path) -> None:
        self._settle()
        tmp = path.with_suffix(".tmp.npz")
        with open(tmp, "wb") as handle:
            np.savez(
                handle, ids=self.ids, source_ids=self.source_ids, jurisdictions=self.jurisdictions
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FaceTagTable:
        table = cls()
        with np.load(path, allow_pickle=False) as saved:
            table.ids = saved["ids"].astype(np.int64)
            table.source_ids = saved["source_ids"].astype(np.int64)
            table.jurisdictions = saved["jurisdictions"].astype("<U2")
        if not len(table.ids) == len(table.source_ids) == len(table.jurisdictions):
            raise ValueError("arrays of different lengths")
        return table


class TaggedIndex:
    """A VectorIndex made of an id-only index (``inner``) and a FaceTagTable saved beside it."""

    writes_through = False

    def __init__(self, inner: FaissDiskIndex, directory: Path):
        self.inner = inner
        self.space: EmbeddingSpace = inner.space
        self._tags_path = Path(directory) / TAGS_FILE
        self.damaged: str | None = inner.damaged
        self._tags = self._load_tags()

    def _load_tags(self) -> FaceTagTable:
        if self.damaged or len(self.inner) == 0:
            return FaceTagTable()
        try:
            table = FaceTagTable.load(self._tags_path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            self.damaged = f"{self._tags_path}: {error}"
            return FaceTagTable()
        index_ids = self.inner.ids()
        if not np.isin(index_ids, table.ids).all():
            self.damaged = f"{self._tags_path}: does not tag every face of the index"
            return FaceTagTable()
        table.keep(np.isin(table.ids, index_ids))
        return table

    # --- VectorIndex ---------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.inner.kind

    @property
    def catalog_version(self) -> int | None:
        return self.inner.catalog_version

    def __len__(self) -> int:
        return len(self.inner)

    def add(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        if len(ids) == 0:
            return
        ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
        self.inner.add(ids, vectors)
        self._tags.add(ids, tags)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return 0
        removed = self.inner.remove(ids)
        self._tags.drop(ids)
        return removed

    def remove_where(
        self, *, source_ids: Iterable[int] = (), jurisdiction: str | None = None
    ) -> int:
        wanted, code = checked_scope(source_ids, jurisdiction)
        return self.remove(self._tags.select(wanted, code))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.search(checked_vectors(self.space, vectors), k)

    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        query = checked_vectors(self.space, np.asarray(vector).reshape(1, -1))
        return self.inner.range_search(query[0], radius)

    def ids(self) -> np.ndarray:
        return self.inner.ids()

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        self._tags = FaceTagTable()
        if len(ids):
            ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
            self._tags.add(ids, tags)
        self.inner.rebuild(ids, vectors)
        self.damaged = None

    def save(self, catalog_version: int) -> None:
        self._tags_path.parent.mkdir(parents=True, exist_ok=True)
        self._tags.save(self._tags_path)  # first: see the module docstring
        self.inner.save(catalog_version)

    def size_bytes(self) -> int:
        return self.inner.size_bytes() + files_size([self._tags_path])

    def start_rebuild(
        self, batches: Batches, on_swapped: Callable[[], None] | None = None
    ) -> RebuildHandle:
        """The inner index's background rebuild (the catalog's faces keep their tags)."""
        return self.inner.start_rebuild(batches, on_swapped=on_swapped)

    def close(self) -> None:
        """Nothing to release: the index lives in this process's memory."""

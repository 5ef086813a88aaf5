"""The VectorIndex protocol. An index holds (face id, vector, tags) of one embedding space.

Tags (types.FaceTags: source id and jurisdiction per face) let erasure of a whole source or
jurisdiction be one ``remove_where`` instead of a list of face ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from facesift.errors import IndexError_, SpaceMismatchError
from facesift.types import EmbeddingSpace, FaceTags

JURISDICTION_CODE = re.compile(r"^[A-Z]{2}$")


class VectorIndex(Protocol):
    space: EmbeddingSpace
    # Why the stored index could not be read (the keeper rebuilds it from the catalog), or None.
    damaged: str | None
    # True when add/remove change the stored index at once (a server), False when only save()
    # does (a file). Decides whether a process without the writer lock may reconcile.
    writes_through: bool

    @property
    def kind(self) -> str:
        """Human-readable index type, e.g. ``exact (flat)`` or ``ivf1024``."""
        ...

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        """Add faces; without ``tags`` they can be removed by id only."""
        ...

    def remove(self, ids: np.ndarray) -> int: ...

    def remove_where(
        self, *, source_ids: Iterable[int] = (), jurisdiction: str | None = None
    ) -> int:
        """Remove every face of these sources and/or this jurisdiction (both given: faces that
        match both); return how many were removed."""
        ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (distances, ids), each (n, k); distances in the space's metric, ids -1 if none."""
        ...

    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector within ``radius``: (ids, distances), nearest first."""
        ...

    def ids(self) -> np.ndarray:
        """Every stored face id (int64), in no particular order."""
        ...

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        """Replace the contents wholesale."""
        ...

    def save(self, catalog_version: int) -> None: ...

    @property
    def catalog_version(self) -> int | None:
        """The catalog version this index last reflected when saved (None: never saved)."""
        ...

    def size_bytes(self) -> int:
        """What the stored index takes: its files on disk, or for a server (which a client
        cannot see into) the raw vectors it holds."""
        ...

    def close(self) -> None: ...


class RebuildHandle(Protocol):
    def join(self, timeout: float | None = None) -> None: ...

    @property
    def running(self) -> bool: ...


Batches = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


@runtime_checkable
class RebuildsInBackground(Protocol):
    """An index that can rebuild itself from the catalog's batches while it keeps serving
    searches, then swap the new build in (the FAISS disk index; optional for a backend)."""

    def start_rebuild(
        self, batches: Batches, on_swapped: Callable[[], None] | None = None
    ) -> RebuildHandle: ...


def files_size(paths: Iterable[Path]) -> int:
    """Bytes of those of ``paths`` that exist (files, or folders counted recursively)."""
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total


def checked_vectors(space: EmbeddingSpace, vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n, dimension) matrix of finite numbers."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != space.dimension:
        raise SpaceMismatchError(space.key, f"vectors of shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise IndexError_(f"vector {bad} contains NaN or infinity; embeddings must be finite")
    return vectors


def checked_entries(
    space: EmbeddingSpace, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None
) -> tuple[np.ndarray, np.ndarray, FaceTags]:
    """Validated (ids, vectors, tags) for an add: one id and one tag per vector."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = checked_vectors(space, vectors)
    tags = FaceTags.untagged(len(ids)) if tags is None else tags
    if not len(ids) == len(vectors) == len(tags):
        raise IndexError_(
            f"add needs one id and one tag per vector: {len(ids)} ids, {len(vectors)} vectors, "
            f"{len(tags)} tags"
        )
    if len(np.unique(ids)) != len(ids):
        raise IndexError_("add was given the same face id twice")
    return ids, vectors, tags


def checked_scope(source_ids: Iterable[int], jurisdiction: str | None) -> tuple[list[int], str]:
    """The (source ids, jurisdiction code) of a ``remove_where``; at least one must be given."""
    wanted = sorted({int(s) for s in source_ids})
    code = (jurisdiction or "").strip().upper()
    if jurisdiction is not None and not JURISDICTION_CODE.match(code):
        raise IndexError_(f"jurisdiction {jurisdiction!r} is not an ISO 3166-1 alpha-2 code")
    if not wanted and not code:
        raise IndexError_("remove_where needs source ids or a jurisdiction")
    return wanted, code

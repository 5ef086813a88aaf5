"""FAISS index persisted as a file beside the catalog.

Small galleries use exact (flat) search. Past ``exact_max`` faces the index is rebuilt as IVF-Flat:
it keeps the full vectors (no accuracy lost to compression), supports deletes by id, and with the
``nprobe`` below measured recall@10 against exact search in docs/benchmarks.md.

Searches and writes may come from different threads (the API serves searches while an ingest or
erasure runs). FAISS objects must not be mutated while searched, so a readers-writer lock guards
the index: searches share it, and each batch of adds or removes takes it alone for as long as the
batch takes (milliseconds). Rebuilds (IVF training) happen on a copy outside the lock and are
swapped in at once, so readers see the old index or the new one, never one half-built.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import faiss
import numpy as np
from readerwriterlock import rwlock

from facesift.errors import IndexError_, SpaceMismatchError
from facesift.types import EmbeddingSpace

INDEX_FILE = "faces.faiss"
SINGLE_THREAD_BELOW_QUERIES = 20  # FAISS's own switch point to BLAS for flat search
META_FILE = "faces.faiss.json"


def ivf_lists_for(count: int) -> int:
    # FAISS guideline: 4*sqrt(n) .. 16*sqrt(n) lists; the low end keeps training cheap.
    return int(min(65_536, max(64, 4 * math.sqrt(count))))


def ivf_probes_for(nlist: int) -> int:
    # Chosen by `make bench` (docs/benchmarks.md): nlist/8 keeps ~99% of the true matches within
    # the match threshold (nlist/16 lost ~5%) and is still 3x faster than brute force at 1M.
    return max(16, nlist // 8)


class FaissDiskIndex:
    def __init__(
        self,
        directory: Path,
        space: EmbeddingSpace,
        exact_max: int = 200_000,
        *,
        replace_other_space: bool = False,
    ):
        """``replace_other_space``: the caller knows ``space`` is the truth (the catalog's), so
        a file of another space is stale (a re-embed switched) and is rebuilt, not refused."""
        if space.metric != "euclidean":
            raise IndexError_(f"FAISS disk index supports euclidean spaces, not {space.metric}")
        self.directory = Path(directory)
        self.space = space
        self.exact_max = exact_max
        self._catalog_version: int | None = None
        self.damaged: str | None = None  # why the file on disk could not be read, if it could not
        self._replace_other_space = replace_other_space
        # Writer-preferring, so a steady stream of searches cannot starve an ingest's batches.
        self._lock = rwlock.RWLockWrite()
        self._index = self._load() or self._new_exact()

    # --- persistence ---------------------------------------------------------------------------

    @property
    def _index_path(self) -> Path:
        return self.directory / INDEX_FILE

    @property
    def _meta_path(self) -> Path:
        return self.directory / META_FILE

    def _load(self) -> faiss.Index | None:
        if not self._index_path.exists() or not self._meta_path.exists():
            return None
        try:
            meta = json.loads(self._meta_path.read_text())
            if meta["space"] != self.space.key and self._replace_other_space:
                self.damaged = f"{self._index_path}: built for space {meta['space']}"
                return None
            if meta["space"] != self.space.key:
                raise SpaceMismatchError(meta["space"], self.space.key)
            index = faiss.read_index(str(self._index_path))
        except SpaceMismatchError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            # The index is derived data: a damaged file is rebuilt from the catalog by the engine.
            self.damaged = f"{self._index_path}: {error}"
            return None
        self._catalog_version = int(meta["catalog_version"])
        return index

    def save(self, catalog_version: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp_index = self._index_path.with_suffix(".faiss.tmp")
        tmp_meta = self._meta_path.with_suffix(".json.tmp")
        with self._lock.gen_rlock():
            faiss.write_index(self._index, str(tmp_index))
        meta = {"space": self.space.key, "catalog_version": catalog_version, "kind": self.kind}
        tmp_meta.write_text(json.dumps(meta))
        for tmp in (tmp_index, tmp_meta):
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        # Index first, then meta: a crash in between leaves an older version number, which makes
        # the engine reconcile by comparing ids — never a newer number over older contents.
        os.replace(tmp_index, self._index_path)
        os.replace(tmp_meta, self._meta_path)
        self._catalog_version = catalog_version

    @property
    def catalog_version(self) -> int | None:
        return self._catalog_version

    # --- contents ------------------------------------------------------------------------------

    def _new_exact(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatL2(self.space.dimension))

    @property
    def is_exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexIVF)

    @property
    def kind(self) -> str:
        if self.is_exact:
            return "exact (flat L2)"
        return f"IVF-Flat ({self._index.nlist} lists, nprobe {self._index.nprobe})"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = self._checked(vectors)
        with self._lock.gen_wlock():
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        if self.is_exact and len(self) > self.exact_max:
            self._convert_to_ivf()

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self._lock.gen_wlock():
            return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = self._checked(vectors)
        k = max(1, min(k, max(1, len(self))))
        with self._lock.gen_rlock():
            if len(vectors) < SINGLE_THREAD_BELOW_QUERIES:
                # FAISS spreads even one query over OpenMP threads, which costs more than it
                # gains: measured at 100k faces, p50 10.5 ms with 2 threads vs 5.9 ms with one.
                threads = faiss.omp_get_max_threads()
                faiss.omp_set_num_threads(1)
                try:
                    squared, ids = self._index.search(vectors, k)
                finally:
                    faiss.omp_set_num_threads(threads)
            else:
                squared, ids = self._index.search(vectors, k)
        distances = np.sqrt(np.maximum(squared, 0.0))
        distances[ids < 0] = np.inf
        return distances, ids

    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Every face within ``radius`` of ``vector``: (ids, distances), nearest first."""
        if len(self) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        query = self._checked(vector.reshape(1, -1))
        with self._lock.gen_rlock():
            limits, squared, ids = self._index.range_search(query, float(radius) ** 2)
        distances = np.sqrt(np.maximum(squared[limits[0] : limits[1]], 0.0))
        ids = ids[limits[0] : limits[1]].astype(np.int64)
        order = np.argsort(distances, kind="stable")
        return ids[order], distances[order]

    def ids(self) -> np.ndarray:
        with self._lock.gen_rlock():
            return self._ids()

    def _ids(self) -> np.ndarray:
        if self.is_exact:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        invlists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(list_no), invlists.list_size(list_no)).copy()
            for list_no in range(self._index.nlist)
            if invlists.list_size(list_no)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors_of_exact(self) -> np.ndarray:
        with self._lock.gen_rlock():
            return self._vectors_of_exact()

    def _vectors_of_exact(self) -> np.ndarray:
        flat = faiss.downcast_index(self._index.index)
        return (
            faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.space.dimension)
            .reshape(len(self), self.space.dimension)
            .copy()
        )

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents wholesale, choosing the index type for the size."""
        vectors = self._checked(vectors) if len(ids) else vectors
        fresh = self._trained_ivf(vectors) if len(ids) > self.exact_max else self._new_exact()
        if len(ids):
            fresh.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        with self._lock.gen_wlock():
            self._index = fresh  # built aside, swapped in whole

    def _convert_to_ivf(self) -> None:
        # Only the writer adds, so nothing changes between this copy and the swap.
        with self._lock.gen_rlock():
            ids, vectors = self._ids(), self._vectors_of_exact()
        self.rebuild(ids, vectors)

    def _trained_ivf(self, vectors: np.ndarray) -> faiss.Index:
        nlist = ivf_lists_for(len(vectors))
        quantizer = faiss.IndexFlatL2(self.space.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.space.dimension, nlist, faiss.METRIC_L2)
        rng = np.random.default_rng(0)
        sample_size = min(len(vectors), nlist * 64)
        sample = vectors[rng.choice(len(vectors), sample_size, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = ivf_probes_for(nlist)
        return index

    def _checked(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.space.dimension:
            raise SpaceMismatchError(self.space.key, f"vectors of shape {vectors.shape}")
        return vectors

"""FAISS index persisted as a file beside the catalog.

Small galleries use exact (flat) search. Past ``exact_max`` faces the index is rebuilt as IVF-Flat:
it keeps the full vectors (no accuracy lost to compression), supports deletes by id, and with the
``nprobe`` below measured recall@10 against exact search in docs/benchmarks.md. Past
``compressed_min`` faces it becomes IVF-PQ with exact re-ranking from a memory-mapped store of
the embeddings (index/faiss_compressed.py), which needs ~13x less memory per face.

A rebuild can run in the background (``start_rebuild``): searches, adds and removes keep using
the current index meanwhile; adds and removes are also noted and replayed on the new index
before it is swapped in, under a lock, in one assignment.

Searches and writes may come from different threads (the API serves searches while an ingest or
erasure runs). FAISS objects must not be mutated while searched, so a readers-writer lock guards
the current index: searches share it, and each batch of adds or removes takes it alone for as
long as the batch takes (milliseconds). Builds happen aside and are swapped in at once.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from readerwriterlock import rwlock

from facesift.errors import IndexError_, SpaceMismatchError
from facesift.index.base import files_size
from facesift.index.faiss_compressed import (
    MIN_COMPRESSED_FACES,
    RERANK_FACTOR,
    ProbeChoice,
    RerankStore,
    choose_nprobe,
    legacy_probes_for,
    rerank,
    set_probes,
    stored_store_generations,
    train_ivfpq,
    training_size,
    write_sorted_store,
)
from facesift.types import EmbeddingSpace

Batches = Iterable[tuple[np.ndarray, np.ndarray]]

# faiss's bundled stubs type every index as the C++ base class (no nprobe, no id_map,
# remove_ids of an IDSelector only); the Python wrappers we call are looser.
FaissIndex = Any

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


# PQ distances are approximate: a range search collects candidates a little beyond the radius
# and keeps those whose exact distance is within it.
PQ_RANGE_SLACK = 1.25


@dataclass
class _Generation:
    """One built index and, for IVF-PQ, the rerank store it reads exact vectors from."""

    index: FaissIndex
    store: RerankStore | None = None
    probes: ProbeChoice | None = None  # IVF-PQ: the probe count measured when it was built


@dataclass
class RebuildJob:
    """A background rebuild: ``join()`` waits; ``error`` is set if the build failed."""

    thread: threading.Thread
    error: BaseException | None = None

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


@dataclass
class _Pending:
    """Adds and removes made while a background build runs, replayed on the new index."""

    changes: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)


class FaissDiskIndex:
    def __init__(
        self,
        directory: Path,
        space: EmbeddingSpace,
        exact_max: int = 200_000,
        compressed_min: int = 2_000_000,
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
        self.compressed_min = max(compressed_min, exact_max)
        self._catalog_version: int | None = None
        self.damaged: str | None = None  # why the file on disk could not be read, if it could not
        self._replace_other_space = replace_other_space
        # Writers serialise on ``_lock`` (bookkeeping, background rebuilds); searches and the
        # in-place mutation of the current index exclude each other through ``_rw``,
        # writer-preferring so a steady stream of searches cannot starve an ingest's batches.
        self._lock = threading.RLock()
        self._rw = rwlock.RWLockWrite()
        self._pending: _Pending | None = None  # set while a background rebuild runs
        self._building: set[str] = set()  # store generations of builds in progress
        self._current = self._load() or _Generation(self._new_exact())

    # --- persistence ---------------------------------------------------------------------------

    @property
    def _index_path(self) -> Path:
        return self.directory / INDEX_FILE

    @property
    def _meta_path(self) -> Path:
        return self.directory / META_FILE

    @property
    def _index(self) -> FaissIndex:
        return self._current.index

    def _load(self) -> _Generation | None:
        if not self._index_path.exists() or not self._meta_path.exists():
            return None
        try:
            meta = json.loads(self._meta_path.read_text())
            if meta["space"] != self.space.key and self._replace_other_space:
                self.damaged = f"{self._index_path}: built for space {meta['space']}"
                return None
            if meta["space"] != self.space.key:
                raise SpaceMismatchError(meta["space"], self.space.key)
            index: FaissIndex = faiss.read_index(str(self._index_path))
            store = None
            if meta.get("rerank_store"):
                recorded = meta["rerank_store"]
                store = RerankStore(
                    self.directory,
                    str(recorded["generation"]),
                    self.space.dimension,
                    int(recorded["rows"]),
                )
            elif isinstance(index, faiss.IndexIVFPQFastScan):
                raise ValueError("IVF-PQ index without its rerank store")
            probes = None
            if store is not None and meta.get("probes"):
                probes = ProbeChoice.from_meta(meta["probes"])
                set_probes(index, probes.nprobe)
            elif store is not None:
                # Saved before probe counts were measured: the rule it was built with.
                set_probes(index, legacy_probes_for(index.nlist))
        except SpaceMismatchError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
            # The index is derived data: a damaged file is rebuilt from the catalog by the engine.
            self.damaged = f"{self._index_path}: {error}"
            return None
        self._catalog_version = int(meta["catalog_version"])
        return _Generation(index, store, probes)

    def save(self, catalog_version: int) -> None:
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            current = self._current
            tmp_index = self._index_path.with_suffix(".faiss.tmp")
            tmp_meta = self._meta_path.with_suffix(".json.tmp")
            if current.store is not None:
                current.store.flush()  # rows durable before the metadata that counts them
            with self._rw.gen_rlock():
                faiss.write_index(current.index, str(tmp_index))
            meta = {"space": self.space.key, "catalog_version": catalog_version, "kind": self.kind}
            if current.store is not None:
                meta["rerank_store"] = {
                    "generation": current.store.generation,
                    "rows": current.store.rows,
                }
            if current.probes is not None:
                meta["probes"] = current.probes.to_meta()
            tmp_meta.write_text(json.dumps(meta))
            for tmp in (tmp_index, tmp_meta):
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
            # Index first, then meta: a crash in between leaves an older version number, which
            # makes the engine reconcile by comparing ids — never a newer number over older
            # contents. A new store generation is only named by the meta, so the old one stays
            # valid until the meta is replaced.
            os.replace(tmp_index, self._index_path)
            os.replace(tmp_meta, self._meta_path)
            self._catalog_version = catalog_version
            self._delete_unused_stores(current)

    def _delete_unused_stores(self, current: _Generation) -> None:
        keep = set(self._building)
        if current.store is not None:
            keep.add(current.store.generation)
        for generation in stored_store_generations(self.directory) - keep:
            RerankStore(self.directory, generation, self.space.dimension).delete_files()

    @property
    def catalog_version(self) -> int | None:
        return self._catalog_version

    def size_bytes(self) -> int:
        store = self._current.store
        return files_size(
            [self._index_path, self._meta_path, *(store.files() if store is not None else ())]
        )

    # --- contents ------------------------------------------------------------------------------

    def _new_exact(self) -> FaissIndex:
        return faiss.IndexIDMap2(faiss.IndexFlatL2(self.space.dimension))

    @property
    def is_exact(self) -> bool:
        return not isinstance(self._index, faiss.IndexIVF)

    @property
    def is_compressed(self) -> bool:
        return self._current.store is not None

    @property
    def kind(self) -> str:
        index = self._index
        if self.is_exact:
            return "exact (flat L2)"
        if self.is_compressed:
            quantizer = faiss.downcast_index(index.quantizer)
            coarse = "HNSW" if isinstance(quantizer, faiss.IndexHNSW) else "flat"
            probes = self._current.probes
            measured = f", recall@10 {probes.recall:.3f} measured" if probes is not None else ""
            return (
                f"IVF-PQ ({index.nlist} lists via {coarse} quantizer, {index.pq.code_size}-byte "
                f"codes, nprobe {index.nprobe}{measured}, exact re-rank of {RERANK_FACTOR}x k)"
            )
        return f"IVF-Flat ({index.nlist} lists, nprobe {index.nprobe})"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _kind_for(self, count: int) -> str:
        if count <= self.exact_max:
            return "exact"
        compressed = count > self.compressed_min and count >= MIN_COMPRESSED_FACES
        return "compressed" if compressed else "ivf"

    def _kind_of(self, generation: _Generation) -> str:
        if generation.store is not None:
            return "compressed"
        return "ivf" if isinstance(generation.index, faiss.IndexIVF) else "exact"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.asarray(ids, dtype=np.int64)
        vectors = self._checked(vectors)
        with self._lock:
            with self._rw.gen_wlock():
                self._add_to(self._current, ids, vectors)
            if self._pending is not None:
                self._pending.changes.append((ids.copy(), vectors.copy()))
            grown = self._kind_for(len(self))
            order = ("exact", "ivf", "compressed")
            if order.index(grown) > order.index(self._kind_of(self._current)):
                # Crossing a size threshold converts in place (indexes only grow into a form).
                self._swap_in(self._build(self._contents(self._current)))

    def _add_to(self, generation: _Generation, ids: np.ndarray, vectors: np.ndarray) -> None:
        generation.index.add_with_ids(vectors, ids)
        store = generation.store
        if store is None:
            return
        ordered = np.argsort(ids, kind="stable")
        ids, vectors = ids[ordered], vectors[ordered]
        last = store.last_id
        if bool(np.all(np.diff(ids) > 0)) and (last is None or ids[0] > last):
            store.append(ids, vectors)
        else:
            # An id at or below the newest stored one (a re-used id, or a replayed add): merge
            # into a new store generation; the old files go at the next save.
            self._building.discard(store.generation)
            generation.store = write_sorted_store(
                self.directory, self.space.dimension, [*store.chunks(), (ids, vectors)]
            )

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            if self._pending is not None:
                self._pending.changes.append((ids.copy(), None))
            with self._rw.gen_wlock():
                removed = int(self._index.remove_ids(ids))
                # The codes are gone; the exact vector in the rerank store is zeroed too, so
                # no copy of an erased face waits there for the next rebuild.
                if self._current.store is not None:
                    self._current.store.erase(ids)
                return removed

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = self._checked(vectors)
        with self._rw.gen_rlock():
            # One read of the generation: a swap mid-search cannot mix index and store.
            return self._search(self._current, vectors, k)

    def _search(
        self, current: _Generation, vectors: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, max(1, int(current.index.ntotal))))
        wanted = k * RERANK_FACTOR if current.store is not None else k
        if len(vectors) < SINGLE_THREAD_BELOW_QUERIES:
            # FAISS spreads even one query over OpenMP threads, which costs more than it gains:
            # measured at 100k faces, p50 10.5 ms with 2 threads vs 5.9 ms with one.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                squared, ids = current.index.search(vectors, wanted)
            finally:
                faiss.omp_set_num_threads(threads)
        else:
            squared, ids = current.index.search(vectors, wanted)
        if current.store is not None:
            return rerank(current.store, vectors, ids, k)
        distances = np.sqrt(np.maximum(squared, 0.0))
        distances[ids < 0] = np.inf
        return distances, ids

    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Every face within ``radius`` of ``vector``: (ids, distances), nearest first."""
        query = self._checked(vector.reshape(1, -1))
        with self._rw.gen_rlock():
            return self._range_search(self._current, query, radius)

    def _range_search(
        self, current: _Generation, query: np.ndarray, radius: float
    ) -> tuple[np.ndarray, np.ndarray]:
        if current.index.ntotal == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        reach = radius * PQ_RANGE_SLACK if current.store is not None else radius
        limits, squared, ids = current.index.range_search(query, float(reach) ** 2)
        ids = ids[limits[0] : limits[1]].astype(np.int64)
        if current.store is not None:
            found, candidates = current.store.lookup(ids)
            ids = ids[found]
            distances = np.linalg.norm(candidates - query, axis=1)
            ids, distances = ids[distances <= radius], distances[distances <= radius]
        else:
            distances = np.sqrt(np.maximum(squared[limits[0] : limits[1]], 0.0))
        order = np.argsort(distances, kind="stable")
        return ids[order], distances[order]

    def ids(self) -> np.ndarray:
        with self._rw.gen_rlock():
            return self._ids_of(self._index)

    @staticmethod
    def _ids_of(index: FaissIndex) -> np.ndarray:
        if not isinstance(index, faiss.IndexIVF):
            return faiss.vector_to_array(index.id_map).astype(np.int64)
        invlists: Any = index.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(list_no), invlists.list_size(list_no)).copy()
            for list_no in range(index.nlist)
            if invlists.list_size(list_no)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors_of_exact(self) -> np.ndarray:
        with self._rw.gen_rlock():
            return self._vectors_of_exact()

    def _vectors_of_exact(self) -> np.ndarray:
        flat: Any = faiss.downcast_index(self._index.index)
        return (
            faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.space.dimension)
            .reshape(len(self), self.space.dimension)
            .copy()
        )

    def _contents(self, generation: _Generation) -> Batches:
        """(ids, vectors) batches of every face in ``generation``, to convert it to a new form."""
        index = generation.index
        dimension = self.space.dimension
        if generation.store is not None:
            live = self._ids_of(index)
            for ids, vectors in generation.store.chunks():
                keep = np.isin(ids, live)
                yield ids[keep], vectors[keep]
        elif isinstance(index, faiss.IndexIVF):
            invlists: Any = index.invlists  # IVF-Flat codes are the raw float32 vectors
            for list_no in range(index.nlist):
                size = invlists.list_size(list_no)
                if size:
                    ids = faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy()
                    codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * dimension * 4)
                    yield ids.astype(np.int64), codes.copy().view(np.float32).reshape(size, -1)
        else:
            yield self._ids_of(index), self.vectors_of_exact()

    # --- (re)building ----------------------------------------------------------------------------

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the contents wholesale, choosing the index type for the size."""
        self.rebuild_from([(np.asarray(ids, np.int64), vectors)] if len(ids) else [])

    def rebuild_from(self, batches: Batches) -> None:
        """Replace the contents with ``batches`` of (ids, vectors), e.g. the catalog's."""
        generation = self._build(batches)
        with self._lock:
            self._swap_in(generation)

    def _swap_in(self, generation: _Generation) -> None:
        self._current = generation
        if generation.store is not None:
            self._building.discard(generation.store.generation)

    def start_rebuild(
        self,
        batches: Callable[[], Batches],
        on_swapped: Callable[[], None] | None = None,
    ) -> RebuildJob:
        """Build a replacement from ``batches()`` in a thread, then swap it in atomically.

        Searches, adds and removes go on against the current index while the build runs; the
        adds and removes are replayed on the new index just before the swap, so the result
        holds whatever ``batches()`` read plus every change made since it started.
        """
        with self._lock:
            if self._pending is not None:
                raise IndexError_(f"{self.directory}: a rebuild of this index is already running")
            self._pending = _Pending()
        job = RebuildJob(threading.Thread(target=lambda: None, daemon=True))

        pending = self._pending

        def run() -> None:
            generation = None
            try:
                generation = self._build(batches())
                with self._lock:
                    for ids, vectors in pending.changes:
                        # The build may or may not have read a face changed meanwhile: remove
                        # it first so it is neither lost nor doubled.
                        generation.index.remove_ids(ids)
                        if vectors is not None:
                            self._add_to(generation, ids, vectors)
                        elif generation.store is not None:
                            generation.store.erase(ids)  # removed meanwhile: no copy left
                    self._swap_in(generation)
                    self._pending = None
            except BaseException as error:  # reported through the job, never lost in a thread
                job.error = error
                with self._lock:
                    self._pending = None
                    if generation is not None and generation.store is not None:
                        self._building.discard(generation.store.generation)
                        generation.store.delete_files()
                return
            if on_swapped is not None:
                try:
                    on_swapped()
                except BaseException as error:
                    job.error = error

        job.thread = threading.Thread(target=run, name="facesift-index-rebuild", daemon=True)
        job.thread.start()
        return job

    def _build(self, batches: Batches) -> _Generation:
        """A new index of the form the size calls for; stages the vectors on disk first."""
        store = write_sorted_store(
            self.directory, self.space.dimension, self._checked_batches(batches)
        )
        self._building.add(store.generation)
        try:
            kind = self._kind_for(store.rows)
            rng = np.random.default_rng(0)
            if kind == "exact":
                index = self._new_exact()
            elif kind == "ivf":
                index = self._trained_ivf(
                    store.sample(min(store.rows, ivf_lists_for(store.rows) * 64), rng), store.rows
                )
            else:
                index = train_ivfpq(
                    self.space.dimension, store.rows, store.sample(training_size(store.rows), rng)
                )
            for ids, vectors in store.chunks():
                index.add_with_ids(vectors, ids)
            # The probe count is measured on the filled index against exact search.
            probes = choose_nprobe(index, store, rng) if kind == "compressed" else None
        except BaseException:
            self._building.discard(store.generation)
            store.delete_files()
            raise
        # The store stays in _building (safe from save()'s clean-up) until the caller swaps it in.
        if kind != "compressed":
            store.delete_files()  # exact and IVF-Flat hold the vectors themselves
            return _Generation(index)
        return _Generation(index, store, probes)

    def _checked_batches(self, batches: Batches) -> Batches:
        for ids, vectors in batches:
            if len(ids):
                yield np.asarray(ids, dtype=np.int64), self._checked(vectors)

    def _trained_ivf(self, sample: np.ndarray, count: int) -> FaissIndex:
        nlist = ivf_lists_for(count)
        quantizer = faiss.IndexFlatL2(self.space.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.space.dimension, nlist, faiss.METRIC_L2)
        index.train(np.ascontiguousarray(sample))
        index.nprobe = ivf_probes_for(nlist)
        return index

    def _checked(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.space.dimension:
            raise SpaceMismatchError(self.space.key, f"vectors of shape {vectors.shape}")
        return vectors

"""The compressed form of the FAISS disk index, for galleries too large to keep whole in memory.

IVF-PQ keeps a 32-byte product-quantized code per face in memory (plus its 8-byte id) instead
of the 512-byte vector. Codes alone rank neighbours only roughly, so each search asks the
codes for ``RERANK_FACTOR`` times more candidates than wanted and re-ranks those with exact
distances read from the rerank store: the float32 embeddings in a memory-mapped file beside
the index, so re-ranking never touches the SQL catalog. The operating point (lists, probes,
code size, rerank factor) was chosen from measurements in bench/results/large_gallery.md.

The store's rows are kept in ascending face-id order, so finding a face's row is a binary search
over the memory-mapped ids file and needs no id-to-row table in memory.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from facesift.errors import IndexError_

# FAISS's fast-scan PQ: 64 sub-quantizers of 4 bits (32 bytes per face), scanned with SIMD
# lookup tables. Measured at 100k LFW-like faces with 100 candidates re-ranked: recall@10 0.972,
# equal to IVF-Flat at the same probes, at a fifth of its latency; 32x4 bits lost 12 points and
# 16x8-bit PQ trained slower and scanned 3x slower (bench/results/large_gallery.md).
PQ_SUBQUANTIZERS = 64
PQ_BITS = 4
PQ_BYTES = PQ_SUBQUANTIZERS * PQ_BITS // 8
RERANK_FACTOR = 10
TRAINING_POINTS_PER_LIST = 32  # k-means needs ~30-40 points per centroid; more only costs time
MIN_TRAINING = 10_000
MIN_COMPRESSED_FACES = 1_000  # fewer cannot train the codes; such galleries stay exact/IVF-Flat
STORE_PREFIX = "faces.vectors."
COPY_CHUNK = 500_000  # rows moved at a time when sorting or converting (~256 MB of float32)


def compressed_lists_for(count: int) -> int:
    # sqrt(n) lists, fewer than IVF-Flat's 4*sqrt(n): assigning 10M faces to the lists is the
    # bulk of the build on 2 cores and grows with their number, while scanning fast-scan codes
    # is cheap, so longer lists cost little at search time.
    return int(min(16_384, max(64, math.sqrt(count))))


def compressed_probes_for(nlist: int) -> int:
    # Chosen by bench/large_gallery.py: probing 1/6 of the lists keeps recall@10 after the
    # re-rank >= 0.95 on LFW faces among Gaussian-fitted synthetic ones (1/12 gave ~0.91).
    return max(8, nlist // 6)


def train_ivfpq(dimension: int, count: int, sample: np.ndarray) -> faiss.IndexIVFPQFastScan:
    """An IVF-PQ (fast-scan) index sized for ``count`` faces, trained on ``sample``."""
    if dimension % PQ_SUBQUANTIZERS:
        raise IndexError_(
            f"compressed index needs a dimension divisible by {PQ_SUBQUANTIZERS}, not {dimension}"
        )
    nlist = compressed_lists_for(count)
    quantizer = faiss.IndexFlatL2(dimension)
    index = faiss.IndexIVFPQFastScan(quantizer, dimension, nlist, PQ_SUBQUANTIZERS, PQ_BITS)
    index.cp.min_points_per_centroid = 5  # silence FAISS's warning on small test galleries
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.nprobe = compressed_probes_for(nlist)
    return index


def training_size(count: int) -> int:
    return min(count, max(MIN_TRAINING, compressed_lists_for(count) * TRAINING_POINTS_PER_LIST))


class RerankStore:
    """Face embeddings in ascending id order, in two files: ``<gen>.f32`` rows, ``<gen>.ids``.

    Appends go to the end of the files; only ``rows`` rows are valid, and ``rows`` is what the
    index's metadata records when saved, so rows written after the last save (a crash) are
    ignored on load and overwritten by the next append.
    """

    def __init__(self, directory: Path, generation: str, dimension: int, rows: int = 0):
        self.directory = Path(directory)
        self.generation = generation
        self.dimension = dimension
        self.rows = rows
        self._vectors: np.ndarray = np.zeros((0, dimension), np.float32)  # memory-mapped
        self._ids: np.ndarray = np.zeros(0, np.int64)
        if rows:
            self.check_files()
        self._remap()

    @classmethod
    def new(cls, directory: Path, dimension: int) -> RerankStore:
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory, uuid.uuid4().hex[:12], dimension)
        store.vectors_path.touch()
        store.ids_path.touch()
        return store

    @property
    def vectors_path(self) -> Path:
        return self.directory / f"{STORE_PREFIX}{self.generation}.f32"

    @property
    def ids_path(self) -> Path:
        return self.directory / f"{STORE_PREFIX}{self.generation}.ids"

    def files(self) -> tuple[Path, Path]:
        return self.vectors_path, self.ids_path

    def check_files(self) -> None:
        for path, width in ((self.vectors_path, 4 * self.dimension), (self.ids_path, 8)):
            if not path.exists() or path.stat().st_size < self.rows * width:
                raise OSError(f"{path}: rerank store shorter than the {self.rows} rows recorded")

    def _remap(self) -> None:
        if self.rows == 0:
            self._vectors = np.zeros((0, self.dimension), np.float32)
            self._ids = np.zeros(0, np.int64)
            return
        self._vectors = np.memmap(
            self.vectors_path, np.float32, "r", shape=(self.rows, self.dimension)
        )
        self._ids = np.memmap(self.ids_path, np.int64, "r", shape=(self.rows,))

    @property
    def last_id(self) -> int | None:
        return int(self._ids[-1]) if self.rows else None

    def ids(self) -> np.ndarray:
        return np.asarray(self._ids)

    def chunks(self, size: int = COPY_CHUNK) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, self.rows, size):
            yield (
                np.asarray(self._ids[start : start + size]),
                np.asarray(self._vectors[start : start + size]),
            )

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.sort(rng.choice(self.rows, count, replace=False))
        return np.ascontiguousarray(self._vectors[rows])

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Append rows whose ids are ascending and above every stored id (callers ensure it)."""
        with open(self.vectors_path, "r+b") as handle:
            handle.truncate(self.rows * 4 * self.dimension)  # drop rows from after a crash
            handle.seek(0, os.SEEK_END)
            handle.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        with open(self.ids_path, "r+b") as handle:
            handle.truncate(self.rows * 8)
            handle.seek(0, os.SEEK_END)
            handle.write(np.ascontiguousarray(ids, dtype="<i8").tobytes())
        self.rows += len(ids)
        self._remap()

    def flush(self) -> None:
        """Make the rows durable (called before the metadata that counts them is written)."""
        for path in self.files():
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors of the found ids); ids need not be sorted or unique."""
        if self.rows == 0:
            return np.zeros(len(ids), bool), np.zeros((0, self.dimension), np.float32)
        rows = np.searchsorted(self._ids, ids)
        rows = np.minimum(rows, self.rows - 1)
        found = np.asarray(self._ids[rows]) == ids
        return found, self.vectors_at(rows[found])

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        # Read in file order (kinder to the page cache and disk), then put back in asked order.
        order = np.argsort(rows, kind="stable")
        vectors = np.empty((len(rows), self.dimension), np.float32)
        vectors[order] = self._vectors[rows[order]]
        return vectors

    def delete_files(self) -> None:
        self._vectors = np.zeros((0, self.dimension), np.float32)  # no map on deleted files
        self._ids = np.zeros(0, np.int64)
        for path in self.files():
            path.unlink(missing_ok=True)


def write_sorted_store(
    directory: Path, dimension: int, batches: Iterable[tuple[np.ndarray, np.ndarray]]
) -> RerankStore:
    """A new store holding ``batches`` (any order; the last copy of a repeated id wins)."""
    staging = RerankStore.new(directory, dimension)
    ascending = True
    try:
        for ids, vectors in batches:
            if len(ids) == 0:
                continue
            ids = np.asarray(ids, dtype=np.int64)
            last = staging.last_id
            ascending = (
                ascending and bool(np.all(np.diff(ids) > 0)) and (last is None or ids[0] > last)
            )
            staging.append(ids, vectors)
    except BaseException:
        staging.delete_files()  # a failed source leaves no half-written store behind
        raise
    if ascending:
        return staging
    # Catalog batches arrive in id order, so this is only the rare path (converting an IVF-Flat
    # index, whose lists are not in id order, or re-using an id): a stable sort of the ids keeps
    # the last copy of each id last, and only that copy is written.
    all_ids = staging.ids()
    order = np.argsort(all_ids, kind="stable")
    sorted_ids = all_ids[order]
    keep = np.append(sorted_ids[1:] != sorted_ids[:-1], True)
    order = order[keep]
    result = RerankStore.new(directory, dimension)
    for start in range(0, len(order), COPY_CHUNK):
        rows = order[start : start + COPY_CHUNK]
        result.append(all_ids[rows], staging.vectors_at(rows))
    staging.delete_files()
    return result


def stored_store_generations(directory: Path) -> set[str]:
    return {
        path.name[len(STORE_PREFIX) :].rsplit(".", 1)[0]
        for path in Path(directory).glob(f"{STORE_PREFIX}*")
    }


def rerank(
    store: RerankStore, queries: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (distances, ids) of the ``k`` nearest among each query's ``candidates`` (-1: none)."""
    distances = np.full((len(queries), k), np.inf, np.float32)
    ids = np.full((len(queries), k), -1, np.int64)
    flat = candidates.ravel()
    valid = flat >= 0
    found, vectors = store.lookup(flat[valid])
    rows = np.repeat(np.arange(len(queries)), candidates.shape[1])[valid][found]
    candidate_ids = flat[valid][found]
    exact = np.sqrt(np.maximum(((vectors - queries[rows]) ** 2).sum(1), 0.0))
    # Sort by (query, distance); each query's first k entries are its answer.
    order = np.lexsort((exact, rows))
    rows, exact, candidate_ids = rows[order], exact[order], candidate_ids[order]
    first_of_query = np.searchsorted(rows, np.arange(len(queries)))
    rank = np.arange(len(rows)) - first_of_query[rows]
    kept = rank < k
    distances[rows[kept], rank[kept]] = exact[kept]
    ids[rows[kept], rank[kept]] = candidate_ids[kept]
    return distances, ids

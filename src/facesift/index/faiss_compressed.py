"""The compressed form of the FAISS disk index, for galleries too large to keep whole in memory.

IVF-PQ keeps a product-quantized code per face in memory (4 bits per 2 dimensions: 64 bytes at
256-d, plus its 8-byte id) instead of the float32 vector. Codes alone rank neighbours only
roughly, so each search asks the codes for ``RERANK_FACTOR`` times more candidates than wanted
and re-ranks those with exact distances read from the rerank store: the float32 embeddings in a
memory-mapped file beside the index, so re-ranking never touches the SQL catalog. The lists are
many (4*sqrt(n)) and found through an HNSW graph over their centroids; how many a search probes
is measured on each build (``choose_nprobe``: the fewest reaching recall@10 >= 0.97 on
calibration queries) and saved in the index's metadata. Code size and rerank factor were chosen
from measurements in bench/results/large_gallery.md.

The store's rows are kept in ascending face-id order, so finding a face's row is a binary search
over the memory-mapped ids file and needs no id-to-row table in memory.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facesift.errors import IndexError_

# FAISS's fast-scan PQ: one 4-bit sub-quantizer per 2 dimensions (32 bytes per 128-d face, 64 per
# 256-d face), scanned with SIMD lookup tables. Measured at 100k LFW-like 128-d faces with 100
# candidates re-ranked: recall@10 0.972, equal to IVF-Flat at the same probes; 4 dimensions per
# sub-quantizer lost 12 points there, and with the 256-d default model capped recall@10 at 0.87
# even probing every list (0.98 with 2 per sub-quantizer; bench/results/large_gallery.md).
PQ_DIMENSIONS_PER_SUBQUANTIZER = 2
PQ_BITS = 4
LEGACY_PQ_SUBQUANTIZERS = 64  # indexes built before: 64 sub-quantizers whatever the dimension
RERANK_FACTOR = 10
TRAINING_POINTS_PER_LIST = 16  # k-means on 2 cores is the build's cost; 16 per centroid suffices
KMEANS_ITERATIONS = 10  # FAISS's default 25 moves the centroids little after ~10
MIN_TRAINING = 10_000
MIN_COMPRESSED_FACES = 1_000  # fewer cannot train the codes; such galleries stay exact/IVF-Flat
STORE_PREFIX = "faces.vectors."
COPY_CHUNK = 500_000  # rows moved at a time when sorting or converting (~256 MB of float32)

# Coarse quantizer: an HNSW graph over the list centroids, so finding the lists to probe costs
# ~log(nlist) instead of a scan of every centroid, and the lists can be many and short.
HNSW_NEIGHBOURS = 32
QUANTIZER_EF_SEARCH = 64  # at least this, and twice the probes, candidates kept in the graph
MAX_COMPRESSED_LISTS = 65_536

# The probe count is chosen at build time by measured recall (``choose_nprobe``): the smallest
# rung of this ladder whose recall@10 after the re-rank reaches RECALL_TARGET on calibration
# queries drawn from the gallery itself.
RECALL_TARGET = 0.97
CALIBRATION_QUERIES = 200
CALIBRATION_K = 10
PROBE_LADDER_START = 8
# A calibration query is a gallery face moved as far as a second photo of the same person
# would be: per-dimension noise of this many times the gallery's spread in that dimension. The
# default model on LFW: within-person variance is 0.33 of the total, so two photos of a person
# differ by sqrt(2 * 0.33) ~ 0.8 of the gallery's spread.
CALIBRATION_NOISE = 0.8


def compressed_lists_for(count: int) -> int:
    # 4*sqrt(n) lists (FAISS's guideline for IVF), found through the HNSW quantizer: the lists
    # are short, so a query scans ~nprobe * sqrt(n) / 4 codes and its cost grows as sqrt(n) at a
    # fixed probe count, not as n.
    return int(min(MAX_COMPRESSED_LISTS, max(64, 4 * math.sqrt(count))))


def legacy_lists_for(count: int) -> int:
    """The list count of indexes built before the HNSW quantizer: sqrt(n), at most 16,384."""
    return int(min(16_384, max(64, math.sqrt(count))))


def legacy_probes_for(nlist: int) -> int:
    """The probe count of indexes saved without a measured one (before calibration): 1/6 of the
    lists, which kept recall@10 >= 0.95 (bench/results/large_gallery.md, previous method)."""
    return max(8, nlist // 6)


def set_probes(index: faiss.IndexIVF, nprobe: int) -> None:
    """Probe ``nprobe`` lists; an HNSW quantizer keeps enough candidates to find them."""
    index.nprobe = int(min(nprobe, index.nlist))
    quantizer = faiss.downcast_index(index.quantizer)
    if isinstance(quantizer, faiss.IndexHNSW):
        quantizer.hnsw.efSearch = max(QUANTIZER_EF_SEARCH, 2 * index.nprobe)


def pq_subquantizers_for(dimension: int) -> int:
    # Fast-scan packs codes in pairs of sub-quantizers, hence an even count.
    if dimension % (2 * PQ_DIMENSIONS_PER_SUBQUANTIZER):
        raise IndexError_(
            "compressed index needs a dimension divisible by "
            f"{2 * PQ_DIMENSIONS_PER_SUBQUANTIZER}, not {dimension}"
        )
    return dimension // PQ_DIMENSIONS_PER_SUBQUANTIZER


def train_ivfpq(dimension: int, count: int, sample: np.ndarray) -> faiss.IndexIVFPQFastScan:
    """An IVF-PQ (fast-scan) index sized for ``count`` faces, trained on ``sample``.

    Its probe count is a placeholder until ``choose_nprobe`` measures one on the filled index.
    """
    subquantizers = pq_subquantizers_for(dimension)
    nlist = compressed_lists_for(count)
    quantizer = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS)
    index = faiss.IndexIVFPQFastScan(quantizer, dimension, nlist, subquantizers, PQ_BITS)
    index.cp.min_points_per_centroid = 5  # silence FAISS's warning on small test galleries
    index.cp.niter = KMEANS_ITERATIONS
    # k-means assigns with a flat scan (exact, BLAS); the centroids then go into the graph.
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    set_probes(index, PROBE_LADDER_START)  # also the graph's search width while faces are added
    return index


def training_size(count: int) -> int:
    return min(count, max(MIN_TRAINING, compressed_lists_for(count) * TRAINING_POINTS_PER_LIST))


@dataclass(frozen=True)
class ProbeChoice:
    """The probe count a build measured, and what it measured, kept in the index's metadata."""

    nprobe: int
    recall: float  # recall@10 after the re-rank on the calibration queries, at ``nprobe``
    queries: int
    target: float = RECALL_TARGET

    def to_meta(self) -> dict[str, float | int]:
        return {
            "nprobe": self.nprobe,
            "recall_at_10": round(self.recall, 4),
            "calibration_queries": self.queries,
            "recall_target": self.target,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ProbeChoice:
        return cls(
            int(meta["nprobe"]),
            float(meta["recall_at_10"]),
            int(meta["calibration_queries"]),
            float(meta["recall_target"]),
        )


def probe_ladder(nlist: int) -> list[int]:
    """8, 16, 32, ... and finally every list."""
    ladder, nprobe = [], PROBE_LADDER_START
    while nprobe < nlist:
        ladder.append(nprobe)
        nprobe *= 2
    return [*ladder, nlist]


def calibration_queries(store: RerankStore, count: int, rng: np.random.Generator) -> np.ndarray:
    """Gallery faces moved like a second photo of their person (CALIBRATION_NOISE), each
    rescaled to its source's length (the model's embeddings lie on a sphere)."""
    sources = store.sample(min(count, store.rows), rng)
    spread = store.sample(min(store.rows, 10_000), rng).std(0)
    noise = rng.standard_normal(sources.shape).astype(np.float32) * (CALIBRATION_NOISE * spread)
    queries = sources + noise
    lengths = np.linalg.norm(sources, axis=1) / np.maximum(np.linalg.norm(queries, axis=1), 1e-12)
    return np.ascontiguousarray(queries * lengths[:, None], dtype=np.float32)


def exact_neighbours(store: RerankStore, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-``k`` face ids of each query, one chunked pass over the store."""
    best_d = np.full((len(queries), k), np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for ids, vectors in store.chunks(100_000):
        squared = (vectors**2).sum(1)[None, :] - 2.0 * (queries @ vectors.T)
        take = min(k, len(ids))
        top = np.argpartition(squared, take - 1, axis=1)[:, :take]
        both_d = np.hstack([best_d, np.take_along_axis(squared, top, 1)])
        both_i = np.hstack([best_i, ids[top]])
        order = np.argsort(both_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(both_d, order, 1)
        best_i = np.take_along_axis(both_i, order, 1)
    return best_i


def choose_nprobe(
    index: faiss.IndexIVF,
    store: RerankStore,
    rng: np.random.Generator,
    *,
    target: float = RECALL_TARGET,
    queries: int = CALIBRATION_QUERIES,
) -> ProbeChoice:
    """Set and return the smallest ladder probe count whose recall@10 after the re-rank reaches
    ``target`` against exact search, on calibration queries (every list if none does)."""
    sample = calibration_queries(store, queries, rng)
    truth = exact_neighbours(store, sample, CALIBRATION_K)
    wanted = min(CALIBRATION_K * RERANK_FACTOR, max(1, int(index.ntotal)))
    recall = 0.0
    nprobe = index.nlist
    for nprobe in probe_ladder(index.nlist):
        set_probes(index, nprobe)
        _, candidates = index.search(sample, wanted)
        _, found = rerank(store, sample, candidates, CALIBRATION_K)
        recall = float(
            np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
        )
        if recall >= target:
            break
    return ProbeChoice(int(index.nprobe), recall, len(sample), target)


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

    def erase(self, ids: np.ndarray) -> int:
        """Overwrite the rows of ``ids`` with zeros in the file itself: an erased face's
        embedding must not stay in the store until the next rebuild writes a fresh one
        (docs/governance.md, "Erased means no copy left"). Returns the rows erased."""
        if self.rows == 0 or len(ids) == 0:
            return 0
        ids = np.asarray(ids, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self._ids, ids), self.rows - 1)
        rows = np.unique(rows[np.asarray(self._ids[rows]) == ids])
        if len(rows) == 0:
            return 0
        width = 4 * self.dimension
        zeros = bytes(width)
        with open(self.vectors_path, "r+b") as handle:
            for row in rows:
                handle.seek(int(row) * width)
                handle.write(zeros)
            handle.flush()
            os.fsync(handle.fileno())
        self._remap()
        return len(rows)

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

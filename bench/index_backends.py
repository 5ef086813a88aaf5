"""Vector index backends side by side: FAISS (file) against Milvus Lite, same vectors, same run.

Synthetic 128-d vectors in tight clusters (faces of the same people), tagged with 10 sources and
2 jurisdictions. Measured per backend: adding them in ingest-sized batches (faces/s), saving,
one-at-a-time search latency (p50/p99) and recall@10 against exact search, and erasing one
source (a tenth of the faces) with remove_where. Ratios are against FAISS exact in this run.

    python bench/index_backends.py [--size 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine, percentiles  # noqa: E402

from facesift.index import FaissDiskIndex, TaggedIndex  # noqa: E402
from facesift.index.milvus import MilvusIndex  # noqa: E402
from facesift.types import EmbeddingSpace, FaceTags  # noqa: E402

SPACE = EmbeddingSpace("bench", "v1", 128, "euclidean")
K = 10
BATCH = 2_000  # faces per add, as an ingest batch commits them
SOURCES = 10


def synthetic(size: int, rng: np.random.Generator) -> tuple[np.ndarray, FaceTags]:
    people = max(1, size // 10)
    centres = rng.normal(scale=0.1, size=(people, SPACE.dimension))
    person = rng.integers(0, people, size)
    vectors = centres[person] + rng.normal(scale=0.02, size=(size, SPACE.dimension))
    tags = FaceTags(
        (np.arange(size) % SOURCES + 1).astype(np.int64), np.where(person % 2 == 0, "GB", "FR")
    )
    return vectors.astype(np.float32), tags


def measure(name: str, index, ids, vectors, tags, queries, truth) -> dict:
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        stop = start + BATCH
        index.add(
            ids[start:stop],
            vectors[start:stop],
            FaceTags(tags.source_ids[start:stop], tags.jurisdictions[start:stop]),
        )
    added = time.perf_counter() - started
    started = time.perf_counter()
    index.save(catalog_version=1)
    saved = time.perf_counter() - started
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, hit = index.search(query[None, :], K)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(hit[0])
    recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
    started = time.perf_counter()
    removed = index.remove_where(source_ids=[1])
    erased = time.perf_counter() - started
    p50, p99 = percentiles(latencies)
    print(f"done {name}", file=sys.stderr, flush=True)
    return {
        "name": name,
        "kind": index.kind,
        "add_per_s": len(ids) / added,
        "save_s": saved,
        "p50": p50,
        "p99": p99,
        "recall": recall,
        "erase_s": erased,
        "removed": removed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "index_backends.md"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors, tags = synthetic(args.size, rng)
    ids = np.arange(1, args.size + 1, dtype=np.int64)
    queries = vectors[rng.choice(args.size, args.queries, replace=False)] + rng.normal(
        scale=0.01, size=(args.queries, SPACE.dimension)
    ).astype(np.float32)
    # Squared distances as |q|^2 - 2 q.v + |v|^2: (queries x size), never (queries x size x d).
    distances = (
        (queries**2).sum(1)[:, None] - 2 * queries @ vectors.T + (vectors**2).sum(1)[None, :]
    )
    truth = ids[np.argsort(distances, axis=1)[:, :K]]
    del distances

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        faiss_folder = Path(folder) / "faiss"
        faiss_index = TaggedIndex(
            FaissDiskIndex(faiss_folder, SPACE, exact_max=args.size + 1), faiss_folder
        )
        rows.append(measure("FAISS exact", faiss_index, ids, vectors, tags, queries, truth))
        lite = MilvusIndex(str(Path(folder) / "milvus.db"), SPACE, collection="bench")
        try:
            rows.append(measure("Milvus Lite", lite, ids, vectors, tags, queries, truth))
        finally:
            lite.close()

    base = rows[0]
    lines = [
        f"Machine: {machine()}; commit {git_revision()}; {args.size:,} synthetic 128-d faces "
        f"added {BATCH:,} at a time, {args.queries} queries one at a time, k={K}; erase = "
        f"remove_where of one source of {SOURCES} ({base['removed']:,} faces).",
        "",
        "| backend | index | add faces/s | save s | search p50 ms | p99 ms | recall@10 "
        "| erase a source s | search p50 / FAISS's | add time / FAISS's |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['kind']} | {row['add_per_s']:,.0f} | {row['save_s']:.2f} "
            f"| {row['p50']:.2f} | {row['p99']:.2f} | {row['recall']:.3f} | {row['erase_s']:.2f} "
            f"| {row['p50'] / base['p50']:.0f}x | {base['add_per_s'] / row['add_per_s']:.0f}x |"
        )
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Erasing one source: pgvector (PostgreSQL) against the FAISS file index, same vectors, same run.

Synthetic 256-d vectors (faces of the same people in tight clusters, as bench/index_backends.py),
spread evenly over 20 sources, loaded into each backend with ``rebuild`` (pgvector: COPY, then
the HNSW graph built once). Then one source (a twentieth of the faces) is erased with
``remove_where``, as ``facesift erase --source`` does:

- FAISS: ``remove_where`` and the ``save`` that rewrites the index file (only the saved file
  counts: the index does not write through);
- pgvector: the ``DELETE ... WHERE source_id = ...`` (committed when it returns), and, timed
  apart, the ``VACUUM`` that reclaims the dead rows and repairs the HNSW graph (until it runs,
  the erased vectors stay in the table's and the index's pages; autovacuum would do it later).

Also measured per backend: load time, one-at-a-time search p50 and recall@10 against exact
search (pgvector: hnsw.ef_search at facesift's default), size before and after. PostgreSQL is
the pgserver build that the tests use (scripts/postgres.sh start --pgvector), with durable
settings (fsync on) and maintenance_work_mem large enough for the HNSW graph to be built in
memory. Not run in CI.

    python bench/pgvector_erasure.py [--sizes 100000 1000000] [--queries 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import faiss
import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine, percentiles  # noqa: E402

from facesift.index import FaissDiskIndex, TaggedIndex  # noqa: E402
from facesift.index.pgvector import PgVectorIndex  # noqa: E402
from facesift.types import EmbeddingSpace, FaceTags  # noqa: E402

SPACE = EmbeddingSpace("bench", "v1", 256, "euclidean")
SOURCES = 20
K = 10
SAMPLE = 50  # erased faces looked for, byte for byte, in the files afterwards
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
# The HNSW graph of 1M 256-d vectors is ~1.3 GB; a smaller maintenance_work_mem makes pgvector
# build on disk, several times slower (it says so in a NOTICE).
SERVER_OPTIONS = "-c maintenance_work_mem=4GB -c max_parallel_maintenance_workers=1"


def synthetic(size: int, rng: np.random.Generator) -> tuple[np.ndarray, FaceTags]:
    people = max(1, size // 10)
    centres = rng.normal(scale=0.1, size=(people, SPACE.dimension)).astype(np.float32)
    person = rng.integers(0, people, size)
    vectors = centres[person] + rng.normal(scale=0.02, size=(size, SPACE.dimension)).astype(
        np.float32
    )
    tags = FaceTags(
        (np.arange(size) % SOURCES + 1).astype(np.int64), np.where(person % 2 == 0, "GB", "FR")
    )
    return vectors.astype(np.float32), tags


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def searched(index, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    latencies, recalls = [], []
    for query, expected in zip(queries, truth, strict=True):
        elapsed, (_, found) = timed(lambda q=query: index.search(q[None, :], K))
        latencies.append(elapsed * 1000)
        recalls.append(len(set(found[0].tolist()) & set(expected.tolist())) / K)
    return percentiles(latencies)[0], float(np.mean(recalls))


def copies_in(files: list[Path], erased: np.ndarray) -> int:
    """How many of the ``erased`` vectors' bytes are still in any of ``files``."""
    held = b"".join(f.read_bytes() for f in files if f.is_file())
    return sum(vector.tobytes() in held for vector in erased)


def table_files(admin: psycopg.Connection, cluster: str, table: str) -> tuple[list[Path], ...]:
    """The files of the table, its indexes and TOAST; and the WAL's; after a checkpoint."""
    admin.execute("CHECKPOINT")
    relations = admin.execute(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = %s::regclass "
        "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass) "
        "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass)",
        [table, table, table],
    ).fetchall()
    data = Path(cluster) / "data"
    files = [f for (path,) in relations for f in data.glob(f"{path}*")]
    return files, sorted((data / "pg_wal").glob("0*"))


def copies_in_cluster(admin: psycopg.Connection, cluster: str, table: str, erased) -> str:
    relations, wal = table_files(admin, cluster, table)
    return f"{copies_in(relations, erased)} in table+indexes, {copies_in(wal, erased)} in WAL"


def measure_faiss(folder: Path, ids, vectors, tags, queries, truth, erased) -> dict:
    index = TaggedIndex(FaissDiskIndex(folder, SPACE), folder)
    load_s, _ = timed(lambda: (index.rebuild(ids, vectors, tags), index.save(1)))
    p50, recall = searched(index, queries, truth)
    size_before = index.size_bytes()
    remove_s, removed = timed(lambda: index.remove_where(source_ids=[1]))
    save_s, _ = timed(lambda: index.save(2))
    left = f"{copies_in(sorted(folder.rglob('*')), erased)} in the index folder"
    row = {
        "name": "FAISS file",
        "kind": index.kind,
        "load_s": load_s,
        "p50": p50,
        "recall": recall,
        "removed": removed,
        "erase_s": remove_s + save_s,
        "erase_detail": f"remove_where {remove_s:.3f} + save {save_s:.3f}",
        "vacuum_s": None,
        "copies": f"{left}",
        "size_before": size_before,
        "size_after": index.size_bytes(),
    }
    index.close()
    return row


def measure_pgvector(
    url: str, cluster: str, ids, vectors, tags, queries, truth, erased, vacuum_limit_s: int
) -> dict:
    table = f"bench_{len(ids)}"
    index = PgVectorIndex(url, SPACE, table=table)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as admin:
        admin.autocommit = True
        load_s, _ = timed(lambda: (index.rebuild(ids, vectors, tags), index.save(1)))
        # What autovacuum would do after a bulk load, done now so it does not run in the timings.
        name = sql.Identifier(table)
        analyse_s, _ = timed(lambda: admin.execute(sql.SQL("VACUUM (ANALYZE) {}").format(name)))
        p50, recall = searched(index, queries, truth)
        size_before = index.size_bytes()
        erase_s, removed = timed(lambda: index.remove_where(source_ids=[1]))
        after_delete = copies_in_cluster(admin, cluster, table, erased)
        admin.execute("SELECT set_config('statement_timeout', %s, false)", [f"{vacuum_limit_s}s"])
        try:
            vacuum_s, _ = timed(lambda: admin.execute(sql.SQL("VACUUM {}").format(name)))
            after_vacuum = copies_in_cluster(admin, cluster, table, erased)
            vacuum = f"{vacuum_s:.1f}"
        except psycopg.errors.QueryCanceled:
            vacuum_s, after_vacuum, vacuum = None, "not measured", f"> {vacuum_limit_s} (stopped)"
    row = {
        "name": "pgvector",
        "kind": index.kind.split(" (", 1)[0] + f" (m 16, ef_construction 64, ef_search "
        f"{index.ef_search})",
        "load_s": load_s,
        "analyse_s": analyse_s,
        "p50": p50,
        "recall": recall,
        "removed": removed,
        "erase_s": erase_s,
        "erase_detail": "DELETE, committed",
        "vacuum_s": vacuum_s,
        "vacuum": vacuum,
        "copies": f"after DELETE: {after_delete}; after VACUUM: {after_vacuum}",
        "size_before": size_before,
        "size_after": index.size_bytes(),
    }
    index.close()
    return row


def start_server() -> tuple[str, str]:
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", "--pgvector"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, FACESIFT_PG_DURABLE="1", FACESIFT_PG_PYTHON=sys.executable),
    )
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    url = f"{values['FACESIFT_CATALOG_URL']}&options={quote(SERVER_OPTIONS)}"
    return url, values["FACESIFT_PG_DIR"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--vacuum-limit", type=int, default=900, help="seconds before VACUUM is stopped"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "pgvector_erasure.md"
    )
    args = parser.parse_args()
    url, cluster = start_server()
    rows = []
    try:
        for size in args.sizes:
            rng = np.random.default_rng(size)
            vectors, tags = synthetic(size, rng)
            ids = np.arange(1, size + 1, dtype=np.int64)
            picked = rng.choice(size, args.queries, replace=False)
            queries = vectors[picked] + rng.normal(
                scale=0.01, size=(args.queries, SPACE.dimension)
            ).astype(np.float32)
            exact = faiss.IndexFlatL2(SPACE.dimension)
            exact.add(vectors)
            truth = ids[exact.search(queries, K)[1]]
            del exact
            # A sample of the faces erased (source 1): are their bytes left in any file?
            erased = vectors[tags.source_ids == 1][:SAMPLE]
            with tempfile.TemporaryDirectory() as folder:
                faiss_row = measure_faiss(Path(folder), ids, vectors, tags, queries, truth, erased)
            print(f"done FAISS at {size:,}", file=sys.stderr, flush=True)
            pg_row = measure_pgvector(
                url, cluster, ids, vectors, tags, queries, truth, erased, args.vacuum_limit
            )
            print(f"done pgvector at {size:,}", file=sys.stderr, flush=True)
            rows.append((size, faiss_row, pg_row))
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", cluster], check=True)

    lines = [
        f"Machine: {machine()}; commit {git_revision()}; synthetic 256-d faces in {SOURCES} "
        f"sources; erase = remove_where of one source (1/{SOURCES} of the faces); "
        f"{args.queries} queries one at a time, k={K}; PostgreSQL 16.2 + pgvector 0.6.2 "
        "(pgserver), fsync on.",
        "",
        "| faces | backend | index | load s | search p50 ms | recall@10 | erased faces "
        f"| erase s | erase detail | VACUUM after s | of {SAMPLE} erased vectors, copies in "
        "files | size before MB | size after MB | erase / FAISS's |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|",
    ]
    for size, faiss_row, pg_row in rows:
        for row in (faiss_row, pg_row):
            vacuum = row.get("vacuum", "")
            lines.append(
                f"| {size:,} | {row['name']} | {row['kind']} | {row['load_s']:.2f} "
                f"| {row['p50']:.2f} | {row['recall']:.3f} | {row['removed']:,} "
                f"| {row['erase_s']:.3f} | {row['erase_detail']} | {vacuum} | {row['copies']} "
                f"| {row['size_before'] / 1e6:.0f} | {row['size_after'] / 1e6:.0f} "
                f"| {row['erase_s'] / faiss_row['erase_s']:.3f}x |"
            )
        if pg_row["vacuum_s"] is not None:
            total = pg_row["erase_s"] + pg_row["vacuum_s"]
            lines.append(
                f"| {size:,} | pgvector, DELETE + VACUUM | | | | | | {total:.1f} | | | | | "
                f"| {total / faiss_row['erase_s']:.0f}x |"
            )
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

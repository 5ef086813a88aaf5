"""A graph index (FAISS HNSW over the whole gallery): does single-query cost grow sub-linearly?

Same gallery and queries as ``bench/large_gallery.py`` (its generator is imported, not copied):
every real LFW face embedding of the default model plus identity-structured synthetic people
fitted to them, and real LFW queries whose other photos stay in the gallery as true mates.

The queries are split in two: a calibration part, on which a ladder of efSearch values is measured
(batch search, all threads) and the smallest reaching recall@10 >= ``--target`` against exact
search is chosen; and a report part, on which every rung is then timed one query at a time on one
thread (``faiss.omp_set_num_threads(1)``), so the chosen value is judged on queries it was not
picked on. Builds use all threads.

Variants per size: for each ``--m`` (graph degree), ``IndexHNSWSQ`` (8-bit scalar quantizer,
256 B/face at 256-d) searched directly and with an exact re-rank of its top ``10 x k`` from the
float32 vectors (memory-mapped, as the compressed index's rerank store); optionally
``IndexHNSWFlat`` (``--flat``, exact float32 distances, 1,024 B/face). With ``--compressed`` the
product's current compressed index (IVF-PQ fast-scan + re-rank, ``index/faiss_compressed.py``)
is built on the same gallery and its probe count chosen by the same rule on the same queries.
Exact NumPy brute force (one matrix-vector product over the gallery) is timed in the same run.

    nice python bench/graph_index.py --lfw ../shared/datasets/lfw --sizes 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine, percentiles, recall_at_k, time_queries  # noqa: E402
from large_gallery import (  # noqa: E402
    CHUNK,
    IdentityModel,
    K,
    exact_top_k,
    fit_check,
    lfw_faces,
    log,
    mates_found,
    numpy_brute_force,
    peak_rss_gib,
    split_queries,
    write_gallery,
)

from facesift.config import Settings  # noqa: E402
from facesift.embed.base import embedding_space_of  # noqa: E402
from facesift.eval import lfw  # noqa: E402
from facesift.index import faiss_compressed as fc  # noqa: E402
from facesift.index.faiss_disk import INDEX_FILE, FaissDiskIndex  # noqa: E402

EF_LADDER = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]
EF_LADDER += [3072, 4096, 6144, 8192]
RERANK_FACTOR = 10
RUNGS_ABOVE_CHOSEN = 2  # report-set timings go this many rungs past the chosen one


def all_threads() -> int:
    return len(os.sched_getaffinity(0))


def hnsw_search(index: faiss.IndexHNSW, ef: int, queries: np.ndarray, wanted: int) -> np.ndarray:
    index.hnsw.efSearch = ef
    return index.search(queries, wanted)[1]


def reranked(gallery: np.ndarray, queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Exact top K among each query's candidates, vectors read from the memory-mapped gallery."""
    out = np.empty((len(queries), K), np.int64)
    for row, (query, ids) in enumerate(zip(queries, candidates, strict=True)):
        ids = np.sort(ids[ids >= 0])  # ascending rows: sequential-ish reads of the mmap
        squared = ((np.asarray(gallery[ids]) - query) ** 2).sum(1)
        out[row] = ids[np.argsort(squared)[:K]]
    return out


def choose(ladder: list[int], recalls: list[float], target: float) -> int:
    """Index of the smallest rung reaching ``target`` (the last rung if none does)."""
    for position, recall in enumerate(recalls):
        if recall >= target:
            return position
    return len(ladder) - 1


def measure(
    size: int,
    real: np.ndarray,
    model: IdentityModel,
    queries: np.ndarray,
    mates: list[np.ndarray],
    workdir: Path,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> list[dict]:
    calibration = np.arange(args.calibration)
    report = np.arange(args.calibration, len(queries))
    calib_q, report_q = queries[calibration], queries[report]
    report_mates = [mates[i] for i in report]

    log(f"{size:,}: writing the gallery")
    gallery = write_gallery(workdir / "gallery.npy", real, model, size, rng)
    log(f"{size:,}: exact top-{K} of {len(queries)} queries (chunked)")
    truth = exact_top_k(gallery, queries)
    calib_truth, report_truth = truth[calibration], truth[report]
    rows: list[dict] = []

    def row(method: str, lat: list[float], found: np.ndarray, **extra) -> dict:
        p50, p99 = percentiles(lat)
        entry = dict(
            size=size,
            method=method,
            p50=p50,
            p99=p99,
            recall=recall_at_k(found, report_truth[: len(found)]),
            mates=mates_found(found, report_mates[: len(found)]),
            load=os.getloadavg()[0],
        )
        entry.update(extra)
        log(f"{size:,}: {method}: p50 {p50:.3f} ms, recall {entry['recall']:.3f}")
        return entry

    # Exact NumPy brute force, as in large_gallery.py (BLAS threads as NumPy has them).
    brute = numpy_brute_force(gallery, size)

    log(f"{size:,}: NumPy brute force, {args.baseline_queries} queries")
    brute(report_q[:1])  # page the gallery in once
    lat, found = time_queries(brute, report_q[: args.baseline_queries])
    baseline = row("NumPy exact brute force (baseline)", lat, found, build="", index_bytes=1024.0)
    baseline["mates"] = mates_found(report_truth, report_mates)  # the ceiling for any index
    rows.append(baseline)

    variants = [("SQ8", m) for m in args.m] + ([("Flat", m) for m in args.m] if args.flat else [])
    for kind, m in variants:
        log(f"{size:,}: building HNSW{kind} M={m} efConstruction={args.ef_construction}")
        faiss.omp_set_num_threads(all_threads())
        if kind == "SQ8":
            index = faiss.IndexHNSWSQ(real.shape[1], faiss.ScalarQuantizer.QT_8bit, m)
        else:
            index = faiss.IndexHNSWFlat(real.shape[1], m)
        index.hnsw.efConstruction = args.ef_construction
        started = time.perf_counter()
        if kind == "SQ8":
            sample = rng.choice(size, min(size, 200_000), replace=False)
            index.train(np.asarray(gallery[np.sort(sample)]))
        for start in range(0, size, CHUNK):
            index.add(np.ascontiguousarray(gallery[start : start + CHUNK]))
            log(f"{size:,}: added {index.ntotal:,} in {time.perf_counter() - started:.0f} s")
        build = time.perf_counter() - started
        path = workdir / "hnsw.faiss"
        faiss.write_index(index, str(path))
        index_bytes = path.stat().st_size / size
        code_bytes = index.storage.sa_code_size() if kind == "SQ8" else 4 * real.shape[1]
        path.unlink()
        log(
            f"{size:,}: HNSW{kind} M={m} built in {build:.0f} s, {index_bytes:.0f} B/face; "
            f"peak RSS {peak_rss_gib():.1f} GiB"
        )
        searches = [("", 1)]
        if kind == "SQ8":
            searches.append((f" + re-rank of top {RERANK_FACTOR * K}", RERANK_FACTOR))
        for suffix, factor in searches:
            wanted = factor * K
            # Below `wanted` FAISS searches max(efSearch, k) wide: those rungs are all one.
            ladder = [wanted] + [ef for ef in EF_LADDER if ef > wanted]

            def search(q, ef, index=index, wanted=wanted, factor=factor, gallery=gallery):
                found = hnsw_search(index, ef, q, wanted)
                return reranked(gallery, q, found) if factor > 1 else found

            faiss.omp_set_num_threads(all_threads())
            calib = [recall_at_k(search(calib_q, ef), calib_truth) for ef in ladder]
            chosen = choose(ladder, calib, args.target)
            log(
                f"{size:,}: HNSW{kind} M={m}{suffix}: calibration recall "
                + ", ".join(f"ef{ef} {r:.3f}" for ef, r in zip(ladder, calib, strict=True))
            )
            faiss.omp_set_num_threads(1)
            for position, ef in enumerate(ladder[: chosen + RUNGS_ABOVE_CHOSEN + 1]):
                method = f"HNSW-{kind} M={m} efC={args.ef_construction} efSearch={ef}{suffix}"
                if position == chosen:
                    method += f" (chosen: calibration recall {calib[position]:.3f})"
                search(report_q[:5], ef)  # warm
                lat, found = time_queries(lambda q, ef=ef, search=search: search(q, ef), report_q)
                # Distance computations per query: the cost measure that load does not move.
                faiss.cvar.hnsw_stats.reset()
                hnsw_search(index, ef, report_q, wanted)
                ndis = faiss.cvar.hnsw_stats.ndis / len(report_q)
                rows.append(
                    row(
                        method,
                        lat,
                        found,
                        build=f"{build:.0f} s",
                        index_bytes=index_bytes,
                        code_bytes=code_bytes,
                        graph_bytes=index_bytes - code_bytes,
                        store_bytes=1024.0 if factor > 1 else 0.0,
                        ef=ef,
                        chosen=position == chosen,
                        calibration_recall=calib[position],
                        kind=kind,
                        m=m,
                        rerank=factor > 1,
                        ndis=ndis,
                    )
                )
        del index

    if args.compressed:
        rows += compressed(size, gallery, calib_q, calib_truth, report_q, row, workdir, args)
    for entry in rows:
        entry["speedup"] = baseline["p50"] / entry["p50"]
    del gallery
    return rows


def compressed(size, gallery, calib_q, calib_truth, report_q, row, workdir, args) -> list[dict]:
    """The product's compressed index on the same gallery, probes chosen by the same rule."""
    log(f"{size:,}: building the current compressed index")
    faiss.omp_set_num_threads(all_threads())
    index_dir = workdir / "index"
    index = FaissDiskIndex(index_dir, args.space, exact_max=0, compressed_min=0)
    started = time.perf_counter()
    index.rebuild_from(
        (np.arange(s, min(size, s + CHUNK)), gallery[s : s + CHUNK]) for s in range(0, size, CHUNK)
    )
    build = time.perf_counter() - started
    index.save(catalog_version=1)
    index_bytes = (index_dir / INDEX_FILE).stat().st_size / size
    ivf = index._index
    ladder = [n for n in fc.probe_ladder(ivf.nlist) if n >= 32]
    calib = []
    for nprobe in ladder:
        fc.set_probes(ivf, nprobe)
        calib.append(recall_at_k(index.search(calib_q, K)[1], calib_truth))
    chosen = choose(ladder, calib, args.target)
    log(
        f"{size:,}: compressed, built in {build:.0f} s: calibration recall "
        + ", ".join(f"nprobe{n} {r:.3f}" for n, r in zip(ladder, calib, strict=True))
    )
    rows = []
    for position in range(max(0, chosen - 1), min(len(ladder), chosen + 2)):
        nprobe = ladder[position]
        fc.set_probes(ivf, nprobe)
        method = (
            f"current compressed: IVF-PQ fast-scan nlist={ivf.nlist} (HNSW quantizer) "
            f"nprobe={nprobe} + re-rank"
        )
        if position == chosen:
            method += f" (chosen: calibration recall {calib[position]:.3f})"
        index.search(report_q[:5], K)
        # The index itself searches a single query on one thread.
        lat, found = time_queries(lambda q, index=index: index.search(q, K)[1], report_q)
        faiss.cvar.indexIVF_stats.reset()
        index.search(report_q, K)
        ndis = faiss.cvar.indexIVF_stats.ndis / len(report_q)  # PQ codes scanned, not distances
        rows.append(
            row(
                method,
                lat,
                found,
                build=f"{build:.0f} s",
                index_bytes=index_bytes,
                store_bytes=1032.0,
                ef=nprobe,
                chosen=position == chosen,
                calibration_recall=calib[position],
                kind="IVF-PQ",
                ndis=ndis,
            )
        )
    del index
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="LFW embeddings cache (.npz)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[300_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--calibration", type=int, default=100, help="queries used to choose ef")
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--m", type=int, nargs="+", default=[32])
    parser.add_argument("--ef-construction", type=int, default=40)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--flat", action="store_true", help="also IndexHNSWFlat")
    parser.add_argument("--compressed", action="store_true", help="also the current index")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/graph_index.md"))
    args = parser.parse_args()
    settings = Settings()
    args.space = embedding_space_of(settings.embedder, settings)
    rng = np.random.default_rng(42)
    vectors, persons = lfw_faces(args.lfw, args.cache or lfw.default_cache(settings))
    queries, real, real_persons, mates = split_queries(vectors, persons, args.queries, rng)
    # Calibration and report parts: a random split (the held-out rows come sorted by person).
    order = np.random.default_rng(7).permutation(len(queries))
    queries, mates = queries[order], [mates[i] for i in order]
    log(f"{len(real):,} real faces, {len(queries)} queries, {sum(map(len, mates))} mates")
    model = IdentityModel(real, real_persons)
    args.fit = fit_check(real, real_persons, model, rng)
    log(args.fit)

    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
            rows += measure(size, real, model, queries, mates, Path(folder), args, rng)
        write_results(args, rows, len(real), len(queries), sum(map(len, mates[args.calibration :])))
    print(args.out.read_text())


def write_results(args, rows: list[dict], real: int, queries: int, mates: int) -> None:
    report = queries - args.calibration
    lines = [
        f"Machine: {machine()}; faiss {faiss.__version__}, numpy {np.__version__}; "
        f"commit {git_revision()}; space {args.space.key}; {queries} real LFW queries: "
        f"{args.calibration} to choose efSearch / nprobe (smallest reaching recall@10 >= "
        f"{args.target}), {report} reported, one at a time on one thread (NumPy baseline: first "
        f"{args.baseline_queries}), k={K}; {real:,} real LFW faces (holding {mates} true mates of "
        f"the reported queries) plus synthetic people fitted to LFW ({args.fit}). "
        f"Peak RSS of the run: {peak_rss_gib():.1f} GiB.",
        "",
        "| gallery faces | method | p50 ms | p99 ms | recall@10 vs exact | true mates in top 10 "
        "| build | memory B/face (index) | disk B/face (float32 store, mmap) "
        "| speed-up vs NumPy (p50) | distances (HNSW) / codes scanned (IVF) per query "
        "| load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in rows:
        lines.append(
            f"| {entry['size']:,} | {entry['method']} | {entry['p50']:.2f} | {entry['p99']:.2f} "
            f"| {entry['recall']:.3f} | {entry['mates']:.3f} | {entry['build']} "
            f"| {entry['index_bytes']:.1f} | {entry.get('store_bytes', 0):.0f} "
            f"| {entry['speedup']:.1f}x | {entry.get('ndis', 0):,.0f} | {entry['load']:.1f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

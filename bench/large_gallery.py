"""Large galleries on one machine: the compressed index (IVF-PQ + exact re-rank), 1M and 10M faces.

The gallery is every real LFW face embedding (the default model, `facesift eval`'s cache) plus
synthetic distractors with identity structure fitted to those embeddings: synthetic people whose
centres are drawn from a Gaussian fitted to the LFW person means (between-person covariance),
each with several synthetic photos (as many as an LFW person has, up to 20) scattered around the
centre by the pooled within-person covariance of LFW people with 2+ photos (PCA-shaped), then put
back on the unit sphere as the model's embeddings are. They are generated in chunks into a
memory-mapped file so 10M faces never sit in anonymous memory twice. Queries are real LFW faces of
people with several photos: one photo is held out as the query and the person's other photos stay
in the gallery as its true mates.

The current method (4*sqrt(n) lists behind an HNSW quantizer, probe count measured at build) is
run at every size; the previous one (sqrt(n) lists, flat quantizer, nlist/6 probes) on the same
gallery up to ``--previous-max`` faces.

Per size: memory per face (in-memory index + on-disk rerank store), build time, single-query
p50/p99, recall@10 against exact search, whether the true mates come back, and the speed-up over
exact NumPy brute force (one matrix-vector product over the gallery) measured in the same run.

    nice python bench/large_gallery.py --lfw ../shared/datasets/lfw [--sizes 1000000 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine, percentiles, recall_at_k, time_queries  # noqa: E402

from facesift.config import Settings  # noqa: E402
from facesift.embed.base import embedding_space_of  # noqa: E402
from facesift.eval import lfw  # noqa: E402
from facesift.index import faiss_compressed as fc  # noqa: E402
from facesift.index.faiss_disk import INDEX_FILE, FaissDiskIndex, _Generation  # noqa: E402

K = 10
CHUNK = 500_000
MAX_PHOTOS_PER_PERSON = 20


def numpy_brute_force(gallery: np.ndarray, size: int):
    """The exact baseline: one matrix-vector product over the gallery per query (the top K by
    squared euclidean distance, norms computed once in chunks)."""
    norms = np.empty(size, np.float32)
    for start in range(0, size, CHUNK):
        chunk = np.asarray(gallery[start : start + CHUNK])
        norms[start : start + len(chunk)] = (chunk**2).sum(1)

    def brute(query, gallery=gallery):
        distances = norms - 2.0 * (gallery @ query[0])
        top = np.argpartition(distances, K)[:K]
        return top[np.argsort(distances[top])][None, :]

    return brute


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def lfw_faces(root: Path, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, person of each) for every LFW face our pipeline finds (cached)."""
    settings = Settings()
    people = lfw.lfw_images(root)
    photos = [p for group in people.values() for p in group]
    embeddings = lfw.embed_photos(root, photos, settings, cache=cache)
    kept = [p for p in photos if embeddings.get(p) is not None]
    vectors = np.vstack([embeddings[p] for p in kept]).astype(np.float32)
    persons = np.asarray([p.split("/")[0] for p in kept])
    return vectors, persons


class IdentityModel:
    """Synthetic people fitted to LFW: a Gaussian over person centres, PCA-shaped photo noise."""

    def __init__(self, real: np.ndarray, persons: np.ndarray):
        names, person_of, counts = np.unique(persons, return_inverse=True, return_counts=True)
        dimension = real.shape[1]
        means = np.zeros((len(names), dimension))
        np.add.at(means, person_of, real.astype(np.float64))
        means /= counts[:, None]
        several = counts[person_of] >= 2
        residuals = (real - means[person_of])[several]
        # Unbiased pooled within-person covariance (each person's mean costs one degree).
        within = residuals.T @ residuals / (len(residuals) - int((counts >= 2).sum()))
        multi = counts >= 2
        centre_mean = means[multi].mean(0)
        between = np.cov(means[multi], rowvar=False)
        # A person's mean of n photos carries within/n of photo noise: take it out of the centres.
        between -= within * float(np.mean(1.0 / counts[multi]))
        values, vectors = np.linalg.eigh(between)
        self.centre_mean = centre_mean.astype(np.float32)
        self.between = (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)
        values, vectors = np.linalg.eigh(within)
        self.within = (vectors * np.sqrt(np.clip(values, 0, None))).astype(np.float32)
        self.photo_counts = np.minimum(counts, MAX_PHOTOS_PER_PERSON)
        self.within_share = float(np.trace(within) / real.var(0).sum())

    def photos(self, count: int, rng: np.random.Generator) -> np.ndarray:
        dimension = len(self.centre_mean)
        people = rng.choice(self.photo_counts, count)  # photos per person, as in LFW
        people = people[: int(np.searchsorted(np.cumsum(people), count)) + 1]
        centres = (
            self.centre_mean
            + rng.standard_normal((len(people), dimension), dtype=np.float32) @ self.between.T
        )
        faces = np.repeat(centres, people, axis=0)[:count]
        faces += rng.standard_normal(faces.shape, dtype=np.float32) @ self.within.T
        faces /= np.linalg.norm(faces, axis=1, keepdims=True)
        return faces


def write_gallery(
    path: Path, real: np.ndarray, model: IdentityModel, size: int, rng: np.random.Generator
) -> np.memmap:
    gallery = np.lib.format.open_memmap(path, "w+", np.float32, (size, real.shape[1]))
    gallery[: len(real)] = real
    for start in range(len(real), size, CHUNK):
        end = min(size, start + CHUNK)
        gallery[start:end] = model.photos(end - start, rng)
    gallery.flush()
    return gallery


def previous_method(store: fc.RerankStore, rng: np.random.Generator) -> faiss.IndexIVF:
    """The index as built before this change: sqrt(n) lists, flat quantizer, nlist/6 probes."""
    nlist = fc.legacy_lists_for(store.rows)
    index = faiss.IndexIVFPQFastScan(
        faiss.IndexFlatL2(store.dimension),
        store.dimension,
        nlist,
        fc.LEGACY_PQ_SUBQUANTIZERS,
        fc.PQ_BITS,
    )
    index.cp.min_points_per_centroid = 5
    index.train(store.sample(min(store.rows, max(fc.MIN_TRAINING, nlist * 32)), rng))
    for ids, vectors in store.chunks():
        index.add_with_ids(vectors, ids)
    index.nprobe = fc.legacy_probes_for(nlist)
    return index


def exact_top_k(gallery: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-K ids for every query, one pass over the gallery in chunks."""
    best_d = np.full((len(queries), K), np.inf, np.float32)
    best_i = np.full((len(queries), K), -1, np.int64)
    query_norms = (queries**2).sum(1)[:, None]
    for start in range(0, len(gallery), CHUNK):
        chunk = np.asarray(gallery[start : start + CHUNK])
        squared = query_norms + (chunk**2).sum(1)[None, :] - 2.0 * queries @ chunk.T
        top = np.argpartition(squared, K, axis=1)[:, :K]
        both_d = np.hstack([best_d, np.take_along_axis(squared, top, 1)])
        both_i = np.hstack([best_i, top + start])
        order = np.argsort(both_d, axis=1)[:, :K]
        best_d, best_i = np.take_along_axis(both_d, order, 1), np.take_along_axis(both_i, order, 1)
    return best_i


def mates_found(found: np.ndarray, mates: list[np.ndarray]) -> float:
    """Share of the queries' true mates (same person, in the gallery) returned in the top K."""
    wanted = sum(len(m) for m in mates)
    return sum(len(set(f) & set(m.tolist())) for f, m in zip(found, mates, strict=True)) / wanted


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


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
    baseline_queries = args.baseline_queries
    log(f"{size:,}: writing the gallery")
    gallery = write_gallery(workdir / "gallery.npy", real, model, size, rng)
    log(f"{size:,}: exact top-{K} of {len(queries)} queries (chunked)")
    truth = exact_top_k(gallery, queries)
    rows = []

    brute = numpy_brute_force(gallery, size)

    log(f"{size:,}: NumPy brute force, {baseline_queries} queries")
    brute(queries[:1])  # page the gallery in once, as a long-running server would have it
    base_lat, base_found = time_queries(brute, queries[:baseline_queries])
    base_p50, base_p99 = percentiles(base_lat)
    rows.append(
        dict(
            method="NumPy exact brute force (baseline)",
            p50=base_p50,
            p99=base_p99,
            # Exact by construction (its first queries' answers equal the chunked exact pass);
            # the mates figure is the exact top-10's over all queries: the ceiling for any index.
            recall=recall_at_k(base_found, truth[:baseline_queries]),
            mates=mates_found(truth, mates),
            build="",
            index_bytes=4 * real.shape[1],
            store_bytes=0,
            load=os.getloadavg()[0],
        )
    )

    def timed(method: str, search, build: str, index_bytes: float, store_bytes: float) -> dict:
        search(queries[:5])  # warm the page cache for the store's touched rows
        lat, found = time_queries(search, queries)
        p50, p99 = percentiles(lat)
        row = dict(
            method=method,
            p50=p50,
            p99=p99,
            recall=recall_at_k(found, truth),
            mates=mates_found(found, mates),
            build=build,
            index_bytes=index_bytes,
            store_bytes=store_bytes,
            load=os.getloadavg()[0],
        )
        log(f"{size:,}: {method}: p50 {p50:.2f} ms, recall {row['recall']:.3f}")
        return row

    log(f"{size:,}: building the compressed index")
    index_dir = workdir / "index"
    index = FaissDiskIndex(index_dir, args.space, exact_max=0, compressed_min=0)
    started = time.perf_counter()
    index.rebuild_from(
        (np.arange(s, min(size, s + CHUNK)), gallery[s : s + CHUNK]) for s in range(0, size, CHUNK)
    )
    build = time.perf_counter() - started
    index.save(catalog_version=1)
    index_bytes = (index_dir / INDEX_FILE).stat().st_size / size
    store = index._current.store
    store_bytes = sum(p.stat().st_size for p in store.files()) / size
    log(f"{size:,}: built in {build:.0f} s ({index.kind}); peak RSS {peak_rss_gib():.1f} GiB")
    ivf = index._index
    chosen = index._current.probes
    # Every ladder rung from 32 up: what real queries get at each, beside the chosen one.
    for nprobe in [n for n in fc.probe_ladder(ivf.nlist) if n >= 32]:
        fc.set_probes(ivf, nprobe)
        label = f"IVF-PQ fast-scan nlist={ivf.nlist} (HNSW quantizer) nprobe={nprobe} + re-rank"
        if nprobe == chosen.nprobe:
            label += f" (chosen: calibration recall {chosen.recall:.3f})"
        rows.append(
            timed(
                label,
                lambda q, index=index: index.search(q, K)[1],
                f"{build:.0f} s",
                index_bytes,
                store_bytes,
            )
        )
    fc.set_probes(ivf, chosen.nprobe)

    if size <= args.previous_max:
        log(f"{size:,}: building the previous method's index on the same store")
        started = time.perf_counter()
        old = previous_method(store, np.random.default_rng(0))
        old_build = time.perf_counter() - started
        old_path = workdir / "previous.faiss"
        faiss.write_index(old, str(old_path))
        generation = _Generation(old, store)
        rows.append(
            timed(
                f"previous: IVF-PQ fast-scan nlist={old.nlist} (flat quantizer) "
                f"nprobe={old.nprobe} + re-rank",
                lambda q, g=generation, index=index: index._search(g, np.ascontiguousarray(q), K)[
                    1
                ],
                f"{old_build:.0f} s (+ store)",
                old_path.stat().st_size / size,
                store_bytes,
            )
        )
    for row in rows:
        row["size"] = size
        row["speedup"] = base_p50 / row["p50"]
    del index, gallery
    return rows


def fit_check(
    real: np.ndarray, persons: np.ndarray, model: IdentityModel, rng: np.random.Generator
) -> str:
    """Median same-person and random-pair distances, LFW vs the synthetic people."""
    order = np.argsort(persons, kind="stable")
    same = persons[order][1:] == persons[order][:-1]
    real_same = np.linalg.norm(real[order][1:][same] - real[order][:-1][same], axis=1)
    pairs = rng.integers(0, len(real), (20_000, 2))
    real_random = np.linalg.norm(real[pairs[:, 0]] - real[pairs[:, 1]], axis=1)
    fake = model.photos(40_000, rng)
    # photos() lays each person's photos side by side; pair neighbours of the same centre.
    centres = (
        model.centre_mean
        + rng.standard_normal((20_000, len(model.centre_mean)), dtype=np.float32) @ model.between.T
    )
    two = [centres + rng.standard_normal(centres.shape, dtype=np.float32) @ model.within.T]
    two.append(centres + rng.standard_normal(centres.shape, dtype=np.float32) @ model.within.T)
    two = [t / np.linalg.norm(t, axis=1, keepdims=True) for t in two]
    fake_same = np.linalg.norm(two[0] - two[1], axis=1)
    fake_random = np.linalg.norm(fake[pairs[:, 0]] - fake[pairs[:, 1]], axis=1)
    return (
        f"within-person variance {model.within_share:.2f} of the total; median distance, "
        f"same person: LFW {np.median(real_same):.3f}, synthetic {np.median(fake_same):.3f}; "
        f"random pair: LFW {np.median(real_random):.3f}, synthetic {np.median(fake_random):.3f}"
    )


def split_queries(
    vectors: np.ndarray, persons: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """(queries, real gallery faces, their persons, each query's mates' rows in the gallery).

    Queries: one photo each of people with 2+ photos; their other photos stay as true mates.
    """
    names, first_row, counts = np.unique(persons, return_index=True, return_counts=True)
    candidates = first_row[counts >= 2]
    held_out = np.sort(rng.choice(candidates, min(count, len(candidates)), replace=False))
    queries = vectors[held_out]
    real = np.delete(vectors, held_out, axis=0)
    real_persons = np.delete(persons, held_out)
    mates = [np.flatnonzero(real_persons == persons[row]) for row in held_out]
    return queries, real, real_persons, mates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="LFW embeddings cache (.npz)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch (needs ~11 GB at 10M)")
    parser.add_argument("--previous-max", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/large_gallery.md"))
    args = parser.parse_args()
    settings = Settings()
    args.space = embedding_space_of(settings.embedder, settings)
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    rng = np.random.default_rng(42)
    vectors, persons = lfw_faces(args.lfw, args.cache or lfw.default_cache(settings))
    queries, real, real_persons, mates = split_queries(vectors, persons, args.queries, rng)
    log(f"{len(real):,} real faces, {len(queries)} queries, {sum(map(len, mates))} mates")
    model = IdentityModel(real, real_persons)
    args.fit = fit_check(real, real_persons, model, rng)
    log(args.fit)

    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
            rows += measure(size, real, model, queries, mates, Path(folder), args, rng)
        write_results(args, rows, len(real), len(queries), sum(map(len, mates)))
    print(args.out.read_text())


def write_results(args, rows: list[dict], real: int, queries: int, mates: int) -> None:
    lines = [
        f"Machine: {machine()}; faiss {faiss.__version__}, numpy {np.__version__}; "
        f"commit {git_revision()}; space {args.space.key}; {queries} real LFW queries one at a "
        f"time (NumPy baseline: first {args.baseline_queries}), k={K}; {real:,} real LFW faces "
        f"(holding {mates} true mates of the queries) plus synthetic people fitted to LFW "
        f"({args.fit}). Peak RSS of the run: {peak_rss_gib():.1f} GiB.",
        "",
        "| gallery faces | method | p50 ms | p99 ms | recall@10 vs exact | true mates in top 10 "
        "| build | memory B/face (index) | disk B/face (rerank store, mmap) "
        "| speed-up vs NumPy (p50) | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']:,} | {row['method']} | {row['p50']:.2f} | {row['p99']:.2f} "
            f"| {row['recall']:.3f} | {row['mates']:.3f} | {row['build']} "
            f"| {row['index_bytes']:.1f} | {row['store_bytes']:.0f} | {row['speedup']:.1f}x "
            f"| {row['load']:.1f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    (args.out.with_suffix(".json")).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

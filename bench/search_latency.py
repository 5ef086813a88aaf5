"""Search latency and recall at 10k, 100k and 1M gallery faces, against NumPy brute force.

The gallery is every real LFW face embedding (our pipeline) topped up with synthetic vectors drawn
from a Gaussian fitted to those real embeddings (mean and full covariance), so distances behave like
real faces rather than uniform noise. Queries are real LFW faces, one at a time, as the CLI and API
send them. Recall@10 is measured against exact search over the same gallery.

    python bench/search_latency.py --lfw ../shared/datasets/lfw [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    git_revision,
    machine,
    percentiles,
    recall_at_k,
    time_queries,
)

from facesift.config import Settings  # noqa: E402
from facesift.eval import lfw  # noqa: E402
from facesift.index.faiss_disk import FaissDiskIndex, ivf_lists_for  # noqa: E402
from facesift.search.calibration import shipped_calibration  # noqa: E402
from facesift.types import EmbeddingSpace  # noqa: E402

SPACE = EmbeddingSpace("dlib-resnet", "v1", 128, "euclidean")
K = 10
MATCH_THRESHOLD = shipped_calibration(SPACE).threshold_for(Settings().match_false_match_rate)


# The pipeline SPACE's vectors come from (the benchmark's figures are in dlib's space).
DLIB_PIPELINE = {"detector": "dlib-hog", "embedder": "dlib-resnet"}


def real_embeddings(
    root: Path, settings: Settings | None = None, photos: list[Path] | None = None
) -> np.ndarray:
    """The LFW faces (every photo, or ``photos``) through the pipeline of ``settings`` (default:
    the default pipeline); shares `facesift eval`'s cache, whose file is keyed per pipeline."""
    settings = settings or Settings()
    cache = lfw.default_cache(settings)
    if photos is None:
        names = [p for group in lfw.lfw_images(root).values() for p in group]
    else:
        names = [str(path.relative_to(root)) for path in photos]
    embeddings = lfw.embed_photos(root, names, settings, cache=cache)
    return np.vstack([v for v in embeddings.values() if v is not None]).astype(np.float32)


def gallery_of(real: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``real`` topped up to ``size`` with draws from a Gaussian fitted to it (mean and full
    covariance), so the distractors are fitted to the space ``real`` comes from. Where that
    space's vectors are unit length (reid-0095's are L2-normalised), the draws are put on the
    unit sphere too: off it, their distances to every real face would be too large to compete."""
    if size <= len(real):
        return real[rng.choice(len(real), size, replace=False)]
    mean, cov = real.mean(0), np.cov(real, rowvar=False)
    synthetic = rng.multivariate_normal(mean, cov, size - len(real), method="cholesky")
    norms = np.linalg.norm(real, axis=1)
    if np.allclose(norms, 1.0, atol=1e-3):
        synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
    return np.vstack([real, synthetic.astype(np.float32)])


def match_recall(found: np.ndarray, truth_matches: list[set]) -> float:
    """Of the exact top-10 within the default match threshold, the share the method returns."""
    wanted = sum(len(m) for m in truth_matches)
    got = sum(len(set(f) & m) for f, m in zip(found, truth_matches, strict=True))
    return got / wanted if wanted else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_latency.md"))
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    everything = real_embeddings(args.lfw, Settings(**DLIB_PIPELINE))
    # Queries are held out of the gallery, so a query's mates are its person's *other* photos.
    held_out = rng.choice(len(everything), args.queries, replace=False)
    queries = everything[held_out]
    real = np.delete(everything, held_out, axis=0)
    rows = []
    for size in args.sizes:
        gallery = gallery_of(real, size, rng)
        ids = np.arange(len(gallery), dtype=np.int64)
        norms = (gallery * gallery).sum(1)

        def brute(query, gallery=gallery, norms=norms):
            distances = norms - 2.0 * (gallery @ query[0])
            top = np.argpartition(distances, K)[:K]
            return top[np.argsort(distances[top])][None, :]

        base_lat, truth = time_queries(brute, queries)
        base_p50, base_p99 = percentiles(base_lat)
        truth_distances = np.linalg.norm(gallery[truth] - queries[:, None, :], axis=2)
        truth_matches = [
            set(row[dist <= MATCH_THRESHOLD].tolist())
            for row, dist in zip(truth, truth_distances, strict=True)
        ]
        matches = sum(len(m) for m in truth_matches)
        rows.append((size, "NumPy brute force (baseline)", base_p50, base_p99, 1.0, 1.0, "", 1.0))

        with tempfile.TemporaryDirectory() as folder:
            exact = FaissDiskIndex(Path(folder), SPACE, exact_max=size + 1)
            exact.add(ids, gallery)
            lat, found = time_queries(lambda q, index=exact: index.search(q, K)[1], queries)
            p50, p99 = percentiles(lat)
            rows.append(
                (
                    size,
                    "facesift exact (FAISS flat)",
                    p50,
                    p99,
                    recall_at_k(found, truth),
                    match_recall(found, truth_matches),
                    "",
                    base_p50 / p50,
                )
            )

            started = time.perf_counter()
            ivf = FaissDiskIndex(Path(folder) / "ivf", SPACE, exact_max=0)
            ivf.rebuild(ids, gallery)
            build = time.perf_counter() - started
            nlist = ivf_lists_for(size)
            default_nprobe = ivf._index.nprobe
            for nprobe in sorted(
                {max(1, nlist // 64), max(1, nlist // 32), default_nprobe, nlist // 8}
            ):
                ivf._index.nprobe = nprobe
                lat, found = time_queries(lambda q, index=ivf: index.search(q, K)[1], queries)
                p50, p99 = percentiles(lat)
                label = f"facesift IVF-Flat nlist={nlist} nprobe={nprobe}"
                if nprobe == default_nprobe:
                    label += " (default)"
                rows.append(
                    (
                        size,
                        label,
                        p50,
                        p99,
                        recall_at_k(found, truth),
                        match_recall(found, truth_matches),
                        f"{build:.1f} s",
                        base_p50 / p50,
                    )
                )
        print(
            f"done {size:,} ({matches} exact matches within threshold)", file=sys.stderr, flush=True
        )

    lines = [
        f"Machine: {machine()}; faiss {faiss.__version__}, numpy {np.__version__}; "
        f"commit {git_revision()}; {args.queries} real LFW queries, one at a time, k={K}; "
        f"{len(real):,} real LFW faces, topped up with Gaussian-fitted synthetic faces.",
        "",
        "| gallery faces | method | p50 ms | p99 ms | recall@10 vs exact "
        "| recall of matches (d <= threshold) | build | speed-up vs NumPy (p50) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, method, p50, p99, recall, matched, build, speedup in rows:
        lines.append(
            f"| {size:,} | {method} | {p50:.2f} | {p99:.2f} | {recall:.3f} | {matched:.3f} "
            f"| {build} | {speedup:.1f}x |"
        )
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""LFW verification on a subset of pairs.txt folds: current pipeline against a baseline cache.

Used when a detection parameter changes (e.g. the detection scale): embeds the photos of the first
``--folds`` folds of View 2 with the current code and settings, and compares with embeddings of the
same photos from an earlier ``facesift eval lfw`` cache (``--baseline-cache``). Reports, for both:
failures to enrol, leave-one-fold-out accuracy over those folds and TAR at FAR 1e-3; and how far
each photo's embedding moved.

    python bench/detection_accuracy_check.py --lfw ../shared/datasets/lfw --folds 2 \\
        --baseline-cache facesift-eval-cache/lfw-dca16e2a6e4c.npz
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from facesift.config import Settings
from facesift.eval import lfw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--baseline-cache", type=Path, required=True)
    args = parser.parse_args()
    pairs = [p for p in lfw.read_pairs(args.lfw / "pairs.txt") if p.fold < args.folds]
    photos = sorted({p.a for p in pairs} | {p.b for p in pairs})
    settings = Settings(workers=len(os.sched_getaffinity(0)))
    current = lfw.embed_photos(args.lfw, photos, settings, cache=lfw.default_cache(settings))
    stored = lfw._read_cache(args.baseline_cache)
    missing = [p for p in photos if p not in stored]
    if missing:
        raise SystemExit(f"{len(missing)} photos not in the baseline cache, e.g. {missing[0]}")
    baseline = {p: stored[p] for p in photos}
    print(f"{len(pairs)} pairs (folds 1-{args.folds} of View 2), {len(photos)} photos")
    print("| embeddings | failures to enrol | accuracy (leave-one-fold-out) | TAR at FAR 1e-3 |")
    print("|---|---:|---:|---:|")
    for label, embeddings in (("baseline cache", baseline), ("current pipeline", current)):
        result = lfw.evaluate_verification(pairs, lfw.pair_distances(pairs, embeddings))
        fte = sum(embeddings[p] is None for p in photos)
        print(
            f"| {label} | {fte} | {result.mean_accuracy:.4f} ± {result.std_accuracy:.4f} | "
            f"{result.tar_at_far:.4f} |"
        )
    both = [p for p in photos if baseline[p] is not None and current[p] is not None]
    moved = np.array([np.linalg.norm(baseline[p] - current[p]) for p in both])
    print(
        f"\nEmbedding moved (Euclidean, {len(both)} photos with a face in both): median "
        f"{np.median(moved):.4f}, 99th percentile {np.percentile(moved, 99):.4f}, max "
        f"{moved.max():.4f}; {int((moved > 0.1).sum())} moved more than 0.1 (match threshold 0.54)"
    )


if __name__ == "__main__":
    main()

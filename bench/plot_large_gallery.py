"""Plot p50 and recall@10 against gallery size from bench/results/large_gallery.json.

    python bench/plot_large_gallery.py  # writes docs/img/large-gallery.png

Series: the current method at its build-chosen probe count, the current method at the fewest
probes whose recall@10 on the real queries is >= 0.95, the previous method on the same gallery,
and the previous method's earlier run (128-d dlib faces among Gaussian distractors; its table is
kept in bench/results/large_gallery.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path("bench/results/large_gallery.json")
OUT = Path("docs/img/large-gallery.png")
# Previous method, previous run (bench/results/large_gallery.md, "previous method" table).
EARLIER = {1_000_000: (18.08, 0.968), 10_000_000: (15.50, 0.956)}


def series(rows: list[dict]) -> dict[str, list[tuple[int, float, float]]]:
    out: dict[str, list[tuple[int, float, float]]] = {
        "current, chosen nprobe": [],
        "current, fewest probes with recall >= 0.95": [],
        "previous (sqrt(n) lists, nlist/6), same gallery": [],
    }
    for size in sorted({row["size"] for row in rows}):
        at = [row for row in rows if row["size"] == size]
        current = [row for row in at if row["method"].startswith("IVF-PQ")]
        for row in current:
            if "(chosen" in row["method"]:
                out["current, chosen nprobe"].append((size, row["p50"], row["recall"]))
        good = [row for row in current if row["recall"] >= 0.95]
        if good:
            best = min(good, key=lambda row: row["p50"])
            key = "current, fewest probes with recall >= 0.95"
            out[key].append((size, best["p50"], best["recall"]))
        for row in at:
            if row["method"].startswith("previous"):
                key = "previous (sqrt(n) lists, nlist/6), same gallery"
                out[key].append((size, row["p50"], row["recall"]))
    out["previous, earlier run (128-d, Gaussian distractors)"] = [
        (size, p50, recall) for size, (p50, recall) in EARLIER.items()
    ]
    return out


def main() -> None:
    rows = json.loads(RESULTS.read_text())
    figure, (latency, recall) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, points in series(rows).items():
        if not points:
            continue
        sizes, p50s, recalls = zip(*points, strict=True)
        style = "--" if "earlier" in label else "-"
        latency.plot(sizes, p50s, style, marker="o", label=label)
        recall.plot(sizes, recalls, style, marker="o", label=label)
    latency.set(xscale="log", yscale="log", xlabel="gallery faces", ylabel="single-query p50, ms")
    recall.set(xscale="log", xlabel="gallery faces", ylabel="recall@10 vs exact (real queries)")
    recall.axhline(0.95, color="grey", linewidth=0.8)
    for axis in (latency, recall):
        axis.grid(True, which="both", alpha=0.3)
    recall.legend(fontsize=7, loc="center right")
    figure.suptitle("Compressed index (IVF-PQ + exact re-rank), 2-core machine", fontsize=10)
    figure.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=110)
    print(OUT)


if __name__ == "__main__":
    main()

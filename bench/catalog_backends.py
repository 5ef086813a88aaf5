"""The catalog on PostgreSQL against the default SQLite catalog (the baseline), same run, same data.

What is timed is the catalog's share of the engine's work, on synthetic analysed images (the
detector and embedder cost the same whatever the catalog, and dominate ingest): recording batches
as ingest does (duplicate and tombstone checks, then one transaction per batch), looking up the
provenance of a search's leads, reading every embedding back (index rebuild), and erasing a
tenth of the gallery. PostgreSQL runs as a throwaway local cluster from scripts/postgres.sh with
its durable defaults (fsync on), over a unix socket.

The machine is shared, so the backends run in alternation, ``--rounds`` times each on a fresh
catalog, and the best round of each is reported (other load only ever slows a round down).

    python bench/catalog_backends.py [--images 10000] [--rounds 3] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine, percentiles  # noqa: E402

from facesift.catalog import NewImage, SqlCatalog  # noqa: E402
from facesift.catalog.tables import metadata  # noqa: E402
from facesift.types import (  # noqa: E402
    AnalysedFace,
    AnalysedImage,
    BoundingBox,
    Detection,
    EmbeddingSpace,
    Landmarks,
    Quality,
)

SPACE = EmbeddingSpace("dlib-resnet", "v1", 128, "euclidean")
BATCH = 64  # images per transaction, as ingest records them
FACES_PER_IMAGE = 2
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"


def synthetic_batch(start: int, rng: np.random.Generator) -> list[AnalysedImage]:
    return [
        AnalysedImage(
            path=f"/gallery/{n:08d}.jpg",
            sha256=f"{n:064x}",
            size_bytes=150_000,
            width=1024,
            height=768,
            faces=tuple(
                AnalysedFace(
                    detection=Detection(
                        BoundingBox(100 * f, 100, 100 * f + 90, 190),
                        Landmarks(((1.0, 2.0),) * 5, "dlib-5"),
                        1.2,
                    ),
                    quality=Quality(face_size=90, sharpness=20.0),
                    embedding=rng.standard_normal(SPACE.dimension).astype(np.float32),
                )
                for f in range(FACES_PER_IMAGE)
            ),
        )
        for n in range(start, start + BATCH)
    ]


def measure(url: str, images: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    catalog = SqlCatalog(url)
    source = catalog.add_source(
        "bench", "legitimate-interest", "GB", 365, purpose="bench", controller="dpo@example.org"
    )
    started = time.perf_counter()
    for start in range(0, images, BATCH):
        batch = synthetic_batch(start, rng)
        hashes = [image.sha256 for image in batch]
        catalog.known_hashes(hashes)
        catalog.tombstoned(hashes)
        catalog.add_images([NewImage(source.id, image) for image in batch], SPACE)
    ingest_seconds = time.perf_counter() - started

    face_ids = catalog.face_ids()
    lookups = []
    for _ in range(300):
        leads = rng.choice(face_ids, 10, replace=False).tolist()
        t0 = time.perf_counter()
        stored = catalog.stored_faces(leads)
        catalog.provenance(f.image_id for f in stored.values())
        lookups.append((time.perf_counter() - t0) * 1000)
    lookup_p50, lookup_p99 = percentiles(lookups)

    started = time.perf_counter()
    total = sum(len(ids) for ids, _ in catalog.iter_embeddings())
    read_seconds = time.perf_counter() - started
    assert total == len(face_ids)

    image_ids = catalog.image_ids_of_source(source.id)
    started = time.perf_counter()
    catalog.delete_images(image_ids[: len(image_ids) // 10])
    erase_seconds = time.perf_counter() - started
    catalog.close()
    return {
        "images_per_s": images / ingest_seconds,
        "lookup_p50": lookup_p50,
        "lookup_p99": lookup_p99,
        "read_faces_per_s": total / read_seconds,
        "erase_s": erase_seconds,
    }


def best_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    best = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        faster_is_higher = key.endswith("per_s")
        best[key] = max(values) if faster_is_higher else min(values)
    return best


def emptied(url: str) -> str:
    """``url`` with facesift's tables dropped, so that each round starts from an empty catalog."""
    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url


def throwaway_postgres() -> tuple[str, str]:
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, FACESIFT_PG_DURABLE="1"),
    )
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    return values["FACESIFT_CATALOG_URL"], values["FACESIFT_PG_DIR"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--url", help="a PostgreSQL database to use, emptied first (default: a throwaway cluster)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/catalog_backends.md"))
    args = parser.parse_args()
    images = args.images - args.images % BATCH

    rounds: dict[str, list[dict[str, float]]] = {"SQLite (baseline)": [], "PostgreSQL": []}
    for n in range(args.rounds):
        cluster = None
        if args.url:
            pg_url = emptied(args.url)
        else:
            pg_url, cluster = throwaway_postgres()
        try:
            with tempfile.TemporaryDirectory() as folder:
                sqlite_url = f"sqlite:///{folder}/catalog.sqlite"
                rounds["SQLite (baseline)"].append(measure(sqlite_url, images))
                rounds["PostgreSQL"].append(measure(pg_url, images))
        finally:
            if cluster:
                subprocess.run(["bash", str(SCRIPT), "stop", cluster], check=True)
        print(f"round {n + 1} of {args.rounds} done", file=sys.stderr)
    results = {name: best_of(measured) for name, measured in rounds.items()}

    base = results["SQLite (baseline)"]
    rows = [
        "| catalog | ingest images/s | vs SQLite | lead provenance p50 / p99 ms | vs SQLite (p50) "
        "| read all embeddings, faces/s | vs SQLite | erase 10% of images, s | vs SQLite |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['images_per_s']:,.0f} "
            f"| {r['images_per_s'] / base['images_per_s']:.2f}x "
            f"| {r['lookup_p50']:.2f} / {r['lookup_p99']:.2f} "
            f"| {base['lookup_p50'] / r['lookup_p50']:.2f}x "
            f"| {r['read_faces_per_s']:,.0f} "
            f"| {r['read_faces_per_s'] / base['read_faces_per_s']:.2f}x "
            f"| {r['erase_s']:.2f} | {base['erase_s'] / r['erase_s']:.2f}x |"
        )
    import psycopg
    import sqlalchemy

    text = "\n".join(
        [
            f"Machine: {machine()}; SQLAlchemy {sqlalchemy.__version__}, psycopg "
            f"{psycopg.__version__}; commit {git_revision()}; {images:,} synthetic images with "
            f"{FACES_PER_IMAGE} faces each ({SPACE.dimension}-d), {BATCH} images per transaction, "
            f"best of {args.rounds} alternating rounds; "
            "PostgreSQL local over a unix socket, fsync on; SQLite in WAL mode, "
            "synchronous=NORMAL. Ratios > 1x mean faster than SQLite.",
            "",
            *rows,
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

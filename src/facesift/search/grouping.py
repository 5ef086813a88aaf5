"""Identities and duplicates over the gallery, through the vector index.

* ``run_clustering``: groups faces into identities (search/cluster.py), incrementally by default.
* ``find_duplicates``: pairs of records (one subject reference, or one image, per record) in a
  source, or across two sources, that are likely the same person: Clearview Consent's
  "duplicate account" check, done on a gallery held lawfully.

Opted-out faces take part in neither; erased faces are gone from both. Every run is audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import faiss
import numpy as np
from sqlalchemy import select

from facesift.catalog.tables import faces, images
from facesift.govern.audit import AuditEvent
from facesift.govern.roles import Action, Actor
from facesift.search.cluster import cluster_faces

if TYPE_CHECKING:
    from facesift.engine import FaceSift

NEIGHBOURS = 10


@dataclass(frozen=True)
class ClusterReport:
    faces_considered: int
    faces_assigned: int
    identities_created: int
    identities: int
    links_refused: int
    opted_out_faces: int
    seconds: float


def run_clustering(
    engine: FaceSift,
    actor: Actor,
    *,
    threshold: float | None = None,
    rebuild: bool = False,
) -> ClusterReport:
    actor.require(Action.CLUSTER)
    started = time.monotonic()
    limit = engine.calibration.default_cluster_threshold if threshold is None else threshold
    with engine.writer_lock():
        batches = list(engine.catalog.iter_embeddings())
        face_ids = np.concatenate([ids for ids, _ in batches]) if batches else np.zeros(0, np.int64)
        vectors = (
            np.vstack([v for _, v in batches])
            if batches
            else np.zeros((0, engine.space.dimension), np.float32)
        )
        opted_out = engine.matches_optout(vectors)
        engine.catalog.unassign(face_ids[opted_out].tolist(), automatic_only=False)
        face_ids, vectors = face_ids[~opted_out], vectors[~opted_out]
        if rebuild:
            engine.catalog.unassign(face_ids.tolist(), automatic_only=True)
        assigned_ids, identity_ids, locked_flags = engine.catalog.assignments()
        existing = dict(zip(assigned_ids.tolist(), identity_ids.tolist(), strict=True))
        locked_of = dict(zip(assigned_ids.tolist(), locked_flags.tolist(), strict=True))
        initial = np.array([existing.get(int(f), -1) for f in face_ids], dtype=np.int64)
        locked = np.array([locked_of.get(int(f), False) for f in face_ids], dtype=bool)
        image_ids = engine.catalog.face_images(face_ids)
        position = {int(f): i for i, f in enumerate(face_ids)}

        def knn(queries: np.ndarray, k: int):
            distances, ids = engine.index.search(queries, k)
            return distances, np.array(
                [[position.get(int(i), -1) for i in row] for row in ids], dtype=np.int64
            )

        new_faces = np.nonzero(initial < 0)[0]
        clustering = cluster_faces(
            vectors,
            image_ids,
            knn,
            limit,
            k=NEIGHBOURS,
            initial=initial,
            locked=locked,
            queries=new_faces,
        )
        groups: dict[int, list[int]] = {}
        for face_id, label in zip(face_ids.tolist(), clustering.labels.tolist(), strict=True):
            groups.setdefault(label, []).append(face_id)
        created, assigned = engine.catalog.save_groups(list(groups.values()), existing)
    report = ClusterReport(
        faces_considered=len(face_ids),
        faces_assigned=assigned,
        identities_created=created,
        identities=len(engine.catalog.identity_summaries()),
        links_refused=clustering.links_refused,
        opted_out_faces=int(opted_out.sum()),
        seconds=time.monotonic() - started,
    )
    engine.record(
        AuditEvent(
            actor,
            Action.CLUSTER,
            details={
                "threshold": limit,
                "rebuild": rebuild,
                "faces_assigned": assigned,
                "identities_created": created,
                "opted_out_faces": report.opted_out_faces,
            },
        )
    )
    return report


# With n records there are n^2/2 comparisons: at the search threshold (FMR 1e-3) 100k records
# would yield ~5 million false pairs. By default the threshold is tightened so that about this
# many false pairs are expected in the whole run...
EXPECTED_FALSE_PAIRS = 100
# ...but not below the FMR the LFW calibration measures reliably: under ~1e-6 its impostor pairs
# are mostly LFW's own label errors (one person under two names), and the distance for 2e-8 is
# 0.10, which finds almost nothing. The report states how many false pairs to expect instead.
LOWEST_CALIBRATED_RATE = 1e-6


def duplicate_threshold(engine: FaceSift, comparisons: float) -> float:
    rate = engine.settings.match_false_match_rate
    if comparisons > 0:
        rate = min(rate, max(EXPECTED_FALSE_PAIRS / comparisons, LOWEST_CALIBRATED_RATE))
    return engine.calibration.threshold_for(rate)


@dataclass(frozen=True)
class DuplicatePair:
    record_a: str
    record_b: str
    face_a: int
    face_b: int
    distance: float
    false_match_rate: float


def _records_of(engine: FaceSift, source_id: int) -> tuple[np.ndarray, list[str]]:
    """Face ids of a source and, for each, its record: subject reference, else its image."""
    with engine.catalog.engine.connect() as connection:
        rows = connection.execute(
            select(faces.c.id, images.c.id.label("image_id"), images.c.subject_ref)
            .select_from(faces.join(images))
            .where(images.c.source_id == source_id)
            .order_by(faces.c.id)
        ).all()
    ids = np.asarray([r.id for r in rows], dtype=np.int64)
    records = [r.subject_ref or f"image:{r.image_id}" for r in rows]
    return ids, records


def find_duplicates(
    engine: FaceSift,
    actor: Actor,
    source: str,
    *,
    against: str | None = None,
    threshold: float | None = None,
    k: int = NEIGHBOURS,
) -> DuplicateReport:
    """Pairs of different records that are likely the same person, most alike first (at most
    ``k`` candidates per record: a ranked list of leads, not every pair under the threshold)."""
    actor.require(Action.DUPLICATES)
    ids_a, records_a = _records_of(engine, engine.catalog.get_source(source).id)
    if against is None:
        ids_b, records_b = ids_a, records_a
    else:
        ids_b, records_b = _records_of(engine, engine.catalog.get_source(against).id)
    comparisons = len(ids_a) * (len(ids_a) - 1) / 2 if against is None else len(ids_a) * len(ids_b)
    limit = threshold if threshold is not None else duplicate_threshold(engine, comparisons)
    pairs: dict[tuple[str, str], DuplicatePair] = {}
    if len(ids_a) and len(ids_b):
        vectors_a = engine.catalog.embeddings(ids_a)
        vectors_b = vectors_a if against is None else engine.catalog.embeddings(ids_b)
        keep_a = ~engine.matches_optout(vectors_a)
        keep_b = keep_a if against is None else ~engine.matches_optout(vectors_b)
        index = faiss.IndexFlatL2(vectors_b.shape[1])
        index.add(np.ascontiguousarray(vectors_b))
        # Batched queries take FAISS's BLAS path: 100k x 100k in minutes on two cores.
        for start in range(0, len(ids_a), 4096):
            squared, found = index.search(vectors_a[start : start + 4096], min(k + 1, len(ids_b)))
            for row, (dist_row, nb_row) in enumerate(
                zip(np.sqrt(np.maximum(squared, 0)), found, strict=True)
            ):
                a = start + row
                if not keep_a[a]:
                    continue
                for distance, b in zip(dist_row, nb_row, strict=True):
                    if b < 0 or distance > limit or not keep_b[b]:
                        continue
                    ra, rb = records_a[a], records_b[b]
                    if ra == rb:
                        continue
                    key = (ra, rb) if against is not None else tuple(sorted((ra, rb)))
                    if key not in pairs or distance < pairs[key].distance:
                        fa, fb = int(ids_a[a]), int(ids_b[b])
                        if against is None and key[0] != ra:
                            fa, fb = fb, fa
                        pairs[key] = DuplicatePair(
                            key[0],
                            key[1],
                            fa,
                            fb,
                            float(distance),
                            engine.calibration.false_match_rate(float(distance)),
                        )
    result = sorted(pairs.values(), key=lambda p: p.distance)
    engine.record(
        AuditEvent(
            actor,
            Action.DUPLICATES,
            details={
                "source": source,
                "against": against,
                "threshold": limit,
                "pairs": len(result),
                "comparisons": comparisons,
            },
        )
    )
    return DuplicateReport(
        threshold=limit,
        comparisons=int(comparisons),
        expected_false_pairs=engine.calibration.false_match_rate(limit) * comparisons,
        pairs=tuple(result),
    )


@dataclass(frozen=True)
class DuplicateReport:
    threshold: float
    comparisons: int
    expected_false_pairs: float  # FMR at the threshold x comparisons made
    pairs: tuple[DuplicatePair, ...]

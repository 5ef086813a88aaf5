"""Duplicates: pairs of records (one subject reference, or one image, per record) in a source,
or across two sources, that are likely the same person: Clearview Consent's "duplicate account"
check, done on a gallery held lawfully. Opted-out faces take part in nothing; runs are audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from facesift.catalog.base import Faces, Sources
from facesift.errors import OutOfScope
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.index.optouts import OptOutList
from facesift.search.clustering import NEIGHBOURS
from facesift.search.policy import MatchingPolicy
from facesift.text import spreadsheet_inert

QUERY_BATCH = 4096  # batched queries take FAISS's BLAS path: 100k x 100k in minutes on two cores


@dataclass(frozen=True)
class DuplicatePair:
    record_a: str
    record_b: str
    face_a: int
    face_b: int
    distance: float
    false_match_rate: float


PAIR_COLUMNS = ("record_a", "record_b", "face_a", "face_b", "distance", "false_match_rate")


def pairs_csv(pairs: Iterable[DuplicatePair]) -> str:
    """The pairs as CSV (``PAIR_COLUMNS``), most alike first as found; the CLI's ``--csv`` and
    the web page's download. Records are subject references from manifests: text someone else
    typed, so a spreadsheet must not run it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PAIR_COLUMNS)
    for pair in pairs:
        writer.writerow(
            [
                spreadsheet_inert(pair.record_a),
                spreadsheet_inert(pair.record_b),
                pair.face_a,
                pair.face_b,
                f"{pair.distance:.4f}",
                f"{pair.false_match_rate:.3g}",
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class DuplicateReport:
    threshold: float
    comparisons: int
    expected_false_pairs: float  # FMR at the threshold x comparisons made
    pairs: tuple[DuplicatePair, ...]


class DuplicateFinder:
    def __init__(
        self,
        *,
        sources: Sources,
        faces: Faces,
        optouts: OptOutList,
        policy: MatchingPolicy,
        audit: AuditRecorder,
    ):
        self.sources = sources
        self.faces = faces
        self.optouts = optouts
        self.policy = policy
        self.audit = audit

    def find(
        self,
        actor: Actor,
        source: str,
        *,
        against: str | None = None,
        threshold: float | None = None,
        k: int = NEIGHBOURS,
    ) -> DuplicateReport:
        """Pairs of different records that are likely the same person, most alike first (at
        most ``k`` candidates per record: a ranked list of leads, not every pair under the
        threshold)."""
        actor.require(Action.DUPLICATES)
        outside = [s for s in (source, against) if s is not None and not actor.may_search(s)]
        if outside:
            raise OutOfScope(
                f"operator {actor.name!r} may not search source {outside[0]!r}: it is outside "
                "the sources an administrator allowed them"
            )
        ids_a, records_a = self.sources.source_records(self.sources.get_source(source).id)
        if against is None:
            ids_b, records_b = ids_a, records_a
        else:
            ids_b, records_b = self.sources.source_records(self.sources.get_source(against).id)
        comparisons = (
            len(ids_a) * (len(ids_a) - 1) / 2 if against is None else len(ids_a) * len(ids_b)
        )
        limit = threshold if threshold is not None else self.policy.duplicate_threshold(comparisons)
        pairs: dict[tuple[str, str], DuplicatePair] = {}
        if len(ids_a) and len(ids_b):
            matcher = self.optouts.matcher()
            vectors_a = self.faces.embeddings(ids_a)
            vectors_b = vectors_a if against is None else self.faces.embeddings(ids_b)
            keep_a = ~matcher.matches(vectors_a)
            keep_b = keep_a if against is None else ~matcher.matches(vectors_b)
            index = faiss.IndexFlatL2(vectors_b.shape[1])
            index.add(np.ascontiguousarray(vectors_b))
            for start in range(0, len(ids_a), QUERY_BATCH):
                squared, found = index.search(
                    vectors_a[start : start + QUERY_BATCH], min(k + 1, len(ids_b))
                )
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
                        key = (ra, rb) if against is not None else _ordered(ra, rb)
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
                                self.policy.false_match_rate(float(distance)),
                            )
        result = sorted(pairs.values(), key=lambda p: p.distance)
        self.audit.record(
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
            expected_false_pairs=self.policy.false_match_rate(limit) * comparisons,
            pairs=tuple(result),
        )


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)

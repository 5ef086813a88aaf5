"""Identities: faces grouped into people over the vector index (search/cluster.py does the
grouping), incrementally by default. Opted-out faces take part in nothing; every run is audited."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from facesift.catalog.base import Faces, Identities
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.index.base import VectorIndex
from facesift.index.optouts import OptOutList
from facesift.search.cluster import cluster_faces
from facesift.search.policy import MatchingPolicy

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


class Clusterer:
    def __init__(
        self,
        *,
        faces: Faces,
        identities: Identities,
        index: VectorIndex,
        optouts: OptOutList,
        policy: MatchingPolicy,
        audit: AuditRecorder,
        writer_lock: Callable[[], AbstractContextManager[None]],
    ):
        self.faces = faces
        self.identities = identities
        self.index = index
        self.optouts = optouts
        self.policy = policy
        self.audit = audit
        self.writer_lock = writer_lock

    def cluster(
        self, actor: Actor, *, threshold: float | None = None, rebuild: bool = False
    ) -> ClusterReport:
        actor.require(Action.CLUSTER)
        started = time.monotonic()
        limit = self.policy.cluster_threshold if threshold is None else threshold
        with self.writer_lock():
            batches = list(self.faces.iter_embeddings())
            face_ids = (
                np.concatenate([ids for ids, _ in batches]) if batches else np.zeros(0, np.int64)
            )
            vectors = (
                np.vstack([v for _, v in batches])
                if batches
                else np.zeros((0, self.policy.space.dimension), np.float32)
            )
            opted_out = self.optouts.matches(vectors)
            self.identities.unassign(face_ids[opted_out].tolist(), automatic_only=False)
            face_ids, vectors = face_ids[~opted_out], vectors[~opted_out]
            if rebuild:
                self.identities.unassign(face_ids.tolist(), automatic_only=True)
            assigned_ids, identity_ids, locked_flags = self.identities.assignments()
            existing = dict(zip(assigned_ids.tolist(), identity_ids.tolist(), strict=True))
            locked_of = dict(zip(assigned_ids.tolist(), locked_flags.tolist(), strict=True))
            initial = np.array([existing.get(int(f), -1) for f in face_ids], dtype=np.int64)
            locked = np.array([locked_of.get(int(f), False) for f in face_ids], dtype=bool)
            image_ids = self.faces.face_images(face_ids)
            position = {int(f): i for i, f in enumerate(face_ids)}

            def knn(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
                distances, ids = self.index.search(queries, k)
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
            created, assigned = self.identities.save_groups(list(groups.values()), existing)
        report = ClusterReport(
            faces_considered=len(face_ids),
            faces_assigned=assigned,
            identities_created=created,
            identities=len(self.identities.identity_summaries()),
            links_refused=clustering.links_refused,
            opted_out_faces=int(opted_out.sum()),
            seconds=time.monotonic() - started,
        )
        self.audit.record(
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

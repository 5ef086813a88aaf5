"""Catalog queries of a re-embed job: what is left to do, staging the new faces, the switch.

The live ``faces`` stay untouched (and searchable) while a job runs; every committed batch of
re-analysed images is staged in ``reembed_faces`` with its per-image outcome, so an interrupted
job resumes where it stopped. The switch is one transaction: staged faces replace the live ones,
faces of images that could not be read again are held back, opt-out templates and identities
follow their faces, and the catalog's recorded space changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from facesift.catalog.statements import (
    bump_gallery_version,
    drop_empty_identities,
    face_values,
    in_chunks,
    inserted_ids,
)
from facesift.catalog.tables import (
    face_identities,
    faces,
    faces_held_back,
    gallery_state,
    images,
    optouts,
    reembed_faces,
    reembed_images,
)
from facesift.errors import CatalogError, SpaceMismatchError
from facesift.types import AnalysedFace, EmbeddingSpace

FACE_COLUMNS = (
    "box_left",
    "box_top",
    "box_right",
    "box_bottom",
    "landmarks",
    "detection_score",
    "face_size",
    "sharpness",
)


@dataclass(frozen=True)
class ImageToReembed:
    image_id: int
    path: str
    sha256: str


@dataclass(frozen=True)
class ReembedOutcome:
    """One re-analysed image: its new faces (with the live face each re-finds), or why not."""

    image_id: int
    faces: tuple[tuple[int | None, AnalysedFace], ...] = ()
    unreadable: str | None = None  # why the stored path could not be used


@dataclass(frozen=True)
class SwitchSummary:
    images_switched: int
    faces_before: int
    faces_after: int
    images_held_back: int
    faces_held_back: int
    identities_carried: int


class ReembedQueries:
    db: Engine  # the SQLAlchemy engine, set by SqlCatalog

    def reembed_discard_other_jobs(self, job: str) -> int:
        """Staged work for another target space is stale (the configuration changed again)."""
        with self.db.begin() as connection:
            stale = connection.execute(
                delete(reembed_images).where(reembed_images.c.job != job)
            ).rowcount
            connection.execute(delete(reembed_faces).where(reembed_faces.c.job != job))
        return stale

    def reembed_todo(self, job: str, only_held_back: bool = False) -> list[ImageToReembed]:
        """Images this job has not analysed yet (or only those with held-back faces)."""
        done = select(reembed_images.c.image_id).where(reembed_images.c.job == job)
        query = select(images.c.id, images.c.path, images.c.sha256).where(~images.c.id.in_(done))
        if only_held_back:
            query = query.where(images.c.id.in_(select(faces_held_back.c.image_id)))
        with self.db.connect() as connection:
            rows = connection.execute(query.order_by(images.c.id)).all()
        return [ImageToReembed(row.id, row.path, row.sha256) for row in rows]

    def reembed_progress(self, job: str) -> dict[str, int]:
        with self.db.connect() as connection:
            rows = connection.execute(
                select(reembed_images.c.outcome, func.count())
                .where(reembed_images.c.job == job)
                .group_by(reembed_images.c.outcome)
            ).all()
        return {outcome: int(count) for outcome, count in rows}

    def reembed_unreadable(self, job: str) -> list[tuple[str, str]]:
        """(stored path, reason) of every image this job could not read."""
        query = (
            select(images.c.path, reembed_images.c.detail)
            .select_from(reembed_images.join(images))
            .where(reembed_images.c.job == job, reembed_images.c.outcome == "unreadable")
            .order_by(images.c.path)
        )
        with self.db.connect() as connection:
            return [(row.path, row.detail) for row in connection.execute(query)]

    def live_faces_of(
        self, image_ids: Iterable[int]
    ) -> dict[int, list[tuple[int, tuple[Any, ...]]]]:
        """Per image, the faces the gallery holds (live or held back) as (face id, box)."""
        wanted = [int(i) for i in image_ids]
        found: dict[int, list[tuple[int, tuple[Any, ...]]]] = {i: [] for i in wanted}
        with self.db.connect() as connection:
            for table in (faces, faces_held_back):
                query = select(
                    table.c.id,
                    table.c.image_id,
                    table.c.box_left,
                    table.c.box_top,
                    table.c.box_right,
                    table.c.box_bottom,
                )
                for chunk in in_chunks(wanted):
                    for row in connection.execute(query.where(table.c.image_id.in_(chunk))):
                        box = (row.box_left, row.box_top, row.box_right, row.box_bottom)
                        found[row.image_id].append((row.id, box))
        return found

    def record_reembedded(self, job: str, outcomes: list[ReembedOutcome]) -> None:
        """Stage a batch in one transaction (an image erased meanwhile is skipped)."""
        with self.db.begin() as connection:
            present: set[int] = set()
            for chunk in in_chunks([o.image_id for o in outcomes]):
                present.update(
                    connection.execute(select(images.c.id).where(images.c.id.in_(chunk))).scalars()
                )
            kept = [outcome for outcome in outcomes if outcome.image_id in present]
            if not kept:
                return
            # One executemany per table: a batch was one INSERT per image and one per face.
            connection.execute(
                reembed_images.insert(),
                [
                    {
                        "job": job,
                        "image_id": outcome.image_id,
                        "outcome": "unreadable" if outcome.unreadable else "done",
                        "detail": outcome.unreadable or "",
                    }
                    for outcome in kept
                ],
            )
            staged_faces = [
                {
                    "job": job,
                    "image_id": outcome.image_id,
                    "old_face_id": old_face_id,
                    **face_values(face),
                }
                for outcome in kept
                for old_face_id, face in outcome.faces
            ]
            if staged_faces:
                connection.execute(reembed_faces.insert(), staged_faces)

    def reembed_staged_vectors(self, job: str) -> tuple[np.ndarray, np.ndarray]:
        """(old face ids, new vectors) of staged faces that re-find a live face."""
        query = select(reembed_faces.c.old_face_id, reembed_faces.c.embedding).where(
            reembed_faces.c.job == job, reembed_faces.c.old_face_id.is_not(None)
        )
        with self.db.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.asarray([r.old_face_id for r in rows], np.int64), np.vstack(
            [np.frombuffer(r.embedding, "<f4") for r in rows]
        ).astype(np.float32)

    def switch_space(
        self,
        job: str,
        old_space: str | None,
        new_space: EmbeddingSpace,
        optout_templates: list[tuple[str, np.ndarray]],
        *,
        require_all_images: bool = True,
    ) -> SwitchSummary:
        """Make the staged faces the live ones, in the new space, in one transaction."""
        done = select(reembed_images.c.image_id).where(
            reembed_images.c.job == job, reembed_images.c.outcome == "done"
        )
        unreadable = select(reembed_images.c.image_id).where(
            reembed_images.c.job == job, reembed_images.c.outcome == "unreadable"
        )
        with self.db.begin() as connection:
            recorded = connection.execute(select(gallery_state.c.embedding_space)).scalar_one()
            if recorded != old_space:
                raise SpaceMismatchError(old_space or "no space", recorded or "no space")
            left = connection.execute(
                select(func.count())
                .select_from(images)
                .where(
                    ~images.c.id.in_(
                        select(reembed_images.c.image_id).where(reembed_images.c.job == job)
                    )
                )
            ).scalar_one()
            if left and require_all_images:
                raise CatalogError(
                    f"{left} images are not re-embedded yet; run `facesift reembed` again"
                )
            faces_before = connection.execute(select(func.count()).select_from(faces)).scalar_one()
            refound = select(reembed_faces.c.old_face_id).where(
                reembed_faces.c.job == job, reembed_faces.c.old_face_id.is_not(None)
            )
            # Faces of images that could not be read again, and faces the new detector did not
            # find again, wait outside the searchable space.
            held_back = (faces.c.image_id.in_(unreadable)) | (
                faces.c.image_id.in_(done) & ~faces.c.id.in_(refound)
            )
            held = connection.execute(
                insert(faces_held_back).from_select(
                    ["id", "image_id", *FACE_COLUMNS, "embedding_space", "embedding"],
                    select(
                        faces.c.id,
                        faces.c.image_id,
                        *(faces.c[name] for name in FACE_COLUMNS),
                        faces.c.embedding_space,
                        faces.c.embedding,
                    ).where(held_back),
                )
            ).rowcount
            connection.execute(delete(faces).where(held_back))
            # Identities follow the faces they re-find.
            identity_of = {
                row.face_id: (row.identity_id, row.assigned_by)
                for row in connection.execute(
                    select(face_identities).where(
                        face_identities.c.face_id.in_(
                            select(reembed_faces.c.old_face_id).where(reembed_faces.c.job == job)
                        )
                    )
                )
            }
            old_ids = (
                connection.execute(select(faces.c.id).where(faces.c.image_id.in_(done)))
                .scalars()
                .all()
            )
            staged = (
                connection.execute(
                    select(reembed_faces)
                    .where(reembed_faces.c.job == job)
                    .order_by(reembed_faces.c.id)
                )
                .mappings()
                .all()
            )
            # The new faces in one executemany that returns their ids in order (a gallery of
            # a million faces was a million single INSERTs in this one transaction).
            new_face_ids = inserted_ids(
                connection,
                faces,
                [
                    {
                        "image_id": row["image_id"],
                        "embedding_space": new_space.key,
                        "embedding": row["embedding"],
                        **{name: row[name] for name in FACE_COLUMNS},
                    }
                    for row in staged
                ],
            )
            carried_identities = [
                {
                    "face_id": face_id,
                    "identity_id": identity_of[row["old_face_id"]][0],
                    "assigned_by": identity_of[row["old_face_id"]][1],
                }
                for row, face_id in zip(staged, new_face_ids, strict=True)
                if row["old_face_id"] in identity_of
            ]
            if carried_identities:
                connection.execute(face_identities.insert(), carried_identities)
            carried = len(carried_identities)
            for chunk in in_chunks(list(old_ids)):
                connection.execute(delete(faces).where(faces.c.id.in_(chunk)))
            connection.execute(delete(faces_held_back).where(faces_held_back.c.id.in_(refound)))
            counts = (
                select(func.count())
                .select_from(faces)
                .where(faces.c.image_id == images.c.id)
                .scalar_subquery()
            )
            connection.execute(
                update(images).where(images.c.id.in_(done)).values(face_count=counts)
            )
            # The do-not-index list moves to the new space (templates computed by the caller).
            connection.execute(delete(optouts))
            for reference, template in optout_templates:
                connection.execute(
                    optouts.insert().values(
                        embedding_space=new_space.key,
                        template=np.asarray(template, "<f4").tobytes(),
                        reference=reference,
                        created_at=datetime.now(UTC),
                    )
                )
            drop_empty_identities(connection)
            connection.execute(update(gallery_state).values(embedding_space=new_space.key))
            bump_gallery_version(connection)
            images_switched = connection.execute(
                select(func.count()).select_from(done.subquery())
            ).scalar_one()
            images_held = connection.execute(
                select(func.count()).select_from(unreadable.subquery())
            ).scalar_one()
            connection.execute(delete(reembed_faces).where(reembed_faces.c.job == job))
            connection.execute(delete(reembed_images).where(reembed_images.c.job == job))
            faces_after = connection.execute(select(func.count()).select_from(faces)).scalar_one()
        return SwitchSummary(
            images_switched=images_switched,
            faces_before=faces_before,
            faces_after=faces_after,
            images_held_back=images_held,
            faces_held_back=held,
            identities_carried=carried,
        )

    def held_back_count(self) -> int:
        with self.db.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(faces_held_back)
            ).scalar_one()

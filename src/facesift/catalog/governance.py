"""Catalog queries that governance needs: expiry, erasure, opt-outs, tombstones, provenance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from facesift.catalog.statements import (
    among,
    bump_gallery_version,
    drop_empty_identities,
    in_chunks,
    present,
)
from facesift.catalog.tables import faces, images, optouts, sources, subject_requests, tombstones
from facesift.errors import FaceNotFound
from facesift.types import FaceTags


def optout_of(reference: str) -> str:
    """The opt-out a template belongs to. One opt-out keeps several templates (the selfie's and
    one per face held of the person: ``REF.2``, ``REF.3``; re-embedding adds more, and galleries
    re-embedded before this wrote ``REF-2``); they are counted and withdrawn together."""
    return "-".join(reference.split(".")[0].split("-")[:2])


@dataclass(frozen=True)
class ImageProvenance:
    image_id: int
    path: str
    sha256: str
    source: str
    lawful_basis: str
    purpose: str
    controller: str
    jurisdiction: str
    ingested_at: datetime
    expires_at: datetime | None
    subject_ref: str | None
    consent_ref: str | None
    captured_at: datetime | None
    source_url: str | None


@dataclass(frozen=True)
class Deletion:
    """What an erasure removed (counts and ids, never the data itself)."""

    image_ids: tuple[int, ...]
    face_ids: tuple[int, ...]
    image_sha256s: tuple[str, ...]
    paths: tuple[str, ...] = ()  # of the deleted images, to remove files the gallery kept
    # Every image that lost a face (deleted or not): reports that showed them are withdrawn.
    touched_sha256s: tuple[str, ...] = ()


class GovernanceQueries:
    """Mixed into SqlCatalog (``self.db`` is its SQLAlchemy engine)."""

    db: Engine  # the SQLAlchemy engine, set by SqlCatalog

    # --- provenance ----------------------------------------------------------------------------

    def provenance(self, image_ids: Iterable[int]) -> dict[int, ImageProvenance]:
        wanted = sorted({int(i) for i in image_ids})
        query = select(
            images.c.id,
            images.c.path,
            images.c.sha256,
            images.c.ingested_at,
            images.c.expires_at,
            images.c.subject_ref,
            images.c.consent_ref,
            images.c.captured_at,
            images.c.source_url,
            func.coalesce(images.c.jurisdiction, sources.c.jurisdiction).label("jurisdiction"),
            sources.c.name,
            sources.c.lawful_basis,
            sources.c.purpose,
            sources.c.controller,
        ).select_from(images.join(sources))
        found = {}
        with self.db.connect() as connection:
            for chunk in in_chunks(wanted):
                rows = connection.execute(query.where(among(images.c.id, chunk)))
                for r in rows.mappings():
                    found[r["id"]] = ImageProvenance(
                        image_id=r["id"],
                        path=r["path"],
                        sha256=r["sha256"],
                        source=r["name"],
                        lawful_basis=r["lawful_basis"],
                        purpose=r["purpose"],
                        controller=r["controller"],
                        jurisdiction=r["jurisdiction"],
                        ingested_at=r["ingested_at"],
                        expires_at=r["expires_at"],
                        subject_ref=r["subject_ref"],
                        consent_ref=r["consent_ref"],
                        captured_at=r["captured_at"],
                        source_url=r["source_url"],
                    )
        return found

    def face_tags(self, face_ids: np.ndarray) -> FaceTags:
        """Source id and effective jurisdiction (the image's own, else its source's) of each face,
        in the order given: what the index stores to erase a source or jurisdiction by filter."""
        wanted = [int(i) for i in face_ids]
        effective = func.coalesce(images.c.jurisdiction, sources.c.jurisdiction)
        query = select(faces.c.id, images.c.source_id, effective.label("jurisdiction")).select_from(
            faces.join(images).join(sources)
        )
        found: dict[int, tuple[int, str]] = {}
        with self.db.connect() as connection:
            for chunk in in_chunks(wanted):
                for row in connection.execute(query.where(faces.c.id.in_(chunk))):
                    found[row.id] = (row.source_id, row.jurisdiction)
        missing = [i for i in wanted if i not in found]
        if missing:
            raise FaceNotFound(f"faces not in the catalog: {missing[:10]}")
        return FaceTags(
            np.asarray([found[i][0] for i in wanted], dtype=np.int64),
            np.asarray([found[i][1] for i in wanted], dtype="<U2"),
        )

    # --- selecting what to erase ---------------------------------------------------------------

    def expired_image_ids(self, now: datetime) -> list[int]:
        with self.db.connect() as connection:
            return list(
                connection.execute(
                    select(images.c.id).where(images.c.expires_at <= now).order_by(images.c.id)
                ).scalars()
            )

    def image_ids_in_jurisdiction(self, code: str) -> list[int]:
        effective = func.coalesce(images.c.jurisdiction, sources.c.jurisdiction)
        with self.db.connect() as connection:
            return list(
                connection.execute(
                    select(images.c.id)
                    .select_from(images.join(sources))
                    .where(effective == code.upper())
                    .order_by(images.c.id)
                ).scalars()
            )

    def image_ids_of_source(self, source_id: int) -> list[int]:
        with self.db.connect() as connection:
            return list(
                connection.execute(
                    select(images.c.id).where(images.c.source_id == source_id).order_by(images.c.id)
                ).scalars()
            )

    # --- deleting ------------------------------------------------------------------------------

    def delete_images(self, image_ids: Iterable[int]) -> Deletion:
        wanted = sorted({int(i) for i in image_ids})
        face_ids: list[int] = []
        hashes: list[str] = []
        paths: list[str] = []
        with self.db.begin() as connection:
            for chunk in in_chunks(wanted):
                face_ids += (
                    connection.execute(select(faces.c.id).where(among(faces.c.image_id, chunk)))
                    .scalars()
                    .all()
                )
                for sha256, path in connection.execute(
                    select(images.c.sha256, images.c.path).where(among(images.c.id, chunk))
                ):
                    hashes.append(sha256)
                    paths.append(path)
                connection.execute(delete(faces).where(among(faces.c.image_id, chunk)))
                connection.execute(delete(images).where(among(images.c.id, chunk)))
            if wanted:
                bump_gallery_version(connection)
                drop_empty_identities(connection)
        return Deletion(
            tuple(wanted), tuple(sorted(face_ids)), tuple(hashes), tuple(paths), tuple(hashes)
        )

    def delete_faces(self, face_ids: Iterable[int]) -> Deletion:
        """Delete faces; an image left with no faces is deleted too (nothing of anyone remains)."""
        wanted = sorted({int(i) for i in face_ids})
        emptied, hashes, paths = [], [], []
        with self.db.begin() as connection:
            touched: set[int] = set()
            for chunk in in_chunks(wanted):
                touched.update(
                    connection.execute(
                        select(faces.c.image_id).where(among(faces.c.id, chunk))
                    ).scalars()
                )
                connection.execute(delete(faces).where(among(faces.c.id, chunk)))
            touched_hashes = [
                sha256
                for chunk in in_chunks(sorted(touched))
                for sha256 in connection.execute(
                    select(images.c.sha256).where(among(images.c.id, chunk))
                ).scalars()
            ]
            for image_id in sorted(touched):
                left = connection.execute(
                    select(func.count()).select_from(faces).where(faces.c.image_id == image_id)
                ).scalar_one()
                if left == 0:
                    sha256, path = connection.execute(
                        select(images.c.sha256, images.c.path).where(images.c.id == image_id)
                    ).one()
                    hashes.append(sha256)
                    paths.append(path)
                    connection.execute(delete(images).where(images.c.id == image_id))
                    emptied.append(image_id)
                else:
                    connection.execute(
                        update(images).where(images.c.id == image_id).values(face_count=left)
                    )
            if wanted:
                bump_gallery_version(connection)
                drop_empty_identities(connection)
        return Deletion(
            tuple(emptied), tuple(wanted), tuple(hashes), tuple(paths), tuple(touched_hashes)
        )

    def withdraw_reports_showing(self, image_sha256s: Iterable[str]) -> int:
        """Withdraw the stored report of every fulfilled subject request that shows one of these
        images (access reports embed the face and name each image by its SHA-256): after an
        erasure, no copy of the erased face may stay in a report. Returns how many."""
        withdrawn = 0
        with self.db.begin() as connection:
            for sha256 in sorted(set(image_sha256s)):
                withdrawn += connection.execute(
                    update(subject_requests)
                    .where(subject_requests.c.report_html.contains(f"sha256 {sha256}"))
                    .values(report_html=None)
                ).rowcount
        return withdrawn

    # --- tombstones: content erased at a subject's request is never ingested again -----------

    def add_tombstones(self, hashes: Iterable[str], reason: str) -> None:
        now = datetime.now(UTC)
        wanted = set(hashes)
        with self.db.begin() as connection:
            # Writes happen under the writer lock (index/keeper.py), so nothing can add one of
            # these between this check and the insert.
            existing = present(connection, tombstones.c.sha256, wanted)
            rows = [{"sha256": h, "reason": reason, "at": now} for h in sorted(wanted - existing)]
            if rows:
                connection.execute(tombstones.insert(), rows)

    def tombstoned(self, hashes: Iterable[str]) -> set[str]:
        with self.db.connect() as connection:
            return present(connection, tombstones.c.sha256, hashes)

    # --- opt-outs ------------------------------------------------------------------------------

    def add_optout(self, template: np.ndarray, space: str, reference: str) -> None:
        with self.db.begin() as connection:
            connection.execute(
                optouts.insert().values(
                    embedding_space=space,
                    template=np.asarray(template, "<f4").tobytes(),
                    reference=reference,
                    created_at=datetime.now(UTC),
                )
            )

    def optout_templates(self) -> tuple[list[str], np.ndarray]:
        with self.db.connect() as connection:
            rows = connection.execute(select(optouts.c.reference, optouts.c.template)).all()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r.reference for r in rows], np.vstack(
            [np.frombuffer(r.template, "<f4") for r in rows]
        ).astype(np.float32)

    def remove_optouts(self, references: Iterable[str]) -> int:
        refs = list(references)
        if not refs:
            return 0
        with self.db.begin() as connection:
            return connection.execute(delete(optouts).where(optouts.c.reference.in_(refs))).rowcount

    def optout_count(self) -> int:
        """People on the do-not-index list (each may have several templates)."""
        with self.db.connect() as connection:
            references = connection.execute(select(optouts.c.reference)).scalars()
            return len({optout_of(reference) for reference in references})

    def tombstone_count(self) -> int:
        with self.db.connect() as connection:
            return connection.execute(select(func.count()).select_from(tombstones)).scalar_one()


__all__ = ["Deletion", "GovernanceQueries", "ImageProvenance"]

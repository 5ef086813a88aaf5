"""Catalog queries for identities: faces grouped into people, automatic and human assignments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from facesift.catalog.statements import among, drop_empty_identities, in_chunks, new_id
from facesift.catalog.tables import face_identities, faces, identities
from facesift.errors import FaceNotFound, IdentityNotFound, InputError

AUTO, HUMAN = "auto", "human"


@dataclass(frozen=True)
class IdentitySummary:
    id: int
    name: str | None
    locked: bool
    faces: int
    face_ids: tuple[int, ...]  # up to a few, for display


def _counted_identities() -> Select[Any]:
    """Identities with their face counts (as "faces")."""
    return (
        select(
            identities.c.id,
            identities.c.name,
            identities.c.locked,
            func.count(face_identities.c.face_id).label("faces"),
        )
        .select_from(identities.join(face_identities))
        .group_by(identities.c.id, identities.c.name, identities.c.locked)
    )


class IdentityQueries:
    """Mixed into SqlCatalog (``self.db`` is its SQLAlchemy engine)."""

    db: Engine  # the SQLAlchemy engine, set by SqlCatalog

    def face_images(self, face_ids: np.ndarray) -> np.ndarray:
        wanted = [int(i) for i in face_ids]
        by_face: dict[int, int] = {}
        with self.db.connect() as connection:
            for chunk in in_chunks(wanted):
                rows = connection.execute(
                    select(faces.c.id, faces.c.image_id).where(among(faces.c.id, chunk))
                )
                by_face.update({row.id: row.image_id for row in rows})
        return np.asarray([by_face[i] for i in wanted], dtype=np.int64)

    def assignments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(face ids, identity ids, locked) for every assigned face."""
        query = select(
            face_identities.c.face_id, face_identities.c.identity_id, identities.c.locked
        ).select_from(face_identities.join(identities))
        with self.db.connect() as connection:
            rows = connection.execute(query).all()
        return (
            np.asarray([r.face_id for r in rows], dtype=np.int64),
            np.asarray([r.identity_id for r in rows], dtype=np.int64),
            np.asarray([bool(r.locked) for r in rows], dtype=bool),
        )

    def save_groups(self, groups: list[list[int]], existing: dict[int, int]) -> tuple[int, int]:
        """Store automatic groups of face ids. A group containing already-assigned faces joins
        (the largest of) their identities; others become new identities. Human assignments are
        never changed, and identities a person named or edited (locked) neither gain nor lose
        faces automatically: a chance resemblance must not put a stranger under a person's
        name. Returns (identities created, faces assigned)."""
        created = assigned = 0
        now = datetime.now(UTC)
        with self.db.begin() as connection:
            human = set(
                connection.execute(
                    select(face_identities.c.face_id).where(face_identities.c.assigned_by == HUMAN)
                ).scalars()
            )
            locked = set(
                connection.execute(select(identities.c.id).where(identities.c.locked)).scalars()
            )
            for group in groups:
                group = [f for f in group if existing.get(f) not in locked]
                if not group:
                    continue
                known = [existing[f] for f in group if f in existing]
                if known:
                    identity_id = max(set(known), key=known.count)
                else:
                    identity_id = new_id(
                        connection.execute(
                            identities.insert().values(name=None, locked=False, created_at=now)
                        )
                    )
                    created += 1
                for face_id in group:
                    if face_id in human or existing.get(face_id) == identity_id:
                        continue
                    connection.execute(
                        delete(face_identities).where(face_identities.c.face_id == face_id)
                    )
                    connection.execute(
                        face_identities.insert().values(
                            face_id=face_id, identity_id=identity_id, assigned_by=AUTO
                        )
                    )
                    assigned += 1
            drop_empty_identities(connection)
        return created, assigned

    def unassign(self, face_ids: Iterable[int], *, automatic_only: bool = True) -> int:
        wanted = [int(i) for i in face_ids]
        removed = 0
        with self.db.begin() as connection:
            for chunk in in_chunks(wanted):
                statement = delete(face_identities).where(among(face_identities.c.face_id, chunk))
                if automatic_only:
                    statement = statement.where(face_identities.c.assigned_by == AUTO)
                removed += connection.execute(statement).rowcount
            drop_empty_identities(connection)
        return removed

    # --- human edits -----------------------------------------------------------------------------

    def name_identity(self, identity_id: int, name: str) -> None:
        with self.db.begin() as connection:
            self._require_identity(connection, identity_id)
            connection.execute(
                update(identities)
                .where(identities.c.id == identity_id)
                .values(name=name, locked=True)
            )
            # Naming an identity accepts its faces: they become human assignments.
            connection.execute(
                update(face_identities)
                .where(face_identities.c.identity_id == identity_id)
                .values(assigned_by=HUMAN)
            )

    def move_faces(self, face_ids: Iterable[int], identity_id: int | None) -> int:
        """Assign faces to ``identity_id`` (None: a new identity) as a human decision."""
        wanted = [int(i) for i in face_ids]
        with self.db.begin() as connection:
            present = set(
                connection.execute(select(faces.c.id).where(faces.c.id.in_(wanted))).scalars()
            )
            missing = sorted(set(wanted) - present)
            if missing:
                raise FaceNotFound(f"no face with id {', '.join(map(str, missing))}")
            self._refuse_losing_a_name(connection, wanted, identity_id)
            if identity_id is None:
                identity_id = new_id(
                    connection.execute(
                        identities.insert().values(
                            name=None, locked=True, created_at=datetime.now(UTC)
                        )
                    )
                )
            else:
                self._require_identity(connection, identity_id)
                connection.execute(
                    update(identities).where(identities.c.id == identity_id).values(locked=True)
                )
            sources = set(
                connection.execute(
                    select(face_identities.c.identity_id).where(
                        face_identities.c.face_id.in_(wanted)
                    )
                ).scalars()
            )
            connection.execute(delete(face_identities).where(face_identities.c.face_id.in_(wanted)))
            connection.execute(
                face_identities.insert(),
                [{"face_id": f, "identity_id": identity_id, "assigned_by": HUMAN} for f in wanted],
            )
            # The identities faces were taken from are edited too: keep them apart from now on.
            if sources:
                connection.execute(
                    update(identities).where(identities.c.id.in_(sources)).values(locked=True)
                )
            drop_empty_identities(connection)
        return identity_id

    def merge_identities(self, keep: int, other: int) -> int:
        """Move every face of ``other`` into ``keep`` and delete ``other``. Refused for an
        identity and itself (the delete would destroy it) and for two identities a person gave
        different names (one name would be lost: rename one first, or move faces)."""
        if keep == other:
            raise InputError(f"identity {keep} cannot be merged into itself")
        with self.db.begin() as connection:
            self._require_identity(connection, keep)
            self._require_identity(connection, other)
            names = dict(
                connection.execute(
                    select(identities.c.id, identities.c.name).where(
                        identities.c.id.in_([keep, other])
                    )
                ).all()
            )
            if names[keep] and names[other] and names[keep] != names[other]:
                raise InputError(
                    f"identities {keep} ({names[keep]!r}) and {other} ({names[other]!r}) are "
                    "named as different people; rename one of them first, or move faces"
                )
            moved = connection.execute(
                update(face_identities)
                .where(face_identities.c.identity_id == other)
                .values(identity_id=keep, assigned_by=HUMAN)
            ).rowcount
            connection.execute(
                update(face_identities)
                .where(face_identities.c.identity_id == keep)
                .values(assigned_by=HUMAN)
            )
            connection.execute(
                update(identities).where(identities.c.id == keep).values(locked=True)
            )
            connection.execute(delete(identities).where(identities.c.id == other))
        return moved

    @staticmethod
    def _refuse_losing_a_name(
        connection: Connection, face_ids: list[int], target: int | None
    ) -> None:
        """A move must not empty a named identity (its name would go with it: merge instead),
        and a split (no target) must not put faces of two differently named people together."""
        taken: dict[int, int] = {}
        for identity_id in connection.execute(
            select(face_identities.c.identity_id).where(face_identities.c.face_id.in_(face_ids))
        ).scalars():
            taken[identity_id] = taken.get(identity_id, 0) + 1
        if not taken:
            return
        rows = connection.execute(
            select(identities.c.id, identities.c.name, func.count(face_identities.c.face_id))
            .select_from(identities.join(face_identities))
            .where(identities.c.id.in_(list(taken)))
            .group_by(identities.c.id, identities.c.name)
        ).all()
        named = {row[0]: row[1] for row in rows if row[1]}
        for identity_id, name, size in rows:
            if name and identity_id != target and taken[identity_id] == size:
                raise InputError(
                    f"moving these faces would empty identity {identity_id} ({name!r}) and lose "
                    "its name; merge the identities instead"
                )
        if target is None and len(set(named.values())) > 1:
            people = ", ".join(f"{i} ({n!r})" for i, n in sorted(named.items()))
            raise InputError(
                f"these faces come from identities named as different people: {people}; "
                "split them one identity at a time"
            )

    @staticmethod
    def _require_identity(connection: Connection, identity_id: int) -> None:
        if (
            connection.execute(
                select(identities.c.id).where(identities.c.id == identity_id)
            ).first()
            is None
        ):
            raise IdentityNotFound(f"no identity with id {identity_id}")

    # --- reading ---------------------------------------------------------------------------------

    def identity_summaries(self, min_faces: int = 1, sample: int = 6) -> list[IdentitySummary]:
        query = (
            _counted_identities()
            .having(func.count(face_identities.c.face_id) >= min_faces)
            .order_by(func.count(face_identities.c.face_id).desc(), identities.c.id)
        )
        with self.db.connect() as connection:
            rows = connection.execute(query).all()
            members = self._members(connection, [r.id for r in rows], sample)
        return [
            IdentitySummary(r.id, r.name, bool(r.locked), r.faces, members.get(r.id, ()))
            for r in rows
        ]

    def identity_faces(self, identity_id: int) -> list[int]:
        with self.db.connect() as connection:
            self._require_identity(connection, identity_id)
            return list(
                connection.execute(
                    select(face_identities.c.face_id)
                    .where(face_identities.c.identity_id == identity_id)
                    .order_by(face_identities.c.face_id)
                ).scalars()
            )

    def identities_of(self, face_ids: Iterable[int]) -> dict[int, IdentitySummary]:
        wanted = [int(i) for i in face_ids]
        if not wanted:
            return {}
        with self.db.connect() as connection:
            rows = connection.execute(
                select(face_identities.c.face_id, face_identities.c.identity_id).where(
                    face_identities.c.face_id.in_(wanted)
                )
            ).all()
            ids = sorted({r.identity_id for r in rows})
            info = {
                r.id: r
                for r in connection.execute(_counted_identities().where(identities.c.id.in_(ids)))
            }
            members = self._members(connection, ids, 6)
        return {
            r.face_id: IdentitySummary(
                r.identity_id,
                info[r.identity_id].name,
                bool(info[r.identity_id].locked),
                info[r.identity_id].faces,
                members.get(r.identity_id, ()),
            )
            for r in rows
        }

    @staticmethod
    def _members(
        connection: Connection, identity_ids: list[int], sample: int
    ) -> dict[int, tuple[int, ...]]:
        members: dict[int, list[int]] = {}
        for chunk in in_chunks(identity_ids):
            for row in connection.execute(
                select(face_identities.c.identity_id, face_identities.c.face_id)
                .where(among(face_identities.c.identity_id, chunk))
                .order_by(face_identities.c.face_id)
            ):
                bucket = members.setdefault(row.identity_id, [])
                if len(bucket) < sample:
                    bucket.append(row.face_id)
        return {k: tuple(v) for k, v in members.items()}

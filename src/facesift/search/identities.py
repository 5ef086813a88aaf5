"""Identities as people see and correct them: listing, naming, merging and splitting the groups
clustering made. Viewing and editing are separate permissions; every edit is audited, and an
unknown id is the user's error (NotFoundError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from facesift.catalog.base import Faces, Identities, StoredFace
from facesift.catalog.identities import IdentitySummary
from facesift.errors import OutOfScope
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.text import NAME_CHARS, bounded

T = TypeVar("T")


class IdentityEditor:
    def __init__(self, identities: Identities, faces: Faces, audit: AuditRecorder):
        self.identities = identities
        self.faces = faces
        self.audit = audit

    def summaries(self, actor: Actor, min_faces: int = 1) -> list[IdentitySummary]:
        actor.require(Action.IDENTITY_VIEW)
        return self.identities.identity_summaries(min_faces)

    def faces_of(self, actor: Actor, identity_id: int) -> list[int]:
        """The identity's faces, those of the operator's search scope only (the faces they may
        see: govern/visibility.py)."""
        actor.require(Action.IDENTITY_VIEW)
        face_ids = self.identities.identity_faces(identity_id)
        if actor.sources is None:
            return face_ids
        stored = self.faces.stored_faces(face_ids)
        return [f for f in face_ids if f in stored and actor.may_search(stored[f].source)]

    def identities_of(self, actor: Actor, face_ids: list[int]) -> dict[int, IdentitySummary]:
        """The identity each face belongs to (faces in none are left out)."""
        actor.require(Action.IDENTITY_VIEW)
        return self.identities.identities_of(face_ids)

    def stored_faces(self, actor: Actor, face_ids: list[int]) -> dict[int, StoredFace]:
        """Where each face is (image, box, source), for the identity views."""
        actor.require(Action.IDENTITY_VIEW)
        return self.faces.stored_faces(face_ids)

    def name(self, actor: Actor, identity_id: int, name: str) -> None:
        self._edit(
            actor,
            lambda: self.identities.name_identity(
                identity_id, bounded("identity name", name, NAME_CHARS)
            ),
            lambda _: {"edit": "name", "identity": identity_id},
        )

    def merge(self, actor: Actor, keep: int, other: int) -> int:
        return self._edit(
            actor,
            lambda: self.identities.merge_identities(keep, other),
            lambda _: {"edit": "merge", "keep": keep, "merged": other},
        )

    def move(self, actor: Actor, face_ids: list[int], identity_id: int | None) -> int:
        """Move faces to an identity (None: split them into a new one); returns its id. Only
        faces the operator may see: those of sources in their search scope."""
        if actor.sources is not None:
            stored = self.faces.stored_faces(face_ids)
            outside = [
                f for f in face_ids if f in stored and not actor.may_search(stored[f].source)
            ]
            if outside:
                raise OutOfScope(
                    f"operator {actor.name!r} may not move face {outside[0]}: its source is "
                    "outside the sources an administrator allowed them"
                )
        return self._edit(
            actor,
            lambda: self.identities.move_faces(face_ids, identity_id),
            lambda target: {"edit": "move", "faces": face_ids, "to": target},
        )

    def _edit(
        self, actor: Actor, operation: Callable[[], T], describe: Callable[[T], dict[str, Any]]
    ) -> T:
        """A human edit: permitted, applied, then audited with ``describe(result)``."""
        actor.require(Action.IDENTITY_EDIT)
        result = operation()
        self.audit.record(AuditEvent(actor, Action.IDENTITY_EDIT, details=describe(result)))
        return result

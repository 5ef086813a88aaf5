"""Who may see which face or image, and the face thumbnails and full images that rule guards
(for the API and UI), with an on-disk cache.

Who may see a face: administrators (they answer data subjects' requests, which means looking at
the candidates); reviewers, a face that some search showed as a lead; investigators, a face that
one of their own searches showed; and whoever may view identities (investigators, reviewers), a
face grouped into an identity, which is what the People page shows. Each face shown is audited,
so the pages that show many cap how many they show at once. Nobody can page through the
ungrouped gallery by face id. The
thumbnail cache lives in data_dir/thumbs and is cleaned by every erasure (govern/derived.py).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from facesift.catalog.base import Casework, Faces, Governance, Identities
from facesift.errors import FaceNotFound, InputError, NotShown
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.derived import thumbnail_path
from facesift.govern.roles import PERMISSIONS, Action, Actor, Role
from facesift.types import BoundingBox

SIZES = (80, 160, 320)


class Visibility:
    def __init__(
        self,
        faces: Faces,
        governance: Governance,
        casework: Casework,
        data_dir: Path,
        audit: AuditRecorder | None = None,
        identities: Identities | None = None,
    ):
        self.faces = faces
        self.identities = identities
        self.governance = governance
        self.casework = casework
        self.data_dir = data_dir
        self.audit = audit

    def _audited(self, actor: Actor, action: Action, **details: object) -> None:
        """Every face or photo shown is on the record: who saw it, when."""
        if self.audit is not None:
            self.audit.record(AuditEvent(actor, action, details=dict(details)))

    def may_see_face(self, actor: Actor, face_id: int) -> None:
        if actor.role == Role.ADMIN:
            actor.require(Action.SUBJECT_ACCESS)
            return
        if actor.role == Role.REVIEWER and self.casework.face_was_lead(face_id):
            return
        if actor.role == Role.INVESTIGATOR and self.casework.face_was_lead(face_id, actor.name):
            return
        if (
            self.identities is not None
            and Action.IDENTITY_VIEW in PERMISSIONS[actor.role]
            and face_id in self.identities.identities_of([face_id])
            and self._in_search_scope(actor, face_id)
        ):
            return
        raise NotShown(
            f"operator {actor.name!r} ({actor.role.value}) may not see face {face_id}: "
            "investigators see the leads of their own searches, reviewers the leads of any search, "
            "both the faces grouped into people"
        )

    def _in_search_scope(self, actor: Actor, face_id: int) -> bool:
        """A face of a source outside the operator's search scope is never shown to them
        through the People page: the scope that keeps it out of their leads keeps it out of
        their view (govern/roles.py, ``Actor.sources``)."""
        if actor.sources is None:
            return True
        found = self.faces.stored_faces([face_id]).get(face_id)
        return found is not None and actor.may_search(found.source)

    def may_see_image(self, actor: Actor, image_id: int) -> None:
        if actor.role == Role.ADMIN:
            actor.require(Action.SUBJECT_ACCESS)
            return
        if actor.role == Role.REVIEWER and self.casework.image_had_lead(image_id):
            return
        if actor.role == Role.INVESTIGATOR and self.casework.image_had_lead(image_id, actor.name):
            return
        raise NotShown(
            f"operator {actor.name!r} ({actor.role.value}) may not see image {image_id}: "
            "only images with a face shown as a lead of a search they may review"
        )

    def face_thumbnail(
        self, actor: Actor, face_id: int, size: int = 160, boxed: bool = False
    ) -> bytes:
        """The face cropped with a margin, as a JPEG at most ``size`` pixels a side (one of
        SIZES); ``boxed`` draws the face's box on a wider crop instead."""
        if size not in SIZES:
            raise InputError(f"size {size}: one of {', '.join(map(str, SIZES))}")
        self.may_see_face(actor, face_id)
        stored = self.faces.stored_faces([face_id]).get(face_id)
        if stored is None:
            raise FaceNotFound(f"face {face_id} not found (it may have been erased)")
        self._audited(actor, Action.VIEW_FACE, face_id=face_id, size=size, boxed=boxed)
        cached = thumbnail_path(self.data_dir, face_id, size, boxed)
        if cached.exists():
            return cached.read_bytes()
        data = _crop(stored.image_path, stored.box, size, boxed, face_id)
        _write_atomically(cached, data)
        return data

    def image_bytes(self, actor: Actor, image_id: int) -> tuple[bytes, str]:
        """The full image file as stored, with its MIME type (sniffed from the content)."""
        self.may_see_image(actor, image_id)
        found = self.governance.provenance([image_id]).get(image_id)
        if found is None:
            raise FaceNotFound(f"image {image_id} not found (it may have been erased)")
        try:
            with open(found.path, "rb") as handle:
                data = handle.read()
            with Image.open(io.BytesIO(data)) as image:
                mime = Image.MIME.get(image.format or "", "application/octet-stream")
        except OSError as error:
            raise FaceNotFound(
                f"image {image_id}: its file {found.path} cannot be read ({error})"
            ) from None
        self._audited(actor, Action.VIEW_IMAGE, image_id=image_id)
        return data, mime


def _crop(path: str, box: BoundingBox, size: int, boxed: bool, face_id: int) -> bytes:
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except OSError as error:
        raise FaceNotFound(f"face {face_id}: its image file cannot be read ({error})") from None
    margin = max(box.width, box.height) // (1 if boxed else 3)
    crop_box = (
        max(0, box.left - margin),
        max(0, box.top - margin),
        min(image.width, box.right + margin),
        min(image.height, box.bottom + margin),
    )
    if boxed:
        ImageDraw.Draw(image).rectangle(
            (box.left, box.top, box.right - 1, box.bottom - 1),
            outline=(255, 200, 0),
            width=max(2, box.width // 40),
        )
    crop = image.crop(crop_box)
    side = size * (2 if boxed else 1)
    crop.thumbnail((side, side))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(tmp, target)

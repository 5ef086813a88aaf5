"""Bulk erasure: by jurisdiction or source (as the ICO ordered for UK residents), and retention
purge. Catalog rows go first (the truth), then index entries; a receipt goes in the audit trail,
never the erased data. Thumbnails cached for the API and photos uploaded through it go too
(govern/derived.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesift.catalog.base import Governance, Sources
from facesift.errors import InputError
from facesift.govern import derived
from facesift.govern.audit import AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.govern.subjects import Receipt, receipt
from facesift.index.base import JURISDICTION_CODE
from facesift.index.writer import GalleryWriter


class Erasure:
    """Erasure by jurisdiction or source, and the retention purge."""

    def __init__(
        self,
        *,
        sources: Sources,
        governance: Governance,
        writer: GalleryWriter,
        audit: AuditRecorder,
        data_dir: Path,
    ):
        self.sources = sources
        self.governance = governance
        self.writer = writer
        self.audit = audit
        self.data_dir = data_dir

    def erase_images(
        self,
        actor: Actor,
        action: Action,
        image_ids: list[int],
        details: dict[str, Any],
        *,
        source_ids: list[int] | None = None,
        jurisdiction: str | None = None,
    ) -> Receipt:
        with self.writer.lock():
            deletion = self.writer.delete_images(
                image_ids, source_ids=source_ids or (), jurisdiction=jurisdiction
            )
        derived.forget(self.data_dir, deletion)
        return receipt(
            self.audit, actor, action, "", deletion.image_ids, deletion.face_ids, details
        )

    def erase_scope(
        self,
        actor: Actor,
        *,
        jurisdiction: str | None = None,
        source: str | None = None,
        dry_run: bool = False,
    ) -> tuple[list[int], Receipt | None]:
        """Everything of one jurisdiction (image's own, else its source's) or one source."""
        actor.require(Action.ERASE)
        if bool(jurisdiction) == bool(source):
            raise InputError(
                "erase needs exactly one scope: a jurisdiction (ISO code) or a source name"
            )
        if jurisdiction and not JURISDICTION_CODE.match(jurisdiction.upper()):
            raise InputError(f"jurisdiction {jurisdiction!r} is not an ISO 3166-1 alpha-2 code")
        if jurisdiction:
            code = jurisdiction.upper()
            image_ids = self.governance.image_ids_in_jurisdiction(jurisdiction)
            details: dict[str, Any] = {"scope": "jurisdiction", "jurisdiction": code}
            if dry_run:
                return image_ids, None
            return image_ids, self.erase_images(
                actor, Action.ERASE, image_ids, details, jurisdiction=code
            )
        found = self.sources.get_source(source or "")
        image_ids = self.governance.image_ids_of_source(found.id)
        details = {"scope": "source", "source": found.name}
        if dry_run:
            return image_ids, None
        return image_ids, self.erase_images(
            actor, Action.ERASE, image_ids, details, source_ids=[found.id]
        )

    def purge_expired(
        self, actor: Actor, *, dry_run: bool = False, now: datetime | None = None
    ) -> tuple[list[int], Receipt | None]:
        """Delete every image whose retention (or consent) has run out."""
        actor.require(Action.PURGE)
        now = now or datetime.now(UTC)
        image_ids = self.governance.expired_image_ids(now)
        if dry_run:
            return image_ids, None
        details = {"reason": "retention period or consent ended", "as_of": now.isoformat()}
        return image_ids, self.erase_images(actor, Action.PURGE, image_ids, details)

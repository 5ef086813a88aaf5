"""Bulk erasure: by jurisdiction or source (as the ICO ordered for UK residents), and retention
purge. Catalog rows go first (the truth), then index entries; a receipt goes in the audit trail,
never the erased data. Thumbnails cached for the API and photos uploaded through it go too
(govern/derived.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from facesift.errors import InputError
from facesift.govern import derived
from facesift.govern.roles import Action, Actor
from facesift.govern.subjects import Receipt, _receipt
from facesift.index.base import JURISDICTION_CODE

if TYPE_CHECKING:
    from facesift.engine import FaceSift


def erase_images(
    engine: FaceSift,
    actor: Actor,
    action: Action,
    image_ids: list[int],
    details: dict,
    scope: dict | None = None,
) -> Receipt:
    """Erase images; ``scope`` (``source_ids=`` or ``jurisdiction=``) says they are all of one
    source or jurisdiction, so the index drops them with one filtered delete."""
    with engine.writer_lock():
        deletion = engine.catalog.delete_images(image_ids)
        face_ids = np.asarray(deletion.face_ids, dtype=np.int64)
        if scope:
            engine.keeper.remove_scope(face_ids, **scope)
        else:
            engine.index.remove(face_ids)
        engine.save_index()
    derived.forget(engine.data_dir, deletion)
    return _receipt(engine, actor, action, "", deletion.image_ids, deletion.face_ids, details)


def erase_scope(
    engine: FaceSift,
    actor: Actor,
    *,
    jurisdiction: str | None = None,
    source: str | None = None,
    dry_run: bool = False,
) -> tuple[list[int], Receipt | None]:
    """Everything of one jurisdiction (image's own, else its source's) or one source."""
    actor.require(Action.ERASE)
    if bool(jurisdiction) == bool(source):
        raise InputError("erase needs exactly one of --jurisdiction CC or --source NAME")
    if jurisdiction and not JURISDICTION_CODE.match(jurisdiction.upper()):
        raise InputError(f"jurisdiction {jurisdiction!r} is not an ISO 3166-1 alpha-2 code")
    if jurisdiction:
        image_ids = engine.catalog.image_ids_in_jurisdiction(jurisdiction)
        details = {"scope": "jurisdiction", "jurisdiction": jurisdiction.upper()}
        scope = {"jurisdiction": jurisdiction.upper()}
    else:
        found = engine.catalog.get_source(source)
        image_ids = engine.catalog.image_ids_of_source(found.id)
        details = {"scope": "source", "source": found.name}
        scope = {"source_ids": [found.id]}
    if dry_run:
        return image_ids, None
    return image_ids, erase_images(engine, actor, Action.ERASE, image_ids, details, scope)


def purge_expired(
    engine: FaceSift, actor: Actor, *, dry_run: bool = False, now: datetime | None = None
) -> tuple[list[int], Receipt | None]:
    """Delete every image whose retention (or consent) has run out."""
    actor.require(Action.PURGE)
    now = now or datetime.now(UTC)
    image_ids = engine.catalog.expired_image_ids(now)
    if dry_run:
        return image_ids, None
    details = {"reason": "retention period or consent ended", "as_of": now.isoformat()}
    return image_ids, erase_images(engine, actor, Action.PURGE, image_ids, details)

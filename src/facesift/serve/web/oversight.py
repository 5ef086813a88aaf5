"""Auditors' views of the trail, and the gallery's sources and figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Request

from facesift.errors import InputError
from facesift.govern.roles import PERMISSIONS, Action
from facesift.serve.deps import Engine
from facesift.serve.web.pages import WebRoute, page
from facesift.serve.web.session import (
    SignedIn,
)

AUDIT_ROWS_SHOWN = 500

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


@router.get("/audit")
def audit(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    operator: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
):
    actor.require(Action.AUDIT_SHOW)
    first, last = _day(since, "from"), _day(until, "to")
    start = datetime.combine(first, time.min, UTC) if first else None
    records = engine.audit_records(
        actor, operator=operator.strip() or None, action=action or None, since=start
    )
    if last is not None:
        end = datetime.combine(last + timedelta(days=1), time.min, UTC).isoformat()
        records = [r for r in records if r.at < end]
    shown = list(reversed(records))[:AUDIT_ROWS_SHOWN]
    return page(
        request,
        "audit.html",
        actor,
        records=shown,
        total=len(records),
        limit=AUDIT_ROWS_SHOWN,
        actions=[a.value for a in Action],
        filters={"operator": operator, "action": action, "since": since, "until": until},
        as_json=lambda details: json.dumps(details, sort_keys=True),
    )


@router.get("/audit/verify")
def audit_verify(request: Request, engine: Engine, actor: SignedIn):
    check = engine.audit_verify(actor)
    return page(request, "audit_verify.html", actor, check=check)


# --- the gallery --------------------------------------------------------------------------------


@router.get("/gallery")
def gallery(request: Request, engine: Engine, actor: SignedIn):
    counts = engine.source_sizes(actor)  # SOURCE_LIST
    sources = [(source, *counts.get(source.name, (0, 0))) for source in engine.sources()]
    stats = engine.stats() if Action.STATS in PERMISSIONS[actor.role] else None
    return page(request, "gallery.html", actor, sources=sources, stats=stats)

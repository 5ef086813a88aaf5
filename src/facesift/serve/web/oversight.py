"""Auditors' views of the trail, and the gallery's sources and figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from facesift.errors import InputError
from facesift.govern.audit import AuditFilter
from facesift.govern.roles import PERMISSIONS, Action
from facesift.serve.deps import Engine
from facesift.serve.web.pages import WebRoute, page
from facesift.serve.web.session import SignedIn

AUDIT_PAGE_ROWS = 100

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


def _filter(operator: str, action: str, since: str, until: str, case: str) -> AuditFilter:
    """The auditor's filters; dates are whole UTC days, "to" included."""
    first, last = _day(since, "from"), _day(until, "to")
    return AuditFilter(
        operator=operator.strip() or None,
        action=action or None,
        since=datetime.combine(first, time.min, UTC) if first else None,
        until=datetime.combine(last + timedelta(days=1), time.min, UTC) if last else None,
        case_ref=case.strip() or None,
    )


@router.get("/audit")
def audit(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    operator: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    case: str = "",
    page_number: Annotated[int, Query(alias="page")] = 1,
):
    actor.require(Action.AUDIT_SHOW)
    wanted = _filter(operator, action, since, until, case)
    number = max(1, page_number)
    records, total = engine.audit_page(
        actor, wanted, offset=(number - 1) * AUDIT_PAGE_ROWS, limit=AUDIT_PAGE_ROWS
    )
    filters = {
        "operator": operator,
        "action": action,
        "since": since,
        "until": until,
        "case": case,
    }
    return page(
        request,
        "audit.html",
        actor,
        records=records,
        total=total,
        page_number=number,
        pages=max(1, -(-total // AUDIT_PAGE_ROWS)),
        query="&" + urlencode({k: v for k, v in filters.items() if v}),
        actions=[a.value for a in Action],
        filters=filters,
        may_export=Action.AUDIT_EXPORT in PERMISSIONS[actor.role],
        as_json=lambda details: json.dumps(details, sort_keys=True),
    )


@router.get("/audit/export.{fmt}")
def audit_export(
    engine: Engine,
    actor: SignedIn,
    fmt: str,
    operator: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    case: str = "",
):
    """Every record the filters select, in chain order; the download is itself audited."""
    data, media_type = engine.audit_export(
        actor, _filter(operator, action, since, until, case), fmt
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="facesift-audit-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        },
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

"""Audit trail, bulk erasure and retention purge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from facesift.serve.api.common import AUTHED, problems
from facesift.serve.api.subjects import receipt_out
from facesift.serve.deps import CurrentActor, Engine
from facesift.serve.schemas import AuditCheckOut, AuditRecordOut, ErasureOut

router = APIRouter()


@router.get("/audit", tags=["audit"], responses=AUTHED)
def audit(
    engine: Engine,
    actor: CurrentActor,
    operator: Annotated[str | None, Query(description="Only this operator's records.")] = None,
    action: Annotated[str | None, Query(description="Only this action, e.g. search.")] = None,
    since: Annotated[datetime | None, Query(description="Only records from this time on.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditRecordOut]:
    """Audit records, oldest first (auditors)."""
    records = engine.audit_records(
        actor, operator=operator, action=action, since=since, limit=limit
    )
    return [AuditRecordOut.model_validate(record) for record in records]


@router.get("/audit/verify", tags=["audit"], responses=AUTHED)
def audit_verify(
    engine: Engine,
    actor: CurrentActor,
    checkpoint: Annotated[
        str | None,
        Query(description="SEQ:HASH from an earlier check, kept outside the data directory."),
    ] = None,
) -> AuditCheckOut:
    """Check the hash chain: names the first altered, removed or reordered record, and with a
    checkpoint also a chain that was rewritten and re-sealed."""
    check = engine.audit_verify(actor, checkpoint)
    return AuditCheckOut.model_validate(check)


@router.post("/purge", tags=["erasure"], responses=problems(401, 403, 409, 422, 429))
def purge(
    engine: Engine,
    actor: CurrentActor,
    dry_run: Annotated[bool, Query(description="Only count what would go.")] = False,
) -> ErasureOut:
    """Delete every image whose retention period or consent has ended (admin)."""
    image_ids, receipt = engine.purge(actor, dry_run=dry_run)
    return ErasureOut(
        dry_run=dry_run, images=len(image_ids), receipt=receipt_out(receipt) if receipt else None
    )


@router.post("/erase", tags=["erasure"], responses=problems(401, 403, 409, 422, 429))
def erase(
    engine: Engine,
    actor: CurrentActor,
    jurisdiction: Annotated[str | None, Query(description="ISO code, e.g. GB.")] = None,
    source: Annotated[str | None, Query(description="A source's name.")] = None,
    dry_run: Annotated[bool, Query()] = False,
) -> ErasureOut:
    """Erase everything of one jurisdiction or one source (admin)."""
    image_ids, receipt = engine.erase(
        actor, jurisdiction=jurisdiction, source=source, dry_run=dry_run
    )
    return ErasureOut(
        dry_run=dry_run, images=len(image_ids), receipt=receipt_out(receipt) if receipt else None
    )

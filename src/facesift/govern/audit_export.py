"""Reading the audit trail a page at a time, and downloading it (CSV or JSON). A download
leaves the gallery with everything the trail says (who searched for what, which faces were seen),
so it is itself on the record: who took it, with which filters, how many records."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime

from facesift.errors import InputError
from facesift.govern.audit import (
    AuditEvent,
    AuditFilter,
    AuditRecord,
    AuditRecorder,
    AuditTrail,
    ChainCheck,
    parse_checkpoint,
)
from facesift.govern.roles import Action, Actor
from facesift.text import spreadsheet_inert

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
COLUMNS = tuple(AuditRecord.__dataclass_fields__)


class AuditReader:
    def __init__(self, trail: AuditTrail, audit: AuditRecorder):
        self.trail = trail
        self.audit = audit

    def records(
        self,
        actor: Actor,
        *,
        operator: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        actor.require(Action.AUDIT_SHOW)
        return self.trail.records(actor=operator, action=action, since=since, limit=limit)

    def verify(self, actor: Actor, checkpoint: str | None = None) -> ChainCheck:
        """Check the hash chain; ``checkpoint`` is a ``SEQ:HASH`` an earlier check printed and
        the auditor kept outside the data directory (InputError if it is not one)."""
        actor.require(Action.AUDIT_VERIFY)
        expected = None
        if checkpoint is not None:
            try:
                expected = parse_checkpoint(checkpoint)
            except ValueError as error:
                raise InputError(f"checkpoint: {error}") from None
        return self.trail.verify(expected)

    def page(
        self, actor: Actor, wanted: AuditFilter, offset: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        """Newest first: one page of the matching records, and how many match."""
        actor.require(Action.AUDIT_SHOW)
        return self.trail.page(wanted, offset=offset, limit=limit)

    def export(self, actor: Actor, wanted: AuditFilter, fmt: str) -> tuple[bytes, str]:
        """Every matching record in chain order, as ``fmt`` (csv or json), and its media type.
        The export is recorded after it was built, naming the filters and the records' range."""
        actor.require(Action.AUDIT_EXPORT)
        if fmt not in FORMATS:
            raise InputError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
        records, total = self.trail.page(wanted, newest_first=False)
        data = _as_json(records) if fmt == "json" else _as_csv(records)
        self.audit.record(
            AuditEvent(
                actor,
                Action.AUDIT_EXPORT,
                details={
                    "format": fmt,
                    "filters": wanted.described(),
                    "records": total,
                    "first_seq": records[0].seq if records else None,
                    "last_seq": records[-1].seq if records else None,
                },
            )
        )
        return data, FORMATS[fmt]


def _as_json(records: list[AuditRecord]) -> bytes:
    return json.dumps([asdict(r) for r in records], indent=1, sort_keys=True).encode()


def _as_csv(records: list[AuditRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for record in records:
        row = asdict(record)
        row["details"] = json.dumps(row["details"], sort_keys=True)
        writer.writerow([spreadsheet_inert(str(row[name])) for name in COLUMNS])
    return out.getvalue().encode()

"""Catalog queries for the audit trail's table: append one chained record, read them back.

The chain itself (what is hashed, how it is verified, the head file) is govern/audit.py's; this
module only stores rows, so all SQL on catalog tables stays inside catalog/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from facesift.catalog.tables import audit_log
from facesift.errors import CatalogError

AuditRow = dict[str, Any]
# Several processes append to one chain; a lost race is retried this many times (each retry
# reads the new head). 20 covers the 16-thread server test with room to spare.
APPEND_ATTEMPTS = 20


class AuditLogQueries:
    """Mixed into SqlCatalog (``self.db`` is its SQLAlchemy engine)."""

    db: Engine

    def append_chained(self, build: Callable[[int, str | None], AuditRow]) -> AuditRow:
        """Insert ``build(previous_seq, previous_hash)`` (0 and None on an empty log) in one
        transaction with the read of the head, so a record always follows the last one."""
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                with self.db.begin() as connection:
                    last = connection.execute(
                        select(audit_log.c.seq, audit_log.c.hash)
                        .order_by(audit_log.c.seq.desc())
                        .limit(1)
                    ).first()
                    row = build(last.seq if last else 0, last.hash if last else None)
                    connection.execute(audit_log.insert().values(**row))
                    return row
            except IntegrityError:
                continue  # another process took this sequence number: read the new head, retry
        raise CatalogError("could not append to the audit trail: too much contention")

    def audit_rows(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        query = _filtered(select(audit_log), actor, action, since, None, None)
        query = query.order_by(audit_log.c.seq)
        if limit:
            query = query.limit(limit)
        with self.db.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def audit_page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        case_ref: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> tuple[list[AuditRow], int]:
        """One page of the records matching every filter given (``until`` exclusive), and how
        many match in all."""
        query = _filtered(select(audit_log), actor, action, since, until, case_ref)
        counted = _filtered(
            select(func.count()).select_from(audit_log), actor, action, since, until, case_ref
        )
        order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
        query = query.order_by(order).offset(max(0, offset))
        if limit:
            query = query.limit(limit)
        with self.db.connect() as connection:
            total = connection.execute(counted).scalar_one()
            return [dict(row) for row in connection.execute(query).mappings()], total

    def iter_audit_rows(self) -> Iterator[AuditRow]:
        """Every record in chain order (streamed: a long trail is not held in memory)."""
        with self.db.connect() as connection:
            for row in connection.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
                yield dict(row)


def _filtered(
    query: Select[Any],
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    case_ref: str | None,
) -> Select[Any]:
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action == action)
    if since:
        query = query.where(audit_log.c.at >= since.astimezone(UTC).isoformat())
    if until:
        query = query.where(audit_log.c.at < until.astimezone(UTC).isoformat())
    if case_ref:
        query = query.where(audit_log.c.case_ref == case_ref)
    return query

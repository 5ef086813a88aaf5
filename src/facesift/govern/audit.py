"""The audit trail: typed, append-only, hash-chained records of everything done with the gallery.

Each record holds the SHA-256 of the previous one, so editing, deleting or reordering any record
breaks the chain at that point, and ``verify`` names the first broken record. Deleting records at
the end leaves a valid shorter chain: the head hash is also written to ``audit.head`` beside the
catalog and printed by ``facesift audit verify``, for operators to anchor elsewhere (a ticket, a
notary, another system's log) and compare.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from facesift.catalog.tables import audit_log
from facesift.errors import FaceSiftError
from facesift.govern.roles import Action, Actor

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is sealed into the chain."""

    actor: Actor
    action: Action
    purpose: str = ""
    case_ref: str = ""
    probe_sha256: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    role: str
    action: str
    purpose: str
    case_ref: str
    probe_sha256: str
    details: dict[str, Any]
    gallery_version: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainCheck:
    records: int
    head: str
    first_broken: int | None
    problem: str

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def seal(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hashed_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: record[k]
        for k in (
            "seq",
            "at",
            "actor",
            "role",
            "action",
            "purpose",
            "case_ref",
            "probe_sha256",
            "details",
            "gallery_version",
            "prev_hash",
        )
    }


class AuditTrail:
    def __init__(self, engine: Engine, head_file: Path | None = None):
        self.engine = engine
        self.head_file = head_file
        self._head_lock = threading.Lock()

    def append(self, event: AuditEvent, gallery_version: int) -> AuditRecord:
        """Seal and store ``event``; call only after the write it describes has committed."""
        details = json.loads(json.dumps(event.details, default=str))
        for _attempt in range(20):
            try:
                with self.engine.begin() as connection:
                    last = connection.execute(
                        select(audit_log.c.seq, audit_log.c.hash)
                        .order_by(audit_log.c.seq.desc())
                        .limit(1)
                    ).first()
                    record = {
                        "seq": (last.seq + 1) if last else 1,
                        "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                        "actor": event.actor.name,
                        "role": event.actor.role.value,
                        "action": event.action.value,
                        "purpose": event.purpose,
                        "case_ref": event.case_ref,
                        "probe_sha256": event.probe_sha256,
                        "details": details,
                        "gallery_version": gallery_version,
                        "prev_hash": last.hash if last else GENESIS,
                    }
                    record["hash"] = seal(record)
                    connection.execute(audit_log.insert().values(**record))
            except IntegrityError:
                continue  # another process took this sequence number: read the new head, retry
            if self.head_file is not None:
                self._advance_head(record["seq"], record["hash"])
            return AuditRecord(**record)
        raise FaceSiftError("could not append to the audit trail: too much contention")

    def _advance_head(self, seq: int, head: str) -> None:
        """Write the head file, never moving it back: threads (a server's requests) append
        concurrently and may finish out of order. Each writes its own temporary file."""
        with self._head_lock:
            try:
                current = int(self.head_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                current = 0
            if seq <= current:
                return
            handle, tmp = tempfile.mkstemp(dir=self.head_file.parent, prefix=".audit.head.")
            with os.fdopen(handle, "w") as out:
                out.write(f"{seq} {head}\n")
            os.replace(tmp, self.head_file)

    def records(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        query = select(audit_log).order_by(audit_log.c.seq)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        if action:
            query = query.where(audit_log.c.action == action)
        if since:
            query = query.where(audit_log.c.at >= since.astimezone(UTC).isoformat())
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [AuditRecord(**dict(row)) for row in connection.execute(query).mappings()]

    def verify(self) -> ChainCheck:
        expected_prev, expected_seq, count = GENESIS, 1, 0
        with self.engine.connect() as connection:
            for row in connection.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
                record = dict(row)
                count += 1
                if record["seq"] != expected_seq:
                    return ChainCheck(
                        count,
                        expected_prev,
                        expected_seq,
                        f"record {expected_seq} is missing (next is {record['seq']})",
                    )
                if record["prev_hash"] != expected_prev:
                    return ChainCheck(
                        count,
                        expected_prev,
                        record["seq"],
                        f"record {record['seq']} does not follow record "
                        f"{record['seq'] - 1} (deleted, inserted or reordered)",
                    )
                if seal(_hashed_fields(record)) != record["hash"]:
                    return ChainCheck(
                        count,
                        expected_prev,
                        record["seq"],
                        f"record {record['seq']} was altered after it was written",
                    )
                expected_prev, expected_seq = record["hash"], expected_seq + 1
        if self.head_file is not None and self.head_file.exists():
            seq, head = self.head_file.read_text().split()
            if int(seq) != expected_seq - 1 or head != expected_prev:
                return ChainCheck(
                    count,
                    expected_prev,
                    int(seq),
                    f"chain ends at record {expected_seq - 1} but {self.head_file.name} "
                    f"records head {seq}: records were removed from the end",
                )
        return ChainCheck(count, expected_prev, None, "")

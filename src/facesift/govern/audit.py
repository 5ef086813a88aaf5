"""The audit trail: typed, append-only, hash-chained records of everything done with the gallery.

Each record holds the SHA-256 of the previous one (sealed as govern/chain.py says), so editing,
deleting or reordering any record breaks the chain at that point, and ``verify`` names the first
broken record. Deleting records at the end leaves a valid shorter chain: the head hash is also
written to ``audit.head`` beside the catalog and printed by ``facesift audit verify``, for
operators to anchor elsewhere (a ticket, a notary, another system's log) and compare. Several
hosts sharing one catalog (PostgreSQL) each keep their own ``audit.head``: the chain may have
grown past it, but must still hold that record.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesift.catalog.base import AuditLog
from facesift.govern.chain import GENESIS, record_hash, sealed_correctly
from facesift.govern.roles import Action, Actor


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
class AuditFilter:
    """Which records an auditor asks for: every field given must match (``until`` exclusive)."""

    operator: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    case_ref: str | None = None

    def described(self) -> dict[str, str]:
        """The filters given, as an export's audit record states them."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in vars(self).items()
            if value
        }


@dataclass(frozen=True)
class ChainCheck:
    records: int
    head: str
    first_broken: int | None
    problem: str

    @property
    def intact(self) -> bool:
        return self.first_broken is None


class AuditTrail:
    """The hash chain over the catalog's audit log (its ``AuditLog`` role), anchored by a head
    file in this data directory."""

    def __init__(
        self,
        log: AuditLog,
        head_file: Path | None = None,
        has_history: Callable[[], bool] = lambda: False,
    ):
        """``has_history`` says whether the gallery has done anything that was audited (it has
        operators: creating the first was), so that an empty trail is recognised as emptied."""
        self.log = log
        self.head_file = head_file
        self.has_history = has_history
        self._head_lock = threading.Lock()

    def append(self, event: AuditEvent, gallery_version: int) -> AuditRecord:
        """Seal and store ``event``; call only after the write it describes has committed."""
        details = json.loads(json.dumps(event.details, default=str))

        def next_record(last_seq: int, last_hash: str | None) -> dict[str, Any]:
            record: dict[str, Any] = {
                "seq": last_seq + 1,
                "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": event.actor.name,
                "role": event.actor.role.value,
                "action": event.action.value,
                "purpose": event.purpose,
                "case_ref": event.case_ref,
                "probe_sha256": event.probe_sha256,
                "details": details,
                "gallery_version": gallery_version,
                "prev_hash": last_hash or GENESIS,
            }
            record["hash"] = record_hash(record)
            return record

        record = self.log.append_chained(next_record)
        if self.head_file is not None:
            self._advance_head(self.head_file, record["seq"], record["hash"])
        return AuditRecord(**record)

    def _advance_head(self, head_file: Path, seq: int, head: str) -> None:
        """Write the head file, never moving it back: threads (a server's requests) append
        concurrently and may finish out of order. Each writes its own temporary file."""
        with self._head_lock:
            try:
                current = int(head_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                current = 0
            if seq <= current:
                return
            handle, tmp = tempfile.mkstemp(dir=head_file.parent, prefix=".audit.head.")
            with os.fdopen(handle, "w") as out:
                out.write(f"{seq} {head}\n")
            os.replace(tmp, head_file)

    def records(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        rows = self.log.audit_rows(actor=actor, action=action, since=since, limit=limit)
        return [AuditRecord(**row) for row in rows]

    def page(
        self,
        wanted: AuditFilter,
        *,
        offset: int = 0,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> tuple[list[AuditRecord], int]:
        """The records ``wanted`` selects, a page at a time, and how many it selects in all."""
        rows, total = self.log.audit_page(
            actor=wanted.operator,
            action=wanted.action,
            since=wanted.since,
            until=wanted.until,
            case_ref=wanted.case_ref,
            offset=offset,
            limit=limit,
            newest_first=newest_first,
        )
        return [AuditRecord(**row) for row in rows], total

    def verify(self, checkpoint: tuple[int, str] | None = None) -> ChainCheck:
        """Check the chain, and that it still holds the head this data directory recorded and
        the ``checkpoint`` (seq, hash) an auditor exported earlier, if given. The head file lies
        beside the catalog, so someone who can rewrite both could re-seal a shortened or edited
        chain and its head; a checkpoint kept outside the data directory catches that."""
        try:
            anchor = self._anchor()
        except ValueError as error:
            name = self.head_file.name if self.head_file else "audit.head"
            return ChainCheck(
                0,
                GENESIS,
                0,
                f"{name} is damaged ({error}): it cannot show that no records were removed "
                "from the end; restore it from a backup, or check against a checkpoint you "
                "exported (SEQ:HASH)",
            )
        seq, expected = checkpoint if checkpoint is not None else (0, "")
        check, hash_at_seq = self._verify_chain(anchor, seq)
        if not check.intact or checkpoint is None:
            return check
        if seq > check.records:
            return ChainCheck(
                check.records,
                check.head,
                seq,
                f"chain ends at record {check.records} but your checkpoint is record {seq}: "
                "records were removed and the chain re-sealed",
            )
        if hash_at_seq != expected:
            return ChainCheck(
                check.records,
                check.head,
                seq,
                f"record {seq} is not the one in your checkpoint: the chain was rewritten and "
                "re-sealed from there on",
            )
        return check

    def _verify_chain(
        self, anchor: tuple[int, str] | None, checkpoint_seq: int
    ) -> tuple[ChainCheck, str | None]:
        """The chain's check, and the hash of record ``checkpoint_seq`` if it has one."""
        anchored_hash = hash_at_checkpoint = None
        expected_prev, expected_seq, count = GENESIS, 1, 0
        for record in self.log.iter_audit_rows():
            count += 1
            problem = ""
            if record["seq"] != expected_seq:
                problem = f"record {expected_seq} is missing (next is {record['seq']})"
                broken = expected_seq
            elif record["prev_hash"] != expected_prev:
                problem = (
                    f"record {record['seq']} does not follow record "
                    f"{record['seq'] - 1} (deleted, inserted or reordered)"
                )
                broken = record["seq"]
            elif not sealed_correctly(record):
                problem = f"record {record['seq']} was altered after it was written"
                broken = record["seq"]
            if problem:
                return ChainCheck(count, expected_prev, broken, problem), None
            if anchor is not None and record["seq"] == anchor[0]:
                anchored_hash = record["hash"]
            if record["seq"] == checkpoint_seq:
                hash_at_checkpoint = record["hash"]
            expected_prev, expected_seq = record["hash"], expected_seq + 1
        if anchor is not None and anchored_hash != anchor[1]:
            seq, head_name = anchor[0], self.head_file.name if self.head_file else "audit.head"
            if seq > count:
                problem = (
                    f"chain ends at record {count} but {head_name} records head "
                    f"{seq}: records were removed from the end"
                )
            else:
                problem = (
                    f"record {seq} is not the one {head_name} recorded: the end of "
                    "the chain was removed and rewritten"
                )
            return ChainCheck(count, expected_prev, seq, problem), None
        if count == 0 and self.has_history():
            problem = (
                "the audit trail is empty, but this gallery has operators, and creating the "
                "first one was audited: every record was deleted"
            )
            return ChainCheck(0, GENESIS, 1, problem), None
        return ChainCheck(count, expected_prev, None, ""), hash_at_checkpoint

    def _anchor(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record this data directory appended, if it keeps one."""
        if self.head_file is None or not self.head_file.exists():
            return None
        return parse_checkpoint(self.head_file.read_text().strip().replace(" ", ":"))


def parse_checkpoint(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` (as ``audit verify`` prints it) as (seq, hash); ValueError says why not."""
    seq, _, head = text.strip().partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(head) != 64 or head.strip("0123456789abcdef"):
        raise ValueError(f"{text[:80]!r} is not SEQ:HASH (a record number and a 64-digit hash)")
    return int(seq), head


class AuditRecorder:
    """What a service records through: events appended with the gallery version they follow.
    Call only after the write an event describes has committed."""

    def __init__(self, trail: AuditTrail, gallery_version: Callable[[], int]):
        self.trail = trail
        self.gallery_version = gallery_version

    def record(self, event: AuditEvent) -> AuditRecord:
        return self.trail.append(event, self.gallery_version())

"""Operators and the audit trail, as the facade offers them (govern/operators.py, govern/audit*)."""

from __future__ import annotations

from datetime import datetime

from facesift.errors import FaceSiftError
from facesift.govern.audit import AuditFilter, AuditRecord, ChainCheck
from facesift.govern.audit_export import AuditReader
from facesift.govern.operators import OperatorAdmin, OperatorRegistry
from facesift.govern.roles import Actor, Role
from facesift.ingest.sources import SourceRegistry


class OversightOperations:
    """Who may act, and the record of what they did."""

    operators: OperatorRegistry
    operator_admin: OperatorAdmin
    source_registry: SourceRegistry
    audit_reader: AuditReader

    def operator(self, *, name: str | None = None, key: str | None = None) -> Actor:
        """The acting operator, by API key or (for the local CLI) by name."""
        if key:
            return self.operators.by_key(key)
        if name:
            return self.operators.by_name(name)
        raise FaceSiftError(
            "who is acting? set FACESIFT_OPERATOR (your operator name) or FACESIFT_API_KEY"
        )

    def operator_by_key_digest(self, digest: str) -> Actor:
        """The operator of a web session (which keeps the key's digest, never the key)."""
        return self.operators.by_key_digest(digest)

    def create_first_admin(self, name: str) -> str | None:
        """On a new gallery, create the first administrator and return its key (else None)."""
        return self.operator_admin.create_first_admin(name)

    def add_operator(self, actor: Actor, name: str, role: Role | str) -> str:
        return self.operator_admin.add(actor, name, role)

    def list_operators(self, actor: Actor) -> list[tuple[Actor, datetime]]:
        return self.operator_admin.list(actor)

    def disable_operator(self, actor: Actor, name: str) -> Actor:
        return self.operator_admin.disable(actor, name)

    def rotate_operator_key(self, actor: Actor, name: str) -> tuple[Actor, str]:
        return self.operator_admin.rotate_key(actor, name)

    def scope_operator(self, actor: Actor, name: str, sources: list[str] | None) -> Actor:
        """Limit an operator's searches to ``sources`` (None: every source)."""
        known = {source.name for source in self.source_registry.all()}
        return self.operator_admin.scope(actor, name, sources, known)

    def audit_records(
        self,
        actor: Actor,
        *,
        operator: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        return self.audit_reader.records(
            actor, operator=operator, action=action, since=since, limit=limit
        )

    def audit_verify(self, actor: Actor, checkpoint: str | None = None) -> ChainCheck:
        """Check the hash chain; ``checkpoint`` is a ``SEQ:HASH`` an earlier check printed and
        the auditor kept outside the data directory (InputError if it is not one)."""
        return self.audit_reader.verify(actor, checkpoint)

    def audit_page(
        self, actor: Actor, wanted: AuditFilter, offset: int = 0, limit: int = 100
    ) -> tuple[list[AuditRecord], int]:
        return self.audit_reader.page(actor, wanted, offset, limit)

    def audit_export(self, actor: Actor, wanted: AuditFilter, fmt: str) -> tuple[bytes, str]:
        return self.audit_reader.export(actor, wanted, fmt)

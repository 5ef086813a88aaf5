"""Declared sources: every image enters through one, with its lawful basis, purpose,
jurisdiction, retention and controller; declaring one is audited."""

from __future__ import annotations

from datetime import UTC, datetime

from facesift.catalog.base import Sources
from facesift.errors import SourceError
from facesift.govern.audit import AuditEvent, AuditRecorder
from facesift.govern.roles import Action, Actor
from facesift.types import LawfulBasis, Source


class SourceRegistry:
    def __init__(self, sources: Sources, audit: AuditRecorder, max_retention_days: int):
        self.sources = sources
        self.audit = audit
        self.max_retention_days = max_retention_days

    def add(
        self,
        actor: Actor,
        name: str,
        lawful_basis: LawfulBasis | str,
        jurisdiction: str,
        retention_days: int,
        *,
        purpose: str,
        controller: str,
        description: str = "",
    ) -> Source:
        actor.require(Action.SOURCE_ADD)
        if retention_days > self.max_retention_days:
            raise SourceError(
                f"source {name!r}: retention of {retention_days} days is over this deployment's "
                f"limit of {self.max_retention_days} (FACESIFT_MAX_RETENTION_DAYS); keep images "
                "no longer than the purpose needs"
            )
        source = self.sources.add_source(
            name,
            lawful_basis,  # type: ignore[arg-type]  # the catalog checks and converts the name
            jurisdiction,
            retention_days,
            description,
            purpose=purpose,
            controller=controller,
        )
        self.audit.record(
            AuditEvent(
                actor,
                Action.SOURCE_ADD,
                purpose=purpose,
                details={
                    "source": source.name,
                    "lawful_basis": source.lawful_basis.value,
                    "jurisdiction": source.jurisdiction,
                    "retention_days": source.retention_days,
                    "controller": source.controller,
                },
            )
        )
        return source

    def edit(
        self, actor: Actor, name: str, *, description: str, purpose: str, controller: str
    ) -> Source:
        """Change a source's description, purpose or controller. Its lawful basis, jurisdiction
        and retention are the terms its images were collected under and stay as declared: to
        hold images on other terms, declare a new source (and retire this one)."""
        actor.require(Action.SOURCE_EDIT)
        before, after = self.sources.edit_source(
            name, description=description, purpose=purpose, controller=controller
        )
        changed = {
            field: {"from": getattr(before, field), "to": getattr(after, field)}
            for field in ("description", "purpose", "controller")
            if getattr(before, field) != getattr(after, field)
        }
        self.audit.record(
            AuditEvent(
                actor,
                Action.SOURCE_EDIT,
                purpose=after.purpose,
                details={"source": after.name, "changed": changed},
            )
        )
        return after

    def retire(self, actor: Actor, name: str) -> Source:
        """Close a source to new ingest. Its images are kept until their retention ends or an
        administrator erases the source (``erase(source=...)``), a separate, explicit act."""
        actor.require(Action.SOURCE_RETIRE)
        retired = self.sources.retire_source(name, datetime.now(UTC))
        self.audit.record(AuditEvent(actor, Action.SOURCE_RETIRE, details={"source": retired.name}))
        return retired

    def all(self) -> list[Source]:
        return self.sources.list_sources()

    def get(self, actor: Actor, name: str) -> Source:
        """One declared source (unknown: SourceError)."""
        actor.require(Action.SOURCE_LIST)
        return self.sources.get_source(name)

    def sizes(self, actor: Actor) -> dict[str, tuple[int, int]]:
        """Images and faces per source name."""
        actor.require(Action.SOURCE_LIST)
        return self.sources.source_counts()

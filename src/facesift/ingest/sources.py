"""Declared sources: every image enters through one, with its lawful basis, purpose,
jurisdiction, retention and controller; declaring one is audited."""

from __future__ import annotations

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

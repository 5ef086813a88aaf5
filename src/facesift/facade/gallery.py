"""The gallery's sources, ingest and re-embedding, as the facade offers them (ingest/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facesift.govern.roles import Actor
from facesift.ingest.jobs import Ingestor, IngestReport
from facesift.ingest.reembed import Reembedder, ReembedReport
from facesift.ingest.sources import SourceRegistry
from facesift.types import LawfulBasis, Source


class GalleryOperations:
    """What goes into the gallery: declared sources, ingest, re-embedding."""

    source_registry: SourceRegistry
    ingestor: Ingestor
    reembedder: Reembedder

    def add_source(
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
        return self.source_registry.add(
            actor,
            name,
            lawful_basis,
            jurisdiction,
            retention_days,
            purpose=purpose,
            controller=controller,
            description=description,
        )

    def sources(self) -> list[Source]:
        return self.source_registry.all()

    def source(self, actor: Actor, name: str) -> Source:
        """One declared source (unknown: SourceError)."""
        return self.source_registry.get(actor, name)

    def source_sizes(self, actor: Actor) -> dict[str, tuple[int, int]]:
        """Images and faces per source name."""
        return self.source_registry.sizes(actor)

    def edit_source(
        self, actor: Actor, name: str, *, description: str, purpose: str, controller: str
    ) -> Source:
        return self.source_registry.edit(
            actor, name, description=description, purpose=purpose, controller=controller
        )

    def retire_source(self, actor: Actor, name: str) -> Source:
        return self.source_registry.retire(actor, name)

    def ingest(
        self,
        actor: Actor,
        paths: list[Path],
        source: str,
        *,
        manifest: Path | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        ray_address: str | None = None,
    ) -> IngestReport:
        return self.ingestor.ingest(
            actor,
            paths,
            source,
            manifest=manifest,
            on_total=on_total,
            on_progress=on_progress,
            ray_address=ray_address,
        )

    def reembed(
        self,
        actor: Actor,
        *,
        drop_uncarried_optouts: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ReembedReport:
        """Re-analyse every stored image with the configured models into their space, then
        switch catalog and index to it at once (see ingest/reembed.py). Resumable."""
        return self.reembedder.reembed(
            actor,
            drop_uncarried_optouts=drop_uncarried_optouts,
            on_total=on_total,
            on_progress=on_progress,
        )

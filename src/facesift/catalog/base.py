"""The Catalog protocol: what the engine needs from a durable store of sources, images and faces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from facesift.ingest.manifests import Provenance
from facesift.types import (
    AnalysedImage,
    BoundingBox,
    EmbeddingSpace,
    FaceTags,
    LawfulBasis,
    Source,
)


@dataclass(frozen=True, eq=False)
class NewImage:
    """An analysed image ready to be recorded under a source."""

    source_id: int
    analysed: AnalysedImage
    expires_at: datetime | None = None
    provenance: Provenance | None = None


@dataclass(frozen=True)
class StoredFace:
    """A gallery face with its image and source: what a search hit needs to show provenance."""

    face_id: int
    box: BoundingBox
    image_id: int
    image_path: str
    image_sha256: str
    ingested_at: datetime
    source: str
    lawful_basis: str
    jurisdiction: str


@dataclass(frozen=True)
class CatalogCounts:
    sources: int
    images: int
    faces: int
    images_without_faces: int


class Catalog(Protocol):
    def add_source(
        self,
        name: str,
        lawful_basis: LawfulBasis,
        jurisdiction: str,
        retention_days: int,
        description: str,
        *,
        purpose: str,
        controller: str,
    ) -> Source: ...

    def get_source(self, name: str) -> Source: ...

    def list_sources(self) -> list[Source]: ...

    def known_hashes(self, hashes: Iterable[str]) -> set[str]: ...

    def add_images(
        self, batch: list[NewImage], space: EmbeddingSpace
    ) -> tuple[list[int], np.ndarray]:
        """Record a batch in one transaction; return the new face ids and their embeddings."""
        ...

    def stored_faces(self, face_ids: Iterable[int]) -> dict[int, StoredFace]: ...

    def face_ids(self) -> np.ndarray: ...

    def embeddings(self, face_ids: np.ndarray) -> np.ndarray: ...

    def face_tags(self, face_ids: np.ndarray) -> FaceTags:
        """Source id and effective jurisdiction of each face, in the order given."""
        ...

    def iter_embeddings(
        self, batch_size: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def version(self) -> int: ...

    def embedding_space(self) -> str | None: ...

    def counts(self) -> CatalogCounts: ...

    def close(self) -> None: ...

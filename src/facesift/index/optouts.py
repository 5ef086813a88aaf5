"""The do-not-index list as one object: opt-out templates on a FAISS index, queried in chunks.

Ingest, search, clustering, duplicates and re-embed all ask it which vectors belong to someone
who opted out. A vector matches when its nearest template is within the threshold the matching
policy gives (search/policy.py). FAISS finds the nearest template for a chunk of vectors at a
time, so memory stays bounded (chunk x templates distances) however large the gallery: the
(n, m, d) difference array this replaces was about 1 GiB at 100k faces x 10 opt-outs. The
distance of each vector to its nearest template is then recomputed exactly, in the space's one
distance, so a face on the threshold is decided as every other caller decides it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import faiss
import numpy as np

from facesift.errors import SpaceMismatchError
from facesift.types import EmbeddingSpace

CHUNK = 4096  # vectors per FAISS query: FAISS's BLAS path, a few MB of distances


class OptOutTemplates(Protocol):
    def optout_templates(self) -> tuple[list[str], np.ndarray]: ...


class OptOutMatcher:
    """The templates as they were when loaded (an ingest run keeps one for its whole run)."""

    def __init__(
        self,
        space: EmbeddingSpace,
        references: list[str],
        templates: np.ndarray,
        threshold: Callable[[], float],
    ):
        self.space = space
        self.threshold = threshold
        self.references = references
        templates = np.ascontiguousarray(templates, dtype=np.float32)
        if len(references) and templates.shape[1] != space.dimension:
            raise SpaceMismatchError(
                space.key, f"{templates.shape[1]}-dimensional templates", "the do-not-index list"
            )
        self.templates = templates.reshape(len(references), space.dimension)
        self._index = faiss.IndexFlatL2(space.dimension)
        if len(self.templates):
            self._index.add(self.templates)

    def __len__(self) -> int:
        return len(self.references)

    def nearest(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each vector, its nearest template's row and the distance to it (inf if none)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.space.dimension)
        rows = np.full(len(vectors), -1, dtype=np.int64)
        distances = np.full(len(vectors), np.inf, dtype=np.float64)
        if len(self.templates) == 0:
            return rows, distances
        for start in range(0, len(vectors), CHUNK):
            chunk = vectors[start : start + CHUNK]
            _, found = self._index.search(chunk, 1)
            nearest = found[:, 0]
            rows[start : start + len(chunk)] = nearest
            differences = chunk.astype(np.float64) - self.templates[nearest].astype(np.float64)
            distances[start : start + len(chunk)] = np.linalg.norm(differences, axis=1)
        return rows, distances

    def matches(self, vectors: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Which of ``vectors`` belong to someone on the list (a boolean mask), at the policy's
        opt-out threshold unless one is given. An empty list needs no threshold (nor a
        calibration)."""
        if len(vectors) == 0 or len(self.templates) == 0:
            return np.zeros(len(vectors), dtype=bool)
        _, distances = self.nearest(vectors)
        return np.asarray(distances <= (self.threshold() if threshold is None else threshold))

    def references_matching(self, vector: np.ndarray) -> list[str]:
        """The references of every template that matches one vector (to withdraw an opt-out)."""
        if len(self.templates) == 0:
            return []
        distances = self.space.distances(vector[None, :], self.templates)[0]
        limit = self.threshold()
        return [ref for ref, d in zip(self.references, distances, strict=True) if d <= limit]


class OptOutList:
    """The catalog's do-not-index list; ``matcher()`` loads its current templates."""

    def __init__(
        self, store: OptOutTemplates, space: EmbeddingSpace, threshold: Callable[[], float]
    ):
        self.store = store
        self.space = space
        self.threshold = threshold  # the matching policy's, asked only when there are templates

    def matcher(self) -> OptOutMatcher:
        references, templates = self.store.optout_templates()
        return OptOutMatcher(self.space, references, templates, self.threshold)

    def matches(self, vectors: np.ndarray, threshold: float | None = None) -> np.ndarray:
        return self.matcher().matches(vectors, threshold)

"""The VectorIndex protocol. An index holds (face id, vector) pairs of one embedding space."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from facesift.types import EmbeddingSpace


class VectorIndex(Protocol):
    space: EmbeddingSpace

    @property
    def kind(self) -> str:
        """Human-readable index type, e.g. ``exact (flat)`` or ``ivf1024``."""
        ...

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> int: ...

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (distances, ids), each (n, k); distances in the space's metric, ids -1 if none."""
        ...

    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector within ``radius``: (ids, distances), nearest first."""
        ...

    def ids(self) -> np.ndarray: ...

    def save(self, catalog_version: int) -> None: ...

    @property
    def catalog_version(self) -> int | None:
        """The catalog version this index last reflected when saved (None: never saved)."""
        ...

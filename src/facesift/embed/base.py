"""The Embedder protocol and the registry that builds embedders by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from facesift.errors import BackendNotFound
from facesift.types import ChipSpec, EmbeddingSpace


class Embedder(Protocol):
    """Turns aligned chips (as declared by ``chip``) into float32 vectors of ``space``."""

    name: str
    space: EmbeddingSpace
    chip: ChipSpec

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Return an array of shape (len(chips), space.dimension), dtype float32."""
        ...


# A factory is a class (or object) with a ``space`` attribute, callable with no arguments.
EmbedderFactory = Callable[[], Embedder]
_REGISTRY: dict[str, EmbedderFactory] = {}


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    _REGISTRY[name] = factory


def available_embedders() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def embedding_space_of(name: str) -> EmbeddingSpace:
    """The space an embedder produces, known without loading its model."""
    _load_builtins()
    if name not in _REGISTRY:
        raise BackendNotFound("embedder", name, list(_REGISTRY))
    return _REGISTRY[name].space  # type: ignore[attr-defined]


def create_embedder(name: str) -> Embedder:
    _load_builtins()
    if name not in _REGISTRY:
        raise BackendNotFound("embedder", name, list(_REGISTRY))
    return _REGISTRY[name]()


def _load_builtins() -> None:
    from facesift.embed import dlib_resnet  # noqa: F401

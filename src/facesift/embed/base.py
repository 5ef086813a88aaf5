"""The Embedder protocol and the registry that builds embedders by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from facesift.errors import BackendNotFound
from facesift.types import ChipSpec, EmbeddingSpace

if TYPE_CHECKING:
    from facesift.config import Settings


class Embedder(Protocol):
    """Turns aligned chips (as declared by ``chip``) into float32 vectors of ``space``."""

    name: str
    space: EmbeddingSpace
    chip: ChipSpec

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Return an array of shape (len(chips), space.dimension), dtype float32."""
        ...


# A factory is a class (or object) callable with no arguments with a ``space`` attribute, or,
# when what it builds depends on the settings (a model file the operator names), one with
# ``from_settings(settings)`` and ``space_for(settings)``.
EmbedderFactory = Callable[[], Embedder]
_REGISTRY: dict[str, EmbedderFactory] = {}


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    _REGISTRY[name] = factory


def available_embedders() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def embedding_space_of(name: str, settings: Settings | None = None) -> EmbeddingSpace:
    """The space an embedder produces, known without loading its model."""
    factory = _factory(name)
    if hasattr(factory, "space_for"):
        return factory.space_for(settings or _default_settings())
    return factory.space  # type: ignore[attr-defined]


def create_embedder(name: str, settings: Settings | None = None) -> Embedder:
    factory = _factory(name)
    if hasattr(factory, "from_settings"):
        return factory.from_settings(settings or _default_settings())
    return factory()


def _factory(name: str) -> EmbedderFactory:
    _load_builtins()
    if name not in _REGISTRY:
        raise BackendNotFound("embedder", name, list(_REGISTRY))
    return _REGISTRY[name]


def _default_settings() -> Settings:
    from facesift.config import Settings

    return Settings()


def _load_builtins() -> None:
    # onnx_arcface and reid_0095 import their runtimes only when a model is opened, so they
    # always register.
    from facesift.embed import dlib_resnet, onnx_arcface, reid_0095  # noqa: F401

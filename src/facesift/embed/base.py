"""The Embedder protocol and the registry that builds embedders by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from facesift.registry import Registry
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


def _load_builtins() -> None:
    # onnx_arcface and reid_0095 import their runtimes only when a model is opened, so they
    # always register.
    from facesift.embed import dlib_resnet, onnx_arcface, reid_0095  # noqa: F401


EMBEDDERS: Registry[EmbedderFactory] = Registry("embedder", _load_builtins)


def register_embedder(name: str, factory: EmbedderFactory | type[Any]) -> None:
    EMBEDDERS.register(name, factory)


def available_embedders() -> list[str]:
    return EMBEDDERS.names()


def embedding_space_of(name: str, settings: Settings | None = None) -> EmbeddingSpace:
    """The space an embedder produces, known without loading its model."""
    factory: Any = EMBEDDERS.get(name)
    space: EmbeddingSpace
    if hasattr(factory, "space_for"):
        space = factory.space_for(settings or _default_settings())
    else:
        space = factory.space
    return space


def releases_gil(name: str) -> bool:
    """Whether embedder ``name`` declares that it runs without Python's GIL (see
    detect.base.releases_gil)."""
    return bool(getattr(EMBEDDERS.find(name), "releases_gil", False))


def create_embedder(name: str, settings: Settings | None = None) -> Embedder:
    factory: Any = EMBEDDERS.get(name)
    embedder: Embedder
    if hasattr(factory, "from_settings"):
        embedder = factory.from_settings(settings or _default_settings())
    else:
        embedder = factory()
    return embedder


def _default_settings() -> Settings:
    from facesift.config import Settings

    return Settings()

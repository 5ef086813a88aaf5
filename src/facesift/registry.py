"""One registry style for every backend kind (detector, embedder, vector index).

Each kind keeps one ``Registry`` in its ``base`` module; built-ins register exactly as a third-party
backend would (``register_detector(name, factory)``), and are imported on first use so that an
optional extra is only needed when its backend is chosen. An unknown name lists the known ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from facesift.errors import BackendNotFound

F = TypeVar("F")


class Registry(Generic[F]):
    def __init__(self, kind: str, load_builtins: Callable[[], None]):
        self.kind = kind
        self._load_builtins = load_builtins
        self._factories: dict[str, F] = {}
        self._loaded = False
        # A server's first requests look up backends on several threads at once: the others
        # must wait until every built-in has registered, not see a half-filled registry
        # (that answered "unknown detector backend 'yunet'"). Re-entrant: a built-in's import
        # may itself look a backend up.
        self._loading = threading.RLock()

    def register(self, name: str, factory: F) -> None:
        self._factories[name] = factory

    def _ensure_builtins(self) -> None:
        if self._loaded:
            return
        with self._loading:
            if not self._loaded:
                self._load_builtins()
                self._loaded = True

    def names(self) -> list[str]:
        self._ensure_builtins()
        return sorted(self._factories)

    def get(self, name: str) -> F:
        """The factory registered as ``name``; BackendNotFound lists the known names."""
        self._ensure_builtins()
        try:
            return self._factories[name]
        except KeyError:
            raise BackendNotFound(self.kind, name, list(self._factories)) from None

    def find(self, name: str) -> F | None:
        self._ensure_builtins()
        return self._factories.get(name)

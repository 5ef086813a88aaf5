"""One exception tree for facesift. Every error names the input it is about.

    FaceSiftError
    ├── ConfigError                 bad settings, unknown backend name
    │   └── BackendNotFound
    ├── InputError                  something a user handed us is unusable
    │   ├── ImageError              not an image, corrupt, truncated, too large
    │   ├── NoFaceError             a probe or selfie has no usable face
    │   └── AmbiguousFaceError      a probe has several faces where one was needed
    ├── SourceError                 source missing, unknown lawful basis, duplicate name
    ├── GalleryBusyError            another writer (ingest, erasure) holds the gallery
    ├── CatalogError                catalog cannot be opened or migrated
    └── IndexError_                 vector index problems
        └── SpaceMismatchError      vectors from another embedding space

Errors are translated once at each edge: the CLI prints ``str(error)`` and exits non-zero;
nothing below the edges catches-and-hides them.
"""

from __future__ import annotations


class FaceSiftError(Exception):
    """Base of every error facesift raises on purpose."""

    exit_code = 1


class ConfigError(FaceSiftError):
    exit_code = 2


class BackendNotFound(ConfigError):
    def __init__(self, kind: str, name: str, known: list[str]):
        super().__init__(f"unknown {kind} backend {name!r}; known: {', '.join(sorted(known))}")
        self.kind, self.name, self.known = kind, name, known


class InputError(FaceSiftError):
    exit_code = 3


class ImageError(InputError):
    """An image file could not be used. ``path`` names it; the message says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class NoFaceError(InputError):
    def __init__(self, path: str):
        super().__init__(f"{path}: no face found (faces smaller than the minimum size are ignored)")
        self.path = path


class AmbiguousFaceError(InputError):
    def __init__(self, path: str, count: int):
        super().__init__(f"{path}: {count} faces found; choose one with --face N (1..{count})")
        self.path, self.count = path, count


class SourceError(FaceSiftError):
    exit_code = 4


class GalleryBusyError(FaceSiftError):
    """Another ingest or erasure is writing to this gallery; try again when it has finished."""

    exit_code = 8


class CatalogError(FaceSiftError):
    exit_code = 5


class IndexError_(FaceSiftError):  # trailing underscore: do not shadow the builtin IndexError
    exit_code = 6


class SpaceMismatchError(IndexError_):
    """Vectors of two embedding spaces (models) would be mixed: their distances mean nothing."""

    def __init__(self, expected: str, got: str, holder: str = "index"):
        super().__init__(
            f"embedding space mismatch: {holder} holds {expected}, got {got}; to switch models, "
            "run `facesift reembed` as an administrator (re-analyses every image into the new "
            "space, then switches), or configure the models the gallery was built with"
        )
        self.expected, self.got = expected, got

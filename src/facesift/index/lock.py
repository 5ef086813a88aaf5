"""One writer per gallery: a file lock in the data directory (the index lives there) plus, for a
catalog that several hosts can share (PostgreSQL), the catalog's own lock. The gallery writer
holds it for every write; the index keeper asks whether it may save (only the writer saves)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

from facesift.errors import GalleryBusyError


class GalleryLock:
    def __init__(self, data_dir: Path, catalog_lock: Callable[[], AbstractContextManager[None]]):
        self.path = data_dir / ".writer.lock"
        self.catalog_lock = catalog_lock
        self._held: IO[str] | None = None

    def _open(self) -> IO[str]:
        # Private to the owner like the rest of the data directory, whoever creates it.
        return os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600), "w")

    @property
    def held(self) -> bool:
        """Whether this process (this object) holds the lock now."""
        return self._held is not None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock for a write; another writer makes this raise GalleryBusyError."""
        handle = self._open()
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GalleryBusyError(
                    f"{self.path.parent}: another facesift process is writing to this "
                    "gallery; wait for it to finish"
                ) from None
            with self.catalog_lock():
                self._held = handle
                try:
                    yield
                finally:
                    self._held = None
        finally:
            handle.close()

    @contextmanager
    def attempt(self) -> Iterator[bool]:
        """True (holding the file lock meanwhile) if no other process writes, else False."""
        if self._held is not None:
            yield True
            return
        handle = self._open()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            yield False
            return
        try:
            yield True
        finally:
            handle.close()

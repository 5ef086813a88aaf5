"""Small SQLite files beside the catalog that a server's processes share (job records, rate
limits; not the catalog, which goes through SQLAlchemy): one write transaction at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Hold the file's write lock from the first read (``BEGIN IMMEDIATE``), so a read, then a
    write that depends on it, is one step for every process; the connection must be opened with
    ``isolation_level=None`` (no implicit transactions)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

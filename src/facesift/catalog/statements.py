"""Write statements shared by the catalog's query modules, run inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, Table, bindparam, delete, select, update
from sqlalchemy.engine import Connection, CursorResult

from facesift.catalog.tables import face_identities, gallery_state, identities
from facesift.types import AnalysedFace

T = TypeVar("T")


def bump_gallery_version(connection: Connection) -> None:
    """Every committed change to faces moves the version the index compares itself with."""
    connection.execute(update(gallery_state).values(version=gallery_state.c.version + 1))


def drop_empty_identities(connection: Connection) -> None:
    """An identity whose last face was erased, moved or opted out goes with it."""
    connection.execute(
        delete(identities).where(~identities.c.id.in_(select(face_identities.c.identity_id)))
    )


def face_values(face: AnalysedFace) -> dict[str, Any]:
    """The values of ``tables.face_columns()`` for ``face``, and its embedding's bytes: the same
    for a live face and one staged by a re-embed."""
    box = face.detection.box
    return {
        "box_left": box.left,
        "box_top": box.top,
        "box_right": box.right,
        "box_bottom": box.bottom,
        "landmarks": face.detection.landmarks.as_list(),
        "detection_score": face.detection.score,
        "face_size": face.quality.face_size,
        "sharpness": face.quality.sharpness,
        "embedding": np.ascontiguousarray(face.embedding, dtype="<f4").tobytes(),
    }


def new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT of one row created."""
    key = result.inserted_primary_key
    if key is None:  # only for statements that insert nothing, which we never run here
        raise RuntimeError("the INSERT reported no primary key")
    return int(key[0])


def inserted_ids(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (all with the same keys) into ``table`` in one executemany and return their
    new ids, in the order of ``rows``. A batch of ingested images was one INSERT per image and one
    per face, each built and compiled by SQLAlchemy while holding the GIL: 16% of the GIL's time
    in a 500-photo ingest, time the analysis threads waited (py-spy --gil, 2026-12-02). One
    statement with RETURNING (SQLite 3.35+, PostgreSQL) sends them together, ids in order."""
    if not rows:
        return []
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [int(row[0]) for row in connection.execute(statement, rows)]


# Bound parameters per statement are limited: 999 in older SQLite builds, 65,535 in PostgreSQL's
# protocol. Id lists are sent in slices of this size, which every backend accepts.
IN_CHUNK = 900


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for one ``IN (...)`` clause."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def among(column: ColumnElement[Any], chunk: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (chunk)`` for a slice of ids or hashes, the values written into the SQL by
    SQLAlchemy's literal rendering (typed and quoted per dialect) rather than bound one by one:
    with psycopg, binding 900 parameters took three times as long as the query itself."""
    return column.in_(bindparam(None, chunk, expanding=True, literal_execute=True))


def present(connection: Connection, column: ColumnElement[T], values: Iterable[T]) -> set[T]:
    """Those of ``values`` that ``column`` holds (any number of them)."""
    found: set[T] = set()
    for chunk in in_chunks(list(values)):
        found.update(connection.execute(select(column).where(among(column, chunk))).scalars())
    return found

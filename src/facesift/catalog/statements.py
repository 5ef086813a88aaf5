"""Write statements shared by the catalog's query modules, run inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from facesift.catalog.tables import face_identities, gallery_state, identities


def bump_gallery_version(connection) -> None:
    """Every committed change to faces moves the version the index compares itself with."""
    connection.execute(update(gallery_state).values(version=gallery_state.c.version + 1))


def drop_empty_identities(connection) -> None:
    """An identity whose last face was erased, moved or opted out goes with it."""
    connection.execute(
        delete(identities).where(~identities.c.id.in_(select(face_identities.c.identity_id)))
    )


# SQLite allows at most 999 bound parameters in one statement (older builds): id lists are sent
# in slices of this size.
IN_CHUNK = 900


def in_chunks(values: list):
    """``values`` in slices small enough for one ``IN (...)`` clause."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]

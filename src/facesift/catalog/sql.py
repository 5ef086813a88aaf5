"""The catalog on SQLAlchemy: a SQLite file by default or PostgreSQL, one set of Alembic migrations.

Everything is written with portable SQLAlchemy constructs. The one place the backends differ is
locking: a SQLite catalog lives beside its data directory, whose file lock (index/keeper.py)
already serialises writers, while a PostgreSQL catalog can be shared by several hosts, so writers
and migrations also take a PostgreSQL advisory lock (docs/scaling-postgres.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    String,
    column,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    table,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from facesift.catalog.audit_log import AuditLogQueries
from facesift.catalog.base import Catalog, CatalogCounts, NewImage, OwedAudit, StoredFace
from facesift.catalog.casework import CaseworkQueries
from facesift.catalog.governance import GovernanceQueries
from facesift.catalog.identities import IdentityQueries
from facesift.catalog.operators import OperatorQueries
from facesift.catalog.reembedding import ReembedQueries
from facesift.catalog.statements import (
    among,
    bump_gallery_version,
    face_values,
    in_chunks,
    inserted_ids,
    new_id,
    present,
)
from facesift.catalog.tables import faces, gallery_state, images, owed_audit_records, sources
from facesift.errors import CatalogError, SourceError, SpaceMismatchError
from facesift.text import assigned_country_code, country_code_hint
from facesift.types import BoundingBox, EmbeddingSpace, LawfulBasis, Source

MIGRATIONS = Path(__file__).with_name("migrations")
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _advisory_key(purpose: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (locks are per database already)."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "big", signed=True)


MIGRATION_LOCK = _advisory_key("facesift catalog migrations")
WRITER_LOCK = _advisory_key("facesift catalog writer")


# The newest revision in migrations/versions (a test checks it against Alembic's own head).
# Known here so that opening a catalog already at head reads one row instead of importing
# Alembic, which cost ~0.3 s of every CLI command's start-up on the 2-core machine.
SCHEMA_HEAD = "0010"


def migrate(db: Engine) -> None:
    if schema_revision(db) == SCHEMA_HEAD:
        return  # the usual case: no lock taken, so opening never waits for a writer
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as connection:
        _one_migration_at_a_time(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(db: Engine) -> str | None:
    """The catalog's Alembic revision, as Alembic records it; None for a new database."""
    with db.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        recorded = connection.execute(
            select(column("version_num", String)).select_from(table("alembic_version"))
        ).scalar()
        return str(recorded) if recorded is not None else None


def _one_migration_at_a_time(connection: Connection) -> None:
    """Processes opening a new catalog together would otherwise race to create the same tables.
    Both backends have transactional DDL: the first takes the lock and migrates, the others wait
    for its commit and then find the schema at head."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module opens transactions lazily (before the first INSERT or UPDATE, never
        # before DDL); take the write lock now, so the version check and the DDL are one unit.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Free text a source carries: enough for a statement of purpose, a contact, a description;
# bounded so that no field can be used to store bulk data in the catalog or flood a page.
SOURCE_TEXT_LIMITS = {"purpose": 500, "controller": 200, "description": 2000}


def iso_country_code(jurisdiction: str) -> str:
    """``jurisdiction`` as an assigned ISO 3166-1 alpha-2 code (upper case), or a SourceError."""
    code = assigned_country_code(jurisdiction)
    if code is None:
        raise SourceError(
            f"jurisdiction {jurisdiction!r} is not an assigned ISO 3166-1 alpha-2 country code"
            f"{country_code_hint(jurisdiction)}, e.g. GB, FR, US"
        )
    return code


class SqlCatalog(
    GovernanceQueries,
    IdentityQueries,
    ReembedQueries,
    CaseworkQueries,
    AuditLogQueries,
    OperatorQueries,
):
    """Every catalog role (catalog/base.py) on one SQLAlchemy engine, ``db``."""

    def __init__(self, url: str):
        self.url = url
        try:
            parsed = make_url(url)
            self.display_url = parsed.render_as_string(hide_password=True)
        except SQLAlchemyError as error:
            raise CatalogError(f"catalog URL {url!r} is not a database URL: {error}") from None
        try:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            # pre_ping: a pooled connection the server closed (restart, idle timeout, failover)
            # is replaced instead of failing the next query. A SQLite file has no server to
            # drop it, and the ping was one more query at every checkout (several per search).
            self.db = create_engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite")
            if self.db.dialect.name == "sqlite":
                event.listen(self.db, "connect", _sqlite_pragmas)
            migrate(self.db)
        except ImportError as error:
            raise CatalogError(
                f"catalog {self.display_url} needs a database driver that is not installed "
                f"({error.name}); for PostgreSQL: pip install 'facesift[postgres]'"
            ) from None
        except (SQLAlchemyError, OSError) as error:
            raise CatalogError(f"cannot open catalog {self.display_url}: {error}") from None

    @contextmanager
    def exclusive_writer(self) -> Iterator[None]:
        """Be the only writer to this catalog, from any host, until the block ends.

        PostgreSQL: a session advisory lock held on a connection of its own (released by the
        server if this process dies). SQLite: nothing to do, the data directory's lock covers it.
        """
        if self.db.dialect.name != "postgresql":
            yield
            return
        with self.db.connect() as connection:
            if not connection.execute(select(func.pg_try_advisory_lock(WRITER_LOCK))).scalar():
                raise CatalogError(
                    f"catalog {self.display_url}: another facesift process (maybe on another "
                    "host) is writing to it; wait for it to finish"
                )
            connection.commit()  # end the implicit transaction; the session lock stays held
            try:
                yield
            finally:
                try:
                    connection.execute(select(func.pg_advisory_unlock(WRITER_LOCK)))
                    connection.commit()
                except SQLAlchemyError:
                    pass  # the connection is gone, and the server released the lock with it

    # --- sources -------------------------------------------------------------------------------

    def add_source(
        self,
        name: str,
        lawful_basis: LawfulBasis,
        jurisdiction: str,
        retention_days: int,
        description: str = "",
        *,
        purpose: str,
        controller: str,
    ) -> Source:
        if not purpose.strip():
            raise SourceError(f"source {name!r}: state the purpose the images are processed for")
        if not controller.strip():
            raise SourceError(
                f"source {name!r}: give the controller's contact (who answers requests)"
            )
        if not SOURCE_NAME.match(name):
            raise SourceError(
                f"source name {name!r} is invalid: use letters, digits, '.', '_' or '-' "
                "(up to 200, starting with a letter or digit)"
            )
        try:
            basis = LawfulBasis(lawful_basis)
        except ValueError:
            known = ", ".join(b.value for b in LawfulBasis)
            raise SourceError(f"unknown lawful basis {lawful_basis!r}; one of: {known}") from None
        code = iso_country_code(jurisdiction)
        if retention_days < 1:
            raise SourceError(f"retention of {retention_days} days: must be at least 1 day")
        for field, text, limit in (
            ("purpose", purpose, SOURCE_TEXT_LIMITS["purpose"]),
            ("controller", controller, SOURCE_TEXT_LIMITS["controller"]),
            ("description", description, SOURCE_TEXT_LIMITS["description"]),
        ):
            if len(text) > limit:
                raise SourceError(
                    f"source {name!r}: {field} is {len(text)} characters, over the {limit} allowed"
                )
        row = {
            "name": name,
            "lawful_basis": basis.value,
            "jurisdiction": code,
            "retention_days": retention_days,
            "description": description,
            "created_at": datetime.now(UTC),
            "purpose": purpose.strip(),
            "controller": controller.strip(),
        }
        try:
            with self.db.begin() as connection:
                source_id = new_id(connection.execute(sources.insert().values(**row)))
        except IntegrityError:
            raise SourceError(f"source {name!r} already exists") from None
        return _source(dict(row, id=source_id))

    def get_source(self, name: str) -> Source:
        with self.db.connect() as connection:
            row = (
                connection.execute(select(sources).where(sources.c.name == name)).mappings().first()
            )
        if row is None:
            known = [s.name for s in self.list_sources()]
            hint = (
                f"; known: {', '.join(known)}" if known else "; add one with `facesift source add`"
            )
            raise SourceError(f"unknown source {name!r}{hint}")
        return _source(row)

    def list_sources(self) -> list[Source]:
        with self.db.connect() as connection:
            rows = connection.execute(select(sources).order_by(sources.c.name)).mappings().all()
        return [_source(row) for row in rows]

    def edit_source(
        self, name: str, *, description: str, purpose: str, controller: str
    ) -> tuple[Source, Source]:
        """Change what describes a source (never its lawful basis, jurisdiction or retention:
        the images it holds were collected under those). Returns (before, after)."""
        before = self.get_source(name)
        if not purpose.strip():
            raise SourceError(f"source {name!r}: state the purpose the images are processed for")
        if not controller.strip():
            raise SourceError(
                f"source {name!r}: give the controller's contact (who answers requests)"
            )
        for field, text in (
            ("purpose", purpose),
            ("controller", controller),
            ("description", description),
        ):
            if len(text) > SOURCE_TEXT_LIMITS[field]:
                raise SourceError(
                    f"source {name!r}: {field} is {len(text)} characters, over the "
                    f"{SOURCE_TEXT_LIMITS[field]} allowed"
                )
        values = {
            "description": description.strip(),
            "purpose": purpose.strip(),
            "controller": controller.strip(),
        }
        with self.db.begin() as connection:
            connection.execute(update(sources).where(sources.c.id == before.id).values(**values))
        return before, self.get_source(name)

    def retire_source(self, name: str, at: datetime) -> Source:
        """Mark a source retired (no new ingest); its images are untouched."""
        found = self.get_source(name)
        if found.retired_at is not None:
            raise SourceError(f"source {name!r} was already retired on {found.retired_at.date()}")
        with self.db.begin() as connection:
            connection.execute(
                update(sources).where(sources.c.id == found.id).values(retired_at=at)
            )
        return self.get_source(name)

    def source_counts(self) -> dict[str, tuple[int, int]]:
        """Images and faces per source name."""
        query = (
            select(
                sources.c.name,
                func.count(images.c.id),
                func.coalesce(func.sum(images.c.face_count), 0),
            )
            .select_from(sources.outerjoin(images, images.c.source_id == sources.c.id))
            .group_by(sources.c.name)
        )
        with self.db.connect() as connection:
            return {name: (int(n), int(f)) for name, n, f in connection.execute(query)}

    # --- images and faces ----------------------------------------------------------------------

    def known_hashes(self, hashes: Iterable[str]) -> set[str]:
        with self.db.connect() as connection:
            return present(connection, images.c.sha256, hashes)

    def held_paths(self, paths: Iterable[str]) -> set[str]:
        """Those of ``paths`` that are the file of an image the catalog holds."""
        with self.db.connect() as connection:
            return present(connection, images.c.path, paths)

    def sources_holding(self, hashes: Iterable[str]) -> dict[str, str]:
        """Content hash → the source that holds it, for those of ``hashes`` held."""
        found: dict[str, str] = {}
        query = select(images.c.sha256, sources.c.name).select_from(images.join(sources))
        with self.db.connect() as connection:
            for chunk in in_chunks(list(hashes)):
                found.update(connection.execute(query.where(among(images.c.sha256, chunk))).all())
        return found

    def add_images(
        self, batch: list[NewImage], space: EmbeddingSpace, owed: OwedAudit | None = None
    ) -> tuple[list[int], np.ndarray]:
        now = datetime.now(UTC)
        vectors: list[np.ndarray] = []
        with self.db.begin() as connection:
            self._claim_space(connection, space)
            if owed is not None:
                connection.execute(
                    owed_audit_records.insert().values(
                        token=owed.token,
                        action=owed.action,
                        actor=owed.actor,
                        role=owed.role,
                        details=owed.details,
                        created_at=now,
                    )
                )
            image_rows = []
            for item in batch:
                image, declared = item.analysed, item.provenance
                image_rows.append(
                    {
                        "source_id": item.source_id,
                        "path": image.path,
                        "sha256": image.sha256,
                        "size_bytes": image.size_bytes,
                        "width": image.width,
                        "height": image.height,
                        "face_count": len(image.faces),
                        "ingested_at": now,
                        "expires_at": item.expires_at,
                        "jurisdiction": declared.jurisdiction if declared else None,
                        "subject_ref": declared.subject_ref if declared else None,
                        "consent_ref": declared.consent_ref if declared else None,
                        "captured_at": declared.captured_at if declared else None,
                        "source_url": declared.source_url if declared else None,
                        "notes": declared.notes if declared else None,
                    }
                )
            face_rows = []
            for image_id, item in zip(
                inserted_ids(connection, images, image_rows), batch, strict=True
            ):
                for face in item.analysed.faces:
                    face_rows.append(
                        {"image_id": image_id, "embedding_space": space.key, **face_values(face)}
                    )
                    vectors.append(np.asarray(face.embedding, dtype=np.float32))
            face_ids = inserted_ids(connection, faces, face_rows)
            if face_ids:
                bump_gallery_version(connection)
        matrix = np.vstack(vectors) if vectors else np.zeros((0, space.dimension), np.float32)
        return face_ids, matrix

    def owed_audit_records(self) -> list[OwedAudit]:
        """Audit records owed by changes whose process died before writing them, oldest first."""
        query = select(owed_audit_records).order_by(owed_audit_records.c.created_at)
        with self.db.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            OwedAudit(r["token"], r["action"], r["actor"], r["role"], dict(r["details"]))
            for r in rows
        ]

    def settle_owed_audit(self, token: str) -> None:
        with self.db.begin() as connection:
            connection.execute(
                delete(owed_audit_records).where(owed_audit_records.c.token == token)
            )

    def _claim_space(self, connection: Connection, space: EmbeddingSpace) -> None:
        # One conditional UPDATE, not read-then-write: of two first ingests racing in different
        # spaces, exactly one claims the gallery and the other sees its claim.
        connection.execute(
            update(gallery_state)
            .where(gallery_state.c.embedding_space.is_(None))
            .values(embedding_space=space.key)
        )
        current = connection.execute(select(gallery_state.c.embedding_space)).scalar_one()
        if current != space.key:
            raise SpaceMismatchError(current, space.key, holder="the catalog")

    def stored_faces(self, face_ids: Iterable[int]) -> dict[int, StoredFace]:
        wanted = [int(i) for i in face_ids]
        query = select(
            faces.c.id,
            faces.c.box_left,
            faces.c.box_top,
            faces.c.box_right,
            faces.c.box_bottom,
            images.c.id.label("image_id"),
            images.c.path,
            images.c.sha256,
            images.c.ingested_at,
            images.c.expires_at,
            sources.c.name,
            sources.c.lawful_basis,
            sources.c.jurisdiction,
        ).select_from(faces.join(images).join(sources))
        found: dict[int, StoredFace] = {}
        with self.db.connect() as connection:
            for chunk in in_chunks(wanted):
                for row in connection.execute(query.where(among(faces.c.id, chunk))).mappings():
                    found[row["id"]] = StoredFace(
                        face_id=row["id"],
                        box=BoundingBox(
                            row["box_left"], row["box_top"], row["box_right"], row["box_bottom"]
                        ),
                        image_id=row["image_id"],
                        image_path=row["path"],
                        image_sha256=row["sha256"],
                        ingested_at=row["ingested_at"],
                        source=row["name"],
                        lawful_basis=row["lawful_basis"],
                        jurisdiction=row["jurisdiction"],
                        expires_at=row["expires_at"],
                    )
        return found

    def source_records(self, source_id: int) -> tuple[np.ndarray, list[str]]:
        """Face ids of a source and, for each, its record: subject reference, else its image."""
        with self.db.connect() as connection:
            rows = connection.execute(
                select(faces.c.id, images.c.id.label("image_id"), images.c.subject_ref)
                .select_from(faces.join(images))
                .where(images.c.source_id == source_id)
                .order_by(faces.c.id)
            ).all()
        ids = np.asarray([r.id for r in rows], dtype=np.int64)
        return ids, [r.subject_ref or f"image:{r.image_id}" for r in rows]

    def face_ids(self) -> np.ndarray:
        with self.db.connect() as connection:
            ids = connection.execute(select(faces.c.id).order_by(faces.c.id)).scalars().all()
        return np.asarray(ids, dtype=np.int64)

    def embeddings(self, face_ids: np.ndarray) -> np.ndarray:
        wanted = [int(i) for i in face_ids]
        by_id: dict[int, bytes] = {}
        with self.db.connect() as connection:
            for chunk in in_chunks(wanted):
                rows = connection.execute(
                    select(faces.c.id, faces.c.embedding).where(among(faces.c.id, chunk))
                )
                by_id.update({row.id: row.embedding for row in rows})
        return np.vstack([np.frombuffer(by_id[i], dtype="<f4") for i in wanted]).astype(np.float32)

    def iter_embeddings(self, batch_size: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last_id = 0
        with self.db.connect() as connection:
            while True:
                rows = connection.execute(
                    select(faces.c.id, faces.c.embedding)
                    .where(faces.c.id > last_id)
                    .order_by(faces.c.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    return
                ids = np.asarray([row.id for row in rows], dtype=np.int64)
                vectors = np.frombuffer(b"".join(row.embedding for row in rows), dtype="<f4")
                yield ids, vectors.reshape(len(rows), -1).astype(np.float32)
                last_id = int(ids[-1])

    def version(self) -> int:
        with self.db.connect() as connection:
            return int(connection.execute(select(gallery_state.c.version)).scalar_one())

    def embedding_space(self) -> str | None:
        with self.db.connect() as connection:
            space: str | None = connection.execute(
                select(gallery_state.c.embedding_space)
            ).scalar_one()
            return space

    def counts(self) -> CatalogCounts:
        with self.db.connect() as connection:
            return CatalogCounts(
                sources=connection.execute(select(func.count()).select_from(sources)).scalar_one(),
                images=connection.execute(select(func.count()).select_from(images)).scalar_one(),
                faces=connection.execute(select(func.count()).select_from(faces)).scalar_one(),
                images_without_faces=connection.execute(
                    select(func.count()).select_from(images).where(images.c.face_count == 0)
                ).scalar_one(),
            )

    def forget_deleted(self) -> None:
        """After an erasure: SQLite overwrites deleted content with zeros (``secure_delete``, set
        on every connection), but the write-ahead log still holds the pages as they were until
        a checkpoint; a TRUNCATE checkpoint copies them back and empties the log, so no copy of
        an erased row stays in any file of the data directory. (PostgreSQL keeps dead rows
        until VACUUM, outside the data directory: docs/scaling-postgres.md.)"""
        if self.db.dialect.name != "sqlite":
            return
        with self.db.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.db.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (searches) are not blocked by the ingest writer; NORMAL is durable in WAL mode
    # up to the last checkpointed transaction, and never corrupts.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Deleted content is overwritten with zeros, not left in free pages: erased means erased.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _source(row: Mapping[str, Any] | RowMapping) -> Source:
    return Source(
        id=row["id"],
        name=row["name"],
        lawful_basis=LawfulBasis(row["lawful_basis"]),
        jurisdiction=row["jurisdiction"],
        retention_days=row["retention_days"],
        description=row["description"],
        created_at=row["created_at"],
        purpose=row["purpose"],
        controller=row["controller"],
        retired_at=row.get("retired_at"),
    )


def _conforms(catalog: SqlCatalog) -> Catalog:
    """Type-checked, never called: mypy proves SqlCatalog has every role of ``Catalog``."""
    return catalog

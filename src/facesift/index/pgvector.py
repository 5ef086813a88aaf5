"""Vector index on PostgreSQL with the pgvector extension: catalog and vectors in one store.

One table holds a gallery: primary key = the catalog's face id, the vector (``vector(d)``, an
HNSW index with ``vector_l2_ops``), and the face's tags as indexed columns ``source_id`` and
``jurisdiction``, so erasing a source or jurisdiction is one ``DELETE ... WHERE``. A small table,
``facesift_vector_indexes``, records for each such table its embedding space and the catalog
version it reflects: a reopen compares versions as with the FAISS file, and a table of another
space is refused.

Every add and remove commits at once (``writes_through``); ``save`` only records the catalog
version. The index has its own connection, so a catalog batch and the vectors it adds are two
transactions even when both live in one database: a crash between them leaves the version
behind and the keeper reconciles by id, as with any server-backed index.

Nearest-neighbour search goes through HNSW with ``hnsw.ef_search`` raised to at least ``k``
(HNSW returns no more rows than that); ``range_search`` (subject access, which must show every
photo) is an exact scan, never the approximate index.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from facesift.errors import IndexError_, SpaceMismatchError
from facesift.index.base import checked_entries, checked_scope, checked_vectors
from facesift.types import EmbeddingSpace, FaceTags

META_TABLE = "facesift_vector_indexes"
# Table names become SQL identifiers: lower case so they need no quoting rules of their own, and
# short enough that the derived index names stay under PostgreSQL's 63 bytes.
TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
METRICS = {"euclidean": "vector_l2_ops"}  # pgvector's <-> is the L2 distance itself, not squared
MAX_HNSW_DIMENSION = 2_000  # pgvector 0.6 builds HNSW indexes on vectors of up to 2,000 dimensions
# pgvector's defaults for the graph (m=16, ef_construction=64). ef_search: pgvector's default of
# 40 caps a search at 40 rows and loses recall; 100 gave recall@10 of 0.965 on 100k synthetic
# 256-d faces but 0.793 on 1M (bench/pgvector_erasure.py, docs/scaling.md): large galleries need
# more (FACESIFT_PGVECTOR_EF_SEARCH; not tuned yet). A search for more rows raises it to k;
# pgvector refuses more than 1,000, so a larger k is an exact scan.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
DEFAULT_EF_SEARCH = 100
MAX_EF_SEARCH = 1_000
QUERY_BATCH = 256  # probe vectors per search statement
CONNECT_TIMEOUT_S = 30


def libpq_url(url: str) -> str:
    """``url`` as libpq takes it: a SQLAlchemy ``postgresql+psycopg://`` URL loses its driver."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise IndexError_(f"pgvector needs a PostgreSQL URL (postgresql://...), not {url!r}")
    return f"postgresql://{rest}"


def displayed(url: str) -> str:
    """``url`` without any password (in the user part or the query), for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}{parts.hostname or ''}{port}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        query = urlencode([(key, value) for key, value in pairs if key != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


P = ParamSpec("P")
R = TypeVar("R")


def _translated(
    method: Callable[Concatenate[PgVectorIndex, P], R],
) -> Callable[Concatenate[PgVectorIndex, P], R]:
    """One operation at a time on the connection (the engine's threads share the index), and
    every database failure as an IndexError_ naming the server and table."""

    @functools.wraps(method)
    def wrapper(self: PgVectorIndex, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            try:
                if self._connection.broken:
                    self._connection = self._connect()
                return method(self, *args, **kwargs)
            except psycopg.Error as error:
                raise IndexError_(
                    f"pgvector at {displayed(self.url)}, table {self.table}: {_message(error)}"
                ) from None

    return wrapper


def _message(error: psycopg.Error) -> str:
    return (error.diag.message_primary if error.diag else None) or str(error).strip()


class PgVectorIndex:
    writes_through = True
    damaged: str | None = None  # the server keeps its own data safe; nothing to rebuild on open

    def __init__(
        self,
        url: str,
        space: EmbeddingSpace,
        *,
        table: str = "facesift_vectors",
        ef_search: int = DEFAULT_EF_SEARCH,
    ):
        if space.metric not in METRICS:
            raise IndexError_(f"pgvector index supports euclidean spaces, not {space.metric}")
        if space.dimension > MAX_HNSW_DIMENSION:
            raise IndexError_(
                f"pgvector builds HNSW indexes on at most {MAX_HNSW_DIMENSION} dimensions, "
                f"not {space.dimension}"
            )
        if not TABLE_NAME.match(table):
            raise IndexError_(
                f"pgvector table name {table!r} must be lower-case letters, digits and "
                "underscores (at most 48), starting with a letter or underscore"
            )
        if not 1 <= ef_search <= MAX_EF_SEARCH:
            raise IndexError_(f"hnsw.ef_search must be between 1 and {MAX_EF_SEARCH}")
        self.url, self.space, self.table = libpq_url(url), space, table
        self.ef_search = ef_search
        self._lock = threading.RLock()
        self._names = {
            "table": sql.Identifier(table),
            "meta": sql.Identifier(META_TABLE),
            "hnsw": sql.Identifier(f"{table}_hnsw"),
            "by_source": sql.Identifier(f"{table}_source_id"),
            "by_jurisdiction": sql.Identifier(f"{table}_jurisdiction"),
            "dimension": sql.Literal(space.dimension),  # an int from the space, not user text
        }
        self._connection = self._connect()
        try:
            self._open_table()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            connection = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as error:
            raise IndexError_(
                f"cannot open PostgreSQL at {displayed(self.url)}: {_message(error)}"
            ) from None
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(connection)
        except psycopg.Error as error:
            connection.close()
            raise IndexError_(
                f"PostgreSQL at {displayed(self.url)} has no pgvector extension "
                f"({_message(error)}); install pgvector on the server and have a superuser run "
                "CREATE EXTENSION vector in this database"
            ) from None
        return connection

    def _sql(self, template: str, **extra: sql.Composable) -> sql.Composed:
        """A statement with the table's identifiers filled in (never user data: that is bound)."""
        return sql.SQL(template).format(**self._names, **extra)

    def _execute(self, template: str, params: Any = None) -> psycopg.Cursor[Any]:
        return self._connection.execute(self._sql(template), params)

    # --- table and its record ------------------------------------------------------------------

    @_translated
    def _open_table(self) -> None:
        with self._connection.transaction():
            # Two processes opening a new gallery at once must not both create it.
            self._connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [META_TABLE])
            self._execute(
                "CREATE TABLE IF NOT EXISTS {meta} (table_name text PRIMARY KEY, "
                "embedding_space text NOT NULL, catalog_version bigint)"
            )
            stored = self._execute(
                "SELECT embedding_space FROM {meta} WHERE table_name = %s", [self.table]
            ).fetchone()
            exists = self._connection.execute(
                "SELECT to_regclass(%s) IS NOT NULL", [self._quoted_table()]
            ).fetchone()
            if stored is None and exists is not None and exists[0]:
                raise IndexError_(
                    f"table {self.table!r} at {displayed(self.url)} was not created by facesift "
                    "(no embedding space recorded); choose another pgvector_table"
                )
            if stored is not None and stored[0] != self.space.key:
                raise SpaceMismatchError(stored[0], self.space.key)
            if stored is None:
                self._create()
                self._execute(
                    "INSERT INTO {meta} (table_name, embedding_space) VALUES (%s, %s)",
                    [self.table, self.space.key],
                )

    def _quoted_table(self) -> str:
        return sql.Identifier(self.table).as_string(self._connection)

    def _create(self) -> None:
        self._execute(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({dimension}) NOT NULL, "
            "source_id bigint NOT NULL, jurisdiction text NOT NULL)"
        )
        self._execute("CREATE INDEX {by_source} ON {table} (source_id)")
        self._execute("CREATE INDEX {by_jurisdiction} ON {table} (jurisdiction)")
        self._create_hnsw()

    def _create_hnsw(self) -> None:
        self._connection.execute(
            self._sql(
                "CREATE INDEX {hnsw} ON {table} USING hnsw (embedding {ops}) "
                "WITH (m = {m}, ef_construction = {ef_construction})",
                ops=sql.SQL(METRICS[self.space.metric]),
                m=sql.Literal(HNSW_M),
                ef_construction=sql.Literal(HNSW_EF_CONSTRUCTION),
            )
        )

    @property
    @_translated
    def catalog_version(self) -> int | None:
        row = self._execute(
            "SELECT catalog_version FROM {meta} WHERE table_name = %s", [self.table]
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @_translated
    def save(self, catalog_version: int) -> None:
        # Every add and remove has committed already; the version vouches for them.
        self._execute(
            "UPDATE {meta} SET catalog_version = %s WHERE table_name = %s",
            [int(catalog_version), self.table],
        )

    @property
    def kind(self) -> str:
        return (
            f"pgvector HNSW L2 ({displayed(self.url)}, table {self.table}, "
            f"ef_search {self.ef_search})"
        )

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # --- contents ------------------------------------------------------------------------------

    @_translated
    def __len__(self) -> int:
        row = self._execute("SELECT count(*) FROM {table}").fetchone()
        return 0 if row is None else int(row[0])

    @_translated
    def size_bytes(self) -> int:
        """The table with its indexes and TOAST, as PostgreSQL counts them."""
        row = self._connection.execute(
            "SELECT pg_total_relation_size(%s::regclass)", [self._quoted_table()]
        ).fetchone()
        return 0 if row is None else int(row[0])

    @_translated
    def add(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        if len(ids) == 0:
            return
        ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
        with self._connection.transaction():
            self._execute(
                "CREATE TEMPORARY TABLE facesift_incoming (id bigint, embedding "
                "vector({dimension}), source_id bigint, jurisdiction text) ON COMMIT DROP"
            )
            self._copy("facesift_incoming", ids, vectors, tags)
            # Upsert: a reconcile after a crash may add a face the table already holds.
            self._execute(
                "INSERT INTO {table} SELECT * FROM facesift_incoming ON CONFLICT (id) DO UPDATE "
                "SET embedding = EXCLUDED.embedding, source_id = EXCLUDED.source_id, "
                "jurisdiction = EXCLUDED.jurisdiction"
            )

    def _copy(self, into: str, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags) -> None:
        statement = sql.SQL(
            "COPY {} (id, embedding, source_id, jurisdiction) FROM STDIN (FORMAT BINARY)"
        ).format(sql.Identifier(into))
        with self._connection.cursor().copy(statement) as copy:
            copy.set_types(["int8", "vector", "int8", "text"])
            for face_id, vector, source_id, code in zip(
                ids.tolist(),
                vectors,
                tags.source_ids.tolist(),
                [str(j) for j in tags.jurisdictions],
                strict=True,
            ):
                copy.write_row((face_id, vector, source_id, code))

    @_translated
    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if len(ids) == 0:
            return 0
        return self._execute("DELETE FROM {table} WHERE id = ANY(%s)", [ids.tolist()]).rowcount

    @_translated
    def remove_where(
        self, *, source_ids: Iterable[int] = (), jurisdiction: str | None = None
    ) -> int:
        wanted, code = checked_scope(source_ids, jurisdiction)
        clauses: list[str] = []
        params: list[object] = []
        if wanted:
            clauses.append("source_id = ANY(%s)")
            params.append(wanted)
        if code:
            clauses.append("jurisdiction = %s")
            params.append(code)
        # Fixed SQL fragments; the source ids and the code travel as parameters.
        return self._execute("DELETE FROM {table} WHERE " + " AND ".join(clauses), params).rowcount

    @_translated
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = checked_vectors(self.space, vectors)
        k = max(1, int(k))
        distances = np.full((len(vectors), k), np.inf)
        ids = np.full((len(vectors), k), -1, dtype=np.int64)
        if len(vectors) == 0:
            return distances, ids
        exact = k > MAX_EF_SEARCH
        with self._connection.transaction():
            if exact:
                self._connection.execute("SET LOCAL enable_indexscan = off")
            else:
                self._connection.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true)",
                    [str(max(self.ef_search, k))],
                )
            for start in range(0, len(vectors), QUERY_BATCH):
                batch = list(vectors[start : start + QUERY_BATCH])
                rows = self._execute(
                    "SELECT q.n, f.id, f.distance FROM unnest(%s::vector[]) "
                    "WITH ORDINALITY AS q(embedding, n) CROSS JOIN LATERAL ("
                    "SELECT t.id, t.embedding <-> q.embedding AS distance FROM {table} t "
                    "ORDER BY t.embedding <-> q.embedding LIMIT %s) f "
                    "ORDER BY q.n, f.distance",
                    [batch, k],
                ).fetchall()
                column = np.zeros(len(batch), dtype=np.int64)
                for position, face_id, distance in rows:
                    row = start + int(position) - 1
                    ids[row, column[row - start]] = face_id
                    distances[row, column[row - start]] = float(distance)
                    column[row - start] += 1
        return distances, ids

    @_translated
    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        query = checked_vectors(self.space, np.asarray(vector).reshape(1, -1))[0]
        # No ORDER BY, so no approximate index scan: a subject access must see every face.
        rows = self._execute(
            "SELECT id, distance FROM (SELECT id, embedding <-> %s AS distance FROM {table}) d "
            "WHERE distance <= %s",
            [query, float(radius)],
        ).fetchall()
        ids = np.asarray([row[0] for row in rows], dtype=np.int64)
        distances = np.asarray([row[1] for row in rows], dtype=np.float64)
        order = np.argsort(distances, kind="stable")
        return ids[order], distances[order]

    @_translated
    def ids(self) -> np.ndarray:
        rows = self._execute("SELECT id FROM {table}").fetchall()
        return np.asarray([row[0] for row in rows], dtype=np.int64)

    @_translated
    def rebuild(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        # Validate before touching anything; then one transaction, so a failed rebuild leaves
        # the old contents. The HNSW graph is built once after the load, not row by row.
        if len(ids):
            ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
        with self._connection.transaction():
            self._execute("DROP INDEX IF EXISTS {hnsw}")
            self._execute("TRUNCATE {table}")
            if len(ids) and tags is not None:
                self._copy(self.table, ids, vectors, tags)
            self._create_hnsw()

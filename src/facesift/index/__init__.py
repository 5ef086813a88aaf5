"""Vector index: nearest-neighbour search over gallery embeddings, derived from the catalog.

``open_index`` builds the backend named by ``Settings.vector_index``: ``faiss`` (a file beside
the catalog, the default), ``milvus`` (a Milvus server, or a Milvus Lite file; extra ``milvus``)
or ``pgvector`` (a table in PostgreSQL with pgvector, by default the catalog's own database;
extra ``pgvector``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from facesift.errors import ConfigError
from facesift.index.base import VectorIndex
from facesift.index.faiss_disk import FaissDiskIndex
from facesift.index.tagged import TaggedIndex
from facesift.registry import Registry
from facesift.types import EmbeddingSpace

if TYPE_CHECKING:
    from facesift.config import Settings

__all__ = [
    "FaissDiskIndex",
    "TaggedIndex",
    "VectorIndex",
    "open_index",
    "available_indexes",
    "register_index",
]


def _faiss(settings: Settings, space: EmbeddingSpace, replace_other_space: bool) -> VectorIndex:
    inner = FaissDiskIndex(
        settings.data_dir,
        space,
        exact_max=settings.exact_search_max_faces,
        compressed_min=settings.compressed_search_min_faces,
        replace_other_space=replace_other_space,
    )
    return TaggedIndex(inner, settings.data_dir)


def _milvus(settings: Settings, space: EmbeddingSpace, replace_other_space: bool) -> VectorIndex:
    # A collection of another space is refused, never replaced: a re-embed on Milvus targets a
    # new collection name (FACESIFT_MILVUS_COLLECTION).
    try:
        from facesift.index.milvus import MilvusIndex
    except ImportError as error:
        raise ConfigError(
            f"vector_index 'milvus' needs pymilvus and milvus-lite ({error}); "
            "install them with: pip install 'facesift[milvus]'"
        ) from None
    return MilvusIndex(
        settings.resolved_milvus_uri,
        space,
        collection=settings.milvus_collection,
        token=settings.milvus_token,
    )


def _pgvector(settings: Settings, space: EmbeddingSpace, replace_other_space: bool) -> VectorIndex:
    # As with Milvus, a table of another space is refused, never replaced: a re-embed targets a
    # new table name (FACESIFT_PGVECTOR_TABLE).
    try:
        from facesift.index.pgvector import PgVectorIndex
    except ImportError as error:
        raise ConfigError(
            f"vector_index 'pgvector' needs psycopg and pgvector ({error}); "
            "install them with: pip install 'facesift[pgvector]'"
        ) from None
    url = settings.resolved_pgvector_url
    if url is None:
        raise ConfigError(
            "vector_index 'pgvector' needs a PostgreSQL database: set FACESIFT_PGVECTOR_URL, or "
            "put the catalog on PostgreSQL (FACESIFT_CATALOG_URL) to keep both in one store"
        )
    return PgVectorIndex(
        url, space, table=settings.pgvector_table, ef_search=settings.pgvector_ef_search
    )


IndexFactory = Callable[["Settings", EmbeddingSpace, bool], VectorIndex]
# Built in here (the Milvus and pgvector modules are imported only when chosen), registered like
# any backend.
INDEXES: Registry[IndexFactory] = Registry("vector index", lambda: None)
register_index = INDEXES.register
register_index("faiss", _faiss)
register_index("milvus", _milvus)
register_index("pgvector", _pgvector)


def open_index(
    settings: Settings, space: EmbeddingSpace, *, replace_other_space: bool = False
) -> VectorIndex:
    """``replace_other_space``: ``space`` is the catalog's, so a FAISS file of another space is
    stale (a re-embed switched) and is rebuilt rather than refused."""
    return INDEXES.get(settings.vector_index)(settings, space, replace_other_space)


def available_indexes() -> list[str]:
    return INDEXES.names()

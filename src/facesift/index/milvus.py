"""Vector index on Milvus through pymilvus' MilvusClient: a Milvus cluster by URL, or Milvus Lite.

One code path for both: ``uri`` is ``http://host:19530`` (with a token) for a server, or a local
path ending in ``.db`` for Milvus Lite (package ``milvus-lite``), which pymilvus starts in-process.

One collection holds a gallery: primary key = the catalog's face id, the vector, and the face's
tags as scalar fields: ``source_id`` (the partition key, so a source's faces share partitions and
deleting a source touches only those) and ``jurisdiction``. Erasing a source or jurisdiction is
one delete by filter. The embedding space and the catalog version the collection reflects are
collection properties, so a restart compares versions as with the FAISS file, and a collection
of another embedding space is refused on open.

Milvus applies add/remove at once (``writes_through``); ``save`` flushes and then records the
catalog version, so a crash before it leaves an older version and the keeper reconciles by id.

Servers before Milvus 2.4 (tested: the embedded Milvus 2.3.5 of PyPI package ``milvus``) get two
accommodations, both decided by the version the server reports: the jurisdiction field takes
their ``Trie`` index (INVERTED came with 2.4), and an add deletes the ids and inserts instead of
upserting (see ``add``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from facesift.config import is_milvus_lite
from facesift.errors import IndexError_, SpaceMismatchError
from facesift.index.base import checked_entries, checked_scope, checked_vectors, files_size
from facesift.types import EmbeddingSpace, FaceTags

SPACE_PROPERTY = "facesift.embedding_space"
VERSION_PROPERTY = "facesift.catalog_version"
METRICS = {"euclidean": "L2"}  # Milvus L2 distances are squared; search() takes the root
MAX_TOP_K = 16_384  # Milvus's limit on results per query
WRITE_BATCH = 5_000  # rows per upsert: well under Milvus's 64 MB message limit at 128-d
ID_BATCH = 10_000  # ids per "id in [...]" filter
CONNECT_TIMEOUT_S = 30.0

# Every Milvus failure reaches the user as an IndexError_ naming the server and collection;
# pymilvus and Milvus Lite would also log it with a traceback, so their logs show only the
# critical.
for _library in ("pymilvus", "milvus_lite"):
    logging.getLogger(_library).setLevel(logging.CRITICAL)


def before_milvus_2_4(client: MilvusClient, uri: str) -> bool:
    """Whether the server is a Milvus older than 2.4, from the version it reports ("v2.3.5-lite");
    Milvus Lite and a version string of another form count as current."""
    if is_milvus_lite(uri):
        return False
    found = re.match(r"v?(\d+)\.(\d+)\.", str(client.get_server_version()))
    return found is not None and (int(found[1]), int(found[2])) < (2, 4)


def displayed(uri: str) -> str:
    """``uri`` without any user:password part, for messages."""
    if is_milvus_lite(uri):
        return uri
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.hostname or "")) if parts.password else uri


P = ParamSpec("P")
R = TypeVar("R")


def _translated(
    method: Callable[Concatenate[MilvusIndex, P], R],
) -> Callable[Concatenate[MilvusIndex, P], R]:
    @functools.wraps(method)
    def wrapper(self: MilvusIndex, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except MilvusException as error:
            raise IndexError_(
                f"Milvus at {displayed(self.uri)}, collection {self.collection}: {error.message}"
            ) from None

    return wrapper


class MilvusIndex:
    writes_through = True
    damaged: str | None = None  # the server keeps its own data safe; nothing to rebuild on open
    before_2_4 = False  # a Milvus server older than 2.4 (set on open; see the module docstring)

    def __init__(
        self,
        uri: str,
        space: EmbeddingSpace,
        *,
        collection: str = "facesift_faces",
        token: str = "",
        index_type: str = "AUTOINDEX",
    ):
        if space.metric not in METRICS:
            raise IndexError_(f"Milvus index supports euclidean spaces, not {space.metric}")
        self.uri, self.space, self.collection = uri, space, collection
        self.index_type = index_type
        if is_milvus_lite(uri):
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(uri=uri, token=token, timeout=CONNECT_TIMEOUT_S)
        except MilvusException as error:
            hint = (
                " (Milvus Lite opens a file from one process at a time: is another facesift "
                "using this gallery? Use a Milvus server for concurrent access)"
                if is_milvus_lite(uri)
                else ""
            )
            raise IndexError_(
                f"cannot open Milvus at {displayed(uri)}: {error.message}{hint}"
            ) from None
        try:
            self._open_collection()
        except BaseException:
            self.close()
            raise

    @_translated
    def _open_collection(self) -> None:
        self.before_2_4 = before_milvus_2_4(self.client, self.uri)
        if self.client.has_collection(self.collection):
            self._check_space()
            # A server keeps collections released until asked (Milvus Lite after each start).
            self.client.load_collection(self.collection)
        else:
            self._create()

    # --- collection and its properties --------------------------------------------------------

    def _create(self) -> None:
        schema = MilvusClient.create_schema(
            auto_id=False, description=f"facesift faces, embedding space {self.space.key}"
        )
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.space.dimension)
        schema.add_field("source_id", DataType.INT64, is_partition_key=True)
        schema.add_field("jurisdiction", DataType.VARCHAR, max_length=2)
        index_params = self.client.prepare_index_params()
        index_params.add_index(
            field_name="vector", index_type=self.index_type, metric_type=METRICS[self.space.metric]
        )
        # Milvus 2.3 refuses INVERTED on a VARCHAR: "index type not match: invalid
        # parameter[expected=Trie][actual=INVERTED]" (2.3.5, measured).
        index_params.add_index(
            field_name="jurisdiction", index_type="Trie" if self.before_2_4 else "INVERTED"
        )
        self.client.create_collection(
            self.collection,
            schema=schema,
            index_params=index_params,
            # Strong: a search right after an ingest or erasure sees it (no stale erased faces).
            consistency_level="Strong",
            properties={SPACE_PROPERTY: self.space.key},
        )

    def _properties(self) -> dict[str, Any]:
        return self.client.describe_collection(self.collection).get("properties", {}) or {}

    def _check_space(self) -> None:
        description = self.client.describe_collection(self.collection)
        stored = (description.get("properties") or {}).get(SPACE_PROPERTY)
        if stored is None:
            raise IndexError_(
                f"Milvus collection {self.collection!r} at {self.uri} was not created by "
                "facesift (no embedding space recorded); choose another milvus_collection"
            )
        if stored != self.space.key:
            raise SpaceMismatchError(stored, self.space.key)
        fields = {f["name"]: f for f in description["fields"]}
        dimension = int(fields.get("vector", {}).get("params", {}).get("dim", -1))
        if dimension != self.space.dimension:
            raise SpaceMismatchError(stored, f"a {dimension}-d vector field")

    @property
    @_translated
    def catalog_version(self) -> int | None:
        value = self._properties().get(VERSION_PROPERTY)
        return None if value is None else int(value)

    @_translated
    def save(self, catalog_version: int) -> None:
        # Data first, then the version that vouches for it (see the module docstring).
        self.client.flush(self.collection)
        self.client.alter_collection_properties(
            self.collection, properties={VERSION_PROPERTY: str(int(catalog_version))}
        )

    @property
    def kind(self) -> str:
        where = "Milvus Lite file" if is_milvus_lite(self.uri) else displayed(self.uri)
        return f"Milvus {self.index_type} L2 ({where}, collection {self.collection})"

    def close(self) -> None:
        self.client.close()
        if is_milvus_lite(self.uri):
            # pymilvus runs one Milvus Lite server per file per process and keeps it until exit;
            # stopping it on close frees the file's lock for the next process at once.
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    # --- contents ------------------------------------------------------------------------------

    @_translated
    def __len__(self) -> int:
        return self._count("")

    def size_bytes(self) -> int:
        if is_milvus_lite(self.uri):
            return files_size([Path(self.uri).expanduser()])
        # A server's storage is not visible to a client: report the raw vectors it holds.
        return len(self) * self.space.dimension * 4

    def _count(self, where: str) -> int:
        rows = self.client.query(self.collection, filter=where, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    @_translated
    def add(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        if len(ids) == 0:
            return
        ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
        for start in range(0, len(ids), WRITE_BATCH):
            stop = start + WRITE_BATCH
            rows = [
                {"id": face_id, "vector": vector, "source_id": source_id, "jurisdiction": code}
                for face_id, vector, source_id, code in zip(
                    ids[start:stop].tolist(),
                    vectors[start:stop],
                    tags.source_ids[start:stop].tolist(),
                    [str(j) for j in tags.jurisdictions[start:stop]],
                    strict=True,
                )
            ]
            # Upsert, not insert: Milvus does not refuse a duplicate key, and a reconcile after
            # a crash may add a face the server already has.
            if not self.before_2_4:
                self.client.upsert(self.collection, rows)
                continue
            # Milvus 2.3 computed an upserted row's partition from the wrong field (fixed on the
            # 2.3 branch in Feb 2024, milvus-io/milvus#30773, after 2.3.5): on 2.3.5 faces
            # upserted with source 2 were not found by "source_id in [2]", so erasing the source
            # missed them. Delete, then insert: not atomic, but a crash between the two leaves
            # the catalog version unsaved and the keeper re-adds by id.
            self.client.delete(self.collection, filter=f"id in {ids[start:stop].tolist()}")
            self.client.insert(self.collection, rows)

    @_translated
    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        removed = 0
        for start in range(0, len(ids), ID_BATCH):
            where = f"id in {ids[start : start + ID_BATCH].tolist()}"
            # Milvus's delete-by-key reports every key asked for, stored or not: count first.
            present = self._count(where)
            if present:
                self.client.delete(self.collection, filter=where)
            removed += present
        return removed

    @_translated
    def remove_where(
        self, *, source_ids: Iterable[int] = (), jurisdiction: str | None = None
    ) -> int:
        wanted, code = checked_scope(source_ids, jurisdiction)
        clauses = []
        if wanted:
            clauses.append(f"source_id in {wanted}")
        if code:
            clauses.append(f'jurisdiction == "{code}"')  # checked: two capital letters
        where = " and ".join(clauses)
        present = self._count(where)
        if present:
            self.client.delete(self.collection, filter=where)
        return present

    @_translated
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors = checked_vectors(self.space, vectors)
        k = max(1, min(int(k), MAX_TOP_K))
        distances = np.full((len(vectors), k), np.inf)
        ids = np.full((len(vectors), k), -1, dtype=np.int64)
        if len(vectors) == 0:
            return distances, ids
        hits = self.client.search(
            self.collection, data=list(vectors), limit=k, output_fields=["id"], anns_field="vector"
        )
        for row, found in enumerate(hits):
            for column, hit in enumerate(found):
                ids[row, column] = hit["id"]
                distances[row, column] = np.sqrt(max(float(hit["distance"]), 0.0))
        return distances, ids

    @_translated
    def range_search(self, vector: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        query = checked_vectors(self.space, np.asarray(vector).reshape(1, -1))
        squared = float(radius) ** 2
        hits = self.client.search(
            self.collection,
            data=list(query),
            limit=MAX_TOP_K,
            output_fields=["id"],
            anns_field="vector",
            search_params={"params": {"radius": squared, "range_filter": 0.0}},
        )[0]
        if len(hits) >= MAX_TOP_K:
            # A subject access must show every photo: refuse rather than return a partial list.
            raise IndexError_(
                f"more than {MAX_TOP_K} faces within distance {radius}; use a smaller radius"
            )
        ids = np.asarray([hit["id"] for hit in hits], dtype=np.int64)
        distances = np.sqrt(np.maximum([float(hit["distance"]) for hit in hits], 0.0))
        order = np.argsort(distances, kind="stable")
        return ids[order], np.asarray(distances, dtype=np.float64)[order]

    @_translated
    def ids(self) -> np.ndarray:
        parts = []
        with _quiet_lite_iterator_setup(is_milvus_lite(self.uri)):
            iterator = self.client.query_iterator(
                self.collection, batch_size=ID_BATCH, filter="", output_fields=["id"]
            )
        try:
            while batch := iterator.next():
                parts.append(np.asarray([row["id"] for row in batch], dtype=np.int64))
        finally:
            iterator.close()
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    @_translated
    def rebuild(self, ids: np.ndarray, vectors: np.ndarray, tags: FaceTags | None = None) -> None:
        # Validate before dropping anything: a bad batch must not cost the stored index.
        if len(ids):
            ids, vectors, tags = checked_entries(self.space, ids, vectors, tags)
        self.client.drop_collection(self.collection)
        self._create()
        self.add(ids, vectors, tags)


@contextmanager
def _quiet_lite_iterator_setup(lite: bool) -> Iterator[None]:
    """Milvus Lite lacks the RPC that gives an iterator its snapshot timestamp; pymilvus then
    uses the client's clock, which is right for a local file, after the in-process server logs the
    missing RPC as an error. Silence that log while the iterator is set up, for Milvus Lite only."""
    if not lite:
        yield
        return
    server_log = logging.getLogger("grpc._server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        server_log.setLevel(level)

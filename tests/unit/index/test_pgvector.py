"""What the pgvector index adds to the VectorIndex contract (tests/contract/test_index_contract.py):
safe table names, passwords kept out of messages, a table it did not create refused, exact
answers where HNSW would cut results short, and erasure as a filtered DELETE."""

from __future__ import annotations

import numpy as np
import pytest

from facesift.errors import IndexError_
from facesift.types import EmbeddingSpace, FaceTags

pytest.importorskip("pgvector", reason="extra 'pgvector' not installed (make test installs it)")

from facesift.index.pgvector import MAX_EF_SEARCH, PgVectorIndex, displayed  # noqa: E402

SPACE = EmbeddingSpace("pgvector-test", "v1", 8, "euclidean")


@pytest.fixture
def database(request) -> str:
    return request.getfixturevalue("pgvector_server").new_database()


def test_messages_never_show_a_password():
    assert displayed("postgresql://u:secret@db:5433/f?sslmode=require&password=x") == (
        "postgresql://u@db:5433/f?sslmode=require"
    )
    assert displayed("postgresql://f@/f?host=/tmp/x") == "postgresql://f@/f?host=/tmp/x"


@pytest.mark.parametrize("table", ['faces"; DROP TABLE faces; --', "Faces", "1faces", "a" * 49])
def test_a_table_name_that_is_not_a_plain_identifier_is_refused(table, database):
    with pytest.raises(IndexError_, match="must be lower-case letters"):
        PgVectorIndex(database, SPACE, table=table)


def test_a_url_that_is_not_postgresql_is_refused():
    with pytest.raises(IndexError_, match="needs a PostgreSQL URL"):
        PgVectorIndex("sqlite:///catalog.sqlite", SPACE)


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    url = f"postgresql://facesift:hunter2@/facesift?host={tmp_path}"
    with pytest.raises(IndexError_, match="cannot open PostgreSQL at") as raised:
        PgVectorIndex(url, SPACE)
    assert "hunter2" not in str(raised.value)


def test_a_table_facesift_did_not_create_is_refused_and_left_alone(database):
    import psycopg

    with psycopg.connect(database.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("CREATE TABLE theirs (id bigint)")
        connection.execute("INSERT INTO theirs VALUES (1)")
        with pytest.raises(IndexError_, match="'theirs' .* was not created by facesift"):
            PgVectorIndex(database, SPACE, table="theirs")
        assert connection.execute("SELECT count(*) FROM theirs").fetchone() == (1,)


def test_more_neighbours_than_hnsw_returns_are_found_exactly(database):
    rng = np.random.default_rng(1)
    count = MAX_EF_SEARCH + 200
    vectors = rng.normal(size=(count, SPACE.dimension)).astype(np.float32)
    ids = np.arange(count, dtype=np.int64) + 1
    index = PgVectorIndex(database, SPACE, table="many", ef_search=10)
    try:
        index.rebuild(ids, vectors, FaceTags(np.ones(count, np.int64), np.full(count, "GB")))
        # ef_search is raised to k: k=300 returns 300, not 10.
        distances, found = index.search(vectors[:2], 300)
        assert (found >= 0).all() and (np.diff(distances, axis=1) >= -1e-6).all()
        # Beyond pgvector's 1,000 an exact scan answers: every face, nearest first.
        distances, found = index.search(vectors[:1], count)
        np.testing.assert_array_equal(np.sort(found[0]), ids)
        expected = np.sort(np.linalg.norm(vectors - vectors[0], axis=1))
        np.testing.assert_allclose(distances[0], expected, rtol=1e-4, atol=1e-5)
        # Range search is exact too, however low ef_search is.
        radius = float(np.quantile(expected, 0.5))
        within, _ = index.range_search(vectors[0], radius)
        assert len(within) == (expected <= radius).sum() > 10
        assert index.size_bytes() > count * SPACE.dimension * 4
    finally:
        index.close()


def test_an_index_shared_by_two_processes_sees_the_others_writes(database):
    # Two engines (a server and the CLI) on one table: writes through, no cache of its own.
    first = PgVectorIndex(database, SPACE)
    second = PgVectorIndex(database, SPACE)
    try:
        vectors = np.eye(SPACE.dimension, dtype=np.float32)
        first.add(np.arange(8), vectors, FaceTags(np.arange(8) % 2, np.full(8, "FR")))
        assert len(second) == 8
        assert second.remove_where(source_ids=[1]) == 4
        assert sorted(first.ids().tolist()) == [0, 2, 4, 6]
        first.save(catalog_version=5)
        assert second.catalog_version == 5
    finally:
        first.close()
        second.close()

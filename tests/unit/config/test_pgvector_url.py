"""Where the pgvector index keeps its vectors: its own URL, else the catalog's PostgreSQL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from facesift import Settings


def test_the_catalogs_postgresql_holds_the_vectors_unless_told_otherwise(tmp_path):
    catalog = "postgresql+psycopg://facesift@db/facesift"
    assert Settings(data_dir=tmp_path, catalog_url=catalog).resolved_pgvector_url == catalog
    own = "postgresql://vectors@other/facesift"
    settings = Settings(data_dir=tmp_path, catalog_url=catalog, pgvector_url=own)
    assert settings.resolved_pgvector_url == own


def test_a_sqlite_catalog_gives_no_pgvector_database(tmp_path):
    assert Settings(data_dir=tmp_path).resolved_pgvector_url is None


@pytest.mark.parametrize("table", ["Faces", "faces; drop table faces", "x" * 49])
def test_a_table_name_must_be_a_plain_identifier(tmp_path, table):
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, pgvector_table=table)

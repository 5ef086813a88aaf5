import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from facesift.catalog import NewImage, SqlCatalog
from facesift.catalog.sql import MIGRATIONS, SCHEMA_HEAD, schema_revision
from facesift.catalog.tables import metadata
from facesift.errors import SourceError, SpaceMismatchError
from facesift.types import (
    AnalysedFace,
    AnalysedImage,
    BoundingBox,
    Detection,
    EmbeddingSpace,
    Landmarks,
    Quality,
)

SPACE = EmbeddingSpace("test", "v1", 4, "euclidean")
TERMS = {"purpose": "testing", "controller": "dpo@example.org"}


@pytest.fixture
def catalog(tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield catalog
    catalog.close()


def image(sha: str, faces: int) -> AnalysedImage:
    return AnalysedImage(
        path=f"/photos/{sha}.jpg",
        sha256=sha * 64 if len(sha) == 1 else sha,
        size_bytes=10,
        width=100,
        height=100,
        faces=tuple(
            AnalysedFace(
                detection=Detection(
                    BoundingBox(i, i, i + 40, i + 40),
                    Landmarks(((1.0, 2.0),) * 5, "dlib-5"),
                    1.5,
                ),
                quality=Quality(face_size=40, sharpness=10.0),
                embedding=np.full(4, i, np.float32),
            )
            for i in range(faces)
        ),
    )


def test_migrations_create_exactly_the_declared_schema(catalog):
    inspector = inspect(catalog.db)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name


def test_the_schema_head_facesift_expects_is_alembics_head():
    # Opening a catalog skips Alembic when the recorded revision is SCHEMA_HEAD: a new
    # migration that forgot to move it would never be applied to existing catalogs.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_a_catalog_one_revision_behind_is_migrated_when_opened(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    SqlCatalog(url).close()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    behind = create_engine(url)
    with behind.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert schema_revision(behind) not in (None, SCHEMA_HEAD)
    assert "owed_audit_records" not in inspect(behind).get_table_names()
    behind.dispose()

    reopened = SqlCatalog(url)
    try:
        assert schema_revision(reopened.db) == SCHEMA_HEAD
        assert "owed_audit_records" in inspect(reopened.db).get_table_names()
    finally:
        reopened.close()


def test_reopening_an_existing_catalog_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    first = SqlCatalog(url)
    first.add_source("s", "consent", "GB", 30, **TERMS)
    first.close()
    again = SqlCatalog(url)
    assert [s.name for s in again.list_sources()] == ["s"]
    again.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("s", "because", "GB", 30), "unknown lawful basis 'because'; one of: consent, contract"),
        (("s", "consent", "GBR", 30), "'GBR' is not an assigned ISO 3166-1 alpha-2"),
        (("s", "consent", "GB", 0), "must be at least 1 day"),
        (("../etc", "consent", "GB", 30), "source name '../etc' is invalid"),
    ],
)
def test_source_validation(catalog, args, message):
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        catalog.add_source(*args, **TERMS)


def test_purpose_and_controller_are_required(catalog):
    with pytest.raises(SourceError, match="state the purpose"):
        catalog.add_source("s", "consent", "GB", 30, purpose=" ", controller="dpo@example.org")
    with pytest.raises(SourceError, match="controller's contact"):
        catalog.add_source("s", "consent", "GB", 30, purpose="x", controller="")


def test_duplicate_and_unknown_sources(catalog):
    catalog.add_source("custody", "public-task", "gb", 365, "custody images", **TERMS)
    with pytest.raises(SourceError, match="source 'custody' already exists"):
        catalog.add_source("custody", "public-task", "GB", 365, **TERMS)
    with pytest.raises(SourceError, match="unknown source 'kyc'; known: custody"):
        catalog.get_source("kyc")
    assert catalog.get_source("custody").jurisdiction == "GB"


def test_add_images_round_trip_and_version(catalog):
    source = catalog.add_source("s", "consent", "FR", 30, **TERMS)
    assert catalog.version() == 0
    ids, vectors = catalog.add_images(
        [NewImage(source.id, image("a", 2)), NewImage(source.id, image("b", 0))], SPACE
    )
    assert len(ids) == 2 and vectors.shape == (2, 4)
    assert catalog.version() == 1
    assert catalog.known_hashes(["a" * 64, "c" * 64]) == {"a" * 64}
    np.testing.assert_array_equal(catalog.embeddings(np.asarray(ids)), vectors)
    stored = catalog.stored_faces(ids)
    assert stored[ids[1]].box == BoundingBox(1, 1, 41, 41)
    assert stored[ids[0]].source == "s" and stored[ids[0]].jurisdiction == "FR"
    counts = catalog.counts()
    assert (counts.images, counts.faces, counts.images_without_faces) == (2, 2, 1)
    batches = list(catalog.iter_embeddings(batch_size=1))
    assert [b[0].tolist() for b in batches] == [[ids[0]], [ids[1]]]


def test_a_second_embedding_space_is_refused(catalog):
    source = catalog.add_source("s", "consent", "FR", 30, **TERMS)
    catalog.add_images([NewImage(source.id, image("a", 1))], SPACE)
    other = EmbeddingSpace("other", "v2", 4, "euclidean")
    with pytest.raises(
        SpaceMismatchError,
        match=f"the catalog holds {SPACE.key}, got other/v2/4/euclidean; .*`facesift reembed`",
    ):
        catalog.add_images([NewImage(source.id, image("b", 1))], other)
    assert catalog.counts().images == 1  # the refused batch left nothing behind

"""The engine end to end on each vector index backend, chosen as a deployment would: by
FACESIFT_VECTOR_INDEX. Real photos, real models; erasure of a source goes through remove_where."""

import logging
from pathlib import Path

import numpy as np
import pytest

from facesift import FaceSift, Settings
from facesift.errors import BackendNotFound, ConfigError
from facesift.index.tagged import TAGS_FILE
from tests.conftest import add_source, operators

CASE = {"purpose": "testing", "case": "T-1"}
KIND_PREFIX = {"faiss": "exact", "milvus": "Milvus", "pgvector": "pgvector"}


@pytest.fixture(params=["faiss", "milvus", "pgvector"])
def backend(request, monkeypatch):
    if request.param == "milvus":
        pytest.importorskip("pymilvus", reason="extra 'milvus' not installed (make test does)")
    if request.param == "pgvector":
        # A database of its own with a SQLite catalog: the vectors' URL set apart from it.
        url = request.getfixturevalue("pgvector_server").new_database()
        monkeypatch.setenv("FACESIFT_PGVECTOR_URL", url)
    monkeypatch.setenv("FACESIFT_VECTOR_INDEX", request.param)
    return request.param


def ingest_two_sources(engine, photos):
    admin, investigator = operators(engine)
    add_source(engine, admin, "nasa", jurisdiction="GB")
    add_source(engine, admin, "navy", jurisdiction="US")
    engine.ingest(admin, [photos["collins_mirrored"], photos["group"]], "nasa")
    engine.ingest(admin, [photos["hopper"]], "navy")
    return admin, investigator


def face_ids_of(engine, source: str) -> list[int]:
    stored = engine._catalog.stored_faces(engine._catalog.face_ids().tolist()).values()
    return sorted(face.face_id for face in stored if face.source == source)


def lead_names(engine, investigator, probe: Path) -> list[tuple[str, str, str]]:
    results = engine.search(investigator, probe, top_k=10, **CASE)
    return [
        (Path(lead.image_path).name, lead.source, lead.jurisdiction)
        for result in results
        for lead in result.leads
    ]


def test_search_and_source_erasure_through_the_configured_index(backend, photos, tmp_path, caplog):
    settings = Settings(data_dir=tmp_path / "data", workers=1)
    assert settings.vector_index == backend
    with FaceSift(settings) as engine:
        assert engine._index.kind.startswith(KIND_PREFIX[backend])
        admin, investigator = ingest_two_sources(engine, photos)
        assert engine.check_index().in_agreement
        # Regression: the stats read the size of a hard-coded "faces.faiss", 0 on Milvus.
        stats = engine.stats()
        assert stats.index_size == len(engine._index) >= 4
        # At least the vectors themselves: 128 float32 per face.
        assert stats.index_bytes >= stats.index_size * 128 * 4
        # Collins's probe (not itself in the gallery) finds her mirrored photo and her face in
        # the group photo, with their provenance; never Hopper.
        leads = lead_names(engine, investigator, photos["collins"])
        assert ("collins-mirrored.jpg", "nasa", "GB") in leads
        assert ("group.jpg", "nasa", "GB") in leads
        assert all(source == "nasa" for _, source, _ in leads)
        nasa_faces = face_ids_of(engine, "nasa")
        with caplog.at_level(logging.WARNING, logger="facesift.index.keeper"):
            _, receipt = engine.erase(admin, source="nasa")
        assert "reconciling by id" not in caplog.text  # the filtered delete removed them all
        assert receipt is not None and receipt.faces == len(nasa_faces) >= 3
        assert not np.isin(engine._index.ids(), nasa_faces).any()
        assert lead_names(engine, investigator, photos["collins"]) == []
        assert len(engine._index) == engine._catalog.counts().faces
        assert engine.check_index().in_agreement
    if backend == "faiss":
        # As a gallery indexed before tags existed: rebuilt on open, with tags from the catalog.
        (settings.data_dir / TAGS_FILE).unlink()
    caplog.clear()
    with FaceSift(settings) as engine:
        # The saved index says which catalog version it reflects.
        assert engine._index.catalog_version == engine._catalog.version()
        admin, investigator = operators(engine)
        assert lead_names(engine, investigator, photos["hopper"]) == [("hopper.jpg", "navy", "US")]
        with caplog.at_level(logging.WARNING, logger="facesift.index.keeper"):
            engine.erase(admin, jurisdiction="us")
        assert "reconciling by id" not in caplog.text
        assert len(engine._index) == 0 and engine._catalog.counts().faces == 0


def test_pgvector_without_a_postgresql_database_says_what_to_set(tmp_path, monkeypatch):
    pytest.importorskip("pgvector", reason="extra 'pgvector' not installed (make test does)")
    monkeypatch.setenv("FACESIFT_VECTOR_INDEX", "pgvector")
    with pytest.raises(ConfigError, match="set FACESIFT_PGVECTOR_URL, or put the catalog on"):
        FaceSift(Settings(data_dir=tmp_path))


def test_an_unknown_index_backend_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESIFT_VECTOR_INDEX", "annoy")
    with pytest.raises(BackendNotFound, match="unknown vector index backend 'annoy'"):
        FaceSift(Settings(data_dir=tmp_path))

"""The whole engine on each catalog backend: public-domain photos ingested under declared sources,
searched with provenance, clustered, erased by source, and the audit chain verified; then a second
data directory (another host) opens the same catalog and finds the same gallery."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from facesift import FaceSift, Settings
from tests.conftest import add_source, operators
from tests.contract.catalog_backends import CATALOG_BACKENDS, empty_catalog_url

CASE = {"purpose": "contract test", "case": "CT-1"}
# Catalog and vectors in one PostgreSQL database: vector_index "pgvector" on the catalog's URL.
ONE_STORE = "postgresql+pgvector"
# A SQLite catalog and the vectors on a Milvus server, which the second host shares.
MILVUS_SERVER = "sqlite+milvus-server"


@pytest.fixture(params=[*CATALOG_BACKENDS, ONE_STORE, MILVUS_SERVER])
def catalog_url(request, tmp_path, monkeypatch) -> str:
    if request.param == ONE_STORE:
        monkeypatch.setenv("FACESIFT_VECTOR_INDEX", "pgvector")
        return request.getfixturevalue("pgvector_server").new_database()
    if request.param == MILVUS_SERVER:
        server = request.getfixturevalue("milvus_server")
        monkeypatch.setenv("FACESIFT_VECTOR_INDEX", "milvus")
        monkeypatch.setenv("FACESIFT_MILVUS_URI", server.uri)
        monkeypatch.setenv("FACESIFT_MILVUS_COLLECTION", server.new_collection())
        return empty_catalog_url(request, "sqlite", tmp_path)
    return empty_catalog_url(request, request.param, tmp_path)


def folder_of(tmp_path: Path, name: str, *files: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        (folder / file.name).symlink_to(file)
    return folder


def leads_by_path(results) -> dict[str, object]:
    return {Path(lead.image_path).name: lead for r in results for lead in r.leads}


def test_ingest_search_cluster_erase_and_audit(catalog_url, photos, tmp_path):
    portraits = folder_of(tmp_path, "portraits", photos["collins"], photos["hopper"])
    events = folder_of(tmp_path, "events", photos["group"], photos["blank"])
    settings = Settings(data_dir=tmp_path / "host-a", catalog_url=catalog_url, workers=1)
    with FaceSift(settings) as engine:
        if settings.vector_index == "pgvector":  # no URL of its own: the catalog's database
            where = catalog_url.split("://", 1)[1]
            assert engine._index.kind.startswith(f"pgvector HNSW L2 (postgresql://{where},")
        if settings.vector_index == "milvus":  # the server, not a Milvus Lite file
            assert engine._index.kind.startswith(f"Milvus AUTOINDEX L2 ({settings.milvus_uri},")
        admin, investigator = operators(engine)
        engine.add_operator(admin, "auditor", "auditor")
        auditor = engine.operator(name="auditor")
        add_source(engine, admin, "portraits", jurisdiction="GB")
        add_source(engine, admin, "events", basis="public-task", jurisdiction="FR")
        assert engine.ingest(admin, [portraits], "portraits").images_ingested == 2
        report = engine.ingest(admin, [events], "events")
        assert (report.images_ingested, report.images_without_faces) == (2, 1)
        assert engine.check_index().in_agreement

        # The mirrored portrait (not in the gallery) leads to Collins's photos, with provenance.
        results = engine.search(investigator, photos["collins_mirrored"], top_k=5, **CASE)
        found = leads_by_path(results)
        assert {"collins.png", "group.jpg"} <= set(found)
        top = results[0].leads[0]
        assert Path(top.image_path).name == "collins.png"
        assert (top.source, top.lawful_basis, top.jurisdiction) == (
            "portraits",
            "legitimate-interest",
            "GB",
        )
        assert found["group.jpg"].source == "events" and found["group.jpg"].jurisdiction == "FR"
        assert top.ingested_at.utcoffset() == timedelta(0)

        # Subject access by selfie shows every held photo of Hopper, with where it came from.
        access = engine.subject_access(admin, photos["hopper"])
        held = {Path(f.image.path).name: f.image for f in access.faces}
        assert set(held) >= {"hopper.jpg", "group.jpg"}
        assert held["hopper.jpg"].controller == "dpo@example.org"
        assert held["group.jpg"].lawful_basis == "public-task"
        assert held["hopper.jpg"].expires_at > held["hopper.jpg"].ingested_at

        clustered = engine.cluster(investigator)
        assert clustered.identities >= 2 and clustered.faces_assigned >= 4

        # Erasing a source removes its images from catalog and index alike.
        planned, receipt = engine.erase(admin, source="events")
        assert len(planned) == 2 and receipt.images == 2 and receipt.faces >= 2
        after = leads_by_path(engine.search(investigator, photos["collins_mirrored"], **CASE))
        assert "group.jpg" not in after and "collins.png" in after
        assert engine.check_index().in_agreement
        assert engine.stats().sources == 2 and engine.stats().images == 2

        check = engine.audit_verify(admin)
        assert check.intact
        records = engine.audit_records(auditor)
        actions = [r.action for r in records]
        ingests = [r for r in records if r.action == "ingest"]
        summaries = [r for r in ingests if "batch" not in r.details]
        # Two runs, each summarised, and each committed batch recorded as it committed.
        assert len(summaries) == 2 and len(ingests) - 2 == sum(
            r.details["batches"] for r in summaries
        )
        assert "erase" in actions and "cluster" in actions
        erase_record = engine.audit_records(auditor, action="erase")[-1]
        assert erase_record.details["source"] == "events"
        version = engine._catalog.version()

    # Another host: its own data directory (index, audit.head), the same catalog.
    elsewhere = Settings(data_dir=tmp_path / "host-b", catalog_url=catalog_url, workers=1)
    with FaceSift(elsewhere) as engine:
        # The operators are in the catalog already.
        admin, investigator = operators(engine)
        auditor = engine.operator(name="auditor")
        assert engine._catalog.version() == version and engine.check_index().in_agreement
        again = leads_by_path(engine.search(investigator, photos["collins_mirrored"], **CASE))
        assert set(again) == set(after)
        check = engine.audit_verify(admin)
        assert check.intact and check.records > 0
        last = engine.audit_records(auditor)[-1]
        assert last.action == "search" and last.at.endswith("+00:00")

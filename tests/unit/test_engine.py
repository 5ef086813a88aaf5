"""The engine end to end on the demo gallery (public-domain photos and variants of them)."""

import os
from pathlib import Path

import numpy as np
import pytest

from facesift import FaceSift, NoFaceError, Settings, SourceError
from facesift.demo import build
from tests.conftest import add_source, operators

CASE = {"purpose": "testing", "case": "T-1"}


def investigator_of(engine):
    return operators(engine)[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("demo")
    probe = build(folder)
    return folder / "gallery", probe


@pytest.fixture(scope="module")
def gallery(demo, tmp_path_factory):
    folder, _ = demo
    with FaceSift(Settings(data_dir=tmp_path_factory.mktemp("data"), workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "demo")
        report = engine.ingest(admin, [folder], "demo")
        yield engine, report


def test_ingest_reports_faces_and_the_bad_file(gallery):
    engine, report = gallery
    assert report.files_seen == 12
    assert report.images_ingested == 11
    assert [name.rsplit("/", 1)[-1] for name, _ in report.errors] == ["truncated.jpg"]
    assert "corrupt or truncated" in report.errors[0][1]
    # Where the time went, stage by stage (timings are reported, never asserted on).
    for stage in ("hash", "read", "decode", "detect", "align", "embed"):
        assert report.stage_seconds[stage] > 0, stage
    assert "catalog_write" in report.stage_seconds
    # 10 single-person photos + a group photo with both faces.
    assert report.faces_found == 12
    assert engine.check_index().in_agreement and len(engine._index) == report.faces_found
    assert report.images_without_faces == 0


def test_group_photo_indexes_every_face(gallery, demo):
    engine, _ = gallery
    _, probe = demo
    stored = engine._catalog.stored_faces(engine._catalog.face_ids().tolist()).values()
    group = [f for f in stored if f.image_path.endswith("group-hopper-and-collins.jpg")]
    assert len(group) >= 2
    # Both people in the group photo can be found: Collins's face there matches her probe.
    (result,) = engine.search(investigator_of(engine), probe, top_k=20, **CASE)
    assert any(lead.image_path.endswith("group-hopper-and-collins.jpg") for lead in result.leads)


def test_search_finds_the_same_person_first_and_not_the_stranger(gallery, demo):
    engine, _ = gallery
    _, probe = demo
    (result,) = engine.search(investigator_of(engine), probe, top_k=20, **CASE)
    names = [Path(lead.image_path).name for lead in result.leads]
    assert names and names[0].startswith("collins-")
    assert all("collins" in name for name in names)
    assert len(names) == 6  # five Collins photos and her face in the group photo
    assert not any(name.startswith("hopper") for name in names)
    lead = result.leads[0]
    assert lead.source == "demo" and lead.lawful_basis == "legitimate-interest"
    assert lead.jurisdiction == "GB"
    assert 0 < lead.false_match_rate <= engine.settings.match_false_match_rate
    assert [d.distance for d in result.leads] == sorted(d.distance for d in result.leads)


def test_reingest_adds_nothing(gallery, demo):
    engine, _ = gallery
    folder, _ = demo
    before = engine._catalog.counts()
    report = engine.ingest(operators(engine)[0], [folder], "demo")
    assert report.images_ingested == 0 and report.already_in_catalog == 11
    assert engine._catalog.counts() == before


def test_verify(gallery, demo):
    engine, _ = gallery
    folder, probe = demo
    same = engine.verify(investigator_of(engine), probe, folder / "collins-mirrored.jpg", **CASE)
    different = engine.verify(
        investigator_of(engine), probe, folder / "hopper-original.jpg", **CASE
    )
    assert same.same_person and same.distance < same.threshold
    assert not different.same_person and different.false_match_rate > same.false_match_rate


def test_probe_without_a_face(gallery, tmp_path):
    engine, _ = gallery
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank)
    with pytest.raises(NoFaceError, match="wall.png: no face found"):
        engine.search(investigator_of(engine), blank, **CASE)


def test_ingest_without_a_declared_source_is_refused(tmp_path, demo):
    folder, _ = demo
    with FaceSift(Settings(data_dir=tmp_path, workers=1)) as engine:
        admin, _ = operators(engine)
        with pytest.raises(SourceError, match="unknown source 'scraped'"):
            engine.ingest(admin, [folder], "scraped")
        assert engine._catalog.counts().images == 0


def test_hostile_file_names_are_ingested(tmp_path, demo):
    folder, _ = demo
    photos = tmp_path / "photos"
    photos.mkdir()
    source_bytes = (folder / "hopper-original.jpg").read_bytes()
    names = ["-rf.jpg", "new\nline.jpg", "ünïcødé 写真.jpg", "$(touch pwned).jpg"]
    for i, name in enumerate(names):
        (photos / name).write_bytes(source_bytes + bytes([i]))  # distinct content
    undecodable = os.fsencode(photos) + b"/caf\xe9.jpg"
    with open(undecodable, "wb") as handle:
        handle.write(source_bytes + b"\xff")
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        report = engine.ingest(admin, [photos], "s")
    assert report.errors == [] and report.images_ingested == 5 and report.faces_found == 5
    assert not Path("pwned").exists()


def test_index_lagging_the_catalog_is_reconciled_on_open(tmp_path, demo):
    folder, _ = demo
    settings = Settings(data_dir=tmp_path, workers=1)
    with FaceSift(settings) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [folder / "collins-original.jpg"], "s")
        engine.save_index()
        saved = (
            (tmp_path / "faces.faiss").read_bytes(),
            (tmp_path / "faces.faiss.json").read_bytes(),
        )
        engine.ingest(admin, [folder / "hopper-original.jpg", folder / "collins-small.jpg"], "s")
    # Simulate a crash after the catalog commit but before the index was saved.
    (tmp_path / "faces.faiss").write_bytes(saved[0])
    (tmp_path / "faces.faiss.json").write_bytes(saved[1])
    with FaceSift(settings) as engine:
        assert len(engine._index) == engine._catalog.counts().faces >= 3
        assert engine.check_index().in_agreement
        np.testing.assert_array_equal(np.sort(engine._index.ids()), engine._catalog.face_ids())


@pytest.mark.parametrize("interrupted", ["index.add", "face_tags"])
def test_ctrl_c_between_catalog_commit_and_index_update_leaves_them_in_agreement(
    tmp_path, demo, monkeypatch, interrupted
):
    # Regression: Ctrl-C landed after the catalog committed a batch but before the index held
    # it; the ingest's closing save stamped the index with the catalog's version, so the next
    # open trusted an index missing the whole batch (CI: 78 faces catalogued, 1 indexed).
    folder, _ = demo
    settings = Settings(data_dir=tmp_path, workers=1)
    with FaceSift(settings) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "s")
        engine.ingest(admin, [folder / "collins-original.jpg"], "s")
        target = engine._index if interrupted == "index.add" else engine._catalog
        name = interrupted.split(".")[-1]

        original = getattr(target, name)
        signalled = []

        def interrupt_once(*args, **kwargs):  # one Ctrl-C: later calls (the closing save) work
            if not signalled:
                signalled.append(True)
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, interrupt_once)
        # Commit each photo as it comes, as a long ingest does, so the interrupt lands in a
        # batch commit and the ingest's own closing save runs after it.
        monkeypatch.setattr("facesift.ingest.jobs.COMMIT_EVERY_IMAGES", 1)
        with pytest.raises(KeyboardInterrupt):
            photos = [folder / "hopper-original.jpg", folder / "collins-small.jpg"]
            engine.ingest(admin, photos, "s")
        monkeypatch.undo()
        assert engine._catalog.counts().images == 2  # the first batch was committed
    with FaceSift(settings) as engine:
        check = engine.check_index()
        assert check.in_agreement, check
        assert check.index_faces == engine._catalog.counts().faces == 2


def test_a_photo_held_under_another_source_is_reported_not_moved(photos, tmp_path):
    """Content already held under source A, ingested again under source B, stays under A (its
    lawful basis) and is named in B's report, so the operator can decide what to do."""
    from facesift import FaceSift, Settings
    from tests.conftest import add_source, operators

    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "custody")
        add_source(engine, admin, "accounts", basis="contract")
        engine.ingest(admin, [photos["hopper"]], "custody")
        again = engine.ingest(admin, [photos["hopper"], photos["collins"]], "accounts")
        same = engine.ingest(admin, [photos["hopper"]], "custody")
        counts = engine._catalog.source_counts()
    assert again.already_in_catalog == 1 and again.images_ingested == 1
    assert [(n.rsplit("/", 1)[-1], s) for n, s in again.held_under_other_source] == [
        ("hopper.jpg", "custody")
    ]
    assert same.already_in_catalog == 1 and same.held_under_other_source == []
    assert counts["custody"][0] == 1 and counts["accounts"][0] == 1

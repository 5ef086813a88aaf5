"""Governance end to end on real LFW photos: erasure by face, opt-out, jurisdiction erasure,
retention purge, manifests, audit integrity, and roles."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facesift import AmbiguousFaceError, FaceSift, NoFaceError, Settings, SourceError
from facesift.govern.roles import PermissionDenied
from tests.conftest import add_source, operators
from tests.integration.lfw_sample import people

pytestmark = pytest.mark.lfw
CASE = {"purpose": "testing", "case": "GOV-1"}


def person_of(path: str) -> str:
    return Path(path).stem.rsplit("_", 1)[0]


@pytest.fixture(scope="module")
def lfw_people(lfw_root):
    everyone = people(lfw_root)
    repeat = [name for name, files in everyone.items() if len(files) >= 5][:12]
    return {name: everyone[name][:5] for name in repeat}


@pytest.fixture
def gallery(lfw_people, tmp_path):
    """Four photos of each of 12 people, in a GB source; photo 5 of each is held back."""
    staging = tmp_path / "photos"
    staging.mkdir()
    for files in lfw_people.values():
        for file in files[:4]:
            (staging / file.name).symlink_to(file)
    engine = FaceSift(Settings(data_dir=tmp_path / "data", workers=2))
    admin, investigator = operators(engine)
    add_source(engine, admin, "custody", basis="public-task", jurisdiction="GB", retention_days=365)
    report = engine.ingest(admin, [staging], "custody")
    assert report.errors == [] and report.images_ingested == 48
    yield engine, admin, investigator, lfw_people
    engine.close()


def found_people(engine, investigator, probe: Path) -> set[str]:
    results = engine.search(investigator, probe, top_k=20, **CASE)
    return {person_of(lead.image_path) for r in results for lead in r.leads}


def test_erase_one_person_by_one_photo(gallery):
    engine, admin, investigator, lfw_people = gallery
    target, other = list(lfw_people)[:2]
    selfie = lfw_people[target][4]
    assert target in found_people(engine, investigator, selfie)
    report = engine.subject_access(admin, selfie)
    assert len(report.faces) >= 3
    assert {person_of(f.image.path) for f in report.faces} == {target}
    receipt = engine.subject_erase(admin, report)
    assert receipt.faces == len(report.faces) and receipt.images >= 3

    assert target not in found_people(engine, investigator, lfw_people[target][0])
    assert other in found_people(engine, investigator, lfw_people[other][4])
    assert engine.check_index().in_agreement
    assert engine._audit.verify().intact
    erase_record = engine._audit.records(action="subject-erase")[-1]
    assert erase_record.details["faces_erased"] == receipt.faces
    assert erase_record.probe_sha256 == report.selfie_sha256 and "path" not in str(
        erase_record.details
    )

    # Erased photos are never ingested again, even from the same folder.
    again = engine.ingest(admin, [Path(lfw_people[target][0]).parent], "custody")
    assert again.erased_before == receipt.images
    assert again.images_ingested == again.files_seen - receipt.images


def test_optout_hides_existing_faces_and_blocks_new_ones(gallery, tmp_path):
    engine, admin, investigator, lfw_people = gallery
    names = list(lfw_people)
    held, newcomer = names[2], names[3]
    receipt = engine.subject_optout(admin, lfw_people[held][4])
    assert receipt.existing_faces_hidden >= 3
    assert held not in found_people(engine, investigator, lfw_people[held][0])
    search_record = engine._audit.records(action="search")[-1]
    assert search_record.details["hidden_by_optout"] >= 1

    # The opt-out covers the person, not one selfie: a template per face held of them.
    assert receipt.templates == 1 + receipt.existing_faces_hidden
    references, _ = engine._catalog.optout_templates()
    assert sorted(references) == sorted(
        [receipt.reference] + [f"{receipt.reference}.{n}" for n in range(2, receipt.templates + 1)]
    )
    assert 0 < receipt.miss_rate < 0.05  # the FNMR at the opt-out threshold: 0.39% on LFW

    # Withdrawing the opt-out removes all its templates and brings the leads back.
    assert engine.subject_optout_remove(admin, lfw_people[held][4]) == receipt.templates
    assert engine._catalog.optout_templates()[0] == []
    assert held in found_people(engine, investigator, lfw_people[held][0])

    # Opt-out before ingest: this person's faces are not stored.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    extra = people(lfw_people[newcomer][0].parents[1])[newcomer][5:8]
    for file in extra:
        (fresh / file.name).symlink_to(file)
    engine.subject_optout(admin, lfw_people[newcomer][4])
    report = engine.ingest(admin, [fresh], "custody")
    assert report.faces_opted_out >= len(extra) - 1
    assert engine._audit.verify().intact


def test_jurisdiction_erasure_and_manifest_overrides(gallery, tmp_path):
    engine, admin, investigator, lfw_people = gallery
    names = list(lfw_people)
    french = names[4]
    manifest = tmp_path / "fr.csv"
    rows = ["path,subject_ref,jurisdiction"]
    for n, file in enumerate(people(lfw_people[french][0].parents[1])[french][5:7]):
        rows.append(f"{file},FR-{n},FR")
    rows.append("/no/such/file.jpg,FR-X,FR")
    rows.append(f"{lfw_people[french][0]},FR-Y,Gaul")
    manifest.write_text("\n".join(rows) + "\n")
    report = engine.ingest(admin, [], "custody", manifest=manifest)
    assert report.images_ingested == 2
    reasons = [reason for _, reason in report.errors]
    assert any("cannot read file" in r for r in reasons)
    assert any(where.endswith(":5") and "Gaul" in reason for where, reason in report.errors)

    planned, _ = engine.erase(admin, jurisdiction="fr", dry_run=True)
    assert len(planned) == 2
    _, receipt = engine.erase(admin, jurisdiction="FR")
    assert receipt.images == 2
    assert engine._catalog.image_ids_in_jurisdiction("FR") == []
    assert len(engine._catalog.image_ids_in_jurisdiction("GB")) == 48
    assert engine.check_index().in_agreement and engine._audit.verify().intact


def test_retention_purge(gallery):
    engine, admin, investigator, lfw_people = gallery
    expiring, _ = engine.purge(admin, dry_run=True)
    assert expiring == []
    later = datetime.now(UTC) + timedelta(days=366)
    expired, _ = engine.purge(admin, dry_run=True, now=later)
    assert len(expired) == 48
    _, receipt = engine.purge(admin, now=later)
    assert receipt.images == 48 and engine._catalog.counts().faces == 0 and len(engine._index) == 0
    assert engine._audit.records(action="purge")[-1].details["images_erased"] == 48


def test_consent_sources_need_a_consent_reference_per_image(gallery, tmp_path):
    engine, admin, _, lfw_people = gallery
    add_source(engine, admin, "volunteers", basis="consent", jurisdiction="NL")
    with pytest.raises(SourceError, match="ingest it from a manifest"):
        engine.ingest(admin, [tmp_path], "volunteers")
    photo = lfw_people[list(lfw_people)[5]][4]
    manifest = tmp_path / "consent.csv"
    other = tmp_path / "consenting.jpg"  # new content: a mirrored copy of the same photo
    from PIL import Image, ImageOps

    ImageOps.mirror(Image.open(photo)).save(other, quality=95)
    manifest.write_text(
        "path,consent_ref,consent_until\n"
        f"{photo},,\n{photo},C-77,2000-01-01\n{other},C-78,2999-01-01\n"
    )
    report = engine.ingest(admin, [], "volunteers", manifest=manifest)
    assert report.images_ingested == 1
    reasons = [reason for _, reason in report.errors]
    assert reasons[0].startswith("missing consent_ref")
    # Consent that ended in 2000 is refused at ingest, not stored to be purged later.
    assert reasons[1].startswith("consent ended on 2000-01-01")
    assert engine.purge(admin, dry_run=True)[0] == []


def test_selfie_with_no_face_or_several_faces(gallery, tmp_path):
    engine, admin, _, lfw_people = gallery
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (80, 80, 80)).save(blank)
    with pytest.raises(NoFaceError):
        engine.subject_access(admin, blank)
    a, b = (Image.open(lfw_people[n][4]) for n in list(lfw_people)[6:8])
    pair = Image.new("RGB", (500, 250))
    pair.paste(a, (0, 0))
    pair.paste(b, (250, 0))
    both = tmp_path / "pair.png"
    pair.save(both)
    with pytest.raises(AmbiguousFaceError, match="choose one with --face N"):
        engine.subject_access(admin, both)
    chosen = engine.subject_access(admin, both, face=2)
    assert {person_of(f.image.path) for f in chosen.faces} <= {list(lfw_people)[7]}


def test_roles_hold_in_the_engine(gallery):
    engine, admin, investigator, lfw_people = gallery
    probe = lfw_people[list(lfw_people)[0]][4]
    with pytest.raises(PermissionDenied, match="may not erase"):
        engine.erase(investigator, jurisdiction="GB")
    with pytest.raises(PermissionDenied, match="may not search"):
        engine.search(admin, probe, **CASE)
    engine.add_operator(admin, "audrey", "auditor")
    auditor = engine.operator(name="audrey")
    with pytest.raises(PermissionDenied, match="may not search"):
        engine.search(auditor, probe, **CASE)
    with pytest.raises(PermissionDenied, match="may not subject-access"):
        engine.subject_access(investigator, probe)
    assert engine.audit_verify(auditor).intact

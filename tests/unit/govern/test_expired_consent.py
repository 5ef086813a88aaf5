"""Retention and consent that have ended (issue #12): a photo whose consent already ended is not
ingested, and an image past its retention is never a lead, even before `purge` runs; the person
can still see it until it is purged (it is still held), and purge then removes it."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from facesift import FaceSift, Settings
from facesift.catalog.tables import images
from tests.conftest import add_source, operators

CASE = {"purpose": "testing retention", "case": "T-7"}


def test_a_photo_whose_consent_ended_is_not_ingested(photos, tmp_path):
    manifest = tmp_path / "manifest.csv"
    ended = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    manifest.write_text(
        "path,consent_ref,consent_until\n"
        f"{photos['hopper']},C-1,{ended}\n"
        f"{photos['collins']},C-2,{later}\n"
    )
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "volunteers", basis="consent")
        report = engine.ingest(admin, [], "volunteers", manifest=manifest)
        assert report.images_ingested == 1
        assert any("consent ended on" in reason for _, reason in report.errors), report.errors
        assert engine._catalog.counts().images == 1


def test_an_image_past_its_retention_is_never_a_lead(photos, tmp_path):
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "s", retention_days=1)
        engine.ingest(admin, [photos["hopper"], photos["collins"]], "s")
        assert engine.search(investigator, photos["hopper"], **CASE)[0].leads
        # A day later, before anyone ran `purge`: Hopper's photo is past its retention.
        hopper = engine.analyse_probe(photos["hopper"]).sha256
        with engine._catalog.db.begin() as connection:
            connection.execute(
                update(images)
                .where(images.c.sha256 == hopper)
                .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
        assert engine.search(investigator, photos["hopper"], **CASE)[0].leads == ()
        assert engine.search(investigator, photos["collins"], **CASE)[0].leads  # not expired
        # Still held until purged, so still disclosed to the person it shows.
        assert engine.subject_access(admin, photos["hopper"]).faces
        engine.purge(admin)
        assert engine.subject_access(admin, photos["hopper"]).faces == ()

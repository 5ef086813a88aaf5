"""The anonymous portal keeps as little as it can (issue #12): a selfie is kept only while its
request is open and then not as sent (re-encoded, no metadata, no hidden trailing file, bounded
in pixels), and oversized uploads are refused before they are decoded."""

from __future__ import annotations

import io

from PIL import Image

from tests.unit.serve.conftest import assert_problem

SECRET = b"PK\x03\x04 a zip file riding along after the JPEG"


def hostile_selfie(path) -> bytes:
    """A big selfie with EXIF (GPS and camera) and a second file appended after the image."""
    image = Image.open(path).convert("RGB")
    image = image.resize((image.width * 5, image.height * 5))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Ltd"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0), 4: (0.0, 7.0, 0.0)}  # GPSInfo
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue() + SECRET


def test_a_kept_selfie_is_reencoded_without_metadata_or_riders(fresh, photos):
    sent = hostile_selfie(photos["hopper"])
    assert b"SpyCam" in sent
    answer = fresh.client.post(
        "/api/v1/subject-requests",
        files={"selfie": ("me.jpg", sent, "image/jpeg")},
        data={"kind": "access", "contact": "grace@example.org"},
    )
    assert answer.status_code == 201, answer.text
    stored = fresh.engine._catalog.list_subject_requests("open")[0]
    kept = fresh.engine._catalog.subject_request(request_id=stored.id).selfie
    assert kept and kept != sent
    assert b"SpyCam" not in kept and SECRET not in kept and b"Exif" not in kept
    image = Image.open(io.BytesIO(kept))
    assert image.format == "JPEG" and max(image.size) <= 1600
    assert not image.getexif()
    # Still answerable: the admin sees her candidates.
    admin = fresh.as_("admin")
    candidates = fresh.client.get(
        f"/api/v1/admin/subject-requests/{stored.id}/candidates", headers=admin
    ).json()
    assert candidates["faces"]


def test_an_oversized_selfie_is_refused_before_it_is_read(fresh):
    limit = fresh.engine.settings.portal_max_selfie_bytes
    answer = fresh.client.post(
        "/api/v1/subject-requests",
        files={"selfie": ("big.jpg", b"\xff\xd8" + b"\0" * limit, "image/jpeg")},
        data={"kind": "access", "contact": "x@example.org"},
    )
    assert_problem(answer, 413)
    assert fresh.engine._catalog.list_subject_requests("open") == []


def test_the_portal_is_recorded_as_the_public_and_cannot_be_made_an_operator(fresh, photos):
    answer = fresh.client.post(
        "/api/v1/subject-requests",
        files={"selfie": ("me.jpg", photos["hopper"].read_bytes(), "image/jpeg")},
        data={"kind": "optout", "contact": "grace@example.org"},
    )
    assert answer.status_code == 201, answer.text
    (received,) = fresh.engine._audit.records(action="subject-request")
    assert (received.actor, received.role) == ("the public (subject portal)", "public")
    attempt = fresh.client.post(
        "/api/v1/operators", json={"name": "mole", "role": "public"}, headers=fresh.as_("admin")
    )
    assert_problem(attempt, 422)

"""The data subjects' portal, the administrators' request pages, and the auditors' pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from facesift.catalog.tables import audit_log, subject_requests
from tests.unit.serve_web.conftest import csrf_of, make_site


def submit(site, client, photo: str, kind: str, contact: str = "me@example.org"):
    return site.post_form(
        client,
        "/subject",
        "/subject",
        {"kind": kind, "contact": contact, "name": "Grace"},
        site.upload(photo, "selfie"),
    )


def reference_of(answer) -> str:
    assert answer.status_code == 200, answer.text
    return re.search(r"data-reference>([^<]+)<", answer.text).group(1)


def status_page(site, client, reference: str) -> str:
    answer = site.post_form(client, "/subject/status", "/subject/status", {"reference": reference})
    assert answer.status_code == 200, answer.text
    return answer.text


def request_id_of(site, reference: str) -> int:
    return site.engine.subject_request_by_reference(reference).id


def test_access_request_from_submission_to_downloaded_report(site):
    person, admin = site.browser(), site.signed_in("admin")
    reference = reference_of(submit(site, person, "hopper", "access"))
    text = status_page(site, person, reference)
    assert "open</span>" in text and "Download" not in text
    early = site.post_form(person, "/subject/status", "/subject/report", {"reference": reference})
    assert early.status_code == 422 and "no report yet" in early.text

    request_id = request_id_of(site, reference)
    listing = admin.get("/admin/requests").text
    assert f'data-request="{request_id}"' in listing and "days left" in listing
    detail = admin.get(f"/admin/requests/{request_id}").text
    candidates = re.findall(r'name="face_ids" value="(\d+)"', detail)
    assert len(candidates) == 2  # Hopper's portrait and Hopper in the group photo
    chosen = candidates[:1]
    answer = site.post_form(
        admin,
        f"/admin/requests/{request_id}",
        f"/admin/requests/{request_id}/fulfil",
        {"face_ids": chosen, "identity_check": "ID seen on a call"},
    )
    assert answer.status_code == 303
    assert "fulfilled</span> by admin" in admin.get(f"/admin/requests/{request_id}").text

    text = status_page(site, person, reference)
    assert "fulfilled</span>" in text and "Download your report" in text
    report = site.post_form(person, "/subject/status", "/subject/report", {"reference": reference})
    assert report.status_code == 200
    assert report.headers["content-disposition"].startswith("attachment;")
    assert "Subject access report" in report.text
    assert report.text.count('<img src="data:image/jpeg') == 1  # only the face the admin ticked


def test_erasure_request_erases_only_the_ticked_faces(tmp_path, photos):
    site = make_site(tmp_path, photos)
    person, admin = site.browser(), site.signed_in("admin")
    reference = reference_of(submit(site, person, "hopper", "erasure"))
    request_id = request_id_of(site, reference)
    detail = admin.get(f"/admin/requests/{request_id}").text
    candidates = [int(i) for i in re.findall(r'name="face_ids" value="(\d+)"', detail)]
    assert candidates
    faces_before = len(site.engine._index)
    # Sent with no face ticked: an error page, nothing erased, the request still open.
    refused = site.post_form(
        admin,
        f"/admin/requests/{request_id}",
        f"/admin/requests/{request_id}/fulfil",
        {"identity_check": "ID seen on a call"},
    )
    assert refused.status_code == 422 and "no faces chosen" in refused.text
    assert len(site.engine._index) == faces_before
    assert site.engine.subject_request(site.engine.operator(name="admin"), request_id).status == (
        "open"
    )
    site.post_form(
        admin,
        f"/admin/requests/{request_id}",
        f"/admin/requests/{request_id}/fulfil",
        {"face_ids": [str(candidates[0])], "identity_check": "ID seen on a call"},
    )
    assert len(site.engine._index) == faces_before - 1
    assert candidates[0] not in site.engine._catalog.stored_faces(candidates)
    text = status_page(site, person, reference)
    assert "Download your receipt" in text
    receipt = site.post_form(person, "/subject/status", "/subject/report", {"reference": reference})
    assert "Erasure receipt" in receipt.text and "1 face(s)" in receipt.text
    site.engine.close()


def test_portal_refuses_bad_uploads_with_clear_messages(site):
    person = site.browser()
    for photo, expected in (
        ("blank", "no face was found in this photo"),
        ("group", "faces were found in this photo; send a photo that shows only your face"),
    ):
        answer = submit(site, person, photo, "access")
        assert answer.status_code == 422 and expected in answer.text, answer.text
    answer = site.post_form(
        person,
        "/subject",
        "/subject",
        {"kind": "access", "contact": "me@example.org"},
        {"selfie": ("me.png", b"\x89PNG not really", "image/png")},
    )
    assert answer.status_code in (415, 422) and "selfie" in answer.text
    answer = submit(site, person, "hopper", "access", contact="")
    assert answer.status_code == 422 and "contact" in answer.text
    missing = site.post_form(person, "/subject/status", "/subject/status", {"reference": "nope"})
    assert missing.status_code == 404 and "no request has this reference" in missing.text


def test_overdue_requests_are_highlighted_and_declining_needs_a_reason(site):
    person, admin = site.browser(), site.signed_in("admin")
    reference = reference_of(submit(site, person, "hopper", "optout"))
    request_id = request_id_of(site, reference)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    with site.engine._catalog.db.begin() as connection:  # as if it had arrived 40 days ago
        connection.execute(
            update(subject_requests)
            .where(subject_requests.c.id == request_id)
            .values(received_at=long_ago, due_at=long_ago + timedelta(days=30))
        )
    listing = admin.get("/admin/requests").text
    row = listing.split(f'data-request="{request_id}"')[0].rsplit("<tr", 1)[1]
    assert 'class="overdue"' in row
    detail = f"/admin/requests/{request_id}"
    blank = site.post_form(admin, detail, f"{detail}/decline", {"reason": " "})
    assert blank.status_code == 422 and "say why" in blank.text
    site.post_form(admin, detail, f"{detail}/decline", {"reason": "could not verify identity"})
    text = status_page(site, person, reference)
    assert "declined" in text and "could not verify identity" in text


def test_audit_page_filters_and_verifies(site):
    auditor = site.signed_in("aud")
    site.web_search(site.signed_in("ina"), "hopper")
    searches = auditor.get("/audit?action=search").text
    actions = set(re.findall(r'<tr data-action="([^"]+)"', searches))
    assert actions == {"search"}
    by_ina = auditor.get("/audit?operator=ina").text
    assert "ina <small>investigator</small>" in by_ina and "admin <small>" not in by_ina
    today = datetime.now(UTC).date()
    in_range = auditor.get(f"/audit?since={today}&until={today}").text
    assert re.search(r"[1-9]\d* record\(s\) match", in_range)
    before = auditor.get(f"/audit?until={today - timedelta(days=1)}").text
    assert "0 record(s) match" in before
    bad = auditor.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "yesterday&#39; is not a date (YYYY-MM-DD)" in bad.text
    check = auditor.get("/audit/verify").text
    assert 'data-chain="intact"' in check
    assert site.engine._audit.verify().head in check


def test_audit_verify_reports_a_broken_chain(tmp_path, photos):
    broken = make_site(tmp_path, photos, ingest=False)
    with broken.engine._catalog.db.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory"))
    text = broken.signed_in("aud").get("/audit/verify").text
    assert 'data-chain="broken"' in text and "record 2 was altered" in text
    broken.engine.close()


def test_login_page_links_to_the_portal_for_people_without_accounts(site):
    text = site.browser().get("/login").text
    assert 'href="/subject"' in text
    assert csrf_of(text)

"""Subject requests (issue #13): the portal starts on a request kind and gives a short reference
without look-alike characters; the admin sees the requester's face while the request is open
and, once fulfilled, what the person was sent."""

from __future__ import annotations

import re

from facesift.govern.requests import REFERENCE_ALPHABET, normal_reference
from tests.unit.serve_web.conftest import make_site
from tests.unit.serve_web.test_portal_admin_audit import reference_of, request_id_of, submit


def test_the_portal_starts_with_a_kind_chosen(site):
    text = site.browser().get("/subject").text
    assert re.search(r'value="access"\s+checked', text)


def test_references_are_short_and_without_look_alike_characters(site):
    reference = reference_of(submit(site, site.browser(), "hopper", "access"))
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", reference)
    assert not set(reference) & set("0O1IL")
    assert set(reference.replace("-", "")) <= set(REFERENCE_ALPHABET)
    typed = reference.lower().replace("-", " ")
    assert normal_reference(typed) == reference
    assert site.engine.subject_request_by_reference(typed).reference == reference


def test_admin_sees_the_selfie_face_while_open_and_the_outcome_after(site):
    admin = site.signed_in("admin")
    reference = reference_of(submit(site, site.browser(), "hopper", "access"))
    request_id = request_id_of(site, reference)
    page = f"/admin/requests/{request_id}"
    assert f'src="/admin/requests/{request_id}/selfie"' in admin.get(page).text
    before = len(site.engine.audit_records(site.engine.operator(name="aud")))
    selfie = admin.get(f"{page}/selfie")
    assert selfie.status_code == 200 and selfie.content[:2] == b"\xff\xd8"
    seen = site.engine.audit_records(site.engine.operator(name="aud"))[before:]
    assert [(r.action, r.details) for r in seen] == [
        ("view-face", {"request_id": request_id, "selfie": True})
    ]
    assert site.signed_in("ina").get(f"{page}/selfie").status_code == 403
    assert admin.get(f"{page}/outcome").status_code == 422  # nothing sent yet

    candidates = re.findall(r'name="face_ids" value="(\d+)"', admin.get(page).text)
    site.post_form(
        admin,
        page,
        f"{page}/fulfil",
        {"face_ids": candidates[:1], "identity_check": "ID seen on a call"},
    )
    text = admin.get(page).text
    assert "1 face(s) of the person disclosed" in text
    assert f'src="/admin/requests/{request_id}/selfie"' not in text  # deleted on close
    assert admin.get(f"{page}/selfie").status_code == 422
    outcome = admin.get(f"{page}/outcome")
    assert outcome.status_code == 200 and "sandbox" in outcome.headers["content-security-policy"]
    assert outcome.text.count('alt="face ') == 1
    last = site.engine.audit_records(site.engine.operator(name="aud"))[-1]
    assert last.action == "view-requests" and last.details["outcome"] == "access"
    listing = admin.get("/admin/requests?status=fulfilled").text
    assert "face(s) of the person disclosed" in listing


def test_an_opt_out_outcome_is_its_receipt(tmp_path, photos):
    site = make_site(tmp_path, photos, ingest=False)  # an opt-out changes what searches find
    admin = site.signed_in("admin")
    reference = reference_of(submit(site, site.browser(), "collins", "optout"))
    request_id = request_id_of(site, reference)
    page = f"/admin/requests/{request_id}"
    site.post_form(admin, page, f"{page}/fulfil", {"identity_check": "ID seen on a call"})
    outcome = admin.get(page).text.split("data-outcome>")[1].split("<br>")[0]
    assert "do-not-index list" in outcome and "Receipt reference" in outcome

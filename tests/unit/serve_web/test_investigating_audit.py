"""Duplicates and 1:1 verification (investigators), the paged, filtered and exported audit
trail (auditors), and /docs and /redoc served from the package's own files (issue #13)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.serve_web.conftest import make_site


@pytest.fixture(scope="module")
def own(tmp_path_factory, photos):
    """A gallery where the same person is held twice (a mirrored copy), grouped into people."""
    site = make_site(tmp_path_factory.mktemp("dups"), photos)
    admin = site.engine.operator(name="admin")
    site.engine.ingest(admin, [photos["collins_mirrored"]], "press")
    site.engine.cluster(admin)
    with TestClient(site.app):
        yield site


def audit(site):
    return site.engine.audit_records(site.engine.operator(name="aud"))


def test_duplicates_show_pairs_grouped_by_person_with_false_match_rates(own):
    ina = own.signed_in("ina")
    assert 'value="press"' in ina.get("/duplicates").text
    answer = own.post_form(ina, "/duplicates", "/duplicates", {"source": "press"})
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert "data-summary" in text and "two different people" in text
    pairs = text.count("data-pair")
    assert pairs >= 1 and "false-match rate 1 in" in text
    assert re.search(r'data-group="\d+"', text)  # grouped under a person
    face = re.search(r'src="/faces/(\d+)/thumbnail', text).group(1)
    assert ina.get(f"/faces/{face}/thumbnail?size=80").status_code == 200
    assert audit(own)[-2].action == "duplicates"


def test_every_pair_downloads_as_csv_not_only_those_shown(own):
    ina = own.signed_in("ina")
    page = own.post_form(ina, "/duplicates", "/duplicates", {"source": "press"}).text
    assert "data-download-pairs" in page
    before = len(audit(own))
    answer = own.post_form(ina, "/duplicates", "/duplicates.csv", {"source": "press"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith(
        'attachment; filename="facesift-duplicates-press-'
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    report = own.engine.duplicates(own.engine.operator(name="ina"), "press")
    assert [(int(r["face_a"]), int(r["face_b"])) for r in rows] == [
        (p.face_a, p.face_b) for p in report.pairs
    ]
    assert all(float(r["distance"]) <= report.threshold for r in rows)
    # The download is a duplicates search like the page's, and audited as one.
    assert [r.action for r in audit(own)[before:]].count("duplicates") == 2  # + ours above
    # An unknown source is a clear error page, not a file.
    unknown = own.post_form(ina, "/duplicates", "/duplicates.csv", {"source": "nope"})
    assert unknown.status_code in (404, 422) and "nope" in unknown.text
    assert "text/csv" not in unknown.headers["content-type"]
    # Without the CSRF token, or without the permission, nothing is searched or sent.
    assert ina.post("/duplicates.csv", data={"source": "press"}).status_code == 403
    admin = own.signed_in("admin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', admin.get("/gallery").text)
    refused = admin.post("/duplicates.csv", data={"csrf_token": token.group(1), "source": "press"})
    assert refused.status_code == 403 and "text/csv" not in refused.headers["content-type"]


def test_verify_says_in_words_whether_two_photos_are_one_person(own):
    ina = own.signed_in("ina")
    photos = {
        "first": ("collins.png", own.photos["collins"].read_bytes(), "image/png"),
        "second": ("group.jpg", own.photos["group"].read_bytes(), "image/jpeg"),
    }
    fields = {"purpose": "checking a lead", "case": "V-1"}
    answer = own.post_form(ina, "/verify", "/verify", fields, photos)
    assert answer.status_code == 200, answer.text
    assert 'data-verdict="' in answer.text
    assert "the face boxed in yellow was compared" in answer.text
    # It says plainly which photo held several faces (the group photo), and not of a portrait.
    assert re.search(r"group\.jpg holds \d faces: the face boxed in yellow", answer.text)
    assert "collins.png holds" not in answer.text
    assert answer.text.count('src="data:image/jpeg;base64,') == 4  # both photos, both faces
    record = audit(own)[-1]
    assert record.action == "verify" and record.case_ref == "V-1"

    missing = own.post_form(ina, "/verify", "/verify", {"purpose": "x"}, photos)
    assert missing.status_code == 422 and "purpose and case" in missing.text
    blank = {**photos, "second": ("blank.png", own.photos["blank"].read_bytes(), "image/png")}
    no_face = own.post_form(ina, "/verify", "/verify", fields, blank)
    assert no_face.status_code == 422 and "no face was found" in no_face.text


def test_roles_without_the_permission_get_403_for_duplicates_and_verify(own):
    before = len(audit(own))
    for name in ("admin", "aud"):
        client = own.signed_in(name)
        assert client.get("/verify").status_code == 403
        assert client.get("/duplicates").status_code == 403
    assert own.signed_in("rev1").get("/duplicates").status_code == 403
    assert [r for r in audit(own)[before:] if r.action in ("duplicates", "verify")] == []


def test_the_audit_trail_is_paged_and_filtered(own):
    aud = own.signed_in("aud")
    total = len(audit(own))
    first = aud.get("/audit").text
    assert f"{total} record(s) match" in first
    if total > 100:
        assert 'rel="next"' in first
    seqs = [int(s) for s in re.findall(r'<tr data-action="[^"]+"><td>(\d+)</td>', first)]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == audit(own)[-1].seq
    case = aud.get("/audit", params={"case": "V-1"}).text
    assert "1 record(s) match" in case and 'data-action="verify"' in case
    by_operator = aud.get("/audit", params={"operator": "ina", "action": "verify"}).text
    assert "record(s) match" in by_operator and 'data-action="duplicates"' not in by_operator
    empty = aud.get("/audit", params={"since": "2000-01-01", "until": "2000-01-02"}).text
    assert "0 record(s) match" in empty
    bad = aud.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 422 and "not a date" in bad.text


def test_audit_exports_are_complete_and_are_themselves_audited(own):
    aud = own.signed_in("aud")
    answer = aud.get("/audit/export.json", params={"operator": "ina"})
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    exported = json.loads(answer.content)
    assert exported and {r["actor"] for r in exported} == {"ina"}
    assert [r["seq"] for r in exported] == sorted(r["seq"] for r in exported)
    record = audit(own)[-1]
    assert record.action == "audit-export" and record.actor == "aud"
    assert record.details["filters"] == {"operator": "ina"}
    assert record.details["records"] == len(exported)

    table = aud.get("/audit/export.csv", params={"case": "V-1"})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["action"] for r in rows] == ["verify"] and rows[0]["case_ref"] == "V-1"
    assert json.loads(rows[0]["details"])["same_person"] in (True, False)
    assert aud.get("/audit/export.xml").status_code == 422

    before = len(audit(own))
    assert own.signed_in("ina").get("/audit/export.csv").status_code == 403
    assert own.signed_in("admin").get("/audit/export.json").status_code == 403
    assert len(audit(own)) == before


def test_docs_and_redoc_load_nothing_from_other_sites(site):
    client = site.browser()
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/static/vendor/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert "cdn" not in page.text and "fonts.googleapis" not in page.text

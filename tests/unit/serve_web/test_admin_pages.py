"""Administrators' pages (issue #13): sources (declare, edit, retire, erase), ingest as a
background job with per-file errors, and operators (add with the key shown once, rotate,
disable). A gallery of its own: these tests erase and disable."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.unit.serve_web.conftest import make_site

SOURCE = {
    "name": "archive",
    "lawful_basis": "public-task",
    "jurisdiction": "fr",
    "retention_days": "90",
    "purpose": "finding missing persons",
    "controller": "dpo@archive.example",
    "description": "scanned notices",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory, photos):
    made = make_site(tmp_path_factory.mktemp("admin-pages"), photos, ingest=False)
    with TestClient(made.app):
        yield made


def records(site, action: str):
    auditor = site.engine.operator(name="aud")
    return [r for r in site.engine.audit_records(auditor) if r.action == action]


def test_a_source_is_declared_edited_and_its_legal_terms_stay(site):
    admin = site.signed_in("admin")
    refused = site.post_form(
        admin, "/admin/sources", "/admin/sources", {**SOURCE, "jurisdiction": "XX"}
    )
    assert refused.status_code == 422 and 'value="finding missing persons"' in refused.text
    added = site.post_form(admin, "/admin/sources", "/admin/sources", SOURCE)
    assert added.status_code == 303
    row = admin.get("/admin/sources").text.split('data-source="archive"')[1].split("</tr>")[0]
    assert "public-task" in row and "FR" in row and "90 days" in row

    edit = "/admin/sources/archive/edit"
    form = admin.get(edit).text
    assert 'name="lawful_basis"' not in form and 'name="retention_days"' not in form
    changed = site.post_form(
        admin,
        edit,
        edit,
        {
            "purpose": "finding missing persons",
            "controller": "privacy@archive.example",
            "description": "scanned notices, 1990-2000",
            "lawful_basis": "consent",
        },
    )
    assert changed.status_code == 303
    source = site.engine.source(site.engine.operator(name="admin"), "archive")
    assert source.controller == "privacy@archive.example" and source.lawful_basis == "public-task"
    assert records(site, "source-edit")[-1].details["changed"]["controller"] == {
        "from": "dpo@archive.example",
        "to": "privacy@archive.example",
    }
    empty = site.post_form(admin, edit, edit, {"purpose": " ", "controller": "x"})
    assert empty.status_code == 422 and "state the purpose" in empty.text


def test_ingest_runs_as_a_job_and_lists_each_refused_file(site):
    admin = site.signed_in("admin")
    site.post_form(admin, "/admin/sources", "/admin/sources", {**SOURCE, "name": "press"})
    files = [
        ("files", ("hopper.jpg", site.photos["hopper"].read_bytes(), "image/jpeg")),
        ("files", ("collins.png", site.photos["collins"].read_bytes(), "image/png")),
        ("files", ("notes.txt", b"not a photo at all", "text/plain")),
        ("files", ("../<img src=x onerror=alert(1)>.jpg", b"#!/bin/sh\n", "image/jpeg")),
    ]
    answer = site.post_form(admin, "/admin/ingest", "/admin/ingest", {"source": "press"}, files)
    assert answer.status_code == 303, answer.text
    job_page = answer.headers["location"]
    assert re.fullmatch(r"/admin/jobs/\d+", job_page)
    site.app.state.jobs.wait_idle(120)
    state = admin.get(job_page, headers={"Accept": "application/json"}).json()
    assert state["state"] == "succeeded" and state["done"] == state["total"] == 4
    assert state["result"]["images_ingested"] == 2
    text = admin.get(job_page).text
    assert "2 image(s) ingested into press" in text
    errors = text.split('class="file-errors"')[1]
    assert "notes.txt" in errors and "hopper.jpg" not in errors
    # A refused file is named as it was sent, and a hostile name is shown, never run.
    assert "../&lt;img src=x onerror=alert(1)&gt;.jpg" in errors and "<img src=x" not in text
    assert site.signed_in("ina").get(job_page).status_code == 403

    # The jobs list links every job, newest first, with its state and outcome.
    listed = admin.get("/admin/jobs").text
    row = listed.split(f'data-job-row="{job_page.rsplit("/", 1)[1]}"')[1].split("</tr>")[0]
    assert f'href="{job_page}"' in row and "succeeded" in row
    assert "2 ingested into press" in row and "2 file(s) not ingested" in row
    for name in ("ina", "rev1", "aud"):
        assert site.signed_in(name).get("/admin/jobs").status_code == 403


def test_a_retired_source_takes_no_new_images_and_is_erased_separately(site):
    admin = site.signed_in("admin")
    retired = site.post_form(admin, "/admin/sources", "/admin/sources/press/retire")
    assert retired.status_code == 303
    page = admin.get("/admin/sources").text
    assert "retired " in page.split('data-source="press"')[1].split("</tr>")[0]
    assert 'value="press"' not in admin.get("/admin/ingest").text
    files = [("files", ("group.jpg", site.photos["group"].read_bytes(), "image/jpeg"))]
    refused = site.post_form(admin, "/admin/ingest", "/admin/ingest", {"source": "press"}, files)
    assert refused.status_code == 422 and "retired" in refused.text
    assert site.engine.source_sizes(site.engine.operator(name="admin"))["press"][0] == 2

    wrong = site.post_form(
        admin, "/admin/sources", "/admin/sources/press/erase", {"confirm": "pres"}
    )
    assert wrong.status_code == 422 and "type the name of the source" in wrong.text
    erased = site.post_form(
        admin, "/admin/sources", "/admin/sources/press/erase", {"confirm": "press"}
    )
    assert erased.status_code == 200 and "Erased 2 image(s) of source press" in erased.text
    assert [r.details["source"] for r in records(site, "source-retire")] == ["press"]


def test_other_roles_cannot_use_the_admin_pages(site):
    for name in ("ina", "rev1", "aud"):
        client = site.signed_in(name)
        for path in (
            "/admin/sources",
            "/admin/ingest",
            "/admin/operators",
            "/admin/sources/archive/edit",
        ):
            assert client.get(path).status_code == 403, (name, path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/gallery").text)
        answer = client.post("/admin/sources/archive/retire", data={"csrf_token": token.group(1)})
        assert answer.status_code == 403
    assert site.engine.source(site.engine.operator(name="admin"), "archive").retired_at is None


def test_operators_are_added_with_the_key_shown_once_rotated_and_disabled(site):
    admin = site.signed_in("admin")
    added = site.post_form(
        admin, "/admin/operators", "/admin/operators", {"name": "newbie", "role": "reviewer"}
    )
    assert added.status_code == 200
    key = re.search(r"data-key>([^<]+)<", added.text).group(1)
    assert "newbie" in admin.get("/admin/operators").text
    assert key not in admin.get("/admin/operators").text  # shown once
    site.keys["newbie"] = key
    newbie = site.signed_in("newbie")
    assert newbie.get("/review").status_code == 200

    rotated = site.post_form(admin, "/admin/operators", "/admin/operators/newbie/rotate")
    new_key = re.search(r"data-key>([^<]+)<", rotated.text).group(1)
    assert new_key != key
    assert newbie.get("/review").status_code == 303  # the old key's session has ended
    site.keys["newbie"] = new_key
    site.signed_in("newbie")

    disabled = site.post_form(admin, "/admin/operators", "/admin/operators/newbie/disable")
    assert disabled.status_code == 303
    assert 'data-operator="newbie"' not in admin.get("/admin/operators").text
    self_disable = site.post_form(admin, "/admin/operators", "/admin/operators/admin/disable")
    assert self_disable.status_code == 422
    bad = site.post_form(
        admin, "/admin/operators", "/admin/operators", {"name": "x y", "role": "reviewer"}
    )
    assert bad.status_code == 422 and "invalid" in bad.text


def test_an_admin_scopes_an_investigators_searches_on_the_operators_page(site):
    admin = site.signed_in("admin")
    page = admin.get("/admin/operators").text
    assert 'action="/admin/operators/ina/scope"' in page
    answer = site.post_form(
        admin, "/admin/operators", "/admin/operators/ina/scope", {"sources": ["press"]}
    )
    assert answer.status_code == 303
    assert site.engine.operator(name="ina").sources == frozenset({"press"})
    site.post_form(admin, "/admin/operators", "/admin/operators/ina/scope", {"every_source": "1"})
    assert site.engine.operator(name="ina").sources is None
    # Only administrators set scopes: an investigator widening their own is refused.
    ina = site.signed_in("ina")
    refused = site.post_form(ina, "/search", "/admin/operators/ina/scope", {"every_source": "1"})
    assert refused.status_code == 403

"""The pages of issue #13 in headless Chromium, on the public-domain test photos: people (click
faces to split), ingest with live progress and per-file errors, sources, operators, duplicates,
1:1 verification, the audit trail with its exports, the admin's request page with the
requester's face, the portal keeping the selfie across a refusal, and /docs and /redoc working
with nothing but the package's own files.

Screenshots of every page go to /tmp/facesift-screens/ (FACESIFT_SCREENS overrides it)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.browser.conftest import ServedApp
from tests.unit.serve_web.conftest import make_site

pytestmark = pytest.mark.browser

SCREENS = Path(os.environ.get("FACESIFT_SCREENS", "/tmp/facesift-screens"))


@pytest.fixture(scope="module")
def served(chromium, tmp_path_factory, photos):
    site = make_site(tmp_path_factory.mktemp("pages"), photos)
    SCREENS.mkdir(parents=True, exist_ok=True)
    with ServedApp(site.app) as server:
        yield server.url, site


def open_as(chromium, url: str, key: str | None):
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    # Nothing but this server: a request to any other site fails the test.
    outside: list[str] = []
    context.route(
        re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    page.outside = outside
    if key:
        page.goto(f"{url}/login")
        page.fill("input[name=api_key]", key)
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return page


def shot(page, name: str, full_page: bool = True) -> None:
    """Once every image on the page has loaded (or failed: a broken one fails the test)."""
    images = page.locator("main img")
    for i in range(images.count()):
        deadline = time.monotonic() + 10
        while not images.nth(i).evaluate("i => i.complete"):
            assert time.monotonic() < deadline, "an image did not load"
            page.wait_for_timeout(50)
        assert images.nth(i).evaluate("i => i.naturalWidth > 0"), "a broken image"
    page.screenshot(path=SCREENS / f"{name}.png", full_page=full_page)


def test_people_are_grouped_shown_as_faces_and_split_by_clicking(chromium, served):
    url, site = served
    page = open_as(chromium, url, site.keys["ina"])
    page.goto(f"{url}/people")
    assert "No people yet" in page.inner_text("main")
    page.click("text=Group the gallery's faces into people")
    page.wait_for_selector("[data-identity]")
    images = page.locator(".person img")
    assert images.count() >= 2
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        deadline = time.monotonic() + 10
        while not images.nth(i).evaluate("i => i.complete && i.naturalWidth > 0"):
            assert time.monotonic() < deadline, "a face did not load"
            page.wait_for_timeout(50)
    shot(page, "people")
    page.click(".person h2 a >> nth=0")
    page.wait_for_selector(".face-pick")
    page.fill("input[name=name]", "Eileen Collins")
    page.click("text=Save the name")
    page.wait_for_selector("h1:has-text('Eileen Collins')")
    before = page.url
    page.click(".face-pick >> nth=0")  # clicking the face ticks it
    assert page.is_checked(".face-pick input >> nth=0")
    shot(page, "person")
    page.click("[data-split]")
    page.wait_for_url(lambda u: u != before)
    assert page.locator(".face-pick").count() == 1
    assert page.outside == []


def test_ingest_shows_the_jobs_progress_and_each_refused_file(chromium, served, tmp_path):
    url, site = served
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page = open_as(chromium, url, site.keys["admin"])
    page.goto(f"{url}/admin/ingest")
    shot(page, "ingest")
    mirrored = site.photos["collins_mirrored"]  # new to the gallery: the same person again
    page.set_input_files(
        "input[name=files]", [str(mirrored), str(site.photos["group"]), str(notes)]
    )
    page.click("text=Upload and ingest")
    page.wait_for_url(re.compile(r".*/admin/jobs/\d+$"))
    page.wait_for_selector("[data-job-outcome] .ok", timeout=120_000)
    outcome = page.inner_text("[data-job-outcome]")
    assert "1 image(s) ingested into press" in outcome and "1 already held" in outcome
    assert "notes.txt" in page.inner_text(".file-errors")
    assert page.inner_text("[data-job-state]") == "succeeded"
    shot(page, "ingest-job")
    job_id = page.url.rsplit("/", 1)[1]
    page.click("text=All ingest jobs")
    row = page.locator(f"[data-job-row='{job_id}']")
    assert "succeeded" in row.inner_text() and "1 ingested into press" in row.inner_text()
    shot(page, "ingest-jobs")
    row.locator(f"a[href='/admin/jobs/{job_id}']").click()
    page.wait_for_url(re.compile(rf".*/admin/jobs/{job_id}$"))


def test_sources_are_declared_edited_and_retired(chromium, served):
    url, site = served
    page = open_as(chromium, url, site.keys["admin"])
    page.goto(f"{url}/admin/sources")
    page.fill("input[name=name]", "notices")
    page.select_option("select[name=lawful_basis]", "public-task")
    page.fill("input[name=jurisdiction]", "FR")
    page.fill("input[name=retention_days]", "60")
    page.fill("form.stack input[name=purpose]", "missing persons")
    page.fill("form.stack input[name=controller]", "dpo@notices.example")
    page.click("text=Declare the source")
    page.wait_for_selector("[data-source=notices]")
    page.click("[data-source=notices] >> text=Edit")
    page.fill("input[name=description]", "printed notices, scanned")
    shot(page, "source-edit")
    page.click("text=Save")
    page.wait_for_selector("[data-source=notices]")
    assert "printed notices" in page.inner_text("[data-source=notices]")
    page.click("[data-source=notices] [data-retire]")
    page.wait_for_selector("[data-source=notices].retired")
    page.click("[data-source=press] summary")
    shot(page, "sources")


def test_an_operator_is_added_and_the_key_shown_once(chromium, served):
    url, site = served
    page = open_as(chromium, url, site.keys["admin"])
    page.goto(f"{url}/admin/operators")
    page.fill("input[name=name]", "rev3")
    page.select_option("select[name=role]", "reviewer")
    page.click("text=Add the operator")
    key = page.inner_text("[data-key]").strip()
    shot(page, "operators")
    newcomer = open_as(chromium, url, key)
    assert "rev3" in newcomer.inner_text(".who")
    page.click("[data-operator=rev3] [data-disable]")
    page.wait_for_load_state()
    assert page.locator("[data-operator=rev3]").count() == 0


def test_duplicates_and_verification_in_plain_words(chromium, served):
    url, site = served
    page = open_as(chromium, url, site.keys["ina"])
    page.goto(f"{url}/people")
    page.click("text=Group new faces into people")  # the face ingested since
    page.goto(f"{url}/duplicates")
    page.select_option("select[name=source]", "press")
    page.click("text=Find duplicates")
    page.wait_for_selector("[data-summary]")
    assert page.locator("[data-pair]").count() >= 1
    shot(page, "duplicates")
    with page.expect_download() as download:
        page.click("[data-download-pairs] button")
    assert download.value.suggested_filename.startswith("facesift-duplicates-press-")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("record_a,record_b,face_a,face_b")
    assert len(lines) - 1 == page.locator("[data-pair]").count()  # all shown: fewer than 40
    page.goto(f"{url}/verify")
    page.set_input_files("input[name=first]", str(site.photos["collins"]))
    page.set_input_files("input[name=second]", str(site.photos["group"]))
    page.fill("input[name=purpose]", "checking a lead")
    page.fill("input[name=case]", "BROWSER-V")
    page.click("text=Compare")
    page.wait_for_selector("[data-verdict]")
    assert "the face boxed in yellow was compared" in page.inner_text(".compared")
    shot(page, "verify")
    assert page.outside == []


def test_the_audit_trail_filters_pages_and_exports(chromium, served):
    url, site = served
    page = open_as(chromium, url, site.keys["aud"])
    page.goto(f"{url}/audit")
    page.fill("input[name=case]", "BROWSER-V")
    page.click("text=Filter")
    page.wait_for_selector("[data-total]")
    assert "1 record(s) match" in page.inner_text("[data-total]")
    with page.expect_download() as download:
        page.click("[data-export=csv]")
    text = Path(download.value.path()).read_text()
    assert text.startswith("seq,") and "BROWSER-V" in text
    page.goto(f"{url}/audit")
    shot(page, "audit")


def test_portal_keeps_the_selfie_and_admin_sees_the_requesters_face(chromium, served):
    url, site = served
    person = open_as(chromium, url, None)
    person.goto(f"{url}/subject")
    assert person.is_checked("input[value=access]")
    person.set_input_files("input[name=selfie]", str(site.photos["group"]))  # two faces
    person.fill("input[name=contact]", "grace@example.org")
    person.click("text=Send my request")
    person.wait_for_selector("[data-portal-error]:not([hidden])")
    assert "2 faces were found" in person.inner_text("[data-portal-error]")
    assert person.evaluate("document.querySelector('input[name=selfie]').files.length") == 1
    shot(person, "portal-refused")
    person.set_input_files("input[name=selfie]", str(site.photos["hopper"]))
    person.click("text=Send my request")
    person.wait_for_selector("[data-reference]")
    reference = person.inner_text("[data-reference]").strip()
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}(-[A-HJKMNP-Z2-9]{4}){3}", reference)
    shot(person, "portal-reference")

    admin = open_as(chromium, url, site.keys["admin"])
    request_id = site.engine.subject_request_by_reference(reference).id
    admin.goto(f"{url}/admin/requests/{request_id}")
    admin.wait_for_selector("[data-selfie]")
    assert admin.eval_on_selector("[data-selfie]", "i => i.naturalWidth") > 0
    shot(admin, "admin-request-selfie")
    admin.check("[data-candidate] >> nth=0")
    admin.fill("[data-identity-check]", "photo ID seen on a video call")
    admin.click("[data-fulfil]")
    admin.wait_for_selector("[data-outcome]")
    assert "disclosed" in admin.inner_text("[data-outcome]")
    assert admin.inner_text("[data-identity-checked]") == "photo ID seen on a video call"
    shot(admin, "admin-request-outcome")


def test_docs_and_redoc_render_without_other_sites(chromium, served):
    url, _ = served
    page = open_as(chromium, url, None)
    page.goto(f"{url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "facesift" in page.inner_text(".swagger-ui .info .title")
    shot(page, "docs", full_page=False)
    page.goto(f"{url}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "facesift" in page.inner_text("h1")
    page.wait_for_timeout(500)
    shot(page, "redoc", full_page=False)
    assert page.outside == []

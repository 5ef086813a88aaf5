"""The web UI end to end in headless Chromium, on LFW photos: an investigator searches, two
reviewers confirm a lead, and a person uses the portal for access and then erasure, which an
administrator fulfils; after the erasure the search no longer finds the erased photos.

Screenshots of the main pages are written to the test's temporary folder."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from facesift import Settings
from tests.browser.conftest import ServedApp
from tests.conftest import add_source
from tests.integration.lfw_sample import people

pytestmark = [pytest.mark.lfw, pytest.mark.browser]

PEOPLE = 4  # people in the gallery, 3 photos each; a 4th photo of one of them is the probe
ROLES = {"ina": "investigator", "rev1": "reviewer", "rev2": "reviewer", "aud": "auditor"}


def person_of(file_name: str) -> str:
    return Path(file_name).stem.rsplit("_", 1)[0]


@pytest.fixture(scope="module")
def served(lfw_root, chromium, tmp_path_factory):
    from facesift.serve.app import create_app

    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(Settings(data_dir=tmp / "data", workers=1, api_requests_per_minute=10_000))
    engine = app.state.engine
    keys = {"admin": engine.create_first_admin("admin")}
    admin = engine.operator(name="admin")
    for name, role in ROLES.items():
        keys[name] = engine.add_operator(admin, name, role)
    add_source(engine, admin, "lfw", jurisdiction="US", retention_days=365)
    everyone = people(lfw_root)
    chosen = [name for name, files in everyone.items() if len(files) >= 4][:PEOPLE]
    gallery = tmp / "gallery"
    gallery.mkdir()
    for name in chosen:
        for file in everyone[name][:3]:
            (gallery / file.name).symlink_to(file)
    report = engine.ingest(admin, [gallery], "lfw")
    assert report.errors == [] and report.images_ingested == 3 * PEOPLE
    # The probe (and the person's selfie): a held-out photo showing one face, of someone whose
    # three gallery photos all have a face found.
    target = next(
        name
        for name in chosen
        if len(engine.analyse_probe(everyone[name][3]).faces) == 1
        and len(engine.subject_access(admin, everyone[name][3]).faces) == 3
    )
    with ServedApp(app) as server:
        yield server, keys, target, everyone[target][3]


def sign_in(browser, url: str, key: str):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def search(page, url: str, probe: Path, case: str) -> set[str]:
    """Search from the search page; return the file names of the leads shown."""
    page.goto(f"{url}/search")
    page.set_input_files("input[name=probe]", str(probe))
    page.wait_for_selector(".face-box")
    page.click(".face-box >> nth=0")
    assert page.input_value("input[name=face]") == "1"
    page.fill("input[name=purpose]", "browser test: find other photos of the probe")
    page.fill("input[name=case]", case)
    page.click("#search-form button[type=submit]")
    page.wait_for_url(f"{url}/searches/*")
    return {
        text.strip() for text in page.locator(".lead .prov > div:nth-child(2)").all_inner_texts()
    }


def test_search_review_and_subject_requests_in_chromium(served, chromium, photos, tmp_path):
    server, keys, target, probe = served
    url = server.url

    # An investigator searches with a photo of the target that is not in the gallery.
    investigator = sign_in(chromium, url, keys["ina"])
    assert investigator.url == f"{url}/search"
    # A photo of several people, dropped on the page: the server finds the faces, the
    # investigator clicks one.
    drop_file(investigator, "[data-drop]", photos["group"])
    assert investigator.inner_text("[data-drop] span") == photos["group"].name
    investigator.wait_for_selector(".face-box >> nth=1")
    assert "click the one to search for" in investigator.inner_text("[data-probe-help]")
    investigator.click(".face-box >> nth=1")
    assert investigator.input_value("input[name=face]") == "2"
    assert investigator.locator(".face-box.chosen").get_attribute("data-number") == "2"
    investigator.screenshot(path=tmp_path / "0-pick-a-face.png", full_page=True)
    found = search(investigator, url, probe, "CASE-B1")
    assert {person_of(name) for name in found} == {target}
    assert len(found) == 3
    assert "investigative leads, not identifications" in investigator.inner_text(".notice")
    search_url = investigator.url
    investigator.screenshot(path=tmp_path / "1-search-results.png", full_page=True)
    assert investigator.locator("form.decide").count() == 0  # cannot review their own search

    # Two different reviewers confirm the best lead.
    best = investigator.locator(".lead").first.get_attribute("data-face-id")
    lead = f'.lead[data-face-id="{best}"]'
    for number, name in enumerate(("rev1", "rev2"), start=1):
        reviewer = sign_in(chromium, url, keys[name])
        assert reviewer.url == f"{url}/review"
        reviewer.click(f'a[href="{search_url.removeprefix(url)}"]')
        reviewer.fill(f"{lead} input[name=note]", f"same person ({name})")
        reviewer.click(f"{lead} button[value=confirm]")
        reviewer.wait_for_load_state()
        expected = "pending" if number == 1 else "confirmed"
        assert reviewer.inner_text(f"{lead} [data-status]") == expected
        assert reviewer.locator(f"{lead} form.decide").count() == 0  # decided once
    reviewer.screenshot(path=tmp_path / "2-lead-confirmed.png", full_page=True)
    investigator.reload()
    assert investigator.inner_text(f"{lead} [data-status]") == "confirmed"
    assert "confirmed by rev1, rev2" in investigator.inner_text(lead)

    # The person asks what is held about them; an administrator fulfils it.
    admin = sign_in(chromium, url, keys["admin"])
    reference = submit_request(chromium, url, probe, "access")
    person = reference["page"]
    person.screenshot(path=tmp_path / "3-portal-reference.png", full_page=True)
    fulfil(admin, url, tick="all", screenshot=tmp_path / "4-admin-candidates.png")
    person.click("form[action='/subject/status'] button")
    assert person.inner_text("[data-status]") == "fulfilled"
    person.screenshot(path=tmp_path / "5-portal-fulfilled.png", full_page=True)
    with person.expect_download() as download:
        person.click("[data-download]")
    report = Path(download.value.path()).read_text()
    assert report.count('<img src="data:image/jpeg') == 3
    person.set_content(report)
    person.screenshot(path=tmp_path / "6-access-report.png", full_page=True)

    # The person asks for erasure; the administrator ticks the candidates; the search no longer
    # finds them.
    erasure = submit_request(chromium, url, probe, "erasure")
    fulfil(admin, url, tick="all")
    erasure["page"].click("form[action='/subject/status'] button")
    assert erasure["page"].inner_text("[data-status]") == "fulfilled"
    assert search(investigator, url, probe, "CASE-B2") == set()
    assert "No leads" in investigator.inner_text("main")

    # The auditor sees it all in the audit trail, and the chain is intact.
    auditor = sign_in(chromium, url, keys["aud"])
    auditor.goto(f"{url}/audit?action=review")
    assert auditor.locator("tr[data-action=review]").count() == 2
    auditor.goto(f"{url}/audit/verify")
    assert auditor.locator("[data-chain=intact]").count() == 1
    auditor.goto(f"{url}/audit")
    auditor.screenshot(path=tmp_path / "7-audit.png", full_page=True)


def submit_request(browser, url: str, selfie: Path, kind: str) -> dict:
    page = browser.new_context().new_page()
    page.goto(f"{url}/subject")
    page.check(f"input[name=kind][value={kind}]")
    page.set_input_files("input[name=selfie]", str(selfie))
    page.fill("input[name=contact]", "person@example.org")
    page.click("form[action='/subject'] button[type=submit]")
    page.wait_for_selector("[data-reference]")
    return {"page": page, "reference": page.inner_text("[data-reference]")}


def fulfil(admin, url: str, tick: str, screenshot: Path | None = None) -> None:
    admin.goto(f"{url}/admin/requests")
    admin.locator("tr[data-request] a").first.click()
    admin.wait_for_selector("[data-fulfil]")
    boxes = admin.locator("[data-candidate]")
    assert boxes.count() == 3
    if tick == "all":
        for index in range(boxes.count()):
            boxes.nth(index).check()
    admin.fill("[data-identity-check]", "photo ID seen on a video call")
    if screenshot:
        admin.screenshot(path=screenshot, full_page=True)
    admin.click("[data-fulfil]")
    admin.wait_for_load_state()
    assert admin.inner_text("[data-status]") == "fulfilled"
    assert admin.inner_text("[data-identity-checked]") == "photo ID seen on a video call"


def drop_file(page, selector: str, path: Path) -> None:
    """Drop a file on an element as a person dragging it from their desktop would."""
    payload = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([name, payload]) => {
            const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
            return transfer;
        }""",
        [path.name, payload],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})

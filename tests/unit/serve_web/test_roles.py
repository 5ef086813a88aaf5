"""Each page for each role: allowed pages render, forbidden ones give a clear 403 page."""

from __future__ import annotations

import pytest

from tests.unit.serve_web.conftest import OPERATORS

PAGES = {
    "/search": {"investigator"},
    "/review": {"reviewer"},
    "/people": {"investigator", "reviewer"},
    "/duplicates": {"investigator"},
    "/verify": {"investigator", "reviewer"},
    "/admin/requests": {"admin"},
    "/admin/ingest": {"admin"},
    "/admin/sources": {"admin"},
    "/admin/operators": {"admin"},
    "/audit": {"auditor"},
    "/audit/verify": {"admin", "auditor"},
    "/gallery": {"admin", "investigator", "reviewer", "auditor"},
}
NAV_LINKS = {
    "admin": {
        "/admin/requests",
        "/admin/ingest",
        "/admin/sources",
        "/admin/operators",
        "/gallery",
        "/audit/verify",
    },
    "investigator": {"/search", "/people", "/duplicates", "/verify", "/gallery"},
    "reviewer": {"/review", "/people", "/verify", "/gallery"},
    "auditor": {"/audit", "/gallery"},
}


@pytest.fixture(scope="module")
def clients(site):
    return {name: site.signed_in(name) for name in ("admin", "ina", "rev1", "aud")}


@pytest.mark.parametrize("path", sorted(PAGES))
@pytest.mark.parametrize("name", ["admin", "ina", "rev1", "aud"])
def test_page_allowed_or_refused_by_role(site, clients, path, name):
    role = OPERATORS[name]
    answer = clients[name].get(path)
    if role in PAGES[path]:
        assert answer.status_code == 200, answer.text
        assert "Not permitted" not in answer.text
    else:
        assert answer.status_code == 403
        assert "Not permitted" in answer.text and "may not" in answer.text
        assert "Traceback" not in answer.text
        assert f"{name} <small>({role})</small>" in answer.text  # still signed in, with a menu


REFUSED = [
    (path, name)
    for path in sorted(PAGES)
    for name in ("admin", "ina", "rev1", "aud")
    if OPERATORS[name] not in PAGES[path]
]


@pytest.mark.parametrize(("path", "name"), REFUSED)
def test_a_refused_page_leaves_no_record_of_a_read(site, clients, path, name):
    """A role refused a page was shown nothing: no view-* record appears for it."""
    before = len(site.engine.audit_records(site.engine.operator(name="aud")))
    assert clients[name].get(path).status_code == 403
    after = site.engine.audit_records(site.engine.operator(name="aud"))[before:]
    assert [r for r in after if r.action.startswith("view-")] == []


@pytest.mark.parametrize("path", sorted(PAGES))
def test_anonymous_visitors_are_sent_to_sign_in(site, path):
    answer = site.browser().get(path)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("name", ["admin", "ina", "rev1", "aud"])
def test_navigation_shows_only_the_roles_pages(site, clients, name):
    text = clients[name].get("/gallery").text
    nav = text.split("<nav>")[1].split("</nav>")[0]
    shown = {path for path in PAGES if f'href="{path}"' in nav}
    assert shown == NAV_LINKS[OPERATORS[name]]
    home = clients[name].get("/")
    assert home.headers["location"] in NAV_LINKS[OPERATORS[name]]


def test_gallery_lists_sources_with_counts_and_retention(site, clients):
    text = clients["ina"].get("/gallery").text
    row = text.split('data-source="press"')[1].split("</tr>")[0]
    assert "legitimate-interest" in row and "GB" in row and "30 days" in row
    counts = site.engine._catalog.source_counts()["press"]
    assert f"<td>{counts[0]}</td><td>{counts[1]}</td>" in row


def test_unknown_search_is_a_404_page(clients):
    answer = clients["rev1"].get("/searches/999999")
    assert answer.status_code == 404 and "search 999999 not found" in answer.text

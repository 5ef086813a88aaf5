"""A served gallery for the web UI's route tests: one app per module, an operator of every role
(two reviewers), and public-domain photos ingested through the engine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web UI tests need the 'serve' extra")

from fastapi.testclient import TestClient  # noqa: E402

from facesift import Settings  # noqa: E402
from facesift.serve.app import create_app  # noqa: E402
from tests.conftest import add_source  # noqa: E402

OPERATORS = {
    "admin": "admin",
    "ina": "investigator",
    "rev1": "reviewer",
    "rev2": "reviewer",
    "aud": "auditor",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Site:
    app: object
    keys: dict[str, str]
    photos: dict[str, Path]

    @property
    def engine(self):
        return self.app.state.engine

    def browser(self) -> TestClient:
        """A new visitor: its own cookie jar, not signed in."""
        return TestClient(self.app, follow_redirects=False)

    def signed_in(self, name: str) -> TestClient:
        client = self.browser()
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"api_key": self.keys[name], "csrf_token": token})
        assert answer.status_code == 303, answer.text
        return client

    def post_form(self, client: TestClient, page: str, action: str, data=None, files=None):
        """Load ``page``, take its CSRF token, post ``data`` to ``action`` as its form would."""
        token = csrf_of(client.get(page).text)
        return client.post(action, data={"csrf_token": token, **(data or {})}, files=files)

    def upload(self, name: str, field: str):
        path = self.photos[name]
        return {field: (path.name, path.read_bytes(), "image/jpeg")}

    def web_search(self, client: TestClient, photo: str, **form):
        fields = {"purpose": "testing the web UI", "case": "WEB-1", **form}
        return self.post_form(client, "/search", "/search", fields, self.upload(photo, "probe"))


def make_site(tmp: Path, photos: dict[str, Path], ingest: bool = True) -> Site:
    app = create_app(Settings(data_dir=tmp / "data", workers=1, api_requests_per_minute=100_000))
    engine = app.state.engine
    keys = {"admin": engine.create_first_admin("admin")}
    admin = engine.operator(name="admin")
    for name, role in OPERATORS.items():
        if name != "admin":
            keys[name] = engine.add_operator(admin, name, role)
    add_source(engine, admin, "press")
    if not ingest:
        return Site(app, keys, photos)
    gallery = tmp / "gallery"
    gallery.mkdir()
    for name in ("collins", "hopper", "group"):
        (gallery / photos[name].name).symlink_to(photos[name])
    report = engine.ingest(admin, [gallery], "press")
    assert report.errors == [] and report.images_ingested == 3
    return Site(app, keys, photos)


@pytest.fixture(scope="session")
def site(tmp_path_factory, photos) -> Site:
    """Shared by the web tests: tests may add searches, reviews and requests, but only tests with
    their own ``make_site`` erase anything."""
    made = make_site(tmp_path_factory.mktemp("web"), photos)
    with TestClient(made.app):  # runs the app's lifespan (closes the engine at the end)
        yield made

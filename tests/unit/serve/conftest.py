"""A served gallery for API tests: one app per module, operators of every role, photos ingested
through the API itself."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the API tests need the 'serve' extra")

from fastapi.testclient import TestClient  # noqa: E402

from facesift import Settings  # noqa: E402
from facesift.serve.app import create_app  # noqa: E402

ROLES = ("admin", "investigator", "reviewer", "auditor")
SOURCE = {
    "name": "press",
    "lawful_basis": "legitimate-interest",
    "jurisdiction": "GB",
    "retention_days": 30,
    "purpose": "testing the API",
    "controller": "dpo@example.org",
}


@dataclass
class Served:
    client: TestClient
    keys: dict[str, str]
    photos: dict[str, Path]

    @property
    def app(self):
        return self.client.app

    @property
    def engine(self):
        return self.client.app.state.engine

    def as_(self, role: str | None) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]} if role else {}

    def upload(self, name: str, field: str = "probe", filename: str | None = None):
        path = self.photos[name]
        return {field: (filename or path.name, path.read_bytes(), "application/octet-stream")}

    def ingest(self, names, source: str = "press", role: str = "admin") -> dict:
        files = [("files", (self.photos[n].name, self.photos[n].read_bytes())) for n in names]
        answer = self.client.post(
            f"/api/v1/sources/{source}/ingest", files=files, headers=self.as_(role)
        )
        assert answer.status_code == 202, answer.text
        self.app.state.jobs.wait_idle(timeout=300)
        job = self.client.get(answer.json()["url"], headers=self.as_(role)).json()
        assert job["state"] == "succeeded", job
        return job

    def search(self, name: str = "collins_mirrored", role: str = "investigator", **form):
        fields = {"purpose": "testing", "case": "CASE-1", **form}
        answer = self.client.post(
            "/api/v1/search", files=self.upload(name), data=fields, headers=self.as_(role)
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def make_served(tmp: Path, photos: dict[str, Path], **settings) -> Served:
    values = {
        "data_dir": tmp / "data",
        "workers": 1,
        "api_requests_per_minute": 100_000,
        "api_wrong_keys_per_minute": 100_000,
    }
    app = create_app(Settings(**(values | settings)))
    engine = app.state.engine
    keys = {"admin": engine.create_first_admin("admin")}
    admin = engine.operator(name="admin")
    for role in ROLES[1:]:
        keys[role] = engine.add_operator(admin, role, role)
    keys["reviewer2"] = engine.add_operator(admin, "reviewer2", "reviewer")
    keys["reviewer3"] = engine.add_operator(admin, "reviewer3", "reviewer")
    client = TestClient(app)
    client.__enter__()
    served = Served(client, keys, photos)
    answer = client.post("/api/v1/sources", json=SOURCE, headers=served.as_("admin"))
    assert answer.status_code == 201, answer.text
    return served


@pytest.fixture(scope="module")
def served(tmp_path_factory, photos) -> Served:
    """Collins and Hopper ingested; reuse for tests that do not change the gallery."""
    made = make_served(tmp_path_factory.mktemp("served"), photos)
    made.ingest(["collins", "hopper"])
    yield made
    made.client.__exit__(None, None, None)


@pytest.fixture
def fresh(tmp_path, photos) -> Served:
    """A served gallery of one's own, for tests that erase or otherwise change it."""
    made = make_served(tmp_path, photos)
    made.ingest(["collins", "hopper"])
    yield made
    made.client.__exit__(None, None, None)


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def assert_problem(answer, status: int, *words: str) -> dict:
    """An RFC 9457 problem with ``status`` whose detail mentions each of ``words``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body

"""Operators over the API (issue #12): an administrator adds, disables and re-keys operators;
a disabled or re-keyed key stops working on the next request; nobody else can do it to others;
the gallery cannot be left without an administrator; every change is audited."""

from __future__ import annotations

import pytest

from tests.unit.serve.conftest import assert_problem, make_served


@pytest.fixture
def site(tmp_path, photos):
    made = make_served(tmp_path, photos)
    yield made
    made.client.__exit__(None, None, None)


def stats_status(site, key: str) -> int:
    return site.client.get("/api/v1/stats", headers={"X-API-Key": key}).status_code


def test_an_admin_adds_an_operator_whose_key_then_works(site):
    added = site.client.post(
        "/api/v1/operators", json={"name": "ina", "role": "investigator"}, headers=site.as_("admin")
    )
    assert added.status_code == 201, added.text
    assert added.json()["api_key"].startswith("fs_")
    assert stats_status(site, added.json()["api_key"]) == 200
    names = [
        o["name"] for o in site.client.get("/api/v1/operators", headers=site.as_("admin")).json()
    ]
    assert "ina" in names


def test_a_disabled_operators_key_stops_working_at_once(site):
    key = site.keys["investigator"]
    assert stats_status(site, key) == 200
    answer = site.client.post("/api/v1/operators/investigator/disable", headers=site.as_("admin"))
    assert answer.status_code == 200 and answer.json() == {
        "name": "investigator",
        "role": "investigator",
        "enabled": False,
    }
    assert stats_status(site, key) == 401
    assert_problem(  # disabling twice: there is no enabled operator of that name any more
        site.client.post("/api/v1/operators/investigator/disable", headers=site.as_("admin")),
        404,
        "no enabled operator",
    )
    # Disabled is not deleted: the name stays taken, so the audit trail keeps meaning one person.
    again = site.client.post(
        "/api/v1/operators",
        json={"name": "investigator", "role": "admin"},
        headers=site.as_("admin"),
    )
    assert_problem(again, 422, "already exists")
    audit = site.engine._audit.records(action="user-disable")
    assert [(r.actor, r.details["operator"]) for r in audit] == [("admin", "investigator")]


def test_a_rotated_key_replaces_the_old_one(site):
    old = site.keys["reviewer"]
    answer = site.client.post("/api/v1/operators/reviewer/rotate-key", headers=site.as_("admin"))
    assert answer.status_code == 200, answer.text
    new = answer.json()["api_key"]
    assert new != old and stats_status(site, old) == 401 and stats_status(site, new) == 200


def test_an_operator_may_rotate_their_own_key_and_nobody_elses(site):
    own = site.client.post("/api/v1/operators/auditor/rotate-key", headers=site.as_("auditor"))
    assert own.status_code == 200, own.text
    fresh_key = {"X-API-Key": own.json()["api_key"]}
    for attempt in (
        site.client.post("/api/v1/operators/admin/rotate-key", headers=fresh_key),
        site.client.post("/api/v1/operators/admin/disable", headers=fresh_key),
        site.client.get("/api/v1/operators", headers=fresh_key),
        site.client.post(
            "/api/v1/operators", json={"name": "mole", "role": "admin"}, headers=fresh_key
        ),
    ):
        assert_problem(attempt, 403)
    assert stats_status(site, site.keys["admin"]) == 200  # the admin's key was not touched


def test_the_last_administrator_cannot_be_disabled(site):
    assert_problem(
        site.client.post("/api/v1/operators/admin/disable", headers=site.as_("admin")),
        422,
        "last enabled administrator",
    )
    assert stats_status(site, site.keys["admin"]) == 200
    second = site.client.post(
        "/api/v1/operators", json={"name": "deputy", "role": "admin"}, headers=site.as_("admin")
    ).json()["api_key"]
    gone = site.client.post("/api/v1/operators/admin/disable", headers={"X-API-Key": second})
    assert gone.status_code == 200
    assert stats_status(site, site.keys["admin"]) == 401


def test_unknown_operators_are_a_clear_error(site):
    for path in ("/api/v1/operators/nobody/disable", "/api/v1/operators/nobody/rotate-key"):
        assert_problem(
            site.client.post(path, headers=site.as_("admin")), 404, "no enabled operator"
        )

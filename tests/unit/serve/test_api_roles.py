"""Every endpoint, every role: who is allowed (and gets a real answer) and who is refused."""

from __future__ import annotations

import pytest

from tests.unit.serve.conftest import assert_problem

ALL = ("admin", "investigator", "reviewer", "auditor")


@pytest.fixture(scope="module")
def state(served):
    """Ids the requests below refer to: a kept search with a lead, an open subject request."""
    result = served.search("collins_mirrored")
    lead = result["faces"][0]["leads"][0]
    submitted = served.client.post(
        "/api/v1/subject-requests",
        files=served.upload("hopper", "selfie"),
        data={"kind": "access", "contact": "person@example.org"},
    )
    assert submitted.status_code == 201, submitted.text
    request_id = served.engine.subject_requests(served.engine.operator(name="admin"))[-1].id
    job = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[("files", ("again.jpg", served.photos["hopper"].read_bytes()))],
        headers=served.as_("admin"),
    ).json()
    served.app.state.jobs.wait_idle(timeout=120)
    return {
        "search_id": result["search_id"],
        "face_id": lead["face_id"],
        "image_id": lead["image_id"],
        "reference": submitted.json()["reference"],
        "request_id": request_id,
        "job_id": job["id"],
    }


def _source(n):
    return {
        "name": f"role-test-{n}",
        "lawful_basis": "public-task",
        "jurisdiction": "FR",
        "retention_days": 10,
        "purpose": "checking roles",
        "controller": "dpo@example.org",
    }


# endpoint name -> (allowed roles and their status, request maker(served, state, role))
ENDPOINTS = {
    "health": ({r: 200 for r in ALL}, lambda s, st, r: ("get", "/api/v1/health", {})),
    "stats": ({r: 200 for r in ALL}, lambda s, st, r: ("get", "/api/v1/stats", {})),
    "list sources": ({r: 200 for r in ALL}, lambda s, st, r: ("get", "/api/v1/sources", {})),
    "add source": (
        {"admin": 201},
        lambda s, st, r: ("post", "/api/v1/sources", {"json": _source(r)}),
    ),
    "ingest": (
        {"admin": 202},
        lambda s, st, r: (
            "post",
            "/api/v1/sources/press/ingest",
            {"files": [("files", ("h.jpg", s.photos["hopper"].read_bytes()))]},
        ),
    ),
    "job": ({"admin": 200}, lambda s, st, r: ("get", f"/api/v1/jobs/{st['job_id']}", {})),
    "list jobs": ({"admin": 200}, lambda s, st, r: ("get", "/api/v1/jobs", {})),
    "search": (
        {"investigator": 200},
        lambda s, st, r: (
            "post",
            "/api/v1/search",
            {"files": s.upload("hopper"), "data": {"purpose": "roles", "case": "R-1"}},
        ),
    ),
    "verify": (
        {"investigator": 200, "reviewer": 200},
        lambda s, st, r: (
            "post",
            "/api/v1/verify",
            {
                "files": {**s.upload("hopper", "a"), **s.upload("collins", "b")},
                "data": {"purpose": "roles", "case": "R-1"},
            },
        ),
    ),
    "kept search": (
        {"investigator": 200, "reviewer": 200},  # the investigator ran it
        lambda s, st, r: ("get", f"/api/v1/searches/{st['search_id']}", {}),
    ),
    "review lead": (
        {"reviewer": 200},
        lambda s, st, r: (
            "post",
            f"/api/v1/searches/{st['search_id']}/leads/{st['face_id']}/review",
            {"json": {"decision": "confirm", "note": "same scar"}},
        ),
    ),
    "thumbnail": (
        {"admin": 200, "investigator": 200, "reviewer": 200},
        lambda s, st, r: ("get", f"/api/v1/faces/{st['face_id']}/thumbnail", {}),
    ),
    "full image": (
        {"admin": 200, "investigator": 200, "reviewer": 200},
        lambda s, st, r: ("get", f"/api/v1/images/{st['image_id']}", {}),
    ),
    "subject access": (
        {"admin": 200},
        lambda s, st, r: (
            "post",
            "/api/v1/subjects/access",
            {"files": s.upload("hopper", "selfie")},
        ),
    ),
    "subject erase": (
        {"admin": 422},  # allowed, but face -1 is not among the matches: refused, none erased
        lambda s, st, r: (
            "post",
            "/api/v1/subjects/erase",
            {"files": s.upload("hopper", "selfie"), "data": {"face_ids": ["-1"]}},
        ),
    ),
    "opt-out withdraw": (
        {"admin": 200},
        lambda s, st, r: (
            "post",
            "/api/v1/subjects/optout/withdraw",
            {"files": s.upload("hopper", "selfie")},
        ),
    ),
    "list requests": (
        {"admin": 200},
        lambda s, st, r: ("get", "/api/v1/admin/subject-requests", {}),
    ),
    "request candidates": (
        {"admin": 200},
        lambda s, st, r: (
            "get",
            f"/api/v1/admin/subject-requests/{st['request_id']}/candidates",
            {},
        ),
    ),
    "decline request": (
        {"admin": 200},
        lambda s, st, r: (
            "post",
            f"/api/v1/admin/subject-requests/{st['request_id']}/fulfil",
            {"json": {"decline_reason": "identity could not be confirmed"}},
        ),
    ),
    "audit": ({"auditor": 200}, lambda s, st, r: ("get", "/api/v1/audit?limit=5", {})),
    "audit verify": (
        {"admin": 200, "auditor": 200},
        lambda s, st, r: ("get", "/api/v1/audit/verify", {}),
    ),
    "purge (dry run)": (
        {"admin": 200},
        lambda s, st, r: ("post", "/api/v1/purge?dry_run=true", {}),
    ),
    "erase (dry run)": (
        {"admin": 200},
        lambda s, st, r: ("post", "/api/v1/erase?source=press&dry_run=true", {}),
    ),
}
ANONYMOUS_ALLOWED = {"health"}
CASES = [(name, role) for name in ENDPOINTS for role in (*ALL, None, "bad-key")]


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_endpoint_allows_exactly_its_roles(served, state, endpoint, role):
    allowed, make = ENDPOINTS[endpoint]
    method, url, kwargs = make(served, state, role)
    if role == "bad-key":
        headers = {"X-API-Key": "fs_not-a-key"}
    else:
        headers = served.as_(role)
    answer = getattr(served.client, method)(url, headers=headers, **kwargs)
    if role in (None, "bad-key") and endpoint in ANONYMOUS_ALLOWED:
        assert answer.status_code == 200, answer.text
    elif role in (None, "bad-key"):
        body = assert_problem(answer, 401)
        assert (
            ("X-API-Key" in body["detail"]) if role is None else "not recognised" in body["detail"]
        )
    elif role in allowed:
        assert answer.status_code == allowed[role], answer.text
    else:
        body = assert_problem(answer, 403)
        assert role in body["detail"]


def test_a_refused_search_is_not_run(served, state):
    """Refused before the probe is even analysed: nothing is searched, so no search is audited."""
    before = len(served.engine._audit.records(action="search"))
    answer = served.client.post(
        "/api/v1/search",
        files=served.upload("hopper"),
        data={"purpose": "not mine to do", "case": "X"},
        headers=served.as_("auditor"),
    )
    assert_problem(answer, 403, "may not search")
    assert len(served.engine._audit.records(action="search")) == before


def test_portal_is_open_without_a_key(served, state):
    answer = served.client.post(
        "/api/v1/subject-requests/status", json={"reference": state["reference"]}
    )
    assert answer.status_code == 200
    assert answer.json()["kind"] == "access"
    assert "contact" not in answer.json()  # the portal never echoes personal details

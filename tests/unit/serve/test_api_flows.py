"""Whole flows through the API: review of leads, data subjects' requests, erasure and purge
(which also clear the thumbnail cache), ingest job progress, and the audit trail of it all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from facesift.govern.derived import thumbnails_dir
from facesift.govern.requests import one_month_after
from tests.unit.serve.conftest import assert_problem


def _review(served, role, search_id, face_id, decision="confirm"):
    return served.client.post(
        f"/api/v1/searches/{search_id}/leads/{face_id}/review",
        json={"decision": decision, "note": f"{role} looked"},
        headers=served.as_(role),
    )


def test_a_lead_is_confirmed_only_by_two_different_reviewers(served):
    result = served.search("collins_mirrored", case="REVIEW-1")
    search_id = result["search_id"]
    face_id = result["faces"][0]["leads"][0]["face_id"]

    first = _review(served, "reviewer2", search_id, face_id)
    assert first.json()["status"] == "pending"
    assert_problem(_review(served, "reviewer2", search_id, face_id), 409, "already reviewed")
    second = _review(served, "reviewer3", search_id, face_id)
    assert second.json() == {
        "search_id": search_id,
        "face_id": face_id,
        "status": "confirmed",
        "confirmations": ["reviewer2", "reviewer3"],
        "rejections": [],
    }
    kept = served.client.get(f"/api/v1/searches/{search_id}", headers=served.as_("investigator"))
    assert kept.json()["case"] == "REVIEW-1"
    assert {lead["face_id"]: lead["status"] for lead in kept.json()["leads"]}[
        face_id
    ] == "confirmed"
    decisions = [
        r.details
        for r in served.engine._audit.records(action="review")
        if r.details["search_id"] == search_id
    ]
    assert [(d["decision"], d["status"]) for d in decisions] == [
        ("confirm", "pending"),
        ("confirm", "confirmed"),
    ]


def test_a_rejection_is_recorded_and_stops_confirmation(served):
    result = served.search("hopper", case="REVIEW-2")
    search_id = result["search_id"]
    face_id = result["faces"][0]["leads"][0]["face_id"]
    assert _review(served, "reviewer2", search_id, face_id).json()["status"] == "pending"
    rejected = _review(served, "reviewer3", search_id, face_id, "reject").json()
    assert rejected["status"] == "rejected" and rejected["rejections"] == ["reviewer3"]
    assert _review(served, "reviewer", search_id, face_id).json()["status"] == "rejected"


def test_only_leads_of_the_search_can_be_reviewed(served):
    result = served.search("hopper", case="REVIEW-3")
    answer = _review(served, "reviewer2", result["search_id"], 987654)
    assert_problem(answer, 422, "987654", "not a lead")


def test_investigator_sees_only_faces_their_searches_showed(served):
    other = served.engine.add_operator(
        served.engine.operator(name="admin"), "investigator-b", "investigator"
    )
    result = served.search("hopper", case="MINE")
    face_id = result["faces"][0]["leads"][0]["face_id"]
    mine = served.client.get(
        f"/api/v1/faces/{face_id}/thumbnail", headers=served.as_("investigator")
    )
    assert mine.status_code == 200 and mine.content[:2] == b"\xff\xd8"
    theirs = served.client.get(f"/api/v1/faces/{face_id}/thumbnail", headers={"X-API-Key": other})
    assert_problem(theirs, 403, "investigator-b", f"face {face_id}")
    kept = served.client.get(
        f"/api/v1/searches/{result['search_id']}", headers={"X-API-Key": other}
    )
    assert_problem(kept, 403)


def test_job_reports_progress_and_outcome(served):
    answer = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[
            ("files", ("g.jpg", served.photos["group"].read_bytes())),
            ("files", ("b.png", served.photos["blank"].read_bytes())),
            ("files", ("h.jpg", served.photos["hopper"].read_bytes())),  # already held
        ],
        headers=served.as_("admin"),
    )
    assert answer.status_code == 202
    assert answer.json()["state"] in ("queued", "running")
    served.app.state.jobs.wait_idle(timeout=120)
    job = served.client.get(answer.json()["url"], headers=served.as_("admin")).json()
    assert job["state"] == "succeeded"
    assert job["total"] == 3 and job["done"] == 3
    assert job["result"]["already_in_catalog"] == 1
    assert job["result"]["images_without_faces"] == 1
    assert job["faces"] == job["result"]["faces_found"] >= 2


def test_subject_access_request_through_the_portal(fresh):
    client = fresh.client
    submitted = client.post(
        "/api/v1/subject-requests",
        files=fresh.upload("hopper", "selfie"),
        data={"kind": "access", "contact": "grace@example.org", "name": "Grace"},
    )
    assert submitted.status_code == 201, submitted.text
    mine = submitted.json()
    assert mine["status"] == "open" and mine["report_ready"] is False
    received = datetime.fromisoformat(mine["received_at"])
    assert datetime.fromisoformat(mine["due_at"]) == one_month_after(received)
    # Nothing about the gallery is shown before an administrator has handled it.
    report_of = {"reference": mine["reference"]}
    assert_problem(client.post("/api/v1/subject-requests/report", json=report_of), 404, "open")
    # The reference never travels in a URL (access logs, proxies, history): no GET route has it.
    assert client.get(f"/api/v1/subject-requests/{mine['reference']}").status_code in (404, 405)

    admin = fresh.as_("admin")
    listed = client.get("/api/v1/admin/subject-requests?status=open", headers=admin).json()
    assert [(r["kind"], r["contact"], r["overdue"]) for r in listed] == [
        ("access", "grace@example.org", False)
    ]
    request_id = listed[0]["id"]
    candidates = client.get(
        f"/api/v1/admin/subject-requests/{request_id}/candidates", headers=admin
    ).json()
    assert len(candidates["faces"]) == 1
    assert candidates["faces"][0]["source"] == "press"
    done = client.post(
        f"/api/v1/admin/subject-requests/{request_id}/fulfil",
        json={
            "face_ids": [candidates["faces"][0]["face_id"]],
            "identity_check": "ID seen on a call",
        },
        headers=admin,
    ).json()
    assert done["status"] == "fulfilled" and done["handled_by"] == "admin"
    status = client.post("/api/v1/subject-requests/status", json=report_of).json()
    assert status["report_ready"]
    report = client.post("/api/v1/subject-requests/report", json=report_of)
    assert report.status_code == 200 and "Subject access report" in report.text
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert "1 face(s)" in report.text
    # Released to the public: images by file name (the server's folders are not the person's
    # business), and the report says what happened to the selfie.
    held_path = fresh.engine._catalog.stored_faces([candidates["faces"][0]["face_id"]])
    held_path = next(iter(held_path.values())).image_path
    assert Path(held_path).name in report.text and str(Path(held_path).parent) not in report.text
    assert "kept only while your request was open" in report.text
    # The selfie is gone once the request is closed, and it cannot be fulfilled twice.
    assert fresh.engine._catalog.subject_request(request_id=request_id).selfie is None
    again = client.post(
        f"/api/v1/admin/subject-requests/{request_id}/fulfil", json={}, headers=admin
    )
    assert_problem(again, 422, "already fulfilled")


def test_erasure_request_removes_faces_uploads_and_thumbnails(fresh):
    client, admin = fresh.client, fresh.as_("admin")
    result = fresh.search("hopper", case="BEFORE-ERASURE")
    lead = result["faces"][0]["leads"][0]
    thumb = client.get(f"/api/v1/faces/{lead['face_id']}/thumbnail", headers=admin)
    assert thumb.status_code == 200
    cached = list(thumbnails_dir(fresh.engine.data_dir).glob(f"{lead['face_id']}-*.jpg"))
    assert cached
    image_path = fresh.engine._catalog.provenance([lead["image_id"]])[lead["image_id"]].path

    reference = client.post(
        "/api/v1/subject-requests",
        files=fresh.upload("hopper", "selfie"),
        data={"kind": "erasure", "contact": "grace@example.org"},
    ).json()["reference"]
    request_id = client.get("/api/v1/admin/subject-requests", headers=admin).json()[0]["id"]
    fulfil = f"/api/v1/admin/subject-requests/{request_id}/fulfil"
    # Careless or hostile choices are refused and change nothing: no choice, an empty one, a
    # face that is not among the selfie's matches.
    for body, says in [
        ({"identity_check": "ID seen on a call"}, "choose the candidate faces"),
        ({"face_ids": [], "identity_check": "ID seen on a call"}, "no faces chosen"),
        ({"face_ids": [1]}, "identity_check"),  # no record of how the requester was checked
        (
            {
                "face_ids": [lead["face_id"], 10**9],
                "identity_check": "ID seen on a call",
            },
            "not among this selfie's matches",
        ),
    ]:
        assert_problem(client.post(fulfil, json=body, headers=admin), 422, says)
    still = client.get(f"/api/v1/faces/{lead['face_id']}/thumbnail", headers=admin)
    assert still.status_code == 200  # nothing was erased by the refused choices
    candidates = client.get(
        f"/api/v1/admin/subject-requests/{request_id}/candidates", headers=admin
    ).json()["faces"]
    done = client.post(
        fulfil,
        json={
            "face_ids": [f["face_id"] for f in candidates],
            "identity_check": "ID seen on a call",
        },
        headers=admin,
    )
    assert done.json()["status"] == "fulfilled", done.text
    receipt = client.post("/api/v1/subject-requests/report", json={"reference": reference}).text
    assert "1 face(s) in 1 photo(s)" in receipt

    assert not any(c.exists() for c in cached)
    assert not __import__("os").path.exists(image_path)  # the uploaded copy went too
    assert_problem(
        client.get(f"/api/v1/faces/{lead['face_id']}/thumbnail", headers=admin), 404, "erased"
    )
    after = fresh.search("hopper", case="AFTER-ERASURE")
    assert after["faces"][0]["leads"] == []


def test_declined_request_says_why(fresh):
    reference = fresh.client.post(
        "/api/v1/subject-requests",
        files=fresh.upload("hopper", "selfie"),
        data={"kind": "optout", "contact": "x@example.org"},
    ).json()["reference"]
    request_id = fresh.engine._catalog.list_subject_requests("open")[0].id
    empty = fresh.client.post(
        f"/api/v1/admin/subject-requests/{request_id}/fulfil",
        json={"decline_reason": " "},
        headers=fresh.as_("admin"),
    )
    assert_problem(empty, 422, "decline_reason")
    fresh.client.post(
        f"/api/v1/admin/subject-requests/{request_id}/fulfil",
        json={"decline_reason": "duplicate of an earlier request"},
        headers=fresh.as_("admin"),
    )
    status = fresh.client.post(
        "/api/v1/subject-requests/status", json={"reference": reference}
    ).json()
    assert status["status"] == "declined"
    assert status["decline_reason"] == "duplicate of an earlier request"


def test_portal_refuses_selfies_it_could_not_answer(served):
    no_face = served.client.post(
        "/api/v1/subject-requests",
        files=served.upload("blank", "selfie"),
        data={"kind": "access", "contact": "x@example.org"},
    )
    assert_problem(no_face, 422, "no face")
    two_faces = served.client.post(
        "/api/v1/subject-requests",
        files=served.upload("group", "selfie"),
        data={"kind": "access", "contact": "x@example.org"},
    )
    assert_problem(two_faces, 422, "faces found")
    bad_kind = served.client.post(
        "/api/v1/subject-requests",
        files=served.upload("hopper", "selfie"),
        data={"kind": "everything", "contact": "x@example.org"},
    )
    assert_problem(bad_kind, 422, "kind")


def test_operator_opt_out_hides_the_person_from_searches(fresh):
    admin = fresh.as_("admin")
    before = fresh.search("hopper", case="OPTOUT-1")
    assert before["faces"][0]["leads"]
    optout = fresh.client.post(
        "/api/v1/subjects/optout", files=fresh.upload("hopper", "selfie"), headers=admin
    ).json()
    assert optout["existing_faces_hidden"] == 1
    # The person's held face is kept as a template too, and the receipt says what to expect.
    assert optout["templates"] == 2 and 0 < optout["miss_rate"] < 0.05
    assert fresh.search("hopper", case="OPTOUT-2")["faces"][0]["leads"] == []
    withdrawn = fresh.client.post(
        "/api/v1/subjects/optout/withdraw", files=fresh.upload("hopper", "selfie"), headers=admin
    )
    assert withdrawn.json() == {"removed": 2}


def test_purge_and_erase_clean_the_thumbnail_cache(fresh):
    admin = fresh.as_("admin")
    result = fresh.search("collins_mirrored", case="PURGE")
    face_id = result["faces"][0]["leads"][0]["face_id"]
    assert fresh.client.get(f"/api/v1/faces/{face_id}/thumbnail", headers=admin).status_code == 200
    dry = fresh.client.post("/api/v1/erase?source=press&dry_run=true", headers=admin).json()
    assert dry == {"dry_run": True, "images": 2, "receipt": None}
    assert list(thumbnails_dir(fresh.engine.data_dir).iterdir())

    # Nothing has expired yet; after the retention period everything has.
    assert fresh.client.post("/api/v1/purge", headers=admin).json()["images"] == 0
    later = datetime(2100, 1, 1, tzinfo=UTC)
    image_ids, receipt = fresh.engine.purge(fresh.engine.operator(name="admin"), now=later)
    assert len(image_ids) == 2 and receipt.faces >= 2
    assert list(thumbnails_dir(fresh.engine.data_dir).iterdir()) == []
    assert fresh.client.get("/api/v1/stats", headers=admin).json()["faces"] == 0


def test_audit_listing_filters_and_verifies(served):
    served.search("hopper", case="AUDITED")
    auditor = served.as_("auditor")
    records = served.client.get(
        "/api/v1/audit", params={"operator": "investigator", "action": "search"}, headers=auditor
    ).json()
    assert records and {(r["actor"], r["action"]) for r in records} == {("investigator", "search")}
    assert records[-1]["case_ref"] == "AUDITED"
    assert "search_id" in records[-1]["details"]
    check = served.client.get("/api/v1/audit/verify", headers=auditor).json()
    assert check["intact"] is True and check["records"] >= len(records)
    future = served.client.get(
        "/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=auditor
    ).json()
    assert future == []


def test_serve_command_is_there():
    from typer.testing import CliRunner

    from facesift.cli.app import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output and "uvicorn" in result.output
    assert "--workers" in result.output


def test_several_workers_are_refused_for_an_index_one_process_opens(tmp_path):
    """Milvus Lite opens its file from one process at a time: a second worker would fail when
    it starts, so the command refuses before starting any (an error, not a traceback)."""
    from tests.unit.cli.test_cli import run

    with_lite = {"FACESIFT_VECTOR_INDEX": "milvus"}
    refused = run("serve", "--workers", "2", data_dir=tmp_path / "data", check=False, **with_lite)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Milvus Lite" in refused.stderr and "--workers 1" in refused.stderr


def test_server_runs_ingest_workers_in_the_background_unless_told_otherwise(tmp_path):
    from facesift import Settings
    from facesift.serve.app import create_app

    default = create_app(Settings(data_dir=tmp_path / "a"))
    chosen = create_app(Settings(data_dir=tmp_path / "b", ingest_worker_niceness=0))
    try:
        assert default.state.engine.settings.ingest_worker_niceness == 10
        assert chosen.state.engine.settings.ingest_worker_niceness == 0
    finally:
        default.state.engine.close()
        chosen.state.engine.close()


def test_a_search_says_what_to_expect_and_when_it_was_cut(served):
    """Scores a non-expert reads right (issue #13): the gallery's size, the false leads a
    stranger would get, and whether the lead list was cut at top_k."""
    cut = served.search("hopper", top_k=1)
    face = cut["faces"][0]
    assert len(face["leads"]) == 1 and face["cut_at_top_k"] is True
    odds = cut["odds"]
    assert odds["compared_with"] == served.engine._catalog.counts().faces
    assert odds["expected_false_leads"] == pytest.approx(
        odds["compared_with"] * odds["false_match_rate"], rel=0.05
    )
    assert 0 < odds["chance_of_a_false_lead"] <= odds["expected_false_leads"]
    assert "chance that at least one lead is a stranger" in odds["summary"]
    whole = served.search("hopper", top_k=100)
    assert whole["faces"][0]["cut_at_top_k"] is False


ACCOUNTS = {
    "name": "accounts",
    "lawful_basis": "contract",
    "jurisdiction": "GB",
    "retention_days": 30,
    "purpose": "account checks",
    "controller": "dpo@example.org",
}


def test_an_upload_already_held_under_another_source_is_named_in_the_job(fresh):
    admin = fresh.as_("admin")
    created = fresh.client.post("/api/v1/sources", json=ACCOUNTS, headers=admin)
    assert created.status_code in (200, 201), created.text
    job = fresh.ingest(["hopper", "group"], source="accounts")  # the portrait is held by press
    assert job["result"]["held_under_other_source"] == [
        {"file": fresh.photos["hopper"].name, "source": "press"}
    ]
    assert job["result"]["images_ingested"] == 1 and job["result"]["already_in_catalog"] == 1


def test_an_erasure_withdraws_the_file_names_the_job_records_hold(fresh):
    """Job records are kept in the data directory (shared by the server's processes), and a
    job names the files a client sent: after an erasure, no file of the data directory may
    still hold a name that says who was in a photo (issue #12)."""
    from facesift.govern.job_records import WITHDRAWN
    from tests.unit.govern.test_erasure_leaves_nothing import files_holding

    held_name, refused_name = "grace-hopper-custody-1987.jpg", "grace-hopper-at-home.jpg"
    admin = fresh.as_("admin")
    assert fresh.client.post("/api/v1/sources", json=ACCOUNTS, headers=admin).status_code == 201
    sent = fresh.client.post(
        "/api/v1/sources/accounts/ingest",
        files=[
            ("files", (held_name, fresh.photos["hopper"].read_bytes())),  # held by press
            ("files", (refused_name, fresh.photos["hopper"].read_bytes()[:200])),  # truncated
        ],
        headers=admin,
    )
    assert sent.status_code == 202, sent.text
    fresh.app.state.jobs.wait_idle(timeout=120)
    job = fresh.client.get(sent.json()["url"], headers=admin).json()
    assert job["result"]["held_under_other_source"] == [{"file": held_name, "source": "press"}]
    assert [e["file"] for e in job["result"]["errors"]] == [refused_name]
    data = fresh.engine.data_dir
    assert files_holding(data, held_name.encode()) == ["jobs.sqlite"]  # the scan is not blind

    engine = fresh.engine
    report = engine.subject_access(engine.operator(name="admin"), fresh.photos["hopper"])
    engine.subject_erase(engine.operator(name="admin"), report, [f.face_id for f in report.faces])

    job = fresh.client.get(sent.json()["url"], headers=admin).json()
    assert job["result"]["held_under_other_source"] == [{"file": WITHDRAWN, "source": "press"}]
    assert [e["file"] for e in job["result"]["errors"]] == [WITHDRAWN]
    assert job["result"]["images_ingested"] == 0  # the counts stay
    for name in (held_name, refused_name):
        assert files_holding(data, name.encode()) == [], name


def test_uploads_the_catalog_does_not_hold_are_deleted_when_the_job_ends(fresh):
    """Erased means no copy left (issue #12): a file an upload job did not ingest (corrupt, a
    duplicate, content already held) would be a copy of someone's photo in no catalog row, out
    of every erasure's reach; it is deleted when the job ends. Ingested files stay (they are the
    catalog's images)."""
    from facesift.govern.derived import uploads_dir

    before = {p for p in uploads_dir(fresh.engine.data_dir).rglob("*") if p.is_file()}
    answer = fresh.client.post(
        "/api/v1/sources/press/ingest",
        files=[
            ("files", ("g.jpg", fresh.photos["group"].read_bytes())),
            ("files", ("again.jpg", fresh.photos["hopper"].read_bytes())),  # already held
            ("files", ("broken.jpg", fresh.photos["group"].read_bytes()[:300])),  # corrupt
        ],
        headers=fresh.as_("admin"),
    )
    assert answer.status_code == 202
    fresh.app.state.jobs.wait_idle(timeout=120)
    job = fresh.client.get(answer.json()["url"], headers=fresh.as_("admin")).json()
    assert job["result"]["images_ingested"] == 1 and job["result"]["already_in_catalog"] == 1
    after = {p for p in uploads_dir(fresh.engine.data_dir).rglob("*") if p.is_file()} - before
    assert len(after) == 1  # the group photo, now a catalog image
    held = fresh.engine._catalog.held_paths([str(p.absolute()) for p in after])
    assert held == {str(p.absolute()) for p in after}

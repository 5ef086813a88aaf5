"""Malformed and hostile requests: each gets a problem (RFC 9457) naming the input, never a 500."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from tests.unit.serve.conftest import assert_problem, jpeg_bytes, make_served

SEARCH = {"purpose": "testing input handling", "case": "IN-1"}


def _search(served, files=None, data=SEARCH):
    return served.client.post(
        "/api/v1/search", files=files, data=data, headers=served.as_("investigator")
    )


def test_missing_form_fields_are_named(served):
    answer = _search(served, served.upload("hopper"), data={})
    body = assert_problem(answer, 422, "purpose", "case")
    assert {e["field"] for e in body["errors"]} == {"purpose", "case"}


def test_blank_purpose_is_refused_by_the_engine_rule(served):
    answer = _search(served, served.upload("hopper"), {"purpose": "  ", "case": "IN-1"})
    assert_problem(answer, 422, "purpose")


def test_missing_probe_is_named(served):
    answer = _search(served)
    assert_problem(answer, 422, "probe")


def test_text_file_named_jpg_with_image_content_type_is_refused_by_content(served):
    pdf = b"%PDF-1.7 not a photo at all"
    answer = _search(served, {"probe": ("face.jpg", pdf, "image/jpeg")})
    assert_problem(answer, 415, "probe", "face.jpg", "not a recognised image")


def test_image_with_a_misleading_name_and_type_is_accepted_by_content(served):
    photo = served.photos["hopper"].read_bytes()
    answer = _search(served, {"probe": ("notes.txt", photo, "text/plain")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["faces"][0]["leads"]


def test_truncated_jpeg_is_a_problem_naming_the_upload(served):
    data = served.photos["hopper"].read_bytes()
    answer = _search(served, {"probe": ("cut.jpg", data[: len(data) // 2], "image/jpeg")})
    assert_problem(answer, 422, "probe", "truncated")


def test_photo_without_a_face(served):
    answer = _search(served, served.upload("blank"))
    assert_problem(answer, 422, "no face")


def test_empty_upload(served):
    answer = _search(served, {"probe": ("empty.jpg", b"", "image/jpeg")})
    assert_problem(answer, 422, "empty")


def test_out_of_range_numbers_are_named(served):
    answer = _search(served, served.upload("hopper"), {**SEARCH, "top_k": "0", "threshold": "-1"})
    body = assert_problem(answer, 422)
    assert {e["field"] for e in body["errors"]} == {"top_k", "threshold"}


def test_malformed_json_body(served):
    answer = served.client.post(
        "/api/v1/sources",
        content=b'{"name": "x", ',
        headers={**served.as_("admin"), "content-type": "application/json"},
    )
    assert_problem(answer, 422)


def test_invalid_source_fields_are_named(served):
    answer = served.client.post(
        "/api/v1/sources",
        json={
            "name": "../etc",
            "lawful_basis": "because",
            "jurisdiction": "GB",
            "retention_days": 3,
            "purpose": "p",
            "controller": "c",
        },
        headers=served.as_("admin"),
    )
    assert_problem(answer, 422, "../etc")


def test_unknown_endpoint_is_a_problem_too(served):
    assert_problem(served.client.get("/api/v1/nothing-here"), 404, "/api/v1/nothing-here")


def test_unknown_ids_are_404_problems(served):
    admin, reviewer = served.as_("admin"), served.as_("reviewer")
    assert_problem(served.client.get("/api/v1/jobs/999999", headers=admin), 404, "job 999999")
    assert_problem(served.client.get("/api/v1/searches/999999", headers=reviewer), 404, "999999")
    assert_problem(
        served.client.get("/api/v1/faces/999999/thumbnail", headers=admin), 404, "999999"
    )
    guess = served.client.post("/api/v1/subject-requests/status", json={"reference": "guess"})
    assert_problem(guess, 404, "reference")


def test_ingest_into_unknown_source_stores_nothing(served):
    before = set(os.listdir(served.engine.data_dir / "uploads"))
    answer = served.client.post(
        "/api/v1/sources/nowhere/ingest",
        files=[("files", ("a.jpg", served.photos["hopper"].read_bytes()))],
        headers=served.as_("admin"),
    )
    assert_problem(answer, 422, "nowhere")
    assert set(os.listdir(served.engine.data_dir / "uploads")) == before


def test_ingest_takes_the_good_files_of_a_batch_and_reports_each_bad_one(served):
    """As ingest from a folder does: the good files are ingested, each bad one is named (as it
    was sent, never by where the server stored it) with the reason, and none is kept."""
    good = jpeg_bytes(Image.open(served.photos["hopper"]).transpose(Image.Transpose.ROTATE_180))
    truncated = served.photos["hopper"].read_bytes()[:2000]
    before = set(os.listdir(served.engine.data_dir / "uploads"))
    answer = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[
            ("files", ("evil.png", b"<script>alert(1)</script>")),
            ("files", ("good.jpg", good)),
            ("files", ("empty.jpg", b"")),
            ("files", ("../../cut.jpg", truncated)),
        ],
        headers=served.as_("admin"),
    )
    assert answer.status_code == 202, answer.text
    served.app.state.jobs.wait_idle(timeout=120)
    job = served.client.get(answer.json()["url"], headers=served.as_("admin")).json()
    assert job["state"] == "succeeded", job
    assert job["total"] == job["done"] == 4
    result = job["result"]
    assert result["files_seen"] == 4 and result["images_ingested"] == 1
    errors = {e["index"]: (e["file"], e["reason"]) for e in result["errors"]}
    assert sorted(errors) == [0, 2, 3], result["errors"]
    assert errors[0][0] == "evil.png" and "not an image this server accepts" in errors[0][1]
    assert errors[2] == ("empty.jpg", "empty file")
    assert errors[3][0] == "../../cut.jpg" and "corrupt or truncated" in errors[3][1]
    assert not any(str(served.engine.data_dir) in e["reason"] for e in result["errors"])
    (batch,) = set(os.listdir(served.engine.data_dir / "uploads")) - before
    kept = set(os.listdir(served.engine.data_dir / "uploads" / batch))
    assert "evil.png" not in kept and "empty.jpg" not in kept


def test_a_batch_of_only_bad_files_is_a_job_that_reports_each(served):
    answer = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[("files", ("a.txt", b"text")), ("files", ("b.jpg", b""))],
        headers=served.as_("admin"),
    )
    assert answer.status_code == 202, answer.text
    served.app.state.jobs.wait_idle(timeout=120)
    job = served.client.get(answer.json()["url"], headers=served.as_("admin")).json()
    assert job["state"] == "succeeded" and job["total"] == job["done"] == 2, job
    assert job["result"]["images_ingested"] == 0
    assert [(e["index"], e["file"]) for e in job["result"]["errors"]] == [
        (0, "a.txt"),
        (1, "b.jpg"),
    ]


@pytest.mark.parametrize(
    "hostile",
    ["../../../../tmp/owned.jpg", "..\\..\\win.jpg", ".hidden.jpg", "a\x00b.jpg", "\u202egpj.exe"],
)
def test_hostile_file_names_stay_inside_the_uploads_folder(served, hostile):
    answer = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[("files", (hostile, served.photos["collins_mirrored"].read_bytes()))],
        headers=served.as_("admin"),
    )
    assert answer.status_code == 202, answer.text
    served.app.state.jobs.wait_idle(timeout=120)
    uploads = (served.engine.data_dir / "uploads").resolve()
    for folder, _dirs, names in os.walk(uploads):
        for name in names:
            assert not name.startswith("."), name
            assert "\x00" not in name and "/" not in name and "\\" not in name
            assert (os.path.join(folder, name)).startswith(str(uploads))
    assert not os.path.exists("/tmp/owned.jpg")


def test_manifest_may_not_name_files_outside_the_upload(served):
    manifest = b"path,subject_ref\n/etc/passwd,someone\n"
    answer = served.client.post(
        "/api/v1/sources/press/ingest",
        files=[
            ("files", ("a.jpg", served.photos["hopper"].read_bytes())),
            ("manifest", ("manifest.csv", manifest)),
        ],
        headers=served.as_("admin"),
    )
    assert_problem(answer, 422, "manifest line 2", "/etc/passwd")


def test_manifest_naming_uploads_carries_provenance(fresh):
    manifest = b"path,subject_ref,source_url\nnew face.jpg,subject-7,https://example.org/p\n"
    answer = fresh.client.post(
        "/api/v1/sources/press/ingest",
        files=[
            ("files", ("new face.jpg", fresh.photos["collins_mirrored"].read_bytes())),
            ("manifest", ("manifest.csv", manifest)),
        ],
        headers=fresh.as_("admin"),
    )
    assert answer.status_code == 202, answer.text
    fresh.app.state.jobs.wait_idle(timeout=120)
    job = fresh.client.get(answer.json()["url"], headers=fresh.as_("admin")).json()
    assert job["result"]["images_ingested"] == 1, job
    image_ids = fresh.engine._catalog.image_ids_of_source(
        fresh.engine._catalog.get_source("press").id
    )
    refs = {p.subject_ref for p in fresh.engine._catalog.provenance(image_ids).values()}
    assert "subject-7" in refs


def test_request_over_the_size_limit_is_refused_before_reading(tmp_path, photos):
    small = make_served(tmp_path, photos, api_max_request_bytes=2**16)
    try:
        big = b"\xff\xd8\xff" + os.urandom(2**17)
        answer = small.client.post(
            "/api/v1/search",
            files={"probe": ("big.jpg", big, "image/jpeg")},
            data=SEARCH,
            headers=small.as_("investigator"),
        )
        assert_problem(answer, 413, "limit")

        # Without a Content-Length (a chunked upload) the body is cut off at the limit.
        def chunks():
            for _ in range(8):
                yield b"x" * 2**15

        answer = small.client.post(
            "/api/v1/sources",
            content=chunks(),
            headers={**small.as_("admin"), "content-type": "application/json"},
        )
        assert_problem(answer, 413, "limit")
    finally:
        small.client.__exit__(None, None, None)


def test_file_over_the_per_file_limit_is_refused(tmp_path, photos):
    small = make_served(tmp_path, photos, max_file_bytes=2**20)
    try:
        big = photos["hopper"].read_bytes() + os.urandom(2**20)
        answer = small.client.post(
            "/api/v1/search",
            files={"probe": ("big.jpg", big, "image/jpeg")},
            data=SEARCH,
            headers=small.as_("investigator"),
        )
        assert_problem(answer, 413, "probe", "big.jpg")
    finally:
        small.client.__exit__(None, None, None)


def test_rate_limit_per_key_answers_429_with_retry_after(tmp_path, photos):
    limited = make_served(tmp_path, photos, api_requests_per_minute=20)
    try:
        # Bursts of a tenth of the per-minute rate: 2 requests pass, the third waits.
        codes = [
            limited.client.get("/api/v1/stats", headers=limited.as_("auditor")).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        answer = limited.client.get("/api/v1/stats", headers=limited.as_("auditor"))
        body = assert_problem(answer, 429, "try again")
        assert int(answer.headers["Retry-After"]) >= 1
        assert body["type"].endswith("rate-limited")
        # Another key has its own bucket.
        assert (
            limited.client.get("/api/v1/stats", headers=limited.as_("reviewer")).status_code == 200
        )
    finally:
        limited.client.__exit__(None, None, None)


def test_guessing_api_keys_is_throttled_per_client_address(tmp_path, photos):
    # Each guess is a new key, so a per-key limit alone never slows a guesser: wrong keys are
    # counted per client address, and once too many came, that address waits, whatever it sends.
    guarded = make_served(tmp_path, photos, api_wrong_keys_per_minute=5)
    try:
        codes = [
            guarded.client.get("/api/v1/stats", headers={"X-API-Key": f"fs_guess{n}"}).status_code
            for n in range(7)
        ]
        assert codes == [401] * 5 + [429] * 2
        locked = guarded.client.get("/api/v1/stats", headers=guarded.as_("auditor"))
        body = assert_problem(locked, 429, "too many wrong API keys")
        assert int(locked.headers["Retry-After"]) >= 1 and body["type"].endswith("rate-limited")
    finally:
        guarded.client.__exit__(None, None, None)

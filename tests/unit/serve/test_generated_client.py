"""A client generated from /openapi.json by openapi-python-client runs the whole flow with no
hand-written HTTP: a source, a batch upload with bad files among the good, the job followed to
its typed result, a search, two reviews, a verification, a thumbnail and a full image, the audit
trail with typed details, and every kind of error parsed as the generated ``ProblemDetails``.

The generator pins an older Typer than the CLI needs (docs/cli.md is the CLI's own help), so it
may live in an environment of its own: ``make client-generator`` puts it in .venv/clientgen,
where this test finds it (as it does one importable here, or OPENAPI_PYTHON_CLIENT).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.unit.serve.conftest import make_served

httpx = pytest.importorskip("httpx", reason="generated clients use httpx (the 'dev' extra)")
pytest.importorskip("dateutil", reason="generated clients use python-dateutil (the 'dev' extra)")

REPO = Path(__file__).resolve().parents[3]
PACKAGE = "facesift_client"
# Images come back as files: openapi-python-client reads only application/octet-stream as one.
CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "facesift-client",
    "post_hooks": [],
    "content_type_overrides": {
        "image/jpeg": "application/octet-stream",
        "image/*": "application/octet-stream",
    },
}

# The generated modules the flow uses: api/<tag>/<operation id>.py.
OPERATIONS = {
    "sources": ("add_source", "list_sources"),
    "ingest": ("ingest", "get_job", "list_jobs"),
    "search": ("search", "verify"),
    "review": ("kept_search", "review_lead"),
    "faces": ("face_thumbnail", "full_image"),
    "audit": ("audit",),
    "erasure": ("erase",),
    "subjects": ("subject_access",),
}


def generator() -> list[str] | None:
    """How to run openapi-python-client here, if it is installed anywhere we know of."""
    if importlib.util.find_spec("openapi_python_client") is not None:
        return [sys.executable, "-m", "openapi_python_client"]
    for candidate in (
        os.environ.get("OPENAPI_PYTHON_CLIENT"),
        shutil.which("openapi-python-client"),
        str(REPO / ".venv" / "clientgen" / "bin" / "openapi-python-client"),
    ):
        if candidate and Path(candidate).is_file():
            return [candidate]
    return None


@pytest.fixture(scope="module")
def served(tmp_path_factory, photos):
    made = make_served(tmp_path_factory.mktemp("generated-client"), photos)
    yield made
    made.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def fc(tmp_path_factory, served):
    """The generated package, imported."""
    command = generator()
    if command is None:
        pytest.skip(
            "openapi-python-client is not installed (make client-generator, or pip install "
            "'openapi-python-client>=0.29' where it may pin typer<0.28)"
        )
    folder = tmp_path_factory.mktemp("client")
    (folder / "spec.json").write_text(json.dumps(served.app.openapi()))
    (folder / "config.json").write_text(json.dumps(CONFIG))
    done = subprocess.run(
        [*command, "generate", "--path", "spec.json", "--config", "config.json"]
        + ["--output-path", "out"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every operation generated whole: a warning means a response or a body was left out.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(folder / "out"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder / "out"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Api:
    """The generated modules, and a client per operator, over the ASGI app (no sockets)."""

    def __init__(self, fc, served):
        self.fc, self.served = fc, served
        self.m = importlib.import_module(f"{PACKAGE}.models")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        for tag, operations in OPERATIONS.items():
            modules = {
                op: importlib.import_module(f"{PACKAGE}.api.{tag}.{op}") for op in operations
            }
            setattr(self, tag, SimpleNamespace(**modules))

    def _transport(self):
        return {"transport": httpx.ASGITransport(app=self.served.app)}

    def as_(self, role: str | None):
        if role is None:
            return self.fc.Client(base_url="http://facesift", httpx_args=self._transport())
        return self.fc.AuthenticatedClient(
            base_url="http://facesift",
            token=self.served.keys[role],
            prefix="",
            auth_header_name="X-API-Key",
            timeout=httpx.Timeout(300),
            httpx_args=self._transport(),
        )

    def file(self, name: str, data: bytes | None = None):
        path = self.served.photos.get(name)
        payload = data if data is not None else path.read_bytes()
        return self.types.File(payload=BytesIO(payload), file_name=path.name if path else name)


def problem_of(api: Api, answer, status: int, *words: str):
    """The answer is a problem with ``status``, parsed as the generated model, sent with its
    declared media type, whose detail names ``words`` and no command-line option."""
    assert answer.status_code == status, answer.content
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.parsed
    assert isinstance(problem, api.m.ProblemDetails), problem
    assert problem.status == status and problem.type_.startswith("urn:facesift:problem:")
    assert problem.instance.startswith("/api/v1/")
    for word in words:
        assert word.lower() in problem.detail.lower(), problem.detail
    assert " --" not in problem.detail, problem.detail
    return problem


def test_a_generated_client_runs_the_whole_flow(fc, served):
    api = Api(fc, served)
    # In a thread of its own: an earlier test (Playwright's sync API, in tests/browser) may
    # leave an event loop running in this one, where asyncio.run refuses to start.
    failures: list[BaseException] = []

    def run_flow() -> None:
        try:
            asyncio.run(_flow(api, api.m))
        except BaseException as error:  # re-raised in the test's own thread below
            failures.append(error)

    runner = threading.Thread(target=run_flow)
    runner.start()
    runner.join()
    if failures:
        raise failures[0]


async def _flow(api: Api, m) -> None:
    admin, investigator = api.as_("admin"), api.as_("investigator")
    reviewer, reviewer2, auditor = api.as_("reviewer"), api.as_("reviewer2"), api.as_("auditor")

    # --- an administrator declares a source and uploads a batch with bad files among the good
    created = await api.sources.add_source.asyncio(
        client=admin,
        body=m.SourceIn(
            name="archive",
            lawful_basis="legitimate-interest",
            jurisdiction="GB",
            retention_days=30,
            purpose="testing a generated client",
            controller="dpo@example.org",
        ),
    )
    assert isinstance(created, m.SourceOut) and created.name == "archive"
    listed = await api.sources.list_sources.asyncio(client=admin)
    assert "archive" in {source.name for source in listed}

    truncated = api.served.photos["hopper"].read_bytes()[:3000]
    batch = [
        api.file("hopper"),
        api.file("corrupt.jpg", truncated),
        api.file("collins"),
        api.file("notes.txt", b"not a photo at all"),
        api.file("group"),
        api.file("../../../etc/evil.jpg", b"#!/bin/sh\n"),
        api.file("blank"),
    ]
    accepted = await api.ingest.ingest.asyncio_detailed(
        source="archive", client=admin, body=m.BodyIngest(files=batch)
    )
    assert accepted.status_code == 202, accepted.content
    job = accepted.parsed
    assert isinstance(job, m.JobOut) and job.url == f"/api/v1/jobs/{job.id}"
    for _ in range(600):
        job = await api.ingest.get_job.asyncio(job_id=job.id, client=admin)
        if job.state in (m.JobState.SUCCEEDED, m.JobState.FAILED):
            break
        await asyncio.sleep(0.2)
    assert job.state == m.JobState.SUCCEEDED, job.error
    listed = await api.ingest.list_jobs.asyncio(client=admin)
    assert listed[0].id == job.id and listed[0].result == job.result  # newest first
    result = job.result
    assert isinstance(result, m.IngestResult)
    assert result.source == "archive" and result.files_seen == len(batch) == job.total
    assert result.images_ingested == 4 and result.images_without_faces == 1  # blank
    assert result.faces_found >= 4  # Hopper, Collins, both in the group photo
    errors = {error.file: error for error in result.errors}
    assert set(errors) == {"corrupt.jpg", "notes.txt", "../../../etc/evil.jpg"}
    assert [errors[name].index for name in sorted(errors)] == [5, 1, 3]
    assert all(isinstance(error, m.FileProblem) and error.reason for error in result.errors)
    assert "not an image this server accepts" in errors["notes.txt"].reason
    assert "corrupt or truncated" in errors["corrupt.jpg"].reason
    assert str(api.served.engine.data_dir) not in " ".join(e.reason for e in result.errors)

    # --- an investigator searches with purpose and case
    found = await api.search.search.asyncio(
        client=investigator,
        body=m.BodySearch(
            probe=api.file("collins_mirrored"), purpose="generated client", case="GEN-1"
        ),
    )
    assert isinstance(found, m.SearchOut), found
    (probe_face,) = found.faces
    assert isinstance(probe_face.box, m.Box) and probe_face.box.left < probe_face.box.right
    lead = probe_face.leads[0]
    assert lead.rank == 1 and lead.source == "archive" and lead.lawful_basis
    assert isinstance(lead.box, m.Box) and lead.box.top < lead.box.bottom
    assert lead.thumbnail_url == f"/api/v1/faces/{lead.face_id}/thumbnail"

    # --- two reviewers confirm the lead
    confirm = m.ReviewIn(decision=m.ReviewInDecision.CONFIRM, note="same ear")
    first = await api.review.review_lead.asyncio(
        search_id=found.search_id, face_id=lead.face_id, client=reviewer, body=confirm
    )
    assert isinstance(first, m.LeadReviewOut) and first.status == m.LeadStatus.PENDING
    second = await api.review.review_lead.asyncio(
        search_id=found.search_id, face_id=lead.face_id, client=reviewer2, body=confirm
    )
    assert second.status == m.LeadStatus.CONFIRMED
    assert second.confirmations == ["reviewer", "reviewer2"] and second.rejections == []
    again = await api.review.review_lead.asyncio_detailed(
        search_id=found.search_id, face_id=lead.face_id, client=reviewer, body=confirm
    )
    problem_of(api, again, 409, "already reviewed")
    kept = await api.review.kept_search.asyncio(search_id=found.search_id, client=reviewer)
    assert kept.case == "GEN-1" and lead.face_id in {r.face_id for r in kept.leads}

    # --- a verification of two photos
    verified = await api.search.verify.asyncio(
        client=investigator,
        body=m.BodyVerify(
            a=api.file("collins"),
            b=api.file("collins_mirrored"),
            purpose="generated client",
            case="GEN-1",
        ),
    )
    assert isinstance(verified, m.VerifyOut) and verified.same_person is True
    assert isinstance(verified.box_a, m.Box) and isinstance(verified.box_b, m.Box)

    # --- the lead's thumbnail and its photo come back as files
    thumbnail = await api.faces.face_thumbnail.asyncio(face_id=lead.face_id, client=investigator)
    assert isinstance(thumbnail, api.types.File)
    assert thumbnail.payload.read()[:3] == b"\xff\xd8\xff"
    photo = await api.faces.full_image.asyncio(image_id=lead.image_id, client=investigator)
    originals = {path.read_bytes() for path in api.served.photos.values()}
    assert photo.payload.read() in originals

    # --- the audit trail, its details typed
    searches = await api.audit.audit.asyncio(client=auditor, action="search")
    (record,) = [r for r in searches if r.details.search_id == found.search_id]
    assert isinstance(record, m.AuditRecordOut) and isinstance(record.details, m.AuditDetails)
    assert (record.actor, record.purpose, record.case_ref) == (
        "investigator",
        "generated client",
        "GEN-1",
    )
    assert record.details.probe_faces == 1 and record.details.threshold > 0
    assert record.details.additional_properties["leads"]  # what it names beyond the typed
    reviews = await api.audit.audit.asyncio(client=auditor, action="review")
    decisions = [
        (r.actor, r.details.decision, r.details.status)
        for r in reviews
        if r.details.search_id == found.search_id
    ]
    assert decisions == [("reviewer", "confirm", "pending"), ("reviewer2", "confirm", "confirmed")]
    ingests = await api.audit.audit.asyncio(client=auditor, action="ingest")
    assert {r.details.source for r in ingests} >= {"archive"}

    # --- errors, each parsed as the generated ProblemDetails
    nobody = await api.sources.list_sources.asyncio_detailed(client=api.as_(None))
    problem_of(api, nobody, 401, "X-API-Key")
    wrong_role = await api.sources.add_source.asyncio_detailed(
        client=investigator,
        body=m.SourceIn(
            name="mine",
            lawful_basis="legitimate-interest",
            jurisdiction="GB",
            retention_days=1,
            purpose="p",
            controller="c",
        ),
    )
    problem_of(api, wrong_role, 403, "investigator", "admin")
    unknown = await api.review.kept_search.asyncio_detailed(search_id=999999, client=reviewer)
    problem_of(api, unknown, 404, "search 999999")
    out_of_range = await api.search.search.asyncio_detailed(
        client=investigator,
        body=m.BodySearch(probe=api.file("hopper"), purpose="p", case="c", top_k=0),
    )
    invalid = problem_of(api, out_of_range, 422, "top_k")
    assert [(e.field, isinstance(e, m.FieldProblem)) for e in invalid.errors] == [("top_k", True)]
    several = await api.subjects.subject_access.asyncio_detailed(
        client=admin, body=m.BodySubjectAccess(selfie=api.file("group"))
    )
    problem_of(api, several, 422, "faces found", "`face` field")  # not the CLI's --face N
    no_scope = await api.erasure.erase.asyncio_detailed(client=admin, dry_run=True)
    problem_of(api, no_scope, 422, "jurisdiction", "source")
    not_an_image = await api.search.search.asyncio_detailed(
        client=investigator,
        body=m.BodySearch(probe=api.file("notes.pdf", b"%PDF-1.7"), purpose="p", case="c"),
    )
    problem_of(api, not_an_image, 415, "notes.pdf")

"""Sources, ingest jobs, stats and health."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from facesift.govern.roles import Action
from facesift.read.manifests import read_manifest
from facesift.serve.api.common import AUTHED, problems
from facesift.serve.deps import CurrentActor, Engine
from facesift.serve.ingest_jobs import submit_ingest
from facesift.serve.jobs import Job
from facesift.serve.problems import Problem
from facesift.serve.schemas import (
    Health,
    JobOut,
    SourceIn,
    SourceOut,
    StatsOut,
)
from facesift.serve.uploads import new_batch_dir, store_images, store_upload
from facesift.types import LawfulBasis

router = APIRouter()


def health(engine: Engine) -> Health:
    faces, kind = engine.health()
    return Health(status="ok", faces=faces, index=kind)


router.add_api_route("/health", health, methods=["GET"], tags=["health"], summary="Health")


@router.get("/sources", tags=["sources"], responses=AUTHED)
def list_sources(engine: Engine, actor: CurrentActor) -> list[SourceOut]:
    """Declared sources with their lawful basis, jurisdiction, retention and size."""
    counts = engine.source_sizes(actor)  # SOURCE_LIST
    return [_source_out(s, counts.get(s.name, (0, 0))) for s in engine.sources()]


@router.post("/sources", status_code=201, tags=["sources"], responses=problems(401, 403, 422, 429))
def add_source(body: SourceIn, engine: Engine, actor: CurrentActor) -> SourceOut:
    """Declare a source: every image enters through one (admin)."""
    source = engine.add_source(
        actor,
        body.name,
        body.lawful_basis,
        body.jurisdiction,
        body.retention_days,
        purpose=body.purpose,
        controller=body.controller,
        description=body.description,
    )
    return _source_out(source, (0, 0))


@router.post(
    "/sources/{source}/ingest",
    status_code=202,
    tags=["ingest"],
    responses=problems(400, 401, 403, 404, 413, 415, 422, 429),
)
def ingest(
    source: str,
    request: Request,
    engine: Engine,
    actor: CurrentActor,
    files: Annotated[
        list[UploadFile],
        File(
            description="Images to ingest. Each file that is not an accepted image (by "
            "content), is empty or is over the size limit is left out and reported in the job's "
            "`result.errors`; the others are ingested."
        ),
    ] = (),  # type: ignore[assignment]
    manifest: Annotated[
        UploadFile | None,
        File(
            description="Optional CSV or JSON Lines manifest with per-image provenance; its "
            "`path` column names the uploaded files."
        ),
    ] = None,
) -> JobOut:
    """Upload images (and optionally a manifest) into a source; runs as a background job.

    Follow it at the returned `url` (GET /api/v1/jobs/{id}): its `result` counts what was
    ingested and lists each file that was not, with the reason."""
    actor.require(Action.INGEST)
    found = engine.source(actor, source)  # unknown source: refused before storing anything
    files = list(files or [])
    if not files:
        raise Problem(422, "files: upload at least one image", kind="invalid-input")
    if found.lawful_basis == LawfulBasis.CONSENT and manifest is None:
        raise Problem(
            422,
            f"manifest: source {found.name!r} has lawful basis 'consent'; upload a manifest "
            "giving a consent_ref for every image",
            kind="invalid-input",
        )
    folder = new_batch_dir(engine.data_dir)
    limit = engine.settings.max_file_bytes
    try:
        stored, refused = store_images(files, folder, limit, "files")
        manifest_path = None
        if manifest is not None:
            manifest_path = store_upload(manifest, folder, limit, "manifest", image=False)
            _manifest_names_only_uploads(manifest_path, folder, found.lawful_basis)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    job = submit_ingest(
        request.app.state.jobs, engine, actor, found.name, folder, stored, refused, manifest_path
    )
    return job_out(job)


def _manifest_names_only_uploads(manifest, folder, basis) -> None:
    """A manifest over the API may only name files uploaded with it, never the server's own."""
    # Relative paths resolve against the manifest's folder, which is the uploads' folder.
    entries, _bad = read_manifest(manifest, basis == LawfulBasis.CONSENT)
    for entry in entries:
        if not entry.path.resolve().is_relative_to(folder.resolve()):
            raise Problem(
                422,
                f"manifest line {entry.line}: path {str(entry.path)!r} does not name an "
                "uploaded file (give the uploaded file's name)",
                kind="invalid-input",
            )


@router.get("/jobs", tags=["ingest"], responses=AUTHED)
def list_jobs(request: Request, actor: CurrentActor) -> list[JobOut]:
    """The ingest jobs this server holds, newest first: every operator's (administrators only).
    The last 1,000 jobs are kept, through restarts; a job whose server process stopped before
    it finished reads as failed (what it ingested is kept)."""
    actor.require(Action.INGEST)
    return [job_out(job) for job in request.app.state.jobs.recent()]


@router.get("/jobs/{job_id}", tags=["ingest"], responses=problems(401, 403, 404, 422, 429))
def get_job(job_id: int, request: Request, actor: CurrentActor) -> JobOut:
    """Progress and outcome of a background job (its submitter, or any admin)."""
    job = request.app.state.jobs.get(job_id, actor)
    if job is None:
        raise Problem(404, f"job {job_id} not found (the last 1,000 jobs are kept)")
    return job_out(job)


@router.get("/stats", tags=["gallery"], responses=AUTHED)
def stats(engine: Engine, actor: CurrentActor) -> StatsOut:
    actor.require(Action.STATS)
    found = engine.stats()
    return StatsOut.model_validate(found)


def job_out(job: Job) -> JobOut:
    return JobOut(**vars(job), url=f"/api/v1/jobs/{job.id}")


def _source_out(source, counts) -> SourceOut:
    images, faces = counts
    return SourceOut.model_validate(source, context={"images": images, "faces": faces})

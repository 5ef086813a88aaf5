"""Administrators' gallery pages: the declared sources (add, edit, retire, erase) and ingest of
uploaded photos as a background job whose progress the page follows.

Ingest is the REST API's ingest job (serve/ingest_jobs.py, on ``app.state.jobs``): one job at a
time per server process, progress counted per file, recorded in the data directory (so any of
the server's processes shows it, also after a restart) and listed on /admin/jobs. A file that
is not an image does not refuse the whole upload: it is listed among the job's per-file errors,
under the name it was sent with, and the rest go in.
"""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from facesift.errors import InputError, NotFoundError, SourceError
from facesift.govern.roles import Action
from facesift.serve.deps import Engine
from facesift.serve.ingest_jobs import submit_ingest
from facesift.serve.jobs import Job
from facesift.serve.uploads import new_batch_dir, store_images
from facesift.serve.web.pages import WebRoute, page, see_other
from facesift.serve.web.session import CsrfChecked, SignedIn
from facesift.types import LawfulBasis

router = APIRouter(route_class=WebRoute, include_in_schema=False)

EDITABLE = ("description", "purpose", "controller")


def _sources_page(request: Request, engine: Engine, actor, status_code: int = 200, **context):
    counts = engine.source_sizes(actor)
    rows = [(s, *counts.get(s.name, (0, 0))) for s in engine.sources()]
    return page(
        request,
        "sources.html",
        actor,
        status_code=status_code,
        sources=rows,
        bases=[b.value for b in LawfulBasis],
        form=context.pop("form", {}),
        **context,
    )


@router.get("/admin/sources")
def sources(request: Request, engine: Engine, actor: SignedIn):
    actor.require(Action.SOURCE_ADD)
    return _sources_page(request, engine, actor)


@router.post("/admin/sources", dependencies=[CsrfChecked])
def add_source(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    name: Annotated[str, Form()] = "",
    lawful_basis: Annotated[str, Form()] = "",
    jurisdiction: Annotated[str, Form()] = "",
    retention_days: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    controller: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
):
    actor.require(Action.SOURCE_ADD)
    form = {
        "name": name,
        "lawful_basis": lawful_basis,
        "jurisdiction": jurisdiction,
        "retention_days": retention_days,
        "purpose": purpose,
        "controller": controller,
        "description": description,
    }
    try:
        if not retention_days.strip().isdigit():
            raise InputError("retention: give the number of days images are kept")
        engine.add_source(
            actor,
            name.strip(),
            lawful_basis,
            jurisdiction.strip(),
            int(retention_days),
            purpose=purpose,
            controller=controller,
            description=description.strip(),
        )
    except (InputError, SourceError) as error:
        return _sources_page(request, engine, actor, 422, error=str(error), form=form)
    return see_other(f"/admin/sources?added={name.strip()}")


@router.get("/admin/sources/{name}/edit")
def edit_form(request: Request, engine: Engine, actor: SignedIn, name: str):
    actor.require(Action.SOURCE_EDIT)
    found = engine.source(actor, name)
    return page(request, "source_edit.html", actor, source=found, form=vars(found))


@router.post("/admin/sources/{name}/edit", dependencies=[CsrfChecked])
def edit(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    name: str,
    description: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    controller: Annotated[str, Form()] = "",
):
    try:
        engine.edit_source(
            actor, name, description=description, purpose=purpose, controller=controller
        )
    except SourceError as error:
        if isinstance(error, NotFoundError):
            raise
        found = engine.source(actor, name)
        form = {"description": description, "purpose": purpose, "controller": controller}
        return page(
            request,
            "source_edit.html",
            actor,
            status_code=422,
            source=found,
            form=form,
            error=str(error),
        )
    return see_other("/admin/sources")


@router.post("/admin/sources/{name}/retire", dependencies=[CsrfChecked])
def retire(engine: Engine, actor: SignedIn, name: str):
    engine.retire_source(actor, name)
    return see_other("/admin/sources")


@router.post("/admin/sources/{name}/erase", dependencies=[CsrfChecked])
def erase(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    name: str,
    confirm: Annotated[str, Form()] = "",
):
    """Erase every image of a source: a separate, explicit act (type the source's name)."""
    actor.require(Action.ERASE)
    engine.source(actor, name)  # unknown: a 404 page before anything else
    if confirm.strip() != name:
        raise InputError(f"confirm: type the name of the source ({name}) to erase all its images")
    image_ids, receipt = engine.erase(actor, source=name)
    done = f"Erased {len(image_ids)} image(s) of source {name}"
    if receipt is not None:
        done += f" (receipt {receipt.reference}, audit record {receipt.audit_seq})"
    return _sources_page(request, engine, actor, done=done + ".")


# --- ingest as a background job ---------------------------------------------------------------


@router.get("/admin/ingest")
def ingest_form(request: Request, engine: Engine, actor: SignedIn, source: str = ""):
    actor.require(Action.INGEST)
    return page(request, "ingest.html", actor, **_ingest_choices(engine), chosen=source)


def _ingest_choices(engine: Engine) -> dict[str, Any]:
    """Sources an upload may go into here: not retired, and not consent-based (those need a
    manifest with a consent reference per image: the API's or the CLI's ingest)."""
    every = engine.sources()
    return {
        "open_sources": [
            s for s in every if s.retired_at is None and s.lawful_basis != LawfulBasis.CONSENT
        ],
        "consent_sources": [
            s.name for s in every if s.retired_at is None and s.lawful_basis == LawfulBasis.CONSENT
        ],
    }


@router.post("/admin/ingest", dependencies=[CsrfChecked])
def ingest(
    request: Request,
    engine: Engine,
    actor: SignedIn,
    source: Annotated[str, Form()] = "",
    files: Annotated[list[UploadFile], File()] = (),  # type: ignore[assignment]
):
    actor.require(Action.INGEST)
    found = engine.source(actor, source)  # unknown: a 404 page, nothing stored
    if found.retired_at is not None:
        raise SourceError(f"source {found.name!r} is retired: it takes no new images")
    if found.lawful_basis == LawfulBasis.CONSENT:
        raise InputError(
            f"source {found.name!r} has lawful basis 'consent': ingest it with a manifest "
            "giving a consent_ref for every image (the REST API or `facesift ingest --manifest`)"
        )
    uploads = [f for f in files or [] if f.filename]
    if not uploads:
        raise InputError("files: choose at least one photo")
    folder = new_batch_dir(engine.data_dir)
    try:
        stored, refused = store_images(uploads, folder, engine.settings.max_file_bytes, "files")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job = submit_ingest(request.app.state.jobs, engine, actor, found.name, folder, stored, refused)
    return see_other(f"/admin/jobs/{job.id}")


@router.get("/admin/jobs")
def jobs_page(request: Request, actor: SignedIn):
    actor.require(Action.INGEST)
    jobs = request.app.state.jobs.recent()
    return page(request, "jobs.html", actor, jobs=[(job, _job_json(job)) for job in jobs])


@router.get("/admin/jobs/{job_id}")
def job_page(request: Request, actor: SignedIn, job_id: int):
    actor.require(Action.INGEST)
    job = request.app.state.jobs.get(job_id, actor)
    if job is None:
        raise NotFoundError(f"job {job_id} not found (the last 1,000 jobs are kept)")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(_job_json(job))
    return page(request, "job.html", actor, job=job, state=_job_json(job))


def _job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state.value,
        "total": job.total,
        "done": job.done,
        "faces": job.faces,
        "error": job.error,
        "result": job.result,
        "finished": job.finished_at is not None,
    }

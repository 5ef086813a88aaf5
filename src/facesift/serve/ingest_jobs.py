"""An ingest of uploaded files as a background job: the one implementation behind the REST
API's ``POST /api/v1/sources/{name}/ingest`` and the web UI's ingest page, so both count, name
and report the files the same way.

The uploads are already stored in their batch folder (serve/uploads.py); the files refused at
upload (not an image, too large) are counted as done and reported in the result beside the files
the ingest itself could not use. Whatever was not ingested is deleted from the folder when the
job ends, however it ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facesift.engine import FaceSift
from facesift.govern.roles import Actor
from facesift.read.folders import display_path
from facesift.serve.jobs import Job, JobRegistry
from facesift.serve.schemas import FileProblem, HeldElsewhere, IngestResult
from facesift.serve.uploads import RefusedUpload, StoredUpload


def submit_ingest(
    jobs: JobRegistry,
    engine: FaceSift,
    actor: Actor,
    source: str,
    folder: Path,
    stored: list[StoredUpload],
    refused: list[RefusedUpload],
    manifest: Path | None = None,
) -> Job:
    """Queue the ingest of ``stored`` (or of what ``manifest`` names among them) into
    ``source``; the job's result is an ``IngestResult`` as plain data."""
    refusals = [FileProblem(index=r.index, file=r.sent_as, reason=r.reason) for r in refused]

    def work(job: Job) -> dict[str, Any]:
        job.total = len(stored) + len(refused)
        job.done = len(refused)
        jobs.progress(job)

        def on_total(total: int) -> None:
            job.total = total + len(refused)
            jobs.progress(job)

        def on_progress(images: int, faces: int) -> None:
            job.done += images
            job.faces += faces
            jobs.progress(job)

        try:
            if not stored:  # every file was refused at upload: nothing to ingest
                return IngestResult(
                    source=source, files_seen=len(refused), errors=refusals
                ).model_dump(mode="json")
            report = engine.ingest(
                actor,
                [] if manifest else [upload.path for upload in stored],
                source,
                manifest=manifest,
                on_total=on_total,
                on_progress=on_progress,
            )
        finally:
            # Whatever was not ingested (refused, corrupt, already held, a failed job) goes.
            engine.discard_unheld_uploads(folder)
        # What the ingest did not see: the files refused at upload, and the names the client
        # gave the files the report names by the paths they were stored under.
        beside = {
            "files_seen": report.files_seen + len(refused),
            "errors": refusals
            + [_file_problem(where, why, folder, stored) for where, why in report.errors],
            "held_under_other_source": [
                HeldElsewhere(file=_file_problem(where, "", folder, stored).file, source=other)
                for where, other in report.held_under_other_source
            ],
        }
        result = IngestResult.model_validate(report, context=beside)
        return result.model_dump(mode="json")  # jobs hold plain data; JobOut types it again

    return jobs.submit("ingest", actor, work)


def _file_problem(where: str, reason: str, folder: Path, stored: list[StoredUpload]) -> FileProblem:
    """An ingest error about an uploaded file, named as the client sent it (never by the path it
    was stored under on the server)."""
    for upload in stored:
        if where == display_path(upload.path.absolute()):
            return FileProblem(index=upload.index, file=upload.sent_as, reason=reason)
    prefix = display_path(folder.absolute()) + "/"
    return FileProblem(index=None, file=where.removeprefix(prefix), reason=reason)

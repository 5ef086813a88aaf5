"""Background jobs (ingest of uploaded files) with progress, one at a time per server process.

Each process runs its jobs on one worker thread in submission order; jobs of several processes
(``facesift serve --workers N``) wait for the gallery's writer lock in turn, so two ingests never
write at once. Searches go on meanwhile on the server's other threads (the index is guarded by a
readers-writer lock held only while a batch is added, see index/faiss_disk.py). Job records live
in the data directory (govern/job_records.py), so any process answers for any job, and a restart
keeps them; an interrupted ingest loses nothing committed, and submitting the same files again
skips what is already in the catalog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesift.errors import FaceSiftError, JobInterrupted
from facesift.govern.job_records import Job, JobRecords
from facesift.govern.roles import Action, Actor
from facesift.types import JobState

__all__ = ["Job", "JobRegistry"]

log = logging.getLogger(__name__)

SAVE_EVERY_SECONDS = 0.5  # progress is written this often at most (a poll sees it this fresh)


class JobRegistry:
    def __init__(self, data_dir: Path, keep: int = 1000):
        # Set at shutdown; a running job checks it between files and stops (an ingest commits
        # its current batch first, and running it again resumes where it stopped).
        self.stopping = threading.Event()
        self.records = JobRecords(data_dir, keep)
        self._saved: dict[int, float] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facesift-job")

    def submit(self, kind: str, owner: Actor, work: Callable[[Job], dict[str, Any]]) -> Job:
        job = self.records.add(kind, owner.name)
        self._worker.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        job.state, job.started_at = JobState.RUNNING, datetime.now(UTC)
        self.records.save(job)
        try:
            job.result = work(job)
            job.state = JobState.SUCCEEDED
        except FaceSiftError as error:
            job.state, job.error = JobState.FAILED, str(error)
        except Exception as error:  # a job must end in a state the client can read
            log.exception("job %s failed", job.id)
            job.state, job.error = JobState.FAILED, f"internal error ({type(error).__name__})"
        finally:
            job.finished_at = datetime.now(UTC)
            self.records.save(job)
            self._saved.pop(job.id, None)

    def progress(self, job: Job) -> None:
        """A running job's counts changed: record them (at most every ``SAVE_EVERY_SECONDS``),
        and stop here if the server is shutting down."""
        now = time.monotonic()
        if now - self._saved.get(job.id, 0.0) >= SAVE_EVERY_SECONDS:
            self.records.save(job)
            self._saved[job.id] = now
        self.raise_if_stopping()

    def get(self, job_id: int, actor: Actor) -> Job | None:
        """The job, if it exists and ``actor`` may see it (its owner, or anyone who may ingest)."""
        job = self.records.get(job_id)
        if job is None:
            return None
        if job.owner != actor.name:
            actor.require(Action.INGEST)
        return job

    def recent(self) -> list[Job]:
        """Every job held, newest first, from every process of the server (past ``keep`` jobs,
        the oldest finished ones are forgotten). Who may see them is the caller's check: anyone
        who may ingest sees every operator's jobs, as ``get`` allows."""
        return self.records.recent()

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every job this process was given so far has finished (tests, shutdown)."""
        self._worker.submit(lambda: None).result(timeout)

    def raise_if_stopping(self) -> None:
        if self.stopping.is_set():
            raise JobInterrupted(
                "the server shut down during this job; what was done is kept, and submitting "
                "the same files again completes it"
            )

    def shutdown(self) -> None:
        self.stopping.set()
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.records.interrupt_unfinished()  # jobs still queued here will never run

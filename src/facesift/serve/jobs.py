"""Background jobs (ingest of uploaded files) with progress, one at a time per gallery.

Jobs run on one worker thread in submission order, so two ingests never race for the gallery's
writer lock; searches go on meanwhile on the server's other threads (the index is guarded by a
readers-writer lock held only while a batch is added, see index/faiss_disk.py). Job records live
in memory: after a restart the job list is empty, but an interrupted ingest loses nothing
committed, and submitting the same files again skips what is already in the catalog.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from facesift.errors import FaceSiftError, JobInterrupted
from facesift.govern.roles import Action, Actor
from facesift.types import JobState

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: int
    kind: str
    owner: str
    state: JobState = JobState.QUEUED
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    total: int | None = None
    done: int = 0
    faces: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None


class JobRegistry:
    def __init__(self, keep: int = 1000):
        # Set at shutdown; a running job checks it between files and stops (an ingest commits
        # its current batch first, and running it again resumes where it stopped).
        self.stopping = threading.Event()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._keep = keep
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facesift-job")

    def submit(self, kind: str, owner: Actor, work: Callable[[Job], dict[str, Any]]) -> Job:
        with self._lock:
            job = Job(next(self._ids), kind, owner.name)
            self._jobs[job.id] = job
            self._forget_old()
        self._worker.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        job.state, job.started_at = JobState.RUNNING, datetime.now(UTC)
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

    def get(self, job_id: int, actor: Actor) -> Job | None:
        """The job, if it exists and ``actor`` may see it (its owner, or anyone who may ingest)."""
        job = self._jobs.get(job_id)
        if job is None:
            return None
        if job.owner != actor.name:
            actor.require(Action.INGEST)
        return job

    def recent(self) -> list[Job]:
        """Every job held, newest first (past ``keep`` jobs, the oldest finished ones are
        forgotten). Who may see them is the caller's check: anyone who may ingest sees every
        operator's jobs, as ``get`` allows."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: job.id, reverse=True)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far has finished (for tests and shutdown)."""
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

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished_at is not None]
        for job_id in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job_id]

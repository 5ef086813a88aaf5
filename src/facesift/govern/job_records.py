"""Background-job records (ingests of uploaded files), kept in one SQLite file beside the catalog
so that every process of a server (``facesift serve --workers N``) reads the same jobs: a job
submitted to one process is polled, listed and shown by any other, and survives a restart.

The records hold people's data: a job's result names the files a client sent, and a photo's file
name often says who is in it (``grace-hopper-custody-1987.jpg``). So an erasure withdraws every
file name the records hold (``derived.forget`` calls ``withdraw_file_names``), and SQLite
overwrites what it replaces (``secure_delete``) with its journal deleted after each write, so the
name outlives the erasure in no file of the data directory.

A job whose process has gone (killed, crashed, a restart) without finishing it is reported
failed when next read: what it committed is kept, and submitting the same files again skips it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facesift.sqlite_files import write_transaction
from facesift.types import JobState

JOBS_FILE = "jobs.sqlite"
WITHDRAWN = "(name withdrawn after an erasure)"
UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)
INTERRUPTED = (
    "the server process running this job stopped before it finished; what it ingested is "
    "kept, and submitting the same files again completes it"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    total INTEGER,
    done INTEGER NOT NULL,
    faces INTEGER NOT NULL,
    error TEXT,
    result TEXT,
    process TEXT NOT NULL
)
"""
_FIELDS = (
    "kind owner state submitted_at started_at finished_at total done faces error result process"
).split()


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


def jobs_path(data_dir: Path) -> Path:
    return Path(data_dir) / JOBS_FILE


def this_process() -> str:
    """This process's id and start time: a pid alone may be reused by another process later."""
    return f"{os.getpid()}:{_started(os.getpid())}"


def _started(pid: int) -> str:
    try:  # field 22 of /proc/<pid>/stat, after the command name (which may hold spaces)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"  # not Linux: the pid alone


def _alive(process: str) -> bool:
    pid_text, _, started = process.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return started in ("?", _started(pid))


class JobRecords:
    """The job table: one short connection per call, so any thread or process may use it."""

    def __init__(self, data_dir: Path, keep: int = 1000):
        self.path = jobs_path(data_dir)
        self.keep = keep
        self.process = this_process()
        with self._connected() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connected(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
            # Replaced and deleted content is overwritten, and the rollback journal is deleted
            # after each write (no WAL keeps old pages): see the module's docstring.
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA journal_mode=DELETE")
            with write_transaction(db):
                yield db

    def add(self, kind: str, owner: str) -> Job:
        """A new queued job, owned by this process; the oldest finished jobs past ``keep`` go."""
        job = Job(0, kind, owner)
        with self._connected() as db:
            cursor = db.execute(
                f"INSERT INTO jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                self._row(job),
            )
            job.id = int(cursor.lastrowid or 0)
            db.execute(
                "DELETE FROM jobs WHERE finished_at IS NOT NULL AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY id DESC LIMIT ?)",
                (self.keep,),
            )
        return job

    def save(self, job: Job) -> None:
        with self._connected() as db:
            db.execute(
                f"UPDATE jobs SET {', '.join(f'{name} = ?' for name in _FIELDS)} WHERE id = ?",
                (*self._row(job), job.id),
            )

    def get(self, job_id: int) -> Job | None:
        with self._connected() as db:
            rows = self._read(db, "WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def recent(self) -> list[Job]:
        """Every job held, newest first."""
        with self._connected() as db:
            return self._read(db, "ORDER BY id DESC", ())

    def interrupt_unfinished(self) -> None:
        """This process stops: its jobs not finished are failed (a later read would say so too,
        once the process is gone; this says it at once)."""
        with self._connected() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, finished_at = ? "
                f"WHERE process = ? AND state IN {UNFINISHED}",
                (JobState.FAILED.value, INTERRUPTED, _stamp(datetime.now(UTC)), self.process),
            )

    def _read(self, db: sqlite3.Connection, where: str, parameters: tuple[Any, ...]) -> list[Job]:
        rows = db.execute(f"SELECT id, {', '.join(_FIELDS)} FROM jobs {where}", parameters)
        jobs = []
        for row in rows.fetchall():
            job, process = self._job(row)
            if job.state.value in UNFINISHED and not _alive(process):
                job.state, job.error = JobState.FAILED, INTERRUPTED
                job.finished_at = datetime.now(UTC)
                db.execute(
                    "UPDATE jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?",
                    (job.state.value, job.error, _stamp(job.finished_at), job.id),
                )
            jobs.append(job)
        return jobs

    def _row(self, job: Job) -> tuple[Any, ...]:
        return (
            job.kind,
            job.owner,
            job.state.value,
            _stamp(job.submitted_at),
            _stamp(job.started_at),
            _stamp(job.finished_at),
            job.total,
            job.done,
            job.faces,
            job.error,
            None if job.result is None else json.dumps(job.result),
            self.process,
        )

    @staticmethod
    def _job(row: tuple[Any, ...]) -> tuple[Job, str]:
        (job_id, kind, owner, state, submitted, started, finished, total, done, faces, error,
         result, process) = row  # fmt: skip
        job = Job(
            id=job_id,
            kind=kind,
            owner=owner,
            state=JobState(state),
            submitted_at=_parse(submitted) or datetime.now(UTC),
            started_at=_parse(started),
            finished_at=_parse(finished),
            total=total,
            done=done,
            faces=faces,
            error=error,
            result=None if result is None else json.loads(result),
        )
        return job, process


def withdraw_file_names(data_dir: Path) -> int:
    """After an erasure: replace every file name held in job results (files refused, files held
    under another source) with ``WITHDRAWN``; return how many jobs changed. Every name, not only
    the erased person's: a refused file's name may name them too, and no face links it to them."""
    path = jobs_path(data_dir)
    if not path.is_file():
        return 0
    records = JobRecords(data_dir)
    changed = 0
    with records._connected() as db:
        held = db.execute("SELECT id, result FROM jobs WHERE result IS NOT NULL").fetchall()
        for job_id, text in held:
            result = json.loads(text)
            named = [
                entry
                for key in ("errors", "held_under_other_source")
                for entry in result.get(key) or ()
                if isinstance(entry, dict) and entry.get("file") not in (None, WITHDRAWN)
            ]
            for entry in named:
                name, entry["file"] = entry["file"], WITHDRAWN
                if isinstance(entry.get("reason"), str) and name:  # a reason may quote it
                    entry["reason"] = entry["reason"].replace(name, WITHDRAWN)
            if named:
                db.execute("UPDATE jobs SET result = ? WHERE id = ?", (json.dumps(result), job_id))
                changed += 1
    if changed:
        with closing(sqlite3.connect(path, timeout=60)) as db:
            db.execute("VACUUM")  # free pages and their old contents rewritten, not only zeroed
    return changed


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)

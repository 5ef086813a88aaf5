"""What a server's processes share through the data directory (``facesift serve --workers N``):
rate limits and job records. Each test stands two instances side by side, as two processes
would hold them, or uses a real second process."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from facesift.govern.job_records import INTERRUPTED, JobRecords
from facesift.govern.roles import Actor, Role
from facesift.serve.jobs import JobRegistry
from facesift.serve.limits import TokenBuckets
from facesift.types import JobState


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_callers_tokens_are_shared_by_every_process_of_the_server(tmp_path):
    clock = Clock()
    first, second = (
        TokenBuckets(tmp_path / "limits.sqlite", per_minute=60, burst=3, clock=clock)
        for _ in range(2)
    )
    assert [first.take("key:a"), second.take("key:a"), first.take("key:a")] == [0, 0, 0]
    # A limit per process would let the second process give three more.
    assert second.take("key:a") == 1 and first.waiting("key:a") == 1
    assert second.take("key:b") == 0  # another caller has its own bucket
    clock.now += 1.0  # one token a second comes back, in either process
    assert first.waiting("key:a") == 0 and second.take("key:a") == 0
    assert first.take("key:a") == 1


def test_limits_of_different_scopes_count_apart_in_one_file(tmp_path):
    path, clock = tmp_path / "limits.sqlite", Clock()
    requests = TokenBuckets(path, per_minute=60, burst=1, clock=clock)
    wrong_keys = TokenBuckets(path, per_minute=5, burst=1, scope="wrong-keys", clock=clock)
    assert requests.take("addr:1") == 0 and requests.take("addr:1") == 1
    assert wrong_keys.take("addr:1") == 0  # its own bucket, though the caller is the same
    assert wrong_keys.take("addr:1") == 12  # and its own rate: one every 12 s


def test_a_bucket_stamped_after_now_starts_full(tmp_path):
    # The monotonic clock starts again at a reboot: a stamp from before it is later than now.
    clock = Clock(now=10_000.0)
    before = TokenBuckets(tmp_path / "limits.sqlite", per_minute=60, burst=2, clock=clock)
    assert before.take("key:a") == 0 and before.take("key:a") == 0 and before.take("key:a") == 1
    clock.now = 5.0
    assert before.take("key:a") == 0


def test_a_job_submitted_to_one_process_is_read_by_another(tmp_path):
    here, there = JobRecords(tmp_path), JobRecords(tmp_path)
    job = here.add("ingest", "admin")
    job.state, job.total, job.done, job.faces = JobState.RUNNING, 10, 4, 7
    here.save(job)
    seen = there.get(job.id)
    assert seen is not None
    assert (seen.state, seen.total, seen.done, seen.faces, seen.owner) == (
        JobState.RUNNING,
        10,
        4,
        7,
        "admin",
    )
    assert [j.id for j in there.recent()] == [job.id]
    assert there.add("ingest", "admin").id > job.id  # ids are unique across processes


def test_a_job_whose_process_died_reads_as_failed_not_running_for_ever(tmp_path):
    script = (
        "import sys; from pathlib import Path; from facesift.govern.job_records import JobRecords;"
        "from facesift.types import JobState; records = JobRecords(Path(sys.argv[1]));"
        "job = records.add('ingest', 'admin'); job.state = JobState.RUNNING; records.save(job);"
        "print(job.id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True
    )
    job_id = int(done.stdout)
    job = JobRecords(tmp_path).get(job_id)
    assert job is not None and job.state is JobState.FAILED and job.error == INTERRUPTED
    assert job.finished_at is not None
    # And a running job of a live process is left alone.
    mine = JobRecords(tmp_path)
    running = mine.add("ingest", "admin")
    running.state = JobState.RUNNING
    mine.save(running)
    assert JobRecords(tmp_path).get(running.id).state is JobState.RUNNING


def test_shutdown_fails_the_running_job_and_those_left_queued(tmp_path):
    registry = JobRegistry(tmp_path)
    admin = Actor("admin", Role.ADMIN)
    started = threading.Event()

    def until_stopped(job):
        started.set()
        registry.stopping.wait(30)
        registry.progress(job)  # a running ingest checks between files
        return {}

    running = registry.submit("ingest", admin, until_stopped)
    queued = registry.submit("ingest", admin, lambda job: {})
    assert started.wait(30)
    registry.shutdown()
    other_process = JobRecords(tmp_path)
    assert other_process.get(running.id).state is JobState.FAILED
    assert "shut down" in other_process.get(running.id).error
    left = other_process.get(queued.id)
    assert left.state is JobState.FAILED and left.error == INTERRUPTED


def test_only_the_newest_jobs_are_kept(tmp_path):
    records = JobRecords(tmp_path, keep=3)
    for _ in range(5):
        job = records.add("ingest", "admin")
        job.state, job.finished_at = JobState.SUCCEEDED, datetime.now(UTC)
        records.save(job)
    records.add("ingest", "admin")  # adding prunes; an unfinished job is never dropped
    assert [j.id for j in records.recent()] == [6, 5, 4]


@pytest.mark.parametrize("role", [Role.INVESTIGATOR, Role.AUDITOR])
def test_another_operators_job_is_refused_to_who_may_not_ingest(tmp_path, role):
    from facesift.errors import PermissionDenied

    registry = JobRegistry(tmp_path)
    job = registry.submit("ingest", Actor("admin", Role.ADMIN), lambda job: {})
    registry.wait_idle(30)
    with pytest.raises(PermissionDenied):
        JobRegistry(tmp_path).get(job.id, Actor("someone", role))
    registry.shutdown()

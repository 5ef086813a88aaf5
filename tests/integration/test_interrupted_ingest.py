"""Kill an ingest mid-way (SIGKILL, Ctrl-C); the next run resumes; catalog and index agree."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facesift import FaceSift, Settings
from facesift.ingest.jobs import COMMIT_EVERY_IMAGES
from tests.conftest import add_source, operators
from tests.integration.lfw_sample import people

pytestmark = pytest.mark.lfw
# Ctrl-C raises in the CLI even when this test runs as a shell's background job, which starts
# (and its children inherit) SIGINT ignored: the interrupt this test sends must reach the ingest.
CLI = [
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from facesift.cli.app import main; main()",
]


def committed_images(data: Path) -> int:
    try:
        with sqlite3.connect(data / "catalog.sqlite", timeout=30) as db:
            return db.execute("select count(*) from images").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def start_ingest(photos: Path, data: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, FACESIFT_DATA_DIR=str(data), FACESIFT_OPERATOR="admin")
    return subprocess.Popen(
        [*CLI, "ingest", str(photos), "--source", "lfw", "--workers", "2", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so the workers are signalled too
    )


def interrupt_after(process: subprocess.Popen, data: Path, images: int, sig: int) -> str:
    """Signal the ingest's process group once ``images`` are committed; return its stderr."""
    deadline = time.monotonic() + 300
    while committed_images(data) < images:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.2)
    os.killpg(process.pid, sig)
    _, err = process.communicate(timeout=120)
    return err


@pytest.fixture
def photos(lfw_root, tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    chosen = [f for files in list(people(lfw_root).values())[:400] for f in files[:2]][:300]
    for file in chosen:
        (folder / file.name).symlink_to(file)
    return folder


def audited_batch_images(data: Path) -> int:
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        return sum(
            record.details["images"]
            for record in engine._audit.records(action="ingest")
            if "batch" in record.details
        )


def owed_batch_images(data: Path) -> int:
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        return sum(owed.details["images"] for owed in engine._catalog.owed_audit_records())


def setup_source(data: Path) -> None:
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        admin, _ = operators(engine)
        add_source(engine, admin, "lfw", jurisdiction="US", retention_days=365)


def assert_consistent(data: Path, expected_images: int | None = None) -> int:
    with FaceSift(Settings(data_dir=data, workers=1)) as engine:
        check = engine.check_index()
        assert check.in_agreement, check
        counts = engine._catalog.counts()
        with engine._catalog.db.connect() as connection:
            from sqlalchemy import text

            declared = connection.execute(
                text("select coalesce(sum(face_count),0) from images")
            ).scalar()
        assert declared == counts.faces
        if expected_images is not None:
            assert counts.images == expected_images
        return counts.images


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_ingest_resumes_with_catalog_and_index_in_agreement(photos, tmp_path, sig):
    data = tmp_path / "data"
    setup_source(data)
    total = len(list(photos.iterdir()))
    process = start_ingest(photos, data)
    err = interrupt_after(process, data, images=64, sig=sig)
    if sig == signal.SIGINT:
        assert process.returncode == 130, err
        assert "run the same command again to resume" in err
        assert "Traceback" not in err
    partial = assert_consistent(data)
    assert 64 <= partial < total
    # Every committed batch is audited as it commits, though the run never wrote its summary.
    # Killed, the batch being committed at that instant may miss its record; stopped with
    # Ctrl-C, none may.
    audited = audited_batch_images(data)
    if sig == signal.SIGINT:
        assert audited == partial
    else:
        # The batch a kill interrupts owes its record, stored with the batch itself (and may
        # have written it just before dying, then the record appears twice, never not at all).
        owed = owed_batch_images(data)
        assert partial <= audited + owed <= partial + COMMIT_EVERY_IMAGES

    again = start_ingest(photos, data)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    assert "Traceback" not in err
    assert_consistent(data, expected_images=total)
    # The resumed run paid what the killed one owed: every image is on the record.
    assert owed_batch_images(data) == 0
    assert total <= audited_batch_images(data) <= total + COMMIT_EVERY_IMAGES

    # A third run finds everything already there.
    third = start_ingest(photos, data, "--json")
    out, _ = third.communicate(timeout=900)
    assert third.returncode == 0
    summary = json.loads(out)
    assert summary["images_ingested"] == 0 and summary["already_in_catalog"] == total
    assert_consistent(data, expected_images=total)

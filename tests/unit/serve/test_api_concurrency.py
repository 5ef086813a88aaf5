"""Searches keep being served, and all succeed, while an ingest job changes the index."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageEnhance

from facesift import FaceSift
from facesift.ingest.jobs import FILES_PER_TASK
from tests.unit.serve.conftest import jpeg_bytes, make_served


def _variants(path, count):
    """Distinct files (so none is skipped as already held) of the same face."""
    base = Image.open(path).convert("RGB")
    for n in range(count):
        scale = 0.8 + 0.02 * n
        image = base.resize((int(base.width * scale), int(base.height * scale)))
        image = ImageEnhance.Brightness(image).enhance(0.9 + 0.01 * n)
        if n % 2:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        yield f"variant-{n}.jpg", jpeg_bytes(image)


def test_searches_all_succeed_while_an_ingest_job_runs(tmp_path, photos):
    served = make_served(tmp_path, photos, workers=1)
    try:
        served.ingest(["hopper"])
        # Enough photos that the job outlasts several searches even on the fast default models.
        files = [("files", item) for item in _variants(photos["collins_mirrored"], 40)]
        started = served.client.post(
            "/api/v1/sources/press/ingest", files=files, headers=served.as_("admin")
        )
        assert started.status_code == 202
        job_url = started.json()["url"]

        progress_seen: list[tuple[str, int]] = []
        finished = threading.Event()

        def search_until_ingest_ends(worker: int) -> list[int]:
            codes = []
            while not finished.is_set():
                answer = served.client.post(
                    "/api/v1/search",
                    files=served.upload("hopper"),
                    data={"purpose": "concurrency", "case": f"C-{worker}"},
                    headers=served.as_("investigator"),
                )
                codes.append(answer.status_code)
                if answer.status_code == 200:
                    leads = answer.json()["faces"][0]["leads"]
                    assert leads and leads[0]["source"] == "press", answer.text
                job = served.client.get(job_url, headers=served.as_("admin")).json()
                progress_seen.append((job["state"], job["done"]))
                if job["state"] in ("succeeded", "failed"):
                    finished.set()
            return codes

        with ThreadPoolExecutor(max_workers=3) as pool:
            outcomes = list(pool.map(search_until_ingest_ends, range(3)))
        codes = [code for worker in outcomes for code in worker]

        assert codes and set(codes) == {200}, codes
        job = served.client.get(job_url, headers=served.as_("admin")).json()
        assert job["state"] == "succeeded", job
        assert job["result"]["images_ingested"] == 40
        # Searches really overlapped the ingest: they saw it running at several stages.
        during = {done for state, done in progress_seen if state == "running"}
        assert len(during) >= 2, progress_seen
        assert served.engine.check_index().in_agreement
    finally:
        served.client.__exit__(None, None, None)


def test_a_second_writer_is_told_the_gallery_is_busy(tmp_path, photos):
    served = make_served(tmp_path, photos)
    try:
        with served.engine.writer_lock():  # as if an ingest or erasure were running
            answer = served.client.post("/api/v1/erase?source=press", headers=served.as_("admin"))
        assert answer.status_code == 409
        assert "another facesift process is writing" in answer.json()["detail"]
    finally:
        served.client.__exit__(None, None, None)


def test_shutdown_stops_a_running_ingest_keeping_what_it_committed(tmp_path, photos):
    served = make_served(tmp_path, photos)
    # Workers analyse FILES_PER_TASK files at a time: several tasks' worth, so the shutdown
    # lands while some are still to come.
    count = 6 * FILES_PER_TASK
    files = [("files", item) for item in _variants(photos["hopper"], count)]
    started = served.client.post(
        "/api/v1/sources/press/ingest", files=files, headers=served.as_("admin")
    )
    jobs, admin = served.app.state.jobs, served.engine.operator(name="admin")
    job_id = started.json()["id"]
    deadline = time.monotonic() + 300
    while jobs.get(job_id, admin).done < 1 and time.monotonic() < deadline:
        threading.Event().wait(0.02)  # the job's record, as any server process reads it
    served.client.__exit__(None, None, None)  # the server's lifespan ends: shutdown
    job = jobs.get(job_id, admin)
    assert job.state == "failed" and "shut down" in job.error
    with FaceSift(served.engine.settings) as reopened:
        held = reopened.stats().images
        assert 1 <= held < count
        assert reopened.check_index().in_agreement

"""API load: searches per second and latency at a 100k-face gallery, with and without an ingest
running at the same time, against uvicorn on 127.0.0.1 (locust as a library drives the load).

The gallery is every LFW face embedding from our pipeline, topped up with synthetic faces from a
Gaussian fitted to them (as bench/search_latency.py), recorded in a real catalog and index. Each
search uploads a real LFW photo, so the server decodes, detects, embeds, searches, records the
search for review and appends to the audit trail: the whole path an investigator's request takes.
The baseline is the same load on the same server in the same run with no ingest; the second phase
uploads a batch of other LFW photos as an ingest job and measures the same load while it runs.

    python bench/serve_load.py --lfw ../shared/datasets/lfw [--faces 100000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, lfw_sample, machine  # noqa: E402
from duplicates import synthetic_record  # noqa: E402
from search_latency import gallery_of, real_embeddings  # noqa: E402

from facesift import FaceSift, Settings  # noqa: E402
from facesift.catalog.base import NewImage  # noqa: E402

USERS = 4  # concurrent investigators, each sending its next search as soon as one returns


def build_gallery(
    data_dir: Path, lfw: Path, faces: int, candidates: list[Path]
) -> tuple[dict[str, str], list[bytes]]:
    """A gallery of ``faces`` faces and operators; returns the operators' API keys and 40 probes
    (of ``candidates``) in which a face is found, so that every search is a real one."""
    rng = np.random.default_rng(11)
    vectors = gallery_of(real_embeddings(lfw), faces, rng).astype(np.float32)
    with FaceSift(Settings(data_dir=data_dir, workers=1)) as engine:
        probes = [
            data
            for data in (path.read_bytes() for path in candidates)
            if engine.analyse_probe(data).faces
        ][:40]
        keys = {"admin": engine.create_first_admin("admin")}
        admin = engine.operator(name="admin")
        keys["investigator"] = engine.add_operator(admin, "investigator", "investigator")
        source = engine.add_source(
            admin, "archive", "public-task", "GB", 365, purpose="load test", controller="dpo@x"
        )
        engine.add_source(
            admin, "incoming", "public-task", "GB", 365, purpose="load test", controller="dpo@x"
        )
        for start in range(0, len(vectors), 5000):
            stop = min(start + 5000, len(vectors))
            engine.record_images(
                [NewImage(source.id, synthetic_record(n, vectors[n])) for n in range(start, stop)]
            )
        engine.save_index()
        assert len(engine.index) == faces
    return keys, probes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ, FACESIFT_DATA_DIR=str(data_dir), FACESIFT_API_REQUESTS_PER_MINUTE="1000000"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "facesift.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # a file, not a pipe: a full pipe would stall the server
    )
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
        if server.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
    raise SystemExit("server did not come up")


def run_load(host: str, key: str, probes: list[bytes], seconds: float) -> dict:
    """``USERS`` closed-loop users searching for ``seconds``; locust's own statistics."""
    import gevent
    from locust import HttpUser, constant, task
    from locust.env import Environment

    class Investigator(HttpUser):
        wait_time = constant(0)

        @task
        def search(self) -> None:
            probe = probes[np.random.randint(len(probes))]
            self.client.post(
                "/api/v1/search",
                files={"probe": ("probe.jpg", probe, "image/jpeg")},
                data={"purpose": "load test", "case": "BENCH-1"},
                headers={"X-API-Key": key},
                name="POST /api/v1/search",
            )

    Investigator.host = host
    environment = Environment(user_classes=[Investigator])
    runner = environment.create_local_runner()
    runner.start(USERS, spawn_rate=USERS)
    gevent.sleep(5)  # every user running, and the server's analysers loaded, before measuring
    environment.stats.reset_all()
    gevent.sleep(seconds)
    stats = environment.stats.total
    result = {
        "requests": stats.num_requests,
        "failures": stats.num_failures,
        "rps": stats.num_requests / seconds,
        "p50": stats.get_response_time_percentile(0.5),
        "p99": stats.get_response_time_percentile(0.99),
        "errors": {
            f"{error.method} {error.name}: {error.error}": error.occurrences
            for error in environment.stats.errors.values()
        },
    }
    runner.quit()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--ingest-photos", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("bench/results/serve_load.md"))
    args = parser.parse_args()

    sample = lfw_sample(args.lfw, 50 + args.ingest_photos)
    uploads = sample[50:]
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        started = time.perf_counter()
        keys, probes = build_gallery(data_dir, args.lfw, args.faces, sample[:50])
        build_seconds = time.perf_counter() - started
        port = free_port()
        server = start_server(data_dir, port, Path(folder) / "server.log")
        host = f"http://127.0.0.1:{port}"
        try:
            quiet = run_load(host, keys["investigator"], probes, args.seconds)

            import httpx

            files = [("files", (path.name, path.read_bytes())) for path in uploads]
            job = httpx.post(
                f"{host}/api/v1/sources/incoming/ingest",
                files=files,
                headers={"X-API-Key": keys["admin"]},
                timeout=120,
            ).json()
            busy = run_load(host, keys["investigator"], probes, args.seconds)
            during = httpx.get(f"{host}{job['url']}", headers={"X-API-Key": keys["admin"]}).json()
        finally:
            server.terminate()
            server.wait(timeout=120)
            server_errors = [
                line
                for line in (Path(folder) / "server.log").read_text().splitlines()
                if "ERROR" in line or "Traceback" in line
            ]
    if during["state"] != "running":
        raise SystemExit(
            f"the ingest job ended ({during['state']}) before the measurement did: "
            "use more --ingest-photos"
        )
    write_report(args, quiet, busy, during, build_seconds)
    if server_errors:
        print("server errors:", *server_errors[:20], sep="\n")


def write_report(args, quiet: dict, busy: dict, during: dict, build_seconds: float) -> None:
    def row(label: str, result: dict, baseline: dict) -> str:
        return (
            f"| {label} | {result['requests']:,} | {result['failures']} | {result['rps']:.1f} | "
            f"{result['p50']:.0f} | {result['p99']:.0f} | {result['rps'] / baseline['rps']:.2f}x |"
        )

    text = "\n".join(
        [
            f"Machine: {machine()}; commit {git_revision()}. Gallery: {args.faces:,} faces "
            f"(LFW + synthetic, built in {build_seconds:.0f} s, not timed below), exact FAISS "
            f"index. uvicorn, one process, on 127.0.0.1 (ingest workers at niceness 10, the "
            f"server's default); {USERS} locust users send searches "
            f"back to back (real LFW photos, 250x250 JPEG) for {args.seconds:.0f} s per phase. "
            "Each search decodes, detects, embeds, searches, keeps the search for review and "
            "appends to the audit trail.",
            "",
            "| phase | searches | failed | searches/s | p50 ms | p99 ms | throughput vs baseline |",
            "|---|---:|---:|---:|---:|---:|---:|",
            row("searches only (baseline)", quiet, quiet),
            row(
                f"searches while an ingest job runs ({during['done']} of {during['total']} "
                "photos done by the end)",
                busy,
                quiet,
            ),
        ]
    )
    failures = {**quiet["errors"], **{k: v for k, v in busy["errors"].items()}}
    if failures:
        text += "\n\nFailed requests (locust's record): " + "; ".join(
            f"{reason} ({count}x)" for reason, count in failures.items()
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""API load: searches per second and latency at a 100k-face gallery, servers on the default
pipeline (YuNet + reid-0095) against servers on the dlib pipeline (HOG + ResNet) in the same run,
each in one process and with ``--workers`` processes, with and without an ingest running, against
uvicorn on 127.0.0.1 (locust as a library drives it).

Each server has its own gallery in its own embedding space (256-d reid-0095, 128-d dlib): a fixed
sample of LFW photos embedded by that pipeline, topped up with synthetic faces from a Gaussian
fitted to those embeddings (as bench/search_latency.py), recorded in a real catalog and index.
Each search uploads a real LFW photo, so the server decodes, detects, embeds, searches, records the
search for review and appends to the audit trail: the whole path an investigator's request takes.
The servers are measured in interleaved rounds (A B, B A); the ratio is default/dlib. A last
phase per server uploads a batch of other LFW photos as an ingest job and measures the same load
while it runs.

    python bench/serve_load.py --lfw ../shared/datasets/lfw [--faces 100000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
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


# Each server's pipeline (Settings fields; FACESIFT_* for the server). The gallery records its
# embedding space, so each server gets a gallery of its own space, distractors fitted to it.
PIPELINES = {
    "default (YuNet + reid-0095)": {},
    "dlib (HOG + ResNet)": {"detector": "dlib-hog", "embedder": "dlib-resnet"},
}


def build_gallery(
    data_dir: Path,
    lfw: Path,
    faces: int,
    candidates: list[Path],
    pipeline: dict[str, str],
    fit_photos: list[Path],
) -> tuple[dict[str, str], set[int]]:
    """A gallery of ``faces`` faces in ``pipeline``'s embedding space, and operators: the LFW
    faces of ``fit_photos`` embedded by that pipeline, topped up with synthetic faces from a
    Gaussian fitted to them. Returns the operators' API keys and which ``candidates`` have a face
    this pipeline finds (the probes must be real searches on every server)."""
    rng = np.random.default_rng(11)
    # Threads also for dlib (slower: it holds the GIL): worker processes would re-import this
    # script, whose top-level sys.path line ingest's guard refuses (refuse_unguarded_main_script).
    real = real_embeddings(lfw, Settings(analysis_workers="threads", **pipeline), fit_photos)
    vectors = gallery_of(real, faces, rng).astype(np.float32)
    with FaceSift(Settings(data_dir=data_dir, workers=1, **pipeline)) as engine:
        found = {
            n for n, path in enumerate(candidates) if engine.analyse_probe(path.read_bytes()).faces
        }
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
        assert engine.stats().index_size == faces
        assert engine.space.dimension == vectors.shape[1], (engine.space, vectors.shape)
    return keys, found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    data_dir: Path, port: int, log: Path, pipeline: dict[str, str], workers: int = 1
) -> subprocess.Popen:
    env = dict(
        os.environ, FACESIFT_DATA_DIR=str(data_dir), FACESIFT_API_REQUESTS_PER_MINUTE="1000000"
    )
    for field in ("detector", "embedder"):
        env.pop(f"FACESIFT_{field.upper()}", None)
        if field in pipeline:
            env[f"FACESIFT_{field.upper()}"] = pipeline[field]
    server = subprocess.Popen(
        [sys.executable, "-m", "facesift.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # a file, not a pipe: a full pipe would stall the server
    )
    import httpx2 as httpx  # the project's HTTP client (pyproject: httpx2)

    for _ in range(600):
        try:
            up = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            if up and len(worker_processes(server.pid)) >= (workers if workers > 1 else 0):
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
        if server.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
    raise SystemExit("server did not come up")


def worker_processes(pid: int) -> list[int]:
    """A multi-process server's workers (multiprocessing's resource tracker is a child too)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time a server and its worker processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for process in [pid, *worker_processes(pid)]:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def resident_mib(pid: int) -> float:
    """Resident memory of a server and its worker processes, MiB (Linux /proc)."""
    total = 0
    for process in [pid, *worker_processes(pid)]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def run_load(host: str, key: str, probes: list[Path], seconds: float) -> dict:
    """``USERS`` closed-loop users searching for ``seconds``, driven from a child process: locust
    patches the standard library for gevent when imported, and a patched process that then forks
    (facesift's decoding does) runs the parent's code twice."""
    command = [sys.executable, __file__, "--drive", host, key, str(seconds), *map(str, probes)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"load generator failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]  # the machine is shared: what else ran meanwhile
    return result


def drive(host: str, key: str, seconds: float, paths: list[str]) -> dict:
    """The load itself (in the child process): locust's own statistics."""
    import gevent
    from locust import HttpUser, constant, task
    from locust.env import Environment

    probes = [Path(path).read_bytes() for path in paths]

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
    warm_up = environment.stats.total.num_requests
    environment.stats.reset_all()
    gevent.sleep(seconds)
    stats = environment.stats.total
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "all_requests": warm_up + stats.num_requests,  # with the warm-up's, for CPU per search
        "generator_cpu_s": own.ru_utime + own.ru_stime,
        "requests": stats.num_requests,
        "failures": stats.num_failures,
        "rps": stats.num_requests / seconds,
        "p50": stats.get_response_time_percentile(0.5),
        "p95": stats.get_response_time_percentile(0.95),
        "p99": stats.get_response_time_percentile(0.99),
        "errors": {
            f"{error.method} {error.name}: {error.error}": error.occurrences
            for error in environment.stats.errors.values()
        },
    }
    runner.quit()
    return result


def main() -> None:
    if sys.argv[1:2] == ["--drive"]:  # the load generator's child process (run_load)
        host, key, seconds, *paths = sys.argv[2:]
        print(json.dumps(drive(host, key, float(seconds), paths)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="searches-only phases per server, interleaved"
    )
    parser.add_argument(
        "--fit-photos",
        type=int,
        default=3000,
        help="LFW photos (a fixed sample) each pipeline embeds to fit its distractors",
    )
    parser.add_argument(
        "--ingest-photos",
        type=int,
        default=950,
        help="0: no phase with an ingest running; at most 1000 (the API's files per request)",
    )
    parser.add_argument(
        "--server-workers",
        default="1,2",
        help="server processes (facesift serve --workers) to measure each pipeline at",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/serve_load.md"))
    args = parser.parse_args()

    sample = lfw_sample(args.lfw, 50 + args.ingest_photos)
    candidates, uploads = sample[:50], sample[50:]
    fit_photos = lfw_sample(args.lfw, args.fit_photos)
    servers: dict[str, dict] = {}
    galleries: dict[str, dict] = {}
    busy: dict[str, tuple[dict, dict]] = {}
    worker_counts = [int(n) for n in args.server_workers.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        found_by_all = set(range(len(candidates)))
        for number, (name, pipeline) in enumerate(PIPELINES.items()):
            data_dir = Path(folder) / f"data-{number}"
            started = time.perf_counter()
            keys, found = build_gallery(
                data_dir, args.lfw, args.faces, candidates, pipeline, fit_photos
            )
            found_by_all &= found
            galleries[name] = {
                "data_dir": data_dir,
                "keys": keys,
                "pipeline": pipeline,
                "build_seconds": time.perf_counter() - started,
            }
            print(f"{name}: gallery built in {galleries[name]['build_seconds']:.0f} s", flush=True)
            for workers in worker_counts:  # the servers of one pipeline share its gallery
                servers[server_name(name, workers)] = galleries[name] | {
                    "pipeline_name": name,
                    "workers": workers,
                    "log": Path(folder) / f"server-{number}-{workers}.log",
                }
        quiet: dict[str, list[dict]] = {name: [] for name in servers}
        # The same probes for every server: photos in which each pipeline finds a face.
        probes = [candidates[n] for n in sorted(found_by_all)][:40]
        try:
            for server in servers.values():
                port = free_port()
                server["host"] = f"http://127.0.0.1:{port}"
                server["process"] = start_server(
                    server["data_dir"], port, server["log"], server["pipeline"], server["workers"]
                )
            # One search at a time first: the default server's first concurrent searches
            # deadlocked in OpenVINO's Python binding (GIL against a one-time C++ static
            # initialisation, seen with gdb on 2026-12-01), so it is initialised before the load.
            import httpx2 as httpx

            for name, server in servers.items():
                started = time.perf_counter()
                first = httpx.post(
                    f"{server['host']}/api/v1/search",
                    files={"probe": ("probe.jpg", probes[0].read_bytes(), "image/jpeg")},
                    data={"purpose": "load test", "case": "BENCH-1"},
                    headers={"X-API-Key": server["keys"]["investigator"]},
                    timeout=300,
                )
                if first.status_code != 200:
                    raise SystemExit(f"{name}: first search failed: {first.text[:500]}")
                server["first_search_seconds"] = time.perf_counter() - started
                print(f"{name}: first search {server['first_search_seconds']:.1f} s", flush=True)
            # Interleaved (A B, then B A, ...): other users' load falls on both servers alike;
            # only the server being measured is sent work.
            for number in range(args.rounds):
                order = list(servers) if number % 2 == 0 else list(reversed(servers))
                for name in order:
                    server = servers[name]
                    cpu_before = cpu_seconds(server["process"].pid)
                    result = run_load(
                        server["host"], server["keys"]["investigator"], probes, args.seconds
                    )
                    server_cpu = cpu_seconds(server["process"].pid) - cpu_before
                    result["server_cpu_ms"] = 1000 * server_cpu / result["all_requests"]
                    result["generator_cpu_ms"] = (
                        1000 * result["generator_cpu_s"] / result["all_requests"]
                    )
                    result["rss_mib"] = resident_mib(server["process"].pid)
                    quiet[name].append(result)
                    print(
                        f"{name}, round {number + 1}: {result['rps']:.2f}/s, p50 "
                        f"{result['p50']:.0f} p95 {result['p95']:.0f} ms, "
                        f"{result['failures']} failed {result['errors']}, "
                        f"{result['rss_mib']:.0f} MiB, CPU ms per search: server "
                        f"{result['server_cpu_ms']:.1f}, load generator "
                        f"{result['generator_cpu_ms']:.1f}",
                        flush=True,
                    )
            if args.ingest_photos:
                files = [("files", (path.name, path.read_bytes())) for path in uploads]
                for name, server in servers.items():
                    if server["workers"] != worker_counts[0]:
                        continue  # its gallery is shared: the photos would be held already
                    response = httpx.post(
                        f"{server['host']}/api/v1/sources/incoming/ingest",
                        files=files,
                        headers={"X-API-Key": server["keys"]["admin"]},
                        timeout=300,
                    )
                    if response.status_code != 202:
                        print(f"{name}: ingest refused: {response.text[:500]}", flush=True)
                        break
                    job = response.json()
                    result = run_load(
                        server["host"], server["keys"]["investigator"], probes, args.seconds
                    )
                    during = httpx.get(
                        f"{server['host']}{job['url']}",
                        headers={"X-API-Key": server["keys"]["admin"]},
                    ).json()
                    busy[name] = (result, during)
                    print(f"{name}, during ingest: {result['rps']:.2f}/s", flush=True)
        finally:
            server_errors = []
            for name, server in servers.items():
                if "process" in server:
                    server["process"].terminate()
                    try:
                        server["process"].wait(timeout=120)
                    except subprocess.TimeoutExpired:  # still winding down an ingest job
                        server["process"].kill()
                        server["process"].wait()
                    server_errors += [
                        f"{name}: {line}"
                        for line in server["log"].read_text().splitlines()
                        if "ERROR" in line or "Traceback" in line
                    ]
    write_report(args, servers, galleries, quiet, busy, len(probes))
    if server_errors:
        print("server errors:", *server_errors[:20], sep="\n")


def server_name(pipeline: str, workers: int) -> str:
    return f"{pipeline}, {workers} process{'es' if workers > 1 else ''}"


def write_report(
    args, servers: dict, galleries: dict, quiet: dict, busy: dict, probes: int
) -> None:
    import statistics

    names = list(servers)
    pipelines = list(galleries)
    # The baseline is today's server: the dlib pipeline's (the pipeline every gallery used
    # before), in one process (all a server could run before --workers).
    baseline = server_name(pipelines[1], 1)

    def median_rps(name: str) -> float:
        return statistics.median(r["rps"] for r in quiet[name])

    def row(label: str, result: dict, baseline_rps: float) -> str:
        def measured(key: str, form: str) -> str:  # not measured during an ingest phase
            return format(result[key], form) if key in result else "-"

        return (
            f"| {label} | {result['requests']:,} | {result['failures']} | {result['rps']:.2f} | "
            f"{result['p50']:.0f} | {result['p95']:.0f} | {result['p99']:.0f} | "
            f"{result['rps'] / baseline_rps:.2f}x | {measured('server_cpu_ms', '.1f')} | "
            f"{measured('generator_cpu_ms', '.1f')} | {measured('rss_mib', '.0f')} | "
            f"{result['load']:.1f} |"
        )

    def compared(name: str, against: str) -> str:
        per_round = [d["rps"] / b["rps"] for d, b in zip(quiet[name], quiet[against], strict=True)]
        return (
            f"{median_rps(name) / median_rps(against):.2f}x "
            f"(per round {min(per_round):.2f}-{max(per_round):.2f}x)"
        )

    baseline_rps = median_rps(baseline)
    builds = ", ".join(f"{name} {g['build_seconds']:.0f} s" for name, g in galleries.items())
    lines = [
        f"Machine: {machine()}; commit {git_revision()}. Two galleries of {args.faces:,} faces, "
        f"one per pipeline, each in its own embedding space: the faces of {args.fit_photos:,} "
        "LFW photos (a fixed sample) embedded by that pipeline, topped up with synthetic faces "
        "from a Gaussian fitted to them; exact FAISS index (built in "
        f"{builds}; not timed below). Servers (uvicorn on 127.0.0.1, `facesift serve --workers "
        f"N` for N in {args.server_workers}, each pipeline's servers on its one gallery; "
        f"ingest workers at niceness 10, the server's default), {USERS} locust users sending "
        f"searches back to back for {args.seconds:.0f} s per phase, after 5 s of warm-up; "
        f"{args.rounds} interleaved rounds, after one search at a time on each server "
        "(first search: "
        + ", ".join(f"{n} {s['first_search_seconds']:.1f} s" for n, s in servers.items())
        + f"); the same {probes} real LFW probes (250x250 JPEG, "
        "a face found by both pipelines) on all. Each search decodes, detects, embeds, searches, "
        "keeps the search for review and appends to the audit trail. CPU per search: the CPU "
        "time the server's processes (and, apart, the locust process) used over the phase, "
        "warm-up included, over the searches answered in it. Memory: resident, the "
        "server's processes together, at the end of the phase. Load: the machine's 1-minute "
        "load average at the end of each phase (it is shared with other work).",
        "",
        f"| server, phase | searches | failed | searches/s | p50 ms | p95 ms | p99 ms | "
        f"vs {baseline}, searches only (median) | server CPU ms per search | load generator "
        "CPU ms per search | MiB | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        for number, result in enumerate(quiet[name]):
            lines.append(row(f"{name}, searches only, round {number + 1}", result, baseline_rps))
    for name, (result, during) in busy.items():
        state = "" if during["state"] == "running" else f", job {during['state']} before the end"
        lines.append(
            row(
                f"{name}, while an ingest job runs ({during['done']} of {during['total']} "
                f"photos done by the end{state})",
                result,
                baseline_rps,
            )
        )
    lines.append("")
    for name in names:
        if name != baseline:
            lines.append(f"- {name} vs {baseline}: {compared(name, baseline)}")
    for workers in sorted({s["workers"] for s in servers.values()} - {1}):
        same = [server_name(p, workers) for p in pipelines]
        lines.append(f"- like for like, {same[0]} vs {same[1]}: {compared(same[0], same[1])}")
    text = "\n".join(lines)
    failures = {
        f"{name}: {reason}": count
        for name in names
        for result in quiet[name] + ([busy[name][0]] if name in busy else [])
        for reason, count in result["errors"].items()
    }
    if failures:
        text += "\n\nFailed requests (locust's record): " + "; ".join(
            f"{reason} ({count}x)" for reason, count in failures.items()
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Ingest throughput on a fixed sample of LFW photos: facesift against the face_recognition package.

Every contender runs as a whole process (start-up and model loading included), on the same files,
with the same dlib build, in the same run:

* facesift ingest on the default pipeline (YuNet + reid-0095), all cores and one worker (a
  per-core figure), and on the dlib pipeline (HOG + ResNet, all cores) for reference;
* face_recognition's documented loop in one process: load_image_file → face_locations →
  face_encodings (the package's defaults: HOG, upsample once, 5-point landmarks);
* face_recognition's own CLI with --cpus set to all cores (encodes every "unknown" image).

The contenders run interleaved, in alternating order, for ``--rounds`` rounds: the machine is
shared, so load falls on all of them and the table gives medians with the spread.

    python bench/ingest_throughput.py --lfw ../shared/datasets/lfw [--count 500]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dlib_build, git_revision, lfw_sample, machine  # noqa: E402

FACE_RECOGNITION_LOOP = r"""
import sys, pathlib, face_recognition
faces = 0
for path in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    image = face_recognition.load_image_file(path)
    locations = face_recognition.face_locations(image)
    faces += len(face_recognition.face_encodings(image, locations))
print(faces)
"""


CPU_SECONDS: list[float] = []  # CPU time (user + system) of each timed command, in order


def timed(command: list[str], env: dict | None = None) -> tuple[float, str]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
    print(
        f"{Path(command[0]).name} {' '.join(command[1:3])}: {elapsed:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


# FACESIFT_DETECTOR / FACESIFT_EMBEDDER for each facesift pipeline measured (None: the defaults).
DEFAULT_PIPELINE: dict[str, str] = {}
DLIB_PIPELINE = {"FACESIFT_DETECTOR": "dlib-hog", "FACESIFT_EMBEDDER": "dlib-resnet"}


def facesift_run(
    photos: Path, workers: int, pipeline: dict[str, str]
) -> tuple[float, int, dict[str, float]]:
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, FACESIFT_DATA_DIR=data, FACESIFT_OPERATOR="admin", **pipeline)
        for name in ("FACESIFT_DETECTOR", "FACESIFT_EMBEDDER"):
            if name not in pipeline:
                env.pop(name, None)  # the default pipeline, whatever the caller's shell says
        cli = [sys.executable, "-m", "facesift.cli"]
        for setup in (
            ["init", "--admin", "admin"],
            ["source", "add", "bench", "--basis", "legitimate-interest", "--jurisdiction", "US"]
            + [
                "--retention-days",
                "1",
                "--purpose",
                "benchmark",
                "--controller",
                "dpo@example.org",
            ],
        ):
            subprocess.run([*cli, *setup], env=env, check=True, capture_output=True)
        elapsed, out = timed(
            [*cli, "ingest", str(photos), "--source", "bench", "--workers", str(workers), "--json"],
            env=env,
        )
    report = json.loads(out)
    return elapsed, report["faces_found"], report["stage_seconds"]


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument(
        "--rounds", type=int, default=2, help="every contender once per round, interleaved"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingest_throughput.md"))
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        photos = Path(folder) / "photos"
        photos.mkdir()
        for file in lfw_sample(args.lfw, args.count):
            shutil.copy(file, photos / file.name)
        known = Path(folder) / "known"
        known.mkdir()
        shutil.copy(next(photos.iterdir()), known / "someone.jpg")
        peer_cli = str(Path(sys.executable).with_name("face_recognition"))

        def loop() -> tuple[float, int | None]:
            seconds, out = timed([sys.executable, "-c", FACE_RECOGNITION_LOOP, str(photos)])
            return seconds, int(out.strip())

        def peer() -> tuple[float, int | None]:
            seconds, out = timed([peer_cli, "--cpus", str(cores), str(known), str(photos)])
            # One line per face found ("file,name"), or "file,no_persons_found" for none.
            lines = [line for line in out.splitlines() if line.strip()]
            return seconds, sum(not line.endswith(",no_persons_found") for line in lines)

        stages: dict[str, list[dict[str, float]]] = {}

        def ours(workers: int, pipeline: dict[str, str], label: str):
            def run() -> tuple[float, int | None]:
                seconds, faces, stage_seconds = facesift_run(photos, workers, pipeline)
                if workers == cores:
                    stages.setdefault(label, []).append(stage_seconds)
                return seconds, faces

            return run

        contenders = {
            "face_recognition documented loop, 1 process (baseline)": loop,
            f"face_recognition CLI --cpus {cores}": peer,
            "facesift ingest --workers 1": ours(1, DEFAULT_PIPELINE, "default"),
            f"facesift ingest --workers {cores}": ours(cores, DEFAULT_PIPELINE, "default"),
            f"facesift ingest --workers {cores}, dlib pipeline (reference)": ours(
                cores, DLIB_PIPELINE, "dlib"
            ),
        }
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        faces: dict[str, int | None] = {}
        loads: list[float] = []  # 1-minute load average after each contender's run
        # Interleaved (A B C D, then D C B A, ...) so load from other users of the machine
        # falls on every contender alike; each round also yields its own speed ratios.
        for number in range(args.rounds):
            order = list(contenders) if number % 2 == 0 else list(reversed(contenders))
            for name in order:
                elapsed, found = contenders[name]()
                seconds[name].append(elapsed)
                cpu[name].append(CPU_SECONDS[-1])
                faces[name] = found
                loads.append(os.getloadavg()[0])
    load_after = os.getloadavg()[0]

    baseline = next(iter(contenders))
    lines = [
        f"Machine: {machine()}; {dlib_build()}; commit {git_revision()}; "
        f"{args.count} LFW photos (fixed sample), whole process including start-up; "
        f"{args.rounds} interleaved rounds; 1-minute load average {load_before:.1f} before, "
        f"{min(loads):.1f}-{max(loads):.1f} after each run, {load_after:.1f} at the end "
        f"(the machine is shared; this process at niceness {os.nice(0)}).",
        "",
        "| contender | seconds (median; range) | images/s | faces found | speed vs baseline "
        "(median; per-round range) | CPU ms per image (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    peer_name = f"face_recognition CLI --cpus {cores}"
    for name, runs in seconds.items():
        median = statistics.median(runs)
        ratios = [base / own for base, own in zip(seconds[baseline], runs, strict=True)]
        # The peer CLI's multiprocessing pool workers are not reaped by it, so getrusage
        # misses their CPU time: no figure rather than a wrong one.
        cpu_per_image = (
            "n/a"
            if name == peer_name
            else f"{1000 * statistics.median(cpu[name]) / args.count:.0f}"
        )
        lines.append(
            f"| {name} | {median:.1f} ({min(runs):.1f}-{max(runs):.1f}) | "
            f"{args.count / median:.1f} | {faces[name]} | "
            f"{statistics.median(seconds[baseline]) / median:.2f}x ({spread(ratios)}) | "
            f"{cpu_per_image} |"
        )
    ours_name = f"facesift ingest --workers {cores}"
    dlib_name = f"facesift ingest --workers {cores}, dlib pipeline (reference)"

    def versus(slower: str, faster: str) -> str:
        per_round = [s / f for s, f in zip(seconds[slower], seconds[faster], strict=True)]
        median = statistics.median(seconds[slower]) / statistics.median(seconds[faster])
        return f"{median:.2f}x (per round {spread(per_round)})"

    lines += [
        "",
        f"facesift --workers {cores} (default pipeline) vs the peer's CLI --cpus {cores}: "
        f"{versus(peer_name, ours_name)}; vs the documented loop: {versus(baseline, ours_name)}; "
        f"vs facesift's own dlib pipeline: {versus(dlib_name, ours_name)}. CPU time (user + "
        "system, whole process tree) is less sensitive to other users' load than wall time: it "
        "is what each image costs.",
    ]
    for label, runs in stages.items():
        lines += [
            "",
            f"Where facesift's time goes ({label} pipeline, --workers {cores}; worker stages are "
            "summed over workers, so they add up to about cores x wall time; mean of the rounds):",
            "",
            "| stage | ms per image | share |",
            "|---|---:|---:|",
        ]
        mean_stages = {
            stage: statistics.mean(run.get(stage, 0.0) for run in runs)
            for stage in dict.fromkeys(stage for run in runs for stage in run)
        }
        total = sum(mean_stages.values())
        for stage, stage_seconds in mean_stages.items():
            lines.append(
                f"| {stage} | {1000 * stage_seconds / args.count:.1f} | "
                f"{100 * stage_seconds / total:.0f}% |"
            )
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

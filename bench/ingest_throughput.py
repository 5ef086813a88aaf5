"""Ingest throughput on a fixed sample of LFW photos: facesift against the face_recognition package.

Every contender runs as a whole process (start-up and model loading included), on the same files,
with the same dlib build, in the same run:

* facesift ingest, all cores (and one worker, for a per-core figure);
* face_recognition's documented loop in one process: load_image_file → face_locations →
  face_encodings (the package's defaults: HOG, upsample once, 5-point landmarks);
* face_recognition's own CLI with --cpus set to all cores (encodes every "unknown" image).

    python bench/ingest_throughput.py --lfw ../shared/datasets/lfw [--count 500]
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def timed(command: list[str], env: dict | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    print(
        f"{Path(command[0]).name} {' '.join(command[1:3])}: {elapsed:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


def facesift_run(photos: Path, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, FACESIFT_DATA_DIR=data)
        cli = [sys.executable, "-m", "facesift.cli"]
        subprocess.run(
            [
                *cli,
                "source",
                "add",
                "bench",
                "--basis",
                "legitimate-interest",
                "--jurisdiction",
                "US",
                "--retention-days",
                "1",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        elapsed, out = timed(
            [*cli, "ingest", str(photos), "--source", "bench", "--workers", str(workers), "--json"],
            env=env,
        )
    import json

    return elapsed, json.loads(out)["faces_found"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingest_throughput.md"))
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        photos = Path(folder) / "photos"
        photos.mkdir()
        for file in lfw_sample(args.lfw, args.count):
            shutil.copy(file, photos / file.name)
        rows = []
        loop_s, loop_out = timed([sys.executable, "-c", FACE_RECOGNITION_LOOP, str(photos)])
        rows.append(
            (
                "face_recognition documented loop, 1 process (baseline)",
                loop_s,
                int(loop_out.strip()),
            )
        )
        known = Path(folder) / "known"
        known.mkdir()
        shutil.copy(next(photos.iterdir()), known / "someone.jpg")
        peer_cli = str(Path(sys.executable).with_name("face_recognition"))
        cli_s, cli_out = timed([peer_cli, "--cpus", str(cores), str(known), str(photos)])
        rows.append((f"face_recognition CLI --cpus {cores}", cli_s, None))
        one_s, one_faces = facesift_run(photos, workers=1)
        rows.append(("facesift ingest --workers 1", one_s, one_faces))
        all_s, all_faces = facesift_run(photos, workers=cores)
        rows.append((f"facesift ingest --workers {cores}", all_s, all_faces))

    lines = [
        f"Machine: {machine()}; {dlib_build()}; commit {git_revision()}; "
        f"{args.count} LFW photos (fixed sample), whole process including start-up.",
        "",
        "| contender | seconds | images/s | faces/s | speed vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds, faces in rows:
        face_rate = f"{faces / seconds:.1f}" if faces is not None else "n/a"
        lines.append(
            f"| {name} | {seconds:.1f} | {args.count / seconds:.1f} | {face_rate} | "
            f"{loop_s / seconds:.2f}x |"
        )
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

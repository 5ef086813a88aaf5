"""Shared helpers for the benchmarks: machine description, LFW samples, timing."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} cores{memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def dlib_build() -> str:
    import dlib

    blas = "yes" if dlib.DLIB_USE_BLAS else "no"
    return f"dlib {dlib.__version__} (BLAS: {blas}, AVX: {dlib.USE_AVX_INSTRUCTIONS})"


def lfw_sample(root: Path, count: int) -> list[Path]:
    """A fixed, evenly spread sample of LFW photos (same files every run)."""
    files = sorted(root.glob("*/*.jpg"))
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    values = np.asarray(samples_ms)
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def time_queries(search, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Run ``search`` on each query alone (as the CLI and API send them): (ms each, results)."""
    latencies, results = [], []
    for query in queries:
        started = time.perf_counter()
        ids = search(query[None, :])
        latencies.append((time.perf_counter() - started) * 1000)
        results.append(ids)
    return latencies, np.vstack(results)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` (exact top-k ids) that ``found`` also holds."""
    k = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))

"""Seconds spent per pipeline stage, for ingest reports and benchmarks.

Each thread has its own tally, so a worker process (or a server thread) can measure what one image
cost by reading its tally before and after. Stages nest nowhere: each measured span belongs to
exactly one stage, so the stages add up to the time measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# In pipeline order; ingest adds "hash" (main process) and "catalog_write" (the single writer).
STAGES = ("read", "decode", "detect", "landmarks", "align", "embed")


class StageSeconds(dict[str, float]):
    def add(self, other: dict[str, float]) -> None:
        for stage, seconds in other.items():
            self[stage] = self.get(stage, 0.0) + seconds

    def since(self, earlier: dict[str, float]) -> StageSeconds:
        return StageSeconds(
            {stage: seconds - earlier.get(stage, 0.0) for stage, seconds in self.items()}
        )


_local = threading.local()


def stage_tally() -> StageSeconds:
    """This thread's running tally of seconds per stage."""
    tally = getattr(_local, "tally", None)
    if tally is None:
        tally = _local.tally = StageSeconds()
    return tally


@contextmanager
def measure(stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        tally = stage_tally()
        tally[stage] = tally.get(stage, 0.0) + time.perf_counter() - started

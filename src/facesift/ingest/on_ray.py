"""Analyse images on a Ray cluster: ``facesift ingest --ray ADDRESS`` (extra ``facesift[ray]``).

Only the CPU-heavy part moves: one actor per CPU of the cluster loads the models once, then
decodes, detects, aligns and embeds the images it is sent. Images travel as bytes (the workers need
not share this machine's filesystem); results come back as the same AnalysedImage values the local
pool produces. Everything that decides what is stored (deduplication, tombstones, opt-outs, the
catalog and index writes, the audit trail) stays in the driver, exactly as in a local ingest.

Every Ray node needs facesift (with its models) installed in the same Python environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from facesift.config import Settings
from facesift.errors import FaceSiftError, ImageError
from facesift.ingest.jobs import FileToAnalyse, Outcome, analysis_outcome
from facesift.read.decode import read_limited
from facesift.timing import StageSeconds, measure, stage_tally

log = logging.getLogger(__name__)

LOCAL = "local"
IN_FLIGHT_PER_ACTOR = 4  # keeps every actor busy while bounding the bytes held in the store


class RayAnalyser:
    """One per Ray worker process: the models are loaded once, in the constructor."""

    def __init__(self, settings_json: str):
        # One BLAS thread per actor (the actors already use every CPU); read when dlib loads
        # OpenBLAS, which happens on the import below. Ray also sets OMP_NUM_THREADS=1.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from facesift.pipeline import FaceAnalyser

        self.analyser = FaceAnalyser.from_settings(Settings.model_validate_json(settings_json))

    def analyse(self, name: str, data: bytes) -> tuple[Outcome, StageSeconds]:
        before = StageSeconds(stage_tally())
        outcome = analysis_outcome(name, lambda: self.analyser.analyse_bytes(data, name))
        return outcome, stage_tally().since(before)


def ray_analyse(
    settings: Settings, todo: Iterable[FileToAnalyse], address: str
) -> Iterator[tuple[Outcome, dict[str, float]]]:
    """(outcome, seconds per stage on the actor) for every file, in completion order.

    ``address`` is a Ray cluster address ("auto", "ray://host:10001", ...) or "local" to start
    Ray on this machine with ``settings.workers`` CPUs. If Ray is already initialised in this
    process, that instance is used and left running.
    """
    ray = _import_ray()
    # Ray's driver prints the cluster's error messages (a node marked dead, ...) on stdout, from a
    # thread of its own, and that broke `ingest --json` in CI: a line of Ray's came with the
    # summary. They are for the operator, like the progress bar: stderr, while this driver is Ray's.
    with contextlib.redirect_stdout(sys.stderr):
        yield from _analyse_on_cluster(ray, settings, todo, address)


def _analyse_on_cluster(
    ray, settings: Settings, todo: Iterable[FileToAnalyse], address: str
) -> Iterator[tuple[Outcome, dict[str, float]]]:
    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, address, settings.workers)
    actors = []
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor_class = ray.remote(num_cpus=1)(RayAnalyser)
        settings_json = settings.model_dump_json()
        actors = [actor_class.remote(settings_json) for _ in range(cpus)]
        yield from _dispatch(ray, actors, todo, settings.max_file_bytes)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()


def _dispatch(
    ray, actors: list, todo: Iterable[FileToAnalyse], max_file_bytes: int
) -> Iterator[tuple[Outcome, dict[str, float]]]:
    """Keep every live actor busy; an image whose actor died goes to another one.

    A worker host that dies takes its actors with it. Analysing an image has no side effect (the
    driver alone stores), so its images are sent again to the actors that remain and the run
    goes on; only when none remains does it stop, with everything committed so far kept.
    """
    from ray.exceptions import RayActorError, RayTaskError

    free = [actor for actor in actors for _ in range(IN_FLIGHT_PER_ACTOR)]  # one per slot
    running: dict[Any, tuple[Any, str, bytes]] = {}  # result ref -> (actor, name, bytes)
    again: deque[tuple[str, bytes]] = deque()  # images of an actor that died
    dead: set[Any] = set()
    waiting = iter(todo)
    read_all = False
    try:
        while True:
            while free and (again or not read_all):
                if again:
                    name, data = again.popleft()
                else:
                    item = next(waiting, None)
                    if item is None:
                        read_all = True
                        continue
                    try:
                        with measure("read"):
                            data = read_limited(item.path, max_file_bytes)
                    except ImageError as error:
                        yield (item.name, error.reason), {}
                        continue
                    except OSError as error:
                        yield (item.name, f"cannot read file ({error.strerror or error})"), {}
                        continue
                    name = item.name
                actor = free.pop()
                running[actor.analyse.remote(name, data)] = (actor, name, data)
            if not running:
                return
            (done,), _ = ray.wait(list(running), num_returns=1)
            actor, name, data = running.pop(done)
            try:
                result = ray.get(done)
            except RayActorError as error:
                again.append((name, data))
                if actor not in dead:
                    dead.add(actor)
                    free = [slot for slot in free if slot is not actor]
                    if len(dead) == len(actors):
                        raise _stopped(error) from None
                    log.warning(
                        "a Ray actor died (%s): its images go to the %d that remain",
                        type(error).__name__,
                        len(actors) - len(dead),
                    )
                continue
            free.append(actor)
            yield result
    except RayTaskError as error:  # analysis itself raised: a bug, not a lost host
        raise _stopped(error) from None


def _stopped(error: Exception) -> FaceSiftError:
    return FaceSiftError(
        f"a Ray worker failed while analysing images ({type(error).__name__}); committed "
        "images are kept: run the same command again to resume"
    )


def _connect(ray, address: str, local_cpus: int) -> None:
    try:
        if address == LOCAL:
            ray.init(num_cpus=local_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.AuthenticationError) as error:
        # A GCS that refuses the token looks like this too: Ray retries, logs InvalidAuthToken,
        # then gives up with a plain "Failed to connect" (or an AuthenticationError).
        raise FaceSiftError(
            f"cannot connect to the Ray cluster at {address!r}: {error} (check the address, and "
            "that RAY_AUTH_MODE and RAY_AUTH_TOKEN are the cluster's)"
        ) from None


def _import_ray() -> Any:  # the ray module (imported on use; typed loosely)
    try:
        import ray
    except ImportError:
        raise FaceSiftError(
            "ingest on Ray needs the optional extra: pip install 'facesift[ray]'"
        ) from None
    return ray

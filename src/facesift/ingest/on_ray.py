"""Analyse images on a Ray cluster: ``facesift ingest --ray ADDRESS`` (extra ``facesift[ray]``).

Only the CPU-heavy part moves: one actor per CPU of the cluster loads the models once, then
decodes, detects, aligns and embeds the images it is sent. Images travel as bytes (the workers need
not share this machine's filesystem); results come back as the same AnalysedImage values the local
pool produces. Everything that decides what is stored (deduplication, tombstones, opt-outs, the
catalog and index writes, the audit trail) stays in the driver, exactly as in a local ingest.

Every Ray node needs facesift (with its models) installed in the same Python environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from facesift.config import Settings
from facesift.errors import FaceSiftError, ImageError
from facesift.ingest.jobs import FileToAnalyse, Outcome, analysis_outcome
from facesift.read.decode import read_limited
from facesift.timing import StageSeconds, measure, stage_tally

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
    from ray.exceptions import RayActorError, RayTaskError
    from ray.util import ActorPool

    pool = ActorPool(actors)
    in_flight = 0
    try:
        for item in todo:
            try:
                with measure("read"):
                    data = read_limited(item.path, max_file_bytes)
            except ImageError as error:
                yield (item.name, error.reason), {}
                continue
            except OSError as error:
                yield (item.name, f"cannot read file ({error.strerror or error})"), {}
                continue
            pool.submit(lambda actor, job: actor.analyse.remote(*job), (item.name, data))
            in_flight += 1
            while in_flight >= IN_FLIGHT_PER_ACTOR * len(actors):
                yield pool.get_next_unordered()
                in_flight -= 1
        while in_flight:
            yield pool.get_next_unordered()
            in_flight -= 1
    except (RayActorError, RayTaskError) as error:
        raise FaceSiftError(
            f"a Ray worker failed while analysing images ({type(error).__name__}); committed "
            "images are kept: run the same command again to resume"
        ) from None


def _connect(ray, address: str, local_cpus: int) -> None:
    try:
        if address == LOCAL:
            ray.init(num_cpus=local_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FaceSiftError(f"cannot connect to the Ray cluster at {address!r}: {error}") from None


def _import_ray() -> Any:  # the ray module (imported on use; typed loosely)
    try:
        import ray
    except ImportError:
        raise FaceSiftError(
            "ingest on Ray needs the optional extra: pip install 'facesift[ray]'"
        ) from None
    return ray

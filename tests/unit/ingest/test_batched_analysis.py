"""Analysis in chunks of files (one embedding call for all their faces) and on worker threads
gives exactly what analysing file by file gives; a bad file reports in its own place."""

from pathlib import Path

import numpy as np
import pytest

from facesift.config import Settings
from facesift.ingest.jobs import (
    FILES_PER_TASK,
    FileToAnalyse,
    analyse_in_chunks,
    analysis_in_threads,
    parallel_analyse,
)
from facesift.types import AnalysedImage


@pytest.fixture(scope="module")
def files(photos, tmp_path_factory) -> list[FileToAnalyse]:
    folder = tmp_path_factory.mktemp("mixed")
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(photos["hopper"].read_bytes()[:2000])
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    # More files than one chunk, the bad ones in the middle of the first and in the second.
    order = [
        photos["collins"],
        truncated,
        photos["group"],
        photos["blank"],
        photos["hopper"],
        *[photos["collins_mirrored"]] * (FILES_PER_TASK - 4),
        empty,
        photos["group"],
    ]
    return [
        FileToAnalyse(path=path, name=f"{number}-{path.name}") for number, path in enumerate(order)
    ]


def by_name(outcomes) -> dict[str, object]:
    return {(o.path if isinstance(o, AnalysedImage) else o[0]): o for o in outcomes}


def assert_same(batched, one_by_one) -> None:
    assert batched.keys() == one_by_one.keys()
    for name, expected in one_by_one.items():
        got = batched[name]
        if not isinstance(expected, AnalysedImage):
            assert got == expected  # the same (name, reason)
            continue
        assert isinstance(got, AnalysedImage), got
        assert (got.sha256, got.width, got.height) == (
            expected.sha256,
            expected.width,
            expected.height,
        )
        assert [f.detection.box for f in got.faces] == [f.detection.box for f in expected.faces]
        for mine, theirs in zip(got.faces, expected.faces, strict=True):
            # Bit for bit: batch 16 and batch 1 of reid-0095 run the same kernels.
            np.testing.assert_array_equal(mine.embedding, theirs.embedding)


def one_at_a_time(analyser, files) -> dict[str, object]:
    from facesift.ingest.jobs import analysis_outcome

    return by_name(
        analysis_outcome(f.name, lambda f=f: analyser.analyse_file(f.path)) for f in files
    )


def test_chunked_analysis_equals_file_by_file(analyser, files):
    expected = one_at_a_time(analyser, files)
    outcomes = list(analyse_in_chunks(analyser, files))
    assert [o.path if isinstance(o, AnalysedImage) else o[0] for o in outcomes] == [
        f.name for f in files
    ]
    assert_same(by_name(outcomes), expected)
    errors = {name: o[1] for name, o in expected.items() if not isinstance(o, AnalysedImage)}
    assert set(errors) == {files[1].name, files[-2].name}, errors
    faces = sum(len(o.faces) for o in expected.values() if isinstance(o, AnalysedImage))
    assert faces > FILES_PER_TASK  # the first chunk's faces filled a whole batch of 16


def test_worker_threads_give_what_one_thread_gives(analyser, files, tmp_path):
    settings = Settings(data_dir=tmp_path, workers=2)
    assert analysis_in_threads(settings)
    outcomes = list(parallel_analyse(settings, files))
    assert_same(by_name(outcomes), one_at_a_time(analyser, files))


@pytest.mark.parametrize(
    ("detector", "embedder", "kind", "threads"),
    [
        ("yunet", "reid-0095", "auto", True),
        ("dlib-hog", "dlib-resnet", "auto", False),  # dlib holds the GIL
        ("yunet", "reid-0095", "processes", False),
        ("dlib-hog", "dlib-resnet", "threads", True),
    ],
)
def test_workers_are_threads_only_for_models_that_release_the_gil(
    tmp_path: Path, detector, embedder, kind, threads
):
    settings = Settings(
        data_dir=tmp_path, detector=detector, embedder=embedder, analysis_workers=kind
    )
    assert analysis_in_threads(settings) is threads

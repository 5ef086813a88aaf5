"""The do-not-index list matches as brute force does, in bounded memory. Regression: opt-out
matching broadcast an (n, m, d) difference array (about 1 GiB at 100k faces x 10 opt-outs)."""

import tracemalloc

import numpy as np
import pytest

from facesift.errors import SpaceMismatchError
from facesift.index.optouts import OptOutList, OptOutMatcher
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test", "v1", 128, "euclidean")


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, SPACE.dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Templates:
    def __init__(self, templates: np.ndarray):
        self.templates = templates

    def optout_templates(self) -> tuple[list[str], np.ndarray]:
        return [f"optout-{i}" for i in range(len(self.templates))], self.templates


def test_matches_agree_with_brute_force_near_the_threshold():
    rng = np.random.default_rng(0)
    templates = unit_rows(rng, 10)
    # Faces at known distances from template 3, on both sides of the threshold, and strangers.
    direction = unit_rows(rng, 1)[0]
    near = np.stack([templates[3] + d * direction for d in (0.1, 0.45, 0.55, 0.9)])
    vectors = np.vstack([near, unit_rows(rng, 5000)]).astype(np.float32)
    threshold = 0.5
    brute = (np.linalg.norm(vectors[:, None, :] - templates[None, :, :], axis=2) <= threshold).any(
        axis=1
    )
    matcher = OptOutList(Templates(templates), SPACE, lambda: threshold).matcher()
    assert np.array_equal(matcher.matches(vectors), brute)
    assert brute[:2].all() and not brute[2:4].any()  # the test exercises both sides
    rows, distances = matcher.nearest(vectors[:1])
    assert rows[0] == 3 and abs(distances[0] - SPACE.distance(vectors[0], templates[3])) < 1e-9
    assert matcher.references_matching(vectors[0]) == ["optout-3"]


def test_memory_stays_bounded_however_many_faces():
    rng = np.random.default_rng(1)
    matcher = OptOutMatcher(SPACE, [f"r{i}" for i in range(10)], unit_rows(rng, 10), lambda: 0.5)
    vectors = unit_rows(rng, 50_000)  # 25 MB; broadcasting against 10 templates took 256 MB
    tracemalloc.start()
    try:
        matcher.matches(vectors)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_an_empty_list_needs_no_threshold():
    def no_calibration() -> float:
        raise AssertionError("an empty list must not ask the policy for a threshold")

    empty = OptOutList(Templates(np.zeros((0, 0), np.float32)), SPACE, no_calibration)
    assert not empty.matches(unit_rows(np.random.default_rng(2), 3)).any()


def test_templates_of_another_dimension_are_refused():
    other = Templates(np.zeros((2, 64), np.float32))
    with pytest.raises(SpaceMismatchError, match="do-not-index list"):
        OptOutList(other, SPACE, lambda: 0.5).matcher()

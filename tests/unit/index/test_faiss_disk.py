"""The FAISS disk index against brute force, across its exact and IVF forms."""

import numpy as np
import pytest

from facesift.errors import SpaceMismatchError
from facesift.index import FaissDiskIndex
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test", "v1", 16, "euclidean")


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """Vectors in tight clusters, like faces of the same people."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, count // 20), SPACE.dimension))
    vectors = centres[rng.integers(0, len(centres), count)] + 0.1 * rng.normal(
        size=(count, SPACE.dimension)
    )
    return vectors.astype(np.float32)


def brute_force(gallery: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    distances = np.linalg.norm(queries[:, None, :] - gallery[None, :, :], axis=2)
    order = np.argsort(distances, axis=1)[:, :k]
    return np.take_along_axis(distances, order, 1), ids[order]


def test_exact_search_equals_brute_force(tmp_path):
    index = FaissDiskIndex(tmp_path, SPACE)
    vectors, ids = clustered(500), np.arange(1000, 1500, dtype=np.int64)
    index.add(ids, vectors)
    queries = clustered(20, seed=1)
    distances, found = index.search(queries, 5)
    expected_d, expected_ids = brute_force(vectors, ids, queries, 5)
    np.testing.assert_allclose(distances, expected_d, rtol=1e-4, atol=1e-4)
    assert (found == expected_ids).mean() > 0.99  # ties aside
    assert index.kind.startswith("exact")


def test_remove_then_search_never_returns_removed_ids(tmp_path):
    index = FaissDiskIndex(tmp_path, SPACE)
    vectors, ids = clustered(100), np.arange(1, 101, dtype=np.int64)
    index.add(ids, vectors)
    assert index.remove(ids[:50]) == 50
    _, found = index.search(vectors[:50], 10)
    assert not set(found.ravel()) & set(ids[:50].tolist())
    assert sorted(index.ids().tolist()) == ids[50:].tolist()


def test_save_and_load_round_trip_with_catalog_version(tmp_path):
    index = FaissDiskIndex(tmp_path, SPACE)
    index.add(np.arange(10, dtype=np.int64), clustered(10))
    index.save(catalog_version=7)
    again = FaissDiskIndex(tmp_path, SPACE)
    assert len(again) == 10 and again.catalog_version == 7
    assert sorted(again.ids().tolist()) == list(range(10))


def test_damaged_file_is_reported_not_fatal(tmp_path):
    index = FaissDiskIndex(tmp_path, SPACE)
    index.add(np.arange(10, dtype=np.int64), clustered(10))
    index.save(catalog_version=1)
    (tmp_path / "faces.faiss").write_bytes(b"garbage")
    again = FaissDiskIndex(tmp_path, SPACE)
    assert again.damaged and "faces.faiss" in again.damaged and len(again) == 0


def test_other_space_is_refused(tmp_path):
    FaissDiskIndex(tmp_path, SPACE).save(catalog_version=0)
    other = EmbeddingSpace("arcface", "r100", 512, "euclidean")
    with pytest.raises(SpaceMismatchError, match="index holds test/v1/16/euclidean"):
        FaissDiskIndex(tmp_path, other)
    with pytest.raises(SpaceMismatchError):
        FaissDiskIndex(tmp_path / "fresh", SPACE).add(np.arange(2), np.zeros((2, 512), np.float32))


def test_switches_to_ivf_past_the_threshold_with_high_recall(tmp_path):
    index = FaissDiskIndex(tmp_path, SPACE, exact_max=2000)
    vectors, ids = clustered(6000), np.arange(6000, dtype=np.int64)
    index.add(ids[:1500], vectors[:1500])
    assert index.is_exact
    index.add(ids[1500:], vectors[1500:])
    assert not index.is_exact and len(index) == 6000 and "IVF" in index.kind
    queries = clustered(200, seed=3)
    _, found = index.search(queries, 10)
    _, expected = brute_force(vectors, ids, queries, 10)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, expected, strict=True)])
    assert recall >= 0.95
    removed = index.remove(ids[:100])
    assert removed == 100 and len(index) == 5900
    assert sorted(index.ids().tolist()) == ids[100:].tolist()
    index.save(catalog_version=3)
    assert not FaissDiskIndex(tmp_path, SPACE, exact_max=2000).is_exact


def test_a_file_of_another_space_is_stale_when_the_caller_holds_the_truth(tmp_path):
    # After a re-embed switched the catalog, the old space's file is rebuilt, not refused.
    FaissDiskIndex(tmp_path, SPACE).save(catalog_version=3)
    other = EmbeddingSpace("arcface", "r100", 512, "euclidean")
    index = FaissDiskIndex(tmp_path, other, replace_other_space=True)
    assert "built for space test/v1/16/euclidean" in index.damaged
    assert len(index) == 0 and index.catalog_version is None

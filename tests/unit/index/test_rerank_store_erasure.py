"""Erased means no copy left, in every index form (issue #12): removing faces from the
compressed index zeroes their exact vectors in its rerank store at once, not at the next
rebuild, also for a face removed while a rebuild runs; the other faces are untouched."""

import numpy as np

from facesift.index import FaissDiskIndex
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test", "v1", 64, "euclidean")


def vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    found = rng.normal(size=(count, 64)).astype(np.float32)
    return found / np.linalg.norm(found, axis=1, keepdims=True)


def files_holding(directory, needle: bytes) -> list[str]:
    return [p.name for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_removed_face_leaves_no_vector_in_the_rerank_store(tmp_path):
    gallery = vectors(3000, seed=1)
    index = FaissDiskIndex(tmp_path, SPACE, exact_max=0, compressed_min=0)
    index.rebuild(np.arange(len(gallery)), gallery)
    index.save(catalog_version=1)
    assert index.kind.startswith("ivf-pq") or "pq" in index.kind.lower()
    erased, kept = gallery[17].tobytes(), gallery[18].tobytes()
    assert files_holding(tmp_path, erased) and files_holding(tmp_path, kept)  # not blind
    assert index.remove(np.asarray([17])) == 1
    assert files_holding(tmp_path, erased) == []
    assert files_holding(tmp_path, kept)
    index.save(catalog_version=2)
    assert files_holding(tmp_path, erased) == []
    # The face is no longer found, and the others still are, nearest first.
    _, ids = index.search(gallery[[17, 18]], 1)
    assert ids[0][0] != 17 and ids[1][0] == 18


def test_a_face_removed_during_a_rebuild_leaves_no_vector_in_the_new_store(tmp_path):
    gallery = vectors(3000, seed=2)
    index = FaissDiskIndex(tmp_path, SPACE, exact_max=0, compressed_min=0)
    index.rebuild(np.arange(len(gallery)), gallery)
    erased = gallery[5].tobytes()

    def batches():
        yield np.arange(len(gallery)), gallery  # the snapshot still holds face 5

    job = index.start_rebuild(batches)
    index.remove(np.asarray([5]))
    job.join()
    assert job.error is None
    index.save(catalog_version=3)
    assert files_holding(tmp_path, erased) == []
    _, ids = index.search(gallery[[5]], 1)
    assert ids[0][0] != 5

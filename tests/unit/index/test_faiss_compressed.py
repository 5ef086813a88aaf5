"""The compressed (IVF-PQ + exact re-rank) form of the FAISS disk index, with tiny thresholds.

Galleries are the real faces found in the test photos among synthetic faces drawn from a
Gaussian with the mean and full covariance of every LFW face embedding (shipped beside this file:
lfw_embedding_gaussian.npz, from `facesift eval`'s cache), so distances behave like real faces.
"""

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from facesift.config import Settings
from facesift.index import FaissDiskIndex
from facesift.index.faiss_compressed import stored_store_generations
from facesift.types import EmbeddingSpace
from tests.conftest import rgb_of

SPACE = EmbeddingSpace("dlib-resnet", "v1", 128, "euclidean")
GALLERY = 20_000
EXACT_MAX, COMPRESSED_MIN = 1_000, 5_000


@pytest.fixture(scope="module")
def real_faces(dlib_analyser, photos) -> np.ndarray:
    """Every face found in the test photos: Collins (twice), Hopper, and both in the group, in
    dlib's space, which the synthetic faces (lfw_embedding_gaussian.npz) are fitted to."""
    faces = []
    for name in ("collins", "collins_mirrored", "hopper", "group"):
        faces += [face.embedding for face in dlib_analyser.analyse_pixels(rgb_of(photos[name]))]
    return np.vstack(faces).astype(np.float32)


def synthetic_faces(count: int, seed: int) -> np.ndarray:
    fitted = np.load(Path(__file__).with_name("lfw_embedding_gaussian.npz"))
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(fitted["mean"], fitted["covariance"], count, method="cholesky")
    return draws.astype(np.float32)


@pytest.fixture(scope="module")
def gallery(real_faces) -> np.ndarray:
    return np.vstack([real_faces, synthetic_faces(GALLERY, seed=1)])


def open_index(directory) -> FaissDiskIndex:
    settings = Settings(
        exact_search_max_faces=EXACT_MAX, compressed_search_min_faces=COMPRESSED_MIN
    )
    return FaissDiskIndex(
        directory,
        SPACE,
        exact_max=settings.exact_search_max_faces,
        compressed_min=settings.compressed_search_min_faces,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory, gallery) -> Path:
    """A compressed index of the gallery, grown by adds through exact and IVF-Flat, saved."""
    directory = tmp_path_factory.mktemp("compressed")
    index = open_index(directory)
    for start in range(0, len(gallery), 4_000):
        chunk = gallery[start : start + 4_000]
        index.add(np.arange(start, start + len(chunk)), chunk)
    index.save(catalog_version=1)
    return directory


def compressed_index(directory, built: Path) -> FaissDiskIndex:
    shutil.copytree(built, directory, dirs_exist_ok=True)
    index = open_index(directory)
    assert index.damaged is None and index.is_compressed
    return index


def exact_top(gallery: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    squared = (gallery**2).sum(1)[None, :] - 2 * queries @ gallery.T
    return np.argsort(squared, axis=1)[:, :k]


def test_size_thresholds_from_settings_switch_the_index_to_compressed(tmp_path, gallery):
    index = open_index(tmp_path)
    kinds = []
    for start, end in ((0, 500), (500, 3_000), (3_000, 4_500), (4_500, 7_500)):
        index.add(np.arange(start, end), gallery[start:end])
        kinds.append(index.kind.split(" ")[0])
    assert kinds == ["exact", "IVF-Flat", "IVF-Flat", "IVF-PQ"]
    assert index.is_compressed and len(index) == 7_500
    assert sorted(index.ids()) == list(range(7_500))  # nothing lost in either conversion


def test_compressed_search_with_rerank_recalls_exact_neighbours(
    tmp_path, gallery, built, real_faces
):
    index = compressed_index(tmp_path, built)
    assert index.is_compressed
    queries = np.vstack([real_faces, synthetic_faces(200, seed=7)])
    truth = exact_top(gallery, queries, 10)

    def recall_at_10(found):
        return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])

    # Probing every list isolates the codes + re-rank: they lose almost nothing.
    default_nprobe = index._index.nprobe
    index._index.nprobe = index._index.nlist
    assert recall_at_10(index.search(queries, 10)[1]) >= 0.97
    # At the default probes the lists not visited cost some recall, as with IVF-Flat
    # (synthetic queries in 128-d are harder than real faces: bench/results/large_gallery.md).
    index._index.nprobe = default_nprobe
    distances, found = index.search(queries, 10)
    assert recall_at_10(found) >= 0.8
    # Distances are exact (re-ranked from the stored float32 vectors), nearest first.
    expected = np.linalg.norm(gallery[found] - queries[:, None, :], axis=2)
    np.testing.assert_allclose(distances, expected, rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(distances, axis=1) >= 0)
    # Each real face finds itself first, and every real face among its exact top 10 (the same
    # person in another photo) is found too.
    assert list(found[: len(real_faces), 0]) == list(range(len(real_faces)))
    for query_no in range(len(real_faces)):
        real_mates = {int(i) for i in truth[query_no] if i < len(real_faces)}
        assert real_mates <= set(found[query_no].tolist()), query_no


def test_compressed_range_search_finds_the_faces_within_the_radius(
    tmp_path, gallery, built, real_faces
):
    index = compressed_index(tmp_path, built)
    radius = 0.6  # about facesift's match distance
    for query_no in range(len(real_faces)):
        ids, distances = index.range_search(real_faces[query_no], radius)
        exact = np.linalg.norm(gallery - real_faces[query_no], axis=1)
        assert np.all(exact[ids] <= radius)  # never one beyond the radius: distances are exact
        np.testing.assert_allclose(distances, exact[ids], rtol=1e-4, atol=1e-5)
        assert np.all(np.diff(distances) >= 0)
        # Every photo of the same person (the real faces within the radius) is found. Like
        # IVF-Flat, range search looks in the probed lists only: some synthetic strangers
        # within the radius but in other lists are not returned.
        mates = np.flatnonzero(exact[: len(real_faces)] <= radius)
        assert set(mates.tolist()) <= set(ids.tolist()), query_no


def test_removal_and_persistence(tmp_path, gallery, built, real_faces):
    index = compressed_index(tmp_path, built)
    collins_mirrored = 1
    assert index.remove(np.array([collins_mirrored, 10**9])) == 1
    _, found = index.search(real_faces[:1], 10)
    assert collins_mirrored not in found[0]
    index.save(catalog_version=7)
    assert len(stored_store_generations(tmp_path)) == 1
    before = index.search(real_faces, 10)

    reopened = open_index(tmp_path)
    assert reopened.damaged is None and reopened.is_compressed
    assert reopened.catalog_version == 7 and len(reopened) == len(gallery) - 1
    after = reopened.search(real_faces, 10)
    np.testing.assert_array_equal(after[1], before[1])

    # Rows appended after the last save (a crash before the next one) are ignored on open and
    # overwritten by the next append; the index answers as saved.
    extra = synthetic_faces(50, seed=3)
    reopened.add(np.arange(10**6, 10**6 + 50), extra)
    crashed = open_index(tmp_path)
    assert len(crashed) == len(gallery) - 1
    crashed.add(np.arange(10**6, 10**6 + 50), extra)
    distances, found = crashed.search(extra[:5], 1)
    assert list(found[:, 0]) == list(range(10**6, 10**6 + 5))
    np.testing.assert_allclose(distances[:, 0], 0, atol=1e-5)


def test_a_damaged_rerank_store_marks_the_index_for_rebuild(tmp_path, gallery, built):
    compressed_index(tmp_path, built)
    (generation,) = stored_store_generations(tmp_path)
    (tmp_path / f"faces.vectors.{generation}.f32").write_bytes(b"truncated")
    reopened = open_index(tmp_path)
    assert reopened.damaged and "rerank store" in reopened.damaged
    assert len(reopened) == 0  # empty until the engine rebuilds it from the catalog


def test_background_rebuild_keeps_searches_answering_then_swaps(tmp_path, gallery, real_faces):
    small = gallery[:3_000]
    index = open_index(tmp_path)
    index.rebuild(np.arange(len(small)), small)
    index.save(catalog_version=1)
    assert not index.is_compressed

    halfway, resume = threading.Event(), threading.Event()

    def catalog_batches():
        for start in range(0, len(gallery), 10_000):
            if start == 10_000:
                halfway.set()
                assert resume.wait(30)
            yield (
                np.arange(start, start + len(gallery[start : start + 10_000])),
                gallery[start : start + 10_000],
            )

    swapped = threading.Event()
    job = index.start_rebuild(catalog_batches, on_swapped=swapped.set)
    assert halfway.wait(30)
    # Mid-build: the old index answers, and changes made now must survive the swap.
    _, found = index.search(real_faces, 1)
    assert list(found[:, 0]) == list(range(len(real_faces)))
    newcomer = synthetic_faces(1, seed=11)
    index.add(np.array([10**7]), newcomer)
    index.remove(np.array([2]))  # Hopper's photo, erased while the rebuild runs
    resume.set()
    while job.running:
        _, found = index.search(real_faces[:1], 1)  # answers throughout, old or new index
        assert found[0, 0] == 0
    job.join()
    assert job.error is None and swapped.is_set()
    assert index.is_compressed and len(index) == len(gallery)  # + newcomer - Hopper
    _, found = index.search(np.vstack([newcomer, real_faces[2:3]]), 1)
    assert found[0, 0] == 10**7
    assert found[1, 0] != 2
    index.save(catalog_version=2)
    assert len(stored_store_generations(tmp_path)) == 1  # staging files cleaned up


def test_a_failed_background_rebuild_leaves_the_index_as_it_was(tmp_path, gallery):
    index = open_index(tmp_path)
    index.rebuild(np.arange(100), gallery[:100])

    def broken_catalog():
        yield np.arange(10), gallery[:10]
        raise RuntimeError("catalog went away")

    job = index.start_rebuild(broken_catalog)
    job.join()
    assert isinstance(job.error, RuntimeError)
    assert len(index) == 100 and index.kind.startswith("exact")
    assert stored_store_generations(tmp_path) == set()
    again = index.start_rebuild(lambda: iter([]))  # a new rebuild may start
    again.join()
    assert again.error is None and len(index) == 0

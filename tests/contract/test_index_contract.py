"""The VectorIndex contract: the same tests for every backend (FAISS exact, FAISS IVF, Milvus Lite,
a Milvus server, pgvector).

A backend passes if the engine, the keeper and erasure can rely on it: nearest faces first with
euclidean distances, exact counts from removals, tags that make erasure by source or
jurisdiction a filter, the catalog version surviving a reopen, another embedding space refused,
and bad vectors refused without touching what is stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facesift.errors import IndexError_, SpaceMismatchError
from facesift.index import FaissDiskIndex, TaggedIndex
from facesift.types import EmbeddingSpace, FaceTags
from tests.contract.milvus_server import milvus_server_index
from tests.contract.pgvector_server import pgvector_index

SPACE = EmbeddingSpace("contract-test", "v1", 32, "euclidean")
PEOPLE = 40
FACES_PER_PERSON = 8
# Faces of one person lie within ~0.1 * sqrt(32) ~ 0.57 of each other; people are ~4.5 apart.
SAME_PERSON_RADIUS = 1.2


def _faiss_exact(folder: Path, space: EmbeddingSpace):
    return TaggedIndex(FaissDiskIndex(folder, space), folder)


def _faiss_ivf(folder: Path, space: EmbeddingSpace):
    # Tiny exact_max: the index turns IVF as soon as the gallery below is added.
    return TaggedIndex(FaissDiskIndex(folder, space, exact_max=100), folder)


def _milvus_lite(folder: Path, space: EmbeddingSpace):
    pytest.importorskip("pymilvus", reason="extra 'milvus' not installed (make test installs it)")
    from facesift.index.milvus import MilvusIndex

    return MilvusIndex(str(folder / "milvus.db"), space, collection="contract")


BACKENDS = {
    "faiss-exact": _faiss_exact,
    "faiss-ivf": _faiss_ivf,
    "milvus-lite": _milvus_lite,
    "milvus-server": milvus_server_index,
    "pgvector": pgvector_index,
}
# Backends on a server started once per session: the opener takes the fixture's value too.
SERVER_FIXTURES = {"milvus-server": "milvus_server", "pgvector": "pgvector_server"}


@pytest.fixture(params=list(BACKENDS))
def opener(request, tmp_path):
    """Opens the backend on one folder (again and again: reopening is part of the contract)."""
    opened = []
    fixture = SERVER_FIXTURES.get(request.param)
    server = () if fixture is None else (request.getfixturevalue(fixture),)

    def open_(space: EmbeddingSpace = SPACE):
        index = BACKENDS[request.param](tmp_path, space, *server)
        opened.append(index)
        return index

    open_.backend = request.param
    yield open_
    for index in opened:
        index.close()


class Gallery:
    """PEOPLE people with FACES_PER_PERSON faces each, spread over 3 sources and 2 jurisdictions."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(size=(PEOPLE, SPACE.dimension)).astype(np.float32)
        self.person = np.repeat(np.arange(PEOPLE), FACES_PER_PERSON)
        noise = 0.1 * rng.normal(size=(len(self.person), SPACE.dimension))
        self.vectors = (self.centres[self.person] + noise).astype(np.float32)
        self.ids = np.arange(len(self.person), dtype=np.int64) * 3 + 1000  # not 0..n-1
        self.source_ids = (np.arange(len(self.person)) % 3 + 1).astype(np.int64)
        self.jurisdictions = np.where(self.person % 2 == 0, "GB", "FR")

    @property
    def tags(self) -> FaceTags:
        return FaceTags(self.source_ids, self.jurisdictions)

    def where(self, mask: np.ndarray) -> np.ndarray:
        return np.sort(self.ids[mask])


@pytest.fixture
def gallery() -> Gallery:
    return Gallery()


def filled(opener, gallery: Gallery):
    index = opener()
    index.add(gallery.ids, gallery.vectors, gallery.tags)
    return index


def test_new_index_is_empty(opener):
    index = opener()
    assert len(index) == 0 and index.ids().size == 0
    assert index.catalog_version is None
    distances, ids = index.search(np.zeros((2, SPACE.dimension), np.float32), 5)
    assert distances.shape == ids.shape and len(ids) == 2
    assert (ids == -1).all() and np.isinf(distances).all()
    found, found_distances = index.range_search(np.zeros(SPACE.dimension, np.float32), 10.0)
    assert found.size == 0 and found_distances.size == 0


def test_search_finds_each_face_first_with_its_euclidean_distance(opener, gallery):
    index = filled(opener, gallery)
    assert len(index) == len(gallery.ids)
    np.testing.assert_array_equal(np.sort(index.ids()), np.sort(gallery.ids))
    queries = gallery.vectors[::7] + 0.001
    distances, ids = index.search(queries, 5)
    assert ids.shape == (len(queries), 5)
    np.testing.assert_array_equal(ids[:, 0], gallery.ids[::7])
    expected = np.linalg.norm(queries - gallery.vectors[::7], axis=1)
    np.testing.assert_allclose(distances[:, 0], expected, rtol=1e-3, atol=1e-4)
    assert (np.diff(distances, axis=1) >= -1e-6).all()  # nearest first
    # The next neighbours are faces of the same person, not strangers.
    position = {int(i): p for i, p in zip(gallery.ids, gallery.person, strict=True)}
    for row, query_person in zip(ids, gallery.person[::7], strict=True):
        assert [position[int(i)] for i in row] == [query_person] * 5


def test_range_search_returns_every_face_of_the_person_nearest_first(opener, gallery):
    index = filled(opener, gallery)
    probe = gallery.centres[5]
    ids, distances = index.range_search(probe, SAME_PERSON_RADIUS)
    np.testing.assert_array_equal(np.sort(ids), gallery.where(gallery.person == 5))
    assert (np.diff(distances) >= 0).all() and (distances <= SAME_PERSON_RADIUS).all()
    expected = np.linalg.norm(gallery.vectors[np.searchsorted(gallery.ids, ids)] - probe, axis=1)
    np.testing.assert_allclose(distances, expected, rtol=1e-3, atol=1e-4)


def test_remove_counts_only_faces_it_held(opener, gallery):
    index = filled(opener, gallery)
    gone = gallery.ids[gallery.person == 3]
    assert index.remove(np.concatenate([gone, [7, 99_999]])) == len(gone)
    assert index.remove(gone) == 0
    assert len(index) == len(gallery.ids) - len(gone)
    assert not np.isin(np.sort(index.ids()), gone).any()
    _, ids = index.search(gallery.centres[3:4], 10)
    assert not np.isin(ids, gone).any()


def test_remove_where_by_source_and_by_jurisdiction(opener, gallery):
    index = filled(opener, gallery)
    source_two = gallery.source_ids == 2
    assert index.remove_where(source_ids=[2]) == source_two.sum()
    np.testing.assert_array_equal(np.sort(index.ids()), gallery.where(~source_two))
    french = gallery.jurisdictions == "FR"
    # Lower case is accepted; faces already removed with source 2 are not counted twice.
    assert index.remove_where(jurisdiction="fr") == (french & ~source_two).sum()
    np.testing.assert_array_equal(np.sort(index.ids()), gallery.where(~source_two & ~french))
    assert index.remove_where(source_ids=[2]) == 0
    _, ids = index.search(gallery.vectors, 8)
    found = ids[ids >= 0]
    assert not np.isin(found, gallery.ids[source_two | french]).any()


def test_remove_where_with_both_takes_faces_matching_both(opener, gallery):
    index = filled(opener, gallery)
    both = (gallery.source_ids == 1) & (gallery.jurisdictions == "GB")
    assert index.remove_where(source_ids=[1], jurisdiction="GB") == both.sum()
    np.testing.assert_array_equal(np.sort(index.ids()), gallery.where(~both))


def test_remove_where_refuses_an_empty_or_malformed_scope(opener, gallery):
    index = filled(opener, gallery)
    with pytest.raises(IndexError_, match="needs source ids or a jurisdiction"):
        index.remove_where()
    with pytest.raises(IndexError_, match="'France' is not an ISO 3166-1"):
        index.remove_where(jurisdiction="France")
    with pytest.raises(IndexError_, match="is not an ISO 3166-1"):
        index.remove_where(jurisdiction='GB" or id > 0')
    assert len(index) == len(gallery.ids)


def test_untagged_faces_are_removed_by_id_only(opener, gallery):
    index = opener()
    index.add(gallery.ids[:16], gallery.vectors[:16])
    assert index.remove_where(source_ids=[1, 2, 3]) == 0
    assert index.remove_where(jurisdiction="GB") == 0
    assert index.remove(gallery.ids[:4]) == 4 and len(index) == 12


def test_contents_tags_and_catalog_version_survive_reopen(opener, gallery):
    index = filled(opener, gallery)
    index.save(catalog_version=7)
    before = index.search(gallery.vectors[:20], 4)
    index.close()
    again = opener()
    assert again.catalog_version == 7 and len(again) == len(gallery.ids)
    after = again.search(gallery.vectors[:20], 4)
    np.testing.assert_array_equal(after[1], before[1])
    np.testing.assert_allclose(after[0], before[0], rtol=1e-5, atol=1e-5)
    assert again.remove_where(jurisdiction="GB") == (gallery.jurisdictions == "GB").sum()


def test_catalog_version_moves_only_on_save(opener, gallery):
    index = opener()
    index.add(
        gallery.ids[:100],
        gallery.vectors[:100],
        FaceTags(gallery.source_ids[:100], gallery.jurisdictions[:100]),
    )
    index.save(catalog_version=3)
    index.add(
        gallery.ids[100:],
        gallery.vectors[100:],
        FaceTags(gallery.source_ids[100:], gallery.jurisdictions[100:]),
    )
    assert index.catalog_version == 3
    index.close()
    # Whatever the backend kept of the unsaved add, it does not claim to reflect a newer catalog
    # (the keeper compares ids and repairs when the versions differ).
    again = opener()
    assert again.catalog_version == 3
    assert 100 <= len(again) <= len(gallery.ids)
    again.save(catalog_version=4)
    assert again.catalog_version == 4


def test_rebuild_replaces_contents_and_tags(opener, gallery):
    index = filled(opener, gallery)
    keep = gallery.person < 10
    retagged = FaceTags(np.full(keep.sum(), 9, np.int64), np.full(keep.sum(), "DE"))
    index.rebuild(gallery.ids[keep], gallery.vectors[keep], retagged)
    np.testing.assert_array_equal(np.sort(index.ids()), gallery.where(keep))
    assert index.remove_where(source_ids=[1, 2, 3]) == 0
    assert index.remove_where(jurisdiction="DE") == keep.sum() and len(index) == 0


def test_another_embedding_space_is_refused(opener, gallery):
    index = filled(opener, gallery)
    index.save(catalog_version=1)
    index.close()
    other_model = EmbeddingSpace("another-model", "v1", SPACE.dimension, "euclidean")
    with pytest.raises(SpaceMismatchError, match="index holds contract-test/v1/32/euclidean"):
        opener(other_model)
    other_dimension = EmbeddingSpace(SPACE.model, SPACE.version, 64, "euclidean")
    with pytest.raises(SpaceMismatchError, match="facesift reembed"):
        opener(other_dimension)
    # Refusing did not harm what was stored.
    assert len(opener()) == len(gallery.ids)


def test_bad_vectors_are_refused_and_nothing_stored_changes(opener, gallery):
    index = filled(opener, gallery)
    wrong_dimension = np.zeros((2, SPACE.dimension + 1), np.float32)
    with pytest.raises(SpaceMismatchError, match=r"vectors of shape \(2, 33\)"):
        index.add(np.array([1, 2]), wrong_dimension)
    with pytest.raises(SpaceMismatchError):
        index.search(wrong_dimension, 3)
    with_nan = gallery.vectors[:3].copy()
    with_nan[1, 4] = np.nan
    with pytest.raises(IndexError_, match="vector 1 contains NaN"):
        index.add(np.array([1, 2, 3]), with_nan)
    with pytest.raises(IndexError_, match="NaN or infinity"):
        index.search(with_nan, 3)
    with pytest.raises(IndexError_, match="NaN or infinity"):
        index.range_search(np.full(SPACE.dimension, np.inf, np.float32), 1.0)
    with pytest.raises(IndexError_, match="one id and one tag per vector: 2 ids, 3 vectors"):
        index.add(np.array([1, 2]), gallery.vectors[:3])
    with pytest.raises(IndexError_, match="same face id twice"):
        index.add(np.array([5, 5]), gallery.vectors[:2])
    assert len(index) == len(gallery.ids)
    np.testing.assert_array_equal(np.sort(index.ids()), np.sort(gallery.ids))

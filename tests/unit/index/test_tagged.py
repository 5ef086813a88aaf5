"""The tag table that gives the FAISS file index remove_where: saved first, trimmed on load, and
reported damaged (so the keeper rebuilds from the catalog) when it cannot vouch for every face."""

import numpy as np

from facesift.index import FaissDiskIndex, TaggedIndex
from facesift.index.tagged import TAGS_FILE
from facesift.types import EmbeddingSpace, FaceTags

SPACE = EmbeddingSpace("test", "v1", 8, "euclidean")


def tagged(folder):
    return TaggedIndex(FaissDiskIndex(folder, SPACE), folder)


def vectors(count: int) -> np.ndarray:
    return np.random.default_rng(count).normal(size=(count, SPACE.dimension)).astype(np.float32)


def tags(count: int, source: int, code: str) -> FaceTags:
    return FaceTags(np.full(count, source, np.int64), np.full(count, code))


def test_tags_saved_ahead_of_an_unsaved_index_are_trimmed_to_it(tmp_path):
    index = tagged(tmp_path)
    index.add(np.arange(1, 11), vectors(10), tags(10, 1, "GB"))
    index.save(catalog_version=1)
    index.add(np.arange(11, 16), vectors(5), tags(5, 2, "FR"))
    # A crash after the tag table was saved and before the index file was: simulate by saving
    # the table alone.
    index._tags.save(tmp_path / TAGS_FILE)
    again = tagged(tmp_path)
    assert again.damaged is None and len(again) == 10
    assert again.remove_where(source_ids=[2]) == 0  # those faces never reached the index file
    assert again.remove_where(jurisdiction="GB") == 10 and len(again) == 0


def test_an_index_without_or_with_an_unreadable_tag_table_is_reported_damaged(tmp_path):
    plain = FaissDiskIndex(tmp_path, SPACE)
    plain.add(np.arange(1, 6), vectors(5))
    plain.save(catalog_version=1)
    assert TAGS_FILE in tagged(tmp_path).damaged
    (tmp_path / TAGS_FILE).write_bytes(b"not a zip file")
    reopened = tagged(tmp_path)
    assert TAGS_FILE in reopened.damaged
    reopened.rebuild(np.arange(1, 6), vectors(5), tags(5, 3, "DE"))
    assert reopened.damaged is None
    reopened.save(catalog_version=2)
    assert tagged(tmp_path).remove_where(source_ids=[3]) == 5

"""The FAISS index may be searched from several threads while one thread changes it."""

from __future__ import annotations

import threading

import numpy as np

from facesift.index import FaissDiskIndex
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test", "v1", 128, "euclidean")


def test_searches_during_adds_removes_and_conversion_to_ivf_always_succeed(tmp_path):
    """Without the index's lock this crashes the process (FAISS reallocates the vectors a
    search is reading): measured with the same batches, a segmentation fault within seconds."""
    rng = np.random.default_rng(7)
    index = FaissDiskIndex(tmp_path, SPACE, exact_max=40_000)  # converts to IVF mid-way
    anchor = rng.normal(size=(1, 128)).astype(np.float32)
    index.add(np.array([0]), anchor)
    stop = threading.Event()
    failures: list[BaseException] = []
    searches = [0]

    def searcher():
        while not stop.is_set():
            try:
                distances, ids = index.search(anchor, 5)
                # The anchor is never removed: it is always found, at distance 0.
                assert ids[0, 0] == 0 and distances[0, 0] < 1e-3
                found, _ = index.range_search(anchor[0], 0.01)
                assert 0 in found
                searches[0] += 1
            except BaseException as error:  # noqa: BLE001 - report any failure of any kind
                failures.append(error)
                stop.set()

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        next_id = 1
        for batch in range(40):
            ids = np.arange(next_id, next_id + 2000)
            index.add(ids, rng.normal(size=(2000, 128)).astype(np.float32) + 0.5)
            index.remove(ids[::2])
            next_id += 2000
            if batch % 10 == 0:
                index.save(catalog_version=batch)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
    assert searches[0] > 0
    assert not index.is_exact  # the conversion to IVF happened while searches ran
    assert len(index) == 1 + 40 * 1000

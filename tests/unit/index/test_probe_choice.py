"""The compressed index's probe count: measured by recall at build time, saved, reloaded.

Galleries are synthetic people (a few photos each around a per-person centre), the structure
real face embeddings have, so a held-out photo of a person has neighbours to find.
"""

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from facesift.index import FaissDiskIndex
from facesift.index.faiss_compressed import (
    LEGACY_PQ_SUBQUANTIZERS,
    PQ_BITS,
    RECALL_TARGET,
    RerankStore,
    choose_nprobe,
    legacy_lists_for,
    legacy_probes_for,
    probe_ladder,
)
from facesift.index.faiss_disk import INDEX_FILE, META_FILE
from facesift.types import EmbeddingSpace

SPACE = EmbeddingSpace("test-model", "v1", 64, "euclidean")
PEOPLE, PHOTOS = 1_500, 4


def people(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((PEOPLE, SPACE.dimension)) * 0.25


def photos_of(centres: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    faces = np.repeat(centres, count, axis=0)
    faces = faces + rng.standard_normal(faces.shape) * 0.12
    return (faces / np.linalg.norm(faces, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def centres() -> np.ndarray:
    return people(seed=3)


@pytest.fixture(scope="module")
def gallery(centres) -> np.ndarray:
    return photos_of(centres, PHOTOS, seed=4)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, gallery) -> Path:
    directory = tmp_path_factory.mktemp("calibrated")
    index = FaissDiskIndex(directory, SPACE, exact_max=0, compressed_min=0)
    index.rebuild(np.arange(len(gallery)), gallery)
    index.save(catalog_version=1)
    return directory


def recall_at_10(found: np.ndarray, gallery: np.ndarray, queries: np.ndarray) -> float:
    squared = (gallery**2).sum(1)[None, :] - 2 * queries @ gallery.T
    truth = np.argsort(squared, axis=1)[:, :10]
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def test_probe_ladder_doubles_up_to_every_list():
    assert probe_ladder(100) == [8, 16, 32, 64, 100]
    assert probe_ladder(8) == [8]


def test_chosen_probe_count_reaches_the_target_on_held_out_queries(saved, gallery, centres):
    index = FaissDiskIndex(saved, SPACE, exact_max=0, compressed_min=0)
    probes = index._current.probes
    assert index.is_compressed and probes is not None
    assert probes.nprobe in probe_ladder(index._index.nlist)
    assert probes.recall >= RECALL_TARGET and probes.target == RECALL_TARGET
    assert probes.nprobe < index._index.nlist  # a clustered gallery needs only some lists
    # New photos of people in the gallery, never seen by the calibration.
    queries = photos_of(centres[::5], 1, seed=99)
    assert recall_at_10(index.search(queries, 10)[1], gallery, queries) >= RECALL_TARGET - 0.03


def test_chosen_probe_count_is_saved_and_reloaded(saved):
    meta = json.loads((saved / META_FILE).read_text())
    index = FaissDiskIndex(saved, SPACE, exact_max=0, compressed_min=0)
    assert meta["probes"]["nprobe"] == index._index.nprobe == index._current.probes.nprobe
    assert f"nprobe {index._index.nprobe}" in index.kind and "HNSW" in index.kind
    # The graph searches at least twice as wide as the lists probed, or it could not name them.
    quantizer = faiss.downcast_index(index._index.quantizer)
    assert quantizer.hnsw.efSearch >= 2 * index._index.nprobe


def test_an_unreachable_target_probes_every_list(saved):
    index = FaissDiskIndex(saved, SPACE, exact_max=0, compressed_min=0)
    current = index._current
    choice = choose_nprobe(current.index, current.store, np.random.default_rng(1), target=1.01)
    assert choice.nprobe == current.index.nlist


def test_an_index_saved_before_measured_probes_loads_with_the_old_rule(tmp_path, saved, gallery):
    """The previous form: sqrt(n) lists, a flat quantizer, no probe count in the metadata."""
    meta = json.loads((saved / META_FILE).read_text())
    recorded = meta["rerank_store"]
    old_store = RerankStore(saved, recorded["generation"], SPACE.dimension, recorded["rows"])
    new_store = RerankStore.new(tmp_path, SPACE.dimension)
    new_store.append(old_store.ids(), np.asarray(old_store.chunks().__next__()[1]))
    nlist = legacy_lists_for(len(gallery))
    old = faiss.IndexIVFPQFastScan(
        faiss.IndexFlatL2(SPACE.dimension), SPACE.dimension, nlist, LEGACY_PQ_SUBQUANTIZERS, PQ_BITS
    )
    old.cp.min_points_per_centroid = 5
    old.train(gallery)
    old.add_with_ids(gallery, np.arange(len(gallery)))
    old.nprobe = 1  # whatever the file says, the old rule decides
    faiss.write_index(old, str(tmp_path / INDEX_FILE))
    del meta["probes"]
    meta["rerank_store"] = {"generation": new_store.generation, "rows": new_store.rows}
    (tmp_path / META_FILE).write_text(json.dumps(meta))

    index = FaissDiskIndex(tmp_path, SPACE, exact_max=0, compressed_min=0)
    assert index.damaged is None and index.is_compressed
    assert index._current.probes is None
    assert index._index.nprobe == legacy_probes_for(nlist)
    assert "flat quantizer" in index.kind
    distances, ids = index.search(gallery[:5], 10)
    assert list(ids[:, 0]) == [0, 1, 2, 3, 4] and np.allclose(distances[:, 0], 0, atol=1e-5)
    # Saving it again keeps it old-format (no measured count to record) and loadable.
    index.save(catalog_version=2)
    assert "probes" not in json.loads((tmp_path / META_FILE).read_text())
    assert FaissDiskIndex(tmp_path, SPACE, exact_max=0, compressed_min=0).catalog_version == 2

"""The clustering rules on vectors whose answer is known."""

import numpy as np

from facesift.search.cluster import cluster_faces, cluster_quality


def knn_over(vectors: np.ndarray):
    def knn(queries: np.ndarray, k: int):
        distances = np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2)
        order = np.argsort(distances, axis=1)[:, :k]
        return np.take_along_axis(distances, order, 1), order

    return knn


def people(count: int, photos: int, noise: float = 0.02, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 8))
    vectors = np.repeat(centres, photos, axis=0) + noise * rng.normal(size=(count * photos, 8))
    return vectors.astype(np.float32), np.repeat(np.arange(count), photos)


def test_separate_people_form_separate_identities():
    vectors, truth = people(20, 4)
    result = cluster_faces(vectors, np.arange(len(vectors)), knn_over(vectors), 0.3)
    quality = cluster_quality(result.labels, truth)
    assert quality.pairwise_precision == 1.0 and quality.pairwise_recall == 1.0
    assert quality.bcubed_f == 1.0 and quality.clusters == 20


def test_two_faces_in_one_photo_are_never_one_person():
    vectors = np.array([[0, 0], [0.01, 0], [5, 5]], dtype=np.float32)
    images = np.array([7, 7, 8])  # faces 0 and 1 are in the same photo
    result = cluster_faces(vectors, images, knn_over(vectors), 1.0)
    assert result.labels[0] != result.labels[1] and result.links_refused == 1


def test_a_single_chance_link_does_not_merge_two_groups():
    # Two groups of three along a line; only their facing ends are within the threshold.
    vectors = np.array([[x, 0.0] for x in (0, 0.1, 0.2, 0.5, 0.6, 0.7)], dtype=np.float32)
    images = np.arange(len(vectors))
    result = cluster_faces(vectors, images, knn_over(vectors), 0.31, k=3)
    assert len(set(result.labels[:3])) == 1 and len(set(result.labels[3:])) == 1
    assert result.labels[0] != result.labels[3]
    merged = cluster_faces(vectors, images, knn_over(vectors), 0.31, k=3, min_support=1)
    assert len(set(merged.labels)) == 1  # plain single linkage chains them


def test_incremental_runs_keep_existing_groups_and_new_faces_join_them():
    vectors, truth = people(5, 4)
    initial = np.where(np.arange(len(vectors)) % 4 == 3, -1, truth + 100)  # photo 4 is new
    result = cluster_faces(
        vectors,
        np.arange(len(vectors)),
        knn_over(vectors),
        0.3,
        initial=initial,
        queries=np.nonzero(initial < 0)[0],
    )
    assert cluster_quality(result.labels, truth).bcubed_f == 1.0


def test_two_fixed_identities_are_never_merged():
    vectors, truth = people(1, 4)  # one person...
    initial = np.array([0, 0, 1, 1])  # ...that a person split into two identities
    locked = np.ones(4, bool)
    result = cluster_faces(
        vectors, np.arange(4), knn_over(vectors), 0.3, initial=initial, locked=locked
    )
    assert result.labels[0] == result.labels[1] != result.labels[2] == result.labels[3]


def test_quality_measures_penalise_wrong_merges():
    truth = np.array([0, 0, 1, 1, 2, 2])
    everything_together = np.zeros(6, int)
    quality = cluster_quality(everything_together, truth)
    assert quality.pairwise_recall == 1.0 and quality.pairwise_precision == 3 / 15
    assert quality.bcubed_precision == 1 / 3 and quality.bcubed_recall == 1.0
    all_apart = cluster_quality(np.arange(6), truth)
    assert all_apart.pairwise_recall == 0.0 and all_apart.bcubed_precision == 1.0
    assert all_apart.singletons == 6

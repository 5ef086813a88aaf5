"""Grouping faces into identities: constrained single-linkage over the k-nearest-neighbour graph.

Each face is linked to its k nearest neighbours within a distance threshold (found with the
vector index, so the work grows with n·k, not n²). Links are taken shortest first and join two
groups unless that would put two faces of one photo in the same identity, or join two identities
a person has fixed (named or edited) apart. Faces already assigned keep their identity, so new
faces join existing identities without re-clustering everything, and human edits survive.

Plain single-linkage chains (A~B, B~C, so A with C). Two rules curb that: the threshold is much
stricter than search's, and two groups of several faces merge only on two independent links.
Precision and recall on LFW over a range of thresholds are in docs/accuracy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# knn(vectors, k) -> (distances, positions): positions index into the vectors being clustered.
Knn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


class _Groups:
    """Union-find with the facts a merge must respect: photos held and human locks."""

    def __init__(self, count: int, images: np.ndarray, locked: np.ndarray):
        self.parent = np.arange(count)
        self.images: dict[int, set[int]] = {i: {int(images[i])} for i in range(count)}
        self.locked = {i for i in range(count) if locked[i]}

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return int(root)

    def union(self, a: int, b: int) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        if root_a in self.locked and root_b in self.locked:
            return False  # two identities a person fixed stay apart
        if self.images[root_a] & self.images[root_b]:
            return False  # two faces in the same photo are never the same person
        if len(self.images[root_a]) < len(self.images[root_b]):
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.images[root_a] |= self.images.pop(root_b)
        if root_b in self.locked:
            self.locked.discard(root_b)
            self.locked.add(root_a)
        return True


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # one group label per input face (label = smallest position in group)
    links_considered: int
    links_refused: int


def cluster_faces(
    vectors: np.ndarray,
    images: np.ndarray,
    knn: Knn,
    threshold: float,
    *,
    k: int = 10,
    initial: np.ndarray | None = None,
    locked: np.ndarray | None = None,
    mutual: bool = False,
    min_support: int = 2,
    strict_joins: bool = True,
    queries: np.ndarray | None = None,
    batch: int = 4096,
) -> Clustering:
    """Cluster ``vectors`` (one per face; ``images`` gives each face's photo).

    ``initial``: an existing group label per face (or -1), kept as the starting groups;
    ``locked``: faces whose group a person fixed; ``queries``: positions whose neighbours are
    looked up (default all; incremental runs ask only for new faces). Returns a label per face.
    """
    count = len(vectors)
    locked = np.zeros(count, bool) if locked is None else locked
    groups = _Groups(count, images, np.zeros(count, bool))
    if initial is not None:
        first_of: dict[int, int] = {}
        for position, label in enumerate(initial):
            if label < 0:
                continue
            if label in first_of:
                # Existing identities are kept whole, even where a person put two faces of one
                # photo together on purpose.
                root_a, root_b = groups.find(first_of[label]), groups.find(position)
                groups.parent[root_b] = root_a
                groups.images[root_a] |= groups.images.pop(root_b)
            else:
                first_of[int(label)] = position
        for locked_position in np.nonzero(locked)[0]:
            groups.locked.add(groups.find(int(locked_position)))
    directed: dict[tuple[int, int], float] = {}
    asking = np.arange(count) if queries is None else np.asarray(queries, dtype=np.int64)
    for start in range(0, len(asking), batch):
        chunk = asking[start : start + batch]
        distances, neighbours = knn(vectors[chunk], k + 1)
        for me, dist_row, nb_row in zip(chunk, distances, neighbours, strict=True):
            me = int(me)
            for distance, other in zip(dist_row, nb_row, strict=True):
                if other < 0 or other == me or distance > threshold:
                    continue
                directed[(me, int(other))] = float(distance)
    # Mutual neighbours only: a "hub" face close to many people links none of them by itself.
    edges = (
        sorted(
            (distance, a, b)
            for (a, b), distance in directed.items()
            if a < b and (b, a) in directed
        )
        if mutual and queries is None
        else sorted({(d, min(a, b), max(a, b)) for (a, b), d in directed.items()})
    )
    # Two groups of several faces merge only on a second independent link: one chance
    # resemblance between two people's photo sets does not make them one person.
    support: dict[tuple[int, int], int] = {}
    refused = 0
    for _, a, b in edges:
        root_a, root_b = groups.find(a), groups.find(b)
        if root_a == root_b:
            continue
        key = (min(root_a, root_b), max(root_a, root_b))
        support[key] = support.get(key, 0) + 1
        sizes = sorted((len(groups.images[root_a]), len(groups.images[root_b])))
        needed = (
            1
            if sizes[1] == 1
            else min(min_support, sizes[1])
            if strict_joins
            else (1 if sizes[0] == 1 else min_support)
        )
        if support[key] >= needed and not groups.union(a, b):
            refused += 1
    roots = np.array([groups.find(i) for i in range(count)])
    # Canonical labels: the smallest position in each group.
    smallest: dict[int, int] = {}
    for position, root in enumerate(roots):
        smallest.setdefault(int(root), position)
    labels = np.array([smallest[int(root)] for root in roots])
    return Clustering(labels=labels, links_considered=len(edges), links_refused=refused)


# --- quality against ground-truth labels ----------------------------------------------------


@dataclass(frozen=True)
class ClusterQuality:
    pairwise_precision: float
    pairwise_recall: float
    bcubed_precision: float
    bcubed_recall: float
    clusters: int
    singletons: int

    @property
    def pairwise_f(self) -> float:
        return _f(self.pairwise_precision, self.pairwise_recall)

    @property
    def bcubed_f(self) -> float:
        return _f(self.bcubed_precision, self.bcubed_recall)


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def cluster_quality(predicted: np.ndarray, truth: np.ndarray) -> ClusterQuality:
    """Pairwise precision/recall (over all same-cluster pairs) and BCubed (Amigó et al. 2009)."""
    predicted = np.unique(predicted, return_inverse=True)[1]
    truth = np.unique(truth, return_inverse=True)[1]
    joint = np.unique(predicted * (truth.max() + 1) + truth, return_counts=True)[1]
    pred_sizes = np.bincount(predicted)
    true_sizes = np.bincount(truth)

    def pairs(sizes: np.ndarray) -> float:
        return float((sizes * (sizes - 1) // 2).sum())

    together = pairs(joint)
    pairwise_p = together / pairs(pred_sizes) if pairs(pred_sizes) else 1.0
    pairwise_r = together / pairs(true_sizes) if pairs(true_sizes) else 1.0
    # BCubed: per item, the share of its cluster with its label, and of its label in its cluster.
    cell: dict[tuple[int, int], int] = {}
    for p, t in zip(predicted, truth, strict=True):
        cell[(p, t)] = cell.get((p, t), 0) + 1
    overlap = np.array([cell[(p, t)] for p, t in zip(predicted, truth, strict=True)])
    bcubed_p = float(np.mean(overlap / pred_sizes[predicted]))
    bcubed_r = float(np.mean(overlap / true_sizes[truth]))
    return ClusterQuality(
        pairwise_p, pairwise_r, bcubed_p, bcubed_r, len(pred_sizes), int((pred_sizes == 1).sum())
    )

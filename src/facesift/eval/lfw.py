"""LFW protocols, run through the same pipeline the product uses.

* Verification (View 2, ``pairs.txt``): 10 folds; for each, the threshold that maximises accuracy
  on the other 9 folds is applied to it; report mean ± std, and TAR at FAR = 1e-3.
* Open-set identification: one gallery photo per person with 2+ photos, their other photos as
  mated probes, every one-photo person as a non-mated probe; rank-1 hit rate, FNIR at FPIR = 1%.
* Calibration: FMR/FNMR over all genuine and impostor pairs of the whole of LFW.

LFW photos are 250x250 crops centred on the labelled person; where a photo shows several faces
we take the one nearest the centre. A photo where no face is found is a failure to enrol (FTE):
its pairs count as "different" and its probes as misses, so FTE lowers the figures honestly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesift.config import Settings
from facesift.detect.base import smallest_face_px
from facesift.embed.base import embedding_space_of
from facesift.errors import InputError
from facesift.ingest.jobs import FileToAnalyse, parallel_analyse
from facesift.pipeline import FaceAnalyser
from facesift.search.calibration import Calibration, measure_calibration
from facesift.types import AnalysedImage

FAR_TARGET = 1e-3
FPIR_TARGET = 1e-2


# --- embeddings ------------------------------------------------------------------------------


def lfw_images(root: Path) -> dict[str, list[str]]:
    """Person name → sorted relative paths of their photos."""
    people: dict[str, list[str]] = {}
    for person_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(f"{person_dir.name}/{f.name}" for f in person_dir.glob("*.jpg"))
        if photos:
            people[person_dir.name] = photos
    if not people:
        raise InputError(f"{root}: no LFW person folders with .jpg photos found")
    return people


def central_face_embedding(image: AnalysedImage) -> np.ndarray | None:
    if not image.faces:
        return None
    cx, cy = image.width / 2, image.height / 2

    def off_centre(face) -> float:
        box = face.detection.box
        return ((box.left + box.right) / 2 - cx) ** 2 + ((box.top + box.bottom) / 2 - cy) ** 2

    return min(image.faces, key=off_centre).embedding


def embed_photos(
    root: Path,
    relative_paths: list[str],
    settings: Settings,
    cache: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray | None]:
    """Embedding of the central face of each photo (None: no face found), cached on disk."""
    cached: dict[str, np.ndarray | None] = _read_cache(cache) if cache else {}
    todo = [p for p in relative_paths if p not in cached]
    by_name = {str(root / p): p for p in todo}
    items = (FileToAnalyse(root / p, str(root / p)) for p in todo)
    # An analysis, or (file, reason) for a file that could not be analysed.
    results: Iterator[AnalysedImage | tuple[str, str]]
    if not todo:
        results = iter(())
    elif settings.workers > 1:
        results = parallel_analyse(settings, items)
    else:
        analyser = FaceAnalyser.from_settings(settings)
        results = (analyser.analyse_file(item.path) for item in items)
    for outcome in results:
        if isinstance(outcome, AnalysedImage):
            cached[by_name[outcome.path]] = central_face_embedding(outcome)
        else:
            name, reason = outcome
            raise InputError(f"{name}: {reason}")
        if on_progress:
            on_progress(1)
    if cache and todo:
        _write_cache(cache, cached)
    return {p: cached[p] for p in relative_paths}


def default_cache(settings: Settings) -> Path:
    return Path("facesift-eval-cache") / f"lfw-{cache_key(settings)}.npz"


def cache_key(settings: Settings) -> str:
    """Embeddings depend on these settings and on the pipeline's code (a changed score threshold
    or alignment must not reuse stale vectors); the cache file name records them."""
    parts = (
        settings.detector,
        smallest_face_px(settings.detector),
        settings.embedder,
        embedding_space_of(settings.embedder, settings).key,
        settings.min_face_size,
        settings.max_detect_side,
        _pipeline_source_digest(),
    )
    text = "|".join(str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _pipeline_source_digest() -> str:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for stage in ("detect", "align", "embed"):
        for source in sorted((package / stage).glob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _read_cache(path: Path) -> dict[str, np.ndarray | None]:
    if not path.exists():
        return {}
    with np.load(path) as data:
        names, vectors, found = data["names"], data["vectors"], data["found"]
    return {str(n): (v if f else None) for n, v, f in zip(names, vectors, found, strict=True)}


def _write_cache(path: Path, embeddings: dict[str, np.ndarray | None]) -> None:
    names = sorted(embeddings)
    dimension = next((len(v) for v in embeddings.values() if v is not None), 128)
    vectors = np.zeros((len(names), dimension), np.float32)
    found = np.zeros(len(names), bool)
    for row, name in enumerate(names):
        if embeddings[name] is not None:
            vectors[row] = embeddings[name]
            found[row] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, names=np.asarray(names), vectors=vectors, found=found)
    tmp.replace(path)


# --- verification (pairs.txt) ----------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    fold: int
    a: str
    b: str
    same: bool


def read_pairs(pairs_file: Path) -> list[Pair]:
    lines = pairs_file.read_text().split("\n")
    try:
        folds, per_fold = (int(x) for x in lines[0].split())
    except ValueError:
        raise InputError(f"{pairs_file}: first line must be '<folds> <pairs per fold>'") from None
    pairs: list[Pair] = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        index = len(pairs)
        fold = index // (2 * per_fold)
        if len(parts) == 3:
            name, i, j = parts
            pairs.append(Pair(fold, _photo(name, i), _photo(name, j), True))
        elif len(parts) == 4:
            name_a, i, name_b, j = parts
            pairs.append(Pair(fold, _photo(name_a, i), _photo(name_b, j), False))
        else:
            raise InputError(f"{pairs_file}:{number}: expected 3 or 4 fields, got {len(parts)}")
    if len(pairs) != folds * per_fold * 2:
        raise InputError(f"{pairs_file}: expected {folds * per_fold * 2} pairs, read {len(pairs)}")
    return pairs


def _photo(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


@dataclass(frozen=True)
class VerificationResult:
    pairs: int
    failures_to_enrol: int
    fold_accuracies: tuple[float, ...]
    fold_thresholds: tuple[float, ...]
    tar_at_far: float
    far_target: float
    threshold_at_far: float

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(self.fold_accuracies))

    @property
    def std_accuracy(self) -> float:
        return float(np.std(self.fold_accuracies))


def pair_distances(pairs: list[Pair], embeddings: dict[str, np.ndarray | None]) -> np.ndarray:
    distances = np.full(len(pairs), np.inf)
    for row, pair in enumerate(pairs):
        a, b = embeddings[pair.a], embeddings[pair.b]
        if a is not None and b is not None:
            distances[row] = float(np.linalg.norm(a - b))
    return distances


def evaluate_verification(pairs: list[Pair], distances: np.ndarray) -> VerificationResult:
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    finite = distances[np.isfinite(distances)]
    candidates = np.unique(np.concatenate([finite, [0.0]]))
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        best = _best_threshold(distances[train], same[train], candidates)
        thresholds.append(best)
        accuracies.append(float(np.mean((distances[test] <= best) == same[test])))
    impostor = np.sort(distances[~same])
    # Largest threshold admitting at most FAR_TARGET of impostor pairs.
    allowed = int(np.floor(FAR_TARGET * len(impostor)))
    threshold_at_far = (
        float(np.nextafter(impostor[allowed], -np.inf)) if allowed < len(impostor) else np.inf
    )
    tar = float(np.mean(distances[same] <= threshold_at_far))
    return VerificationResult(
        pairs=len(pairs),
        failures_to_enrol=int(np.sum(~np.isfinite(distances))),
        fold_accuracies=tuple(accuracies),
        fold_thresholds=tuple(thresholds),
        tar_at_far=tar,
        far_target=FAR_TARGET,
        threshold_at_far=threshold_at_far,
    )


def _best_threshold(distances: np.ndarray, same: np.ndarray, candidates: np.ndarray) -> float:
    order = np.argsort(distances, kind="stable")
    sorted_d, sorted_same = distances[order], same[order]
    # accepted(t) = pairs with d <= t; correct = same accepted + different rejected.
    accepted_same = np.cumsum(sorted_same)
    accepted_diff = np.cumsum(~sorted_same)
    total_diff = int(np.sum(~same))
    positions = np.searchsorted(sorted_d, candidates, side="right")
    correct = np.where(positions > 0, accepted_same[np.maximum(positions - 1, 0)], 0) + (
        total_diff - np.where(positions > 0, accepted_diff[np.maximum(positions - 1, 0)], 0)
    )
    best = int(np.argmax(correct))
    # Midway to the next candidate: the accuracy is the same anywhere in between.
    upper = candidates[best + 1] if best + 1 < len(candidates) else candidates[best]
    return float((candidates[best] + upper) / 2)


# --- open-set identification -----------------------------------------------------------------


@dataclass(frozen=True)
class IdentificationResult:
    gallery_size: int
    mated_probes: int
    non_mated_probes: int
    failures_to_enrol: int
    rank1_hit_rate: float
    fnir_at_fpir: float
    fpir_target: float
    threshold_at_fpir: float
    # FPIR → (FNIR, threshold), for a fuller picture than the one headline operating point.
    fnir_curve: dict[float, tuple[float, float]]


@dataclass(frozen=True)
class OpenSetProbes:
    """The open-set protocol's probes, each against its nearest gallery entry."""

    gallery_size: int
    mated_people: np.ndarray  # person of each mated probe
    mated_distance: np.ndarray  # distance to its rank-1 candidate (inf: no face found)
    mated_hit: np.ndarray  # whether the rank-1 candidate is its mate
    non_mated_people: np.ndarray  # person of each non-mated probe
    non_mated_distance: np.ndarray  # distance to its rank-1 candidate (inf: no face found)
    failures_to_enrol: int

    def fnir(self, threshold: float, mask: np.ndarray | None = None) -> tuple[int, int]:
        """(misses, mated probes) at ``threshold``: a miss unless the rank-1 candidate is the
        probe's mate, within the threshold."""
        miss = ~(self.mated_hit & (self.mated_distance <= threshold))
        chosen = miss if mask is None else miss[mask]
        return int(chosen.sum()), len(chosen)

    def threshold_at_fpir(self, fpir: float) -> float:
        """The largest threshold at which at most ``fpir`` of non-mated probes raise an alarm."""
        ordered = np.sort(self.non_mated_distance)
        allowed = int(np.floor(fpir * len(ordered)))
        return float(np.nextafter(ordered[allowed], -np.inf)) if allowed < len(ordered) else np.inf

    def fpir(self, threshold: float, mask: np.ndarray | None = None) -> tuple[int, int]:
        """(alarms, non-mated probes) at ``threshold``."""
        alarm = self.non_mated_distance <= threshold
        chosen = alarm if mask is None else alarm[mask]
        return int(chosen.sum()), len(chosen)


def open_set_probes(
    people: dict[str, list[str]], embeddings: dict[str, np.ndarray | None]
) -> OpenSetProbes:
    """One gallery photo per person with 2+ photos (the first with a face), their other photos
    as mated probes, every one-photo person as a non-mated probe."""
    gallery_names: list[str] = []
    gallery_vectors: list[np.ndarray] = []
    mated: list[tuple[str, np.ndarray | None]] = []
    non_mated: list[tuple[str, np.ndarray | None]] = []
    for person, photos in people.items():
        if len(photos) == 1:
            non_mated.append((person, embeddings[photos[0]]))
            continue
        enrolled = next((p for p in photos if embeddings[p] is not None), None)
        enrolled_vector = embeddings[enrolled] if enrolled is not None else None
        if enrolled_vector is None:
            mated.extend((person, None) for _ in photos[1:])
            continue
        gallery_names.append(person)
        gallery_vectors.append(enrolled_vector)
        mated.extend((person, embeddings[p]) for p in photos if p != enrolled)
    gallery = np.vstack(gallery_vectors)
    names = np.asarray(gallery_names)

    def nearest(vectors: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        distance = np.full(len(vectors), np.inf)
        who = np.full(len(vectors), "", dtype=object)
        present = [(i, v) for i, v in enumerate(vectors) if v is not None]
        if present:
            rows = [i for i, _ in present]
            probe = np.vstack([v for _, v in present])
            all_d = euclidean_distances(probe, gallery)
            best = np.argmin(all_d, axis=1)
            distance[rows] = all_d[np.arange(len(present)), best]
            who[rows] = names[best]
        return distance, who

    mated_d, mated_who = nearest([v for _, v in mated])
    mated_truth = np.asarray([p for p, _ in mated], dtype=object)
    non_mated_d, _ = nearest([v for _, v in non_mated])
    return OpenSetProbes(
        gallery_size=len(gallery_names),
        mated_people=mated_truth,
        mated_distance=mated_d,
        mated_hit=mated_who == mated_truth,
        non_mated_people=np.asarray([p for p, _ in non_mated], dtype=object),
        non_mated_distance=non_mated_d,
        failures_to_enrol=sum(v is None for _, v in mated) + sum(v is None for _, v in non_mated),
    )


def evaluate_identification(
    people: dict[str, list[str]], embeddings: dict[str, np.ndarray | None]
) -> IdentificationResult:
    probes = open_set_probes(people, embeddings)

    def fnir_at(fpir: float) -> tuple[float, float]:
        limit = probes.threshold_at_fpir(fpir)
        misses, mated = probes.fnir(limit)
        return misses / mated, limit

    fnir, threshold = fnir_at(FPIR_TARGET)
    return IdentificationResult(
        gallery_size=probes.gallery_size,
        mated_probes=len(probes.mated_people),
        non_mated_probes=len(probes.non_mated_people),
        failures_to_enrol=probes.failures_to_enrol,
        rank1_hit_rate=float(np.mean(probes.mated_hit)),
        fnir_at_fpir=fnir,
        fpir_target=FPIR_TARGET,
        threshold_at_fpir=threshold,
        fnir_curve={fpir: fnir_at(fpir) for fpir in (0.001, 0.01, 0.05, 0.1, 0.2)},
    )


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


# --- calibration over all pairs --------------------------------------------------------------


def labelled_faces(
    people: dict[str, list[str]], embeddings: dict[str, np.ndarray | None]
) -> tuple[list[str], np.ndarray]:
    """Every photo with a face: its person, and its embedding as a row of a matrix."""
    labels: list[str] = []
    vectors: list[np.ndarray] = []
    for person, photos in people.items():
        for photo in photos:
            vector = embeddings[photo]
            if vector is not None:
                labels.append(person)
                vectors.append(vector)
    return labels, np.vstack(vectors).astype(np.float32)


def calibrate(
    people: dict[str, list[str]], embeddings: dict[str, np.ndarray | None], space, dataset: str
) -> Calibration:
    """FMR/FNMR over every genuine and every impostor pair among photos with a face."""
    labels, matrix = labelled_faces(people, embeddings)
    label_ids = np.unique(np.asarray(labels), return_inverse=True)[1]
    edges = np.arange(0.0, 2.0 + 1e-9, 0.0025)
    genuine_hist = np.zeros(len(edges) - 1, np.int64)
    impostor_hist = np.zeros(len(edges) - 1, np.int64)
    block = 1024
    for start in range(0, len(matrix), block):
        stop = min(start + block, len(matrix))
        distances = euclidean_distances(matrix[start:stop], matrix)
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(len(matrix))[None, :]
        upper = cols > rows  # each unordered pair once
        same = label_ids[start:stop, None] == label_ids[None, :]
        genuine_hist += np.histogram(distances[upper & same], bins=edges)[0]
        impostor_hist += np.histogram(distances[upper & ~same], bins=edges)[0]
    return measure_calibration(genuine_hist, impostor_hist, edges, space, dataset)


# --- clustering quality ------------------------------------------------------------------------


def evaluate_clustering(
    people: dict[str, list[str]],
    embeddings: dict[str, np.ndarray | None],
    thresholds: list[float],
    k: int = 10,
    mutual: bool = False,
    min_support: int = 2,
):
    """Cluster every LFW face with the product's algorithm; score it against the labels."""
    from facesift.search.cluster import cluster_quality

    labels, matrix = labelled_faces(people, embeddings)
    truth = np.unique(np.asarray(labels), return_inverse=True)[1]
    results = []
    for threshold in thresholds:
        predicted = cluster_labels(matrix, threshold, k=k, mutual=mutual, min_support=min_support)
        quality = cluster_quality(predicted, truth)
        results.append((threshold, quality, wrong_merges(labels, predicted, people)))
    return results


def cluster_labels(
    matrix: np.ndarray, threshold: float, k: int = 10, mutual: bool = False, min_support: int = 2
) -> np.ndarray:
    """An identity label per row of ``matrix`` (one face per LFW photo), from the product's
    clustering algorithm over an exact nearest-neighbour index."""
    import faiss

    from facesift.search.cluster import cluster_faces

    index = faiss.IndexFlatL2(matrix.shape[1])
    index.add(matrix)

    def knn(queries: np.ndarray, count: int):
        squared, positions = index.search(np.ascontiguousarray(queries), count)
        return np.sqrt(np.maximum(squared, 0)), positions

    images = np.arange(len(matrix))  # one face per LFW photo
    clustering = cluster_faces(
        matrix, images, knn, threshold, k=k, mutual=mutual, min_support=min_support
    )
    return clustering.labels


# People LFW holds under two names, and look-alike relatives, whose merging says how the model
# treats the hardest impostors (docs/accuracy.md). A pair missing from a data set is skipped.
LOOKALIKE_PAIRS = (
    ("Tia_Mowry", "Tamara_Mowry"),  # identical twins
    ("Wang_Nan", "Nan_Wang"),  # one person under two names (an LFW label error)
    ("George_W_Bush", "George_HW_Bush"),  # father and son
    ("Jeb_Bush", "George_W_Bush"),  # brothers
    ("Venus_Williams", "Serena_Williams"),  # sisters
)


@dataclass(frozen=True)
class WrongMerges:
    """Where a clustering put different people together."""

    largest_people: int  # distinct people in the most mixed identity
    largest_faces: int  # its faces
    largest_names: tuple[str, ...]  # its people, most faces first (at most 8)
    mixed_identities: int  # identities holding more than one person
    lookalikes_merged: tuple[tuple[str, str], ...]  # pairs of LOOKALIKE_PAIRS put together


def wrong_merges(
    labels: list[str],
    predicted: np.ndarray,
    people: dict[str, list[str]],
    max_photos: int = 20,
) -> WrongMerges:
    """The most mixed identity among people with at most ``max_photos`` photos (so one person
    with hundreds of photos cannot hide the others), and which look-alike pairs were merged."""
    members: dict[int, dict[str, int]] = {}
    for person, group in zip(labels, predicted, strict=True):
        members.setdefault(int(group), {}).setdefault(person, 0)
        members[int(group)][person] += 1
    mixed = [group for group in members.values() if len(group) > 1]

    def small(group: dict[str, int]) -> dict[str, int]:
        return {name: n for name, n in group.items() if len(people[name]) <= max_photos}

    worst = max((small(group) for group in mixed), key=len, default={})
    where: dict[str, set[int]] = {}
    for group_id, group in members.items():
        for name in group:
            where.setdefault(name, set()).add(group_id)
    merged = tuple(
        (a, b) for a, b in LOOKALIKE_PAIRS if a in where and b in where and where[a] & where[b]
    )
    return WrongMerges(
        largest_people=len(worst),
        largest_faces=sum(worst.values()),
        largest_names=tuple(sorted(worst, key=lambda name: -worst[name])[:8]),
        mixed_identities=len(mixed),
        lookalikes_merged=merged,
    )

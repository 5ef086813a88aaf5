"""The LFW protocol arithmetic, on embeddings whose answers are known."""

import numpy as np
import pytest

from facesift.errors import InputError
from facesift.eval import lfw


def write_pairs(tmp_path, folds: int, per_fold: int, people: list[str]) -> list[str]:
    lines = [f"{folds} {per_fold}"]
    for fold in range(folds):
        for i in range(per_fold):
            person = people[(fold * per_fold + i) % len(people)]
            lines.append(f"{person}\t1\t2")
        for i in range(per_fold):
            a = people[(fold * per_fold + i) % len(people)]
            b = people[(fold * per_fold + i + 1) % len(people)]
            lines.append(f"{a}\t1\t{b}\t1")
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    return lines


def embeddings_for(people: list[str], noise: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for person in people:
        centre = rng.normal(size=8)
        centre /= np.linalg.norm(centre)
        for n in (1, 2):
            out[f"{person}/{person}_{n:04d}.jpg"] = centre + noise * rng.normal(size=8)
    return out


def test_read_pairs_folds_and_names(tmp_path):
    people = [f"P{i}" for i in range(30)]
    write_pairs(tmp_path, folds=10, per_fold=3, people=people)
    pairs = lfw.read_pairs(tmp_path / "pairs.txt")
    assert len(pairs) == 60 and {p.fold for p in pairs} == set(range(10))
    assert pairs[0] == lfw.Pair(0, "P0/P0_0001.jpg", "P0/P0_0002.jpg", True)
    assert pairs[3].same is False and pairs[3].b == "P1/P1_0001.jpg"


def test_malformed_pairs_file_names_the_line(tmp_path):
    (tmp_path / "pairs.txt").write_text("10 300\nA\t1\n")
    with pytest.raises(InputError, match=r"pairs.txt:2: expected 3 or 4 fields, got 2"):
        lfw.read_pairs(tmp_path / "pairs.txt")


def test_separable_embeddings_give_perfect_accuracy(tmp_path):
    people = [f"P{i}" for i in range(40)]
    write_pairs(tmp_path, folds=10, per_fold=10, people=people)
    pairs = lfw.read_pairs(tmp_path / "pairs.txt")
    result = lfw.evaluate_verification(
        pairs, lfw.pair_distances(pairs, embeddings_for(people, 0.01))
    )
    assert result.mean_accuracy == 1.0 and result.tar_at_far == 1.0
    assert result.failures_to_enrol == 0


def test_failures_to_enrol_count_as_different(tmp_path):
    people = [f"P{i}" for i in range(40)]
    write_pairs(tmp_path, folds=10, per_fold=10, people=people)
    pairs = lfw.read_pairs(tmp_path / "pairs.txt")
    embeddings = embeddings_for(people, 0.01)
    embeddings["P0/P0_0002.jpg"] = None  # no face found in this photo
    result = lfw.evaluate_verification(pairs, lfw.pair_distances(pairs, embeddings))
    assert result.failures_to_enrol >= 1
    assert result.mean_accuracy < 1.0  # the genuine pair P0 1-2 is now an error


def test_noisy_embeddings_score_below_perfect_and_threshold_is_learned(tmp_path):
    people = [f"P{i}" for i in range(200)]
    write_pairs(tmp_path, folds=10, per_fold=20, people=people)
    pairs = lfw.read_pairs(tmp_path / "pairs.txt")
    result = lfw.evaluate_verification(
        pairs, lfw.pair_distances(pairs, embeddings_for(people, 0.35))
    )
    assert 0.6 < result.mean_accuracy < 1.0
    assert len(set(np.round(result.fold_thresholds, 6))) >= 1


def test_identification_rank1_and_fnir():
    people = {f"P{i}": [f"P{i}/P{i}_{n:04d}.jpg" for n in (1, 2)] for i in range(50)}
    people.update({f"S{i}": [f"S{i}/S{i}_0001.jpg"] for i in range(200)})
    names = [p for photos in people.values() for p in photos]
    rng = np.random.default_rng(1)
    centres = {person: rng.normal(size=16) for person in people}
    embeddings = {
        photo: centres[photo.split("/")[0]] + 0.01 * rng.normal(size=16) for photo in names
    }
    result = lfw.evaluate_identification(people, embeddings)
    assert result.gallery_size == 50 and result.mated_probes == 50
    assert result.non_mated_probes == 200
    assert result.rank1_hit_rate == 1.0 and result.fnir_at_fpir == 0.0
    embeddings["P3/P3_0002.jpg"] = None
    assert lfw.evaluate_identification(people, embeddings).rank1_hit_rate == pytest.approx(49 / 50)


def test_wrong_merges_finds_the_most_mixed_identity_and_merged_lookalikes():
    from facesift.eval.lfw import wrong_merges

    people = {
        "Tia_Mowry": ["t1"],
        "Tamara_Mowry": ["t2"],
        "A": ["a1", "a2"],
        "B": ["b1"],
        "C": ["c1"],
        "Big": [f"g{i}" for i in range(25)],
    }
    labels = ["Tia_Mowry", "Tamara_Mowry", "A", "A", "B", "C"] + ["Big"] * 25
    # Groups: the twins together; A, B and C together with Big (who has more than 20 photos
    # and so is not counted as one of the mixed identity's people).
    predicted = np.array([0, 0, 1, 1, 1, 1] + [1] * 25)
    wrong = wrong_merges(labels, predicted, people)
    assert wrong.largest_people == 3
    assert wrong.largest_faces == 4
    assert wrong.largest_names[0] == "A"
    assert set(wrong.largest_names) == {"A", "B", "C"}
    assert wrong.mixed_identities == 2
    assert wrong.lookalikes_merged == (("Tia_Mowry", "Tamara_Mowry"),)


def test_no_wrong_merges_when_every_identity_is_one_person():
    from facesift.eval.lfw import wrong_merges

    people = {"A": ["a1", "a2"], "B": ["b1"]}
    wrong = wrong_merges(["A", "A", "B"], np.array([0, 0, 2]), people)
    assert (wrong.largest_people, wrong.mixed_identities, wrong.lookalikes_merged) == (0, 0, ())

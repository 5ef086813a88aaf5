"""Demographic differentials recomputed on a small labelled set whose answers are known.

Eight-dimensional embeddings are placed by hand, so every distance is known: people of group A
("A", women) sit near 2·e1 (two of them close enough to false-match), a third far away; people
of group B ("B", men) near 2·e3, one pair of them close too. The figures below are counted on
paper from those positions.
"""

import json

import numpy as np
import pytest

from facesift.errors import InputError
from facesift.eval import demographics

E = np.eye(8)
PEOPLE = {
    "a1": ["a1/a1_0001.jpg", "a1/a1_0002.jpg"],
    "a2": ["a2/a2_0001.jpg", "a2/a2_0002.jpg"],
    "a3": ["a3/a3_0001.jpg"],
    "b1": ["b1/b1_0001.jpg", "b1/b1_0002.jpg"],
    "b2": ["b2/b2_0001.jpg"],
    "c1": ["c1/c1_0001.jpg", "c1/c1_0002.jpg"],  # labels tie: unlabelled
}
EMBEDDINGS = {
    "a1/a1_0001.jpg": 2 * E[0],
    "a1/a1_0002.jpg": 2 * E[0] + 0.1 * E[7],  # genuine 0.1: a match
    "a2/a2_0001.jpg": 2 * E[0] + 0.5 * E[6],  # 0.5 and 0.51 from a1: two false matches
    "a2/a2_0002.jpg": 2 * E[0] + 0.5 * E[6] + 1.0 * E[5],  # genuine 1.0: a non-match
    "a3/a3_0001.jpg": 2 * E[1],
    "b1/b1_0001.jpg": 2 * E[2],
    "b1/b1_0002.jpg": 2 * E[2] + 0.2 * E[7],  # genuine 0.2: a match
    "b2/b2_0001.jpg": 2 * E[2] + 0.3112 * E[6],  # 0.31 and 0.37 from b1: two false matches
    "c1/c1_0001.jpg": 2 * E[4],
    "c1/c1_0002.jpg": 2 * E[4] + 0.1 * E[7],
}
LABELS = """image\trace\tgender
a1/a1_0001.jpg\tA\tF
a1/a1_0002.jpg\tA\tF
a2/a2_0001.jpg\tA\tF
a2/a2_0002.jpg\tambiguous_none\tF
a3/a3_0001.jpg\tA\tF
b1/b1_0001.jpg\tB\tM
b1/b1_0002.jpg\tB\tNA
b2/b2_0001.jpg\tB\tM
c1/c1_0001.jpg\tA\tF
c1/c1_0002.jpg\tB\tM
"""


@pytest.fixture()
def report(tmp_path):
    labels_file = tmp_path / "labels.tsv"
    labels_file.write_text(LABELS)
    labels = demographics.read_image_labels(labels_file, {"race": "race", "gender": "gender"})
    return demographics.measure(
        PEOPLE,
        {k: v.astype(np.float32) for k, v in EMBEDDINGS.items()},
        labels,
        ("race", "gender"),
        threshold=0.8,
        target_fmr=0.3,
        cluster_threshold=0.05,
        model="hand-placed",
        measurable_errors=0.5,  # B has 2 impostor pairs: 0.6 expected false matches at 0.3
    )


def group(report, attribute, name):
    (found,) = [g for g in report.groups if g.attribute == attribute and g.group == name]
    return found


def test_person_labels_take_the_majority_and_leave_ties_unlabelled(tmp_path):
    (tmp_path / "l.tsv").write_text(LABELS)
    labels = demographics.read_image_labels(tmp_path / "l.tsv", {"race": "race"})
    assert "a2/a2_0002.jpg" not in labels  # ambiguous is no label
    race = demographics.person_labels(PEOPLE, labels, "race")
    assert race == {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "unlabelled"}


def test_fmr_and_fnmr_per_group_are_the_counted_pairs(report):
    a, b = group(report, "race", "A"), group(report, "race", "B")
    # A: a1 x a2 (4 pairs, 2 within 0.8), a1 x a3 (2), a2 x a3 (2): 2 of 8.
    assert (a.fmr.errors, a.fmr.trials) == (2, 8)
    # A's genuine pairs: a1 at 0.1 (match), a2 at 1.0 (miss).
    assert (a.fnmr.errors, a.fnmr.trials) == (1, 2)
    # B: b1 x b2, both within 0.8; b1's genuine pair at 0.2.
    assert (b.fmr.errors, b.fmr.trials) == (2, 2)
    assert (b.fnmr.errors, b.fnmr.trials) == (0, 1)
    assert (a.people, a.images, b.people, b.images) == (3, 5, 2, 3)
    # The gender groups hold the same people (c1 ties on gender as on race: unlabelled).
    assert group(report, "gender", "F").fmr == a.fmr
    cell = group(report, "race x gender", "A / F")
    assert cell.fmr == a.fmr and cell.fnmr == a.fnmr


def test_cross_group_fmr_and_everyone(report):
    assert report.cross_fmr[("A", "B")] == demographics.Rate(0, 15)
    assert report.cross_fmr[("A", "A")] == demographics.Rate(2, 8)
    everyone = report.overall
    # 45 pairs of 10 photos: 4 genuine (a1, a2, b1, c1), 41 impostor, 4 of them false matches.
    assert everyone["fmr"] == demographics.Rate(4, 41)
    assert everyone["fnmr"] == demographics.Rate(1, 4)


def test_open_set_figures_at_the_one_percent_fpir_threshold(report):
    # Non-mated probes a3 (far) and b2 (0.31 from b1's gallery photo): FPIR 1% of 2 probes
    # allows no alarm, so the threshold sits just below 0.3112; a2's mate at 1.0 is then a miss.
    assert report.open_set_threshold == pytest.approx(0.3112, abs=1e-4)
    a, b = group(report, "race", "A"), group(report, "race", "B")
    assert (a.fnir.errors, a.fnir.trials) == (1, 2)
    assert (b.fnir.errors, b.fnir.trials) == (0, 1)
    assert (a.fpir.trials, a.fpir.errors, b.fpir.trials, b.fpir.errors) == (1, 0, 1, 0)


def test_worst_to_best_and_the_equal_protection_threshold(report):
    spread = report.worst_to_best("race", "fmr")
    assert spread == {"worst": "B", "best": "A", "ratio": pytest.approx(4.0)}
    # FNMR: B made no error, so the ratio is unbounded and not given as a number.
    assert report.worst_to_best("race", "fnmr")["ratio"] is None
    # A's own FMR stays within 0.3 up to just below 1.118 (its third false match); B's up to
    # just below 0.3112. The strictest is B's: the 0.0025 bin edge below it.
    assert group(report, "race", "A").threshold_for_target == pytest.approx(1.1175)
    assert report.strictest_threshold == pytest.approx(0.31)
    figures = report.to_dict()
    json.dumps(figures)  # what --out writes
    assert figures["strictest_threshold"] == pytest.approx(0.31)
    assert figures["false_match_rate_for_strictest"] == pytest.approx(0.0)


def test_too_few_impostor_pairs_set_no_threshold(tmp_path):
    (tmp_path / "l.tsv").write_text(LABELS)
    labels = demographics.read_image_labels(tmp_path / "l.tsv", {"race": "race"})
    report = demographics.measure(
        PEOPLE,
        EMBEDDINGS,
        labels,
        ("race",),
        threshold=0.8,
        target_fmr=0.3,
        cluster_threshold=0.05,
        model="hand-placed",
    )
    # 8 pairs cannot measure an FMR of 0.3 with 10 expected errors.
    assert report.strictest_threshold is None


def test_clustering_merges_are_counted_per_person():
    merged = demographics._people_merged(["x", "x", "y", "z"], np.asarray([0, 0, 0, 1]))
    assert merged == {"x": True, "y": True, "z": False}


def test_wilson_interval_brackets_the_rate_and_handles_the_edges():
    low, high = demographics.Rate(5, 100).interval
    assert low < 0.05 < high and low == pytest.approx(0.0215, abs=1e-3)
    assert demographics.Rate(0, 50).interval[0] == 0.0
    assert demographics.Rate(50, 50).interval[1] == 1.0
    assert demographics.Rate(0, 0).interval is None


def test_a_label_file_without_the_column_names_what_it_has(tmp_path):
    (tmp_path / "l.csv").write_text("image,ethnicity\nx/x_0001.jpg,A\n")
    with pytest.raises(InputError, match=r"no column 'race'.*image, ethnicity"):
        demographics.read_image_labels(tmp_path / "l.csv", {"race": "race"})
    with pytest.raises(InputError, match="cannot read"):
        demographics.read_image_labels(tmp_path / "missing.tsv", {"race": "race"})


def test_markdown_shows_counts_and_intervals(report):
    text = demographics.markdown(report)
    assert "| A | 3 | 5 | 25.0% (2 / 8;" in text
    assert "A x B: 0% (0 / 15; 0%–" in text
    assert "threshold of 0.310" in text

"""Demographic differentials, in the style of NIST FRTE Part 3, from an operator's labelled data.

The evaluation set is laid out like LFW (``<Person>/<Person>_NNNN.jpg``) with a label file that
gives attributes per image (race and gender, say). Labels are made per PERSON, from the majority
of their labelled images (a tie leaves the person unlabelled): an impostor pair is "within a
group" when both people belong to it, and a person whose photos a classifier labelled
inconsistently is counted once. facesift never infers these attributes; they come only from the
operator's evaluation data, and they are used only here.

Reported per group of each attribute and per cell of their cross product, at the deployment's
operating threshold (the distance at the configured false-match rate):
* FMR over impostor pairs within the group, and the group-by-group FMR matrix;
* FNMR over the group's genuine pairs;
* open-set FNIR and FPIR (LFW's open-set protocol, ``lfw.open_set_probes``), by the probe's group;
* the share of the group's people whom clustering merged with someone else;
each with its counts and a 95% Wilson interval. Pairs and probes of one person are not
independent, so the intervals are narrower than they would be over people; read small cells
(tens of people) as indications, not measurements.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facesift.errors import InputError
from facesift.eval.lfw import cluster_labels, euclidean_distances, labelled_faces, open_set_probes

UNKNOWN = "unlabelled"
# Values that say "no label": missing, explicitly unknown, or a classifier's ambiguous output.
_NO_LABEL = {"", "na", "n/a", "nan", "none", "unknown", "unlabelled", "?"}
_EDGES = np.arange(0.0, 2.0 + 1e-9, 0.0025)  # distance bins for the DET curves
Z95 = 1.959963984540054
# Open-set figures are read where everyone's FPIR is 1%, as NIST reports FNIR at a fixed FPIR:
# at the 1:1 threshold a 1,680-person gallery alarms on most strangers, which says little.
OPEN_SET_FPIR = 0.01
# A group's own threshold counts towards "equal protection" only where its impostor pairs can
# measure the target: at least this many false matches expected at it.
MEASURABLE_ERRORS = 10


def is_label(value: str) -> bool:
    text = value.strip().lower()
    return text not in _NO_LABEL and not text.startswith("ambiguous")


# --- labels ------------------------------------------------------------------------------------


def read_image_labels(
    path: Path,
    columns: dict[str, str],
    image_column: str = "image",
    unlabelled: Iterable[str] = (),
) -> dict[str, dict[str, str]]:
    """Image path (relative to the evaluation root) → {attribute: value} from a TSV or CSV file;
    ``columns`` maps each attribute to its column. Unlabelled values (missing, unknown,
    ambiguous, or one of ``unlabelled``) are left out."""
    skipped = {value.strip().lower() for value in unlabelled}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the label file ({error})") from None
    dialect = "excel-tab" if "\t" in text.partition("\n")[0] else "excel"
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = reader.fieldnames or []
    missing = [c for c in (image_column, *columns.values()) if c not in header]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(map(repr, missing))} (it has: {', '.join(header)})"
        )
    labels: dict[str, dict[str, str]] = {}
    for row in reader:
        values = {
            attribute: (row[column] or "").strip()
            for attribute, column in columns.items()
            if is_label(row[column] or "") and (row[column] or "").strip().lower() not in skipped
        }
        if values:
            labels[row[image_column].strip()] = values
    if not labels:
        raise InputError(f"{path}: no labelled images in columns {', '.join(columns.values())}")
    return labels


def person_labels(
    people: dict[str, list[str]], image_labels: dict[str, dict[str, str]], attribute: str
) -> dict[str, str]:
    """Each person's label: the majority of their labelled images' values (ties: unlabelled)."""
    result = {}
    for person, photos in people.items():
        votes = Counter(
            image_labels[p][attribute]
            for p in photos
            if p in image_labels and attribute in image_labels[p]
        )
        ranked = votes.most_common(2)
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            result[person] = ranked[0][0]
        else:
            result[person] = UNKNOWN
    return result


# --- rates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``errors`` of ``trials``, with a 95% Wilson score interval."""

    errors: int
    trials: int

    @property
    def value(self) -> float | None:
        return self.errors / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.trials:
            return None
        n, p = self.trials, self.errors / self.trials
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        low = 0.0 if self.errors == 0 else max(0.0, centre - half)
        high = 1.0 if self.errors == self.trials else min(1.0, centre + half)
        return low, high

    def to_dict(self) -> dict:
        return {"errors": self.errors, "trials": self.trials, "rate": self.value,
                "ci95": self.interval}  # fmt: skip


@dataclass(frozen=True)
class GroupFigures:
    attribute: str  # "race", "gender", or "race x gender" for a cell
    group: str
    people: int
    images: int
    failures_to_enrol: int  # photos of the group where no face was found (left out of pairs)
    fmr: Rate  # impostor pairs with both people in the group
    fnmr: Rate  # genuine pairs of the group's people
    fnir: Rate  # open-set mated probes of the group
    fpir: Rate  # open-set non-mated probes of the group
    merged: Rate  # people of the group whom clustering put with someone else
    # The largest distance at which the group's own FMR stays within the target (None: the
    # group has too few impostor pairs to measure it, MEASURABLE_ERRORS).
    threshold_for_target: float | None
    det: tuple[np.ndarray, np.ndarray] = field(repr=False)  # (FMR, FNMR) at each of _EDGES

    def to_dict(self) -> dict:
        return {
            "attribute": self.attribute,
            "group": self.group,
            "people": self.people,
            "images": self.images,
            "failures_to_enrol": self.failures_to_enrol,
            "fmr": self.fmr.to_dict(),
            "fnmr": self.fnmr.to_dict(),
            "fnir": self.fnir.to_dict(),
            "fpir": self.fpir.to_dict(),
            "merged_in_clustering": self.merged.to_dict(),
            "threshold_for_target": self.threshold_for_target,
            "det": {
                "fmr": [float(f"{v:.6g}") for v in self.det[0]],
                "fnmr": [float(f"{v:.6g}") for v in self.det[1]],
            },
        }


@dataclass(frozen=True)
class DemographicReport:
    model: str
    threshold: float  # the operating distance (1:1, pairs)
    target_fmr: float  # the false-match rate it was set for
    open_set_threshold: float  # where everyone's FPIR is OPEN_SET_FPIR (probes)
    cluster_threshold: float
    attributes: tuple[str, ...]
    groups: tuple[GroupFigures, ...]  # per group of each attribute, then per cell
    # FMR between people of two groups of the first attribute: {(a, b): Rate}, a <= b
    cross_fmr: dict[tuple[str, str], Rate]
    overall: dict[str, Rate]  # the same figures over everyone (labelled or not)
    overall_fmr_curve: np.ndarray = field(repr=False)  # FMR per distance bin, everyone

    def of(self, attribute: str) -> list[GroupFigures]:
        return [g for g in self.groups if g.attribute == attribute]

    def worst_to_best(self, attribute: str, metric: str) -> dict:
        """The highest and lowest rate of ``metric`` among the attribute's groups, and their
        ratio (None when the best group made no error: the ratio is then unbounded)."""
        rated = [(getattr(g, metric).value, g.group) for g in self.of(attribute)]
        rated = [(v, name) for v, name in rated if v is not None]
        if len(rated) < 2:
            return {"worst": None, "best": None, "ratio": None}
        (best, best_name), (worst, worst_name) = min(rated), max(rated)
        return {
            "worst": worst_name,
            "best": best_name,
            "ratio": worst / best if best > 0 else None,
        }

    @property
    def strictest_threshold(self) -> float | None:
        """The largest distance at which every labelled group's own FMR stays within the target:
        the threshold that gives each group at least the protection the policy promises."""
        limits = [
            g.threshold_for_target
            for g in self.groups
            if g.attribute in self.attributes and g.threshold_for_target is not None
        ]
        return min(limits) if limits else None

    def overall_fmr_at(self, distance: float) -> float:
        """Everyone's FMR at ``distance`` on this data (what to set the policy's rate to)."""
        position = int(np.searchsorted(_EDGES, distance, side="right")) - 1
        return float(self.overall_fmr_curve[max(position, 0)])

    def to_dict(self) -> dict:
        strictest = self.strictest_threshold
        return {
            "model": self.model,
            "threshold": self.threshold,
            "target_fmr": self.target_fmr,
            "open_set_threshold": self.open_set_threshold,
            "open_set_fpir": OPEN_SET_FPIR,
            "cluster_threshold": self.cluster_threshold,
            "attributes": list(self.attributes),
            "det_distances": [round(float(d), 4) for d in _EDGES],
            "overall": {name: rate.to_dict() for name, rate in self.overall.items()},
            "groups": [g.to_dict() for g in self.groups],
            "cross_fmr": [
                {"groups": list(pair), **rate.to_dict()} for pair, rate in self.cross_fmr.items()
            ],
            "worst_to_best": {
                attribute: {
                    metric: self.worst_to_best(attribute, metric)
                    for metric in ("fmr", "fnmr", "fnir", "fpir", "merged")
                }
                for attribute in self.attributes
            },
            "strictest_threshold": strictest,
            "false_match_rate_for_strictest": (
                None if strictest is None else self.overall_fmr_at(strictest)
            ),
        }


# --- measurement -------------------------------------------------------------------------------


def measure(
    people: dict[str, list[str]],
    embeddings: dict[str, np.ndarray | None],
    image_labels: dict[str, dict[str, str]],
    attributes: tuple[str, ...],
    *,
    threshold: float,
    target_fmr: float,
    cluster_threshold: float,
    model: str,
    measurable_errors: float = MEASURABLE_ERRORS,
) -> DemographicReport:
    """Every figure of the report from the embeddings of one evaluation set."""
    by_person = {a: person_labels(people, image_labels, a) for a in attributes}

    def cell_of(person: str) -> str:
        return " / ".join(by_person[a][person] for a in attributes)

    face_people, matrix = labelled_faces(people, embeddings)
    cells = sorted({cell_of(p) for p in people})
    cell_index = {c: i for i, c in enumerate(cells)}
    face_cell = np.asarray([cell_index[cell_of(p)] for p in face_people])
    face_person = np.unique(np.asarray(face_people), return_inverse=True)[1]
    genuine, impostor = _pair_histograms(matrix, face_person, face_cell, len(cells), threshold)
    edges = _edges_with(threshold)
    at_threshold = int(np.searchsorted(edges, threshold))
    probes = open_set_probes(people, embeddings)
    open_set_threshold = probes.threshold_at_fpir(OPEN_SET_FPIR)
    predicted = cluster_labels(matrix, cluster_threshold)
    merged_people = _people_merged(face_people, predicted)

    def figures(attribute: str, group: str, members: list[int]) -> GroupFigures:
        """Figures over the cells ``members`` (indices into ``cells``)."""
        chosen = set(members)
        g_hist = genuine[members].sum(0)
        i_hist = sum(
            (impostor[a, b] for a in members for b in members if a <= b),
            start=np.zeros(len(edges) + 1, np.int64),
        )
        group_people = [p for p in people if cell_index[cell_of(p)] in chosen]
        in_group = set(group_people)
        photos = [ph for p in group_people for ph in people[p]]
        mated = np.asarray([p in in_group for p in probes.mated_people], bool)
        non_mated = np.asarray([p in in_group for p in probes.non_mated_people], bool)
        enrolled = [p for p in group_people if p in merged_people]
        return GroupFigures(
            attribute=attribute,
            group=group,
            people=len(group_people),
            images=len(photos),
            failures_to_enrol=sum(embeddings[ph] is None for ph in photos),
            fmr=Rate(int(i_hist[: at_threshold + 1].sum()), int(i_hist.sum())),
            fnmr=Rate(int(g_hist[at_threshold + 1 :].sum()), int(g_hist.sum())),
            fnir=Rate(*probes.fnir(open_set_threshold, mated)),
            fpir=Rate(*probes.fpir(open_set_threshold, non_mated)),
            merged=Rate(sum(merged_people[p] for p in enrolled), len(enrolled)),
            threshold_for_target=(
                _threshold_for(i_hist, edges, target_fmr)
                if i_hist.sum() * target_fmr >= measurable_errors
                else None
            ),
            det=_det(g_hist, i_hist, edges),
        )

    groups: list[GroupFigures] = []
    for position, attribute in enumerate(attributes):
        values = sorted({c.split(" / ")[position] for c in cells} - {UNKNOWN})
        for value in values:
            members = [i for i, c in enumerate(cells) if c.split(" / ")[position] == value]
            groups.append(figures(attribute, value, members))
    if len(attributes) > 1:
        for i, cell in enumerate(cells):
            if UNKNOWN not in cell.split(" / "):
                groups.append(figures(" x ".join(attributes), cell, [i]))
    everyone = figures("all", "everyone", list(range(len(cells))))
    first_values = sorted({c.split(" / ")[0] for c in cells} - {UNKNOWN})
    cells_of = {v: [i for i, c in enumerate(cells) if c.split(" / ")[0] == v] for v in first_values}
    cross = {}
    for a_position, a in enumerate(first_values):
        for b in first_values[a_position:]:
            hist = sum(
                (impostor[min(x, y), max(x, y)] for x in cells_of[a] for y in cells_of[b])
                if a != b
                else (impostor[x, y] for x in cells_of[a] for y in cells_of[a] if x <= y),
                start=np.zeros(len(edges) + 1, np.int64),
            )
            cross[(a, b)] = Rate(int(hist[: at_threshold + 1].sum()), int(hist.sum()))
    everyone_impostor = impostor.sum((0, 1))
    return DemographicReport(
        model=model,
        threshold=threshold,
        target_fmr=target_fmr,
        open_set_threshold=open_set_threshold,
        cluster_threshold=cluster_threshold,
        attributes=tuple(attributes),
        groups=tuple(groups),
        cross_fmr=cross,
        overall={
            "fmr": everyone.fmr,
            "fnmr": everyone.fnmr,
            "fnir": everyone.fnir,
            "fpir": everyone.fpir,
            "merged": everyone.merged,
        },
        overall_fmr_curve=_fmr_on_fixed_edges(everyone_impostor, edges),
    )


def _edges_with(threshold: float) -> np.ndarray:
    """The DET bins, with the operating threshold as an edge so its counts are exact."""
    return np.unique(np.append(_EDGES, threshold))


def _pair_histograms(
    matrix: np.ndarray, person: np.ndarray, cell: np.ndarray, cells: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance histograms of genuine pairs per cell [cell, bin] and of impostor pairs per pair
    of cells [a, b, bin] (a <= b), over each unordered pair of faces once. Bin k holds
    distances in (edges[k-1], edges[k]]; the last bin, beyond every edge."""
    edges = _edges_with(threshold)
    bins = len(edges) + 1
    genuine = np.zeros(cells * bins, np.int64)
    impostor = np.zeros(cells * cells * bins, np.int64)
    block = 512
    for start in range(0, len(matrix), block):
        stop = min(start + block, len(matrix))
        # Only columns after each row: every unordered pair once.
        distances = euclidean_distances(matrix[start:stop], matrix[start:])
        upper = np.triu(np.ones(distances.shape, bool), k=1)
        rows, cols = np.nonzero(upper)
        where = np.searchsorted(edges, distances[rows, cols])
        a, b = cell[start + rows], cell[start + cols]
        low, high = np.minimum(a, b), np.maximum(a, b)
        same = person[start + rows] == person[start + cols]
        genuine += np.bincount(low[same] * bins + where[same], minlength=len(genuine))
        key = (low[~same] * cells + high[~same]) * bins + where[~same]
        impostor += np.bincount(key, minlength=len(impostor))
    return genuine.reshape(cells, bins), impostor.reshape(cells, cells, bins)


def _threshold_for(impostor_hist: np.ndarray, edges: np.ndarray, target: float) -> float | None:
    total = impostor_hist.sum()
    if not total:
        return None
    fmr = np.cumsum(impostor_hist)[: len(edges)] / total  # FMR at each edge
    allowed = np.nonzero(fmr <= target)[0]
    return float(edges[allowed[-1]]) if len(allowed) else float(edges[0])


def _det(genuine_hist, impostor_hist, edges) -> tuple[np.ndarray, np.ndarray]:
    """FMR and FNMR at each of the fixed _EDGES (``edges`` holds one more, the threshold)."""
    i_total, g_total = max(impostor_hist.sum(), 1), max(genuine_hist.sum(), 1)
    fmr = np.cumsum(impostor_hist)[: len(edges)] / i_total
    fnmr = 1.0 - np.cumsum(genuine_hist)[: len(edges)] / g_total
    fixed = np.isin(edges, _EDGES)
    return fmr[fixed], fnmr[fixed]


def _fmr_on_fixed_edges(impostor_hist: np.ndarray, edges: np.ndarray) -> np.ndarray:
    fmr = np.cumsum(impostor_hist)[: len(edges)] / max(impostor_hist.sum(), 1)
    return np.interp(_EDGES, edges, fmr)


def _people_merged(face_people: list[str], predicted: np.ndarray) -> dict[str, bool]:
    """Per person: whether some identity holding their faces also holds someone else's."""
    members: dict[int, set[str]] = {}
    for person, label in zip(face_people, predicted, strict=True):
        members.setdefault(int(label), set()).add(person)
    merged = dict.fromkeys(face_people, False)
    for group in members.values():
        if len(group) > 1:
            for person in group:
                merged[person] = True
    return merged


# --- presentation ------------------------------------------------------------------------------


def rate_text(rate: Rate) -> str:
    """``1.2% (34 / 2,800; 0.9–1.6%)``: the rate, its counts and its 95% interval."""
    if not rate.trials:
        return "n/a (no trials)"
    low, high = rate.interval or (0.0, 0.0)
    return (
        f"{_percent(rate.value or 0.0)} ({rate.errors:,} / {rate.trials:,}; "
        f"{_percent(low)}–{_percent(high)})"
    )


def _percent(value: float) -> str:
    if value == 0:
        return "0%"
    if value >= 0.1:
        return f"{100 * value:.1f}%"
    return f"{100 * value:.2g}%"


def markdown(report: DemographicReport) -> str:
    """Tables of the report, for docs and terminals."""
    lines = [
        f"Model {report.model}; operating threshold {report.threshold:.3f} (FMR "
        f"{report.target_fmr:g} on its calibration) for FMR and FNMR; open-set FNIR and FPIR "
        f"at {report.open_set_threshold:.3f}, where everyone's FPIR is {OPEN_SET_FPIR:g}; "
        f"clustering link distance {report.cluster_threshold:.3f}. Rates: value (errors / "
        "trials; 95% interval).",
        "",
    ]
    headers = "| group | people | images | FMR | FNMR | FNIR | FPIR | merged in clustering |"
    for attribute in (*report.attributes, " x ".join(report.attributes)):
        groups = report.of(attribute)
        if not groups:
            continue
        lines += [f"**By {attribute}**", "", headers, "|---|---:|---:|---|---|---|---|---|"]
        for g in [*groups]:
            lines.append(
                f"| {g.group} | {g.people:,} | {g.images:,} | {rate_text(g.fmr)} | "
                f"{rate_text(g.fnmr)} | {rate_text(g.fnir)} | {rate_text(g.fpir)} | "
                f"{rate_text(g.merged)} |"
            )
        lines.append("")
    overall = report.overall
    lines += [
        f"**Everyone**: FMR {rate_text(overall['fmr'])}, FNMR {rate_text(overall['fnmr'])}, "
        f"FNIR {rate_text(overall['fnir'])}, FPIR {rate_text(overall['fpir'])}, merged "
        f"{rate_text(overall['merged'])}.",
        "",
        "**Worst to best group** (ratio of rates; n/a where the best group made no error):",
        "",
    ]
    for attribute in report.attributes:
        parts = []
        for metric in ("fmr", "fnmr", "fnir", "fpir", "merged"):
            spread = report.worst_to_best(attribute, metric)
            if spread["worst"] is None:
                continue
            ratio = "n/a" if spread["ratio"] is None else f"{spread['ratio']:.1f}x"
            parts.append(f"{metric.upper()} {ratio} ({spread['worst']} / {spread['best']})")
        lines.append(f"- {attribute}: " + "; ".join(parts))
    first = report.attributes[0]
    lines += ["", f"**FMR between groups of {first}** (impostor pairs, one of each group):", ""]
    for (a, b), rate in report.cross_fmr.items():
        lines.append(f"- {a} x {b}: {rate_text(rate)}")
    strictest = report.strictest_threshold
    if strictest is not None:
        lines += [
            "",
            f"**Equal protection**: a threshold of {strictest:.3f} keeps every group's own FMR "
            f"within {report.target_fmr:g}; on this data that is an overall FMR of "
            f"{report.overall_fmr_at(strictest):.2g} (FACESIFT_MATCH_FALSE_MATCH_RATE).",
        ]
    return "\n".join(lines) + "\n"


def plot_det(figures: Iterable[dict], attribute: str, out: Path) -> Path:
    """DET curves (FNMR against FMR, log-log) per group of ``attribute``, one panel per model;
    ``figures`` are reports as ``DemographicReport.to_dict`` writes them (``--out`` files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = list(figures)
    figure, axes = plt.subplots(1, len(figures), figsize=(6 * len(figures), 4.6), squeeze=False)
    for axis, report in zip(axes[0], figures, strict=True):
        for g in (g for g in report["groups"] if g["attribute"] == attribute):
            fmr, fnmr = np.asarray(g["det"]["fmr"]), np.asarray(g["det"]["fnmr"])
            keep = (fmr > 0) & (fnmr > 0)
            axis.plot(fmr[keep], fnmr[keep], label=f"{g['group']} ({g['people']:,} people)")
        axis.axvline(report["target_fmr"], color="grey", linestyle=":", linewidth=1)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlim(1e-6, 1)
        axis.set_ylim(1e-4, 1)
        axis.set_xlabel("false-match rate (impostor pairs within the group)")
        axis.set_ylabel("false non-match rate")
        axis.set_title(f"{report['model']}: by {attribute}", fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out

"""``facesift eval``: measure accuracy on LFW with the same pipeline the product uses."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from facesift.cli.common import WORKERS_HELP
from facesift.cli.output import print_json
from facesift.config import Settings
from facesift.embed.base import embedding_space_of
from facesift.eval import demographics, lfw
from facesift.search.calibration import load_calibration, shipped_calibration

app = typer.Typer(help="Measure accuracy on LFW (verification, identification, calibration).")
console = Console()
errors = Console(stderr=True)

Root = Annotated[Path, typer.Option("--root", help="LFW folder: <Person>/<Person>_NNNN.jpg.")]
Workers = Annotated[int | None, typer.Option(help=WORKERS_HELP)]
Cache = Annotated[
    Path | None,
    typer.Option(help="Embedding cache file (default: ./facesift-eval-cache/lfw-<settings>.npz)."),
]


def _settings(workers: int | None) -> Settings:
    return Settings(workers=workers) if workers else Settings()


def _embeddings(root: Path, photos: list[str], settings: Settings, cache: Path | None):
    cache = cache or lfw.default_cache(settings)
    with Progress(
        TextColumn("[bold]embedding LFW photos"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
    ) as progress:
        task = progress.add_task("embed", total=len(photos))
        return lfw.embed_photos(
            root,
            photos,
            settings,
            cache=cache,
            on_progress=lambda n: progress.update(task, advance=n),
        )


def _all_of_lfw(root: Path, workers: int | None, cache: Path | None):
    settings = _settings(workers)
    people = lfw.lfw_images(root)
    photos = [p for group in people.values() for p in group]
    return settings, people, _embeddings(root, photos, settings, cache)


@app.command("lfw")
def eval_lfw(
    root: Root,
    pairs: Annotated[Path, typer.Option("--pairs", help="LFW View-2 pairs.txt")],
    workers: Workers = None,
    cache: Cache = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """LFW View-2 verification: 10-fold accuracy (mean ± std) and TAR at FAR = 1e-3."""
    settings = _settings(workers)
    pair_list = lfw.read_pairs(pairs)
    photos = sorted({p.a for p in pair_list} | {p.b for p in pair_list})
    embeddings = _embeddings(root, photos, settings, cache)
    result = lfw.evaluate_verification(pair_list, lfw.pair_distances(pair_list, embeddings))
    if as_json:
        print_json(
            console,
            dict(
                vars(result), mean_accuracy=result.mean_accuracy, std_accuracy=result.std_accuracy
            ),
        )
        return
    console.print(
        f"LFW View 2 ({result.pairs} pairs, {settings.detector} + {settings.embedder}):\n"
        f"  accuracy {100 * result.mean_accuracy:.2f}% ± {100 * result.std_accuracy:.2f}% "
        f"(10 folds, threshold chosen on the other 9; mean threshold "
        f"{sum(result.fold_thresholds) / len(result.fold_thresholds):.3f})\n"
        f"  TAR {100 * result.tar_at_far:.2f}% at FAR {result.far_target:g} "
        f"(threshold {result.threshold_at_far:.3f})\n"
        f"  pairs with a failure to enrol (no face found, counted as 'different'): "
        f"{result.failures_to_enrol}"
    )


@app.command("identify")
def eval_identify(
    root: Root,
    workers: Workers = None,
    cache: Cache = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open-set identification on LFW: rank-1 hit rate and FNIR at FPIR = 1%."""
    settings, people, embeddings = _all_of_lfw(root, workers, cache)
    result = lfw.evaluate_identification(people, embeddings)
    if as_json:
        print_json(console, result)
        return
    console.print(
        f"LFW open-set identification ({settings.detector} + {settings.embedder}):\n"
        f"  gallery {result.gallery_size} people (one photo each), "
        f"{result.mated_probes} mated probes, {result.non_mated_probes} non-mated probes\n"
        f"  rank-1 hit rate {100 * result.rank1_hit_rate:.2f}%\n"
        f"  FNIR {100 * result.fnir_at_fpir:.2f}% at FPIR {100 * result.fpir_target:g}% "
        f"(threshold {result.threshold_at_fpir:.3f})\n"
        f"  probes with no face found (counted as misses / no alarm): {result.failures_to_enrol}\n"
        + "  FNIR at other FPIR: "
        + ", ".join(
            f"{100 * fnir:.1f}% at {100 * fpir:g}% (threshold {limit:.3f})"
            for fpir, (fnir, limit) in result.fnir_curve.items()
        )
    )


@app.command("calibrate")
def eval_calibrate(
    root: Root,
    out: Annotated[Path, typer.Option("--out", help="Where to write the calibration JSON.")],
    cluster_threshold: Annotated[
        float | None,
        typer.Option(
            help="Default link distance for `facesift cluster`, chosen with `eval cluster` "
            "(kept from an existing --out file of the same space when not given)."
        ),
    ] = None,
    workers: Workers = None,
    cache: Cache = None,
) -> None:
    """Measure FMR/FNMR over all genuine and impostor pairs of LFW; write a calibration file."""
    settings, people, embeddings = _all_of_lfw(root, workers, cache)
    space = embedding_space_of(settings.embedder, settings)
    calibration = lfw.calibrate(
        people,
        embeddings,
        space,
        dataset=(
            f"LFW (all pairs), detector {settings.detector}, min face {settings.min_face_size}px"
        ),
    )
    if cluster_threshold is None and out.is_file():
        previous = load_calibration(out)
        if previous.space == space.key:
            cluster_threshold = previous.cluster_threshold
    calibration = dataclasses.replace(calibration, cluster_threshold=cluster_threshold)
    out.write_text(calibration.to_json())
    console.print(
        f"calibration written to {out}: {calibration.genuine_pairs:,} genuine and "
        f"{calibration.impostor_pairs:,} impostor pairs; distance at FMR 1e-3: "
        f"{calibration.threshold_for(1e-3):.3f}, at 1e-4: {calibration.threshold_for(1e-4):.3f}"
    )


CLUSTER_GRID_FMRS = (1e-7, 3e-7, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4)


@app.command("cluster")
def eval_cluster(
    root: Root,
    thresholds: Annotated[
        str,
        typer.Option(
            help="Comma-separated link distances to evaluate (default: the distances at FMR "
            "1e-7 to 3e-4 in the space's calibration)."
        ),
    ] = "",
    workers: Workers = None,
    cache: Cache = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cluster all of LFW with the product's algorithm: pairwise and BCubed precision/recall."""
    settings, people, embeddings = _all_of_lfw(root, workers, cache)
    if thresholds:
        grid = [float(t) for t in thresholds.split(",")]
    else:
        # The distances at a range of false-match rates of this space's calibration: link
        # distances mean nothing across models, rates do.
        calibration = shipped_calibration(embedding_space_of(settings.embedder, settings))
        grid = sorted({round(calibration.threshold_for(rate), 4) for rate in CLUSTER_GRID_FMRS})
    results = lfw.evaluate_clustering(people, embeddings, grid)
    if as_json:
        print_json(
            console,
            [
                dict(
                    vars(q),
                    threshold=t,
                    pairwise_f=q.pairwise_f,
                    bcubed_f=q.bcubed_f,
                    wrong_merges=vars(wrong),
                )
                for t, q, wrong in results
            ],
        )
        return
    console.print(
        "threshold | pairwise P / R / F | BCubed P / R / F | clusters (singletons) | "
        "most mixed identity: people (faces) | look-alike pairs merged"
    )
    for threshold, q, wrong in results:
        console.print(
            f"{threshold:.3f} | {q.pairwise_precision:.3f} / {q.pairwise_recall:.3f} / "
            f"{q.pairwise_f:.3f} | {q.bcubed_precision:.3f} / {q.bcubed_recall:.3f} / "
            f"{q.bcubed_f:.3f} | {q.clusters} ({q.singletons}) | "
            f"{wrong.largest_people} ({wrong.largest_faces}) | "
            f"{', '.join('+'.join(pair) for pair in wrong.lookalikes_merged) or 'none'}",
            highlight=False,
        )
        if wrong.largest_people > 1:
            console.print(f"    most mixed: {', '.join(wrong.largest_names)}", highlight=False)


def _labels(
    path: Path, columns: dict[str, str], image_column: str, unlabelled: str
) -> dict[str, dict[str, str]]:
    """The label file's attributes per image; a column given as '' is not used."""
    used = {attribute: column for attribute, column in columns.items() if column}
    skipped = [value for value in unlabelled.split(",") if value.strip()]
    return demographics.read_image_labels(path, used, image_column, skipped)


def _demographic_report(settings: Settings, people, embeddings, image_labels):
    """Every figure per group, at the thresholds of the model's shipped calibration."""
    calibration = shipped_calibration(embedding_space_of(settings.embedder, settings))
    attributes = tuple(dict.fromkeys(a for labels in image_labels.values() for a in labels))
    with console.status("measuring every pair, probe and cluster by group"):
        return demographics.measure(
            people,
            embeddings,
            image_labels,
            tuple(a for a in ("race", "gender") if a in attributes),
            threshold=calibration.threshold_for(settings.match_false_match_rate),
            target_fmr=settings.match_false_match_rate,
            cluster_threshold=calibration.default_cluster_threshold,
            model=f"{settings.detector} + {settings.embedder}",
        )


@app.command("demographics")
def eval_demographics(
    root: Root,
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            help="TSV or CSV with an image column (path under --root) and one column per "
            "attribute; people are labelled by the majority of their images.",
        ),
    ],
    race_column: Annotated[str, typer.Option(help="Column of the first attribute.")] = "race",
    gender_column: Annotated[
        str, typer.Option(help="Column of the second attribute ('' for none).")
    ] = "gender",
    image_column: Annotated[str, typer.Option(help="Column naming each image.")] = "image",
    unlabelled: Annotated[
        str,
        typer.Option(
            help="Comma-separated values that mean 'no label' besides empty, NA, unknown and "
            "ambiguous* (e.g. 'both')."
        ),
    ] = "",
    plots: Annotated[
        Path | None,
        typer.Option(help="Folder for DET curves per group (det-<attribute>.png)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the figures as JSON to this file.")
    ] = None,
    workers: Workers = None,
    cache: Cache = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Demographic differentials (NIST FRTE Part 3 style): FMR, FNMR, FNIR, FPIR and clustering
    merges per group and per cell, with counts and 95% intervals, at the operating threshold.

    Labels come only from your evaluation data: facesift never infers race or gender."""
    columns = {"race": race_column, "gender": gender_column}
    image_labels = _labels(labels, columns, image_column, unlabelled)
    settings, people, embeddings = _all_of_lfw(root, workers, cache)
    report = _demographic_report(settings, people, embeddings, image_labels)
    figures = report.to_dict()
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
    if plots:
        for attribute in report.attributes:
            path = demographics.plot_det([figures], attribute, plots / f"det-{attribute}.png")
            errors.print(f"DET curves by {attribute}: {path}")
    if as_json:
        print_json(console, figures)
    else:
        console.print(demographics.markdown(report), markup=False, highlight=False, soft_wrap=True)


@app.command("measured")
def eval_measured(
    root: Root,
    pairs: Annotated[Path, typer.Option("--pairs", help="LFW View-2 pairs.txt")],
    labels: Annotated[
        Path, typer.Option("--labels", help="Label file, as for `eval demographics`.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where to write the figures (DATA_DIR/calibration/<space>.measured.json is "
            "where a deployment's reports look for its own).",
        ),
    ],
    race_column: Annotated[str, typer.Option(help="Column of the first attribute.")] = "race",
    gender_column: Annotated[str, typer.Option(help="Column of the second attribute.")] = "gender",
    image_column: Annotated[str, typer.Option(help="Column naming each image.")] = "image",
    unlabelled: Annotated[str, typer.Option(help="Values that mean 'no label'.")] = "",
    workers: Workers = None,
    cache: Cache = None,
) -> None:
    """Verification, open-set identification and demographic differentials in one file: the
    figures `report dpia` quotes for the model in use."""
    image_labels = _labels(
        labels, {"race": race_column, "gender": gender_column}, image_column, unlabelled
    )
    settings, people, embeddings = _all_of_lfw(root, workers, cache)
    space = embedding_space_of(settings.embedder, settings)
    pair_list = lfw.read_pairs(pairs)
    verification = lfw.evaluate_verification(pair_list, lfw.pair_distances(pair_list, embeddings))
    identification = lfw.evaluate_identification(people, embeddings)
    report = _demographic_report(settings, people, embeddings, image_labels)
    figures = report.to_dict()
    figures.pop("det_distances")
    for group in figures["groups"]:
        group.pop("det")  # the curves are for pictures (`eval demographics --plots`)
    record = {
        "space": space.key,
        "model": f"{settings.detector} + {settings.embedder}",
        "dataset": f"LFW ({len(people):,} people) with labels from {labels.name}",
        "measured_at": datetime.now(UTC).date().isoformat(),
        "verification": {
            "pairs": verification.pairs,
            "mean_accuracy": verification.mean_accuracy,
            "std_accuracy": verification.std_accuracy,
            "tar_at_far": verification.tar_at_far,
            "far_target": verification.far_target,
            "failures_to_enrol": verification.failures_to_enrol,
        },
        "identification": {
            "gallery_size": identification.gallery_size,
            "rank1_hit_rate": identification.rank1_hit_rate,
            "fnir_at_fpir": identification.fnir_at_fpir,
            "fpir_target": identification.fpir_target,
            "failures_to_enrol": identification.failures_to_enrol,
        },
        "demographics": figures,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    console.print(f"figures of {space.key} written to {out}")

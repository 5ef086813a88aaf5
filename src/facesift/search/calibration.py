"""Score calibration: what false-match rate a distance corresponds to, measured, not guessed.

A calibration file is produced by ``facesift eval calibrate`` from a labelled dataset (we ship one
measured on LFW): for a grid of distance thresholds, the fraction of impostor pairs (different
people) at or below it (the false-match rate, FMR) and of genuine pairs above it (FNMR).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from facesift.errors import ConfigError
from facesift.types import EmbeddingSpace

# Clustering links faces at a far stricter rate than search: one false link merges two people's
# whole groups. For a space whose calibration names no cluster threshold (an operator's own
# model), links are made at this FMR, where dlib's measured best link distance (0.40) lies.
CLUSTER_LINK_FMR = 4e-6


@dataclass(frozen=True)
class Calibration:
    space: str
    dataset: str
    impostor_pairs: int
    genuine_pairs: int
    thresholds: np.ndarray  # ascending distances
    false_match_rates: np.ndarray  # non-decreasing, one per threshold
    false_non_match_rates: np.ndarray  # non-increasing, one per threshold
    # The link distance `facesift cluster` uses by default, chosen on the same data by
    # `facesift eval cluster` (docs/accuracy.md); None: derived from CLUSTER_LINK_FMR.
    cluster_threshold: float | None = None

    @property
    def resolution(self) -> float:
        """The smallest non-zero FMR this calibration can tell apart from zero."""
        return 1.0 / self.impostor_pairs

    def false_match_rate(self, distance: float) -> float:
        """FMR at ``distance``, interpolated; floored at the measurement's resolution."""
        rate = float(np.interp(distance, self.thresholds, self.false_match_rates))
        return max(rate, self.resolution) if np.isfinite(distance) else 1.0

    def false_non_match_rate(self, distance: float) -> float:
        return float(np.interp(distance, self.thresholds, self.false_non_match_rates))

    def threshold_for(self, false_match_rate: float) -> float:
        """The largest distance whose measured FMR does not exceed ``false_match_rate``."""
        allowed = np.nonzero(self.false_match_rates <= false_match_rate)[0]
        if len(allowed) == 0:
            return float(self.thresholds[0])
        return float(self.thresholds[allowed[-1]])

    @property
    def default_cluster_threshold(self) -> float:
        if self.cluster_threshold is not None:
            return self.cluster_threshold
        return self.threshold_for(CLUSTER_LINK_FMR)

    def to_json(self) -> str:
        cluster = (
            {} if self.cluster_threshold is None else {"cluster_threshold": self.cluster_threshold}
        )
        return json.dumps(
            {
                "space": self.space,
                "dataset": self.dataset,
                "impostor_pairs": self.impostor_pairs,
                "genuine_pairs": self.genuine_pairs,
                **cluster,
                "points": [
                    [round(float(t), 4), float(f), float(n)]
                    for t, f, n in zip(
                        self.thresholds,
                        self.false_match_rates,
                        self.false_non_match_rates,
                        strict=True,
                    )
                ],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        points = np.asarray(data["points"], dtype=np.float64)
        return cls(
            space=data["space"],
            dataset=data["dataset"],
            impostor_pairs=int(data["impostor_pairs"]),
            genuine_pairs=int(data["genuine_pairs"]),
            thresholds=points[:, 0],
            false_match_rates=points[:, 1],
            false_non_match_rates=points[:, 2],
            cluster_threshold=data.get("cluster_threshold"),
        )


def measure_calibration(
    genuine_counts: np.ndarray,
    impostor_counts: np.ndarray,
    edges: np.ndarray,
    space: EmbeddingSpace,
    dataset: str,
) -> Calibration:
    """Build a calibration from histograms of genuine and impostor pair distances over ``edges``."""
    genuine_total, impostor_total = int(genuine_counts.sum()), int(impostor_counts.sum())
    thresholds = np.asarray(edges[1:], dtype=np.float64)
    fmr = np.cumsum(impostor_counts) / impostor_total
    fnmr = 1.0 - np.cumsum(genuine_counts) / genuine_total
    return Calibration(
        space=space.key,
        dataset=dataset,
        impostor_pairs=impostor_total,
        genuine_pairs=genuine_total,
        thresholds=thresholds,
        false_match_rates=fmr,
        false_non_match_rates=np.maximum(fnmr, 0.0),
    )


def calibration_filename(space: EmbeddingSpace) -> str:
    return space.key.replace("/", "_") + ".json"


def find_calibration(space: EmbeddingSpace, data_dir: Path) -> Calibration | None:
    """The calibration for ``space``: the operator's (``DATA_DIR/calibration/``, written by
    ``facesift eval calibrate``) before the shipped one; None if neither exists."""
    local = Path(data_dir) / "calibration" / calibration_filename(space)
    if local.is_file():
        calibration = load_calibration(local)
        if calibration.space != space.key:
            raise ConfigError(
                f"{local}: a calibration of space {calibration.space}, not {space.key}"
            )
        return calibration
    resource = resources.files("facesift.search") / "calibration" / calibration_filename(space)
    return Calibration.from_json(resource.read_text()) if resource.is_file() else None


def shipped_calibration(space: EmbeddingSpace) -> Calibration:
    resource = resources.files("facesift.search") / "calibration" / calibration_filename(space)
    if not resource.is_file():
        raise ConfigError(
            f"no calibration shipped for embedding space {space.key}; "
            "create one with `facesift eval calibrate`"
        )
    return Calibration.from_json(resource.read_text())


def load_calibration(path: Path) -> Calibration:
    try:
        return Calibration.from_json(Path(path).read_text())
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{path}: not a facesift calibration file ({error})") from None


def measured_figures_filename(space: EmbeddingSpace) -> str:
    return space.key.replace("/", "_") + ".measured.json"


def measured_figures(space: EmbeddingSpace, data_dir: Path | None = None) -> dict[str, Any] | None:
    """What was measured of ``space``'s model on a labelled evaluation set (LFW for the shipped
    models): verification, open-set identification and demographic differentials, as written by
    ``facesift eval measured``. The operator's own (``DATA_DIR/calibration/``) before the
    shipped one; None if neither exists. Keys: space, model, dataset, measured_at,
    verification, identification, demographics (each may be absent)."""
    name = measured_figures_filename(space)
    local = Path(data_dir) / "calibration" / name if data_dir is not None else None
    if local is not None and local.is_file():
        text = local.read_text()
    else:
        resource = resources.files("facesift.search") / "calibration" / name
        if not resource.is_file():
            return None
        text = resource.read_text()
    try:
        figures: dict[str, Any] = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{name}: not a measured-figures file ({error})") from None
    if not isinstance(figures, dict):
        raise ConfigError(f"{name}: not a measured-figures file (not a JSON object)")
    if figures.get("space") != space.key:
        raise ConfigError(f"{name}: figures of space {figures.get('space')}, not {space.key}")
    return figures

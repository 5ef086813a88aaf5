"""The matching policy: what a distance means in this gallery's embedding space, and every
threshold derived from it. No threshold arithmetic happens anywhere else.

* ``match_threshold``: a lead, a verification and an opt-out match (``match_false_match_rate``).
* ``subject_threshold``: subject access and erasure, never stricter than search's, so everything a
  search could return about a person is also shown to them and erased for them.
* ``duplicate_threshold(comparisons)``: tightened with the number of comparisons made.
* ``cluster_threshold``: the link distance measured best for the space, kept in its calibration
  file (``cluster_threshold``; 0.40 for dlib-resnet), else the FMR where dlib's lies
  (``calibration.CLUSTER_LINK_FMR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facesift.errors import ConfigError, InputError
from facesift.search.calibration import Calibration, calibration_filename, find_calibration
from facesift.types import EmbeddingSpace

# With n records there are n^2/2 comparisons: at the search threshold (FMR 1e-3) 100k records
# would yield ~5 million false pairs. By default the threshold is tightened so that about this
# many false pairs are expected in the whole run...
EXPECTED_FALSE_PAIRS = 100
# ...but not below the FMR the LFW calibration measures reliably: under ~1e-6 its impostor pairs
# are mostly LFW's own label errors (one person under two names), and the distance for 2e-8 is
# 0.10, which finds almost nothing. The report states how many false pairs to expect instead.
LOWEST_CALIBRATED_RATE = 1e-6
# Leads per probe face: a person reviews each, and a long list of strangers is not a lead list
# but a way to page through the gallery.
MAX_LEADS_PER_FACE = 100
# Reported precision. A person judging a lead needs the distance to about 0.001 and the rate
# to two significant digits; full float precision to probes an investigator can choose would let
# a few dozen searches triangulate a stored embedding (docs/governance.md, "What a search
# reveals").
DISTANCE_DECIMALS = 3


def reported_distance(distance: float) -> float:
    return round(float(distance), DISTANCE_DECIMALS)


def reported_rate(rate: float) -> float:
    return float(f"{float(rate):.2g}")


@dataclass(frozen=True)
class MatchingPolicy:
    space: EmbeddingSpace
    calibration: Calibration | None  # None: no calibration for the space, no match decisions
    match_false_match_rate: float
    subject_false_match_rate: float
    # Where an operator's own calibration would go (named in the error when there is none).
    local_calibration_dir: Path
    # The loosest false-match rate a search may be widened to (``search_threshold``).
    max_search_false_match_rate: float = 1e-2

    @classmethod
    def for_space(
        cls,
        space: EmbeddingSpace,
        data_dir: Path,
        *,
        match_false_match_rate: float,
        subject_false_match_rate: float,
        max_search_false_match_rate: float = 1e-2,
    ) -> MatchingPolicy:
        return cls(
            space,
            find_calibration(space, data_dir),
            match_false_match_rate,
            subject_false_match_rate,
            data_dir / "calibration",
            max(max_search_false_match_rate, match_false_match_rate),
        )

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def require_calibration(self) -> Calibration:
        """What a distance means in this space. Without one, no match decision is made: a
        threshold carried over from another model would be a guess."""
        if self.calibration is None:
            raise ConfigError(
                f"no calibration for embedding space {self.space.key}, so facesift cannot tell "
                "what false-match rate a distance means and makes no match decisions; measure "
                "one with `facesift eval calibrate --root LFW_DIR --out "
                f"{self.local_calibration_dir / calibration_filename(self.space)}` "
                "(docs/models.md)"
            )
        return self.calibration

    @property
    def match_threshold(self) -> float:
        return self.require_calibration().threshold_for(self.match_false_match_rate)

    def search_threshold(self, requested: float | None) -> float:
        """The distance a search accepts leads within: the match threshold, or the one the
        investigator asked for if it is inside the calibrated operating range. Wider than the
        deployment's loosest false-match rate is refused: a search at FMR 40% would return
        strangers for anyone and page through the gallery."""
        if requested is None:
            return self.match_threshold
        calibration = self.require_calibration()
        loosest = calibration.threshold_for(self.max_search_false_match_rate)
        if requested > loosest:
            rate = calibration.false_match_rate(requested)
            raise InputError(
                f"threshold {requested:g} accepts a false-match rate of {rate:.2g} per "
                f"comparison; this deployment allows at most {self.max_search_false_match_rate:g} "
                f"(threshold {loosest:.3f}); FACESIFT_MAX_SEARCH_FALSE_MATCH_RATE sets it"
            )
        if requested <= 0:
            raise InputError(f"threshold {requested:g}: must be above 0")
        return float(requested)

    @property
    def optout_threshold(self) -> float:
        """An opted-out person is matched as widely as a lead would be."""
        return self.match_threshold

    @property
    def subject_threshold(self) -> float:
        return max(
            self.match_threshold,
            self.require_calibration().threshold_for(self.subject_false_match_rate),
        )

    def duplicate_threshold(self, comparisons: float) -> float:
        rate = self.match_false_match_rate
        if comparisons > 0:
            rate = min(rate, max(EXPECTED_FALSE_PAIRS / comparisons, LOWEST_CALIBRATED_RATE))
        return self.require_calibration().threshold_for(rate)

    @property
    def cluster_threshold(self) -> float:
        return self.require_calibration().default_cluster_threshold

    def false_match_rate(self, distance: float) -> float:
        return self.require_calibration().false_match_rate(distance)

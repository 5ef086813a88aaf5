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

import math
from dataclasses import dataclass
from pathlib import Path

from facesift.errors import ConfigError, InputError
from facesift.search.calibration import Calibration, calibration_filename, find_calibration
from facesift.types import EmbeddingSpace, SearchOdds

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


def plain_rate(rate: float, resolution: float | None = None) -> str:
    """A rate as people read it, the one format for CLI, web, API text and reports: "1 in
    26,767"; "fewer than 1 in 87 million" at the calibration's floor; "about 1 in 3" for large
    rates."""
    if resolution is not None and rate <= resolution:
        return f"fewer than 1 in {_count(1 / resolution)}"
    if rate <= 0:
        return "never measured"
    if rate >= 0.5:
        return f"{100 * rate:.0f}%"
    return f"1 in {_count(1 / rate)}"


def _count(value: float) -> str:
    if value >= 10_000_000:
        return f"{value / 1_000_000:.0f} million"
    if value >= 100:
        return f"{float(f'{value:.3g}'):,.0f}"
    return f"{value:,.0f}"


def describe_odds(odds: SearchOdds) -> str:
    """What to expect of a search, in one sentence (CLI, web and API say it the same way)."""
    return (
        f"Compared with {odds.compared_with:,} gallery faces at a false-match rate of "
        f"{plain_rate(odds.false_match_rate)} per comparison: for someone the gallery does not "
        f"hold, expect {plain_count(odds.expected_false_leads)} false lead(s) per probe face, a "
        f"{100 * odds.chance_of_a_false_lead:.2g}% chance that at least one lead is a stranger."
    )


def plain_count(expected: float) -> str:
    """An expected number of false leads, as a person reads it: "about 4", "about 0.3"."""
    if expected >= 10:
        return f"about {expected:,.0f}"
    if expected >= 0.1:
        return f"about {expected:.1f}"
    if expected >= 0.001:
        return f"about {expected:.2g}"
    return "fewer than 0.001"


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

    def odds(self, threshold: float, compared_with: int) -> SearchOdds:
        """What a search at ``threshold`` over ``compared_with`` faces should be expected to
        return for someone the gallery does not hold: comparisons are taken as independent,
        which LFW's open-set figures (docs/accuracy.md) bear out to within a factor of two."""
        rate = self.false_match_rate(threshold)
        return SearchOdds(
            compared_with=compared_with,
            threshold=threshold,
            false_match_rate=reported_rate(rate),
            expected_false_leads=reported_rate(compared_with * rate),
            chance_of_a_false_lead=reported_rate(-math.expm1(compared_with * math.log1p(-rate))),
        )

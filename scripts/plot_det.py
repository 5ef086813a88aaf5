"""DET curves (FNMR against FMR) of every shipped calibration, as one picture for docs/accuracy.md.

Each calibration file holds, for a grid of distance thresholds, the false-match rate over all LFW
impostor pairs and the false-non-match rate over all genuine pairs (`facesift eval calibrate`), so
the curve is drawn from exactly the figures the product uses to label its leads. Run by
`make accuracy-plots`; needs matplotlib (the dev extra).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from facesift.search.calibration import Calibration  # noqa: E402

# How each shipped space is named in the legend; spaces not listed use their key.
LABELS = {
    "dlib-resnet": "dlib HOG + ResNet (128-d), the old default",
    "reid-0095": "YuNet + face-reidentification-retail-0095 (256-d), the default",
}
OPERATING_FMR = 1e-3  # the default match threshold's policy (Settings.match_false_match_rate)


def shipped_calibrations() -> list[Calibration]:
    folder = resources.files("facesift.search") / "calibration"
    return [
        Calibration.from_json(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]


def plot(calibrations: list[Calibration], out: Path) -> None:
    figure, axes = plt.subplots(figsize=(7.5, 5.2), dpi=110)
    for calibration in calibrations:
        fmr, fnmr = calibration.false_match_rates, calibration.false_non_match_rates
        # Below one impostor pair the FMR is not measured: draw only what was.
        shown = (fmr >= calibration.resolution) & (fnmr > 0)
        model = calibration.space.split("/", 1)[0]
        label = (
            f"{LABELS.get(model, calibration.space)}\n"
            f"{calibration.genuine_pairs:,} genuine / {calibration.impostor_pairs:,} impostor pairs"
        )
        (line,) = axes.loglog(fmr[shown], fnmr[shown], label=label, linewidth=2)
        at = calibration.threshold_for(OPERATING_FMR)
        axes.plot(
            calibration.false_match_rate(at),
            calibration.false_non_match_rate(at),
            "o",
            color=line.get_color(),
        )
        axes.annotate(
            f"FNMR {100 * calibration.false_non_match_rate(at):.1f}% at FMR 1e-3",
            (calibration.false_match_rate(at), calibration.false_non_match_rate(at)),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=8,
            color=line.get_color(),
        )
    axes.set_xlabel("false-match rate (FMR), impostor pairs")
    axes.set_ylabel("false-non-match rate (FNMR), genuine pairs")
    axes.set_title("DET on all LFW pairs, through facesift's own pipeline", fontsize=10)
    axes.set_xlim(1e-7, 1)
    axes.set_ylim(1e-4, 1)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out)
    print(f"wrote {out} ({', '.join(c.space for c in calibrations)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/img/det-lfw.png"))
    args = parser.parse_args()
    plot(shipped_calibrations(), args.out)


if __name__ == "__main__":
    main()

"""DET curves per demographic group, one panel per model, for docs/accuracy.md.

    python scripts/plot_demographics.py dlib.json default.json --out docs/img

The inputs are `facesift eval demographics --out` files (they hold the curves)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facesift.eval.demographics import plot_det


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("figures", nargs="+", type=Path, help="eval demographics --out files")
    parser.add_argument("--out", type=Path, required=True, help="folder for det-<attr>.png")
    args = parser.parse_args()
    figures = [json.loads(path.read_text()) for path in args.figures]
    for attribute in figures[0]["attributes"]:
        print(plot_det(figures, attribute, args.out / f"det-{attribute}.png"))


if __name__ == "__main__":
    main()

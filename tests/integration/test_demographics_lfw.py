"""`facesift eval demographics` on a slice of LFW with its attribute labels, through the CLI."""

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from math import comb

import pytest

pytestmark = pytest.mark.lfw


def test_demographics_command_on_a_labelled_slice_of_lfw(lfw_root, tmp_path):
    labels = lfw_root / "demographics" / "lfw_demographics_by_image.tsv"
    if not labels.exists():
        pytest.skip(f"no LFW demographic labels at {labels}")
    rows = list(csv.DictReader(labels.read_text().splitlines(), dialect="excel-tab"))
    race_of_image = {r["image"]: r["race_by_sign"] for r in rows}
    # 8 people of each race group (by their first image's label) with 2-4 photos, and 8
    # one-photo people: a small evaluation set laid out like LFW, linked from ../shared.
    chosen: dict[str, list[str]] = {}
    wanted = Counter()
    for person in sorted(p.name for p in lfw_root.iterdir() if p.is_dir()):
        photos = sorted(f"{person}/{f.name}" for f in (lfw_root / person).glob("*.jpg"))
        if not photos:
            continue  # demographics/ itself
        race = race_of_image.get(photos[0], "")
        kind = race if 2 <= len(photos) <= 4 else ("single" if len(photos) == 1 else "")
        if kind in {"Asian", "Black", "Indian", "White", "single"} and wanted[kind] < 8:
            wanted[kind] += 1
            chosen[person] = photos
    root = tmp_path / "eval-set"
    for person, photos in chosen.items():
        (root / person).mkdir(parents=True)
        for photo in photos:
            (root / photo).symlink_to(lfw_root / photo)

    out, plots = tmp_path / "figures.json", tmp_path / "plots"
    result = subprocess.run(
        [sys.executable, "-c", "from facesift.cli.app import main; main()", "eval",
         "demographics", "--root", str(root), "--labels", str(labels),
         "--race-column", "race_by_sign", "--gender-column", "afifi_gender",
         "--unlabelled", "both", "--out", str(out), "--plots", str(plots),
         "--cache", str(tmp_path / "cache.npz"), "--workers", "2"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    figures = json.loads(out.read_text())

    # People per race group: the majority of each person's labelled images, counted here
    # independently of the code under test.
    def majority(person: str) -> str | None:
        votes = Counter(
            race_of_image[p]
            for p in chosen[person]
            if race_of_image.get(p) in {"Asian", "Black", "Indian", "White"}
        ).most_common(2)
        if votes and (len(votes) == 1 or votes[0][1] > votes[1][1]):
            return votes[0][0]
        return None

    expected = Counter(m for m in map(majority, chosen) if m)
    by_race = {g["group"]: g for g in figures["groups"] if g["attribute"] == "race"}
    assert {name: g["people"] for name, g in by_race.items()} == dict(expected)

    # Every photo of LFW has a face for the default model, so everyone's pairs are all pairs.
    photos = sum(len(p) for p in chosen.values())
    genuine = sum(comb(len(p), 2) for p in chosen.values())
    overall = figures["overall"]
    assert overall["fmr"]["trials"] == comb(photos, 2) - genuine
    assert overall["fnmr"]["trials"] == genuine
    for g in figures["groups"]:
        for metric in ("fmr", "fnmr", "fnir", "fpir"):
            rate = g[metric]
            if rate["trials"]:
                low, high = rate["ci95"]
                assert low <= rate["rate"] <= high
    assert figures["threshold"] > 0 and figures["open_set_threshold"] > 0
    for attribute in ("race", "gender"):
        assert (plots / f"det-{attribute}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The terminal report names the groups it measured and the counts behind each rate.
    assert "**By race**" in result.stdout and "| Asian |" in result.stdout

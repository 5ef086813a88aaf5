"""Fixed, deterministic samples of LFW for the integration tests."""

from __future__ import annotations

from pathlib import Path


def people(root: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}


def search_sample(root: Path, count: int = 30, photos_each: int = 4, distractors: int = 100):
    """(gallery files by person, held-out probe by person, distractor files, stranger files)."""
    everyone = people(root)
    repeat = [name for name, files in everyone.items() if len(files) >= photos_each][:count]
    singles = [name for name, files in everyone.items() if len(files) == 1]
    gallery = {name: everyone[name][: photos_each - 1] for name in repeat}
    probes = {name: everyone[name][photos_each - 1] for name in repeat}
    distractor_files = [everyone[name][0] for name in singles[:distractors]]
    strangers = [everyone[name][0] for name in singles[distractors : distractors + count]]
    return gallery, probes, distractor_files, strangers

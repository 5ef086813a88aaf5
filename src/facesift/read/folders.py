"""Readers: turn the paths an operator names into the image files to ingest.

Only files the operator declares are read: folders are walked, named files taken as they are.
There is deliberately no URL or web reader (EU AI Act Art. 5(1)(e): no untargeted scraping).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from facesift.errors import InputError
from facesift.read.decode import IMAGE_SUFFIXES


def iter_image_files(paths: list[Path]) -> Iterator[Path]:
    """Yield image files under ``paths`` in a stable order.

    Folders are walked recursively (hidden entries skipped, symlinked folders not followed, so a
    link loop cannot trap the walk) and keep files with an image suffix; a file named directly is
    always yielded, so that a mis-named or non-image file gets its own clear error later.
    """
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        elif path.exists():
            yield path
        else:
            raise InputError(f"{display_path(path)}: no such file or folder")


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                yield Path(root) / name


def display_path(path: Path | str) -> str:
    """A printable, storable form of a path, even when its bytes are not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")

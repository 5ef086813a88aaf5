"""Files kept beside the catalog that hold people's data: photos uploaded through the API (the
catalog's paths point at them), the cache of face thumbnails the API and UI show, and the server's
job records (which name the files clients sent). Erasure, subject erasure and retention purge
remove them together with the catalog rows, so an erased face leaves no picture and no file name
behind. Photos ingested from the operator's own folders are never touched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from facesift.catalog.governance import Deletion
from facesift.govern.job_records import withdraw_file_names
from facesift.read.folders import display_path

log = logging.getLogger(__name__)

UPLOADS = "uploads"
THUMBNAILS = "thumbs"


def uploads_dir(data_dir: Path) -> Path:
    return Path(data_dir) / UPLOADS


def thumbnails_dir(data_dir: Path) -> Path:
    return Path(data_dir) / THUMBNAILS


def thumbnail_path(data_dir: Path, face_id: int, size: int, boxed: bool) -> Path:
    """The cached thumbnail's file. Its name holds every parameter the picture depends on: a
    boxed 80 px thumbnail is 160 px wide, like a plain 160 px one, and once shared its file."""
    return thumbnails_dir(data_dir) / f"{int(face_id)}-{int(size)}{'-boxed' if boxed else ''}.jpg"


def forget(data_dir: Path, deletion: Deletion) -> int:
    """Remove the thumbnails of the erased faces and the uploaded copies of the erased images,
    and withdraw the file names job records hold; return how many files went."""
    removed = 0
    erased_faces = {str(face_id) for face_id in deletion.face_ids}
    thumbs = thumbnails_dir(data_dir)
    if erased_faces and thumbs.is_dir():
        for entry in os.scandir(thumbs):
            if entry.name.split("-", 1)[0] in erased_faces:
                removed += _unlink(Path(entry.path))
    uploads = uploads_dir(data_dir).resolve()
    for path in deletion.paths:
        candidate = Path(path).resolve()
        if candidate.is_relative_to(uploads):
            removed += _unlink(candidate)
    if deletion.face_ids or deletion.paths:
        withdraw_file_names(data_dir)
    return removed


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as error:  # the catalog rows are gone already: say so, do not fail the erasure
        log.warning("could not remove %s after erasure: %s", path, error)
        return 0
    return 1


def discard_unheld(folder: Path, held: Callable[[list[str]], set[str]]) -> int:
    """Once an upload job has run (or failed), delete every uploaded file the catalog does not
    hold as an image: refused, corrupt, duplicate, already held under another path, erased
    before. A person's photo must not linger in the uploads area where no erasure can find it
    (it is in no catalog row). ``held`` answers which of the given paths the catalog holds.
    Returns how many files were deleted; the folder goes too if nothing is left."""
    if not folder.is_dir():
        return 0
    files = [p for p in folder.iterdir() if p.is_file()]
    kept = held([display_path(p.absolute()) for p in files])
    deleted = 0
    for path in files:
        if display_path(path.absolute()) not in kept:
            path.unlink(missing_ok=True)
            deleted += 1
    if not any(folder.iterdir()):
        folder.rmdir()
    return deleted

"""Uploaded files: read within a size limit, typed by their content (never by the file name or
the declared content type), and, for ingest, kept under the gallery's data directory."""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi import UploadFile
from PIL import Image, UnidentifiedImageError

from facesift.govern.derived import uploads_dir
from facesift.read.decode import ACCEPTED_FORMATS
from facesift.serve.problems import Problem

CHUNK = 1 << 20
SNIFF_BYTES = 64 * 1024


class UnusableUpload(Problem):
    """An uploaded file refused for what it is (too large, empty, not an accepted image); the
    detail names the file, ``reason`` says why without the name."""

    def __init__(self, status: int, name: str, reason: str, kind: str):
        super().__init__(status, f"{name}: {reason}", kind=kind)
        self.reason = reason


def display_name(upload: UploadFile, field: str) -> str:
    """How an upload is named in messages: its field and (sanitised) file name."""
    return f"{field} ({safe_file_name(upload.filename or '')!r})" if upload.filename else field


def read_limited(upload: UploadFile, limit: int, field: str) -> bytes:
    """The upload's bytes, refusing it as soon as it passes ``limit``."""
    parts, size = [], 0
    while chunk := upload.file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(upload, field, limit)
        parts.append(chunk)
    return b"".join(parts)


def sniff_image(head: bytes, name: str) -> str:
    """The image format the content declares (JPEG, PNG …), or a 415 problem naming the file."""
    if not head:
        raise UnusableUpload(422, name, "empty file", kind="unusable-image")
    try:
        with Image.open(io.BytesIO(head)) as image:
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        kind = None
    if kind not in ACCEPTED_FORMATS:
        accepted = ", ".join(sorted(ACCEPTED_FORMATS))
        raise UnusableUpload(
            415,
            name,
            f"not an image this server accepts (the content is "
            f"{kind or 'not a recognised image format'}; accepted: {accepted})",
            kind="unsupported-media-type",
        )
    return kind


def read_image(upload: UploadFile, limit: int, field: str) -> bytes:
    data = read_limited(upload, limit, field)
    sniff_image(data, display_name(upload, field))
    return data


_UNSAFE = re.compile(r"[^\w.\- ()+,@]")


def safe_file_name(name: str) -> str:
    """A file name that cannot escape a folder or hide: no path, no control characters, no
    leading dot, at most 120 characters; empty names become 'upload'."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > 120:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[:110] + dot + suffix[:9]) if dot and len(suffix) <= 9 else base[:120]
    return base or "upload"


def new_batch_dir(data_dir: Path) -> Path:
    """A fresh folder for one ingest request's files, under the gallery's uploads folder."""
    folder = uploads_dir(data_dir) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def store_upload(upload: UploadFile, folder: Path, limit: int, field: str, image: bool) -> Path:
    """Write the upload into ``folder`` under a safe, unused name, streaming within ``limit``;
    a refused upload leaves nothing behind."""
    name = safe_file_name(upload.filename or "")
    target = folder / name
    counter = 1
    while target.exists():
        counter += 1
        stem, dot, suffix = name.rpartition(".")
        target = folder / (f"{stem}-{counter}.{suffix}" if dot else f"{name}-{counter}")
    try:
        _write_within(upload, target, limit, field, image)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _write_within(upload: UploadFile, target: Path, limit: int, field: str, image: bool) -> None:
    size = 0
    with open(target, "xb") as out:
        first = True
        while chunk := upload.file.read(CHUNK):
            if first and image:
                sniff_image(chunk[:SNIFF_BYTES], display_name(upload, field))
            first = False
            size += len(chunk)
            if size > limit:
                raise _too_large(upload, field, limit)
            out.write(chunk)
    if first and image:
        raise UnusableUpload(422, display_name(upload, field), "empty file", kind="unusable-image")


@dataclass(frozen=True)
class StoredUpload:
    index: int  # its position among the request's files
    sent_as: str  # the file name the client gave
    path: Path


@dataclass(frozen=True)
class RefusedUpload:
    index: int
    sent_as: str
    reason: str


def store_images(
    uploads: list[UploadFile], folder: Path, limit: int, field: str
) -> tuple[list[StoredUpload], list[RefusedUpload]]:
    """Store each upload that is an accepted image within ``limit``; refuse the others one by
    one, as ingest from a folder reports each bad file and goes on with the good ones."""
    stored, refused = [], []
    for index, upload in enumerate(uploads):
        sent_as = upload.filename or ""
        try:
            path = store_upload(upload, folder, limit, f"{field}[{index}]", image=True)
        except UnusableUpload as problem:
            refused.append(RefusedUpload(index, sent_as, problem.reason))
        else:
            stored.append(StoredUpload(index, sent_as, path))
    return stored, refused


def _too_large(upload: UploadFile, field: str, limit: int) -> UnusableUpload:
    return UnusableUpload(
        413,
        display_name(upload, field),
        f"file is over the limit of {limit:,} bytes",
        kind="file-too-large",
    )

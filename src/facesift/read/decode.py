"""Image decoding: bytes on disk → upright RGB pixels, or an ImageError that names the file."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facesift.errors import ImageError
from facesift.timing import measure

# Formats that can carry photographs of people. Anything else (PDF, SVG, EPS …) is refused.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "MPO", "PPM"})
IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
        ".ppm",
        ".pgm",
        ".mpo",
    }
)


def decode_image(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """Decode ``data`` (the content of ``name``) into an upright HxWx3 uint8 RGB array.

    EXIF orientation is applied, every colour mode is mapped to RGB (alpha flattened onto white,
    16-bit and float greyscale rescaled), and images with more than ``max_pixels`` pixels are
    refused before their pixels are decoded.
    """
    if not data:
        raise ImageError(name, "empty file")
    with measure("decode"):
        return _decode(data, name, max_pixels)


def _decode(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between MAX_IMAGE_PIXELS and 2x; we apply our own limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageError(name, f"unsupported image format {image.format}")
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    name, f"{width}x{height} pixels exceeds the limit of {max_pixels:,} pixels"
                )
            if width < 1 or height < 1:
                raise ImageError(name, "image has no pixels")
            image.load()
            return _to_rgb_array(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (unrecognised file content)") from None
    except Image.DecompressionBombError as error:
        raise ImageError(name, f"refused as a decompression bomb ({error})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(name, f"corrupt or truncated image ({error})") from None


def reencoded_jpeg(data: bytes, name: str, max_pixels: int, max_side: int = 1600) -> bytes:
    """``data`` decoded (bounded by ``max_pixels``), upright, at most ``max_side`` px on its
    long side, and encoded afresh as a JPEG with no metadata. For selfies kept while a request
    is open: no EXIF (GPS position, device, time), no trailing bytes or second file hidden in
    the upload, no more pixels than a face needs."""
    pixels = decode_image(data, name, max_pixels)
    image = Image.fromarray(pixels)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def read_and_decode(
    path: Path, max_pixels: int, max_bytes: int = 200 * 2**20
) -> tuple[bytes, np.ndarray]:
    try:
        with measure("read"):
            data = read_limited(path, max_bytes)
    except OSError as error:
        raise ImageError(str(path), f"cannot read file ({error.strerror or error})") from None
    return data, decode_image(data, str(path), max_pixels)


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, or an ImageError if it is larger than ``max_bytes`` or not a regular
    file; OSError passes."""
    with open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1) if size <= max_bytes else b""
    if size > max_bytes or len(data) > max_bytes:  # also a file that grew while being read
        size = max(size, len(data))
        raise ImageError(
            str(path), f"file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit"
        )
    return data


def open_regular_file(path: Path) -> io.BufferedReader:
    """``path`` opened for reading, or an ImageError if it is not a regular file.

    Opened without blocking, then checked on the open descriptor: a FIFO named ``x.jpg`` would
    otherwise hang the ingest until something wrote to it, and a device (``/dev/zero``) would be
    read forever; checking the name first would leave a window to swap the file."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = "folder" if stat.S_ISDIR(mode) else "FIFO, device or socket"
            raise ImageError(str(path), f"not a regular file (a {kind}): skipped")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return open(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # Deep greyscale: stretch to the full 8-bit range rather than clip at 255.
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        grey = ((pixels - low) * scale).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))

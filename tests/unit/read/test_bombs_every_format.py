"""Decompression bombs of every accepted format are refused by their declared size, with the
file's name, before their pixels are decoded (issue #12)."""

import io
import struct
import zlib

import pytest
from PIL import Image

from facesift.errors import ImageError
from facesift.read.decode import decode_image

FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"]


@pytest.mark.parametrize("kind", FORMATS)
def test_an_image_over_the_pixel_limit_is_refused_whatever_its_format(kind):
    buffer = io.BytesIO()
    Image.new("L" if kind != "WEBP" else "RGB", (3000, 2000)).save(buffer, kind)
    name = f"bomb.{kind.lower()}"
    with pytest.raises(ImageError, match=rf"{name}: 3000x2000 pixels exceeds the limit"):
        decode_image(buffer.getvalue(), name, 1_000_000)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it:
    decoding it would need gigabytes, reading its header needs nothing."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\0" * 64)
    idat = (
        struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend


def _jpeg_claiming(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    "name, data",
    [("huge.png", _png_claiming(60_000, 60_000)), ("huge.jpg", _jpeg_claiming(60_000, 60_000))],
)
def test_a_tiny_file_claiming_billions_of_pixels_is_refused_from_its_header(name, data):
    assert len(data) < 2_000
    # Refused by our limit, or by Pillow's own bomb check on opening (past 2x its limit).
    refused = rf"{name}: (60000x60000 pixels exceeds the limit|refused as a decompression bomb)"
    with pytest.raises(ImageError, match=refused):
        decode_image(data, name, 50_000_000)

import io

import numpy as np
import pytest
from PIL import Image

from facesift.errors import ImageError
from facesift.read.decode import decode_image

LIMIT = 50_000_000


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    # 60 wide x 20 high, tagged "rotate 90 CW to display" (orientation 6): upright is 20x60.
    image = Image.new("RGB", (60, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 20))  # blue strip on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = decode_image(encoded(image, "JPEG", exif=exif, quality=95), "rotated.jpg", LIMIT)
    assert pixels.shape == (60, 20, 3)
    # After a 90° clockwise turn the left strip is on top.
    assert pixels[2, 10, 2] > 200 and pixels[-2, 10, 0] > 200


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F", "1"])
def test_every_mode_becomes_rgb(mode):
    base = Image.linear_gradient("L").resize((64, 48))
    if mode == "I;16":
        image = Image.fromarray((np.asarray(base, np.uint16) * 200).astype(np.uint16))
        data = encoded(image, "PNG")
    elif mode in ("I", "F"):
        image = base.convert(mode)
        data = encoded(image, "TIFF")
    elif mode == "CMYK":
        data = encoded(base.convert("CMYK"), "JPEG")
    else:
        data = encoded(base.convert(mode), "PNG")
    pixels = decode_image(data, f"image-{mode}.png", LIMIT)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[:2] == (48, 64)


def test_deep_greyscale_is_stretched_not_clipped():
    ramp = np.tile(np.linspace(0, 60000, 64, dtype=np.uint16), (8, 1))
    data = encoded(Image.fromarray(ramp), "PNG")
    pixels = decode_image(data, "deep.png", LIMIT)
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == 255
    assert len(np.unique(pixels[0, :, 0])) > 32


def test_transparent_pixels_flatten_to_white():
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    pixels = decode_image(encoded(image, "PNG"), "clear.png", LIMIT)
    assert (pixels == 255).all()


def test_decompression_bomb_is_refused_with_the_file_name():
    data = encoded(Image.new("L", (3000, 3000)), "PNG")
    with pytest.raises(ImageError, match=r"bomb\.png: 3000x3000 pixels exceeds the limit"):
        decode_image(data, "bomb.png", 1_000_000)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"hello, I am a text file\n", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt or truncated|not an image"),
    ],
)
def test_bad_bytes_name_the_file(data, reason):
    with pytest.raises(ImageError, match=rf"^odd name \[1\]\.jpg: ({reason})"):
        decode_image(data, "odd name [1].jpg", LIMIT)


def test_truncated_jpeg_is_reported():
    full = encoded(Image.linear_gradient("L").convert("RGB"), "JPEG", quality=90)
    with pytest.raises(ImageError, match="cut.jpg: corrupt or truncated"):
        decode_image(full[: len(full) // 2], "cut.jpg", LIMIT)


def test_formats_that_are_not_photographs_are_refused():
    data = encoded(Image.new("RGB", (32, 32)), "ICO")
    with pytest.raises(ImageError, match="unsupported image format ICO"):
        decode_image(data, "favicon.ico", LIMIT)


def test_oversized_files_are_refused_before_reading(tmp_path):
    from facesift.read.decode import read_and_decode

    big = tmp_path / "huge.jpg"
    with open(big, "wb") as handle:
        handle.truncate(3 * 2**20)  # sparse: 3 MiB of zeros, nothing written
    with pytest.raises(ImageError, match=r"huge.jpg: file is 3 MiB, over the 2 MiB limit"):
        read_and_decode(big, LIMIT, max_bytes=2 * 2**20)

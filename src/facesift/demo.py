"""A small demo gallery built from public-domain photos that ship inside registry packages.

* Eileen Collins, NASA astronaut (``skimage.data.astronaut``; NASA photo, public domain).
* Grace Hopper (matplotlib's ``sample_data/grace_hopper.jpg``; US Navy photo, public domain).

From each, a few "other photos" are derived (crops, mirror, light, JPEG quality, rotation, a group
picture with both) so a search has something to find; and one truncated file shows how a bad
input is reported. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps


def astronaut() -> Image.Image:
    try:
        from skimage import data
    except ImportError:
        raise SystemExit("the demo needs scikit-image: pip install 'facesift[demo]'") from None
    return Image.fromarray(data.astronaut())


def grace_hopper() -> Image.Image:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the demo needs matplotlib: pip install 'facesift[demo]'")
    path = (
        Path(spec.submodule_search_locations[0]) / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    )
    return Image.open(path).convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def variants(image: Image.Image) -> dict[str, Image.Image]:
    width, height = image.size
    return {
        "original": image,
        "mirrored": ImageOps.mirror(image),
        "darker-low-quality": _jpeg(ImageEnhance.Brightness(image).enhance(0.6), 35),
        "tilted": image.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        "small": image.resize((width * 2 // 3, height * 2 // 3), Image.Resampling.LANCZOS),
    }


def group_photo(left: Image.Image, right: Image.Image) -> Image.Image:
    height = 400
    a = left.resize((left.width * height // left.height, height))
    b = right.resize((right.width * height // right.height, height))
    canvas = Image.new("RGB", (a.width + b.width, height), (200, 200, 200))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    return canvas


def build(folder: Path) -> Path:
    """Write the gallery into ``folder/gallery`` and a probe into ``folder``; return the probe."""
    gallery = folder / "gallery"
    gallery.mkdir(parents=True, exist_ok=True)
    collins, hopper = astronaut(), grace_hopper()
    for person, image in (("collins", collins), ("hopper", hopper)):
        for name, variant in variants(image).items():
            variant.save(gallery / f"{person}-{name}.jpg", quality=92)
    group_photo(hopper, collins).save(gallery / "group-hopper-and-collins.jpg", quality=92)
    # A truncated file: ingest reports it by name and carries on with the rest.
    whole = (gallery / "collins-original.jpg").read_bytes()
    (gallery / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    # The probe is a photo not in the gallery: a tighter, brighter crop of Collins.
    probe = ImageEnhance.Contrast(collins.crop((100, 0, 400, 300))).enhance(1.3)
    probe_path = folder / "probe-collins.jpg"
    probe.resize((360, 360), Image.Resampling.LANCZOS).save(probe_path, quality=90)
    return probe_path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-photos")
    probe_path = build(target)
    count = len(list((target / "gallery").iterdir()))
    print(f"demo gallery: {count} files in {target / 'gallery'}; probe: {probe_path}")

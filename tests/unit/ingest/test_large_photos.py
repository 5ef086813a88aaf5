"""Real photo sizes end to end: every face of a 24-megapixel photo is indexed and found again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesift import FaceSift, Settings
from facesift.demo import astronaut, grace_hopper
from tests.conftest import add_source, operators

CASE = {"purpose": "testing large photos", "case": "L-1"}


def face_crop(image: Image.Image, box: tuple[int, int, int, int], side: int) -> Image.Image:
    return image.crop(box).resize((side, side), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int, int]]]:
    """6000x4000: Collins's face at ~200 px far off-centre, Hopper's at ~1,200 px, on a
    textured background (noise at several scales, so there is detail everywhere)."""
    rng = np.random.default_rng(3)
    coarse = rng.integers(60, 200, (40, 60, 3), dtype=np.uint8)
    background = Image.fromarray(coarse).resize((6000, 4000), Image.Resampling.BICUBIC)
    pixels = np.asarray(background, dtype=np.int16) + rng.integers(-12, 12, (4000, 6000, 3))
    canvas = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    placed = {"collins": (4800, 600, 240), "hopper": (600, 1800, 1500)}
    # Collins's face box is about 90 px in the 512 px original: this crop makes it ~200 px.
    canvas.paste(face_crop(astronaut(), (165, 55, 285, 175), 240), placed["collins"][:2])
    canvas.paste(face_crop(grace_hopper(), (110, 60, 420, 370), 1500), placed["hopper"][:2])
    path = tmp_path_factory.mktemp("big") / "crowd-24mp.jpg"
    canvas.save(path, quality=90)
    return path, placed


def test_every_face_of_a_24_megapixel_photo_is_indexed_and_found(big_photo, photos, tmp_path):
    path, placed = big_photo
    with FaceSift(Settings(data_dir=tmp_path / "data", workers=1)) as engine:
        admin, investigator = operators(engine)
        add_source(engine, admin, "archive")
        report = engine.ingest(admin, [path], "archive")
        assert report.images_ingested == 1 and report.faces_found == 2
        assert engine.check_index().in_agreement and len(engine._index) == 2
        for person, probe in (("collins", photos["collins"]), ("hopper", photos["hopper"])):
            results = engine.search(investigator, probe, **CASE)
            leads = [lead for face in results for lead in face.leads]
            assert leads, f"{person}: the big photo is not a lead"
            box = leads[0].box
            left, top, side = placed[person]
            # The face sits inside the pasted square, and its box is about the face's size.
            assert left <= box.left and box.right <= left + side, (person, box)
            assert top <= box.bottom and box.top <= top + side, (person, box)
            assert 0.5 * side <= box.width <= side, (person, box)
            if person == "collins":
                assert 160 <= box.width <= 240, box  # the ~200 px face of the issue

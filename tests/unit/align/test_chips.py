import numpy as np
from PIL import Image, ImageFilter

from facesift.align import aligned_chip, sharpness
from facesift.detect import create_detector
from facesift.types import ChipSpec
from tests.conftest import rgb_of, strongest

SPEC = ChipSpec(size=150, padding=0.25)


def test_chip_is_the_declared_size_and_deterministic(photos):
    rgb = rgb_of(photos["collins"])
    face = strongest(
        create_detector("dlib-hog", min_face_size=40, max_detect_side=1600).detect(rgb)
    )
    first = aligned_chip(rgb, face.box, face.landmarks, SPEC)
    second = aligned_chip(rgb, face.box, face.landmarks, SPEC)
    assert first.shape == (150, 150, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert np.array_equal(rgb, rgb_of(photos["collins"]))  # the input is left untouched


def test_blur_lowers_sharpness(photos):
    rgb = rgb_of(photos["collins"])
    face = strongest(
        create_detector("dlib-hog", min_face_size=40, max_detect_side=1600).detect(rgb)
    )
    chip = aligned_chip(rgb, face.box, face.landmarks, SPEC)
    blurred = np.asarray(Image.fromarray(chip).filter(ImageFilter.GaussianBlur(3)))
    assert sharpness(blurred) < sharpness(chip) / 3

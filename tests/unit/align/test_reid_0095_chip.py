import numpy as np
import pytest

from facesift.align import aligned_chip
from facesift.align.chips import (
    REID_0095_TEMPLATE_128,
    landmarks_fit,
    reid_0095_chip,
    similarity_transform,
)
from facesift.detect import create_detector
from facesift.errors import ConfigError
from facesift.types import BoundingBox, ChipSpec, Landmarks
from tests.conftest import rgb_of, strongest

SPEC = ChipSpec(size=128, padding=0.0, template="reid-0095-128")
UNKNOWN = ChipSpec(size=1, padding=0.0, template="nope")
BOX = BoundingBox(0, 0, 10, 10)  # the 5-point templates align on the landmarks, not the box


def drawn_face(angle_deg: float, scale: float, offset) -> np.ndarray:
    """The template's 5 points as they would appear on a face rotated, scaled and moved."""
    angle = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return REID_0095_TEMPLATE_128 @ (scale * rotation).T + np.asarray(offset, dtype=np.float64)


def test_template_is_the_published_one_scaled_to_128():
    # Open Model Zoo's numbers in [0, 1] (PROVENANCE.md): eyes level, mouth corners level, the
    # nose tip halfway between the eyes; not ArcFace's 112 px template.
    left_eye, right_eye, nose, left_mouth, right_mouth = REID_0095_TEMPLATE_128
    np.testing.assert_allclose(left_eye, [0.31556875 * 128, 0.46157411 * 128])
    np.testing.assert_allclose(right_mouth, [0.65343646 * 128, 0.82469196 * 128])
    assert left_eye[1] == right_eye[1] and left_mouth[1] == right_mouth[1]
    assert left_eye[0] < nose[0] < right_eye[0] and left_eye[1] < nose[1] < left_mouth[1]


@pytest.mark.parametrize("scheme", ["yunet-5", "arcface-5"])
def test_each_landmark_lands_on_its_template_point(scheme):
    points = drawn_face(angle_deg=-25, scale=2.2, offset=(240.0, 90.0))
    matrix = similarity_transform(points, REID_0095_TEMPLATE_128)
    np.testing.assert_allclose(
        points @ matrix[:, :2].T + matrix[:, 2], REID_0095_TEMPLATE_128, atol=1e-6
    )
    # A bright dot on each landmark of the big image appears at that template point in the chip.
    for index in range(5):
        rgb = np.zeros((700, 640, 3), np.uint8)
        x, y = np.round(points[index]).astype(int)
        rgb[y - 4 : y + 5, x - 4 : x + 5] = 255
        chip = aligned_chip(rgb, BOX, Landmarks(tuple(map(tuple, points)), scheme), SPEC)
        assert chip.shape == (128, 128, 3) and chip.dtype == np.uint8
        bright = np.argwhere(chip[..., 0] > 100)
        np.testing.assert_allclose(
            bright.mean(axis=0)[::-1], REID_0095_TEMPLATE_128[index], atol=1.0
        )


def test_real_face_eyes_go_where_the_template_says(photos):
    rgb = rgb_of(photos["collins"])
    face = strongest(create_detector("yunet", min_face_size=40, max_detect_side=1600).detect(rgb))
    points = np.asarray(face.landmarks.points)
    matrix = similarity_transform(points, REID_0095_TEMPLATE_128)
    mapped = points @ matrix[:, :2].T + matrix[:, 2]
    # 5 real points fit a similarity only approximately; the eyes stay within a few pixels.
    np.testing.assert_allclose(mapped[:2], REID_0095_TEMPLATE_128[:2], atol=4.0)
    chip = reid_0095_chip(rgb, face.landmarks)
    assert chip.shape == (128, 128, 3)
    assert np.array_equal(chip, reid_0095_chip(rgb, face.landmarks))  # a pure function
    assert np.array_equal(rgb, rgb_of(photos["collins"]))  # the input is left untouched


@pytest.mark.parametrize(
    "scheme, count",
    [("dlib-5", 5), ("dlib-68", 68), ("yunet-5", 4), ("mystery-5", 5)],
    ids=["dlib-5", "dlib-68", "too-few", "unknown"],
)
def test_landmarks_other_than_five_true_points_are_refused_by_name(scheme, count):
    points = tuple((float(i), float(i)) for i in range(count))
    with pytest.raises(ConfigError, match="reid-0095 chip aligns 5 landmarks") as refused:
        aligned_chip(np.zeros((50, 50, 3), np.uint8), BOX, Landmarks(points, scheme), SPEC)
    assert repr(scheme) in str(refused.value) and "yunet-5" in str(refused.value)


def test_which_landmarks_fit_which_template():
    assert landmarks_fit("reid-0095-128", "yunet-5") and landmarks_fit("reid-0095-128", "arcface-5")
    assert not landmarks_fit("reid-0095-128", "dlib-5")
    assert not landmarks_fit("dlib", "yunet-5") and landmarks_fit("dlib", "dlib-5")
    with pytest.raises(ConfigError, match="unknown chip template 'nope'"):
        aligned_chip(
            np.zeros((5, 5, 3), np.uint8), BOX, Landmarks((), "yunet-5"), ChipSpec(1, 0, "nope")
        )

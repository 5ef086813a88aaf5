import numpy as np
import pytest
from PIL import Image

from facesift.detect import available_detectors, create_detector
from facesift.errors import BackendNotFound
from tests.conftest import rgb_of, strongest

# Eileen Collins's face in skimage's astronaut (512x512): about x 172-270, y 72-170.
COLLINS_FACE = (172, 72, 270, 170)


def overlaps(box, expected) -> float:
    left, top = max(box.left, expected[0]), max(box.top, expected[1])
    right, bottom = min(box.right, expected[2]), min(box.bottom, expected[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (
        box.width * box.height + (expected[2] - expected[0]) * (expected[3] - expected[1]) - inter
    )
    return inter / area


@pytest.fixture(scope="module")
def hog():
    return create_detector("dlib-hog", min_face_size=40, max_detect_side=1600)


def test_hog_finds_the_astronaut_with_five_landmarks(hog, photos):
    faces = hog.detect(rgb_of(photos["collins"]))
    face = strongest(faces)
    assert overlaps(face.box, COLLINS_FACE) > 0.6
    assert all(other.score < face.score / 4 for other in faces if other is not face)
    assert face.landmarks.scheme == "dlib-5" and len(face.landmarks.points) == 5
    for x, y in face.landmarks.points:
        assert face.box.left - 20 <= x <= face.box.right + 20
        assert face.box.top - 20 <= y <= face.box.bottom + 20
    assert face.score > 0


def test_every_face_of_a_group_photo_in_reading_order(hog, photos):
    faces = hog.detect(rgb_of(photos["group"]))
    real = sorted(faces, key=lambda f: f.score)[-2:]
    assert [f for f in faces if f in real] == sorted(real, key=lambda f: f.box.left)
    left, right = sorted(real, key=lambda f: f.box.left)
    assert left.box.right <= right.box.left  # Hopper on the left, Collins on the right
    assert left.box.right <= 400 * 0.9  # Hopper's photo is scaled to about 300 px wide


def test_no_face_in_a_blank_image(hog, photos):
    assert hog.detect(rgb_of(photos["blank"])) == []


def test_large_images_are_detected_on_a_smaller_copy_and_boxes_mapped_back(photos):
    detector = create_detector("dlib-hog", min_face_size=40, max_detect_side=512)
    big = np.asarray(Image.open(photos["collins"]).resize((2048, 2048)))
    face = strongest(detector.detect(big))
    scaled = tuple(v * 4 for v in COLLINS_FACE)
    assert overlaps(face.box, scaled) > 0.6


def test_faces_below_the_minimum_size_are_not_searched_for(photos):
    small = np.asarray(Image.open(photos["collins"]).resize((128, 128)))  # face about 35 px
    assert create_detector("dlib-hog", min_face_size=80, max_detect_side=1600).detect(small) == []
    found = create_detector("dlib-hog", min_face_size=25, max_detect_side=1600).detect(small)
    assert overlaps(strongest(found).box, tuple(v // 4 for v in COLLINS_FACE)) > 0.6


def test_cnn_detector_finds_the_astronaut(photos):
    cnn = create_detector("dlib-cnn", min_face_size=80, max_detect_side=1600)
    face = strongest(cnn.detect(rgb_of(photos["collins"])))
    assert overlaps(face.box, COLLINS_FACE) > 0.6


def test_unknown_detector_lists_the_known_ones():
    with pytest.raises(
        BackendNotFound,
        match="unknown detector backend 'yolo'; known: dlib-cnn, dlib-hog, onnx-scrfd, yunet",
    ):
        create_detector("yolo", min_face_size=40, max_detect_side=1600)
    assert available_detectors() == ["dlib-cnn", "dlib-hog", "onnx-scrfd", "yunet"]

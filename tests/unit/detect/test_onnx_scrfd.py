import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from facesift import Settings  # noqa: E402
from facesift.detect import create_detector  # noqa: E402
from facesift.detect.onnx_scrfd import non_maximum_suppression  # noqa: E402
from facesift.errors import ConfigError  # noqa: E402
from tests.onnx_models import CELL_LANDMARKS, arcface_like, scrfd_like  # noqa: E402


def detector_for(path, min_face_size=40, **settings):
    return create_detector(
        "onnx-scrfd",
        min_face_size=min_face_size,
        max_detect_side=1600,
        settings=Settings(onnx_detector_model=path, **settings),
    )


@pytest.fixture(scope="module")
def fixed_320(tmp_path_factory):
    return scrfd_like(tmp_path_factory.mktemp("models") / "scrfd-320.onnx", input_size=(320, 320))


def image_with_white_square(height, width, left, top, side):
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[top : top + side, left : left + side] = 255
    return rgb


@pytest.mark.parametrize(
    "height, width, cell",
    [(600, 1000, (2, 3)), (1000, 600, (4, 1)), (320, 320, (5, 6))],
    ids=["landscape", "portrait", "no-resize"],
)
def test_box_and_landmarks_map_back_through_the_letterbox(fixed_320, height, width, cell):
    # The toy model finds the bright 32x32 cell of its input; the image is letterboxed into
    # 320x320 at scale 320 / long side, so that cell is 32 / scale pixels of the original.
    scale = 320 / max(height, width)
    column, row = cell
    side = round(32 / scale)
    left, top = round(column * 32 / scale), round(row * 32 / scale)
    detections = detector_for(fixed_320, min_face_size=20).detect(
        image_with_white_square(height, width, left, top, side)
    )
    assert len(detections) == 1
    found = detections[0]
    assert found.score > 0.99
    assert found.box.as_list() == pytest.approx([left, top, left + side, top + side], abs=1)
    expected = (np.array([column, row]) + CELL_LANDMARKS) * 32 / scale
    np.testing.assert_allclose(np.array(found.landmarks.points), expected, atol=0.5)
    assert found.landmarks.scheme == "arcface-5"


def test_dynamic_input_runs_at_the_configured_size(tmp_path):
    path = scrfd_like(tmp_path / "scrfd-dynamic.onnx", input_size=None)
    detector = detector_for(path, onnx_detector_input_size=640)
    assert (detector.input_height, detector.input_width) == (640, 640)
    # 1280x960 → scale 0.5: the cell at column 7, row 9 of the 640 input is x 448..512, y 576..640.
    detections = detector.detect(image_with_white_square(960, 1280, 448, 576, 64))
    assert [d.box.as_list() for d in detections] == [[448, 576, 512, 640]]


def test_faces_below_the_minimum_size_are_dropped(fixed_320):
    rgb = image_with_white_square(600, 1000, 300, 200, 100)
    assert len(detector_for(fixed_320, min_face_size=90).detect(rgb)) == 1
    assert detector_for(fixed_320, min_face_size=120).detect(rgb) == []


def test_several_faces_come_in_reading_order_and_blank_images_have_none(fixed_320):
    rgb = image_with_white_square(320, 320, 192, 64, 32)
    rgb[128:160, 32:64] = 255
    boxes = [d.box.left for d in detector_for(fixed_320, min_face_size=20).detect(rgb)]
    assert boxes == [32, 192]
    assert detector_for(fixed_320).detect(np.zeros((200, 300, 3), np.uint8)) == []


def test_non_maximum_suppression_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    kept = non_maximum_suppression(boxes, np.array([0.8, 0.9, 0.7]), overlap=0.4)
    assert kept.tolist() == [1, 2]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p: scrfd_like(p, landmarks=False), "needs an SCRFD model with landmarks"),
        (lambda p: arcface_like(p), "outputs; facesift needs an SCRFD model"),
        (lambda p: p.write_bytes(b"\x00\x01garbage"), "not an ONNX model"),
        (lambda p: None, "model file not found"),
    ],
    ids=["no-landmarks", "an-embedder", "garbage", "missing"],
)
def test_unusable_detector_files_are_refused_by_name(tmp_path, build, message):
    path = tmp_path / "detector.onnx"
    build(path)
    with pytest.raises(ConfigError) as error:
        detector_for(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_scrfd_landmarks_cannot_drive_dlibs_chips(fixed_320):
    from facesift.embed import create_embedder
    from facesift.pipeline import FaceAnalyser

    with pytest.raises(ConfigError, match="aligns on dlib's landmarks, but detector onnx-scrfd"):
        FaceAnalyser(detector_for(fixed_320), create_embedder("dlib-resnet"), 80_000_000)

"""YuNet on real photos: the shipped model, OpenCV's reference runtime, our scales and tiles."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from facesift import Settings
from facesift.detect import available_detectors, create_detector
from facesift.detect.yunet import (
    COARSE_SIDE,
    TILE_OVERLAP,
    Candidate,
    YuNetDetector,
    merge,
    pyramid_scales,
    tile_windows,
)
from facesift.errors import ConfigError
from facesift.models import shipped
from facesift.pipeline import FaceAnalyser
from facesift.read.decode import decode_image
from tests.conftest import rgb_of
from tests.unit.detect.test_detectors import COLLINS_FACE, overlaps

LIMIT = 80_000_000


@pytest.fixture(scope="module")
def yunet():
    return create_detector("yunet", min_face_size=40, max_detect_side=1600)


@pytest.fixture(scope="module")
def collins(photos) -> np.ndarray:
    return rgb_of(photos["collins"])


def only_face(detections):
    assert len(detections) == 1, detections
    return detections[0]


def assert_face_layout(face):
    """YuNet's order: image-left eye, image-right eye, nose tip, image-left and image-right
    mouth corners; eyes above the nose above the mouth, all inside the box."""
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face.landmarks.points
    assert face.landmarks.scheme == "yunet-5"
    assert lex < nx < rex and lmx < rmx
    assert max(ley, rey) < ny < min(lmy, rmy)
    for x, y in face.landmarks.points:
        assert face.box.left <= x <= face.box.right and face.box.top <= y <= face.box.bottom


def test_registered_and_listed_by_the_cli():
    from typer.testing import CliRunner

    from facesift.cli.app import app

    assert "yunet" in available_detectors()
    result = CliRunner().invoke(app, ["backends"])
    assert result.exit_code == 0 and "yunet" in result.output


def test_collins_is_found_with_her_landmarks_in_place(yunet, collins):
    face = only_face(yunet.detect(collins))
    assert overlaps(face.box, COLLINS_FACE) > 0.6
    assert_face_layout(face)
    # Her eyes, as drawn on skimage's astronaut, are near (200, 102) and (247, 103).
    assert np.allclose(face.landmarks.points[0], (200, 102), atol=6)
    assert np.allclose(face.landmarks.points[1], (247, 103), atol=6)
    assert 0.8 < face.score <= 1.0


def test_both_faces_of_the_group_photo_in_reading_order(yunet, photos):
    faces = yunet.detect(rgb_of(photos["group"]))
    assert len(faces) == 2
    hopper, collins = faces
    assert hopper.box.right <= collins.box.left  # Hopper on the left, Collins on the right
    for face in faces:
        assert_face_layout(face)


def test_a_blank_image_has_no_face(yunet, photos):
    assert yunet.detect(rgb_of(photos["blank"])) == []


@pytest.mark.parametrize(
    "name", ["coffee", "chelsea", "rocket", "coins", "moon", "page", "horse", "hubble"]
)
def test_no_face_in_face_free_photos_at_the_default_threshold(yunet, name):
    from skimage import data

    loaders = {"hubble": data.hubble_deep_field}
    image = loaders.get(name, getattr(data, name, None))()
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, :3]
    assert yunet.detect(np.ascontiguousarray(rgb, dtype=np.uint8)) == []


def test_a_small_face_in_a_24_megapixel_photo_is_found_where_it_was_pasted(yunet, collins):
    # Collins at 2x (her face ~180x226 px) on a 6000x4000 photo of textured noise.
    patch = np.asarray(Image.fromarray(collins).resize((1024, 1024), Image.Resampling.BICUBIC))
    patch = patch[60:480, 260:660]
    alone = only_face(yunet.detect(patch))  # at native scale: the reference box
    rng = np.random.default_rng(7)
    coarse = rng.integers(40, 215, (400, 600, 3), dtype=np.uint8)
    background = np.asarray(Image.fromarray(coarse).resize((6000, 4000), Image.Resampling.BILINEAR))
    photo = np.ascontiguousarray(background + rng.integers(0, 40, (4000, 6000, 3), dtype=np.uint8))
    left, top = 4321, 2777  # not on a tile boundary of any level
    photo[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    face = only_face(yunet.detect(photo))
    expected = np.array(alone.box.as_list()) + [left, top, left, top]
    assert np.abs(np.array(face.box.as_list()) - expected).max() <= 6
    assert min(face.box.width, face.box.height) > 150
    assert_face_layout(face)


def test_a_face_cut_by_a_tile_edge_is_found_whole_in_the_overlapping_tile(collins):
    detector = YuNetDetector(min_face_size=24, max_detect_side=2 * TILE_OVERLAP)
    canvas = np.full((1200, 1200, 3), 90, np.uint8)
    face_region = collins[40:200, 150:290]  # 140 px wide, the face ~90 px
    windows = tile_windows(1200, 1200, 2 * TILE_OVERLAP, TILE_OVERLAP)
    edge = windows[0][2]  # right edge of the first tile column
    left = edge - 70  # straddles it
    canvas[500:660, left : left + 140] = face_region
    face = only_face(detector.detect(canvas))
    assert left + 15 < face.box.left < edge < face.box.right < left + 125


def test_a_face_filling_the_whole_frame_is_found(yunet, collins):
    crop = Image.fromarray(collins).crop(COLLINS_FACE)
    frame = np.asarray(crop.resize((3000, 3000), Image.Resampling.BICUBIC))
    face = only_face(yunet.detect(frame))
    assert face.box.width > 2400 and face.box.height > 2400
    (lex, _), (rex, _), *_ = face.landmarks.points
    assert 0 < lex < 1500 < rex < 3000


def test_every_scale_finds_faces_from_min_face_size_to_the_whole_frame():
    for height, width in [(250, 250), (1080, 1920), (4000, 6000), (5773, 8660), (300, 20000)]:
        scales = pyramid_scales(height, width, min_face_size=40)
        assert scales == sorted(scales, reverse=True)
        assert 40 * scales[0] >= 24 - 1e-9  # the smallest wanted face is findable
        assert min(height, width) * scales[-1] <= COARSE_SIDE  # so is the whole frame
        for finer, coarser in zip(scales, scales[1:], strict=False):
            assert finer / coarser <= 4 + 1e-9  # a face too big for one level fits the next


def test_tiles_cover_the_image_with_the_overlap():
    windows = tile_windows(3464, 5196, 1600, TILE_OVERLAP)
    assert {(r - lft, b - t) for lft, t, r, b in windows} == {windows[0][2:]}
    assert all(r - lft <= 1600 and b - t <= 1600 for lft, t, r, b in windows)
    covered = np.zeros((3464, 5196), bool)
    for lft, t, r, b in windows:
        covered[t:b, lft:r] = True
    assert covered.all()
    xs = sorted({(lft, r) for lft, _, r, _ in windows})
    assert all(a[1] - b[0] >= TILE_OVERLAP for a, b in zip(xs, xs[1:], strict=False))


def candidate(box, score, detector_side, level) -> Candidate:
    return Candidate(np.array(box, float), np.zeros((5, 2)), score, detector_side, level)


def test_merge_keeps_each_face_from_the_level_where_it_is_best_sized():
    too_big = candidate([100, 100, 580, 580], 0.95, detector_side=480, level=0)
    sized = candidate([104, 98, 584, 590], 0.90, detector_side=120, level=1)
    assert merge([too_big, sized]) == [sized]
    # Both inside the best range: the finer level (more pixels), whatever the scores.
    fine = candidate([100, 100, 300, 300], 0.85, detector_side=120, level=0)
    coarse = candidate([98, 102, 302, 298], 0.93, detector_side=30, level=1)
    assert merge([coarse, fine]) == [fine]


def test_merge_replaces_a_part_of_a_face_by_the_whole_face_from_a_coarser_level():
    part = candidate([300, 300, 420, 420], 0.8, detector_side=72, level=0)
    whole = candidate([100, 100, 700, 760], 0.9, detector_side=160, level=1)
    beside = candidate([900, 100, 1100, 300], 0.9, detector_side=120, level=0)
    assert merge([part, whole, beside]) == [beside, whole]
    # A smaller box on a coarser level inside a kept face is a duplicate, not a whole face.
    face = candidate([100, 100, 700, 760], 0.9, detector_side=160, level=0)
    inner = candidate([300, 300, 420, 420], 0.8, detector_side=45, level=1)
    assert merge([face, inner]) == [face]


def test_a_too_small_tile_setting_is_refused_by_name():
    with pytest.raises(ConfigError, match="max_detect_side 320"):
        YuNetDetector(min_face_size=40, max_detect_side=320)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def decoded_variants(collins: np.ndarray) -> dict[str, bytes]:
    image = Image.fromarray(collins)
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer turns it 90 degrees clockwise
    return {
        "L": encoded(image.convert("L"), "PNG"),
        "CMYK": encoded(image.convert("CMYK"), "JPEG", quality=92),
        "I;16": encoded(Image.fromarray(grey), "PNG"),
        "exif-rotated": encoded(
            image.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=92
        ),
    }


@pytest.mark.parametrize("variant", ["L", "CMYK", "I;16", "exif-rotated"])
def test_decoded_inputs_of_every_kind_give_the_face(yunet, collins, variant):
    data = decoded_variants(collins)[variant]
    assert Image.open(io.BytesIO(data)).mode == {"exif-rotated": "RGB"}.get(variant, variant)
    rgb = decode_image(data, f"collins-{variant}", LIMIT)
    assert rgb.shape == (512, 512, 3) and rgb.dtype == np.uint8
    face = only_face(yunet.detect(rgb))
    assert overlaps(face.box, COLLINS_FACE) > 0.6
    assert_face_layout(face)


def test_a_changed_model_file_is_refused(tmp_path, monkeypatch):
    original = shipped.YUNET_2023MAR
    copy = tmp_path / original.relative_path
    copy.parent.mkdir(parents=True)
    shutil.copyfile(original.path, copy)
    with copy.open("r+b") as stream:
        stream.seek(copy.stat().st_size // 2)
        byte = stream.read(1)
        stream.seek(-1, 1)
        stream.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="is not the published"):
        create_detector("yunet", min_face_size=40, max_detect_side=1600)


def test_the_pipeline_refuses_dlib_chips_from_yunet_landmarks(tmp_path):
    settings = Settings(data_dir=tmp_path, detector="yunet", embedder="dlib-resnet")
    with pytest.raises(ConfigError, match="yunet-5"):
        FaceAnalyser.from_settings(settings)


def test_the_pipeline_aligns_yunet_landmarks_onto_the_arcface_template(tmp_path, collins):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from tests.onnx_models import arcface_like

    model = arcface_like(tmp_path / "arcface-like.onnx")
    settings = Settings(
        data_dir=tmp_path, detector="yunet", embedder="onnx-arcface", onnx_embedder_model=model
    )
    analyser = FaceAnalyser.from_settings(settings)
    (face,) = analyser.analyse_pixels(collins)
    assert overlaps(face.detection.box, COLLINS_FACE) > 0.6
    assert np.isclose(np.linalg.norm(face.embedding), 1.0, atol=1e-5)


def test_yunet_with_reid_0095_finds_and_embeds_both_faces_of_the_group_photo(tmp_path, photos):
    settings = Settings(data_dir=tmp_path, detector="yunet", embedder="reid-0095")
    analyser = FaceAnalyser.from_settings(settings)
    faces = analyser.analyse_pixels(rgb_of(photos["group"]))
    assert len(faces) == 2
    hopper, collins = (face.embedding for face in faces)
    assert hopper.shape == (256,)
    alone = analyser.analyse_pixels(rgb_of(photos["collins"]))
    (collins_alone,) = (face.embedding for face in alone)
    # The same person (Collins in the group photo and alone) is nearer than the other person.
    assert np.linalg.norm(collins - collins_alone) < np.linalg.norm(hopper - collins_alone)

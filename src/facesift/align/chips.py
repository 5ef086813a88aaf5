"""Landmarks → aligned face chip, and a sharpness measure of the chip.

The dlib ResNet was trained on chips made by ``dlib.get_face_chip`` (a similarity transform that
puts the landmarks where dlib's mean face has them); using the same function keeps our embeddings
identical to the model's published evaluation setting. ArcFace-style models were trained on
112x112 chips made by a similarity transform onto insightface's 5-point template
(``insightface.utils.face_align.norm_crop``); ``template="arcface-112"`` reproduces that.
Intel's face-reidentification-retail-0095 was trained on 128x128 chips aligned the same way onto
its own 5-point template (``template="reid-0095-128"``, from its Open Model Zoo documentation; see
``models/PROVENANCE.md``), which sits lower and wider on the chip than ArcFace's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from facesift.errors import ConfigError
from facesift.models import dlib_module
from facesift.types import BoundingBox, ChipSpec, Landmarks

# insightface's ``arcface_dst``: left eye, right eye, nose tip, left and right mouth corners (as
# seen in the image) on a 112x112 chip.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

# face-reidentification-retail-0095's template (Open Model Zoo, in [0, 1] chip coordinates; see
# models/PROVENANCE.md), same point order as YuNet's and the ArcFace layout, scaled to 128 px.
REID_0095_TEMPLATE_128 = (
    np.array(
        [
            [0.31556875, 0.46157411],
            [0.68262292, 0.46157411],
            [0.50026250, 0.64050536],
            [0.34947188, 0.82469196],
            [0.65343646, 0.82469196],
        ],
        dtype=np.float64,
    )
    * 128.0
)
# Landmark schemes whose 5 points are, in order, the image-left eye, image-right eye, nose tip,
# image-left and image-right mouth corners: what the 0095 template needs, point for point.
FIVE_POINT_SCHEMES = ("yunet-5", "arcface-5")
TEMPLATES = ("dlib", "arcface-112", "reid-0095-128")


def landmarks_fit(template: str, scheme: str) -> bool:
    """Whether landmarks of ``scheme`` can be aligned onto ``template`` (checked up front by the
    pipeline, so a mismatched detector and embedder fail at start-up, not on every image)."""
    if template == "dlib":
        return scheme.startswith("dlib-")
    if template == "reid-0095-128":
        return scheme in FIVE_POINT_SCHEMES
    return True


def aligned_chip(
    rgb: np.ndarray, box: BoundingBox, landmarks: Landmarks, spec: ChipSpec
) -> np.ndarray:
    """Return a ``spec.size`` square RGB chip with the face aligned as the embedder expects."""
    if spec.template == "arcface-112":
        return arcface_chip(rgb, landmarks, spec.size)
    if spec.template == "reid-0095-128":
        return reid_0095_chip(rgb, landmarks, spec.size)
    if spec.template != "dlib":
        raise ConfigError(f"unknown chip template {spec.template!r}; known: {', '.join(TEMPLATES)}")
    if not landmarks.scheme.startswith("dlib-"):
        raise ConfigError(
            f"dlib chips need dlib's landmarks, not {landmarks.scheme!r}: use a dlib detector "
            "with this embedder, or an embedder whose chip is aligned on 5 points (onnx-arcface)"
        )
    dlib = dlib_module()
    rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
    points = dlib.points([dlib.point(round(x), round(y)) for x, y in landmarks.points])
    shape = dlib.full_object_detection(rect, points)
    return np.asarray(dlib.get_face_chip(rgb, shape, size=spec.size, padding=spec.padding))


def arcface_chip(rgb: np.ndarray, landmarks: Landmarks, size: int = 112) -> np.ndarray:
    """The chip ``norm_crop`` makes: the landmarks mapped onto the ArcFace template by the
    least-squares similarity transform (rotation, uniform scale, translation)."""
    source, target = arcface_points(landmarks)
    return warped_chip(rgb, similarity_transform(source, target * (size / 112.0)), size)


def reid_0095_chip(rgb: np.ndarray, landmarks: Landmarks, size: int = 128) -> np.ndarray:
    """The chip face-reidentification-retail-0095 expects: the 5 landmarks mapped onto its
    template by the least-squares similarity transform. Only true 5-point layouts (YuNet's, or
    SCRFD's ArcFace order) are accepted: dlib's 5 points are eye corners and the nose base, which
    would silently misplace the face."""
    points = np.asarray(landmarks.points, dtype=np.float64)
    if landmarks.scheme not in FIVE_POINT_SCHEMES or points.shape != (5, 2):
        raise ConfigError(
            f"the reid-0095 chip aligns 5 landmarks (eyes, nose tip, mouth corners); got "
            f"{landmarks.scheme!r} landmarks ({len(points)} points). Known: "
            f"{', '.join(FIVE_POINT_SCHEMES)}: use a detector that gives them (yunet, onnx-scrfd)"
        )
    target = REID_0095_TEMPLATE_128 * (size / 128.0)
    return warped_chip(rgb, similarity_transform(points, target), size)


def warped_chip(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` square chip that the 2x3 image→chip ``matrix`` maps the image onto."""
    # PIL wants the inverse map: for each chip pixel, where to sample in the image.
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    chip = Image.fromarray(np.ascontiguousarray(rgb)).transform(
        (size, size),
        Image.Transform.AFFINE,
        data=tuple(inverse.ravel()),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(chip)


def arcface_points(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Corresponding (image points, template points) for the ArcFace template.

    SCRFD gives the template's 5 points directly, and YuNet the same 5 in the same order (eyes,
    nose tip, mouth corners, each pair image-left first). dlib's 68-point layout contains them (eye
    centres, nose tip, mouth corners). dlib's 5-point layout has eye corners and the base of the
    nose, not the tip, and no mouth: the eye centres alone fix a similarity transform, which is
    more faithful than pairing the nose base with the template's nose tip.
    """
    points = np.asarray(landmarks.points, dtype=np.float64)
    if landmarks.scheme in ("arcface-5", "yunet-5") and len(points) == 5:
        return points, ARCFACE_TEMPLATE_112
    if landmarks.scheme == "dlib-68" and len(points) == 68:
        eyes = sorted([points[36:42].mean(axis=0), points[42:48].mean(axis=0)], key=lambda p: p[0])
        mouth = sorted([points[48], points[54]], key=lambda p: p[0])
        return np.array([*eyes, points[30], *mouth]), ARCFACE_TEMPLATE_112
    if landmarks.scheme == "dlib-5" and len(points) == 5:
        eyes = sorted([points[0:2].mean(axis=0), points[2:4].mean(axis=0)], key=lambda p: p[0])
        return np.array(eyes), ARCFACE_TEMPLATE_112[:2]
    raise ConfigError(
        f"cannot align {landmarks.scheme!r} landmarks ({len(points)} points) to the ArcFace "
        "template; known: arcface-5, yunet-5, dlib-5, dlib-68"
    )


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity matrix best mapping ``source`` points onto ``target`` (Umeyama 1991,
    as ``skimage.transform.SimilarityTransform.estimate`` computes it)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflection[1, 1] = -1.0
    rotation = u @ reflection @ vt
    variance = source_centred.var(axis=0).sum()
    scale = float((singular * np.diag(reflection)).sum() / variance) if variance > 0 else 1.0
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def sharpness(chip: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the chip's luma: low values mean blur."""
    grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    laplacian = (
        -4.0 * grey[1:-1, 1:-1]
        + grey[:-2, 1:-1]
        + grey[2:, 1:-1]
        + grey[1:-1, :-2]
        + grey[1:-1, 2:]
    )
    return float(laplacian.var())

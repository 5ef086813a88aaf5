"""YuNet's score threshold, from data: faces missed on LFW against false faces on face-free images.

(a) Every LFW photo through the yunet detector as facesift runs it (default min_face_size and
    max_detect_side): how many photos get no face at each threshold.
(a') Every 4th of those photos shrunk so the face is 1.1x min_face_size, in a larger photo, where
    it is found on the finest level at YuNet's smallest reliable size: the hard case.
(b) Face-free images: scikit-image's bundled photos without people (each named below, chosen by
    what it shows), synthetic noise, gradients and textures, each at several sizes (up to ~24 MP,
    so the tiles are exercised): false detections per image and per megapixel at each threshold.

One run at the lowest threshold gives every candidate; each threshold keeps those at or above it
and merges them exactly as YuNetDetector.detect does (thresholding commutes with OpenCV's greedy
NMS, and the merge runs after the threshold).

    python bench/detector_threshold.py --lfw ../shared/datasets/lfw [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine  # noqa: E402

from facesift.config import Settings  # noqa: E402
from facesift.detect.yunet import YuNetDetector, merge  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
LOWEST = THRESHOLDS[0]
# scikit-image's bundled images that show no person (astronaut, camera and lfw_subset do):
FACE_FREE_SKIMAGE = {
    "coffee": "a cup of coffee on a saucer",
    "chelsea": "a cat's head (an animal face: a false detection for a human face search)",
    "rocket": "a rocket on its launch pad",
    "coins": "Greek coins (greyscale)",
    "moon": "the moon's surface (greyscale)",
    "page": "a page of printed text (greyscale)",
    "text": "handwritten and printed text on a textured background (greyscale)",
    "horse": "a horse's silhouette (binary)",
    "hubble_deep_field": "galaxies",
    "retina": "a retina fundus photograph",
    "brick": "a brick wall (greyscale)",
    "grass": "grass (greyscale)",
    "gravel": "gravel (greyscale)",
    "clock": "a clock face, motion-blurred (greyscale)",
    "colorwheel": "a colour wheel",
    "logo": "the scikit-image logo",
    "immunohistochemistry": "stained tissue under a microscope",
    "microaneurysms": "a retina detail (greyscale)",
    "cell": "a cell under a microscope (greyscale)",
}
SMALL_FACE_MARGIN = 1.1
SIZES = (0.5, 1.0, 2.0, 4.0)  # each bundled image at these scales of its own size
SYNTHETIC_SIZES = ((480, 640), (1080, 1920), (3000, 4000), (4000, 6000))


def rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = (255 * (image.astype(np.float64) / max(float(image.max()), 1e-9))).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def skimage_images():
    from skimage import data

    for name in FACE_FREE_SKIMAGE:
        base = Image.fromarray(rgb(getattr(data, name)()))
        for factor in SIZES:
            size = (max(32, round(base.width * factor)), max(32, round(base.height * factor)))
            resample = Image.Resampling.BICUBIC if factor > 1 else Image.Resampling.LANCZOS
            yield f"{name}@{factor:g}x", np.asarray(base.resize(size, resample))


def synthetic_images(seed: int = 0):
    rng = np.random.default_rng(seed)
    for height, width in SYNTHETIC_SIZES:
        yield f"uniform-noise {width}x{height}", rng.integers(0, 256, (height, width, 3), np.uint8)
        gauss = np.clip(rng.normal(128, 40, (height, width, 3)), 0, 255).astype(np.uint8)
        yield f"gaussian-noise {width}x{height}", gauss
        for blur in (8, 64):  # low-frequency "cloud" noise: blobs of about this many pixels
            small = rng.integers(0, 256, (max(2, height // blur), max(2, width // blur), 3))
            clouds = Image.fromarray(small.astype(np.uint8)).resize(
                (width, height), Image.Resampling.BICUBIC
            )
            yield f"clouds-{blur}px {width}x{height}", np.asarray(clouds)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        gradient = np.stack([xs / width, ys / height, 1 - xs / width], axis=2) * 255
        yield f"gradient {width}x{height}", gradient.astype(np.uint8)
        period = max(8, width // 40)
        stripes = (
            np.sin(xs * 2 * np.pi / period) + np.sin(ys * 2 * np.pi / (period * 1.7))
        ) * 60 + 128
        yield f"waves {width}x{height}", rgb(stripes.astype(np.uint8))
        checks = (((xs // period) + (ys // period)) % 2 * 200 + 28).astype(np.uint8)
        yield f"checkerboard {width}x{height}", rgb(checks)


def counts(candidates, thresholds=THRESHOLDS) -> list[int]:
    return [len(merge([c for c in candidates if c.score >= t])) for t in thresholds]


def lfw_no_face(detector: YuNetDetector, root: Path, limit: int | None):
    """Photos with no face at each threshold; and each photo's central face (at the lowest
    threshold) as (path, centre x, centre y, box side) for ``lfw_small_faces``."""
    files = sorted(root.glob("*/*.jpg"))
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    missing = np.zeros(len(THRESHOLDS), int)
    central = []
    start = time.perf_counter()
    for i, path in enumerate(files):
        pixels = np.asarray(Image.open(path).convert("RGB"))
        candidates = detector.candidates(pixels)
        missing += np.array(counts(candidates)) == 0
        faces = merge(candidates)
        if faces:
            middle = np.array([pixels.shape[1], pixels.shape[0]]) / 2
            face = min(faces, key=lambda c: np.linalg.norm(centre(c) - middle))
            central.append((path, *centre(face), side(face)))
        if i % 2000 == 0:
            print(f"  LFW {i}/{len(files)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return len(files), missing, central


def centre(c) -> np.ndarray:
    return np.array([(c.box[0] + c.box[2]) / 2, (c.box[1] + c.box[3]) / 2])


def side(c) -> float:
    return float(min(c.box[2] - c.box[0], c.box[3] - c.box[1]))


def lfw_small_faces(detector: YuNetDetector, central, every: int, canvas=(768, 1024)):
    """Each ``every``-th LFW photo shrunk so its central face is 10% above ``min_face_size``
    (shorter box side), pasted on a mid-grey 1024x768 photo, so it is found on the finest level,
    near SMALLEST_FACE_PX: is the face found (a box centred within a third of a face of it)?
    Not at exactly the minimum: box sides vary by about +-8% between scales (5th-95th
    percentile, 50 LFW faces), so a face at exactly the minimum is kept about half the time."""
    missing = np.zeros(len(THRESHOLDS), int)
    sample = central[::every]
    for path, cx, cy, face_side in sample:
        factor = SMALL_FACE_MARGIN * detector.min_face_size / face_side
        image = Image.open(path).convert("RGB")
        small = image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
            Image.Resampling.LANCZOS,
        )
        photo = np.full((*canvas, 3), 128, np.uint8)
        left, top = 400, 300
        photo[top : top + small.height, left : left + small.width] = np.asarray(small)
        target = np.array([left + cx * factor, top + cy * factor])
        candidates = detector.candidates(photo)
        for i, threshold in enumerate(THRESHOLDS):
            kept = merge([c for c in candidates if c.score >= threshold])
            hit = any(np.linalg.norm(centre(c) - target) < detector.min_face_size / 3 for c in kept)
            missing[i] += not hit
    return len(sample), missing


def face_free(detector: YuNetDetector, images):
    totals = np.zeros(len(THRESHOLDS), int)
    megapixels = 0.0
    worst: list[tuple[float, str]] = []
    number = 0
    for name, pixels in images:
        number += 1
        candidates = detector.candidates(pixels)
        totals += counts(candidates)
        megapixels += pixels.shape[0] * pixels.shape[1] / 1e6
        for c in candidates:
            worst.append((c.score, name))
    return number, megapixels, totals, sorted(worst, reverse=True)[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="LFW photos (default: all)")
    parser.add_argument("--small-every", type=int, default=4, help="LFW sample for (a')")
    parser.add_argument("--out", type=Path, default=Path("bench/results/detector_threshold.md"))
    args = parser.parse_args()
    settings = Settings()
    detector = YuNetDetector(
        min_face_size=settings.min_face_size,
        max_detect_side=settings.max_detect_side,
        score_threshold=LOWEST,
    )
    lines = [
        f"Machine: {machine()}; commit {git_revision()}; yunet detector, min_face_size "
        f"{settings.min_face_size}, max_detect_side {settings.max_detect_side}.",
        "",
    ]
    photos, missing, central = lfw_no_face(detector, args.lfw, args.limit)
    small_photos, small_missing = lfw_small_faces(detector, central, args.small_every)
    sets = {
        "scikit-image, no people": face_free(detector, skimage_images()),
        "synthetic": face_free(detector, synthetic_images()),
    }
    header = (
        f"| threshold | LFW photos with no face (of {photos:,}) | LFW faces shrunk to "
        f"{SMALL_FACE_MARGIN * detector.min_face_size:.0f} px missed (of {small_photos:,}) |"
    )
    rule = "|---:|---:|---:|"
    for label, (number, mp, _, _) in sets.items():
        header += f" false faces: {label} ({number} images, {mp:.0f} MP) | per MP |"
        rule += "---:|---:|"
    lines += [header, rule]
    for i, threshold in enumerate(THRESHOLDS):
        row = (
            f"| {threshold:.2f} | {missing[i]} ({missing[i] / photos:.2%}) | "
            f"{small_missing[i]} ({small_missing[i] / small_photos:.2%}) |"
        )
        for number, mp, totals, _ in sets.values():
            row += f" {totals[i]} ({totals[i] / number:.3f}/image) | {totals[i] / mp:.4f} |"
        lines.append(row)
    lines.append("")
    for label, (_, _, _, worst) in sets.items():
        shown = ", ".join(f"{name} {score:.2f}" for score, name in worst) or "none"
        lines.append(f"Highest-scoring candidates, {label}: {shown}")
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

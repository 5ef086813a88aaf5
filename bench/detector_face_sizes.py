"""Which face sizes YuNet finds at its native scale (sets SMALLEST_FACE_PX, BEST_FACE_PX and
COARSE_SIDE in src/facesift/detect/yunet.py).

(1) For each photo of a fixed LFW sample, the central face is found at native size (250x250);
    the photo is then resized so that face's box side is S px and YuNet run once on it (OpenCV's
    FaceDetectorYN, no pyramid): the share found (score >= 0.5), the median score, and how far its
    landmarks are from those found at native size, in eye distances.
(2) A face filling the whole frame: the face box cropped (whole, and the central 80% of it) and
    resized to S x S: the share found.

    python bench/detector_face_sizes.py --lfw ../shared/datasets/lfw [--count 150]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import lfw_sample  # noqa: E402

from facesift.detect.yunet import open_yunet  # noqa: E402

SIZES = (8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 64, 96, 128, 160, 200, 240, 280, 320,
         400, 480, 560, 640)  # fmt: skip
FRAME_SIDES = (160, 200, 240, 256, 288, 320, 400)


def run(detector, rgb: np.ndarray) -> np.ndarray:
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    detector.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, faces = detector.detect(bgr)
    return np.zeros((0, 15), np.float32) if faces is None else faces


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--count", type=int, default=150)
    args = parser.parse_args()
    detector = open_yunet(score_threshold=0.3, threads=1)
    hits = {s: [] for s in SIZES}
    errors = {s: [] for s in SIZES}
    scores = {s: [] for s in SIZES}
    frames = {(t, s): [] for t in (1.0, 0.8) for s in FRAME_SIDES}
    for path in lfw_sample(args.lfw, args.count):
        image = Image.open(path).convert("RGB")
        faces = run(detector, np.asarray(image))
        if not len(faces):
            continue
        centres = faces[:, :2] + faces[:, 2:4] / 2
        middle = np.array([image.width, image.height]) / 2
        ref = faces[np.argmin(((centres - middle) ** 2).sum(axis=1))]
        side = (ref[2] + ref[3]) / 2
        centre = ref[:2] + ref[2:4] / 2
        eyes = np.linalg.norm(ref[4:6] - ref[6:8])
        for target in SIZES:
            pixels = max(8, round(image.width * target / side))
            factor = pixels / image.width
            resample = Image.Resampling.BILINEAR if factor > 1 else Image.Resampling.BOX
            found = run(detector, np.asarray(image.resize((pixels, pixels), resample)))
            match = None
            for row in found:
                if (
                    np.linalg.norm((row[:2] + row[2:4] / 2) / factor - centre) < side / 3
                    and 0.6 < (row[2] + row[3]) / 2 / factor / side < 1.6
                ):
                    match = row
                    break
            hits[target].append(match is not None and match[14] >= 0.5)
            if match is not None:
                scores[target].append(float(match[14]))
                moved = match[4:14].reshape(5, 2) / factor - ref[4:14].reshape(5, 2)
                errors[target].append(float(np.linalg.norm(moved, axis=1).mean() / eyes))
        for tight in (1.0, 0.8):
            half = max(ref[2], ref[3]) * tight / 2
            crop = image.crop(tuple(round(v) for v in (*(centre - half), *(centre + half))))
            for frame in FRAME_SIDES:
                found = run(
                    detector, np.asarray(crop.resize((frame, frame), Image.Resampling.BICUBIC))
                )
                frames[(tight, frame)].append(bool(len(found)) and float(found[:, 14].max()) >= 0.5)
    count = len(hits[SIZES[0]])
    print(f"(1) {count} LFW faces resized to each box side, YuNet at native scale:")
    print()
    print(
        "| face box side (px) | found (score >= 0.5) | median score "
        "| landmark shift (eye distances) |"
    )
    print("|---:|---:|---:|---:|")
    for target in SIZES:
        median = np.median(scores[target]) if scores[target] else float("nan")
        shift = np.mean(errors[target]) if errors[target] else float("nan")
        print(f"| {target} | {np.mean(hits[target]):.1%} | {median:.3f} | {shift:.3f} |")
    print()
    print(f"(2) The same {count} faces filling the whole frame, resized to S x S (share found):")
    print()
    print("| crop | " + " | ".join(f"{s} px" for s in FRAME_SIDES) + " |")
    print("|---|" + "---:|" * len(FRAME_SIDES))
    for tight, label in ((1.0, "face box"), (0.8, "central 80% of the box")):
        cells = " | ".join(f"{np.mean(frames[(tight, s)]):.1%}" for s in FRAME_SIDES)
        print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()

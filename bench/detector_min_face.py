"""The smallest face dlib's HOG detector finds at its native scale (sets HOG_SMALLEST_FACE_PX).

For each photo of a fixed LFW sample, the central face's box side is measured on a 4x enlarged
copy (where it is far above the detector's window); the photo is then resized so that face is
S px and the detector run once at native scale (no upsampling). Prints the share of faces found
at each S: the detection scale must map ``min_face_size`` to an S where that share is ~100%.

    python bench/detector_min_face.py --lfw ../shared/datasets/lfw [--count 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import lfw_sample  # noqa: E402

REFERENCE_SCALE = 4


def found_at_size(detector, image: Image.Image, centre, face_side: float, target: int) -> bool:
    factor = target / face_side
    side = round(image.width * factor)
    small = np.asarray(image.resize((side, side), Image.Resampling.BILINEAR))
    rects, _, _ = detector.run(small, 0, 0.0)
    cx, cy = centre[0] * factor, centre[1] * factor
    return any(
        abs(r.center().x - cx) < target / 2 and abs(r.center().y - cy) < target / 2 for r in rects
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    detector = dlib.get_frontal_face_detector()
    targets = list(range(50, 74, 2))
    hits: dict[int, list[bool]] = {target: [] for target in targets}
    for path in lfw_sample(args.lfw, args.count):
        image = Image.open(path).convert("RGB")
        side = image.width * REFERENCE_SCALE
        big = np.asarray(image.resize((side, side), Image.Resampling.BILINEAR))
        rects, _, _ = detector.run(big, 0, 0.0)
        if not len(rects):
            continue
        middle = side / 2
        face = min(rects, key=lambda r: (r.center().x - middle) ** 2 + (r.center().y - middle) ** 2)
        face_side = face.width() / REFERENCE_SCALE
        centre = (face.center().x / REFERENCE_SCALE, face.center().y / REFERENCE_SCALE)
        for target in targets:
            hits[target].append(found_at_size(detector, image, centre, face_side, target))
    print("| face box side (px) | faces found at native scale |")
    print("|---:|---:|")
    for target in targets:
        print(f"| {target} | {np.mean(hits[target]):.2f} (of {len(hits[target])}) |")


if __name__ == "__main__":
    main()

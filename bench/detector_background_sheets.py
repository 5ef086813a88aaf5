"""Detections in LFW photos away from the labelled face, on contact sheets to be judged by eye.

LFW backgrounds are not face-free (other people stand behind and beside the person), so they
cannot be counted automatically as false detections. Instead: for every LFW photo, the strips
left and right of the central face box (10 px clear of it, at least 40 px wide) are run through
the yunet detector at 0.5; the number of detections per score band is printed, and a fixed random
sample of 40 from each band is drawn on a contact sheet (each with its index and score) for a
person to label as face (whole, partial, profile, blurred) or not a face.

    python bench/detector_background_sheets.py --lfw ../shared/datasets/lfw --out /tmp/sheets
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from facesift.detect.yunet import YuNetDetector, merge

BANDS = ((0.5, 0.7), (0.7, 0.8), (0.8, 1.0))
SAMPLE = 40
TILE = 180


def strips(detector: YuNetDetector, root: Path):
    """(photo, strip left edge, candidate) for every detection in a side strip."""
    for path in sorted(root.glob("*/*.jpg")):
        pixels = np.asarray(Image.open(path).convert("RGB"))
        faces = merge(detector.candidates(pixels))
        if not faces:
            continue
        middle = np.array([pixels.shape[1], pixels.shape[0]]) / 2
        left, _, right, _ = min(faces, key=lambda c: off_centre(c, middle)).box
        for x0, x1 in ((0, int(max(0, left - 10))), (int(min(pixels.shape[1], right + 10)), None)):
            strip = np.ascontiguousarray(pixels[:, x0:x1])
            if strip.shape[1] < 40:
                continue
            for found in merge(detector.candidates(strip)):
                yield path, x0, found


def off_centre(c, middle: np.ndarray) -> float:
    return float(np.linalg.norm([(c.box[0] + c.box[2]) / 2, (c.box[1] + c.box[3]) / 2] - middle))


def sheet(path_boxes, out: Path) -> None:
    tiles = []
    for i, (path, x0, c) in enumerate(path_boxes):
        image = Image.open(path).convert("RGB")
        left, top, right, bottom = c.box + [x0, 0, x0, 0]
        cx, cy = (left + right) / 2, (top + bottom) / 2
        half = max(right - left, bottom - top) * 0.9
        crop = image.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
        crop = crop.resize((TILE, TILE))
        k = TILE / (2 * half)
        draw = ImageDraw.Draw(crop)
        corners = [(left - cx + half) * k, (top - cy + half) * k]
        corners += [(right - cx + half) * k, (bottom - cy + half) * k]
        draw.rectangle(corners, outline=(255, 0, 0), width=2)
        draw.text((2, 2), f"{i} {c.score:.2f}", fill=(255, 255, 0))
        tiles.append(crop)
    canvas = Image.new("RGB", (TILE * 8, TILE * ((len(tiles) + 7) // 8)))
    for i, tile in enumerate(tiles):
        canvas.paste(tile, ((i % 8) * TILE, (i // 8) * TILE))
    canvas.save(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the contact sheets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    detector = YuNetDetector(score_threshold=BANDS[0][0])
    found = list(strips(detector, args.lfw))
    print(f"{len(found)} detections in the side strips of LFW photos at >= {BANDS[0][0]}")
    rng = random.Random(1)
    for low, high in BANDS:
        band = [f for f in found if low <= f[2].score < high]
        print(f"  [{low}, {high}): {len(band)}")
        chosen = rng.sample(band, min(SAMPLE, len(band)))
        sheet(chosen, args.out / f"band-{low:.2f}-{high:.2f}.png")


if __name__ == "__main__":
    main()

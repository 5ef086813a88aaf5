"""How small may a face be and still be worth finding? LFW verification with every photo shrunk
so its face is S px, through YuNet and Intel face-reidentification-retail-0095.

For S in 24, 32, 40, 64 px (the shorter side of YuNet's box, as ``Settings.min_face_size``
counts it) and the photos as they are (faces ~100 px): each LFW photo of View 2 is shrunk
(area-averaged) so its central face is S px, YuNet (facesift's detector, min_face_size 20) finds
the face nearest the centre in the small photo, its 5 landmarks are mapped by a similarity
transform onto 0095's template (PROVENANCE.md) at 128x128, and the shipped ONNX 0095 (LeakyRelu,
onnxruntime, one thread) embeds it. N-fold accuracy and TAR at FAR 1e-3 as ``facesift eval lfw``
computes them (all 10 folds by default); a photo where no face is found counts against its
pairs (failure to enrol).

This is a measurement for the detector's min_face_size, not facesift's 0095 embedder: its
alignment is a few lines here and may differ in detail from the embedder's.

    python bench/face_size_accuracy.py --lfw ../shared/datasets/lfw
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

from facesift.align.chips import similarity_transform  # noqa: E402
from facesift.detect.yunet import YuNetDetector  # noqa: E402
from facesift.eval.lfw import evaluate_verification, read_pairs  # noqa: E402
from facesift.models.shipped import REID_0095_LEAKYRELU_ONNX, verified_path  # noqa: E402

SIZES = (24, 32, 40, 64, None)  # None: the photo as it is
TEMPLATE_0095 = (
    np.array(
        [
            [0.31556875, 0.46157411],
            [0.68262292, 0.46157411],
            [0.50026250, 0.64050536],
            [0.34947188, 0.82469196],
            [0.65343646, 0.82469196],
        ]
    )
    * 128
)


def central(detections, width: int, height: int):
    if not detections:
        return None
    middle = np.array([width / 2, height / 2])

    def distance(d):
        box = d.box
        return np.linalg.norm([(box.left + box.right) / 2, (box.top + box.bottom) / 2] - middle)

    return min(detections, key=distance)


def main() -> None:
    import cv2
    import onnxruntime as ort

    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=10, help="use View 2's first N folds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/face_size_accuracy.md"))
    args = parser.parse_args()
    pairs = [p for p in read_pairs(args.lfw / "pairs.txt") if p.fold < args.folds]
    photos = sorted({p.a for p in pairs} | {p.b for p in pairs})
    detector = YuNetDetector(min_face_size=20, max_detect_side=1600)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(verified_path(REID_0095_LEAKYRELU_ONNX)), options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name
    embeddings = {size: {} for size in SIZES}
    start = time.perf_counter()
    for number, name in enumerate(photos):
        image = Image.open(args.lfw / name).convert("RGB")
        native = central(detector.detect(np.asarray(image)), image.width, image.height)
        for size in SIZES:
            embeddings[size][name] = None
            if native is None:
                continue
            if size is None:
                small = np.asarray(image)
            else:
                factor = size / min(native.box.width, native.box.height)
                dims = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
                small = cv2.resize(np.asarray(image), dims, interpolation=cv2.INTER_AREA)
            face = central(detector.detect(small), small.shape[1], small.shape[0])
            if face is None:
                continue
            matrix = similarity_transform(np.asarray(face.landmarks.points), TEMPLATE_0095)
            chip = cv2.warpAffine(small, matrix, (128, 128), flags=cv2.INTER_LINEAR)
            blob = chip[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)  # BGR, 0..255
            vector = session.run(None, {input_name: blob})[0].reshape(-1)
            embeddings[size][name] = vector / np.linalg.norm(vector)
        if number % 1000 == 0:
            elapsed = time.perf_counter() - start
            print(f"  {number}/{len(photos)} photos ({elapsed:.0f} s)", file=sys.stderr)
    lines = [
        f"Machine: {machine()}; commit {git_revision()}; {len(pairs)} View 2 pairs "
        f"({args.folds} folds), {len(photos)} photos.",
        "",
        f"| face size (px) | photos without a face | {args.folds}-fold accuracy "
        "| TAR at FAR 1e-3 |",
        "|---|---:|---:|---:|",
    ]
    for size in SIZES:
        vectors = embeddings[size]
        distances = np.array(
            [
                np.linalg.norm(vectors[p.a] - vectors[p.b])
                if vectors[p.a] is not None and vectors[p.b] is not None
                else np.inf
                for p in pairs
            ]
        )
        result = evaluate_verification(pairs, distances)
        missing = sum(v is None for v in vectors.values())
        label = "as in LFW (~100)" if size is None else str(size)
        lines.append(
            f"| {label} | {missing} | {result.mean_accuracy:.2%} ± {result.std_accuracy:.2%} "
            f"| {result.tar_at_far:.2%} |"
        )
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

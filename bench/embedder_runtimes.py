"""Which runtime runs face-reidentification-retail-0095: speed and LFW accuracy, same run.

Three ways to run the same model, each with one inference thread (ingest runs one process per
core), fed the same aligned chips through facesift's own pre- and post-processing
(``embed.reid_0095.bgr_blob``, L2 normalisation):

* onnxruntime with the derived ONNX file (PRelu → LeakyRelu, FP32 constants; PROVENANCE.md);
* OpenVINO with Intel's FP16 IR;
* OpenVINO with Intel's FP16-INT8 IR.

Speed: per face (one chip per call, as the server embeds a probe) and per batch of 16 (ingest
embeds all faces of an image in one call), on the same real LFW chips, in interleaved rounds
(A B C, C B A, ...) so other users' load falls on all alike; medians with the per-round range.
Accuracy: LFW View 2 (``pairs.txt``) with facesift's protocol (``eval.lfw``): 10-fold accuracy and
TAR at FAR 1e-3, the faces found by YuNet (the shipped file, run by ``cv2.FaceDetectorYN``, score
>= 0.5, the face nearest the centre) and aligned on the 0095 template by facesift's own
``align.chips.reid_0095_chip``. Also the agreement of each runtime's vectors with the FP16 IR's.

Model files are taken from the package where it still ships them, else from ``--models``
(../shared/models: the publisher's files and the derived ONNX, with PROVENANCE.md).

    python bench/embedder_runtimes.py --lfw ../shared/datasets/lfw [--models ../shared/models]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, machine  # noqa: E402

from facesift.align.chips import reid_0095_chip  # noqa: E402
from facesift.embed.reid_0095 import (  # noqa: E402
    BATCH_SIZES,
    Reid0095Embedder,
    bgr_blob,
    compile_ir,
)
from facesift.eval import lfw  # noqa: E402
from facesift.models.shipped import MODELS_DIR, YUNET_2023MAR, file_sha256  # noqa: E402
from facesift.types import Landmarks  # noqa: E402

REID = "face-reidentification-retail-0095"
FILES = {
    "fp16": f"{REID}/FP16/{REID}.xml",
    "int8": f"{REID}/FP16-INT8/{REID}.xml",
    "onnx": f"{REID}/onnx/{REID}_fp32_leakyrelu.onnx",
}
BATCH = 16


def model_file(relative: str, shared: Path) -> Path:
    for folder in (MODELS_DIR, shared):
        if (folder / relative).is_file():
            return folder / relative
    raise SystemExit(f"{relative}: in neither {MODELS_DIR} nor {shared}")


class Runtime:
    """One way to run the model: ``embed(chips)`` → (N, 256) unit vectors."""

    def __init__(self, label: str, embed, weights: Path):
        self.label, self.embed = label, embed
        self.sha256 = file_sha256(weights)


def openvino_runtime(label: str, xml: Path) -> Runtime:
    """facesift's own embedder (fixed batch sizes 16 and 1, f32, 1 thread) on this IR."""
    weights = xml.with_suffix(".bin")
    embedder = Reid0095Embedder({b: compile_ir(xml, weights, b) for b in BATCH_SIZES})
    return Runtime(label, embedder.embed, weights)


def onnxruntime_runtime(label: str, path: Path) -> Runtime:
    """The same pre- and post-processing as facesift's embedder, on onnxruntime (1 thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name

    def embed(chips: list[np.ndarray]) -> np.ndarray:
        vectors = session.run(None, {name: bgr_blob(chips)})[0].astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return Runtime(label, embed, path)


def yunet_detector(path: Path):
    import cv2

    detector = cv2.FaceDetectorYN.create(str(path), "", (320, 320), 0.5, 0.3, 5000)

    def central_landmarks(rgb: np.ndarray) -> Landmarks | None:
        height, width = rgb.shape[:2]
        detector.setInputSize((width, height))
        _, faces = detector.detect(np.ascontiguousarray(rgb[..., ::-1]))
        if faces is None or not len(faces):
            return None
        centres = faces[:, 0:2] + faces[:, 2:4] / 2
        face = faces[np.argmin(((centres - [width / 2, height / 2]) ** 2).sum(axis=1))]
        points = tuple((float(x), float(y)) for x, y in face[4:14].reshape(5, 2))
        return Landmarks(points=points, scheme="yunet-5")

    return central_landmarks


def lfw_chips(root: Path, photos: list[str], yunet: Path) -> dict[str, np.ndarray | None]:
    landmarks_of = yunet_detector(yunet)
    chips: dict[str, np.ndarray | None] = {}
    for number, photo in enumerate(photos):
        rgb = np.asarray(Image.open(root / photo).convert("RGB"))
        landmarks = landmarks_of(rgb)
        chips[photo] = None if landmarks is None else reid_0095_chip(rgb, landmarks)
        if number % 1000 == 0:
            print(f"aligned {number}/{len(photos)}", file=sys.stderr, flush=True)
    return chips


def per_face_ms(runtime: Runtime, chips: list[np.ndarray], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(chips), batch):
        runtime.embed(chips[start : start + batch])
    return (time.perf_counter() - started) * 1000 / len(chips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--models", type=Path, default=Path("../shared/models"))
    parser.add_argument("--speed-chips", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/results/embedder_runtimes.md"))
    args = parser.parse_args()

    runtimes = [
        onnxruntime_runtime(
            "onnxruntime, derived LeakyRelu ONNX (FP32)", model_file(FILES["onnx"], args.models)
        ),
        openvino_runtime("OpenVINO, FP16 IR", model_file(FILES["fp16"], args.models)),
        openvino_runtime("OpenVINO, FP16-INT8 IR", model_file(FILES["int8"], args.models)),
    ]
    pairs = lfw.read_pairs(args.lfw / "pairs.txt")
    photos = sorted({p.a for p in pairs} | {p.b for p in pairs})
    chips = lfw_chips(args.lfw, photos, YUNET_2023MAR.path)
    found = [photo for photo in photos if chips[photo] is not None]
    usable = [chips[photo] for photo in found]

    # Speed: the same real chips for everyone, interleaved rounds, one warm-up call each.
    speed_chips = usable[:: max(1, len(usable) // args.speed_chips)][: args.speed_chips]
    timings: dict[tuple[str, int], list[float]] = {}
    for runtime in runtimes:
        runtime.embed(speed_chips[:BATCH])
    for round_number in range(args.rounds):
        order = runtimes if round_number % 2 == 0 else runtimes[::-1]
        for runtime in order:
            for batch in (1, BATCH):
                timings.setdefault((runtime.label, batch), []).append(
                    per_face_ms(runtime, speed_chips, batch)
                )
        print(f"speed round {round_number + 1}/{args.rounds}", file=sys.stderr, flush=True)

    # Accuracy: every photo of View 2, each runtime in batches of 16.
    vectors: dict[str, np.ndarray] = {}
    for runtime in runtimes:
        parts = [
            runtime.embed(usable[start : start + BATCH]) for start in range(0, len(usable), BATCH)
        ]
        vectors[runtime.label] = np.concatenate(parts)
        print(f"embedded LFW with {runtime.label}", file=sys.stderr, flush=True)
    reference = vectors["OpenVINO, FP16 IR"]

    rows = []
    for runtime in runtimes:
        embeddings: dict[str, np.ndarray | None] = dict.fromkeys(photos)
        embeddings.update(zip(found, vectors[runtime.label], strict=True))
        result = lfw.evaluate_verification(pairs, lfw.pair_distances(pairs, embeddings))
        cosines = np.sum(vectors[runtime.label] * reference, axis=1)
        rows.append((runtime, result, cosines))

    slowest = {
        batch: max(statistics.median(timings[(r.label, batch)]) for r in runtimes)
        for batch in (1, BATCH)
    }

    def speed(runtime: Runtime, batch: int) -> str:
        samples = timings[(runtime.label, batch)]
        median = statistics.median(samples)
        ratios = [slowest[batch] / s for s in samples]
        return (
            f"{median:.2f} ({min(samples):.2f}-{max(samples):.2f}) | "
            f"{slowest[batch] / median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        )

    lines = [
        f"Machine: {machine()}; commit {git_revision()}; {len(speed_chips)} real LFW chips for "
        f"speed, {args.rounds} interleaved rounds, 1 inference thread each; LFW View 2: "
        f"{len(photos)} photos, {len(photos) - len(found)} without a face at YuNet score >= 0.5.",
        "Speed ratios are against the slowest runtime in the same column (higher is faster).",
        "",
        "| runtime | weights sha256[:12] | ms per face, 1 chip per call (median; range) | "
        "vs slowest | ms per face, batches of 16 | vs slowest | LFW View-2 accuracy | "
        "TAR at FAR 1e-3 | cosine to the FP16 IR's vector: mean / 1st percentile / min |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for runtime, result, agreement in rows:
        lines.append(
            f"| {runtime.label} | `{runtime.sha256[:12]}` | {speed(runtime, 1)} | "
            f"{speed(runtime, BATCH)} | {100 * result.mean_accuracy:.2f}% ± "
            f"{100 * result.std_accuracy:.2f} | {100 * result.tar_at_far:.2f}% | "
            f"{agreement.mean():.6f} / {np.percentile(agreement, 1):.6f} / "
            f"{agreement.min():.6f} |"
        )
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

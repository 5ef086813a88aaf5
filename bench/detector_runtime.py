"""Which runtime should run YuNet: OpenCV's FaceDetectorYN, onnxruntime, or OpenVINO?

The same shipped ONNX file, one thread each, on the same images in the same process, interleaved
(A B C, C B A, ...) so other load falls on all alike. Each runtime is given the image at its own
size padded to a multiple of 32, as OpenCV's face_detect.cpp does (the graph's Reshapes use -1
and its Resizes use scales, so it runs at any such size although its declared input is 640x640);
onnxruntime and OpenVINO are decoded with the same NumPy code, following face_detect.cpp. Also
checks that all three find the same boxes.

    python bench/detector_runtime.py --lfw ../shared/datasets/lfw [--count 200] [--rounds 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_revision, lfw_sample, machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from facesift.models.shipped import YUNET_2023MAR, verified_path  # noqa: E402

STRIDES = (8, 16, 32)
SCORE = 0.5
NMS = 0.3
OUTPUT_NAMES = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]


def padded(bgr: np.ndarray) -> np.ndarray:
    height, width = bgr.shape[:2]
    pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
    out = np.zeros((pad_h, pad_w, 3), np.uint8)
    out[:height, :width] = bgr
    return out


def decode(outputs: dict[str, np.ndarray], pad_h: int, pad_w: int) -> np.ndarray:
    """(n, 15) rows as cv2.FaceDetectorYN returns them, before NMS."""
    rows = []
    for stride in STRIDES:
        cols, nrows = pad_w // stride, pad_h // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        keep = np.nonzero(score >= SCORE)[0]
        if not len(keep):
            continue
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        kps = outputs[f"kps_{stride}"].reshape(-1, 10)[keep]
        grid = np.stack([keep % cols, keep // cols], axis=1).astype(np.float32)
        assert nrows * cols == len(cls)
        centre = (grid + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:]) * stride
        points = (kps.reshape(-1, 5, 2) + grid[:, None, :]) * stride
        rows.append(np.hstack([centre - size / 2, size, points.reshape(-1, 10), score[keep, None]]))
    return np.vstack(rows) if rows else np.zeros((0, 15), np.float32)


def nms(faces: np.ndarray) -> np.ndarray:
    import cv2

    if len(faces) < 2:
        return faces
    keep = cv2.dnn.NMSBoxes(faces[:, :4].astype(int).tolist(), faces[:, 14].tolist(), SCORE, NMS)
    return faces[np.asarray(keep).reshape(-1)]


class OpenCvYuNet:
    name = "cv2.FaceDetectorYN"
    threads = 1

    def __init__(self, model: Path):
        import cv2

        self.version = f"opencv-python-headless {cv2.__version__}"
        self._detector = cv2.FaceDetectorYN.create(str(model), "", (320, 320), SCORE, NMS, 5000)
        self._size = (320, 320)

    def before(self) -> None:
        import cv2

        cv2.setNumThreads(self.threads)  # per process: set before each batch

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self._detector.setInputSize(size)
            self._size = size
        _, faces = self._detector.detect(bgr)
        return np.zeros((0, 15), np.float32) if faces is None else faces


class OpenCvTwoThreadsYuNet(OpenCvYuNet):
    """For the thread-count choice: the same detector on both cores of one process."""

    name = "cv2.FaceDetectorYN, 2 threads"
    threads = 2


class OnnxRuntimeYuNet:
    name = "onnxruntime"

    def __init__(self, model: Path):
        import onnx
        import onnxruntime as ort

        graph = onnx.load(str(model))
        dims = graph.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"  # in memory only
        for output in graph.graph.output:  # anchors per stride follow the input size
            output.type.tensor_type.shape.dim[1].dim_param = f"anchors_{output.name}"
        del graph.graph.value_info[:]  # recorded for 640x640; onnxruntime re-infers them
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.version = f"onnxruntime {ort.__version__}"
        self._session = ort.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._names = [o.name for o in self._session.get_outputs()]

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        image = padded(bgr)
        blob = image.transpose(2, 0, 1)[None].astype(np.float32)
        outputs = dict(zip(self._names, self._session.run(None, {"input": blob}), strict=True))
        return nms(decode(outputs, *image.shape[:2]))


class OpenVinoYuNet:
    """One compiled model with a dynamic input shape (no compile per image size). Precision is
    pinned to f32: on CPUs with BF16 (this one has avx512_bf16) OpenVINO otherwise runs in
    bfloat16 by default, which moves boxes by a few pixels and makes results depend on the CPU."""

    name = "OpenVINO f32"
    precision = "f32"

    def __init__(self, model: Path):
        import openvino as ov

        self.version = f"openvino {ov.__version__}"
        graph = ov.Core().read_model(str(model))
        graph.reshape({"input": [1, 3, -1, -1]})
        self._compiled = ov.Core().compile_model(
            graph,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": 1,
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": self.precision,
            },
        )

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        image = padded(bgr)
        blob = image.transpose(2, 0, 1)[None].astype(np.float32)
        result = self._compiled(blob)
        outputs = {name: result[self._compiled.output(name)] for name in OUTPUT_NAMES}
        return nms(decode(outputs, *image.shape[:2]))


class OpenVinoBf16YuNet(OpenVinoYuNet):
    """For information: OpenVINO's default on this CPU. Not a candidate (CPU-dependent results)."""

    name = "OpenVINO bf16"
    precision = "bf16"


def big_scene(lfw: list[Path]) -> np.ndarray:
    """1920x1080: eight LFW photos at 1.6x on a mid-grey background (faces ~150 px)."""
    canvas = np.full((1080, 1920, 3), 118, np.uint8)
    for i, path in enumerate(lfw[:8]):
        tile = np.asarray(Image.open(path).convert("RGB").resize((400, 400)))
        top, left = 60 + (i // 4) * 500, 40 + (i % 4) * 470
        canvas[top : top + 400, left : left + 400] = tile
    return canvas[:, :, ::-1].copy()


def timed(runtime, images: list[np.ndarray]) -> tuple[float, list[np.ndarray]]:
    if hasattr(runtime, "before"):
        runtime.before()
    results = []
    start = time.perf_counter()
    for image in images:
        results.append(runtime.detect(image))
    return (time.perf_counter() - start) * 1000 / len(images), results


def agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    """Largest corner difference (px) between matched boxes, inf if a face count differs."""
    worst = 0.0
    for a, b in zip(reference, other, strict=True):
        if len(a) != len(b):
            return float("inf")
        if len(a):
            a, b = a[np.lexsort(a[:, :2].T)], b[np.lexsort(b[:, :2].T)]
            worst = max(worst, float(np.abs(a[:, :4] - b[:, :4]).max()))
    return worst


PHOTO_SIZES = ((250, 250), (1080, 1920), (3000, 4000), (4000, 6000), (5773, 8660))


def whole_detector(paths: list[Path], rounds: int) -> list[str]:
    """facesift's yunet detector (pyramid + tiles, default settings) against dlib-hog, the
    current default, on photos of each size (the 1920x1080 scene resized; LFW for 250x250)."""
    from facesift.config import Settings
    from facesift.detect import create_detector

    settings = Settings()
    detectors = {
        name: create_detector(
            name, min_face_size=settings.min_face_size, max_detect_side=settings.max_detect_side
        )
        for name in ("yunet", "dlib-hog")
    }
    scene = Image.fromarray(big_scene(paths)[:, :, ::-1])
    photos = {}
    for height, width in PHOTO_SIZES:
        if (height, width) == (250, 250):
            photos[(height, width)] = np.asarray(Image.open(paths[0]).convert("RGB"))
        else:
            resized = scene.resize((width, height), Image.Resampling.BILINEAR)
            photos[(height, width)] = np.asarray(resized)
    times = {(name, size): [] for name in detectors for size in photos}
    found = {}
    for round_ in range(rounds):
        names = list(detectors) if round_ % 2 == 0 else list(detectors)[::-1]
        for size, photo in photos.items():
            for name in names:
                start = time.perf_counter()
                found[(name, size)] = len(detectors[name].detect(photo))
                times[(name, size)].append((time.perf_counter() - start) * 1000)
    lines = [
        f"Whole detector, default settings (min_face_size {settings.min_face_size}, "
        f"max_detect_side {settings.max_detect_side}), median of {rounds} rounds:",
        "",
        "| photo | megapixels | yunet ms | faces | dlib-hog ms | faces | yunet time vs dlib-hog |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (height, width), _ in photos.items():
        size = (height, width)
        yunet = float(np.median(times[("yunet", size)]))
        hog = float(np.median(times[("dlib-hog", size)]))
        lines.append(
            f"| {width}x{height} | {height * width / 1e6:.1f} | {yunet:.0f} | "
            f"{found[('yunet', size)]} | {hog:.0f} | {found[('dlib-hog', size)]} | "
            f"{yunet / hog:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lfw", type=Path, required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/results/detector_runtime.md"))
    args = parser.parse_args()
    model = verified_path(YUNET_2023MAR)
    paths = lfw_sample(args.lfw, args.count)
    small = [np.asarray(Image.open(p).convert("RGB"))[:, :, ::-1].copy() for p in paths]
    large = [big_scene(paths)] * 10
    runtimes = []
    candidates = (
        OpenCvYuNet,
        OpenCvTwoThreadsYuNet,
        OnnxRuntimeYuNet,
        OpenVinoYuNet,
        OpenVinoBf16YuNet,
    )
    for cls in candidates:
        try:
            runtimes.append(cls(model))
        except ImportError as error:
            print(f"skipping {cls.name}: {error}")
    for runtime in runtimes:  # warm-up: first-call allocation, OpenVINO's compile per size
        timed(runtime, small[:5] + large[:1])
    times = {r.name: {"250": [], "1080": []} for r in runtimes}
    found = {}
    for round_ in range(args.rounds):
        order = runtimes if round_ % 2 == 0 else runtimes[::-1]
        for runtime in order:
            ms, results = timed(runtime, small)
            times[runtime.name]["250"].append(ms)
            found[runtime.name] = results
            ms, results = timed(runtime, large)
            times[runtime.name]["1080"].append(ms)
            found[runtime.name + "-large"] = results
    lines: list[str] = []
    base = runtimes[0].name
    base_small = np.median(times[base]["250"])
    base_large = np.median(times[base]["1080"])
    lines.append(f"Machine: {machine()}; commit {git_revision()}; 1 thread unless named;")
    lines.append(f"{args.count} LFW photos (250x250) and a 1920x1080 scene, {args.rounds} rounds.")
    lines.append(", ".join(dict.fromkeys(r.version for r in runtimes)))
    lines.append("")
    lines.append(
        "| runtime | ms per 250x250 LFW photo | speed vs cv2 | ms per 1920x1080 | speed vs cv2 "
        "| faces | max box diff vs cv2 (px) |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for runtime in runtimes:
        s = float(np.median(times[runtime.name]["250"]))
        big = float(np.median(times[runtime.name]["1080"]))
        faces = sum(len(f) for f in found[runtime.name])
        diff = max(
            agreement(found[base], found[runtime.name]),
            agreement(found[base + "-large"], found[runtime.name + "-large"]),
        )
        lines.append(
            f"| {runtime.name} | {s:.2f} | {base_small / s:.2f}x | {big:.1f} | "
            f"{base_large / big:.2f}x | {faces} | {diff:.1f} |"
        )
    lines += ["", *whole_detector(paths, args.rounds)]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

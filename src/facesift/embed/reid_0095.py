"""Intel's face-reidentification-retail-0095 (Open Model Zoo, Apache-2.0): 128x128 chip aligned
on its 5-point template → 256-d vector. facesift's default embedder.

The weights ship inside the package (``facesift/models/face-reidentification-retail-0095/``,
byte-identical to Intel's and sha256-checked when loaded; see ``models/PROVENANCE.md``) and run on
OpenVINO, the publisher's own runtime. Measured against the FP16 IR on OpenVINO and a derived ONNX
file on onnxruntime (bench/embedder_runtimes.py; docs/benchmarks.md, "Embedder runtime"), the INT8
IR ran 1.9x faster per probe and 3.2x per batch of 16 at the same LFW accuracy (99.35% against
99.33%), so it is the one facesift ships.

Input conventions are the publisher's: (N, 3, 128, 128), **BGR**, float 0..255, no mean or scale
applied by the caller (the model does its own). facesift's chips are RGB, so channels are reversed
here. The output (N, 256) is L2-normalised, so the Euclidean distance between two vectors is a
monotone function of their cosine similarity, d = sqrt(2 - 2 cos), and the space is recorded as
"euclidean", like onnx-arcface's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facesift.config import usable_cores
from facesift.embed.base import register_embedder
from facesift.errors import ConfigError, InputError
from facesift.models.shipped import REID_0095_INT8_BIN, REID_0095_INT8_XML, verified_path
from facesift.types import ChipSpec, EmbeddingSpace

if TYPE_CHECKING:
    from facesift.config import Settings

CHIP_SIDE = 128
DIMENSION = 256
# The network is compiled for these fixed batch sizes, and a list of chips goes through in
# batches of 16 with the rest one by one. Fixed shapes, because OpenVINO runs the INT8 IR with
# other kernels when the batch is left dynamic: those vectors differ from the fixed-shape ones by
# up to 0.015 per component, so a probe embedded alone would not match its own gallery copy
# embedded in a group; at fixed shapes batch 16 and batch 1 agree bit for bit. Batch 16 costs
# 0.68x the time per face of batch 1 (docs/benchmarks.md, "Embedder runtime").
BATCH_SIZES = (16, 1)
# Under Settings.model_cache_dir: OpenVINO's compiled models, derived from the shipped weights
# only (no personal data; deleting it costs one compile). OpenVINO keys each file by the model's
# bytes, the compile options and its own version, so galleries and upgrades share it safely.
MODEL_CACHE_FOLDER = "openvino"

# The space names the weights by their bytes: another file is another space, even under the
# same model name. Known without loading the model (the engine checks it before opening one).
REID_0095_SPACE = EmbeddingSpace(
    model="reid-0095",
    version="int8-" + REID_0095_INT8_BIN.sha256[:12],
    dimension=DIMENSION,
    metric="euclidean",
)


_compiled: dict[int, Any] = {}
_compile_lock = threading.Lock()


class ShippedModels(Mapping[int, Any]):
    """The shipped INT8 IR compiled at each of ``BATCH_SIZES``, each on first use, once per
    process.

    Compiling took 2.2 s per batch size on the 2-core machine under load (OpenVINO's INT8 graph
    transformations), and every ingest worker and server analyser starts with it: most photos hold
    one face, so the batch-16 model is compiled only when a photo with 16 faces or more comes.
    A compiled model is safe to share between threads (each runs its own infer requests, on a
    stream of its own while there are enough; see ``compile_ir``): ingest's worker threads and the
    server's analysers all share these.
    """

    def __init__(self, cache_dir: Path | None = None):
        """``cache_dir``: where OpenVINO keeps the compiled models for the next process (see
        ``compile_ir``); None compiles from the IR every time."""
        self.cache_dir = cache_dir

    def __getitem__(self, batch: int) -> Any:
        if batch not in BATCH_SIZES:
            raise KeyError(batch)
        with _compile_lock:
            if batch not in _compiled:
                compiled = compile_shipped_model(batch, cache_dir=self.cache_dir)
                # One inference here, under the lock: OpenVINO's first inference in a process
                # runs a one-time C++ initialisation that deadlocked against the GIL when a
                # server's first searches embedded on several threads at once (seen with gdb,
                # bench/serve_load.py, 2026-12-01). After it, threads infer concurrently.
                warm_up = compiled.create_infer_request()
                warm_up.infer({0: np.zeros((batch, 3, CHIP_SIDE, CHIP_SIDE), np.float32)})
                _compiled[batch] = compiled
            return _compiled[batch]

    def __iter__(self) -> Iterator[int]:
        return iter(BATCH_SIZES)

    def __len__(self) -> int:
        return len(BATCH_SIZES)


def shipped_models(cache_dir: Path | None = None) -> ShippedModels:
    return ShippedModels(cache_dir)


def compile_shipped_model(
    batch: int = 1, streams: int | None = None, cache_dir: Path | None = None
) -> Any:
    """The shipped INT8 IR (checked against Intel's sha256) compiled at a fixed ``batch`` size."""
    xml, weights = verified_path(REID_0095_INT8_XML), verified_path(REID_0095_INT8_BIN)
    return compile_ir(xml, weights, batch, streams, cache_dir)


def compile_ir(
    xml: Path,
    weights: Path,
    batch: int = 1,
    streams: int | None = None,
    cache_dir: Path | None = None,
) -> Any:
    """An OpenVINO IR of this model compiled for the CPU at a fixed ``batch`` size, with
    ``streams`` inference streams of one thread each (default: one per core).

    A compiled model runs each inference on one of its streams, and callers on other threads
    queue for a busy one. With a single stream, two ingest threads embedding at once ran no
    faster than one (116 against 114 faces/s at batch 16 on the 2-core machine, 2026-12-02), and
    every request thread of the server waited for the same stream; with one stream per core,
    two threads embed 223 faces/s. A lone inference still runs on one thread, as before: ingest
    and the server get their parallelism from their own threads, and one thread per inference
    avoids splitting a small network's layers across cores that are busy anyway.

    With a ``cache_dir``, OpenVINO stores the compiled model there and the next process loads it
    instead of compiling: 0.55 s instead of 1.66 s for both batch sizes on the 2-core machine,
    paid by every CLI command that analyses a photo. The cache is keyed by the model's bytes and
    these compile options, so another file or option compiles afresh; a cached model gives the
    same vectors bit for bit (tests/unit/embed/test_reid_0095.py). A directory that cannot be
    created (a read-only home folder) means no cache, not a failure.

    Precision is pinned to f32 for the layers that are not quantised: OpenVINO would otherwise
    pick bf16 on CPUs that have it (measured here on an AVX512-BF16 EPYC: vectors off by up to
    0.012 per component), and a gallery must get the same vector for the same chip on every
    machine.
    """
    try:
        import openvino as ov
    except ImportError:
        raise ConfigError(
            "openvino is not installed; it is a facesift dependency: pip install facesift"
        ) from None
    streams = streams or usable_cores()  # one per core this process may use
    core = ov.Core()
    if cache_dir is not None and _writable_dir(cache_dir):
        core.set_property({"CACHE_DIR": str(cache_dir)})
    model = core.read_model(str(xml), str(weights))
    model.reshape({model.inputs[0]: ov.PartialShape([batch, 3, CHIP_SIDE, CHIP_SIDE])})
    return core.compile_model(
        model,
        "CPU",
        {
            "INFERENCE_NUM_THREADS": streams,  # in all: one per stream
            "NUM_STREAMS": streams,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        },
    )


def _writable_dir(folder: Path) -> bool:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def bgr_blob(chips: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 chips (H, W, 3) → the model's input: (N, 3, 128, 128) float32 BGR, 0..255."""
    for number, chip in enumerate(chips):
        if np.shape(chip) != (CHIP_SIDE, CHIP_SIDE, 3):
            raise InputError(
                f"chip {number}: shape {np.shape(chip)}; reid-0095 embeds "
                f"{CHIP_SIDE}x{CHIP_SIDE} RGB chips aligned on its template (align.aligned_chip)"
            )
    batch = np.stack(chips)[..., ::-1]  # RGB → BGR
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


class Reid0095Embedder:
    name = "reid-0095"
    space = REID_0095_SPACE
    # OpenVINO infers without the GIL: ingest analyses on threads sharing the compiled model.
    releases_gil = True
    chip = ChipSpec(size=CHIP_SIDE, padding=0.0, template="reid-0095-128")

    @classmethod
    def from_settings(cls, settings: Settings) -> Reid0095Embedder:
        """The shipped weights, their compiled form cached in ``settings.model_cache_dir``."""
        cache = settings.model_cache_dir / MODEL_CACHE_FOLDER if settings.model_cache else None
        return cls(shipped_models(cache))

    def __init__(self, compiled_models: Mapping[int, Any] | None = None):
        """``compiled_models``: batch size → OpenVINO ``CompiledModel`` of the shipped weights at
        that fixed batch size (one of them for batch 1); by default the shipped weights,
        compiled once per process; tests and benchmarks may pass their own."""
        if compiled_models is None:
            compiled_models = shipped_models()
        if 1 not in compiled_models:  # compiles the batch-1 model now: a broken one fails here
            raise ConfigError("reid-0095 needs a model compiled for batch size 1")
        self._models = compiled_models  # not copied: the shipped ones compile on first use
        self._batches = sorted(self._models, reverse=True)
        # A compiled model may be shared by threads, an infer request may not (it owns its input
        # and output buffers): the server embeds probes from several threads, so each thread
        # gets its own requests, created on its first call.
        self._local = threading.local()

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        blob = bgr_blob(chips)
        parts, start = [], 0
        while start < len(blob):
            batch = next(b for b in self._batches if b <= len(blob) - start)
            request = self._request(batch)
            request.infer({0: blob[start : start + batch]})
            # The output tensor is the request's own buffer, overwritten by the next call.
            parts.append(np.array(request.get_output_tensor(0).data, dtype=np.float32))
            start += batch
        vectors = np.concatenate(parts).reshape(len(chips), DIMENSION)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return unit

    def _request(self, batch: int) -> Any:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        if batch not in requests:
            requests[batch] = self._models[batch].create_infer_request()
        return requests[batch]


register_embedder(Reid0095Embedder.name, Reid0095Embedder)

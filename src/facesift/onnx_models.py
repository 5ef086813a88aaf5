"""ONNX model files supplied by the operator: checked, fingerprinted and opened.

facesift ships no ONNX weights and never downloads any: the operator names a file in the settings
(``FACESIFT_ONNX_EMBEDDER_MODEL``, ``FACESIFT_ONNX_DETECTOR_MODEL``). Reading a file's signature
and hash is cheap next to opening an inference session, and is cached per (path, size, mtime), so
the engine can know the embedding space a model produces without loading it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from facesift.errors import ConfigError

INSTALL_HINT = "install the ONNX extra: pip install 'facesift[onnx]'"

Shape = tuple[int | str | None, ...]  # a dimension is a number, a symbolic name, or unknown


@dataclass(frozen=True)
class OnnxModelFile:
    """What facesift knows about a model file before running it."""

    path: Path
    sha256: str
    inputs: tuple[tuple[str, Shape], ...]
    outputs: tuple[tuple[str, Shape], ...]

    @property
    def version(self) -> str:
        # A model's identity is its bytes: two files with the same name can hold other weights.
        return "sha256-" + self.sha256[:12]


_cache: dict[tuple[str, int, int], OnnxModelFile] = {}
_cache_lock = threading.Lock()


def inspect_model(path: Path | str | None, setting: str) -> OnnxModelFile:
    """Check that ``path`` (configured by ``setting``) is an ONNX model; its hash and signature."""
    if path is None or str(path) == "":
        raise ConfigError(f"{setting} is not set: name the ONNX model file to use")
    path = Path(path).expanduser()
    try:
        status = path.stat()
    except OSError as error:
        raise ConfigError(
            f"{path}: model file not found ({error.strerror}); check {setting}"
        ) from None
    if not path.is_file():
        raise ConfigError(f"{path}: not a file; {setting} must name an ONNX model file")
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    described = _describe(path)
    with _cache_lock:
        _cache[key] = described
    return described


def _describe(path: Path) -> OnnxModelFile:
    onnx = _import("onnx")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises its own DecodeError, among others
        raise ConfigError(f"{path}: not an ONNX model ({type(error).__name__}: {error})") from None
    if not model.graph.node or not model.graph.output:
        raise ConfigError(f"{path}: not an ONNX model (no graph)")
    initialisers = {tensor.name for tensor in model.graph.initializer}
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return OnnxModelFile(
        path=path,
        sha256=digest,
        inputs=tuple(
            (value.name, _shape(value))
            for value in model.graph.input
            if value.name not in initialisers
        ),
        outputs=tuple((value.name, _shape(value)) for value in model.graph.output),
    )


def _shape(value) -> Shape:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return ()
    dims: list[int | str | None] = []
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def open_session(model: OnnxModelFile):
    """An onnxruntime CPU session. One thread: ingest already runs one process per core."""
    ort = _import("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: shape-inference chatter is not for operators
    try:
        return ort.InferenceSession(
            str(model.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        raise ConfigError(f"{model.path}: onnxruntime cannot load this model ({error})") from None


def fixed(dim) -> int | None:
    """A dimension's size if the model fixes it."""
    return dim if isinstance(dim, int) and dim > 0 else None


def _import(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ConfigError(f"{module} is not installed; {INSTALL_HINT}") from None

"""Small ONNX models built by the tests, with the signatures of ArcFace and SCRFD exports.

Nothing is downloaded and no binary is committed: each model is a few operators and fixed-seed
weights, written to a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]

# Where the toy SCRFD puts the five landmarks inside a detected 32x32 cell, in stride units.
CELL_LANDMARKS = np.array(
    [[0.30, 0.35], [0.70, 0.35], [0.50, 0.55], [0.35, 0.75], [0.65, 0.75]], np.float32
)


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="facesift-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def arcface_like(
    path: Path, *, dimension: int = 512, seed: int = 0, side: int = 112, output_rank: int = 2
) -> Path:
    """(N, 3, side, side) → (N, dimension): 14x14 average pooling, then a fixed random projection.

    Smooth in the pixels, so two slightly different crops of one image land close together and
    different images far apart: what a recognizer's embedding does for faces.
    """
    pooled = side // 14
    weights = np.random.default_rng(seed).standard_normal((3 * pooled * pooled, dimension))
    nodes = [
        helper.make_node(
            "AveragePool", ["input.1"], ["pooled"], kernel_shape=[14, 14], strides=[14, 14]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "projection"], ["embedding"]),
    ]
    out_shape: list = ["N", dimension]
    if output_rank == 3:
        nodes.append(helper.make_node("Unsqueeze", ["embedding", "one"], ["embedding3"]))
        out_shape = ["N", 1, dimension]
    graph = helper.make_graph(
        nodes,
        "arcface-like",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, side, side])],
        [
            helper.make_tensor_value_info(
                "embedding3" if output_rank == 3 else "embedding", TensorProto.FLOAT, out_shape
            )
        ],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "projection"),
            *(
                [numpy_helper.from_array(np.array([1], np.int64), "one")]
                if output_rank == 3
                else []
            ),
        ],
    )
    return _save(graph, path)


def scrfd_like(
    path: Path, *, input_size: tuple[int, int] | None = (320, 320), landmarks: bool = True
) -> Path:
    """SCRFD's signature and output layout (scores, boxes, landmarks at strides 8, 16, 32; two
    anchors per location), detecting bright 32x32 cells of the letterboxed input.

    At stride 32 the first anchor of each location scores sigmoid(20 (mean brightness - 0.5)),
    where brightness is the normalised input, so a white cell scores ~1 and black or padding ~0.
    Its box distances (0, 0, 1, 1) make the box exactly that cell, and its landmarks sit at
    ``CELL_LANDMARKS`` inside it. Finer strides score 0 everywhere.
    """
    height, width = input_size if input_size else ("H", "W")
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["grey"], axes=[1], keepdims=1)]
    initialisers = [
        numpy_helper.from_array(np.array([-1, 1], np.int64), "column"),
        numpy_helper.from_array(np.array([-1, 4], np.int64), "box_rows"),
        numpy_helper.from_array(np.array([-1, 10], np.int64), "landmark_rows"),
        numpy_helper.from_array(np.array(20.0, np.float32), "gain"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(
            np.tile(np.array([0, 0, 1, 1], np.float32), 2)[None], "cell_distances"
        ),
        numpy_helper.from_array(np.tile(CELL_LANDMARKS.ravel(), 2)[None], "cell_landmarks"),
    ]
    outputs = {"scores": [], "boxes": [], "landmarks": []}
    for stride in (8, 16, 32):
        s = f"_{stride}"
        nodes += [
            helper.make_node(
                "AveragePool",
                ["grey"],
                ["pool" + s],
                kernel_shape=[stride] * 2,
                strides=[stride] * 2,
            ),
            # One row per feature-map location, row-major over (y, x).
            helper.make_node("Transpose", ["pool" + s], ["nhwc" + s], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["nhwc" + s, "column"], ["mean" + s]),
            helper.make_node("Mul", ["mean" + s, "zero"], ["zeros" + s]),
            helper.make_node("Sub", ["mean" + s, "half"], ["centred" + s]),
            helper.make_node("Mul", ["centred" + s, "gain"], ["logit" + s]),
            helper.make_node("Sigmoid", ["logit" + s], ["sigmoid" + s]),
            helper.make_node(
                "Mul", ["sigmoid" + s, "zero" if stride != 32 else "one_f"], ["first" + s]
            ),
            helper.make_node("Concat", ["first" + s, "zeros" + s], ["pair" + s], axis=1),
            helper.make_node("Reshape", ["pair" + s, "column"], ["score" + s]),
            helper.make_node("Add", ["zeros" + s, "cell_distances"], ["dist_pairs" + s]),
            helper.make_node("Reshape", ["dist_pairs" + s, "box_rows"], ["bbox" + s]),
            helper.make_node("Add", ["zeros" + s, "cell_landmarks"], ["kps_pairs" + s]),
            helper.make_node("Reshape", ["kps_pairs" + s, "landmark_rows"], ["kps" + s]),
        ]
        outputs["scores"].append(
            helper.make_tensor_value_info("score" + s, TensorProto.FLOAT, ["A" + s, 1])
        )
        outputs["boxes"].append(
            helper.make_tensor_value_info("bbox" + s, TensorProto.FLOAT, ["A" + s, 4])
        )
        outputs["landmarks"].append(
            helper.make_tensor_value_info("kps" + s, TensorProto.FLOAT, ["A" + s, 10])
        )
    initialisers.append(numpy_helper.from_array(np.array(1.0, np.float32), "one_f"))
    graph_outputs = (
        outputs["scores"] + outputs["boxes"] + (outputs["landmarks"] if landmarks else [])
    )
    graph = helper.make_graph(
        nodes,
        "scrfd-like",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, height, width])],
        graph_outputs,
        initializer=initialisers,
    )
    return _save(graph, path)

"""An fp16 twin of an exported model for GPUs, written only if it keeps parity with fp32.

Half precision halves the file and the GPU memory traffic and uses tensor cores; the CPU gains
nothing from it, so the app runs the twin only on CUDA (Engine.use_fp16_on_gpu) and keeps the fp32
file on the CPU and after a GPU failure. Inputs and outputs stay float32 (keep_io_types), so the
pipeline is unchanged. Parity is measured here on the CPU with onnxruntime on sample inputs; on
the GPU the same graph runs with the GPU's fp16 kernels, whose rounding can differ slightly.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort

from studio.hashing import sha256_file
from studio.inference.manifest import FP16_SUFFIX, read_manifest

log = logging.getLogger(__name__)
TOLERANCE = 4e-3  # about one 8-bit step of an image in [-1, 1]


class Fp16Error(RuntimeError):
    """No twin was written: the reason (parity, an unsupported graph) is the message."""


def add_fp16_twin(manifest_path: Path, tolerance: float = TOLERANCE) -> dict:
    """Write NAME.fp16.onnx beside NAME.onnx and record it in the manifest; returns the entry."""
    import onnx
    from onnxconverter_common import float16

    from studio.bench.compute import feeds_for

    data = read_manifest(manifest_path)
    source = manifest_path.with_suffix(".onnx")
    twin = manifest_path.with_name(manifest_path.stem + FP16_SUFFIX)
    folded = _constant_folded(source, twin)
    with warnings.catch_warnings():  # it reports every weight below fp16's range that it rounds
        warnings.simplefilter("ignore", UserWarning)
        model = float16.convert_float_to_float16(folded, keep_io_types=True)
    onnx.save(model, str(twin))
    feeds = feeds_for(data, np.random.default_rng(0))
    try:
        diff = _max_diff(source, twin, feeds)
    except Exception as exc:  # an op without fp16 kernels: no twin rather than a broken one
        twin.unlink()
        raise Fp16Error(f"{twin.name} does not run on onnxruntime: {exc}") from exc
    if diff > tolerance:
        twin.unlink()
        raise Fp16Error(f"{twin.name} differs from fp32 by {diff:.3g} > {tolerance:g}; not written")
    entry = {"file": twin.name, "sha256": sha256_file(twin), "parity_max_abs_diff": round(diff, 6)}
    data["fp16"] = entry
    manifest_path.write_text(json.dumps(data, indent=2) + "\n")
    log.info("wrote %s (max abs diff to fp32 %.2g)", twin.name, diff)
    return entry


def _constant_folded(source: Path, scratch: Path):
    """The graph with constants folded by onnxruntime's basic (standard-ONNX) optimisations.

    torch exports a clamp's bounds as Cast(Constant); the fp16 converter retypes such a Cast's
    output to float16 but leaves its `to` at float32, and onnxruntime refuses the twin. Folded,
    the bounds are plain constants the converter handles."""
    import onnx

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(scratch)
    try:
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return onnx.load(str(scratch))
    finally:
        scratch.unlink(missing_ok=True)


def _max_diff(source: Path, twin: Path, feeds: dict[str, np.ndarray]) -> float:
    full = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, feeds)
    half = ort.InferenceSession(str(twin), providers=["CPUExecutionProvider"]).run(None, feeds)
    return max(
        float(np.abs(a.astype(np.float32) - b.astype(np.float32)).max())
        for a, b in zip(full, half, strict=True)
    )

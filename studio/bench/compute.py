"""Compute figures for `studio bench`: how much arithmetic a model does and how well it is run.

Per installed model: multiply-accumulates (MACs) of one image from the ONNX graph, the share of
this machine's measured matmul peak that onnxruntime reaches on it, and onnxruntime beside torch
eager running the *same weights* (read from the ONNX initializers into the rebuilt torch network),
timed alternately in one run so load from other processes hits both alike.

The peak is the BLAS float32 matmul roofline measured here (numpy, limited to the models' thread
count when threadpoolctl is installed), not the vendor's spec sheet: "30 % of peak" means 30 % of
what a large GEMM achieves on this machine. Int8 MatMulNBits MACs are set against that float32
peak too. `onnx` and `torch` come with the train extra only: without them the affected figure is
n/a with the reason, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # max abs diff between torch and onnxruntime for "the same network"
TEXT_TOKENS = 16  # a typical prompt's token count, for text encoders' free length
PEAK_SIZE = 1024  # square float32 matmul for the peak: large enough to be compute bound
COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "MatMulNBits")
_WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class ComputeUnavailable(RuntimeError):
    """A figure cannot be measured here (package missing, network not rebuildable); says why."""


# --- MACs from the graph -------------------------------------------------------------------


def count_macs(model_path: Path, inputs: dict[str, tuple[int, ...]]) -> dict:
    """MACs of one forward pass at the given concrete input shapes (batch 1 = per image).

    Counts Conv (output elements × Cin/groups × kernel), ConvTranspose (input elements ×
    Cout/groups × kernel: each input pixel scatters one kernel per output channel), Gemm, MatMul
    and onnxruntime's int8 MatMulNBits; element-wise work and normalisations are not counted.
    Returns {"macs", "gmacs", "by_op": {op type: macs}}."""
    onnx = _import("onnx", "counting MACs needs the onnx package (train extra)")
    model = onnx.load(str(model_path))
    shapes = _value_shapes(onnx, model, inputs, model_path.name)
    by_op: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in COUNTED_OPS:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + _node_macs(node, shapes, model_path.name)
    total = sum(by_op.values())
    return {"macs": total, "gmacs": total / 1e9, "by_op": by_op}


def _value_shapes(
    onnx: Any, model: Any, inputs: dict[str, tuple[int, ...]], label: str
) -> dict[str, tuple[int, ...]]:
    """Shape of every value of the graph, as onnxruntime computes it on inputs of these shapes
    (every value exposed as an output, optimisations off so the names survive).

    Not onnx.shape_inference: it cannot size these graphs, because torch's `chunk` exports as
    Slice with bounds computed through Div, which onnx's data propagation does not evaluate, and
    it does not know onnxruntime's MatMulNBits."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    exposed = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in exposed:
                probe.graph.output.append(onnx.ValueInfoProto(name=name))
                exposed.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    declared = {i.name: i for i in session.get_inputs()}
    if sorted(declared) != sorted(inputs):
        raise ValueError(f"{label}: inputs are {sorted(declared)}, shapes were given for {sorted(inputs)}")
    feeds = {}
    for name, spec in declared.items():
        shape = tuple(int(d) for d in inputs[name])
        if len(shape) != len(spec.shape) or min(shape, default=1) < 1:
            raise ValueError(f"{label}: input {name!r} has rank {len(spec.shape)}, got shape {shape}")
        feeds[name] = np.ones(shape, _NUMPY_TYPES.get(spec.type, np.float32))
    values = session.run(None, feeds)
    shapes = {o.name: tuple(v.shape) for o, v in zip(session.get_outputs(), values, strict=True)}
    return (
        shapes
        | {k: v.shape for k, v in feeds.items()}
        | {t.name: tuple(t.dims) for t in model.graph.initializer}
    )


def _node_macs(node: Any, shapes: dict[str, tuple[int, ...]], label: str) -> int:
    def shape(name: str) -> tuple[int, ...]:
        if name not in shapes:
            raise ValueError(f"{label}: {node.op_type} input {name!r} has no known shape")
        return shapes[name]

    attrs = {a.name: a for a in node.attribute}
    if node.op_type == "Conv":
        return math.prod(shape(node.output[0])) * math.prod(shape(node.input[1])[1:])
    if node.op_type == "ConvTranspose":
        return math.prod(shape(node.input[0])) * math.prod(shape(node.input[1])[1:])
    if node.op_type == "Gemm":
        a = shape(node.input[0])
        k = a[0] if "transA" in attrs and attrs["transA"].i else a[1]
        return math.prod(shape(node.output[0])) * k
    if node.op_type == "MatMulNBits":
        return math.prod(shape(node.output[0])) * attrs["K"].i
    return math.prod(shape(node.output[0])) * shape(node.input[0])[-1]  # MatMul


# --- the machine's peak ----------------------------------------------------------------------


def peak_gflops(device: str = "cpu", threads: int | None = None, seconds: float = 0.3) -> float | None:
    """Measured float32 GFLOP/s of a large numpy matmul (the best run within `seconds`): the BLAS
    roofline of this machine at `threads` BLAS threads, not a vendor figure. None for devices
    other than the CPU, whose peak this module does not measure."""
    if device != "cpu":
        return None
    rng = np.random.default_rng(0)
    a = rng.standard_normal((PEAK_SIZE, PEAK_SIZE), dtype=np.float32)
    b = rng.standard_normal((PEAK_SIZE, PEAK_SIZE), dtype=np.float32)
    best = math.inf
    with _blas_threads(threads):
        a @ b  # warm-up: thread pool start, page faults
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    return 2 * PEAK_SIZE**3 / best / 1e9


def _blas_threads(threads: int | None) -> contextlib.AbstractContextManager:
    """Limit numpy's BLAS to the thread count the models run with, where threadpoolctl is installed
    (otherwise BLAS keeps its default, all cores, and the peak is the machine's)."""
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.info("threadpoolctl missing: the matmul peak uses BLAS's default thread count")
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


# --- the same weights in torch eager ------------------------------------------------------------


def load_torch_module(model_path: Path, feeds: dict[str, np.ndarray]) -> torch.nn.Module:
    """The network of `model_path` rebuilt in torch from its manifest's training config, holding
    the ONNX file's weights. BatchNorm folded into the convolutions at export (older exports) is
    folded here too (conv gets the folded bias, the norm becomes identity), so both run the same
    arithmetic; a graph that keeps its BatchNormalization nodes fills the norms by name.

    Layers are paired in execution order (a traced export keeps it) with shape checks, and named
    initializers must carry the torch parameter's name. Raises ComputeUnavailable with the reason."""
    torch = _import("torch", "torch eager needs torch (train extra)")
    onnx = _import("onnx", "reading ONNX weights needs the onnx package (train extra)")
    manifest = _manifest(model_path)
    net = _rebuild(manifest).eval()
    model = onnx.load(str(model_path))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    norms = sum(n.op_type == "BatchNormalization" for n in model.graph.node)
    if norms:
        _load_batchnorms(net, weights, norms, torch)
    else:
        _fold_batchnorm(net, torch)
    nodes = [n for n in model.graph.node if n.op_type in _WEIGHTED_OPS]
    layers = _execution_order(net, feeds, torch)
    if len(layers) != len(nodes):
        raise ComputeUnavailable(
            f"{len(layers)} weighted layers in the torch network, {len(nodes)} in {model_path.name}"
        )
    with torch.no_grad():
        for (name, layer), node in zip(layers, nodes, strict=True):
            _load_layer(name, layer, node, weights, torch)
    return net


def torch_eager_ms(
    model_path: Path, feeds: dict[str, np.ndarray], repeat: int = 5, threads: int | None = None
) -> float:
    """Median ms of one torch eager forward on the ONNX file's weights (ComputeUnavailable if the
    network cannot be rebuilt)."""
    net = load_torch_module(model_path, feeds)
    run = _torch_runner(net, feeds)
    with _torch_threads(threads):
        return _median_ms(run, repeat)


def torch_outputs(net: torch.nn.Module, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of `net` on the feeds (in manifest input order), as numpy arrays."""
    out = _torch_runner(net, feeds)()
    return [t.numpy() for t in (out if isinstance(out, tuple | list) else (out,))]


def _rebuild(manifest: dict) -> torch.nn.Module:
    kind = manifest.get("kind")
    config = (
        manifest.get("training", {}).get("config") if isinstance(manifest.get("training"), dict) else None
    )
    if kind == "text_encoder":
        raise ComputeUnavailable("int8 weight-only quantised sentence encoder: no torch network in the app")
    if not isinstance(config, dict):
        raise ComputeUnavailable("manifest has no training.config to rebuild the network from")
    try:
        return _network_for(kind, config)
    except (TypeError, ValueError) as exc:
        raise ComputeUnavailable(f"training.config does not build a {kind}: {exc}") from exc


def _network_for(kind: str | None, config: dict) -> torch.nn.Module:
    from studio.training.config import TrainConfig

    if kind in ("generator", "upscaler", "segmenter"):
        cfg = TrainConfig.from_dict(config)
        if kind == "generator":
            from studio.training.nets import Generator
            from studio.world.classes import NUM_CLASSES

            return Generator(cfg.z_dim, cfg.ngf, NUM_CLASSES, cfg.resolution, cfg.trunk)
        if kind == "upscaler":
            from studio.training.nets import Upscaler

            return Upscaler(cfg.scale)
        from studio.training.segmenter import SegmenterNet

        return SegmenterNet.from_config(cfg)
    if kind == "image_encoder":
        from studio.training.image_encoder import ImageConfig, ImageEncoder

        image_cfg = ImageConfig.from_dict(config)
        return ImageEncoder(image_cfg.width, image_cfg.dim)
    if kind == "audio_encoder":
        from studio.training.sound_encoder import SoundConfig, SoundEncoder

        return SoundEncoder.from_config(SoundConfig.from_dict(config))
    raise ComputeUnavailable(f"no torch network known for kind {kind!r}")


def _fold_batchnorm(net: torch.nn.Module, torch: Any) -> None:
    """Replace each BatchNorm that follows a conv in a Sequential by identity, giving the conv a
    bias to receive the folded one (the values come from the ONNX file afterwards)."""
    nn = torch.nn
    for parent in list(net.modules()):
        if not isinstance(parent, nn.Sequential):
            continue
        for i, child in enumerate(list(parent)):
            if not isinstance(child, nn.BatchNorm2d | nn.BatchNorm1d):
                continue
            conv = parent[i - 1] if i else None
            if not isinstance(conv, nn.Conv2d | nn.Conv1d):
                raise ComputeUnavailable("a BatchNorm does not follow a convolution: it cannot be folded")
            if conv.bias is None:
                conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
            parent[i] = nn.Identity()
    if any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in net.modules()):
        raise ComputeUnavailable("a BatchNorm outside a Sequential cannot be folded")


def _load_batchnorms(net: torch.nn.Module, weights: dict, count: int, torch: Any) -> None:
    """The graph's BatchNormalization parameters into the net's norms, by state-dict name."""
    norms = [
        (n, m) for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d)
    ]
    if len(norms) != count:
        raise ComputeUnavailable(f"{len(norms)} BatchNorms in the torch network, {count} in the graph")
    with torch.no_grad():
        for name, norm in norms:
            for field in ("weight", "bias", "running_mean", "running_var"):
                key = f"{name}.{field}"
                if key not in weights:
                    raise ComputeUnavailable(f"the graph has no {key!r}")
                getattr(norm, field).copy_(torch.from_numpy(np.array(weights[key])))


def _execution_order(
    net: torch.nn.Module, feeds: dict[str, np.ndarray], torch: Any
) -> list[tuple[str, torch.nn.Module]]:
    nn = torch.nn
    names = {module: name for name, module in net.named_modules()}
    order: list[tuple[str, nn.Module]] = []
    hooks = [
        m.register_forward_pre_hook(lambda module, _args: order.append((names[module], module)))
        for m in net.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]
    try:
        _torch_runner(net, feeds)()
    except RuntimeError as exc:  # the manifest's config describes another network than the file's
        raise ComputeUnavailable(f"the rebuilt network does not take this model's inputs: {exc}") from exc
    finally:
        for hook in hooks:
            hook.remove()
    return order


def _load_layer(name: str, layer: torch.nn.Module, node: Any, weights: dict, torch: Any) -> None:
    attrs = {a.name: a.i for a in node.attribute}
    weight_name = node.input[1]
    if weight_name not in weights:
        raise ComputeUnavailable(f"{node.op_type} {node.name!r} takes its weight from the graph, not a file")
    if not weight_name.startswith("onnx::") and weight_name != f"{name}.weight":
        raise ComputeUnavailable(f"graph weight {weight_name!r} meets torch layer {name!r}: order differs")
    weight = weights[weight_name]
    if node.op_type == "MatMul" or (node.op_type == "Gemm" and not attrs.get("transB", 0)):
        weight = weight.T
    if tuple(weight.shape) != tuple(layer.weight.shape):
        raise ComputeUnavailable(
            f"{name}: torch weight {tuple(layer.weight.shape)} vs graph {tuple(weight.shape)}"
        )
    layer.weight.copy_(torch.from_numpy(np.array(weight)))  # a copy: initializers are read-only
    has_bias = len(node.input) > 2 and bool(node.input[2])
    if has_bias != (layer.bias is not None):
        raise ComputeUnavailable(f"{name}: bias in one runtime only")
    if has_bias:
        layer.bias.copy_(torch.from_numpy(np.array(weights[node.input[2]]).reshape(layer.bias.shape)))


def _torch_runner(net: torch.nn.Module, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    import torch

    args = [torch.from_numpy(np.ascontiguousarray(v)) for v in feeds.values()]

    def run() -> Any:
        with torch.inference_mode():
            return net(*args)

    return run


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    try:
        import torch
    except ImportError:  # no torch: nothing of it runs, so nothing to set
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- one run, side by side -----------------------------------------------------------------------


def feeds_for(manifest: dict, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Batch-1 inputs in manifest order at the model's own size: free dims other than the batch
    are a 2 s sound window's frames (sound encoders) or TEXT_TOKENS tokens (text encoders)."""
    rng = rng or np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {}
    for spec in manifest.get("inputs", []):
        shape = tuple(_concrete_dim(d, manifest, spec["name"]) for d in spec["shape"])
        feeds[spec["name"]] = _feed(spec["name"], spec.get("dtype", "float32"), shape, rng)
    if not feeds:
        raise ValueError(f"manifest of {manifest.get('name')!r} lists no inputs")
    return feeds


def _concrete_dim(dim: int | str, manifest: dict, name: str) -> int:
    if isinstance(dim, int):
        return dim
    if dim == "N":
        return 1
    if manifest.get("kind") == "audio_encoder":
        from studio.audio.mel import HOP

        rate = int(manifest.get("sample_rate", 16000))
        return 1 + int(float(manifest.get("window_seconds", 2.0)) * rate) // HOP
    if manifest.get("kind") == "text_encoder":
        return TEXT_TOKENS
    raise ValueError(
        f"input {name!r} of {manifest.get('name')!r} has a free dimension {dim!r} of unknown size"
    )


def _feed(name: str, dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if dtype == "int64":
        if "mask" in name:
            return np.ones(shape, np.int64)
        if "type" in name:
            return np.zeros(shape, np.int64)
        ids = rng.integers(1000, 2000, shape)  # ordinary word pieces between [CLS] and [SEP]
        ids[..., 0], ids[..., -1] = 101, 102
        return ids.astype(np.int64)
    if name == "labels":  # one-hot map, class 0 everywhere: a text-only render
        labels = np.zeros(shape, np.float32)
        labels[:, 0] = 1.0
        return labels
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def compute_rows(models: Path | Iterable[Path], repeat: int = 5, threads: int | None = None) -> dict:
    """Per model (a folder of NAME.onnx + NAME.json, or the .onnx paths, e.g. a registry's):
    GMACs per image, onnxruntime and torch eager ms (alternated in one run, same threads, same
    weights), torch/ORT ratio, parity, and the ORT share of the matmul peak.

    Returns {"device", "threads", "peak_gflops", "models": {name: row}}; a figure that cannot be
    measured is None with a `*_note` saying why, a model that fails altogether has an `error`."""
    threads = threads or os.cpu_count() or 1
    if isinstance(models, Path):
        # a .json without its .onnx is a tokenizer or other sidecar, not a model manifest
        paths = [
            p.with_suffix(".onnx") for p in sorted(models.glob("*.json")) if p.with_suffix(".onnx").is_file()
        ]
    else:
        paths = [Path(p) for p in models]
    before = peak_gflops("cpu", threads) or 0.0
    rows: dict[str, dict] = {}
    for onnx_path in paths:
        try:
            rows[onnx_path.stem] = _row(onnx_path, repeat, threads)
        except Exception as exc:  # one broken model must not stop the bench of the others
            log.warning("compute bench of %s failed: %s", onnx_path.name, exc)
            rows[onnx_path.stem] = {"error": f"{type(exc).__name__}: {exc}"}
    # Best of a measurement before and after: other processes' load only ever lowers it.
    peak = max(before, peak_gflops("cpu", threads) or 0.0)
    for row in rows.values():
        if "error" not in row:
            row["share_of_peak"] = (
                None if row["gmacs"] is None else round(2 * row["gmacs"] / (row["ort_ms"] / 1e3) / peak, 4)
            )
    return {"device": "cpu", "threads": threads, "peak_gflops": round(peak, 1), "models": rows}


def _row(onnx_path: Path, repeat: int, threads: int) -> dict:
    feeds = feeds_for(_manifest(onnx_path))
    row: dict[str, Any] = {}
    try:
        macs = count_macs(onnx_path, {k: v.shape for k, v in feeds.items()})
        row["gmacs"] = round(macs["gmacs"], 6)
        row["gmacs_by_op"] = {op: round(m / 1e9, 6) for op, m in macs["by_op"].items()}
    except (ComputeUnavailable, ValueError) as exc:
        row.update(gmacs=None, gmacs_note=str(exc))
    session = _ort_session(onnx_path, threads)

    def ort_run() -> list:
        return session.run(None, feeds)

    torch_run = None
    try:
        net = load_torch_module(onnx_path, feeds)
        with _torch_threads(threads):
            diff = max(
                float(np.abs(a - b).max()) for a, b in zip(torch_outputs(net, feeds), ort_run(), strict=True)
            )
        row["parity_max_abs_diff"] = diff
        if diff > PARITY_TOLERANCE:
            raise ComputeUnavailable(f"torch and onnxruntime differ by {diff:.2g}: not the same network")
        torch_run = _torch_runner(net, feeds)
    except ComputeUnavailable as exc:
        row["torch_note"] = str(exc)
    with _torch_threads(threads):
        ort_ms, torch_ms = _side_by_side(ort_run, torch_run, repeat)
    row["ort_ms"] = round(ort_ms, 3)
    row["torch_ms"] = None if torch_ms is None else round(torch_ms, 3)
    row["torch_over_ort"] = None if torch_ms is None else round(torch_ms / ort_ms, 2)
    return row


def _side_by_side(
    first: Callable[[], object], second: Callable[[], object] | None, repeat: int
) -> tuple[float, float | None]:
    """Median ms of each, alternating runs (after one warm-up each) so drift hits both alike."""
    runs = [first] if second is None else [first, second]
    for run in runs:
        run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(max(1, repeat)):
        for run, bucket in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            bucket.append((time.perf_counter() - start) * 1000.0)
    medians = [statistics.median(t) for t in times]
    return medians[0], (medians[1] if second is not None else None)


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    return _side_by_side(run, None, repeat)[0]


def _ort_session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU session configured like the app's engine, at `threads` intra-op threads."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _manifest(model_path: Path) -> dict:
    path = Path(model_path).with_suffix(".json")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the manifest {path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ValueError(f"manifest {path} is not a JSON object")
    return manifest


def _import(module: str, why: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise ComputeUnavailable(f"{why}: {exc}") from exc


def format_compute(result: dict) -> list[str]:
    """Lines for `studio bench`: one per model, n/a figures with their reason."""
    peak = result.get("peak_gflops")
    lines = [
        f"compute on {result['device']}, {result['threads']} thread{'s' if result['threads'] != 1 else ''}: "
        + "matmul peak "
        + (f"{peak:.1f} GFLOP/s (BLAS roofline measured here)" if peak else "n/a")
    ]
    for name, row in result["models"].items():
        if "error" in row:
            lines.append(f"  {name}: n/a ({row['error']})")
            continue
        gmacs = (
            f"{row['gmacs']:.3f} GMACs" if row["gmacs"] is not None else f"GMACs n/a ({row['gmacs_note']})"
        )
        share = f", {row['share_of_peak'] * 100:.1f} % of peak" if row["share_of_peak"] is not None else ""
        if row["torch_ms"] is None:
            torch_part = f"torch eager n/a ({row['torch_note']})"
        else:
            torch_part = f"torch eager {row['torch_ms']:.2f} ms ({row['torch_over_ort']:.2f}× ORT)"
        lines.append(f"  {name}: {gmacs}, ORT {row['ort_ms']:.2f} ms{share}; {torch_part}")
    return lines

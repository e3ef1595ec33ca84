"""ModelRegistry: finds the models in the shipped and user folders and says why any cannot be used.

A broken or foreign model must never stop the app: it becomes a `ModelProblem` with a message a
user can act on, and every other model stays usable.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import paths
from studio.hashing import sha256_file
from studio.inference.external_data import ProtobufError, external_files
from studio.inference.manifest import (
    DECODER_SUFFIX,
    FP16_SUFFIX,
    KINDS,
    ModelError,
    ModelInfo,
    UnknownModelError,
    parse_manifest,
    read_manifest,
)

__all__ = [
    "ModelError",
    "ModelInfo",
    "ModelProblem",
    "ModelRegistry",
    "UnknownModelError",
    "STANDARD_DOMAINS",
]

log = logging.getLogger(__name__)

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "com.microsoft", "ai.onnx.ml"})
_graph_cache: dict[tuple[str, int, int], tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {}
_graph_lock = threading.Lock()


@dataclass(frozen=True)
class ModelProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _walk(nodes: Iterable[Any]) -> Iterator[Any]:
    """Every node, including those in If/Loop/Scan subgraphs."""
    for node in nodes:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _walk(attr.g.node)
            for graph in attr.graphs:
                yield from _walk(graph.node)


def _graph_summary(path: Path) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]] | None:
    """(operator domains, input names, output names) of an ONNX file, or None without the onnx package.

    Read once per (path, size, mtime): parsing a large protobuf is the slow part of start-up.
    """
    try:
        import onnx
    except ImportError:
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _graph_lock:
        if key in _graph_cache:
            return _graph_cache[key]
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError… for damaged files
        raise ModelError(f"{path.name}: not a readable ONNX model ({exc})") from exc
    graph = proto.graph
    nodes = [*_walk(graph.node), *(n for fn in proto.functions for n in _walk(fn.node))]
    domains = {node.domain for node in nodes} - {fn.domain for fn in proto.functions}  # local functions
    initializers = {init.name for init in graph.initializer}
    inputs = tuple(i.name for i in graph.input if i.name not in initializers)
    summary = (frozenset(domains), inputs, tuple(o.name for o in graph.output))
    with _graph_lock:
        _graph_cache[key] = summary
    return summary


def _check_graph(info: ModelInfo, path: Path | None = None, field: str = "") -> None:
    """`path`/`field`: a second graph of the model (a captioner's decoder step, `decoder.inputs`)."""
    path = path or info.path
    summary = _graph_summary(path)
    if summary is None:  # without onnx, a custom op shows up as a session failure in the Engine
        return
    domains, inputs, outputs = summary
    custom = sorted(domains - STANDARD_DOMAINS)
    if custom and not info.allow_custom_ops:
        raise ModelError(
            f"{path.name}: uses custom operator domain(s) {custom}; refused because custom ops run "
            f'native code. Set "allow_custom_ops": true in {info.manifest_path.name} only if you trust it'
        )
    specs_in, specs_out = (
        (info.decoder_inputs, info.decoder_outputs) if field else (info.inputs, info.outputs)
    )
    declared_in = {s.name for s in specs_in}
    declared_out = {s.name for s in specs_out}
    if declared_in != set(inputs):
        raise ModelError(
            f"{info.manifest_path.name}: field '{field}inputs' lists {sorted(declared_in)} but the ONNX "
            f"graph takes {sorted(inputs)}"
        )
    if not declared_out <= set(outputs):
        raise ModelError(
            f"{info.manifest_path.name}: field '{field}outputs' lists {sorted(declared_out)} but the ONNX "
            f"graph gives {sorted(outputs)}"
        )


def _check_decoder(info: ModelInfo) -> None:
    """A captioner's decoder-step graph is part of the model: missing, changed or foreign refuses it."""
    decoder = info.decoder_path
    if decoder is None:
        return
    if not decoder.is_file():
        raise ModelError(f"{info.manifest_path.name}: the decoder file {decoder.name} is missing")
    if sha256_file(decoder) != info.decoder_sha256:
        raise ModelError(
            f"{decoder.name}: sha256 differs from {info.manifest_path.name} (the file is damaged or was "
            "changed after export; re-export or fix the manifest)"
        )
    _check_external_data(info, decoder)
    _check_graph(info, decoder, "decoder.")


def load_model(manifest_path: Path) -> ModelInfo:
    """Validate one manifest and its .onnx (schema, file, sha256, operator domains)."""
    info = parse_manifest(manifest_path, read_manifest(manifest_path))
    if not info.path.is_file():
        raise ModelError(f"{manifest_path.name}: the model file {info.path.name} is missing")
    actual = sha256_file(info.path)
    if actual != info.sha256:
        raise ModelError(
            f"{info.path.name}: sha256 is {actual[:12]}… but {manifest_path.name} says {info.sha256[:12]}… "
            "(the file is damaged or was changed after export; re-export or fix the manifest)"
        )
    _check_external_data(info, info.path)
    _check_graph(info)
    _check_decoder(info)
    return _checked_fp16(info)


def _check_external_data(info: ModelInfo, model: Path) -> None:
    """Weights kept in files beside the .onnx are used only when the manifest lists each one with
    its sha256 and the file matches: the model's own hash does not cover them."""
    try:
        locations = external_files(model)
    except (ProtobufError, OSError) as exc:
        raise ModelError(f"{model.name}: not a readable ONNX model ({exc})") from exc
    listed = dict(info.external_data)
    for location in sorted(locations):
        if location not in listed:
            raise ModelError(
                f"{model.name}: keeps weights in {location!r}, which {info.manifest_path.name} does not "
                "list with a sha256 under 'external_data'; refused, because those weights are unchecked"
            )
        weights = model.parent / location
        if not weights.is_file():
            raise ModelError(f"{model.name}: its weights file {location} is missing")
        if sha256_file(weights) != listed[location]:
            raise ModelError(
                f"{location}: sha256 differs from {info.manifest_path.name} (the weights are damaged or "
                "were changed after export)"
            )


def _checked_fp16(info: ModelInfo) -> ModelInfo:
    """A missing or changed fp16 twin is dropped (the fp32 model still works), with a log line."""
    if info.fp16_path is None:
        return info
    problem = ""
    if not info.fp16_path.is_file():
        problem = "is missing"
    elif sha256_file(info.fp16_path) != info.fp16_sha256:
        problem = "does not match its sha256"
    else:
        try:
            _check_external_data(info, info.fp16_path)
        except ModelError as exc:
            problem = f"cannot be used ({exc})"
    if problem:
        log.warning("%s %s; %s runs in fp32 on every device", info.fp16_path.name, problem, info.name)
        return dataclasses.replace(info, fp16_path=None, fp16_sha256="")
    return info


def _is_override_note(message: str) -> bool:
    return " is overridden by newer " in message or " is ignored: " in message


class ModelRegistry:
    """The usable models, by name, from a list of folders (later folders may bring newer versions)."""

    def __init__(self, folders: list[Path] | None = None) -> None:
        if folders is None:
            folders = [paths.shipped_models_dir(), paths.user_models_dir()]
        self.folders = [Path(f) for f in folders]
        self.problems: list[ModelProblem] = []
        self._models: dict[str, ModelInfo] = {}
        self.refresh()

    def refresh(self) -> None:
        """Scan the folders again (after a user exports or copies in a model)."""
        self.problems = []
        found: dict[str, ModelInfo] = {}
        for folder in self.folders:
            for manifest in self._manifests(folder):
                try:
                    self._add(found, load_model(manifest))
                except ModelError as exc:
                    self._problem(manifest, str(exc))
                except Exception as exc:  # a broken model only ever disables itself
                    log.debug("unexpected problem loading %s", manifest, exc_info=True)
                    self._problem(manifest, f"{manifest.name}: cannot be used ({type(exc).__name__}: {exc})")
        self._models = found
        self._check_pairing()
        log.info("models: %s; problems: %d", ", ".join(self._models) or "none", len(self.problems))

    def _manifests(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        manifests = []
        for path in sorted(folder.glob("*.json")):
            if path.with_suffix(".onnx").is_file():
                manifests.append(path)
            elif self._looks_like_manifest(path):
                manifests.append(path)  # load_model reports the missing .onnx
        for onnx_path in sorted(folder.glob("*.onnx")):
            twin_of = folder / (onnx_path.name.removesuffix(FP16_SUFFIX) + ".json")
            if onnx_path.name.endswith(FP16_SUFFIX) and twin_of.is_file():
                continue  # an fp16 twin, named in that manifest
            part_of = folder / (onnx_path.name.removesuffix(DECODER_SUFFIX) + ".json")
            if onnx_path.name.endswith(DECODER_SUFFIX) and part_of.is_file():
                continue  # a captioner's decoder step, named in that manifest
            if not onnx_path.with_suffix(".json").is_file():
                self._problem(onnx_path, f"{onnx_path.name} has no manifest {onnx_path.stem}.json beside it")
        return manifests

    @staticmethod
    def _looks_like_manifest(path: Path) -> bool:
        """Tokenizer files and other JSON beside the models are not manifests."""
        try:
            data = read_manifest(path)
        except ModelError:
            return False
        return data.get("kind") in KINDS

    def _add(self, found: dict[str, ModelInfo], info: ModelInfo) -> None:
        old = found.get(info.name)
        if old is None:
            found[info.name] = info
        elif old.manifest_path.parent == info.manifest_path.parent:
            self._problem(
                info.manifest_path, f"model name {info.name!r} is already used by {old.manifest_path.name}"
            )
        elif info.version_key > old.version_key:
            found[info.name] = info
            self._problem(
                old.manifest_path,
                f"{info.name} {old.version} is overridden by newer {info.version} in "
                f"{info.manifest_path.parent}",
            )
        else:
            self._problem(
                info.manifest_path,
                f"{info.name} {info.version} is ignored: {old.version} in "
                f"{old.manifest_path.parent} is not older",
            )

    def _check_pairing(self) -> None:
        """A generator needs a text encoder of its embedding space, and its upscaler must fit it."""
        spaces = {m.embedding_space for m in self._models.values() if m.kind == "text_encoder"}
        for info in list(self._models.values()):
            if info.kind == "generator" and info.embedding_space not in spaces:
                del self._models[info.name]
                have = ", ".join(sorted(s for s in spaces if s)) or "none"
                self._problem(
                    info.manifest_path,
                    f"generator {info.name} needs a text encoder of embedding space "
                    f"{info.embedding_space!r}, but none is installed (text encoder spaces: {have})",
                )
            elif info.kind == "generator" and info.upscaler:
                try:
                    self._upscaler_checked(info)
                except ModelError as exc:
                    self._problem(
                        info.manifest_path, f"{exc}; images larger than {info.resolution} px are resized"
                    )

    def _problem(self, path: Path, message: str) -> None:
        log.info("model problem: %s", message)
        self.problems.append(ModelProblem(path, message))

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def generators(self) -> list[ModelInfo]:
        return [m for m in self._models.values() if m.kind == "generator"]

    def captioner(self) -> ModelInfo | None:
        """The captioner `studio describe` uses: the newest installed (None when there is none)."""
        found = [m for m in self._models.values() if m.kind == "captioner"]
        return max(found, key=lambda m: (m.version_key, m.name)) if found else None

    def get(self, name: str) -> ModelInfo:
        try:
            return self._models[name]
        except KeyError:
            pass
        broken = [
            p.message for p in self.problems if p.path.stem == name and not _is_override_note(p.message)
        ]
        if broken:
            raise UnknownModelError(f"model {name!r} is installed but cannot be used: {broken[0]}")
        known = ", ".join(sorted(self._models)) or "none"
        raise UnknownModelError(f"no model named {name!r} is installed (installed: {known})")

    def text_encoder_for(self, info: ModelInfo) -> ModelInfo:
        for model in self._models.values():
            if model.kind == "text_encoder" and model.embedding_space == info.embedding_space:
                return model
        raise ModelError(
            f"{info.name} needs a text encoder of embedding space {info.embedding_space!r}; none is installed"
        )

    def upscaler_for(self, info: ModelInfo) -> ModelInfo | None:
        """The generator's upscaler, or None when it names none or that one is unusable (see problems)."""
        if not info.upscaler:
            return None
        try:
            return self._upscaler_checked(info)
        except ModelError:
            return None

    def segmenter_for(self, info: ModelInfo) -> ModelInfo | None:
        """A segmenter that speaks the generator's label classes (same names in the same order),
        preferring one at the generator's resolution, then the newest; None when there is none."""
        return self.segmenter_speaking([c.name for c in info.label_classes], info.resolution)

    def segmenter_speaking(self, names: list[str], resolution: int | None) -> ModelInfo | None:
        """A segmenter with these label class names in this order, preferring one at `resolution`
        (a translator's, a generator's), then the newest; None when there is none."""
        fits = [
            m
            for m in self._models.values()
            if m.kind == "segmenter" and names and [c.name for c in m.label_classes] == names
        ]
        return _best_fit(fits, resolution)

    def layout_prior_for(self, info: ModelInfo) -> ModelInfo | None:
        """A layout prior in the generator's embedding space and classes, at its resolution or one
        that divides it (label maps resize exactly by nearest neighbour), preferring the generator's
        own resolution, then the newest; None when there is none."""
        names = [c.name for c in info.label_classes]
        fits = [
            m
            for m in self._models.values()
            if m.kind == "layout_prior"
            and names
            and m.embedding_space == info.embedding_space
            and m.resolution
            and info.resolution
            and info.resolution % m.resolution == 0
            and [c.name for c in m.label_classes] == names
        ]
        return _best_fit(fits, info.resolution)

    def _upscaler_checked(self, info: ModelInfo) -> ModelInfo:
        up = self._models.get(info.upscaler or "")
        if up is None or up.kind != "upscaler":
            raise ModelError(
                f"generator {info.name} names upscaler {info.upscaler!r}, which is not installed"
            )
        if up.resolution != info.resolution:
            raise ModelError(
                f"upscaler {up.name} takes {up.resolution} px images but generator {info.name} "
                f"makes {info.resolution} px"
            )
        return up


def _best_fit(fits: list[ModelInfo], resolution: int | None) -> ModelInfo | None:
    """Of the helper models that fit a model: one at its resolution, then the newest."""
    if not fits:
        return None
    return max(fits, key=lambda m: (m.resolution == resolution, m.version_key, m.name))

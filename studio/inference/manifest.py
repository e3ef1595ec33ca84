"""Model manifests (`NAME.json` beside `NAME.onnx`): schema check and the typed record built from it.

Every message names the file and the field, because the person reading it is usually someone who
exported their own model and needs to know exactly what to fix.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.world.classes import LabelClass

KINDS = (
    "generator",
    "text_encoder",
    "audio_encoder",
    "upscaler",
    "segmenter",
    "image_encoder",
    "layout_prior",
    "captioner",
    "translator",
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_VERSION_CHARS = 64


class ModelError(RuntimeError):
    """A model cannot be used: bad manifest, wrong hash, missing partner model, failed session."""


class UnknownModelError(ModelError, KeyError):
    """No model of that name is installed."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]
    dtype: str
    meaning: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """A validated model: what the registry hands to the engine, pipeline and UI."""

    name: str
    version: str
    kind: str
    path: Path  # the .onnx
    manifest_path: Path
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    embedding_space: str | None = None
    resolution: int | None = None
    z_dim: int | None = None
    scale: int | None = None
    label_classes: tuple[LabelClass, ...] = ()
    upscaler: str | None = None
    tokenizer: Path | None = None
    max_tokens: int | None = None
    dim: int | None = None
    example_prompts: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    license: str = ""
    description: str = ""
    allow_custom_ops: bool = False
    fp16_path: Path | None = None  # a half-precision twin for GPUs (same inputs/outputs), if shipped
    fp16_sha256: str = ""
    external_data: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of weights kept beside the .onnx
    attribute_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # generator's scene-attribute input
    attribute_wording: bool = False  # generator: its text also says the given attributes in training wording
    attribute_gain: float = 1.0  # generator: its attribute input is the given probabilities times this
    latent_temperature: float = 1.0  # generator: its z input is the recipe's standard-normal z times this
    edge_fill: int = 0  # generator: border pixels of its output replaced by the interior's mirror
    # captioner: the decoder-step graph beside the encoder (.onnx), its hash and tensors; the words
    decoder_path: Path | None = None
    decoder_sha256: str = ""
    decoder_inputs: tuple[TensorSpec, ...] = ()
    decoder_outputs: tuple[TensorSpec, ...] = ()
    vocabulary: tuple[str, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    @property
    def image_output(self) -> str:
        """Name of the output holding the image: the first one listed."""
        return self.outputs[0].name

    @property
    def version_key(self) -> tuple[tuple[int, int | str], ...]:
        return version_key(self.version)


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order "1.10" after "1.9"; non-numeric parts sort after numbers and compare as text."""
    parts = re.split(r"[.\-+]", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


class _Checker:
    """Collects the manifest's fields, raising ModelError that names the file and the field."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.data = data
        self.prefix = prefix  # a nested object's fields are named "decoder.inputs", …

    def fail(self, field_name: str, problem: str) -> ModelError:
        return ModelError(f"{self.path.name}: field '{self.prefix}{field_name}' {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], required: bool = True, default: Any = None) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"must be {names}, not {type(value).__name__}")
        return value

    def positive_int(self, key: str, required: bool = True) -> int | None:
        value = self.get(key, int, required)
        if value is not None and value <= 0:
            raise self.fail(key, f"must be a positive integer, not {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.get(key, list, required=False, default=[])
        if not all(isinstance(v, str) for v in values):
            raise self.fail(key, "must be a list of strings")
        return tuple(values)

    def tensors(self, key: str) -> tuple[TensorSpec, ...]:
        items = self.get(key, list)
        if not items:
            raise self.fail(key, "must list at least one tensor")
        specs = []
        for i, item in enumerate(items):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                raise self.fail(where, "must be an object with name, shape, dtype")
            name, shape, dtype = item.get("name"), item.get("shape"), item.get("dtype")
            if not isinstance(name, str) or not name:
                raise self.fail(f"{where}.name", "must be a non-empty string")
            if not isinstance(shape, list) or not all(
                isinstance(d, str) or (isinstance(d, int) and not isinstance(d, bool)) for d in shape
            ):
                raise self.fail(
                    f"{where}.shape", "must be a list of integers or names (-1 or a name = dynamic)"
                )
            if not isinstance(dtype, str) or not dtype:
                raise self.fail(f"{where}.dtype", "must be a string such as 'float32'")
            meaning = item.get("meaning", "")
            specs.append(TensorSpec(name, tuple(shape), dtype, meaning if isinstance(meaning, str) else ""))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise self.fail(key, f"names a tensor twice: {names}")
        return tuple(specs)

    def require_tensor(self, specs: tuple[TensorSpec, ...], key: str, name: str, rank: int) -> TensorSpec:
        spec = next((s for s in specs if s.name == name), None)
        if spec is None:
            raise self.fail(key, f"must contain a tensor named '{name}' (has {[s.name for s in specs]})")
        if len(spec.shape) != rank:
            raise self.fail(f"{key}.{name}.shape", f"must have {rank} dimensions, not {list(spec.shape)}")
        return spec

    def image_output(self, specs: tuple[TensorSpec, ...]) -> TensorSpec:
        """The image output of a generator or upscaler: the first one (ONNX forbids reusing an input name)."""
        spec = specs[0]
        if len(spec.shape) != 4:
            raise self.fail(f"outputs.{spec.name}.shape", f"must be [N, 3, H, W], not {list(spec.shape)}")
        return spec

    def dim_matches(self, spec: TensorSpec, key: str, axis: int, expected: int, what: str) -> None:
        dim = spec.shape[axis]
        if isinstance(dim, int) and dim >= 0 and dim != expected:
            raise self.fail(f"{key}.{spec.name}.shape", f"axis {axis} is {dim} but {what} is {expected}")

    def label_classes(self) -> tuple[LabelClass, ...]:
        items = self.get("label_classes", list)
        classes = []
        for i, item in enumerate(items):
            where = f"label_classes[{i}]"
            if not isinstance(item, dict):
                raise self.fail(where, "must be an object with index, name, display, color")
            index, name, color = item.get("index"), item.get("name"), item.get("color")
            if index != i or isinstance(index, bool):
                raise self.fail(f"{where}.index", f"must be {i} (classes are listed in index order)")
            if not isinstance(name, str) or not name:
                raise self.fail(f"{where}.name", "must be a non-empty string")
            display = item.get("display", name)
            if not isinstance(display, str):
                raise self.fail(f"{where}.display", "must be a string")
            if (
                not isinstance(color, list)
                or len(color) != 3
                or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)
            ):
                raise self.fail(f"{where}.color", "must be [r, g, b] with integers 0-255")
            classes.append(LabelClass(i, name, display, (color[0], color[1], color[2])))
        if len(classes) < 2:
            raise self.fail("label_classes", "must list 'unknown' (index 0) and at least one class")
        return tuple(classes)


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read manifest: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"{path.name}: manifest is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path.name}: manifest must be a JSON object")
    return data


def parse_manifest(path: Path, data: dict[str, Any]) -> ModelInfo:
    """Validate a manifest's schema and build its ModelInfo (the hash is checked by the registry)."""
    c = _Checker(path, data)
    name = c.get("name", str)
    if not _NAME_RE.match(name):
        raise c.fail("name", f"must be 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    version = c.get("version", (str, int))
    version = str(version)
    if not version.strip():
        raise c.fail("version", "must not be empty")
    if len(version) > MAX_VERSION_CHARS:  # versions are compared part by part as numbers
        raise c.fail("version", f"is {len(version)} characters long; at most {MAX_VERSION_CHARS} are allowed")
    kind = c.get("kind", str)
    if kind not in KINDS:
        raise c.fail("kind", f"is {kind!r}; this version understands {', '.join(KINDS)}")
    sha = c.get("sha256", str).lower()
    if not _SHA_RE.match(sha):
        raise c.fail("sha256", "must be 64 hexadecimal characters")
    inputs, outputs = c.tensors("inputs"), c.tensors("outputs")
    spaceless = ("upscaler", "segmenter", "captioner", "translator")
    space = c.get("embedding_space", str, required=kind not in spaceless)
    allow_custom = c.get("allow_custom_ops", bool, required=False, default=False)
    for key, kinds in (("description", str), ("training", dict), ("metrics", dict)):
        c.get(key, kinds, required=False)
    license_value = c.get("license", (str, dict), required=False, default="")
    if isinstance(license_value, dict):  # one entry per part, e.g. {"model": …, "package": …}
        license_value = "; ".join(f"{k}: {v}" for k, v in license_value.items())
    extra: dict[str, Any] = {}
    if kind == "generator":
        extra.update(_generator_fields(c, inputs, outputs))
    elif kind == "text_encoder":
        extra.update(_text_encoder_fields(c, path, inputs, outputs))
    elif kind == "upscaler":
        extra.update(_upscaler_fields(c, inputs, outputs))
    elif kind == "segmenter":
        extra.update(_segmenter_fields(c, inputs, outputs))
    elif kind == "audio_encoder":
        extra.update(_audio_encoder_fields(c, inputs, outputs))
    elif kind == "image_encoder":
        extra.update(_image_encoder_fields(c, inputs, outputs))
    elif kind == "layout_prior":
        extra.update(_layout_prior_fields(c, inputs, outputs))
    elif kind == "captioner":
        extra.update(_captioner_fields(c, path, inputs, outputs))
    elif kind == "translator":  # picture → picture (studio translate)
        from studio.translate.contract import translator_fields

        extra.update(translator_fields(c, inputs, outputs))
    return ModelInfo(
        name=name,
        version=version,
        kind=kind,
        path=path.with_suffix(".onnx"),
        manifest_path=path,
        sha256=sha,
        inputs=inputs,
        outputs=outputs,
        embedding_space=space,
        license=license_value,
        description=c.get("description", str, required=False, default=""),
        allow_custom_ops=allow_custom,
        manifest=data,
        **_fp16_fields(c, path),
        external_data=_external_data_field(c),
        **extra,
    )


FP16_SUFFIX = ".fp16.onnx"


def _fp16_fields(c: _Checker, path: Path) -> dict:
    """Optional `fp16`: {"file": "NAME.fp16.onnx", "sha256": …, "parity_max_abs_diff": …}: the
    engine runs this file instead when the model runs on CUDA (studio.export.fp16)."""
    entry = c.get("fp16", dict, required=False)
    if entry is None:
        return {}
    name, sha = entry.get("file"), entry.get("sha256")
    if not isinstance(name, str) or name != path.stem + FP16_SUFFIX:
        raise c.fail("fp16.file", f"must be {path.stem + FP16_SUFFIX!r} (beside the manifest), not {name!r}")
    if not isinstance(sha, str) or not _SHA_RE.match(sha):
        raise c.fail("fp16.sha256", "must be 64 hexadecimal characters")
    return {"fp16_path": path.with_name(name), "fp16_sha256": sha}


def _external_data_field(c: _Checker) -> tuple[tuple[str, str], ...]:
    """Optional `external_data`: [{"file": NAME, "sha256": …}] for each file beside the .onnx that
    holds weights (ONNX external data); the registry refuses a model using any file not listed."""
    entries = c.get("external_data", list, required=False, default=[])
    files = []
    for i, entry in enumerate(entries):
        name = entry.get("file") if isinstance(entry, dict) else None
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise c.fail(f"external_data[{i}].file", "must be a file name beside the manifest")
        if not isinstance(sha, str) or not _SHA_RE.match(sha):
            raise c.fail(f"external_data[{i}].sha256", "must be 64 hexadecimal characters")
        files.append((name, sha))
    return tuple(files)


def _generator_fields(c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> dict:
    resolution = c.positive_int("resolution")
    z_dim = c.positive_int("z_dim")
    z = c.require_tensor(inputs, "inputs", "z", 2)
    c.dim_matches(z, "inputs", 1, z_dim, "z_dim")
    c.require_tensor(inputs, "inputs", "text", 2)
    image = c.image_output(outputs)
    c.dim_matches(image, "outputs", 1, 3, "the number of colour channels")
    for axis in (2, 3):
        c.dim_matches(image, "outputs", axis, resolution, "resolution")
    classes: tuple[LabelClass, ...] = ()
    if any(s.name == "labels" for s in inputs):
        labels = c.require_tensor(inputs, "inputs", "labels", 4)
        classes = c.label_classes()
        c.dim_matches(labels, "inputs", 1, len(classes), "the number of label_classes")
    if any(s.name == "noise" for s in inputs):
        noise = c.require_tensor(inputs, "inputs", "noise", 4)
        for axis in (2, 3):
            c.dim_matches(noise, "inputs", axis, resolution, "resolution")
    upscaler = c.get("upscaler", str, required=False)
    return {
        "resolution": resolution,
        "z_dim": z_dim,
        "label_classes": classes,
        "attribute_groups": _attribute_groups(c, inputs),
        "attribute_wording": bool(c.get("attribute_wording", bool, required=False, default=False)),
        "attribute_gain": _gain(c, "attribute_gain"),
        "latent_temperature": _gain(c, "latent_temperature"),
        "edge_fill": _edge_fill(c, resolution),
        "upscaler": upscaler or None,
        "example_prompts": c.strings("example_prompts"),
        "concepts": c.strings("concepts"),
    }


GAIN_RANGE = (1.0, 4.0)  # attribute_gain and latent_temperature: what studio eval measured
EDGE_FILL_SHARE = 16  # edge_fill is at most the generator's resolution over this


def _gain(c: _Checker, key: str) -> float:
    """A generator's input multiplier (1 to 4, default 1), measured with `studio eval` and belonging
    to the model version, so recipes re-render exactly:
    - `attribute_gain`: the attribute input is the given one-hot (or mix) times this, a guidance (a
      weak value such as morning shows more often at 2 than at 1);
    - `latent_temperature`: z is the recipe's standard-normal latent times this. The text prior
      narrows z to about a quarter of its spread, so seeds and the discovered controls barely move
      the picture; a temperature widens what a seed and a slider reach (BigGAN's truncation, the
      other way)."""
    gain = c.get(key, (int, float), required=False, default=1.0)
    low, high = GAIN_RANGE
    if not math.isfinite(gain) or not low <= gain <= high:
        raise c.fail(key, f"must be a number from {low:g} to {high:g}, not {gain!r}")
    return float(gain)


def _edge_fill(c: _Checker, resolution: int) -> int:
    """Border pixels (at the generator's resolution) the app replaces by the mirror of the interior:
    a generator whose convolutions saw zero padding draws a frame of lines along its edges."""
    fill, most = c.get("edge_fill", int, required=False, default=0), resolution // EDGE_FILL_SHARE
    if isinstance(fill, bool) or not 0 <= fill <= most:
        raise c.fail("edge_fill", f"must be a whole number of pixels from 0 to {most}, not {fill!r}")
    return fill


def _attribute_groups(c: _Checker, inputs: tuple[TensorSpec, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A generator's `attributes` input: `attribute_groups` names the groups and their values in
    input order (one probability per value; zeros = unknown)."""
    if not any(s.name == "attributes" for s in inputs):
        return ()
    spec = c.require_tensor(inputs, "inputs", "attributes", 2)
    raw = c.get("attribute_groups", dict)
    groups = []
    for group, values in raw.items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise c.fail("attribute_groups", f"{group!r} must list its values as strings")
        groups.append((str(group), tuple(values)))
    c.dim_matches(spec, "inputs", 1, sum(len(v) for _, v in groups), "the number of attribute values")
    return tuple(groups)


def _text_encoder_fields(
    c: _Checker, path: Path, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> dict:
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        c.require_tensor(inputs, "inputs", name, 2)
    embedding = c.require_tensor(outputs, "outputs", "embedding", 2)
    dim = c.positive_int("dim", required=False)
    if dim is not None:
        c.dim_matches(embedding, "outputs", 1, dim, "dim")
    tokenizer = c.get("tokenizer", str)
    tokenizer_path = path.parent / tokenizer
    if Path(tokenizer).name != tokenizer:
        raise c.fail("tokenizer", f"must be a file name beside the manifest, not a path ({tokenizer!r})")
    if not tokenizer_path.is_file():
        raise c.fail("tokenizer", f"names {tokenizer!r}, which is not in {path.parent}")
    return {
        "tokenizer": tokenizer_path,
        "max_tokens": c.positive_int("max_tokens", required=False),
        "dim": dim,
    }


def _upscaler_fields(c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> dict:
    resolution = c.positive_int("resolution")
    scale = c.positive_int("scale")
    image_in = c.require_tensor(inputs, "inputs", "image", 4)
    image_out = c.image_output(outputs)
    for axis in (2, 3):
        c.dim_matches(image_in, "inputs", axis, resolution, "resolution")
        c.dim_matches(image_out, "outputs", axis, resolution * scale, "resolution * scale")
    return {"resolution": resolution, "scale": scale}


def _segmenter_fields(c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> dict:
    """image [N,3,R,R] in [-1, 1] → logits [N,C,R,R], C = len(label_classes)."""
    resolution = c.positive_int("resolution")
    classes = c.label_classes()
    image = c.require_tensor(inputs, "inputs", "image", 4)
    logits = c.require_tensor(outputs, "outputs", "logits", 4)
    c.dim_matches(image, "inputs", 1, 3, "the number of colour channels")
    c.dim_matches(logits, "outputs", 1, len(classes), "the number of label_classes")
    for axis in (2, 3):
        c.dim_matches(image, "inputs", axis, resolution, "resolution")
        c.dim_matches(logits, "outputs", axis, resolution, "resolution")
    return {"resolution": resolution, "label_classes": classes}


def _audio_encoder_fields(
    c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> dict:
    """mel [N, n_mels, T] → embedding [N, D]. The app computes the features itself (studio.audio.mel),
    so a model trained on other features would get wrong inputs silently: refuse it instead."""
    from studio.audio import mel as app_mel

    if c.positive_int("sample_rate") != app_mel.SAMPLE_RATE:
        raise c.fail("sample_rate", f"must be {app_mel.SAMPLE_RATE} (the rate the app computes features at)")
    window = c.get("window_seconds", (int, float))
    if isinstance(window, bool) or not 0.1 <= float(window) <= 30.0:
        raise c.fail("window_seconds", f"must be a number of seconds from 0.1 to 30, not {window!r}")
    mel = c.require_tensor(inputs, "inputs", "mel", 3)
    features = c.get("features", dict)
    for key in ("n_fft", "win", "hop", "n_mels", "fmin", "fmax"):
        expected = getattr(app_mel, key.upper())
        if features.get(key) != expected:
            raise c.fail(f"features.{key}", f"is {features.get(key)!r}; the app's log-mel uses {expected}")
    c.dim_matches(mel, "inputs", 1, app_mel.N_MELS, "features.n_mels")
    embedding = c.require_tensor(outputs, "outputs", "embedding", 2)
    labels = c.get("listen_labels", list, required=False, default=[])
    for i, label in enumerate(labels):
        if not isinstance(label, dict) or not isinstance(label.get("display"), str):
            raise c.fail(f"listen_labels[{i}]", "must be an object with a display name and prompts")
        prompts = label.get("prompts")
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            raise c.fail(f"listen_labels[{i}].prompts", "must be a non-empty list of strings")
    floor = c.get("listen_floor", (int, float), required=False)
    if floor is not None and not -1.0 <= float(floor) <= 1.0:
        raise c.fail("listen_floor", f"must be a cosine from -1 to 1, not {floor!r}")
    dim = embedding.shape[1]
    return {"dim": dim if isinstance(dim, int) and dim > 0 else None}


def _image_encoder_fields(
    c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> dict:
    """image [N, 3, R, R] in [-1, 1] → embedding [N, D] (optionally features [N, F] for KID/FID)."""
    resolution = c.positive_int("resolution")
    image = c.require_tensor(inputs, "inputs", "image", 4)
    c.dim_matches(image, "inputs", 1, 3, "the number of colour channels")
    for axis in (2, 3):
        c.dim_matches(image, "inputs", axis, resolution, "resolution")
    embedding = c.require_tensor(outputs, "outputs", "embedding", 2)
    if any(s.name == "features" for s in outputs):
        c.require_tensor(outputs, "outputs", "features", 2)
    dim = embedding.shape[1]
    return {"resolution": resolution, "dim": dim if isinstance(dim, int) and dim > 0 else None}


def _layout_prior_fields(
    c: _Checker, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> dict:
    """text [N, D] → scores [N, M], layouts [M, R, R] (class indices); `pick` says how the app chooses."""
    resolution = c.positive_int("resolution")
    classes = c.label_classes()
    text = c.require_tensor(inputs, "inputs", "text", 2)
    if not isinstance(text.shape[1], int) or text.shape[1] <= 0:
        raise c.fail("inputs.text.shape", f"axis 1 must be the embedding width, not {text.shape[1]!r}")
    scores = c.require_tensor(outputs, "outputs", "scores", 2)
    layouts = c.require_tensor(outputs, "outputs", "layouts", 3)
    if isinstance(scores.shape[1], int):
        c.dim_matches(layouts, "outputs", 0, scores.shape[1], "the number of scores")
    for axis in (1, 2):
        c.dim_matches(layouts, "outputs", axis, resolution, "resolution")
    pick = c.get("pick", dict)
    margin, most = pick.get("margin"), pick.get("max_candidates")
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 < margin < 1:
        raise c.fail("pick.margin", f"must be a number between 0 and 1, not {margin!r}")
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        raise c.fail("pick.max_candidates", f"must be a positive integer, not {most!r}")
    return {"resolution": resolution, "label_classes": classes, "dim": text.shape[1]}


DECODER_SUFFIX = ".decoder.onnx"
CAPTION_SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")  # token ids 0-3 of every captioner vocabulary


def _captioner_fields(
    c: _Checker, path: Path, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
) -> dict:
    """Encoder (NAME.onnx): image [N,3,R,R] → hidden [N,H], context [N,C]. Decoder step
    (`decoder.file`, NAME.decoder.onnx, its own sha256): token int64 [N], hidden, context →
    logprobs [N,V], next_hidden [N,H]. `vocabulary` lists the V words, the specials first."""
    resolution = c.positive_int("resolution")
    image = c.require_tensor(inputs, "inputs", "image", 4)
    c.dim_matches(image, "inputs", 1, 3, "the number of colour channels")
    for axis in (2, 3):
        c.dim_matches(image, "inputs", axis, resolution, "resolution")
    c.require_tensor(outputs, "outputs", "hidden", 2)
    c.require_tensor(outputs, "outputs", "context", 2)
    words = c.strings("vocabulary")
    if tuple(words[: len(CAPTION_SPECIALS)]) != CAPTION_SPECIALS:
        raise c.fail("vocabulary", f"must start with {list(CAPTION_SPECIALS)}")
    if len(set(words)) != len(words) or len(words) <= len(CAPTION_SPECIALS):
        raise c.fail("vocabulary", "must list distinct words after the special tokens")
    decoder = c.get("decoder", dict)
    name, sha = decoder.get("file"), decoder.get("sha256")
    if not isinstance(name, str) or name != path.stem + DECODER_SUFFIX:
        expected = path.stem + DECODER_SUFFIX
        raise c.fail("decoder.file", f"must be {expected!r} (beside the manifest), not {name!r}")
    if not isinstance(sha, str) or not _SHA_RE.match(sha.lower()):
        raise c.fail("decoder.sha256", "must be 64 hexadecimal characters")
    sub = _Checker(path, decoder, prefix="decoder.")
    step_in, step_out = sub.tensors("inputs"), sub.tensors("outputs")
    for name_, rank in (("token", 1), ("hidden", 2), ("context", 2)):
        sub.require_tensor(step_in, "inputs", name_, rank)
    logprobs = sub.require_tensor(step_out, "outputs", "logprobs", 2)
    sub.require_tensor(step_out, "outputs", "next_hidden", 2)
    sub.dim_matches(logprobs, "outputs", 1, len(words), "the vocabulary size")
    return {
        "resolution": resolution,
        "max_tokens": c.positive_int("max_tokens"),
        "decoder_path": path.with_name(name),
        "decoder_sha256": sha.lower(),
        "decoder_inputs": step_in,
        "decoder_outputs": step_out,
        "vocabulary": words,
    }

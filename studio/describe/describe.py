"""Describe pictures: a caption, the attributes it names, and (with a segmenter) the classes seen.

`Describer(registry, engine)` uses the newest installed captioner (or the one named); without one
it falls back to the retrieval baseline (image encoder + text encoder) and says so in `notes`.
What the CLI prints and what the app will show come from the same `Description`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from studio import paths
from studio.describe.captioner import Captioner
from studio.describe.retrieval import BANK_SIZE, RetrievalCaptioner, bank_captions, bank_vectors
from studio.inference.attributes import read_attributes
from studio.inference.manifest import ModelError, ModelInfo
from studio.world.captions import attributes_from_text

log = logging.getLogger(__name__)
MIN_CLASS_SHARE = 0.03  # classes covering less of the picture are not listed
MIN_SIDE = 8  # a smaller picture holds nothing to describe


def picture_from_bytes(data: bytes, what: str = "the picture") -> tuple[np.ndarray, list[str]]:
    """An image file's pixels as uint8 HxWx3 RGB, and notes on what was done to get them."""
    from studio.image_input import picture_rgb

    return picture_rgb(data, what, "describing", MIN_SIDE)


@dataclass
class Description:
    caption: str
    method: str  # "captioner" or "retrieval"
    model: str  # what produced the caption, "NAME VERSION" (+ " + NAME VERSION")
    score: float  # captioner: log-probability of the caption; retrieval: cosine to the picture
    attributes: dict[str, str | None]  # time, weather, season the caption names (None: it names none)
    phrases: dict[str, str | None]  # the words each attribute was read from
    features: list[str]  # lake, forest, snowy peaks, … the caption names
    classes: list[tuple[str, float]] = field(default_factory=list)  # segmenter: (class, share), largest first
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["classes"] = [{"name": n, "share": round(s, 3)} for n, s in self.classes]
        return out

    def scene_line(self) -> str:
        """ "time night ← at night · weather ? · season winter ← in winter" """
        parts = []
        for group, value in self.attributes.items():
            phrase = self.phrases.get(group)
            parts.append(f"{group} {value} ← {phrase}" if value else f"{group} ?")
        return " · ".join(parts)


def _label(info: ModelInfo) -> str:
    return f"{info.name} {info.version}"


def captioner_for(registry, engine, model: str | None = None) -> tuple[Captioner, str] | None:
    """The captioner named (refused when it is another kind), else the newest; None without one."""
    if model is not None:
        info = registry.get(model)
        if info.kind != "captioner":
            raise ModelError(f"{info.name} is a {info.kind}, not a captioner")
    else:
        info = registry.captioner()
    return None if info is None else (Captioner(engine, info), _label(info))


def retrieval_for(registry, engine, bank_size: int = BANK_SIZE) -> tuple[RetrievalCaptioner, str]:
    """The retrieval baseline on the newest image encoder and the text encoder of its space."""
    from studio.inference.image_encoder import ImageEncoder
    from studio.inference.text_encoder import TextEncoder, TextEncoderError

    encoders = [m for m in registry.models() if m.kind == "image_encoder"]
    if not encoders:
        raise ModelError(
            "nothing installed can describe pictures: no captioner and no image encoder "
            f"(looked in {', '.join(str(f) for f in registry.folders)})"
        )
    image_info = max(encoders, key=lambda m: (m.version_key, m.name))
    text_info = registry.text_encoder_for(image_info)
    try:
        text = TextEncoder(
            engine.session(text_info.path), text_info.tokenizer, max_tokens=text_info.max_tokens or 128
        )
    except TextEncoderError as exc:
        raise ModelError(f"{text_info.name}: {exc}") from exc
    captions = bank_captions(bank_size)
    vectors = bank_vectors(captions, text.encode, text_info.sha256, paths.data_home() / "cache")
    image = ImageEncoder(engine, image_info)
    return RetrievalCaptioner(image.embed, captions, vectors), f"{_label(image_info)} + {_label(text_info)}"


def _broken_captioners(registry) -> list[str]:
    """The registry's problems with captioners (a changed decoder file, a bad manifest, …)."""
    from studio.inference.manifest import read_manifest

    found = []
    for problem in registry.problems:
        try:
            kind = read_manifest(problem.path.with_suffix(".json")).get("kind")
        except ModelError:
            continue
        if kind == "captioner" and " is overridden by newer " not in problem.message:
            found.append(f"a captioner is installed but cannot be used ({problem.message})")
    return found


class Describer:
    """Picks how to describe: a captioner (by `model` name, else the newest), else retrieval."""

    def __init__(self, registry, engine, model: str | None = None, segment: bool = True) -> None:
        self.registry, self.engine = registry, engine
        self.notes: list[str] = []
        found = captioner_for(registry, engine, model)
        self.captioner: Captioner | RetrievalCaptioner
        if found is not None:
            self.method = "captioner"
            self.captioner, self.model = found
        else:
            self.method = "retrieval"
            retrieval, self.model = retrieval_for(registry, engine)
            self.captioner = retrieval
            baseline = (
                f"the retrieval baseline (the nearest of {len(retrieval.bank)} training captions by the "
                "image encoder)"
            )
            broken = _broken_captioners(registry)
            if broken:
                self.notes.append(f"{broken[0]}; using {baseline}")
            else:
                self.notes.append(f"no captioner model is installed: using {baseline}")
        self.segmenter = self._segmenter() if segment else None

    def _segmenter(self):
        from studio.inference.segmenter import Segmenter

        found = [m for m in self.registry.models() if m.kind == "segmenter"]
        if not found:
            return None
        return Segmenter(self.engine, max(found, key=lambda m: (m.version_key, m.name)))

    def describe(
        self, images: Sequence[np.ndarray], beam: int = 1, classes: bool = True
    ) -> list[Description]:
        """One Description per uint8 HxWx3 picture (any size of at least 8 px a side); `classes=False`
        skips the segmenter (a match score needs only the caption)."""
        captions = self.captioner.describe(images, beam)
        segment = classes and self.segmenter is not None
        class_maps = self.segmenter.segment(list(images)) if segment else None
        out = []
        for i, caption in enumerate(captions):
            read = read_attributes(caption.text)
            notes = list(self.notes)
            if not caption.finished:
                notes.append("the caption was cut at the model's longest caption")
            out.append(
                Description(
                    caption=caption.text,
                    method=self.method,
                    model=self.model,
                    score=round(caption.logprob, 4),
                    attributes={g: hit[0] if hit else None for g, hit in read.items()},
                    phrases={g: hit[1] if hit else None for g, hit in read.items()},
                    features=attributes_from_text(caption.text)["features"] or [],
                    classes=self._classes(class_maps[i]) if class_maps is not None else [],
                    notes=notes,
                )
            )
        return out

    def _classes(self, class_map: np.ndarray) -> list[tuple[str, float]]:
        assert self.segmenter is not None
        names = [c.name for c in self.segmenter.info.label_classes]
        shares = np.bincount(class_map.ravel(), minlength=len(names)) / class_map.size
        order = [int(i) for i in np.argsort(-shares, kind="stable") if i > 0 and shares[i] >= MIN_CLASS_SHARE]
        return [(names[i], float(shares[i])) for i in order]


_PIPELINE_DESCRIBERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pipeline_describer(pipe) -> Describer:
    """The one Describer of a pipeline (the app's worker thread only): its models and caption bank
    load once, shared by the Describe panel and the match scores, and go with the pipeline."""
    describer = _PIPELINE_DESCRIBERS.get(pipe)
    if describer is None:
        describer = _PIPELINE_DESCRIBERS[pipe] = Describer(pipe.registry, pipe.engine)
    return describer

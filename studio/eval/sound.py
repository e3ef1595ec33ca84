"""Sound metrics: zero-shot recognition of held-out clips and real recordings.

A clip counts as recognised when the sound kind whose canonical descriptions (the manifest's
`listen_labels`) lie closest to the clip's embedding is one of the kinds it contains — the same
ranking `studio listen` prints. Real recordings from packages (tests/data/sounds, never trained
on) say whether synthesis taught the encoder anything about real sound; the held-out split of
`studio sounds fetch` (packages the real training split does not use) says the same on more files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

Embed = Callable[[list[str]], np.ndarray]
REAL_SOUNDS = Path(__file__).resolve().parents[2] / "tests" / "data" / "sounds"


def listen_labels() -> list[dict]:
    """Each sound kind with display name, canonical prompts and implied scene attributes."""
    from studio.world.sound_captions import kind_prompts
    from studio.world.sounds import SOUND_KINDS

    prompts = kind_prompts()
    return [
        {"name": k.name, "display": k.display, "prompts": prompts[k.name], "attributes": dict(k.attributes)}
        for k in SOUND_KINDS
    ]


def label_centres(labels: Sequence[dict], embed_text: Embed) -> np.ndarray:
    """[K, D] unit centroid of each label's prompt embeddings."""
    centres = np.stack([embed_text(list(label["prompts"])).mean(axis=0) for label in labels])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-8)


def zero_shot_top1(
    sounds: np.ndarray, truths: Sequence[Sequence[str]], labels: Sequence[dict], centres
) -> float:
    """Share of clips whose best-scoring label is one of their true kinds."""
    best = (np.asarray(sounds) @ centres.T).argmax(axis=1)
    hits = [labels[int(b)]["name"] in truth for b, truth in zip(best, truths, strict=True)]
    return float(np.mean(hits)) if hits else 0.0


# Kinds a listener could not tell apart in a real recording count as one (heavy rain is rain).
FAMILIES = ({"rain", "heavy_rain"}, {"thunderstorm", "distant_thunder"}, {"wind", "blizzard"})


def real_recordings(folder: Path = REAL_SOUNDS) -> list[tuple[Path, tuple[str, ...]]]:
    """(file, acceptable kinds) for each `KIND__what.wav` in the folder (see its SOURCES.md)."""
    found = []
    for path in sorted(folder.glob("*__*.wav")):
        kind = path.stem.split("__")[0]
        family = next((f for f in FAMILIES if kind in f), {kind})
        found.append((path, tuple(sorted(family))))
    return found


def sound_metrics(
    embed_sound: Callable[[np.ndarray], np.ndarray],
    embed_text: Embed,
    n: int = 240,
    heldout_dir: Path | None = None,
) -> dict:
    """Zero-shot top-1 on held-out synthesised clips (eval wording, unseen seeds), the real files
    in tests/data/sounds, and the held-out real split (`heldout_dir`, default the fetched set's
    heldout/ folder) when it exists; with that split also the calibrated listen floor
    (studio.eval.listen_floor) against synthesised out-of-world sounds."""
    from studio.audio.io import read_audio
    from studio.audio.real_set import default_dir
    from studio.audio.steady import is_steady_hiss
    from studio.world.sounds import render_clips

    labels = listen_labels()
    centres = label_centres(labels, embed_text)
    clips = render_clips(n, seed=424242, split="eval")
    synthetic = np.stack([embed_sound(c.samples) for c in clips]) @ centres.T
    synthetic_hits = _hits(synthetic, [c.kinds for c in clips], labels)
    metrics = {
        "listen_top1_synthetic_heldout": round(float(synthetic_hits.mean()), 3),
        "listen_chance": round(1 / len(labels), 3),
    }
    real = real_recordings()
    if real:
        sounds = np.stack([embed_sound(read_audio(path).samples) for path, _ in real])
        metrics["listen_top1_real_recordings"] = round(
            zero_shot_top1(sounds, [kinds for _, kinds in real], labels, centres), 3
        )
        metrics["real_recordings"] = len(real)
    found = heldout_recordings(heldout_dir if heldout_dir is not None else default_dir() / "heldout")
    if found:
        clips = [read_audio(path).samples for path, _ in found]  # each file read once
        held = np.stack([embed_sound(clip) for clip in clips]) @ centres.T
        metrics.update(_heldout_summary(held, found, labels))
        real_hiss = np.array([is_steady_hiss(clip) for clip in clips], bool)
        floor = _listen_floor(embed_sound, centres, held, found, labels, real_hiss, synthetic, synthetic_hits)
        if floor:
            metrics["listen_floor"] = floor
    return metrics


def _hits(scores: np.ndarray, truths: Sequence[Sequence[str]], labels: Sequence[dict]) -> np.ndarray:
    """Whether each clip's best-scoring label is one of its true kinds."""
    best = np.asarray(scores).argmax(axis=1)
    return np.array([labels[int(b)]["name"] in truth for b, truth in zip(best, truths, strict=True)], bool)


def _listen_floor(embed_sound, centres, held, found, labels, real_hiss, synthetic, synthetic_hits) -> dict:
    from studio.audio.steady import is_steady_hiss
    from studio.eval.listen_floor import calibrate_floor
    from studio.eval.out_of_world import out_of_world_clips

    out = out_of_world_clips()
    out_scores = np.stack([embed_sound(clip) for _, clip in out]) @ centres.T
    return calibrate_floor(
        held.max(axis=1),
        _hits(held, [kinds for _, kinds in found], labels),
        out_scores.max(axis=1),
        [kind for kind, _ in out],
        synthetic.max(axis=1),
        synthetic_hits,
        real_hiss=real_hiss,
        out_hiss=np.array([is_steady_hiss(clip) for _, clip in out], bool),
    )


def heldout_recordings(folder: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """(file, acceptable kinds) for each `KIND/*.wav` in a held-out split folder (`studio sounds
    fetch` writes OUT/heldout/KIND/PACKAGE__NAME.wav); empty when the folder does not exist."""
    from studio.audio.real_set import folder_clips

    if not Path(folder).is_dir():
        return []
    found = []
    for path, kind in folder_clips(folder):
        family = next((f for f in FAMILIES if kind in f), {kind})
        found.append((path, tuple(sorted(family))))
    return found


def heldout_real_metrics(
    embed_sound: Callable[[np.ndarray], np.ndarray],
    labels: Sequence[dict],
    centres,
    folder: Path | None = None,
) -> dict:
    """Zero-shot top-1 on the held-out real split built by `studio sounds fetch` (packages never
    trained on). Empty when the split has not been fetched."""
    from studio.audio.io import read_audio
    from studio.audio.real_set import default_dir

    found = heldout_recordings(folder if folder is not None else default_dir() / "heldout")
    if not found:
        return {}
    sounds = np.stack([embed_sound(read_audio(path).samples) for path, _ in found])
    return _heldout_summary(sounds @ np.asarray(centres).T, found, labels)


def _heldout_summary(scores: np.ndarray, found: list[tuple[Path, tuple[str, ...]]], labels) -> dict:
    """Top-1 over clips, balanced (the mean of per-kind top-1, as long files give many clips of
    one kind), and right/total per kind (where the encoder mishears real recordings)."""
    hits = _hits(scores, [kinds for _, kinds in found], labels)
    kinds = np.array([path.parent.name for path, _ in found])
    per_kind = {str(k): float(hits[kinds == k].mean()) for k in sorted(set(kinds))}
    return {
        "listen_top1_real_heldout": round(float(hits.mean()), 3),
        "listen_top1_real_heldout_balanced": round(float(np.mean(list(per_kind.values()))), 3),
        "real_heldout_clips": len(found),
        "real_heldout_kinds": len(per_kind),
        "real_heldout_by_kind": {k: f"{hits[kinds == k].sum()}/{(kinds == k).sum()}" for k in per_kind},
    }


# Sounds whose implied scene the attribute judge can see, and what it should see after the edit.
REAL_RENDERS = 256  # eval-split renders for each row's ceiling (about 30 snowy ones)
EDIT_TARGETS = (
    ("heavy_rain", "weather", "rainy"),
    ("thunderstorm", "weather", "stormy"),
    ("blizzard", "weather", "snowy"),
    ("birdsong", "time", "morning"),
    ("owl", "time", "night"),
    ("crackling_fire", "time", "sunset"),
)


def sound_edit_metrics(
    pipe, model: str, judge, n: int = 16, strength: float = 1.0, seed: int = 30_000
) -> dict:
    """Per sound: how often the judge sees the sound's attribute before vs after a sound edit of
    held-out prompts that do not ask for it (each prompt with its own take of the sound, so one
    misheard take does not decide the row), how much of the layout the edit kept (pixel
    agreement of the segmenter's label maps before/after, when a segmenter is installed), and the
    row's ceiling: how often the judge sees the attribute in real renders that have it (it calls
    half of the real snowy renders foggy or overcast)."""
    import torch

    from studio.eval.judge import GROUPS, to_input
    from studio.inference.pipeline import MemoryAssets
    from studio.inference.segmenter import Segmenter
    from studio.world.scene import render_scenes
    from studio.world.sounds import synth

    info = pipe.registry.get(model)
    scenes = render_scenes(4 * n, seed=seed, size=16, split="eval")
    real = render_scenes(REAL_RENDERS, seed=seed + 1, size=64, split="eval")
    with torch.no_grad():
        judged_real = {g: v.argmax(1).numpy() for g, v in judge(to_input(real.images)).items()}
    seg_info = pipe.registry.segmenter_for(info)
    segmenter = Segmenter(pipe.engine, seg_info) if seg_info is not None else None
    per_sound: dict[str, dict] = {}
    for k, (kind, group, target) in enumerate(EDIT_TARGETS):
        captions = [c for c, a in zip(scenes.captions, scenes.attributes, strict=True) if a[group] != target][
            :n
        ]
        layouts = MemoryAssets()  # as the app makes pictures: each prompt with its imagined layout
        base = pipe.imagine_layouts(
            [
                pipe.recipes_for(c, seed=seed + i, count=1, model=model, size=64)[0]
                for i, c in enumerate(captions)
            ],
            layouts.put,
        )
        sounds = [synth(kind, np.random.default_rng((seed + k, i)), seconds=4.0) for i in range(len(base))]
        edited = [pipe.live_sound(r, s, strength) for r, s in zip(base, sounds, strict=True)]  # as Apply does
        before, after = np.stack(pipe.render(base, layouts)), np.stack(pipe.render(edited, layouts))
        with torch.no_grad():
            seen = [judge(to_input(x))[group].argmax(1).numpy() for x in (before, after)]
        wanted = GROUPS[group].index(target)
        row = {
            "attribute": f"{group}={target}",
            "before": round(float((seen[0] == wanted).mean()), 3),
            "after": round(float((seen[1] == wanted).mean()), 3),
        }
        having = [i for i, a in enumerate(real.attributes) if a[group] == target]
        if having:
            row["real_renders"] = round(float((judged_real[group][having] == wanted).mean()), 3)
        if segmenter is not None:
            maps = [np.stack(segmenter.segment(list(x))) for x in (before, after)]
            row["layout_kept"] = round(float((maps[0] == maps[1]).mean()), 3)
        per_sound[kind] = row
    summary = {
        "before": round(float(np.mean([r["before"] for r in per_sound.values()])), 3),
        "after": round(float(np.mean([r["after"] for r in per_sound.values()])), 3),
    }
    if segmenter is not None:
        summary["layout_kept"] = round(float(np.mean([r["layout_kept"] for r in per_sound.values()])), 3)
    return {"strength": strength, "mean": summary, "per_sound": per_sound}

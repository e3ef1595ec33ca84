"""Round trip of `studio sonify`: does `studio listen` name the main sound of a picture's ambience?

Held-out world renders (no recipe: the scene is read from the pixels, as for an imported picture)
→ ambience → 6 s loop → zero-shot listening. Two scores: against the ambience's own dominant
sound (is the mix heard as what it was made of?) and against the dominant sound of the render's
true attributes (reading and mixing together). Per-sound misses say which mixes mask.
"""

from __future__ import annotations

from studio.ambience import features_from_classes as features
from studio.ambience import plan_ambience, render_loop, scene_ambience
from studio.inference.audio_encoder import rank_labels
from studio.scene_reading import SceneReader
from studio.world.scene import render_scenes
from studio.world.sounds import KIND_INDEX, SOUND_KINDS

LOOP_SECONDS = 6.0


def _display(kind: str) -> str:
    return SOUND_KINDS[KIND_INDEX[kind]].display


def sonify_round_trip(pipe, info, n: int = 60, seed: int = 31_337) -> dict:
    scenes = render_scenes(n, seed=seed, size=128, split="eval")
    reader = SceneReader(pipe, info)
    own = truth_hits = 0
    misses: dict[str, int] = {}
    for image, truth in zip(scenes.images, scenes.attributes, strict=True):
        scene = reader.read(image)
        ambience = scene_ambience(scene)
        truth_plan = plan_ambience({g: truth.get(g) for g in scene.attributes}, features(scene.fractions))
        heard = rank_labels(pipe, info, render_loop(ambience, LOOP_SECONDS, seed=seed))[0][0]
        own += heard == _display(ambience.kinds[0])
        truth_hits += heard == _display(truth_plan.kinds[0])
        if heard != _display(ambience.kinds[0]):
            key = f"{ambience.kinds[0]} heard as {heard}"
            misses[key] = misses.get(key, 0) + 1
    return {
        "renders": n,
        "main_sound_heard": round(own / n, 3),
        "true_scene_sound_heard": round(truth_hits / n, 3),
        "misses": dict(sorted(misses.items(), key=lambda kv: -kv[1])),
    }


def format_sonify(row: dict) -> str:
    misses = ", ".join(f"{k} ×{v}" for k, v in list(row["misses"].items())[:4]) or "none"
    return (
        f"sonify round trip ({row['renders']} held-out renders read from the picture): listen names "
        f"the ambience's main sound {row['main_sound_heard']:.2f}, the true scene's "
        f"{row['true_scene_sound_heard']:.2f} (misses: {misses})"
    )

"""Search by meaning and by sound over real nodes (tiny generator, shipped text and sound encoders)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.audio.io import SAMPLE_RATE, wav_bytes
from studio.inference.pipeline import Pipeline
from studio.pngmeta import encode_png
from studio.project.store import Project
from studio.search import NodeIndex, sound_query, text_query
from studio.world.sounds import synth


def _add(project: Project, recipe) -> str:
    return project.add_node(
        kind="generate", recipe=recipe, image_png=encode_png(np.zeros((8, 8, 3), np.uint8), None)
    ).id


def test_text_query_ranks_the_matching_prompt_first(pipeline: Pipeline, project: Project) -> None:
    prompts = [
        "snowy mountain peaks in winter",
        "a sunny sandy beach by the sea",
        "a dark pine forest in the rain",
    ]
    ids = [_add(project, pipeline.recipes_for(p, count=1, size=16)[0]) for p in prompts]
    index = NodeIndex(pipeline)
    for query, expected in zip(("glaciers and snow", "waves on the shore", "wet woodland"), ids, strict=True):
        ranked = index.rank(project.nodes(), text_query(pipeline, query), project.assets)
        assert ranked[0][0] == expected
        assert ranked[0][1] >= ranked[-1][1]


def test_sound_query_finds_the_node_made_with_a_similar_sound(pipeline: Pipeline, project: Project) -> None:
    try:
        pipeline.audio_encoder_for(pipeline.default_generator())
    except Exception as exc:
        pytest.skip(f"no sound encoder: {exc}")
    base = pipeline.recipes_for("a meadow in the afternoon", count=1, size=16)[0]
    rain = project.assets.put(wav_bytes(synth("heavy_rain", np.random.default_rng(0)), SAMPLE_RATE), "wav")
    birds = project.assets.put(wav_bytes(synth("birdsong", np.random.default_rng(0)), SAMPLE_RATE), "wav")
    rainy = _add(project, base.replace(sound=rain, strength=0.9))
    sunny = _add(project, base.replace(sound=birds, strength=0.9))
    _add(project, base.replace(seed=9))
    index = NodeIndex(pipeline)
    query = sound_query(pipeline, synth("rain", np.random.default_rng(5)))
    assert index.rank(project.nodes(), query, project.assets)[0][0] == rainy
    query = sound_query(pipeline, synth("birdsong", np.random.default_rng(5)))
    assert index.rank(project.nodes(), query, project.assets)[0][0] == sunny


def test_imported_pictures_and_bad_vectors_are_skipped(pipeline: Pipeline, project: Project) -> None:
    recipe = pipeline.recipes_for("a lake", count=1, size=16)[0]
    _add(project, recipe.replace(extra={"imported": "photo.jpg"}))
    kept = _add(project, recipe)
    ranked = NodeIndex(pipeline).rank(project.nodes(), text_query(pipeline, "a lake"), project.assets)
    assert [node_id for node_id, _ in ranked] == [kept]

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


def test_with_an_image_encoder_search_reads_what_the_pictures_show(
    models_dir, project: Project, tmp_path
) -> None:
    """All nodes share one prompt, so only their pictures (real renders) can tell snow from sea."""
    from tiny_models import copy_model

    from studio.inference.registry import ModelRegistry
    from studio.paths import shipped_models_dir
    from studio.world.scene import render_scenes

    if not (shipped_models_dir() / "image_encoder.json").is_file():
        pytest.skip("no shipped image encoder")
    copy_model(shipped_models_dir(), "image_encoder", tmp_path / "extra")
    pipe = Pipeline(ModelRegistry([models_dir, tmp_path / "extra"]), device="cpu")
    scenes = render_scenes(200, seed=123, size=64)
    snowy = next(
        i
        for i, a in enumerate(scenes.attributes)
        if "snowy peaks" in a["features"] and a["weather"] in ("snowy", "clear") and a["time"] == "noon"
    )
    others = [
        i
        for i, a in enumerate(scenes.attributes)
        if a["season"] == "summer" and "mountains" not in a["features"] and a["weather"] == "clear"
    ][:4]
    recipe = pipe.recipes_for("a landscape", count=1, size=16)[0]
    ids = {
        i: project.add_node(kind="generate", recipe=recipe, image_png=encode_png(scenes.images[i], None)).id
        for i in [*others, snowy]
    }
    index = NodeIndex(pipe)
    assert index.image_encoder() is not None
    ranked = index.rank(project.nodes(), text_query(pipe, "snowy peaks"), project.assets)
    assert ranked[0][0] == ids[snowy]
    assert len(ranked) == len(ids)
    # Pictures that cannot be read (here: an asset source without them) fall back to conditioning.
    from studio.inference.pipeline import MemoryAssets

    fallback = NodeIndex(pipe).rank(project.nodes(), text_query(pipe, "snowy peaks"), MemoryAssets())
    assert sorted(node_id for node_id, _ in fallback) == sorted(ids.values())
    assert len({round(score, 5) for _, score in fallback}) == 1  # one prompt: one conditioning vector


def test_sunny_beach_ranks_the_blue_sky_beach_above_grey_stormy_seas(project: Project):
    """A newcomer's case, on the shipped models: the small image encoder alone ranks a generated
    grey stormy sea above generated blue-sky beaches for "a sunny beach" (sand and water); what
    the nodes were made to show and the weather the query names must outweigh it."""
    from studio.paths import shipped_models_dir

    if not (shipped_models_dir() / "image_encoder.json").is_file():
        pytest.skip("no shipped image encoder")
    pipe = Pipeline(device="cpu")
    recipes = pipe.recipes_for("a stormy sea", seed=1, count=4, size=128)
    recipes += pipe.recipes_for("a beach under a clear blue sky at noon", seed=1, count=2, size=128)
    recipes = pipe.imagine_layouts(recipes, lambda png: project.assets.put(png, "png"))
    ids = [
        project.add_node(kind="generate", recipe=r, image_png=encode_png(image, None)).id
        for r, image in zip(recipes, pipe.render(recipes, project.assets), strict=True)
    ]
    index = NodeIndex(pipe)
    ranked = index.rank(
        project.nodes(), text_query(pipe, "a sunny beach"), project.assets, words="a sunny beach"
    )
    assert {node_id for node_id, _ in ranked[:2]} == set(ids[4:])

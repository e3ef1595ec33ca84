"""`edge_fill` in a generator's manifest: the app replaces that many border pixels of the
generator's output by the mirror of the interior (a zero-padded generator draws a frame of lines
along its edges). The interior is the generator's own picture, untouched; bad values are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")  # the tiny generator is exported with torch

from tiny_models import build_generator, build_models_dir, model_variant  # noqa: E402

from studio.inference.manifest import ModelError, parse_manifest  # noqa: E402
from studio.inference.pipeline import Pipeline, mirror_edges  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = build_models_dir(tmp_path_factory.mktemp("edge-models"))
    build_generator(folder, name="tiny-plain", version="1.0", upscaler=None)
    model_variant(folder, "tiny-plain", "tiny-framed", edge_fill=1)
    return folder


def test_the_border_is_the_mirror_of_the_interior_and_the_interior_is_untouched(models) -> None:
    pipe = Pipeline(ModelRegistry([models]), device="cpu")
    info = pipe.registry.get("tiny-framed")
    assert info.edge_fill == 1 and pipe.registry.get("tiny-plain").edge_fill == 0
    (recipe,) = pipe.recipes_for("a lake at dusk", seed=5, count=1, model="tiny-plain", size=info.resolution)
    plain, framed = pipe.render([recipe, recipe.replace(model="tiny-framed")])
    assert np.array_equal(plain[1:-1, 1:-1], framed[1:-1, 1:-1])
    assert np.array_equal(framed[0], framed[2]) and np.array_equal(framed[:, -1], framed[:, -3])
    assert not np.array_equal(plain, framed)


def test_mirror_edges_keeps_shape_and_zero_is_the_identity() -> None:
    x = np.arange(2 * 3 * 8 * 8, dtype=np.float32).reshape(2, 3, 8, 8)
    assert mirror_edges(x, 0) is x
    y = mirror_edges(x, 2)
    assert y.shape == x.shape and np.array_equal(y[:, :, 2:-2, 2:-2], x[:, :, 2:-2, 2:-2])
    assert np.array_equal(y[:, :, :, 0], y[:, :, :, 4]) and np.array_equal(y[:, :, 1], y[:, :, 3])


@pytest.mark.parametrize("bad", [-1, 2, 1.5, True, "1"])
def test_an_edge_fill_that_is_not_a_small_whole_number_is_refused(models, bad) -> None:
    path = models / "tiny-framed.json"
    with pytest.raises(ModelError, match="edge_fill"):
        parse_manifest(path, {**json.loads(path.read_text()), "edge_fill": bad})

"""Fuzzing the inputs that come from outside: recipe JSON, model manifests, PNG chunks, project zips.

Each reader may refuse its input only with its own error type and a message; anything it accepts
must survive a round trip unchanged.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from studio.inference.manifest import ModelError, parse_manifest, read_manifest
from studio.pngmeta import KEYWORD, encode_png, read_recipe
from studio.project.archive import ArchiveError, export_project_zip, import_project_zip
from studio.project.store import Project
from studio.recipe import MAX_PROMPT_CHARS, Recipe, RecipeError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=15,
)

VALID_RECIPE = Recipe(
    model="tiny-gen",
    model_version="1.0",
    seed=7,
    prompt="a misty lake 🌄 at dawn",
    size=64,
    latent=(0.5, -1.25, 3.0),
    sketch="ab" * 32,
    sound="cd" * 32,
    strength=0.25,
    extra={"text_embedding": [0.1, 0.2], "note": "kept"},
).to_dict()


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """`value` with one change somewhere inside: a value replaced, a key dropped or added."""
    if isinstance(value, dict) and value and depth < 4 and draw(st.integers(0, 4)):
        value = dict(value)
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["recurse", "recurse", "replace", "delete", "add"]))
        if action == "recurse":
            value[key] = draw(mutated(value[key], depth + 1))
        elif action == "replace":
            value[key] = draw(json_values)
        elif action == "delete":
            del value[key]
        else:
            value[draw(text)] = draw(json_values)
        return value
    if isinstance(value, list) and value and depth < 4 and draw(st.integers(0, 3)):
        value = list(value)
        index = draw(st.integers(0, len(value) - 1))
        if draw(st.booleans()):
            value[index] = draw(mutated(value[index], depth + 1))
        else:
            del value[index]
        return value
    return draw(json_values)


@st.composite
def mutated_n(draw: st.DrawFn, value: Any) -> Any:
    for _ in range(draw(st.integers(1, 3))):
        value = draw(mutated(value))
    return value


def assert_round_trip(recipe: Recipe) -> None:
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe
    assert again.to_json() == recipe.to_json()
    json.loads(recipe.to_json(), parse_constant=_no_constants)  # strict JSON: no NaN or Infinity


def _no_constants(name: str) -> None:
    raise AssertionError(f"recipe JSON contains {name}, which is not JSON")


# ---------------------------------------------------------------- recipes
def load_recipe(text_or_bytes: str | bytes) -> Recipe | None:
    try:
        return Recipe.from_json(text_or_bytes)
    except RecipeError as exc:
        assert str(exc)
        return None


@FUZZ
@given(json_values)
def test_recipe_from_arbitrary_json(value: Any) -> None:
    recipe = load_recipe(json.dumps(value))
    if recipe is not None:
        assert_round_trip(recipe)


@FUZZ
@given(mutated_n(VALID_RECIPE))
def test_recipe_from_mutated_valid_recipes(value: Any) -> None:
    recipe = load_recipe(json.dumps(value))
    if recipe is not None:
        assert_round_trip(recipe)


@FUZZ
@given(st.binary(max_size=200) | text)
def test_recipe_from_arbitrary_text(data: str | bytes) -> None:
    load_recipe(data)


@FUZZ
@given(st.text(alphabet="ab \t\n\x00\u3000", min_size=MAX_PROMPT_CHARS - 5, max_size=MAX_PROMPT_CHARS + 5))
def test_long_prompts_round_trip(prompt: str) -> None:
    """Prompts are cut at the limit; the cut must not leave something a reload would change."""
    recipe = Recipe(model="m", model_version="1", seed=1, prompt=prompt)
    assert len(recipe.prompt) <= MAX_PROMPT_CHARS
    assert_round_trip(recipe)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"model": ' * 50_000])
def test_deeply_nested_recipe_json_is_a_recipe_error(text: str) -> None:
    with pytest.raises(RecipeError):
        Recipe.from_json(text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1.0, float("-inf")], {"x": float("nan")}])
def test_non_finite_numbers_in_extra_are_refused(bad: Any) -> None:
    """NaN would be written as non-standard JSON and never compare equal after a reload."""
    with pytest.raises(RecipeError, match="extra"):
        Recipe(model="m", model_version="1", seed=1, extra={"value": bad})
    with pytest.raises(RecipeError):
        Recipe.from_json(json.dumps({"model": "m", "model_version": "1", "seed": 1, "extra": {"v": bad}}))


# ---------------------------------------------------------------- model manifests
@pytest.fixture(scope="module")
def manifests(models_dir: Path) -> dict[str, dict[str, Any]]:
    return {p.name: read_manifest(p) for p in sorted(models_dir.glob("*.json")) if "tokenizer" not in p.name}


def parse_or_error(path: Path, data: Any) -> None:
    try:
        info = parse_manifest(path, data)
    except ModelError as exc:
        assert path.name in str(exc)
        return
    assert info.name and info.kind


@FUZZ
@given(
    st.dictionaries(text, json_values, max_size=8)
    | st.fixed_dictionaries(
        {},
        optional={
            k: json_values
            for k in (
                "name",
                "version",
                "kind",
                "sha256",
                "inputs",
                "outputs",
                "embedding_space",
                "resolution",
                "z_dim",
                "label_classes",
                "tokenizer",
                "scale",
                "license",
            )
        },
    )
)
def test_manifest_from_arbitrary_dicts(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any]
) -> None:
    parse_or_error(Path("/nowhere/fuzz.json"), data)


@SLOW_FUZZ
@given(data=st.data())
def test_manifest_from_mutated_valid_manifests(
    models_dir: Path, manifests: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(manifests)))
    parse_manifest(models_dir / name, manifests[name])  # the unmutated one is valid
    value = data.draw(mutated_n(copy.deepcopy(manifests[name])))
    if isinstance(value, dict):
        parse_or_error(models_dir / name, value)


@SLOW_FUZZ
@given(st.binary(max_size=300) | text.map(str.encode))
def test_manifest_files_with_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    try:
        parse_manifest(path, read_manifest(path))
    except ModelError as exc:
        assert "fuzz.json" in str(exc)


def test_deeply_nested_manifest_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(ModelError, match="deep.json"):
        read_manifest(path)


# ---------------------------------------------------------------- PNG text chunks
PIXELS = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
GOOD_PNG = encode_png(PIXELS, Recipe.from_dict(VALID_RECIPE))


def read_or_error(data: bytes) -> Recipe | None:
    try:
        recipe = read_recipe(data)
    except RecipeError as exc:
        assert str(exc)
        return None
    assert_round_trip(recipe)
    return recipe


def png_with_text(chunk_text: str, how: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    if how == "itxt":
        info.add_itxt(KEYWORD, chunk_text, zip=False)
    elif how == "itxt-zip":
        info.add_itxt(KEYWORD, chunk_text, zip=True)
    else:
        info.add_text(KEYWORD, chunk_text.encode("latin-1", "replace").decode("latin-1"), zip=how == "ztxt")
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


@FUZZ
@given(st.binary(max_size=400) | st.binary(max_size=400).map(lambda b: GOOD_PNG[:8] + b))
def test_png_reader_on_arbitrary_bytes(data: bytes) -> None:
    read_or_error(data)


@FUZZ
@given(
    st.one_of(text, json_values.map(json.dumps), mutated_n(VALID_RECIPE).map(json.dumps)),
    st.sampled_from(["itxt", "itxt-zip", "text", "ztxt"]),
)
def test_png_with_fuzzed_recipe_chunk(chunk_text: str, how: str) -> None:
    read_or_error(png_with_text(chunk_text, how))


@FUZZ
@given(st.integers(0, len(GOOD_PNG) - 1))
def test_truncated_png(cut: int) -> None:
    """Cut anywhere: an error, or (when only the end marker is lost) the whole recipe."""
    assert read_or_error(GOOD_PNG[:cut]) in (None, Recipe.from_dict(VALID_RECIPE))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD_PNG) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_png_with_flipped_bytes(flips: list[tuple[int, int]]) -> None:
    data = bytearray(GOOD_PNG)
    for pos, value in flips:
        data[pos] = value
    read_or_error(bytes(data))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("side", [30_000, 100_000])
def test_png_claiming_huge_dimensions_is_a_recipe_error(side: int) -> None:
    """A decompression-bomb header must give a RecipeError, not Pillow's own exception."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = (
        GOOD_PNG[:8]
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )
    with pytest.raises(RecipeError):
        read_recipe(data)


# ---------------------------------------------------------------- project zips
@pytest.fixture(scope="module")
def project_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-zip")
    with Project.open(base / "p") as project:
        parent: list[str] = []
        for seed in range(3):
            recipe = Recipe(model="tiny-gen", model_version="1.0", seed=seed, prompt=f"lake {seed}")
            node = project.add_node("generate", recipe, encode_png(PIXELS + seed, recipe), parents=parent)
            parent = [node.id]
        project.set_note(parent[0], "a note")
        return export_project_zip(project, base / "p.zip")


def import_or_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        zip_path = Path(scratch) / "in.zip"
        zip_path.write_bytes(data)
        target = Path(scratch) / "target"
        try:
            project = import_project_zip(zip_path, target)
        except ArchiveError as exc:
            assert str(exc)
            assert not target.exists()
            assert [p.name for p in Path(scratch).iterdir()] == ["in.zip"]  # nothing half-imported
            return
        with project:
            for node in project.nodes():
                assert node.recipe.model == "tiny-gen"
        shutil.rmtree(target)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@SLOW_FUZZ
@given(st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b))
def test_zip_import_on_random_bytes(data: bytes) -> None:
    import_or_error(data)


@SLOW_FUZZ
@given(data=st.data())
def test_zip_import_on_flipped_bytes(project_zip: Path, data: st.DataObject) -> None:
    raw = bytearray(project_zip.read_bytes())
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    import_or_error(bytes(raw[:cut]))


@SLOW_FUZZ
@given(data=st.data())
def test_zip_import_on_mutated_members(project_zip: Path, data: st.DataObject) -> None:
    with zipfile.ZipFile(project_zip) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(members)))
        action = data.draw(st.sampled_from(["drop", "garble", "truncate", "rename", "json"]))
        if action == "drop":
            del members[name]
        elif action == "garble":
            members[name] = data.draw(st.binary(max_size=200))
        elif action == "truncate":
            members[name] = members[name][: data.draw(st.integers(0, len(members[name])))]
        elif action == "rename":
            members[
                data.draw(
                    text.filter(bool) | st.sampled_from(["../x", "/abs", "C:\\x", "nodes/", "assets/zz/q"])
                )
            ] = members.pop(name)
        elif name.endswith(".json") and _is_json(members[name]):
            members[name] = json.dumps(data.draw(mutated_n(json.loads(members[name])))).encode()
        if not members:
            break
    import_or_error(rezip(members))


def test_unknown_keys_beside_a_bad_extra_are_a_recipe_error() -> None:
    with pytest.raises(RecipeError, match="extra"):
        Recipe.from_dict({"model": "m", "model_version": "1", "seed": 1, "extra": 1, "future_key": 2})

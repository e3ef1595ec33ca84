"""Hostile input must end in a clear message, never in a machine out of memory or a traceback.

Each case runs the real `studio` command on the shipped models in a subprocess whose address space
is capped with RLIMIT_AS a little above what the interpreter itself maps, so a regression that
decodes, allocates or reads too much fails with MemoryError instead of taking the machine down.
The files are real: a 12000x12000 PNG of a few hundred KB, WAVs whose headers lie (sparse files,
no disk used), an ONNX model with external weights, a project with a damaged timestamp.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.paths import REPO_ROOT

SHIPPED = REPO_ROOT / "exported_models"
LIMIT_TEXT = "the limit on this machine is"
GiB = 1 << 30

# Sets the cap after the heavy imports, so it bounds the job and not the interpreter's own size.
_CAPPED_MAIN = """
import resource, sys
import numpy, onnxruntime, PIL.Image
from studio.cli import main
used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
cap = used + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
sys.exit(main(sys.argv[2:]))
"""

Runner = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's"
)


@pytest.fixture
def studio(tmp_path: Path) -> Runner:
    """`studio ARGS…` on the shipped models, with `headroom` bytes of address space for the job."""
    env = {
        **os.environ,
        "SYNESTHESIA_MODELS": str(SHIPPED),
        "SYNESTHESIA_HOME": str(tmp_path / "home"),
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB of address space per arena otherwise
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }

    def run(*args: str | Path, headroom: int = 2 * GiB) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", _CAPPED_MAIN, str(headroom), *map(str, args)]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    return run


def assert_clean_error(result: subprocess.CompletedProcess[str], *texts: str) -> str:
    """Exit 2 with one `studio: error:` line (no traceback, not "unexpected") holding every text."""
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("studio:")]
    assert len(errors) == 1 and errors[0].startswith("studio: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in texts:
        assert text in errors[0], errors[0]
    return errors[0]


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def write_png_rows(
    path: Path, width: int, height: int, row: Callable[[int], bytes], colour_type: int = 2
) -> None:
    """A PNG written a row at a time (no full-size array here either): RGB rows by default."""
    compressor = zlib.compressobj(6)
    with path.open("wb") as out:
        out.write(
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
        )
        pending = bytearray()
        for y in range(height):
            pending += compressor.compress(b"\x00" + row(y))
            if len(pending) > 1 << 20:
                out.write(_chunk(b"IDAT", bytes(pending)))
                pending.clear()
        out.write(_chunk(b"IDAT", bytes(pending + compressor.flush())) + _chunk(b"IEND", b""))


def write_lying_wav(path: Path, rate: int, channels: int, size: int) -> None:
    """A 16-bit PCM WAV whose header claims `rate` and whose (sparse, silent) data makes it `size` bytes."""
    data = min(size - 44, 0xFFFFFFFF - 36)
    header = (
        b"RIFF"
        + struct.pack("<I", data + 36)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
    )
    with path.open("wb") as out:
        out.write(header + b"data" + struct.pack("<I", data))
        out.truncate(size)


def class_colours() -> dict[str, tuple[int, int, int]]:
    manifest = json.loads((SHIPPED / "landscape128.json").read_text())
    return {c["name"]: tuple(c["color"]) for c in manifest["label_classes"]}


# ---------------------------------------------------------------- memory
def test_huge_sketch_is_downscaled_before_its_colours_are_mapped(studio: Runner, tmp_path: Path) -> None:
    colours = class_colours()
    sky, water = bytes(colours["sky"]) * 12000, bytes(colours["water"]) * 12000
    write_png_rows(tmp_path / "huge.png", 12000, 12000, lambda y: sky if y < 6000 else water)
    assert (tmp_path / "huge.png").stat().st_size < 2_000_000
    result = studio(
        "generate", "a lake", "--sketch", "huge.png", "--size", "128", "-o", "out.png", "--device", "cpu"
    )
    assert result.returncode == 0, result.stderr
    assert "12000x12000 px; resized to 128x128" in result.stderr
    assert Image.open(tmp_path / "out.png").size == (128, 128)


def test_sketch_beyond_the_memory_limit_is_refused_naming_it(studio: Runner, tmp_path: Path) -> None:
    row = bytes(class_colours()["sky"]) * 12000
    write_png_rows(tmp_path / "huge.png", 12000, 12000, lambda y: row)
    result = studio(
        "generate", "a lake", "--sketch", "huge.png", "-o", "out.png", "--device", "cpu", headroom=GiB
    )
    assert_clean_error(result, "the sketch (12000x12000 px)", LIMIT_TEXT)


def test_many_huge_images_are_refused_before_rendering(studio: Runner) -> None:
    result = studio(
        "generate", "a lake", "--count", "256", "--size", "4096", "-o", "out.png", "--device", "cpu"
    )
    assert_clean_error(result, "256 image(s) of up to 4096 px", LIMIT_TEXT)


def test_wav_claiming_megahertz_rate_is_refused(studio: Runner, tmp_path: Path) -> None:
    write_lying_wav(tmp_path / "fast.wav", rate=4_000_000, channels=1, size=2 * GiB)
    assert_clean_error(studio("listen", "fast.wav", "--device", "cpu"), "4000000 Hz", "384000 Hz")
    result = studio("generate", "a lake", "--sound", "fast.wav", "-o", "out.png", "--device", "cpu")
    assert_clean_error(result, "4000000 Hz")


def test_six_gigabyte_wav_is_read_only_up_to_the_cut(studio: Runner, tmp_path: Path) -> None:
    write_lying_wav(tmp_path / "long.wav", rate=48000, channels=2, size=6 * GiB)
    made = studio(
        "generate", "a lake", "--sound", "long.wav", "--size", "64", "-o", "out.png", "--device", "cpu"
    )
    assert made.returncode == 0, made.stderr
    assert "cut to its first 60 s" in made.stderr
    heard = studio("listen", "long.wav", "--top", "1", "--device", "cpu")
    assert heard.returncode == 0 and "cut to its first 60 s" in heard.stderr, heard.stderr


def test_huge_gif_animation_is_refused_before_rendering(studio: Runner, tmp_path: Path) -> None:
    from studio.audio.io import write_wav

    write_wav(tmp_path / "s.wav", np.zeros(16000 * 10, np.float32), 16000)
    result = studio(
        "animate",
        "a lake",
        "--sound",
        "s.wav",
        "--size",
        "4096",
        "--fps",
        "60",
        "-o",
        "a.gif",
        "--device",
        "cpu",
    )
    assert_clean_error(result, "a GIF of 600 frames of 4096 px", LIMIT_TEXT)


def test_animation_frames_stream_to_the_writer(tmp_path: Path) -> None:
    """The MP4 writer takes each batch before the next is rendered: never every frame at once."""
    from studio.inference.animation import animation_frames, write_animation
    from studio.inference.pipeline import Pipeline
    from studio.inference.registry import ModelRegistry

    pipe = Pipeline(ModelRegistry([SHIPPED]), device="cpu")
    recipe = pipe.recipes_for("a lake under mountains", seed=3, count=1, size=32)[0]
    samples = np.sin(np.arange(16000 * 4) / 16000 * 2 * np.pi * 220).astype(np.float32) * 0.3
    written = 0
    taken_at_render: list[tuple[int, int]] = []  # (frames rendered, frames the writer had taken)

    def progress(done: int, total: int) -> bool:
        taken_at_render.append((done, written))
        return True

    def counted(frames):
        nonlocal written
        for frame in frames:
            written += 1
            yield frame

    frames = animation_frames(pipe, recipe, samples, fps=8.0, progress=progress)
    assert taken_at_render == []  # nothing is rendered before the writer asks
    write_animation(counted(frames), tmp_path / "a.mp4", 8.0)
    assert taken_at_render == [(16, 0), (32, 16)]  # batch 1 was written before batch 2 was rendered
    assert written == 32 and (tmp_path / "a.mp4").stat().st_size > 0


# ---------------------------------------------------------------- models
def _upscaler_copy(folder: Path, **changes: object) -> Path:
    """landscape_sr128 (a model with no partners) copied into `folder`, its manifest changed."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((SHIPPED / "landscape_sr128.json").read_text())
    manifest.pop("fp16", None)
    manifest.update(changes)
    (folder / "landscape_sr128.onnx").write_bytes((SHIPPED / "landscape_sr128.onnx").read_bytes())
    (folder / "landscape_sr128.json").write_text(json.dumps(manifest))
    return folder / "landscape_sr128.json"


def test_manifest_with_a_5000_digit_version_only_disables_itself(studio: Runner, tmp_path: Path) -> None:
    _upscaler_copy(tmp_path / "home" / "models", version="1" + "0" * 5000)
    listed = studio("models", "--device", "cpu")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "5001 characters" in line)
    assert len(row) < 400 and "problem" in row
    assert any(
        line.startswith("landscape128 ") and line.endswith(" ok") for line in listed.stdout.splitlines()
    )
    made = studio("generate", "a lake", "--size", "64", "-o", "out.png", "--device", "cpu")
    assert made.returncode == 0, made.stderr


def test_external_weights_must_be_listed_with_their_hash(tmp_path: Path) -> None:
    import onnx

    from studio.hashing import sha256_file
    from studio.inference.engine import Engine
    from studio.inference.registry import ModelRegistry

    folder = tmp_path / "models"
    manifest = _upscaler_copy(folder)
    model = onnx.load(str(folder / "landscape_sr128.onnx"))
    onnx.save_model(
        model,
        str(folder / "landscape_sr128.onnx"),
        save_as_external_data=True,
        location="sr.weights",
        size_threshold=0,
    )
    data = json.loads(manifest.read_text())
    data["sha256"] = sha256_file(folder / "landscape_sr128.onnx")
    manifest.write_text(json.dumps(data))

    unlisted = ModelRegistry([folder])
    assert unlisted.models() == []
    assert "keeps weights in 'sr.weights'" in unlisted.problems[0].message

    data["external_data"] = [{"file": "sr.weights", "sha256": sha256_file(folder / "sr.weights")}]
    manifest.write_text(json.dumps(data))
    (info,) = ModelRegistry([folder]).models()
    out = Engine("cpu").run(info.path, {"image": np.zeros((1, 3, 128, 128), np.float32)})
    assert out[info.image_output].shape == (1, 3, 256, 256)

    weights = bytearray((folder / "sr.weights").read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (folder / "sr.weights").write_bytes(bytes(weights))
    damaged = ModelRegistry([folder])
    assert damaged.models() == [] and "sr.weights: sha256 differs" in damaged.problems[0].message


# ---------------------------------------------------------------- history
def test_node_from_the_far_future_neither_stops_history_nor_the_order(studio: Runner, tmp_path: Path) -> None:
    from studio.pngmeta import encode_png
    from studio.project.store import Project
    from studio.recipe import Recipe

    def add(prompt: str) -> str:
        project = Project.open(tmp_path / "proj")
        try:
            recipe = Recipe(model="landscape128", model_version="1", seed=1, prompt=prompt, size=16)
            return project.add_node(
                kind="generate", recipe=recipe, image_png=encode_png(np.zeros((16, 16, 3), np.uint8))
            ).id
        finally:
            project.close()

    damaged = add("from the far future")
    with sqlite3.connect(tmp_path / "proj" / "project.sqlite") as db:
        db.execute("UPDATE nodes SET created = 1e20 WHERE id = ?", (damaged,))
    journal = tmp_path / "proj" / "nodes" / f"{damaged}.json"
    journal.write_text(journal.read_text().replace('"created": ', '"created": 1e20, "was": ', 1))
    later = add("made after it")

    table = studio("history", "proj")
    assert table.returncode == 0, table.stderr
    assert [line.split()[0] for line in table.stdout.splitlines()] == [damaged, later]
    nodes = json.loads(studio("history", "proj", "--json").stdout)
    assert [n["id"] for n in nodes] == [damaged, later]
    assert nodes[0]["created"] < nodes[1]["created"] < 1e11


# ---------------------------------------------------------------- sketches and seeds
def test_palette_sketch_is_read_by_colour_and_off_palette_maps_to_nearest(
    studio: Runner, tmp_path: Path
) -> None:
    from studio.inference.pipeline import sketch_indices
    from studio.inference.registry import ModelRegistry
    from studio.project.store import Project

    colours = class_colours()
    palette = [*colours["water"], *colours["sky"], 250, 10, 10]  # water first: index order is not class order
    index = np.zeros((64, 64), np.uint8)
    index[:32] = 1  # sky over water
    index[:8, :8] = 2  # a red no class has: the nearest class, with a warning
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette)
    image.save(tmp_path / "palette.png")

    result = studio(
        "generate",
        "a lake",
        "--sketch",
        "palette.png",
        "--size",
        "128",
        "--project",
        "proj",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"outside landscape128\S*'s palette", result.stderr), result.stderr  # the default
    project = Project.open(tmp_path / "proj", create=False, readonly=True)
    try:
        (node,) = project.nodes()
        sketch = project.assets.get(node.recipe.sketch)
    finally:
        project.close()
    info = ModelRegistry([SHIPPED]).get("landscape128")
    names = [c.name for c in info.label_classes]
    mapped = sketch_indices(sketch, info)
    assert names[mapped[40, 64]] == "sky" and names[mapped[100, 64]] == "water"
    assert names[mapped[0, 0]] == "flower"  # (250, 10, 10) lies nearest flower's (232, 70, 180)


def test_grey_drawing_is_read_by_colour_and_an_index_sketch_by_value() -> None:
    """An L-mode picture whose values are class indices is the app's own sketch; a grey drawing
    (values beyond the class count) is mapped by colour like any picture, not refused."""
    from io import BytesIO

    from studio.inference.pipeline import PipelineError, read_sketch
    from studio.inference.registry import ModelRegistry

    info = ModelRegistry([SHIPPED]).get("landscape128")
    names = [c.name for c in info.label_classes]

    def png(array: np.ndarray) -> bytes:
        out = BytesIO()
        Image.fromarray(array, mode="L").save(out, format="PNG")
        return out.getvalue()

    index = np.full((128, 128), names.index("water"), np.uint8)
    index[:64] = names.index("sky")
    as_index = read_sketch(png(index), info)
    assert as_index.off_palette is None and names[as_index.indices[10, 10]] == "sky"

    grey = np.full((128, 128), 250, np.uint8)  # a white page with a black lower half
    grey[64:] = 5 + 40
    with pytest.raises(PipelineError, match="class index 250"):  # a project's own asset: damage
        read_sketch(png(grey), info)
    drawing = read_sketch(png(grey), info, drawing=True)
    assert drawing.off_palette is not None
    assert set(drawing.indices.flatten()) <= set(range(len(names)))
    assert drawing.indices[10, 10] != drawing.indices[100, 10]


@pytest.mark.parametrize(("seed", "count"), [(str(2**64), 1), (str(2**63 - 1), 2), (str(-(2**63) - 1), 1)])
def test_out_of_range_seeds_are_refused_not_wrapped(studio: Runner, seed: str, count: int) -> None:
    result = studio(
        "generate", "a lake", "--seed", seed, "--count", str(count), "--size", "16", "--device", "cpu"
    )
    assert_clean_error(result, "out of range", str(2**63 - 1))


def test_recipe_with_out_of_range_seed_is_refused() -> None:
    from studio.recipe import Recipe, RecipeError

    with pytest.raises(RecipeError, match="out of range"):
        Recipe.from_dict({"model": "m", "model_version": "1", "seed": 2**64})


# ---------------------------------------------------------------- clear messages
def test_decompression_bomb_and_bad_mask_get_clear_messages(studio: Runner, tmp_path: Path) -> None:
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IEND", b""))
    result = studio("generate", "a lake", "--sketch", "bomb.png", "-o", "out.png", "--device", "cpu")
    assert_clean_error(result, "decompression bomb")

    Image.new("RGB", (64, 64)).save(tmp_path / "base.png")
    (tmp_path / "mask.png").write_bytes(b"not a picture")
    result = studio(
        "generate", "a lake", "--mask", "mask.png", "--base", "base.png", "-o", "out.png", "--device", "cpu"
    )
    assert_clean_error(result, "the mask is not a readable image")

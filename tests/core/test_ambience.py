"""Hear the picture: ambience plans, seamless loops, streamed files, and `studio sonify` end to end
on the shipped encoders (the picture read by the image encoder and segmenter, the result heard by
the sound encoder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.ambience import (
    AmbienceError,
    features_from_classes,
    loop_period,
    plan_ambience,
    render_loop,
    write_ambience,
)
from studio.inference.audio_encoder import rank_labels
from studio.inference.pipeline import Pipeline
from studio.inference.registry import ModelRegistry
from studio.paths import REPO_ROOT
from studio.pngmeta import encode_png
from studio.recipe import Recipe
from studio.world.scene import render_scenes

SHIPPED = REPO_ROOT / "exported_models"


def _plan(**attrs: str) -> tuple[str, ...]:
    return plan_ambience({g: attrs.get(g) for g in ("time", "weather", "season")}, {}).kinds


def test_plans_follow_what_a_listener_expects() -> None:
    assert _plan(weather="rainy", time="night")[0] == "rain"  # creatures fall silent in the rain
    assert "crickets" not in _plan(weather="stormy", time="night")
    assert _plan(time="night", season="summer")[0] == "crickets"
    assert _plan(time="night", season="winter")[0] == "owl"
    assert _plan(time="morning")[0] == "birdsong"
    assert _plan(weather="snowy")[0] == "blizzard"
    assert _plan() == ("wind",)
    sea = features_from_classes({"water": 0.3, "sand": 0.1, "sky": 0.6})
    beach = plan_ambience({"time": "noon", "weather": "clear"}, sea)
    assert beach.kinds[:2] == ("ocean_waves", "seagulls") and beach.gains_db[0] == 0.0
    assert "water 30% by sand 10%" in beach.describe()
    assert "river" in features_from_classes({"water": 0.2}) and not features_from_classes({"water": 0.01})


def test_loop_has_no_seam_and_lengths_divide_exactly() -> None:
    ambience = plan_ambience({"weather": "rainy", "time": "morning"}, {"river": "water 20%"})
    loop = render_loop(ambience, 4.0, seed=3)
    assert loop.dtype == np.float32 and len(loop) == 4 * 16000 and np.abs(loop).max() <= 0.8 + 1e-6
    inside = np.abs(np.diff(loop)).max()
    seam = abs(float(loop[0]) - float(loop[-1]))
    assert seam <= inside  # the end runs on into the start like any two neighbouring samples
    assert np.array_equal(loop, render_loop(ambience, 4.0, seed=3))
    assert not np.array_equal(loop, render_loop(ambience, 4.0, seed=4))
    assert loop_period(45.0) == 15.0 and loop_period(7.0) == 7.0
    with pytest.raises(AmbienceError, match="1-20 s"):
        render_loop(ambience, 0.2)


def test_files_are_streamed_in_periods_and_bad_requests_refused(tmp_path: Path) -> None:
    ambience = plan_ambience({"time": "night"}, {})
    write_ambience(tmp_path / "a.flac", ambience, 42.0, seed=1)
    info = soundfile.info(tmp_path / "a.flac")
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 1)
    assert info.frames == 42 * 16000
    samples, _ = soundfile.read(tmp_path / "a.flac", dtype="float32")
    period = int(14.0 * 16000)
    assert np.allclose(samples[:period], samples[period : 2 * period], atol=1e-4)  # the loop repeats
    with pytest.raises(AmbienceError, match=r"\.wav or \.flac"):
        write_ambience(tmp_path / "a.mp3", ambience, 5.0)
    with pytest.raises(AmbienceError, match="1-3600 seconds"):
        write_ambience(tmp_path / "b.wav", ambience, 1e9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac"]  # nothing half-written left


def test_writing_reports_each_period_and_stops_when_told(tmp_path: Path) -> None:
    """The app's export shows progress and can be cancelled: a stopped write leaves no file."""
    ambience = plan_ambience({"weather": "rainy"}, {})
    told: list[tuple[int, int]] = []

    def until(stop: int):
        def progress(done: int, total: int) -> bool:
            told.append((done, total))
            return done < stop

        return progress

    assert write_ambience(tmp_path / "a.wav", ambience, 6.0, progress=until(99))
    assert told == [(1, 1)] and soundfile.info(tmp_path / "a.wav").frames == 6 * 16000
    told.clear()
    assert not write_ambience(tmp_path / "b.wav", ambience, 45.0, progress=until(1))
    assert told == [(1, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


@pytest.fixture(scope="module")
def shipped() -> Pipeline:
    pipe = Pipeline(ModelRegistry([SHIPPED]), device="cpu")
    kinds = {m.kind for m in pipe.registry.models()}
    if not {"image_encoder", "segmenter", "audio_encoder"} <= kinds:
        pytest.skip("the shipped encoders are not exported")
    return pipe


def _studio(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *map(str, args)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"SYNESTHESIA_MODELS": str(SHIPPED), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


def test_sonify_hears_a_studio_picture_by_its_recipe(shipped: Pipeline, tmp_path: Path) -> None:
    scene = render_scenes(1, seed=5, size=128).images[0]
    recipe = Recipe(
        model="landscape128", model_version="1", seed=1, prompt="a meadow in heavy rain", size=128
    )
    (tmp_path / "rain.png").write_bytes(encode_png(scene, recipe))
    result = _studio(tmp_path, "sonify", tmp_path / "rain.png", "-o", "rain.wav", "--seconds", "6")
    assert result.returncode == 0, result.stderr
    assert "weather rainy (prompt)" in result.stdout and "sounds: Rain (weather rainy)" in result.stdout
    samples, rate = soundfile.read(tmp_path / "rain.wav", dtype="float32")
    assert rate == 16000 and len(samples) == 6 * 16000
    info = shipped.default_generator()
    # the round trip holds: the listener names rain (the picture asks for heavy rain, and a listener
    # cannot tell the two apart, as studio.eval.sound.FAMILIES counts them)
    assert rank_labels(shipped, info, samples)[0][0] in ("Rain", "Heavy rain")


def test_sonify_reads_a_picture_without_recipe(shipped: Pipeline, tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(render_scenes(1, seed=9, size=128).images[0]).save(tmp_path / "photo.jpg")
    result = _studio(tmp_path, "sonify", tmp_path / "photo.jpg", "-o", "photo.flac", "--seconds", "3")
    assert result.returncode == 0, result.stderr
    assert "(picture)" in result.stdout and "loops seamlessly" in result.stdout
    assert soundfile.info(tmp_path / "photo.flac").frames == 3 * 16000
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    broken = _studio(tmp_path, "sonify", tmp_path / "broken.png")
    assert broken.returncode == 2 and "Traceback" not in broken.stderr and "broken.png" in broken.stderr


def test_sonify_reads_odd_pictures_as_describe_does(shipped: Pipeline, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    dot = _studio(tmp_path, "sonify", tmp_path / "dot.png")
    assert dot.returncode == 2 and "Traceback" not in dot.stderr
    assert "dot.png is 1x1 px; hearing needs at least 8x8 px" in dot.stderr
    frames = [Image.fromarray(render_scenes(1, seed=s, size=64).images[0]) for s in (3, 4)]
    frames[0].save(tmp_path / "loop.gif", save_all=True, append_images=frames[1:])
    Image.new("CMYK", (96, 64), (0, 0, 0, 40)).save(tmp_path / "print.jpg")
    results = {
        name: _studio(tmp_path, "sonify", tmp_path / name, "-o", f"{name}.wav", "--seconds", "2")
        for name in ("loop.gif", "print.jpg")
    }
    for name, result in results.items():
        assert result.returncode == 0, result.stderr
        assert soundfile.info(tmp_path / f"{name}.wav").frames == 2 * 16000
    assert "loop.gif is animated (2 frames): hearing its first frame" in results["loop.gif"].stderr


def test_animate_without_a_sound_uses_the_pictures_ambience(shipped: Pipeline, tmp_path: Path) -> None:
    result = _studio(
        tmp_path, "animate", "a lake at night", "--size", "32", "--fps", "4", "--seconds", "2", "-o", "a.gif"
    )
    assert result.returncode == 0, result.stderr
    assert "sound: Crickets" in result.stderr or "sound: Owl" in result.stderr
    assert "(8 frames at 4 fps" in result.stdout

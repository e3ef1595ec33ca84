"""Sound edits through the real pipeline: the shipped sound encoder, real WAVs, tiny generator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import SAMPLE_RATE, read_audio, wav_bytes, write_wav
from studio.inference.audio_encoder import blend_toward, clip_windows, loudness_strength, rank_labels
from studio.inference.pipeline import MemoryAssets, Pipeline, PipelineError
from studio.world.sounds import synth

REAL = Path(__file__).resolve().parents[1] / "data" / "sounds"


@pytest.fixture(scope="module")
def sound_pipe(pipeline: Pipeline) -> Pipeline:
    info = pipeline.default_generator()
    try:
        pipeline.audio_encoder_for(info)
    except Exception as exc:  # only before the sound encoder was first exported
        pytest.skip(f"no sound encoder: {exc}")
    return pipeline


def _wave(kind: str, seed: int = 0, seconds: float = 3.0) -> np.ndarray:
    return synth(kind, np.random.default_rng(seed), seconds=seconds)


def test_blend_moves_from_prompt_to_sound() -> None:
    rng = np.random.default_rng(0)
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 384)))
    assert np.allclose(blend_toward(a, b, 0.0), a, atol=1e-6)
    assert np.allclose(blend_toward(a, b, 1.0), b, atol=1e-6)
    half = blend_toward(a, b, 0.5)
    assert abs(np.linalg.norm(half) - 1) < 1e-5
    assert half @ a > blend_toward(a, b, 0.8) @ a


def test_windows_loop_short_and_cover_long_clips() -> None:
    short = np.arange(1000, dtype=np.float32)
    looped = clip_windows(short, 4000)
    assert looped.shape == (1, 4000) and np.array_equal(looped[0, 1000:2000], short)
    long = np.zeros(10 * 4000, dtype=np.float32)
    assert clip_windows(long, 4000).shape == (19, 4000)
    assert clip_windows(np.zeros(10_000_000, np.float32), 4000).shape[0] == 32
    with pytest.raises(ValueError, match="empty"):
        clip_windows(np.zeros(0, np.float32), 4000)


def test_louder_means_stronger() -> None:
    wave = _wave("rain")
    quiet, loud = wave * 0.01, wave / np.abs(wave).max()
    assert loudness_strength(np.zeros(1000)) == 0.0
    assert loudness_strength(quiet) < loudness_strength(loud)


def test_listen_recognises_synthesised_sounds(sound_pipe: Pipeline) -> None:
    info = sound_pipe.default_generator()
    hits = 0
    kinds = ("heavy_rain", "birdsong", "crickets", "ocean_waves", "crackling_fire", "owl")
    for kind in kinds:
        ranked = rank_labels(sound_pipe, info, _wave(kind, seed=99))
        top3 = [name for name, _score, _attrs in ranked[:3]]
        hits += any(kind.split("_")[0] in name.lower() or name.lower() in kind for name in top3)
        assert ranked[0][1] >= ranked[-1][1]
    assert hits >= len(kinds) - 2


def test_sound_recipe_renders_deterministically_and_differs_from_prompt(sound_pipe: Pipeline) -> None:
    assets = MemoryAssets()
    sha = assets.put(wav_bytes(_wave("thunderstorm"), SAMPLE_RATE), "wav")
    base = sound_pipe.recipes_for("a lake under mountains at noon", seed=3, count=1, size=16)[0]
    edited = base.replace(sound=sha, strength=0.8)
    plain, first, again = sound_pipe.render([base, edited, edited], assets)
    assert np.array_equal(first, again)
    assert not np.array_equal(plain, first)
    unchanged = sound_pipe.render([base.replace(sound=sha, strength=0.0)], assets)[0]
    assert np.array_equal(unchanged, plain)


def test_broken_sound_asset_is_a_clear_error(sound_pipe: Pipeline) -> None:
    assets = MemoryAssets()
    sha = assets.put(b"RIFF\x00\x00\x00\x00WAVEjunk", "wav")
    recipe = sound_pipe.recipes_for("a lake", count=1, size=16)[0].replace(sound=sha, strength=0.5)
    with pytest.raises(PipelineError, match="sound"):
        sound_pipe.render([recipe], assets)
    missing = recipe.replace(sound="0" * 64)
    with pytest.raises(PipelineError, match="missing"):
        sound_pipe.render([missing], assets)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_24", "FLOAT"])
def test_any_wav_format_and_stereo_edit_the_same_way(sound_pipe: Pipeline, tmp_path: Path, subtype) -> None:
    import soundfile as sf

    wave = _wave("birdsong", seconds=2.0)
    reference = sound_pipe.encode_sound(sound_pipe.default_generator(), wave)
    path = tmp_path / f"bird-{subtype}.wav"
    sf.write(path, np.stack([wave, wave], axis=1), SAMPLE_RATE, subtype=subtype)
    audio = read_audio(path)
    vector = sound_pipe.encode_sound(sound_pipe.default_generator(), audio.samples)
    assert float(vector @ reference) > 0.98


def test_real_recordings_are_recognised_better_than_chance(sound_pipe: Pipeline) -> None:
    from studio.eval.sound import real_recordings

    info = sound_pipe.default_generator()
    real = real_recordings(REAL)
    assert len(real) >= 8
    hits = 0
    for path, kinds in real:
        ranked = rank_labels(sound_pipe, info, read_audio(path).samples)
        labels = {
            label["display"]: label["name"]
            for label in sound_pipe.audio_encoder_for(info).manifest["listen_labels"]
        }
        hits += any(labels[name] in kinds for name, _s, _a in ranked[:3])
    assert hits / len(real) > 3 / 15  # top-3 chance is 3 of 15 kinds


def test_animation_follows_the_sound_and_keeps_the_audio(sound_pipe: Pipeline, tmp_path: Path) -> None:
    import imageio_ffmpeg
    from PIL import Image

    from studio.inference.animation import render_animation, write_animation

    quiet_then_storm = np.concatenate(
        [_wave("birdsong", seconds=2.0) * 0.05, _wave("thunderstorm", seconds=2.0)]
    )
    recipe = sound_pipe.recipes_for("a meadow at noon", seed=5, count=1, size=32)[0]
    frames = render_animation(sound_pipe, recipe, quiet_then_storm, fps=4.0, strength=1.0)
    assert len(frames) == 16 and frames[0].shape == (32, 32, 3)
    assert not np.array_equal(frames[0], frames[-1])
    gif = write_animation(frames, tmp_path / "a.gif", 4.0)
    assert Image.open(gif).n_frames == 16
    wav = tmp_path / "s.wav"
    write_wav(wav, quiet_then_storm, SAMPLE_RATE)
    mp4 = write_animation(frames, tmp_path / "a.mp4", 4.0, wav)
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(mp4)], capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "Audio: aac" in probe.stderr
    with pytest.raises(PipelineError, match=".gif or .mp4"):
        write_animation(frames, tmp_path / "a.avi", 4.0)


def test_animation_stops_when_asked(sound_pipe: Pipeline) -> None:
    from studio.inference.animation import render_animation

    recipe = sound_pipe.recipes_for("a lake", seed=1, count=1, size=16)[0]
    seen: list[int] = []
    frames = render_animation(
        sound_pipe,
        recipe,
        _wave("wind", seconds=4.0),
        fps=10.0,
        progress=lambda d, t: seen.append(d) or False,
    )
    assert len(frames) == 16 and seen == [16]


def test_cli_listen_and_generate_with_sound(models_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from studio.cli import main
    from studio.pngmeta import read_recipe

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(models_dir))
    wav = tmp_path / "storm.wav"
    write_wav(wav, _wave("thunderstorm", seconds=3.0), SAMPLE_RATE)
    assert main(["listen", str(wav), "--top", "3", "--device", "cpu"]) == 0
    verdict, *lines = capsys.readouterr().out.strip().splitlines()
    assert verdict.startswith(("sounds like ", "can't place this sound")) and "[sound_encoder" in verdict
    assert len(lines) == 3 and float(lines[0].split()[0]) >= float(lines[-1].split()[0])
    assert "thunder" in lines[0].lower() or "rain" in lines[0].lower()
    out = tmp_path / "edit.png"
    args = ["generate", "a meadow", "--sound", str(wav), "--strength", "0.7", "-o", str(out), "--size", "32"]
    assert main([*args, "--device", "cpu"]) == 0
    recipe = read_recipe(out)
    assert recipe.sound is not None and recipe.strength == 0.7
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    assert main(["generate", "a meadow", "--sound", str(silent), "-o", str(out), "--device", "cpu"]) == 0
    assert "silent" in capsys.readouterr().err and read_recipe(out).strength == 0.0  # loudness → 0
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    assert main(["listen", str(tmp_path / "bad.wav"), "--device", "cpu"]) == 2
    assert "bad.wav" in capsys.readouterr().err
    assert main(["generate", "x", "--strength", "0.5", "--device", "cpu"]) == 2


def test_audio_encoder_manifest_must_match_the_app_features(tmp_path: Path) -> None:
    import json

    from studio.inference.manifest import ModelError, parse_manifest

    shipped = Path(__file__).resolve().parents[2] / "exported_models" / "sound_encoder.json"
    data = json.loads(shipped.read_text())
    assert parse_manifest(shipped, data).kind == "audio_encoder"
    for key, value, message in (
        ("sample_rate", 44100, "16000"),
        ("features", {**data["features"], "hop": 256}, "features.hop"),
        ("window_seconds", 0, "window_seconds"),
        ("listen_labels", [{"display": "Rain", "prompts": []}], "prompts"),
    ):
        with pytest.raises(ModelError, match=message):
            parse_manifest(tmp_path / "x.json", {**data, key: value})

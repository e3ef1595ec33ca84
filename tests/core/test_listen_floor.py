"""A sound the encoder cannot place says so instead of guessing: the calibrated listen floor, the
out-of-world sounds it is calibrated on, and the shipped encoder on real WAVs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import SAMPLE_RATE, read_audio, write_wav
from studio.eval.listen_floor import calibrate_floor
from studio.eval.out_of_world import KINDS, out_of_world, out_of_world_clips
from studio.inference.audio_encoder import Heard, listen
from studio.inference.manifest import ModelError, parse_manifest
from studio.inference.pipeline import Pipeline

REAL = Path(__file__).resolve().parents[1] / "data" / "sounds"
SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"


@pytest.fixture(scope="module")
def floored(pipeline: Pipeline) -> Pipeline:
    """The test pipeline, whose newest sound encoder ships a listen floor."""
    info = pipeline.default_generator()
    try:
        audio_info = pipeline.audio_encoder_for(info)
    except ModelError as exc:
        pytest.skip(f"no sound encoder: {exc}")
    if audio_info.manifest.get("listen_floor") is None:
        pytest.skip(f"{audio_info.name} has no listen floor")
    return pipeline


def _tone(hz: float = 1000.0, seconds: float = 3.0) -> np.ndarray:
    """A test tone. (At 440 Hz or 800 Hz the shipped encoder hears an owl's hoot or crickets.)"""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_out_of_world_sounds_are_what_they_say() -> None:
    clips = out_of_world_clips(per_kind=2)
    assert [kind for kind, _ in clips] == [k for k in KINDS for _ in range(2)]
    for kind, clip in clips:
        assert clip.dtype == np.float32 and clip.shape == (4 * SAMPLE_RATE,) and np.all(np.isfinite(clip))
        rms_db = 20 * np.log10(max(float(np.sqrt(np.mean(clip**2))), 1e-12))
        assert rms_db < -200 if kind == "silence" else -31 < rms_db < -9
    sine = out_of_world("sine", np.random.default_rng(1))
    peak = np.abs(np.fft.rfft(sine)).argmax() / 4.0  # Hz: 4 s of samples
    assert 110 <= peak <= 3000
    with pytest.raises(ValueError, match="unknown out-of-world sound"):
        out_of_world("kazoo", np.random.default_rng(0))


def test_floor_keeps_the_most_right_placements_and_refuses_the_most_strangers() -> None:
    floor = calibrate_floor(
        real=np.array([0.9, 0.85, 0.8, 0.7]),
        real_hits=np.array([True, True, False, True]),
        out=np.array([0.6, 0.75, 0.82]),
        out_kinds=["sine", "sine", "white_noise"],
        synthetic=np.array([0.95, 0.8]),
        synthetic_hits=np.array([True, True]),
    )
    assert floor["value"] == pytest.approx(0.85)
    assert floor["real_heldout_correct_kept"] == pytest.approx(0.667)
    assert floor["real_heldout_placed"] == 0.5 and floor["real_heldout_right_when_placed"] == 1.0
    assert floor["out_of_world_refused"] == 1.0
    assert floor["out_of_world_refused_by_kind"] == {"sine": 1.0, "white_noise": 1.0}
    assert floor["synthetic_heldout_correct_kept"] == 0.5
    nothing_right = calibrate_floor(np.array([0.9]), np.array([False]), np.array([0.5]), ["sine"], [], [])
    assert nothing_right == {}


def test_verdict_names_the_closest_sound_below_the_floor() -> None:
    ranked = [("Rain", 0.31, {"weather": "rainy"}), ("Wind", 0.2, {})]
    assert Heard(ranked, "enc 1", 0.5).verdict() == "can't place this sound (closest: Rain 0.31)"
    assert Heard(ranked, "enc 1", 0.3).verdict() == "sounds like Rain 0.31"
    assert Heard(ranked, "enc 1", None).placed  # an uncalibrated encoder names every sound


def test_shipped_encoder_refuses_a_tone_and_places_a_real_recording(floored: Pipeline) -> None:
    info = floored.default_generator()
    tone = listen(floored, info, _tone())
    assert not tone.placed and tone.verdict().startswith("can't place this sound (closest: ")
    silence = listen(floored, info, np.zeros(2 * SAMPLE_RATE, np.float32))
    assert not silence.placed
    owl = listen(floored, info, read_audio(REAL / "owl__owl.wav").samples)
    assert owl.placed and owl.ranked[0][0] == "Owl" and owl.verdict().startswith("sounds like Owl ")


def test_cli_listen_says_it_cannot_place_a_tone(
    floored: Pipeline, tmp_path: Path, capsys, monkeypatch
) -> None:
    from studio.cli import main

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(floored.registry.folders[0]))
    wav = tmp_path / "tone.wav"
    write_wav(wav, _tone(), SAMPLE_RATE)
    assert main(["listen", str(wav), "--top", "2", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("can't place this sound (closest: ") and len(lines) == 3


def test_manifest_refuses_a_floor_that_is_not_a_cosine(tmp_path: Path) -> None:
    shipped = SHIPPED / "sound_encoder.json"
    data = json.loads(shipped.read_text())
    for bad in (1.5, "high", float("nan")):
        with pytest.raises(ModelError, match="listen_floor"):
            parse_manifest(shipped, {**data, "listen_floor": bad})
    assert parse_manifest(shipped, {**data, "listen_floor": 0.8}).manifest["listen_floor"] == 0.8


def test_cli_makes_no_picture_from_a_sound_it_cannot_place_unless_asked(
    floored: Pipeline, tmp_path: Path, capsys, monkeypatch
) -> None:
    from studio.cli import main

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(floored.registry.folders[0]))
    wav, out = tmp_path / "tone.wav", tmp_path / "edit.png"
    write_wav(wav, _tone(), SAMPLE_RATE)
    args = ["generate", "a meadow", "--sound", str(wav), "-o", str(out), "--device", "cpu", "--size", "32"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "can't place this sound (closest: " in err and "--closest" in err and not out.exists()
    assert main([*args, "--closest"]) == 0 and out.exists()  # asked for: what the closest sound moves


def test_a_steady_hiss_is_never_placed_however_like_rain_it_scores(
    floored: Pipeline, tmp_path: Path, capsys, monkeypatch
) -> None:
    """White noise scores heavy rain above the floor; it is refused on the signal itself, while
    every real recording (rain included), a fading noise and tilted (brown) noise are not hiss."""
    from studio.audio.steady import is_steady_hiss
    from studio.cli import main

    rng = np.random.default_rng(3)
    hiss = [out_of_world("white_noise", rng) for _ in range(4)]
    assert all(is_steady_hiss(x) for x in hiss)
    assert not any(is_steady_hiss(read_audio(path).samples) for path in sorted(REAL.glob("*.wav")))
    fading = hiss[0] * np.linspace(1.0, 0.0, hiss[0].size, dtype=np.float32)
    brown = np.cumsum(rng.standard_normal(4 * SAMPLE_RATE)).astype(np.float32)
    assert not is_steady_hiss(fading) and not is_steady_hiss(brown - brown.mean())
    assert not is_steady_hiss(np.zeros(SAMPLE_RATE, np.float32)) and not is_steady_hiss(_tone())

    heard = listen(floored, floored.default_generator(), hiss[0])
    assert heard.hiss and not heard.placed and "steady hiss" in heard.verdict()
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(floored.registry.folders[0]))
    wav = tmp_path / "static.wav"
    write_wav(wav, hiss[1], SAMPLE_RATE)
    assert main(["listen", str(wav), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.startswith("can't place this sound, a steady hiss like static")


def test_the_floor_counts_a_steady_hiss_as_refused_whatever_it_scores() -> None:
    """White noise scoring 0.9 need not pull the floor above the real clips it would then lose."""
    args = dict(
        real=np.array([0.84, 0.86, 0.9]),
        real_hits=np.array([True, True, True]),
        out=np.array([0.6, 0.9]),
        out_kinds=["sine", "white_noise"],
        synthetic=np.array([0.95]),
        synthetic_hits=np.array([True]),
    )
    blind = calibrate_floor(**args)
    assert blind["out_of_world_refused_by_kind"]["white_noise"] == 0.0
    heard = calibrate_floor(**args, out_hiss=np.array([False, True]))
    assert heard["out_of_world_refused"] == 1.0 and heard["real_heldout_correct_kept"] == 1.0
    assert heard["value"] <= 0.84

"""The sound world: every kind synthesises sane audio, spectra match the physics, captions split."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.world.captions import EVAL_ONLY_PHRASES, FEATURES, SEASONS, TIMES, WEATHERS
from studio.world.sound_captions import (
    SOUND_EVAL_ONLY_PHRASES,
    SOUND_PHRASES,
    SoundCaptionError,
    kind_prompts,
    make_sound_caption,
)
from studio.world.sounds import (
    COMPATIBLE_PAIRS,
    KIND_INDEX,
    SOUND_KINDS,
    SoundError,
    merged_attributes,
    mix,
    render_clips,
    synth,
    synth_clip,
)

RATE = 16000
NAMES = [kind.name for kind in SOUND_KINDS]
REAL_SOUNDS = Path(__file__).resolve().parents[1] / "data" / "sounds"
VOCABULARY = {"time": TIMES, "weather": WEATHERS, "season": SEASONS, "feature": FEATURES}


def band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / RATE)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


def peak_frequency(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return float(np.fft.rfftfreq(x.size, 1.0 / RATE)[np.argmax(power)])


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    return {name: [synth(name, np.random.default_rng(seed)) for seed in range(4)] for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_every_kind_is_finite_audible_unclipped_and_sized(clips, name):
    for x in clips[name]:
        assert x.dtype == np.float32 and x.shape == (4 * RATE,)
        assert np.all(np.isfinite(x))
        assert 0.25 <= np.max(np.abs(x)) <= 0.95
        assert np.sqrt(np.mean(x**2)) > 0.003
        assert abs(float(x.mean())) < 0.01


def test_other_durations_and_rates():
    assert synth("rain", np.random.default_rng(0), seconds=1.5).shape == (24000,)
    assert synth("birdsong", np.random.default_rng(0), seconds=2.0, rate=22050).shape == (44100,)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed_and_varied_across_seeds(name):
    a = synth(name, np.random.default_rng(7))
    b = synth(name, np.random.default_rng(7))
    c = synth(name, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    rng = np.random.default_rng(1)
    assert not np.allclose(synth(name, rng), synth(name, rng))  # fresh parameters every call


def test_crickets_sing_near_their_carrier(clips):
    for x in clips["crickets"]:
        assert 3300 <= peak_frequency(x) <= 5900
        assert band_fraction(x, 3000, 6500) > 0.9


def test_owl_hoots_are_low(clips):
    for x in clips["owl"]:
        assert 280 <= peak_frequency(x) <= 540
        assert band_fraction(x, 0, 1000) > 0.9


def test_birdsong_is_high_pitched(clips):
    for x in clips["birdsong"]:
        assert band_fraction(x, 1500, 8000) > 0.9


def test_rain_is_broadband(clips):
    for name in ("rain", "heavy_rain"):
        for x in clips[name]:
            octaves = [band_fraction(x, lo, 2 * lo) for lo in (500, 1000, 2000, 4000)]
            assert min(octaves) > 0.01, (name, octaves)
            assert max(octaves) < 0.85, (name, octaves)


def test_thunder_and_wind_carry_more_low_frequency_energy_than_rain(clips):
    rain_low = max(band_fraction(x, 0, 300) for x in clips["rain"] + clips["heavy_rain"])
    for name in ("thunderstorm", "distant_thunder", "wind", "ocean_waves"):
        for x in clips[name]:
            assert band_fraction(x, 0, 300) > rain_low + 0.3, name


def test_fire_crackles_are_sharp_and_leaves_rustle_high(clips):
    for x in clips["crackling_fire"]:
        assert np.max(np.abs(x)) / np.sqrt(np.mean(x**2)) > 6  # impulsive crackles and pops
    for x in clips["rustling_leaves"] + clips["snow_crunch"]:
        assert band_fraction(x, 1000, 8000) > 0.6


def test_waves_swell():
    for seed in range(4):
        x = synth("ocean_waves", np.random.default_rng(seed), seconds=8.0)
        frames = np.sqrt((x.reshape(32, -1).astype(np.float64) ** 2).mean(axis=1))
        assert frames.max() / frames.min() > 1.3


def test_attributes_use_the_image_vocabulary():
    assert len(SOUND_KINDS) == len(KIND_INDEX) >= 12
    for kind in SOUND_KINDS:
        assert KIND_INDEX[kind.name] == SOUND_KINDS.index(kind) and kind.display
        assert kind.attributes
        for key, value in kind.attributes.items():
            assert value in VOCABULARY[key], (kind.name, key, value)
    assert SOUND_KINDS[KIND_INDEX["rain"]].attributes == {"weather": "rainy"}
    assert SOUND_KINDS[KIND_INDEX["ocean_waves"]].attributes == {"feature": "sea"}
    # weather clashes resolve to the stronger weather, other clashes to the dominant (first) sound
    assert merged_attributes(("wind", "rain")) == {"weather": "rainy"}
    assert merged_attributes(("thunderstorm", "wind")) == {"weather": "stormy"}
    assert merged_attributes(("crickets", "crackling_fire")) == {"time": "night", "season": "summer"}
    assert merged_attributes(("seagulls", "ocean_waves")) == {"feature": "beach"}
    assert merged_attributes(("ocean_waves", "wind")) == {"feature": "sea", "weather": "cloudy"}


def test_clips_mix_compatible_kinds_with_captions():
    clips = render_clips(60, seed=3)
    assert render_clips(3, seed=3)[2].caption == clips[2].caption
    assert np.array_equal(render_clips(3, seed=3)[2].samples, clips[2].samples)
    assert any(len(c.kinds) == 2 for c in clips) and any(len(c.kinds) == 1 for c in clips)
    for clip in clips:
        assert clip.samples.shape == (4 * RATE,) and np.max(np.abs(clip.samples)) <= 0.95
        assert clip.caption and clip.attributes == merged_attributes(clip.kinds)
        if len(clip.kinds) == 2:
            assert clip.kinds in COMPATIBLE_PAIRS or clip.kinds[::-1] in COMPATIBLE_PAIRS


def test_synth_clip_with_chosen_kinds():
    clip = synth_clip(np.random.default_rng(0), kinds=("crackling_fire", "crickets"))
    assert clip.kinds == ("crackling_fire", "crickets")
    assert clip.attributes == {"time": "sunset", "season": "summer"}


def test_mix_sets_relative_level():
    rng = np.random.default_rng(0)
    a, b = synth("owl", rng), synth("rain", rng)
    quiet = mix(a, b, -20.0) - a
    assert np.sqrt(np.mean(quiet**2)) == pytest.approx(
        np.sqrt(np.mean(a.astype(np.float64) ** 2)) / 10, rel=1e-3
    )


def test_bad_input_gives_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(SoundError, match="unknown sound kind 'lava'"):
        synth("lava", rng)
    with pytest.raises(SoundError, match="rate"):
        synth("rain", rng, rate=8000)
    with pytest.raises(SoundError, match="seconds"):
        synth("rain", rng, seconds=0.0)
    with pytest.raises(SoundError, match="seconds"):
        synth("rain", rng, seconds=float("nan"))
    with pytest.raises(SoundError, match="one or two kinds"):
        synth_clip(rng, kinds=())
    with pytest.raises(SoundError, match="unknown sound kind"):
        synth_clip(rng, kinds=("rain", "lava"))
    with pytest.raises(SoundError, match="split"):
        synth_clip(rng, split="test")
    with pytest.raises(SoundError, match="equal length"):
        mix(np.zeros(10, np.float32), np.zeros(11, np.float32), 0.0)
    with pytest.raises(SoundCaptionError, match="split"):
        make_sound_caption(("rain",), rng, "validation")
    with pytest.raises(SoundCaptionError, match="one or two"):
        make_sound_caption(("rain", "wind", "owl"), rng)


def _contains(caption: str, phrase: str) -> bool:
    if phrase == ":":
        return ":" in caption
    return re.search(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", caption) is not None


def test_training_captions_never_use_held_out_phrases():
    rng = np.random.default_rng(0)
    kinds_list = [(n,) for n in NAMES] + list(COMPATIBLE_PAIRS)
    train = {make_sound_caption(kinds, rng, "train") for _ in range(40) for kinds in kinds_list}
    for caption in train:
        for phrase in SOUND_EVAL_ONLY_PHRASES:
            assert not _contains(caption, phrase), (caption, phrase)
    assert set(EVAL_ONLY_PHRASES) <= set(SOUND_EVAL_ONLY_PHRASES)
    held_out = {make_sound_caption(kinds, rng, "eval") for _ in range(10) for kinds in kinds_list}
    assert not train & held_out
    assert all(any(_contains(c, p) for p in SOUND_EVAL_ONLY_PHRASES) for c in held_out)


def test_sound_phrase_lists_are_disjoint_and_cover_every_kind():
    assert set(SOUND_PHRASES) == set(NAMES)
    for train, held_out in SOUND_PHRASES.values():
        assert train and held_out and not set(train) & set(held_out)


def test_kind_prompts_name_every_kind_in_training_wording():
    prompts = kind_prompts()
    assert set(prompts) == set(NAMES)
    for texts in prompts.values():
        assert len(texts) >= 3
        for text in texts:
            assert not any(_contains(text, p) for p in SOUND_EVAL_ONLY_PHRASES), text


def test_real_recordings_are_listed_and_well_formed():
    sources = (REAL_SOUNDS / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(REAL_SOUNDS.glob("*.wav"))
    assert files and sum(f.stat().st_size for f in files) <= 1_500_000
    for path in files:
        assert f"`{path.name}`" in sources
        assert path.name.split("__")[0] in KIND_INDEX
        data, rate = sf.read(path, dtype="float32")
        assert rate == RATE and data.ndim == 1 and 0.3 <= data.size / RATE <= 6.0
        assert np.all(np.isfinite(data)) and np.max(np.abs(data)) > 0.1

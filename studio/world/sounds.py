"""Procedural nature sounds for the landscape attributes, with captions (numpy only).

Each kind is a small physical caricature, re-drawn with random parameters on every call:
rain is many short resonant droplet impulses over a coloured-noise bed; thunder is low-passed
brown noise with a fast attack and a slow rolling decay; wind is low-passed noise whose level
and brightness follow slow gusts; waves swell with a 6-12 s period; a stream is band-passed
noise full of rising bubble blips; fire is a brown-noise roar with sharp crackles and pops;
birds sing phrases of swept or trilled notes at 2-6 kHz; crickets pulse a 3.5-5.5 kHz carrier in
regular trains; owls hoot at 300-500 Hz with weak harmonics.

Filtering is done in the frequency domain (one FFT per coloured noise), and short events are
either convolved as impulse trains or summed as grains with `np.bincount`, so a 4 s clip costs
a few milliseconds.

`SoundKind.attributes` names the image-world attributes a sound implies, in the vocabulary of
`captions.py` (keys "time", "weather", "season", "feature"). Choices that are not obvious:

* wind -> weather "cloudy": wind moves clouds across the sky ("with drifting clouds"); a still
  grey sky is "overcast", which no sound implies.
* crackling_fire -> time "sunset": a fire means warm orange light, and sunset is the image
  world's warm-glow palette (its dusk is blue-violet).
* crickets -> night and summer: field crickets sing on warm nights.
* seagulls -> feature "beach"; ocean_waves -> "sea"; stream -> "river"; rustling leaves ->
  "forest"; snow crunching underfoot -> season "winter" (snow on the ground, not falling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_RATE = 16000  # birds and crickets sing up to ~7 kHz
MAX_SECONDS = 60.0


class SoundError(ValueError):
    """Sound synthesis arguments are invalid; the message says which."""


@dataclass(frozen=True)
class SoundKind:
    """A kind of sound, and the image-world attributes it implies."""

    name: str
    display: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class SoundClip:
    """A synthesised clip: mono float32 samples, the kinds mixed in (dominant first), caption."""

    samples: np.ndarray
    kinds: tuple[str, ...]
    caption: str
    attributes: dict[str, str]


# --------------------------------------------------------------------------- building blocks


class _Ctx:
    """Per-clip scratch: sizes, frequency axis and a generator for coloured noise."""

    def __init__(self, rng: np.random.Generator, seconds: float, rate: int) -> None:
        self.rng = rng
        self.rate = rate
        self.n = int(round(seconds * rate))
        self.seconds = self.n / rate
        self.freqs = np.fft.rfftfreq(self.n, 1.0 / rate).astype(np.float32)
        self.freqs[0] = self.freqs[1] * 0.5  # keeps power laws finite at DC
        self.t = np.arange(self.n) / rate
        self._z: np.ndarray | None = None

    @property
    def z(self) -> np.ndarray:
        """e^{-j omega} on the rfft bins: evaluates short filters' responses without an FFT."""
        if self._z is None:
            self._z = np.exp(-2j * np.pi * self.freqs.astype(np.float64) / self.rate).astype(np.complex64)
        return self._z

    def white_spectrum(self) -> np.ndarray:
        # float32 halves the FFT and RNG cost; pairs of normals viewed as complex bins
        return self.rng.standard_normal(2 * self.freqs.size, dtype=np.float32).view(np.complex64)

    def noise(self, gain: np.ndarray, spectrum: np.ndarray | None = None) -> np.ndarray:
        """Gaussian noise with the given magnitude response, RMS-normalised."""
        spec = self.white_spectrum() if spectrum is None else spectrum
        return _unit(np.fft.irfft(spec * gain, self.n))

    def filtered(self, x: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return np.fft.irfft(np.fft.rfft(x) * gain, self.n)

    def envelope(self, points_per_s: float, lo: float, hi: float) -> np.ndarray:
        """A slowly wandering envelope through random control points (gusts, flicker, swells)."""
        count = max(2, int(np.ceil(self.seconds * points_per_s)) + 2)
        knots = np.linspace(-1.0 / points_per_s, self.seconds + 1.0 / points_per_s, count)
        knots += self.rng.uniform(-0.3, 0.3, count) / points_per_s
        return np.interp(self.t, np.sort(knots), self.rng.uniform(lo, hi, count))

    def impulses(self, rate_per_s: float, sigma: float = 0.7, weight: np.ndarray | None = None) -> np.ndarray:
        """A Poisson impulse train with log-normal amplitudes, optionally thinned by `weight`."""
        count = int(self.rng.poisson(rate_per_s * self.seconds))
        pos = self.rng.integers(0, self.n, count)
        amps = self.rng.lognormal(0.0, sigma, count)
        if weight is not None:
            amps *= self.rng.random(count) < weight[pos]
        return np.bincount(pos, weights=amps, minlength=self.n)

    def resonance(self, freq: float, decay_s: float) -> np.ndarray:
        """Frequency response of a damped sinusoid (one droplet's ring), from its z-transform."""
        r = np.exp(-1.0 / (decay_s * self.rate))
        theta = 2 * np.pi * freq / self.rate
        z = self.z
        return (r * np.sin(theta) * z / (1 - 2 * r * np.cos(theta) * z + r * r * z * z)).astype(np.complex64)

    def scatter(self, starts: np.ndarray, grains: np.ndarray) -> np.ndarray:
        """Sum grains (rows) into a clip at the given start samples; grains past the end are cut."""
        idx = starts[:, None] + np.arange(grains.shape[1])[None, :]
        keep = (idx >= 0) & (idx < self.n)
        return np.bincount(idx[keep], weights=grains[keep], minlength=self.n)


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x * x)))
    return x / rms if rms > 1e-12 else x


def _soft_limit(x: np.ndarray, ceiling: float) -> np.ndarray:
    """Compress peaks above `ceiling` x RMS, so one freak impulse cannot set the whole clip's gain."""
    x = _unit(x)
    return x / (1.0 + np.abs(x) / ceiling)


def _butter(ratio: np.ndarray, order: int) -> np.ndarray:
    """Butterworth magnitude 1/sqrt(1 + ratio^(2 order)), by multiplication (pow is slow)."""
    r2 = ratio * ratio
    power = r2
    for _ in range(order - 1):
        power = power * r2
    return 1.0 / np.sqrt(1.0 + power)


def _lowpass(f: np.ndarray, cutoff: float, order: int = 2) -> np.ndarray:
    return _butter(f * np.float32(1.0 / cutoff), order)


def _highpass(f: np.ndarray, cutoff: float, order: int = 2) -> np.ndarray:
    return _butter(np.float32(cutoff) / f, order)


def _band(f: np.ndarray, lo: float, hi: float, order: int = 2) -> np.ndarray:
    return _highpass(f, lo, order) * _lowpass(f, hi, order)


def _tilt(f: np.ndarray, alpha: float) -> np.ndarray:
    """1/f^alpha power slope: 1 is pink, 2 is brown."""
    return np.exp(np.log(np.maximum(f, np.float32(20.0))) * np.float32(-alpha / 2.0))


def _peak(f: np.ndarray, centre: float, width_octaves: float) -> np.ndarray:
    octaves = np.log2(f * np.float32(1.0 / centre)) * np.float32(1.0 / width_octaves)
    return np.exp(np.float32(-0.5) * octaves * octaves)


def _loguniform(
    rng: np.random.Generator, lo: float, hi: float, size: int | None = None
) -> np.ndarray | float:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


# --------------------------------------------------------------------------- the kinds


def _droplets(c: _Ctx, density: float, f_lo: float, f_hi: float, classes: int = 2) -> np.ndarray:
    """Droplet impacts: impulse trains through a few resonances (drop sizes / surfaces) plus a tick."""
    spectrum = np.zeros(c.freqs.size, np.complex64)
    for share in c.rng.dirichlet(np.ones(classes)):
        ring = c.resonance(float(_loguniform(c.rng, f_lo, f_hi)), c.rng.uniform(0.0005, 0.0025))
        a = c.rng.standard_normal(3).astype(np.float32) * 0.6
        tick = a[0] + c.z * (a[1] + a[2] * c.z)  # the impact's broadband tick
        train = c.impulses(density * share, sigma=0.8).astype(np.float32)
        spectrum += np.fft.rfft(train) * (ring + tick)
    return _soft_limit(np.fft.irfft(spectrum, c.n), 5.0)


def _rain(c: _Ctx, heavy: bool = False) -> np.ndarray:
    f = c.freqs
    if heavy:
        density = c.rng.uniform(3000, 9000)
        bed = c.noise(_band(f, c.rng.uniform(150, 400), c.rng.uniform(5000, 7500)) * _tilt(f, 0.5))
        drops = _droplets(c, density, 500, 5000)
        mix = bed * c.rng.uniform(0.8, 1.3) + drops * c.rng.uniform(0.5, 0.9)
        swell = c.envelope(c.rng.uniform(0.5, 1.5), 0.65, 1.0)
    else:
        density = c.rng.uniform(250, 2500)
        bed = c.noise(_band(f, c.rng.uniform(300, 800), c.rng.uniform(4000, 7500)) * _tilt(f, 0.8))
        drops = _droplets(c, density, 1200, 6500)
        mix = bed * c.rng.uniform(0.4, 0.8) + drops
        swell = c.envelope(c.rng.uniform(0.3, 1.0), 0.8, 1.0)
    return mix * swell


def _thunder(c: _Ctx, distant: bool) -> np.ndarray:
    """One or two rolls of thunder: brown noise below a few hundred Hz, fast rise, slow rolling decay."""
    f = c.freqs
    out = np.zeros(c.n)
    strikes = 1 if distant or c.rng.random() < 0.6 else 2
    for i in range(strikes):
        t0 = c.rng.uniform(0.05, 0.55) * c.seconds if i == 0 else c.rng.uniform(-0.5, 0.9) * c.seconds
        cutoff = c.rng.uniform(50, 140) if distant else c.rng.uniform(110, 320)
        attack = c.rng.uniform(0.25, 0.8) if distant else c.rng.uniform(0.02, 0.15)
        decay = c.rng.uniform(1.2, 3.0) if distant else c.rng.uniform(0.7, 2.2)
        dt = c.t - t0
        env = np.where(
            dt < 0, 0.0, (1 - np.exp(-np.maximum(dt, 0) / attack)) * np.exp(-np.maximum(dt, 0) / decay)
        )
        rolls = c.envelope(c.rng.uniform(3, 8), 0.25, 1.0) ** 2
        rumble = c.noise(_lowpass(f, cutoff, 3) * _tilt(f, 2.0))
        out += rumble * env * rolls * c.rng.uniform(0.6, 1.0)
        if not distant and c.rng.random() < 0.6:  # the crack of a near strike
            crack_env = np.where(dt < 0, 0.0, np.exp(-np.maximum(dt, 0) / c.rng.uniform(0.03, 0.12)))
            out += c.noise(_band(f, 300, 4000)) * crack_env * c.rng.uniform(0.3, 0.8)
    return out


def _thunderstorm(c: _Ctx) -> np.ndarray:
    rain = _unit(_rain(c, heavy=c.rng.random() < 0.6))
    return rain * c.rng.uniform(0.35, 0.6) + _unit(_thunder(c, distant=False)) * c.rng.uniform(1.0, 1.6)


def _distant_thunder(c: _Ctx) -> np.ndarray:
    air = c.noise(_lowpass(c.freqs, c.rng.uniform(300, 800)) * _tilt(c.freqs, 1.5))
    return _unit(_thunder(c, distant=True)) + air * c.rng.uniform(0.03, 0.1)


def _wind_core(c: _Ctx, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Gusting wind: a darker and a brighter noise crossfaded by the gust envelope (moving cutoff)."""
    f = c.freqs
    spec = c.white_spectrum()
    gust = c.envelope(c.rng.uniform(0.8, 2.5), 0.1, 1.0) ** c.rng.uniform(1.0, 2.0)
    dark = c.noise(_lowpass(f, c.rng.uniform(120, 300) * strength, 2) * _tilt(f, 1.0), spec)
    bright = c.noise(_band(f, c.rng.uniform(250, 500) * strength, c.rng.uniform(900, 2000) * strength), spec)
    wind = dark * (0.25 + 0.75 * gust) + bright * gust**2 * c.rng.uniform(0.3, 0.7)
    if c.rng.random() < 0.5 * strength:  # a howl where the wind finds an edge
        howl = c.noise(_peak(f, c.rng.uniform(450, 1400), c.rng.uniform(0.03, 0.08)))
        wind += howl * gust**3 * c.rng.uniform(0.15, 0.5)
    return wind, gust


def _wind(c: _Ctx) -> np.ndarray:
    return _wind_core(c, 1.0)[0]


def _blizzard(c: _Ctx) -> np.ndarray:
    f = c.freqs
    wind, gust = _wind_core(c, c.rng.uniform(1.4, 2.0))
    howl = c.noise(_peak(f, c.rng.uniform(600, 1600), c.rng.uniform(0.03, 0.07)))
    snow_hiss = c.noise(_band(f, c.rng.uniform(2500, 4000), 7800))
    ticks = c.filtered(c.impulses(c.rng.uniform(200, 900), weight=gust), _band(f, 3000, 7800))
    return (
        _unit(wind)
        + howl * gust**2 * c.rng.uniform(0.3, 0.6)
        + snow_hiss * (0.2 + gust) * c.rng.uniform(0.15, 0.35)
        + _unit(ticks) * c.rng.uniform(0.05, 0.2)
    )


def _snow_crunch(c: _Ctx) -> np.ndarray:
    """Footsteps in snow: each step is a burst of tiny ice-grain fractures (heel, then toe)."""
    f = c.freqs
    period = c.rng.uniform(0.45, 0.8)
    start = c.rng.uniform(0.0, period)
    steps = np.arange(start, c.seconds, period)
    steps += c.rng.normal(0, 0.03, steps.size)
    step_len = c.rng.uniform(0.15, 0.3)
    dt = np.arange(int((step_len + 0.2) * c.rate))[None, :] / c.rate
    heel = np.exp(-(((dt - 0.03) / 0.035) ** 2))
    toe = np.exp(-(((dt - step_len * 0.7) / (step_len * 0.3)) ** 2)) * c.rng.uniform(
        0.4, 0.8, (steps.size, 1)
    )
    shape = (heel + toe) * c.rng.uniform(0.7, 1.0, (steps.size, 1))
    env = np.clip(c.scatter((steps * c.rate).astype(int), shape), 0.0, 1.0)
    grains = c.impulses(c.rng.uniform(2500, 6000), sigma=0.5, weight=env)
    crunch = _unit(c.filtered(grains, _band(f, c.rng.uniform(700, 1500), c.rng.uniform(5000, 7800))))
    thump = c.noise(_lowpass(f, 150, 2)) * env * 0.25
    air = c.noise(_lowpass(f, 400) * _tilt(f, 1.0)) * c.rng.uniform(0.02, 0.08)
    return crunch + thump + air


def _swell(c: _Ctx, period: float) -> np.ndarray:
    phase = c.rng.uniform(0, 1)
    rise = (1 - np.cos(2 * np.pi * (c.t / period + phase))) / 2
    return rise ** c.rng.uniform(1.5, 3.0)


def _waves(c: _Ctx) -> np.ndarray:
    f = c.freqs
    period = c.rng.uniform(6.0, 12.0)
    swell = _swell(c, period)
    spec = c.white_spectrum()
    roar = c.noise(_lowpass(f, c.rng.uniform(250, 600)) * _tilt(f, 1.0), spec)
    crash = c.noise(_lowpass(f, c.rng.uniform(2500, 5000)) * _tilt(f, 0.6), spec)
    lag = int(c.rng.uniform(0.1, 0.25) * period * c.rate)
    wash_env = np.concatenate([np.full(lag, swell[0]), swell[: c.n - lag]])[: c.n]
    fizz = c.noise(_band(f, c.rng.uniform(1500, 3000), 7800)) * c.envelope(c.rng.uniform(8, 20), 0.5, 1.0)
    return (
        roar * (0.3 + 0.7 * swell)
        + crash * swell**2 * c.rng.uniform(0.6, 1.0)
        + fizz * wash_env * c.rng.uniform(0.2, 0.45)
        + roar * c.rng.uniform(0.1, 0.2)
    )


def _gull_call(c: _Ctx, f0: float, dur: float) -> np.ndarray:
    """One "kee-ow": a fast rise then a long downward glide of a harmonic-rich, raspy tone."""
    t = np.arange(int(dur * c.rate)) / c.rate
    u = t / dur
    contour = f0 * np.where(u < 0.15, 0.8 + 1.3 * u / 0.15 * 0.3, 1.2 - 0.55 * (u - 0.15) / 0.85)
    phase = 2 * np.pi * np.cumsum(contour) / c.rate
    tone = sum(np.sin(k * phase) / k**0.7 for k in range(1, 7) if k * f0 * 1.2 < c.rate * 0.45)
    rasp = 1 + 0.4 * np.sin(2 * np.pi * c.rng.uniform(60, 110) * t)
    env = np.sin(np.pi * u) ** 0.6
    return tone * rasp * env


def _seagulls(c: _Ctx) -> np.ndarray:
    out = np.zeros(c.n)
    for _ in range(int(c.rng.integers(1, 4))):
        f0 = c.rng.uniform(800, 1400)
        level = c.rng.uniform(0.4, 1.0)
        t = c.rng.uniform(-0.5, c.seconds - 0.5)
        for _ in range(int(c.rng.integers(2, 7))):
            dur = c.rng.uniform(0.18, 0.45)
            call = _gull_call(c, f0 * c.rng.uniform(0.95, 1.05), dur) * level
            start = int(t * c.rate)
            lo, hi = max(0, start), min(c.n, start + call.size)
            if hi > lo:
                out[lo:hi] += call[lo - start : hi - start]
            t += dur + c.rng.uniform(0.05, 0.3)
    surf = _unit(_waves(c)) * c.rng.uniform(0.15, 0.4)
    return _unit(out) + surf


def _stream(c: _Ctx) -> np.ndarray:
    """Running water: band-passed gurgling noise plus many small bubbles whose pitch rises."""
    f = c.freqs
    bed = c.noise(_band(f, c.rng.uniform(200, 500), c.rng.uniform(1800, 4000)) * _tilt(f, 0.5))
    bed *= c.envelope(c.rng.uniform(8, 25), 0.4, 1.0)
    count = int(c.rng.uniform(40, 140) * c.seconds)
    length = int(0.04 * c.rate)
    t = np.arange(length)[None, :] / c.rate
    f0 = _loguniform(c.rng, 350, 2500, count)[:, None]
    rise = c.rng.uniform(0.5, 3.0, count)[:, None]  # the bubble shrinks as it surfaces
    decay = c.rng.uniform(0.003, 0.012, count)[:, None]
    amp = c.rng.lognormal(0, 0.6, count)[:, None]
    grains = amp * np.sin(2 * np.pi * f0 * (t + rise * t * t / 0.04 / 2)) * np.exp(-t / decay)
    bubbles = c.scatter(c.rng.integers(0, c.n, count), grains)
    return bed * c.rng.uniform(0.5, 1.0) + _unit(bubbles) * c.rng.uniform(0.5, 1.0)


def _fire(c: _Ctx) -> np.ndarray:
    """A campfire: brown-noise roar with flicker, a faint hiss, clustered crackles, a few pops."""
    f = c.freqs
    flicker = c.envelope(c.rng.uniform(6, 18), 0.4, 1.0)
    roar = c.noise(_lowpass(f, c.rng.uniform(250, 700)) * _tilt(f, 2.0)) * flicker
    hiss = c.noise(_band(f, 2000, 7000)) * flicker * c.rng.uniform(0.03, 0.1)
    centres = c.rng.uniform(0, c.seconds, int(c.rng.poisson(c.rng.uniform(1.5, 6.0) * c.seconds)))
    per = c.rng.integers(1, 9, centres.size)
    lone = c.rng.uniform(0, c.seconds, int(c.rng.poisson(c.rng.uniform(2.0, 12.0) * c.seconds)) + 1)
    times = np.concatenate([np.repeat(centres, per) + c.rng.uniform(0, 0.08, per.sum()), lone])
    length = int(0.004 * c.rate)
    t = np.arange(length)[None, :] / c.rate
    count = times.size
    ring = np.sin(2 * np.pi * _loguniform(c.rng, 1200, 6000, count)[:, None] * t)
    click = c.rng.standard_normal((count, length)) * np.exp(-t / 0.0004)
    crackle = (ring + click) * np.exp(-t / c.rng.uniform(0.0005, 0.0015, count)[:, None])
    crackle *= c.rng.lognormal(0, 0.6, count)[:, None]
    fire = roar * c.rng.uniform(0.4, 0.8) + hiss
    crackles = _soft_limit(c.scatter((times * c.rate).astype(int), crackle), 8.0)
    fire += _unit(crackles) * c.rng.uniform(0.6, 1.2)
    pops_n = int(c.rng.poisson(c.rng.uniform(0.3, 1.5) * c.seconds))
    if pops_n:  # a knot bursting: a low thump under a sharp click
        plen = int(0.03 * c.rate)
        pt = np.arange(plen)[None, :] / c.rate
        pop = np.sin(2 * np.pi * _loguniform(c.rng, 300, 1200, pops_n)[:, None] * pt) * np.exp(-pt / 0.006)
        pop[:, :4] += c.rng.standard_normal((pops_n, 4))
        pop *= c.rng.uniform(1.0, 2.0, pops_n)[:, None]
        pops = c.scatter(c.rng.integers(0, c.n, pops_n), pop)
        fire += pops * (c.rng.uniform(3.0, 6.0) / np.max(np.abs(pops)))
    return fire


_NOTE_SHAPES = ("up", "down", "chevron", "trill", "warble")


def _bird_notes(c: _Ctx, pitches: np.ndarray, dur: float, shape: str) -> np.ndarray:
    """One note per pitch, as grain rows (frequency contour -> phase by cumsum)."""
    length = int(dur * c.rate)
    t = np.arange(length)[None, :] / c.rate
    u = t / dur
    centre = pitches[:, None] * c.rng.uniform(0.97, 1.03, (pitches.size, 1))
    span = c.rng.uniform(0.2, 0.5)
    if shape == "up":
        contour = centre * (1 - span / 2 + span * u)
    elif shape == "down":
        contour = centre * (1 + span / 2 - span * u)
    elif shape == "chevron":
        contour = centre * (1 - span / 2 + span * (1 - np.abs(2 * u - 1)))
    elif shape == "trill":
        contour = centre * (1 + 0.12 * np.sin(2 * np.pi * c.rng.uniform(25, 60) * t))
    else:
        contour = centre * (1 + 0.2 * np.sin(2 * np.pi * c.rng.uniform(6, 14) * t + c.rng.uniform(0, 6)))
    contour = np.minimum(contour, c.rate * 0.45)
    phase = 2 * np.pi * np.cumsum(contour, axis=1) / c.rate
    env = np.sin(np.pi * u) ** c.rng.uniform(0.7, 2.0)
    second = np.where(2 * contour < c.rate * 0.45, np.sin(2 * phase), 0.0)
    return (np.sin(phase) + c.rng.uniform(0.0, 0.25) * second) * env


def _birdsong(c: _Ctx) -> np.ndarray:
    """One to three birds, each with its own song: phrases of swept or trilled notes at 2-6 kHz."""
    out = np.zeros(c.n)
    for _ in range(int(c.rng.integers(1, 4))):
        fc = float(_loguniform(c.rng, 2000, 5500))
        shape = _NOTE_SHAPES[int(c.rng.integers(len(_NOTE_SHAPES)))]
        dur = c.rng.uniform(0.03, 0.15)
        gap = c.rng.uniform(0.015, 0.08)
        per_phrase = int(c.rng.integers(3, 11))
        step = c.rng.uniform(0.94, 1.06)  # songs that climb or fall note by note
        phrase_pitch = fc * step ** np.arange(per_phrase)
        starts: list[np.ndarray] = []
        t = c.rng.uniform(-0.5, 1.0)
        while t < c.seconds:
            starts.append(t + np.arange(per_phrase) * (dur + gap))
            t += per_phrase * (dur + gap) + c.rng.uniform(0.3, 1.6)
        notes = _bird_notes(c, np.tile(phrase_pitch, len(starts)), dur, shape)
        onsets = (np.concatenate(starts) * c.rate).astype(int)
        out += c.scatter(onsets, notes) * c.rng.uniform(0.3, 1.0)
    leaves = c.noise(_band(c.freqs, 500, 4000) * _tilt(c.freqs, 1.0)) * c.rng.uniform(0.01, 0.04)
    return _unit(out) + leaves


def _crickets(c: _Ctx) -> np.ndarray:
    """One to four crickets: a 3.5-5.5 kHz carrier gated into chirps of short pulses."""
    out = np.zeros(c.n)
    base = c.rng.uniform(3500, 5500)
    for _ in range(int(c.rng.integers(1, 5))):
        carrier = base * c.rng.uniform(0.95, 1.05)
        pulse = c.rng.uniform(0.008, 0.02)
        pulse_period = pulse * c.rng.uniform(1.4, 2.5)
        per_chirp = int(c.rng.integers(2, 7))
        chirp_period = max(c.rng.uniform(0.3, 1.2), per_chirp * pulse_period + 0.08)
        first = c.rng.uniform(-chirp_period, 0)
        chirps = np.arange(first, c.seconds, chirp_period) + c.rng.normal(0, 0.01, 1)
        starts = (chirps[:, None] + np.arange(per_chirp)[None, :] * pulse_period).ravel()
        length = int(pulse * c.rate)
        window = np.hanning(length + 2)[1:-1][None, :]
        gate = c.scatter((starts * c.rate).astype(int), np.repeat(window, starts.size, axis=0))
        phase = 2 * np.pi * carrier * c.t + c.rng.uniform(0, 6)
        out += gate * (np.sin(phase) + 0.1 * np.sin(2 * phase)) * c.rng.uniform(0.3, 1.0)
    night = c.noise(_lowpass(c.freqs, 400) * _tilt(c.freqs, 1.0)) * c.rng.uniform(0.005, 0.02)
    return _unit(out) + night


def _owl(c: _Ctx) -> np.ndarray:
    """Series of low hoots (300-500 Hz) with weak harmonics, a little breath and a waver."""
    out = np.zeros(c.n)
    f0 = c.rng.uniform(300, 500)
    t = c.rng.uniform(-0.3, 1.2)
    while t < c.seconds:
        for _ in range(int(c.rng.integers(2, 6))):
            dur = c.rng.uniform(0.15, 0.7)
            start = int(t * c.rate)
            length = int(dur * c.rate)
            tt = np.arange(length) / c.rate
            u = tt / dur
            wav = 1 + c.rng.uniform(0.0, 0.015) * np.sin(2 * np.pi * c.rng.uniform(4, 8) * tt)
            contour = f0 * c.rng.uniform(0.95, 1.05) * (1 + 0.06 * np.sin(np.pi * u) - 0.04 * u) * wav
            phase = 2 * np.pi * np.cumsum(contour) / c.rate
            env = np.minimum(1.0, tt / 0.04) * np.sin(np.pi * u) ** 0.5
            hoot = np.sin(phase) + c.rng.uniform(0.05, 0.25) * np.sin(2 * phase) + 0.05 * np.sin(3 * phase)
            lo, hi = max(0, start), min(c.n, start + length)
            if hi > lo:
                out[lo:hi] += (hoot * env)[lo - start : hi - start]
            t += dur + c.rng.uniform(0.08, 0.4)
        t += c.rng.uniform(1.0, 3.0)
    breath = c.filtered(c.rng.standard_normal(c.n), _peak(c.freqs, f0, 0.3)) * (np.abs(out) > 0.05)
    night = c.noise(_lowpass(c.freqs, 300) * _tilt(c.freqs, 1.0))
    return _unit(out) + _unit(breath) * 0.05 + night * c.rng.uniform(0.01, 0.04)


def _rustling_leaves(c: _Ctx) -> np.ndarray:
    """Wind in trees: gust-driven bursts of leaf rustle (2-8 kHz) over a soft low wind."""
    f = c.freqs
    gust = c.envelope(c.rng.uniform(0.7, 2.0), 0.25, 1.0) ** 1.5
    flutter = c.envelope(c.rng.uniform(20, 60), 0.2, 1.0) ** 2
    rustle = c.noise(_band(f, c.rng.uniform(1500, 2500), c.rng.uniform(6000, 7800))) * gust * flutter
    ticks = c.filtered(c.impulses(c.rng.uniform(300, 1200), weight=gust * flutter), _band(f, 2000, 7500))
    low = c.noise(_lowpass(f, c.rng.uniform(150, 300)) * _tilt(f, 1.0)) * (0.3 + 0.7 * gust)
    return rustle + _soft_limit(ticks, 4.0) * c.rng.uniform(0.1, 0.3) + low * c.rng.uniform(0.15, 0.35)


_KINDS: tuple[tuple[SoundKind, Callable[[_Ctx], np.ndarray]], ...] = (
    (SoundKind("rain", "Rain", {"weather": "rainy"}), _rain),
    (SoundKind("heavy_rain", "Heavy rain", {"weather": "rainy"}), lambda c: _rain(c, heavy=True)),
    (SoundKind("thunderstorm", "Thunderstorm", {"weather": "stormy"}), _thunderstorm),
    (SoundKind("distant_thunder", "Distant thunder", {"weather": "stormy"}), _distant_thunder),
    (SoundKind("wind", "Wind", {"weather": "cloudy"}), _wind),
    (SoundKind("blizzard", "Blizzard", {"weather": "snowy", "season": "winter"}), _blizzard),
    (SoundKind("snow_crunch", "Footsteps in snow", {"season": "winter"}), _snow_crunch),
    (SoundKind("ocean_waves", "Ocean waves", {"feature": "sea"}), _waves),
    (SoundKind("seagulls", "Seagulls", {"feature": "beach"}), _seagulls),
    (SoundKind("stream", "Stream", {"feature": "river"}), _stream),
    (SoundKind("rustling_leaves", "Rustling leaves", {"feature": "forest"}), _rustling_leaves),
    (SoundKind("crackling_fire", "Crackling fire", {"time": "sunset"}), _fire),
    (SoundKind("birdsong", "Birdsong", {"time": "morning"}), _birdsong),
    (SoundKind("crickets", "Crickets", {"time": "night", "season": "summer"}), _crickets),
    (SoundKind("owl", "Owl", {"time": "night"}), _owl),
)
SOUND_KINDS: tuple[SoundKind, ...] = tuple(kind for kind, _ in _KINDS)
KIND_INDEX: dict[str, int] = {kind.name: i for i, kind in enumerate(SOUND_KINDS)}
_SYNTH: dict[str, Callable[[_Ctx], np.ndarray]] = {kind.name: fn for kind, fn in _KINDS}

# Pairs that plausibly co-occur (either may be the dominant, first kind). Where their attributes
# clash, `merged_attributes` decides: e.g. fire + crickets is a sunset glow, crickets + fire night.
COMPATIBLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("birdsong", "stream"),
    ("birdsong", "rustling_leaves"),
    ("birdsong", "ocean_waves"),
    ("rain", "wind"),
    ("rain", "stream"),
    ("rain", "rustling_leaves"),
    ("heavy_rain", "wind"),
    ("thunderstorm", "wind"),
    ("crackling_fire", "crickets"),
    ("crackling_fire", "owl"),
    ("crackling_fire", "wind"),
    ("crickets", "owl"),
    ("crickets", "stream"),
    ("owl", "rustling_leaves"),
    ("ocean_waves", "wind"),
    ("ocean_waves", "seagulls"),
    ("stream", "rustling_leaves"),
    ("snow_crunch", "wind"),
    ("snow_crunch", "owl"),
)


def _check(seconds: float, rate: int) -> None:
    if not isinstance(rate, int | np.integer) or rate < MIN_RATE:
        raise SoundError(f"rate must be an integer of at least {MIN_RATE} Hz, got {rate!r}")
    if not np.isfinite(seconds) or not 0.25 <= seconds <= MAX_SECONDS:
        raise SoundError(f"seconds must be between 0.25 and {MAX_SECONDS}, got {seconds!r}")


def _check_kind(kind: str) -> None:
    if kind not in _SYNTH:
        raise SoundError(f"unknown sound kind {kind!r}; known kinds: {', '.join(_SYNTH)}")


def _finish(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Peak-normalise to a random level below full scale, so loudness varies but never clips."""
    x = x - x.mean()
    peak = float(np.max(np.abs(x)))
    if not np.isfinite(peak) or peak <= 0:
        raise SoundError("synthesis produced silence or non-finite samples")
    return (x * (rng.uniform(0.3, 0.95) / peak)).astype(np.float32)


def synth(kind: str, rng: np.random.Generator, seconds: float = 4.0, rate: int = 16000) -> np.ndarray:
    """`seconds` of one kind of sound: float32 mono, peak below 0.95, fresh parameters every call."""
    _check_kind(kind)
    _check(seconds, rate)
    return _finish(_SYNTH[kind](_Ctx(rng, seconds, rate)), rng)


def mix(a: np.ndarray, b: np.ndarray, gain_db: float) -> np.ndarray:
    """`a` plus `b` set `gain_db` relative to `a` by RMS (negative = `b` quieter); same lengths."""
    if a.shape != b.shape or a.ndim != 1:
        raise SoundError(f"mix needs two mono clips of equal length, got shapes {a.shape} and {b.shape}")
    rms_a = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
    rms_b = float(np.sqrt(np.mean(np.square(b, dtype=np.float64))))
    scale = rms_a / rms_b * 10 ** (gain_db / 20) if rms_b > 0 else 0.0
    return (a.astype(np.float64) + b * scale).astype(np.float32)


# When two sounds imply different weather, the stronger weather is what one would see: wind
# with rain is a rainy scene, rain with thunder a stormy one.
_WEATHER_STRENGTH = {"clear": 0, "cloudy": 1, "overcast": 2, "foggy": 2, "rainy": 3, "snowy": 4, "stormy": 5}


def merged_attributes(kinds: tuple[str, ...]) -> dict[str, str]:
    """The attributes a mix implies: the strongest weather; other keys from the dominant (first) kind."""
    merged: dict[str, str] = {}
    for name in kinds:
        _check_kind(name)
        for key, value in SOUND_KINDS[KIND_INDEX[name]].attributes.items():
            if key == "weather" and key in merged:
                value = max(merged[key], value, key=_WEATHER_STRENGTH.__getitem__)
                merged[key] = value
            merged.setdefault(key, value)
    return merged


def synth_clip(
    rng: np.random.Generator,
    split: str = "train",
    seconds: float = 4.0,
    rate: int = 16000,
    kinds: tuple[str, ...] | None = None,
) -> SoundClip:
    """A captioned clip: one kind most of the time, else a compatible pair, plus optional room tone."""
    _check(seconds, rate)
    if kinds is None:
        if rng.random() < 0.3:
            pair = COMPATIBLE_PAIRS[int(rng.integers(len(COMPATIBLE_PAIRS)))]
            kinds = pair if rng.random() < 0.5 else pair[::-1]
        else:
            kinds = (SOUND_KINDS[int(rng.integers(len(SOUND_KINDS)))].name,)
    kinds = tuple(kinds)
    if not 1 <= len(kinds) <= 2:
        raise SoundError(f"a clip mixes one or two kinds, got {len(kinds)}: {kinds!r}")
    for name in kinds:
        _check_kind(name)
    from studio.world.sound_captions import SoundCaptionError, make_sound_caption  # imports this module

    try:
        caption = make_sound_caption(kinds, rng, split)
    except SoundCaptionError as err:
        raise SoundError(str(err)) from err
    samples = synth(kinds[0], rng, seconds, rate)
    if len(kinds) == 2:
        samples = mix(samples, synth(kinds[1], rng, seconds, rate), float(rng.uniform(-12.0, -3.0)))
    if rng.random() < 0.5:
        ctx = _Ctx(rng, seconds, rate)
        tone = ctx.noise(
            _lowpass(ctx.freqs, rng.uniform(500, 4000)) * _tilt(ctx.freqs, rng.uniform(0.5, 2.0))
        )
        samples = mix(samples, tone.astype(np.float32), float(rng.uniform(-40.0, -25.0)))
    return SoundClip(_finish(samples, rng), kinds, caption, merged_attributes(kinds))


def render_clips(n: int, seed: int, split: str = "train", seconds: float = 4.0) -> list[SoundClip]:
    """`n` clips, deterministic for a seed; clip i does not depend on n."""
    if n < 0:
        raise SoundError(f"n must be non-negative, got {n}")
    return [synth_clip(np.random.default_rng([seed, i]), split, seconds) for i in range(n)]
